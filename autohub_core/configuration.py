"""``PretrainedConfig``: a model's hyper-parameters, read from and written to config.json."""

from __future__ import annotations

import copy
import json
import math
import os
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from autohub_core import limits
from autohub_core.errors import AutohubError, ConfigError, LimitExceededError, UnsupportedConfigError
from autohub_core.hub import HubOptions, resolve_file

__all__ = [
    "CONFIG_NAME",
    "ENCODER_CONSTRAINTS",
    "ENCODER_RULES",
    "ROPE_TYPES",
    "ROTARY_DECODER_CONSTRAINTS",
    "ROTARY_DECODER_RULES",
    "Constraint",
    "PretrainedConfig",
    "Rule",
    "boolean",
    "check_rules",
    "int_or_ints",
    "integer",
    "list_of",
    "mapping",
    "multiple_of",
    "non_negative_int",
    "number",
    "one_of",
    "optional",
    "positive_int",
    "probability",
    "read_json_file",
    "rope_parameters",
    "standardize_rope_parameters",
    "string",
    "valid_index",
]

CONFIG_NAME = "config.json"

# Attributes every config has, with transformers' defaults. Families add their own in __init__.
_COMMON_DEFAULTS: dict[str, Any] = {
    "return_dict": True,
    "output_hidden_states": False,
    "output_attentions": False,
    "torchscript": False,
    "dtype": None,
    "tie_word_embeddings": True,
    "is_encoder_decoder": False,
    "is_decoder": False,
    "add_cross_attention": False,
    "architectures": None,
    "finetuning_task": None,
    "problem_type": None,
    "tokenizer_class": None,
    "bos_token_id": None,
    "eos_token_id": None,
    "pad_token_id": None,
    "sep_token_id": None,
    "decoder_start_token_id": None,
    "chunk_size_feed_forward": 0,
}
#: torch's dtype names (without ``torch.``) a config's ``dtype`` / ``torch_dtype`` may hold.
_TORCH_DTYPE_NAMES = frozenset(
    [
        "float32",
        "float",
        "float64",
        "double",
        "float16",
        "half",
        "bfloat16",
        "complex32",
        "chalf",
        "complex64",
        "cfloat",
        "complex128",
        "cdouble",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "int8",
        "int16",
        "short",
        "int32",
        "int",
        "int64",
        "long",
        "bool",
        "float8_e4m3fn",
        "float8_e4m3fnuz",
        "float8_e5m2",
        "float8_e5m2fnuz",
        "float8_e8m0fnu",
        "float4_e2m1fn_x2",
    ]
)
_PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")
_ROPE_TYPES_WITH_ORIGINAL_LENGTH = ("llama3", "yarn", "longrope")


# -- value rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """The type and range of one config value, declared as data in a config class's ``config_rules``.

    Build rules with the helpers of this module (:func:`positive_int`, :func:`number`,
    :func:`probability`, :func:`one_of`, :func:`optional` ...) rather than by hand.
    """

    expected: str
    """What a valid value is, in words (``"an integer >= 1"``); error messages quote it."""
    accepts: Callable[[Any], bool]
    """Whether a value is valid."""
    explain: Callable[[Any], str | None] | None = None
    """For nested values: what exactly is wrong (more precise than ``expected``), or None."""
    unsupported: bool = False
    """A value outside the rule is valid in transformers but not implemented: raise
    :class:`UnsupportedConfigError` rather than :class:`ConfigError`."""

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` (None when it is valid)."""
        if self.accepts(value):
            return None
        detail = self.explain(value) if self.explain is not None else None
        return detail or f"expected {self.expected}"

    def check(self, key: str, value: Any, source: str | os.PathLike | None = None) -> None:
        """Raise :class:`ConfigError` (or :class:`UnsupportedConfigError`) naming ``key``, the value,
        what was expected and, when known, the file ``source``."""
        problem = self.problem(value)
        if problem is not None:
            if self.unsupported:
                raise UnsupportedConfigError(
                    f"{_where(source)}config key {key!r} = {_short(value)} is not implemented: {problem}"
                )
            raise ConfigError(f"{_where(source)}config key {key!r} = {_short(value)} is invalid: {problem}")


@dataclass(frozen=True)
class Constraint:
    """A relation between config keys (``hidden_size`` a multiple of ``num_attention_heads`` ...),
    declared in a config class's ``config_constraints``; checked once each key passed its rule."""

    keys: tuple[str, ...]
    """The keys it relates; it is skipped while one of them is unset (None or absent)."""
    description: str
    """What must hold, in words."""
    holds: Callable[..., bool]
    """Called with the values of ``keys``, in order."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


def _bounds(
    minimum: float | None, maximum: float | None, exclusive_minimum: bool, exclusive_maximum: bool
) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if exclusive_minimum else '>='} {minimum}")
    if maximum is not None:
        parts.append(f"{'<' if exclusive_maximum else '<='} {maximum}")
    return (" " + " and ".join(parts)) if parts else ""


def _within(
    value: float,
    minimum: float | None,
    maximum: float | None,
    exclusive_minimum: bool,
    exclusive_maximum: bool,
) -> bool:
    if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
        return False
    return maximum is None or (value < maximum if exclusive_maximum else value <= maximum)


def integer(minimum: int | None = None, maximum: int | None = None) -> Rule:
    """An integer (not a bool) within ``[minimum, maximum]``."""
    return Rule(
        "an integer" + _bounds(minimum, maximum, False, False),
        lambda value: _is_int(value) and _within(value, minimum, maximum, False, False),
    )


def positive_int() -> Rule:
    """An integer >= 1 (sizes, layer and head counts)."""
    return integer(1)


def non_negative_int() -> Rule:
    """An integer >= 0."""
    return integer(0)


def number(
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    exclusive_minimum: bool = False,
    exclusive_maximum: bool = False,
) -> Rule:
    """A finite int or float (not a bool, NaN or infinity) within the bounds."""
    return Rule(
        "a finite number" + _bounds(minimum, maximum, exclusive_minimum, exclusive_maximum),
        lambda value: (
            _is_number(value) and _within(value, minimum, maximum, exclusive_minimum, exclusive_maximum)
        ),
    )


def probability() -> Rule:
    """A finite number in [0, 1] (dropout probabilities)."""
    return number(0, 1)


def boolean() -> Rule:
    """``true`` or ``false``."""
    return Rule("true or false", lambda value: isinstance(value, bool))


def string() -> Rule:
    """Any string (an activation name is checked against the implemented ones when the model is built)."""
    return Rule("a string", lambda value: isinstance(value, str))


def one_of(*choices: str, unsupported: bool = False) -> Rule:
    """One of the strings ``choices``; with ``unsupported=True`` another value is reported as not
    implemented (:class:`UnsupportedConfigError`)."""
    return Rule(
        "one of " + ", ".join(repr(choice) for choice in choices),
        lambda value: isinstance(value, str) and value in choices,
        unsupported=unsupported,
    )


def optional(rule: Rule) -> Rule:
    """``rule``, or null."""
    return Rule(
        f"{rule.expected}, or null",
        lambda value: value is None or rule.accepts(value),
        rule.explain,
        rule.unsupported,
    )


def list_of(rule: Rule) -> Rule:
    """A list whose every item follows ``rule``."""

    def explain(value: Any) -> str | None:
        if not isinstance(value, list):
            return None
        for index, item in enumerate(value):
            problem = rule.problem(item)
            if problem is not None:
                return f"item {index} = {_short(item)}: {problem}"
        return None

    return Rule(
        f"a list of items each {rule.expected}",
        lambda value: isinstance(value, list) and all(rule.accepts(item) for item in value),
        explain,
    )


def int_or_ints(minimum: int | None = None) -> Rule:
    """An integer, or a non-empty list of integers (``eos_token_id`` may name several tokens)."""
    one = integer(minimum)
    return Rule(
        f"{one.expected}, or a non-empty list of them",
        lambda value: (
            one.accepts(value)
            or (isinstance(value, list) and bool(value) and all(one.accepts(item) for item in value))
        ),
    )


def mapping(rules: Mapping[str, Rule], required: tuple[str, ...] = ()) -> Rule:
    """An object whose keys ``required`` are present and whose keys in ``rules`` follow their rule;
    other keys are kept unchecked."""

    def explain(value: Any) -> str | None:
        if not isinstance(value, dict):
            return None
        missing = [key for key in required if key not in value]
        if missing:
            return f"missing key(s) {', '.join(repr(key) for key in missing)}"
        for key, rule in rules.items():
            if key in value:
                problem = rule.problem(value[key])
                if problem is not None:
                    return f"its key {key!r} = {_short(value[key])}: {problem}"
        return None

    return Rule(
        "an object" + (f" with keys {', '.join(repr(key) for key in required)}" if required else ""),
        lambda value: isinstance(value, dict) and explain(value) is None,
        explain,
    )


def multiple_of(key: str, divisor: str) -> Constraint:
    """``key`` must be a multiple of ``divisor`` (``hidden_size`` of ``num_attention_heads``)."""
    return Constraint(
        (key, divisor),
        f"{key!r} must be a multiple of {divisor!r}",
        lambda value, by: not (_is_int(value) and _is_int(by) and by > 0) or value % by == 0,
    )


def valid_index(key: str, size: str) -> Constraint:
    """``key`` must index a table of ``size`` rows, as ``torch.nn.Embedding(padding_idx=)`` requires
    (``-size <= key < size``)."""
    return Constraint(
        (key, size),
        f"{key!r} must be an index of the embedding table ({size!r} rows: -{size} <= id < {size})",
        lambda value, rows: not (_is_int(value) and _is_int(rows)) or -rows <= value < rows,
    )


#: The RoPE types whose parameters are known: the keys each requires, then the keys it may have.
#: ``original_max_position_embeddings`` of llama3 / yarn / longrope defaults to
#: ``max_position_embeddings`` (:func:`standardize_rope_parameters`), as in transformers.
ROPE_TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "default": ((), ()),
    "linear": (("factor",), ()),
    "dynamic": (("factor",), ()),
    "llama3": (("factor", "low_freq_factor", "high_freq_factor"), ("original_max_position_embeddings",)),
    "yarn": (
        (),
        (
            "factor",
            "original_max_position_embeddings",
            "attention_factor",
            "beta_fast",
            "beta_slow",
            "mscale",
            "mscale_all_dim",
            "truncate",
        ),
    ),
    "longrope": (
        ("short_factor", "long_factor"),
        ("factor", "attention_factor", "original_max_position_embeddings"),
    ),
}
_ROPE_KEY_RULES: dict[str, Rule] = {
    "rope_type": string(),
    "type": string(),
    "rope_theta": number(0, exclusive_minimum=True),
    "partial_rotary_factor": number(0, 1, exclusive_minimum=True),
    "factor": number(0, exclusive_minimum=True),
    "low_freq_factor": number(0, exclusive_minimum=True),
    "high_freq_factor": number(0, exclusive_minimum=True),
    "original_max_position_embeddings": positive_int(),
    "attention_factor": optional(number(0, exclusive_minimum=True)),
    "beta_fast": optional(number(0, exclusive_minimum=True)),
    "beta_slow": optional(number(0, exclusive_minimum=True)),
    "mscale": optional(number()),
    "mscale_all_dim": optional(number()),
    "truncate": boolean(),
    "short_factor": list_of(number()),
    "long_factor": list_of(number()),
}


def _rope_problem(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        return "expected an object of RoPE parameters (rope_type and the keys it needs)"
    rope_type = value.get("rope_type", value.get("type", "default"))
    if not isinstance(rope_type, str):
        return f"its 'rope_type' = {_short(rope_type)} must be a string"
    required, _ = ROPE_TYPES.get(rope_type, ((), ()))
    missing = [key for key in required if value.get(key) is None]
    if missing:
        return f"rope_type {rope_type!r} needs the key(s) {', '.join(repr(key) for key in missing)}"
    for key, rule in _ROPE_KEY_RULES.items():
        if key in value and not (value[key] is None and key not in required and key != "rope_theta"):
            problem = rule.problem(value[key])
            if problem is not None:
                return f"its key {key!r} = {_short(value[key])}: {problem}"
    if rope_type == "llama3" and not value["high_freq_factor"] > value["low_freq_factor"]:
        return "rope_type 'llama3' needs 'high_freq_factor' > 'low_freq_factor'"
    return None


def rope_parameters() -> Rule:
    """``rope_parameters`` (or the legacy ``rope_scaling``): an object whose ``rope_type`` (default
    ``"default"``) has its required keys (:data:`ROPE_TYPES`), each of the right type and range, and a
    positive finite ``rope_theta``. Whether the family implements the type is checked when the model
    is built."""
    return Rule(
        "an object of RoPE parameters (rope_type and the keys it needs)",
        lambda value: _rope_problem(value) is None,
        _rope_problem,
    )


def _short(value: Any) -> str:
    """``repr`` of a config value, shortened for an error message (huge or deeply nested values)."""
    shortener = reprlib.Repr()
    shortener.maxstring = shortener.maxother = 80
    shortener.maxlevel = 3
    return shortener.repr(value)


def _where(source: str | os.PathLike | None) -> str:
    return f"{source}: " if source else ""


def check_rules(
    values: Mapping[str, Any],
    rules: Mapping[str, Rule],
    constraints: tuple[Constraint, ...] = (),
    source: str | os.PathLike | None = None,
) -> None:
    """Check each of ``values`` that has a rule, then each constraint whose keys are all set;
    raise :class:`ConfigError` naming the first bad key (and ``source``, a file, when given)."""
    for key, value in values.items():
        rule = rules.get(key)
        if rule is not None:
            rule.check(key, value, source)
    for constraint in constraints:
        related = [values.get(key) for key in constraint.keys]
        if any(value is None for value in related) or constraint.holds(*related):
            continue
        shown = ", ".join(
            f"{key} = {_short(value)}" for key, value in zip(constraint.keys, related, strict=True)
        )
        raise ConfigError(f"{_where(source)}config values {shown} are inconsistent: {constraint.description}")


#: The keys a decoder built from :mod:`autohub_core.rotary` reads; a family with such a decoder
#: starts its ``config_rules`` from these (``rope_theta`` is the legacy top-level key).
ROTARY_DECODER_RULES: dict[str, Rule] = {
    "vocab_size": positive_int(),
    "hidden_size": positive_int(),
    "intermediate_size": positive_int(),
    "num_hidden_layers": positive_int(),
    "num_attention_heads": positive_int(),
    "num_key_value_heads": optional(positive_int()),
    "head_dim": optional(positive_int()),
    "hidden_act": string(),
    "max_position_embeddings": positive_int(),
    "initializer_range": number(0),
    "rms_norm_eps": number(0),
    "use_cache": boolean(),
    "rope_parameters": rope_parameters(),
    "rope_theta": number(0, exclusive_minimum=True),
    "attention_dropout": probability(),
}
#: Query heads share key/value heads in whole groups; the padding id indexes the embeddings.
ROTARY_DECODER_CONSTRAINTS: tuple[Constraint, ...] = (
    multiple_of("num_attention_heads", "num_key_value_heads"),
    valid_index("pad_token_id", "vocab_size"),
)

#: The keys of a BERT-style encoder config (BERT, RoBERTa and their kin read them all).
ENCODER_RULES: dict[str, Rule] = {
    "vocab_size": positive_int(),
    "hidden_size": positive_int(),
    "num_hidden_layers": positive_int(),
    "num_attention_heads": positive_int(),
    "intermediate_size": positive_int(),
    "hidden_act": string(),
    "hidden_dropout_prob": probability(),
    "attention_probs_dropout_prob": probability(),
    "max_position_embeddings": positive_int(),
    "type_vocab_size": positive_int(),
    "initializer_range": number(0),
    "layer_norm_eps": number(0),
    "use_cache": boolean(),
    "classifier_dropout": optional(probability()),
}
#: Heads split the hidden size evenly; the padding id indexes the embeddings.
ENCODER_CONSTRAINTS: tuple[Constraint, ...] = (
    multiple_of("hidden_size", "num_attention_heads"),
    valid_index("pad_token_id", "vocab_size"),
)

_TOKEN_ID = optional(integer())
#: The keys every config has (:class:`PretrainedConfig`'s own); families add theirs.
_COMMON_RULES: dict[str, Rule] = {
    "return_dict": boolean(),
    "output_hidden_states": boolean(),
    "output_attentions": boolean(),
    "torchscript": boolean(),
    "dtype": optional(
        Rule(
            "the name of a torch dtype (float32, bfloat16, float16 ...)",
            lambda value: isinstance(value, str) and value.removeprefix("torch.") in _TORCH_DTYPE_NAMES,
        )
    ),
    "tie_word_embeddings": boolean(),
    "is_encoder_decoder": boolean(),
    "is_decoder": boolean(),
    "add_cross_attention": boolean(),
    "architectures": optional(list_of(string())),
    "finetuning_task": optional(string()),
    "problem_type": optional(one_of(*_PROBLEM_TYPES)),
    "tokenizer_class": optional(string()),
    "bos_token_id": _TOKEN_ID,
    "eos_token_id": optional(int_or_ints()),
    "pad_token_id": _TOKEN_ID,
    "sep_token_id": _TOKEN_ID,
    "decoder_start_token_id": _TOKEN_ID,
    "chunk_size_feed_forward": non_negative_int(),
    "num_labels": non_negative_int(),
    "id2label": optional(Rule("an object of label id to label name", lambda value: isinstance(value, dict))),
    "label2id": optional(Rule("an object of label name to label id", lambda value: isinstance(value, dict))),
}


class PretrainedConfig:
    """Base class of every family's configuration.

    Subclasses set ``model_type`` and take their hyper-parameters as keyword arguments,
    passing the rest to ``super().__init__(**kwargs)``. Keys no class knows are kept as
    attributes and written back by :meth:`save_pretrained`, so a config round-trips.
    """

    model_type: ClassVar[str] = ""
    attribute_map: ClassVar[dict[str, str]] = {}
    """Aliases: ``{"hidden_size": "n_embd"}`` makes ``config.hidden_size`` read ``n_embd``."""
    config_rules: ClassVar[Mapping[str, Rule]] = _COMMON_RULES
    """The type and range of each key the class reads (attribute names, not aliases). A subclass
    declares its own keys; they are merged with its bases' (a subclass's rule wins). Checked when
    a config is built and when a model is built from it; keys without a rule are not checked."""
    config_constraints: ClassVar[tuple[Constraint, ...]] = ()
    """Relations between keys (:func:`multiple_of`, :func:`valid_index`), merged like ``config_rules``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("model_type", None)
        kwargs.pop("transformers_version", None)
        if "torch_dtype" in kwargs:
            kwargs.setdefault("dtype", kwargs.pop("torch_dtype"))
        for name, default in _COMMON_DEFAULTS.items():
            setattr(self, name, kwargs.pop(name, default))
        self.dtype = _dtype_name(self.dtype)
        id2label = kwargs.pop("id2label", None)
        label2id = kwargs.pop("label2id", None)
        num_labels = kwargs.pop("num_labels", None)
        if id2label is not None:
            self.id2label = _int_keys(id2label)
            if num_labels is not None and num_labels != len(self.id2label):
                raise ConfigError(
                    f"num_labels={num_labels} disagrees with id2label, which has {len(self.id2label)} "
                    "labels; pass one of them"
                )
        else:
            self.num_labels = 2 if num_labels is None else num_labels
        if label2id is not None:
            _check_label_table(label2id, "label2id")
            self.label2id = {str(k): _as_int(v, "label2id") for k, v in label2id.items()}
        else:
            self.label2id = {label: index for index, label in self.id2label.items()}
        self.name_or_path = str(kwargs.pop("name_or_path", kwargs.pop("_name_or_path", "")))
        for key, value in kwargs.items():
            if key.startswith("__") or callable(getattr(type(self), key, None)):
                raise ConfigError(f"config key {key!r} would hide the attribute of the same name; rename it")
            try:
                setattr(self, key, value)
            except AttributeError as error:
                raise ConfigError(
                    f"cannot set config key {key!r} on {type(self).__name__}: {error}"
                ) from error
        # Each value's own rule; relations between keys are checked by from_dict and when a model
        # is built, so a config can be built and then changed key by key.
        check_rules(self.__dict__, self.merged_rules())

    # -- attribute aliases ---------------------------------------------------------------

    def __setattr__(self, key: str, value: Any) -> None:
        key = type(self).attribute_map.get(key, key)
        super().__setattr__(key, value)

    def __getattr__(self, key: str) -> Any:
        # Only called when normal lookup fails: resolve aliases.
        target = type(self).attribute_map.get(key)
        if target is not None and target != key:
            return getattr(self, target)
        raise AttributeError(f"{type(self).__name__} has no attribute {key!r}")

    # -- labels ----------------------------------------------------------------------------

    @property
    def num_labels(self) -> int:
        """Number of labels of a classification head (``len(id2label)``)."""
        return len(self.id2label)

    @num_labels.setter
    def num_labels(self, value: int) -> None:
        _COMMON_RULES["num_labels"].check("num_labels", value)
        limits.check("max_num_labels", value, f"num_labels is {value}")
        if getattr(self, "id2label", None) is None or len(self.id2label) != value:
            self.id2label = {index: f"LABEL_{index}" for index in range(value)}
            self.label2id = {label: index for index, label in self.id2label.items()}

    @property
    def use_return_dict(self) -> bool:
        """Whether models return output objects (False under torchscript)."""
        return self.return_dict and not self.torchscript

    # -- value checks ----------------------------------------------------------------------

    @classmethod
    def merged_rules(cls) -> dict[str, Rule]:
        """``config_rules`` of the class and its bases, a subclass's rule winning."""
        merged: dict[str, Rule] = {}
        for klass in reversed(cls.__mro__):
            merged.update(vars(klass).get("config_rules", {}))
        return merged

    @classmethod
    def merged_constraints(cls) -> tuple[Constraint, ...]:
        """``config_constraints`` of the class and its bases."""
        return tuple(c for klass in reversed(cls.__mro__) for c in vars(klass).get("config_constraints", ()))

    @classmethod
    def check_values(cls, values: Mapping[str, Any], source: str | os.PathLike | None = None) -> None:
        """Check the values of a config dict (as read from ``source``, a file) against the rules of
        the keys it has, aliases resolved; raise :class:`ConfigError` naming the first bad key."""
        rules = cls.merged_rules()
        for key, value in values.items():
            rule = rules.get(cls.attribute_map.get(key, key))
            if rule is not None:
                rule.check(key, value, source)

    def validate(self, source: str | os.PathLike | None = None) -> None:
        """Check every attribute that has a rule, then the constraints between them.

        Called by :meth:`from_dict` (every load) and when a model is built; raises
        :class:`ConfigError` (:class:`UnsupportedConfigError` for values the family does not
        implement) naming the key, its value, what was expected and ``source`` when given.
        """
        check_rules(self.__dict__, self.merged_rules(), self.merged_constraints(), source)

    # -- dict / json -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """All attributes as a JSON-serialisable dict, including ``model_type``."""
        output = {key: _copied(key, value) for key, value in self.__dict__.items() if not key.startswith("_")}
        output.pop("name_or_path", None)
        output["model_type"] = self.model_type
        output["id2label"] = {str(k): v for k, v in self.id2label.items()}
        for key, value in output.items():
            if isinstance(value, PretrainedConfig):
                output[key] = value.to_dict()
        return output

    def to_json_string(self) -> str:
        """The config as config.json text (sorted keys, two-space indent)."""
        try:
            return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=_json_default) + "\n"
        except RecursionError:
            raise ConfigError(
                f"{type(self).__name__} holds a value nested too deeply to write as JSON"
            ) from None

    def update(self, values: dict[str, Any]) -> None:
        """Set several attributes at once."""
        for key, value in values.items():
            setattr(self, key, value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PretrainedConfig) and self.to_dict() == other.to_dict()

    def __deepcopy__(self, memo: dict[int, Any]) -> PretrainedConfig:
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            object.__setattr__(clone, key, _copied(key, value, memo))
        return clone

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"

    @classmethod
    def from_dict(
        cls, config_dict: dict[str, Any], *, return_unused_kwargs: bool = False, **kwargs: Any
    ) -> PretrainedConfig | tuple[PretrainedConfig, dict[str, Any]]:
        """Build a config from a dict; ``kwargs`` naming existing attributes override them.

        With ``return_unused_kwargs=True`` returns ``(config, unused_kwargs)``.
        """
        source = kwargs.pop("_config_file", None)
        if not isinstance(config_dict, dict):
            raise ConfigError(
                f"{_where(source)}a config must be a JSON object, got {type(config_dict).__name__}"
            )
        config_dict = dict(config_dict)
        for key in ("num_labels", "id2label", "label2id"):
            if key in kwargs:
                config_dict.pop("id2label" if key == "num_labels" else key, None)
                if key == "num_labels":
                    config_dict.pop("label2id", None)
                config_dict[key] = kwargs.pop(key)
        if "id2label" in config_dict and "num_labels" in config_dict:
            config_dict.pop("num_labels")
        try:
            # Checked before the class computes anything from them (hidden_size // num_heads ...).
            cls.check_values(config_dict, source)
            config = cls(**config_dict)
            unused: dict[str, Any] = {}
            for key, value in kwargs.items():
                if hasattr(config, key) or key in cls.attribute_map:
                    setattr(config, key, _dtype_name(value) if key in ("dtype", "torch_dtype") else value)
                else:
                    unused[key] = value
            config.validate(source)
        except (ConfigError, LimitExceededError) as error:
            if source is None or str(error).startswith(str(source)):
                raise
            raise type(error)(f"{_where(source)}{error}") from error
        except AutohubError:
            raise
        except (TypeError, ValueError, ArithmeticError) as error:
            raise ConfigError(f"{_where(source)}invalid {cls.__name__} values: {error}") from error
        return (config, unused) if return_unused_kwargs else config

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> PretrainedConfig:
        """Build a config from a config.json file."""
        config = cls.from_dict(read_json_file(path), _config_file=str(path))
        assert isinstance(config, PretrainedConfig)
        return config

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any
    ) -> PretrainedConfig | tuple[PretrainedConfig, dict[str, Any]]:
        """Load from a model directory, a path to a json file, or a Hub repo id.

        Accepts transformers' download options (cache_dir, force_download, revision, token,
        local_files_only, subfolder) and ``return_unused_kwargs``; other kwargs override
        config attributes.
        """
        config_dict, kwargs = cls.get_config_dict(pretrained_model_name_or_path, **kwargs)
        declared = config_dict.get("model_type")
        if cls.model_type and declared and declared != cls.model_type:
            import warnings

            warnings.warn(
                f"{pretrained_model_name_or_path} has model_type {declared!r} but is loaded into "
                f"{cls.__name__} (model_type {cls.model_type!r}); this may give wrong results",
                stacklevel=2,
            )
        config = cls.from_dict(config_dict, **kwargs)
        target = config[0] if isinstance(config, tuple) else config
        target.name_or_path = str(pretrained_model_name_or_path)
        return config

    @classmethod
    def get_config_dict(
        cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Read the raw config dict; returns it with the kwargs left after download options."""
        options = HubOptions.pop_from(kwargs)
        if os.path.isfile(pretrained_model_name_or_path):
            path = Path(pretrained_model_name_or_path)
        else:
            path = resolve_file(pretrained_model_name_or_path, CONFIG_NAME, options)
            assert path is not None
        kwargs["_config_file"] = str(path)  # named by from_dict's errors
        return read_json_file(path), kwargs

    def save_pretrained(self, save_directory: str | os.PathLike) -> Path:
        """Write config.json into ``save_directory`` (created if needed), atomically.

        Inside a model's ``save_pretrained`` it is part of that save's single commit.
        """
        from autohub_core._io import checkpoint_transaction

        directory = Path(save_directory)
        if directory.is_file():
            raise ConfigError(f"save_pretrained needs a directory, but {directory} is a file")
        text = self.to_json_string()
        with checkpoint_transaction(directory) as transaction:
            transaction.write_text(CONFIG_NAME, text)
        return directory / CONFIG_NAME


def read_json_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read a JSON object from ``path`` within the ``max_json_bytes`` / ``max_json_depth`` caps
    (:mod:`autohub_core.limits`); invalid content raises :class:`ConfigError` naming it."""
    from autohub_core import limits

    return limits.read_json(path, ConfigError)


def standardize_rope_parameters(
    rope_parameters: dict[str, Any] | None,
    rope_scaling: dict[str, Any] | None,
    rope_theta: float,
    max_position_embeddings: int,
    *,
    partial_rotary_factor: float | None = None,
    original_max_position_embeddings: int | None = None,
) -> dict[str, Any]:
    """One ``rope_parameters`` dict from transformers 5's key or the legacy ``rope_scaling`` / ``rope_theta``.

    As in transformers, a legacy ``rope_scaling`` wins over ``rope_parameters``; the result
    always names ``rope_type`` and ``rope_theta``. For configs of rotary-embedding families.
    A top-level ``partial_rotary_factor`` (when given) is the default of the dict's own; the
    ``original_max_position_embeddings`` of llama3 / yarn / longrope is the given top-level value
    when there is one (Phi-3's config key, which transformers lets win), else the dict's own,
    else ``max_position_embeddings``.
    """
    parameters = dict(rope_scaling or rope_parameters or {})
    parameters.setdefault("rope_theta", rope_theta)
    parameters.setdefault("rope_type", parameters.get("type", "default"))
    if partial_rotary_factor is not None:
        parameters.setdefault("partial_rotary_factor", partial_rotary_factor)
    if parameters["rope_type"] in _ROPE_TYPES_WITH_ORIGINAL_LENGTH:
        if original_max_position_embeddings is not None:
            parameters["original_max_position_embeddings"] = original_max_position_embeddings
        parameters.setdefault("original_max_position_embeddings", max_position_embeddings)
    return parameters


def _as_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                return int(value)
        except ValueError:
            pass
        raise ConfigError(f"config key {key!r} must be an integer, got {value!r}")
    return value


def _check_label_table(table: Any, key: str) -> None:
    """``id2label`` / ``label2id`` must be an object of at most ``max_num_labels`` entries."""
    _COMMON_RULES[key].check(key, table)
    limits.check("max_num_labels", len(table), f"{key} has {len(table)} labels")


def _int_keys(mapping: Any) -> dict[int, str]:
    """``id2label`` with integer ids, which must be 0 .. n-1 (the head's output indices)."""
    _check_label_table(mapping, "id2label")
    table = {_as_int(key, "id2label"): str(value) for key, value in mapping.items()}
    if sorted(table) != list(range(len(table))):
        outside = sorted(set(table) - set(range(len(table))))[:3]
        raise ConfigError(
            f"config key 'id2label' must number its {len(table)} labels 0 .. {len(table) - 1} (the "
            f"classifier's outputs), but has ids {outside}; renumber them"
        )
    return table


def _copied(key: str, value: Any, memo: dict[int, Any] | None = None) -> Any:
    """A deep copy of a config value; one nested too deeply to copy raises :class:`ConfigError`."""
    try:
        return copy.deepcopy(value, memo)
    except RecursionError:
        raise ConfigError(
            f"config key {key!r} is nested too deeply to copy or save; flatten its value"
        ) from None


def _dtype_name(value: Any) -> str | None:
    """``torch.float16`` or ``"torch.float16"`` or ``"float16"`` -> ``"float16"``."""
    if value is None:
        return None
    name = str(value)
    return name.removeprefix("torch.")


def _json_default(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)
