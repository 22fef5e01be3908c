"""DeBERTa-v2 configuration: the keys of a DeBERTa-v2 / v3 config.json, with transformers' defaults.

transformers' ``DebertaV2Config`` names some keys in its signature and reads others from the config
only when present (``position_buckets``, ``share_att_key``, ``norm_rel_ebd``, ``conv_kernel_size``,
``conv_groups``, ``conv_act``, ``embedding_size``, ``attention_head_size``, ``cls_dropout``). Those
are kept the same way here: absent unless the checkpoint sets them, read through
:meth:`DebertaV2Config.option` with transformers' defaults, and written back only when set.
"""

from __future__ import annotations

from typing import Any, ClassVar

from autohub_core.configuration import (
    ENCODER_CONSTRAINTS,
    ENCODER_RULES,
    Constraint,
    PretrainedConfig,
    Rule,
    boolean,
    integer,
    non_negative_int,
    optional,
    positive_int,
    probability,
    string,
)

#: The relative-attention terms autohub implements (content-to-position, position-to-content).
POSITION_ATTENTION_TYPES = ("c2p", "p2c")
#: The ``norm_rel_ebd`` values transformers acts on (``"|"``-separated).
RELATIVE_EMBEDDING_NORMS = ("none", "layer_norm")

#: Keys transformers reads only when a config has them, with the default it uses otherwise.
OPTIONAL_KEYS: dict[str, Any] = {
    "position_buckets": -1,
    "share_att_key": False,
    "norm_rel_ebd": "none",
    "conv_kernel_size": 0,
    "conv_groups": 1,
    "conv_act": "tanh",
    "embedding_size": None,
    "attention_head_size": None,
    "cls_dropout": None,
}


def _items(value: Any) -> list[str] | None:
    """The items of a ``"|"``-separated string (lower-cased, stripped) or of a list of strings."""
    if isinstance(value, str):
        return [item.strip() for item in value.lower().split("|")]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def _items_rule(allowed: tuple[str, ...], what: str) -> Rule:
    """A list of ``allowed`` strings, or the legacy ``"a|b"`` string form; other items are not implemented."""

    def accepts(value: Any) -> bool:
        items = _items(value)
        return items is not None and all(item in allowed for item in items)

    def explain(value: Any) -> str | None:
        items = _items(value)
        if items is None:
            return f"expected {what}"
        unknown = [item for item in items if item not in allowed]
        return f"{unknown} are not among the implemented {list(allowed)}" if unknown else None

    return Rule(what, accepts, explain, unsupported=True)


class DebertaV2Config(PretrainedConfig):
    """Configuration of a DeBERTa-v2 or DeBERTa-v3 model (``model_type = "deberta-v2"``).

    ``pos_att_type`` may be given as a list (``["p2c", "c2p"]``) or in the legacy ``"p2c|c2p"``
    form, which is stored as a list, as transformers does. ``pooler_hidden_size`` defaults to
    ``hidden_size``.
    """

    model_type = "deberta-v2"
    config_rules: ClassVar[dict[str, Rule]] = {
        **ENCODER_RULES,
        "type_vocab_size": non_negative_int(),
        "relative_attention": boolean(),
        "max_relative_positions": integer(),
        "position_biased_input": boolean(),
        "pos_att_type": optional(
            _items_rule(POSITION_ATTENTION_TYPES, "a list of 'c2p' / 'p2c' (or the legacy 'p2c|c2p' string)")
        ),
        "pooler_hidden_size": positive_int(),
        "pooler_dropout": probability(),
        "pooler_hidden_act": string(),
        "legacy": boolean(),
        "position_buckets": integer(),
        "share_att_key": boolean(),
        "norm_rel_ebd": _items_rule(RELATIVE_EMBEDDING_NORMS, "'none' or 'layer_norm'"),
        "conv_kernel_size": non_negative_int(),
        "conv_groups": positive_int(),
        "conv_act": string(),
        "embedding_size": optional(positive_int()),
        "attention_head_size": optional(positive_int()),
        "cls_dropout": optional(probability()),
    }
    config_constraints: ClassVar[tuple[Constraint, ...]] = (
        *ENCODER_CONSTRAINTS,
        Constraint(
            ("attention_head_size", "num_attention_heads", "hidden_size"),
            "'attention_head_size' x 'num_attention_heads' must equal 'hidden_size'",
            lambda size, heads, hidden: size * heads == hidden,
        ),
        Constraint(
            ("conv_kernel_size",),
            "'conv_kernel_size' must be odd (or 0, no convolution) to keep the sequence length",
            lambda size: size == 0 or size % 2 == 1,
        ),
        Constraint(
            ("hidden_size", "conv_groups"),
            "'hidden_size' must be a multiple of 'conv_groups'",
            lambda hidden, groups: hidden % groups == 0,
        ),
    )

    def __init__(
        self,
        vocab_size: int = 128100,
        hidden_size: int = 1536,
        num_hidden_layers: int = 24,
        num_attention_heads: int = 24,
        intermediate_size: int = 6144,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.1,
        attention_probs_dropout_prob: float = 0.1,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 0,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-7,
        relative_attention: bool = False,
        max_relative_positions: int = -1,
        pad_token_id: int | None = 0,
        position_biased_input: bool = True,
        pos_att_type: str | list[str] | None = None,
        pooler_dropout: float = 0.0,
        pooler_hidden_act: str = "gelu",
        legacy: bool = True,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.relative_attention = relative_attention
        self.max_relative_positions = max_relative_positions
        self.position_biased_input = position_biased_input
        self.pos_att_type = _items(pos_att_type) if isinstance(pos_att_type, str) else pos_att_type
        self.pooler_hidden_size = kwargs.pop("pooler_hidden_size", hidden_size)
        self.pooler_dropout = pooler_dropout
        self.pooler_hidden_act = pooler_hidden_act
        self.legacy = legacy
        super().__init__(pad_token_id=pad_token_id, **kwargs)

    def option(self, key: str) -> Any:
        """The value of a key transformers reads only when present (:data:`OPTIONAL_KEYS`), else its default."""
        value = self.__dict__.get(key, OPTIONAL_KEYS[key])
        if key == "embedding_size" and value is None:
            return self.hidden_size
        if key == "attention_head_size" and value is None:
            return self.hidden_size // self.num_attention_heads
        return value

    @property
    def normalises_relative_embeddings(self) -> bool:
        """Whether the relative-position table goes through a LayerNorm (``norm_rel_ebd`` has ``layer_norm``)."""
        return "layer_norm" in (_items(self.option("norm_rel_ebd")) or [])

    @property
    def relative_position_span(self) -> int:
        """Rows of the relative-position table on each side: ``position_buckets`` when positive, else
        ``max_relative_positions`` (``max_position_embeddings`` when below 1)."""
        buckets = self.option("position_buckets")
        if buckets > 0:
            return buckets
        return (
            self.max_relative_positions if self.max_relative_positions >= 1 else self.max_position_embeddings
        )
