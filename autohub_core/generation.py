"""Text generation: :class:`GenerationConfig`, :class:`GenerationMixin` and text streamers.

``generate()`` reproduces transformers' greedy search, multinomial sampling and beam search:
the same logits processors in the same order (repetition penalty, no-repeat n-grams, min
length, min new tokens, ``suppress_tokens``, ``begin_suppress_tokens``, then temperature, top-k,
top-p when sampling), the same stopping
rules (max length, one or more EOS tokens per sequence, finished sequences padded with
``pad_token_id``), the same position ids for left-padded batches, and beam search's length
penalty, ``early_stopping`` modes and ``num_return_sequences``. A head that can generate inherits
:class:`GenerationMixin` and defines ``prepare_inputs_for_generation`` (see the KV-cache
contract in the plugin author guide); the cache is whatever its forward returns as
``past_key_values``, fed back one step per new token.
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from queue import Queue
from typing import Any

import torch
import torch.nn.functional as F

from autohub_core import limits
from autohub_core._io import checkpoint_transaction
from autohub_core.cache import Cache, StaticCache
from autohub_core.configuration import (
    Rule,
    boolean,
    int_or_ints,
    integer,
    list_of,
    non_negative_int,
    number,
    one_of,
    optional,
    positive_int,
    probability,
    read_json_file,
)
from autohub_core.errors import ConfigError, GenerationError, UnsupportedFeatureError
from autohub_core.hub import HubOptions, resolve_file

__all__ = [
    "GENERATION_CONFIG_NAME",
    "OPTION_RULES",
    "GenerationConfig",
    "GenerationMixin",
    "TextIteratorStreamer",
    "TextStreamer",
]

logger = logging.getLogger("autohub")

GENERATION_CONFIG_NAME = "generation_config.json"

#: The options ``generate()`` implements, with transformers' defaults. ``max_length=None``
#: means transformers 5's default: 20 new tokens, at most ``max_position_embeddings`` in all.
DEFAULT_NEW_TOKENS = 20
_DEFAULTS: dict[str, Any] = {
    "max_length": None,
    "max_new_tokens": None,
    "min_length": 0,
    "min_new_tokens": None,
    "do_sample": False,
    "num_beams": 1,
    "num_return_sequences": 1,
    "length_penalty": 1.0,
    "early_stopping": False,
    "no_repeat_ngram_size": 0,
    "temperature": 1.0,
    "top_k": 50,
    "top_p": 1.0,
    "repetition_penalty": 1.0,
    "use_cache": True,
    "bos_token_id": None,
    "eos_token_id": None,
    "pad_token_id": None,
    "decoder_start_token_id": None,
    "cache_implementation": None,
    "max_cache_len": None,
}
_MODEL_CONFIG_KEYS = (
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
    "decoder_start_token_id",
    "forced_bos_token_id",
    "forced_eos_token_id",
)
#: transformers options that ask for a different return type: refused rather than ignored.
_BEAM_OPTIONS = (
    "num_beams",
    "num_return_sequences",
    "length_penalty",
    "early_stopping",
    "no_repeat_ngram_size",
)
_UNSUPPORTED_FLAGS = ("return_dict_in_generate", "output_scores", "output_logits")
#: transformers 5's cache_implementation values (generate() runs "dynamic" and "static"; "hybrid",
#: the Hub default of sliding-window models, means the default cache, as in transformers; its other
#: deprecated names of the static cache are "static").
_CACHE_IMPLEMENTATIONS = (
    "dynamic",
    "static",
    "offloaded",
    "offloaded_static",
    "quantized",
    "paged",
    "sliding_window",
    "hybrid",
    "hybrid_chunked",
    "offloaded_hybrid",
    "offloaded_hybrid_chunked",
)
_CACHE_ALIASES = {"hybrid": None, "sliding_window": "static", "hybrid_chunked": "static"}
_FLAG = optional(boolean())
_TOKEN_IDS = optional(list_of(integer(0)))
#: The type and range of each option (transformers' keys; null means its default). Checked when a
#: GenerationConfig is built or updated, so a bad generation_config.json fails at load.
OPTION_RULES: dict[str, Rule] = {
    "max_length": optional(non_negative_int()),
    "max_new_tokens": optional(non_negative_int()),
    "min_length": optional(non_negative_int()),
    "min_new_tokens": optional(non_negative_int()),
    "do_sample": _FLAG,
    "num_beams": optional(positive_int()),
    "num_beam_groups": optional(positive_int()),
    "num_return_sequences": optional(positive_int()),
    "length_penalty": optional(number()),
    "early_stopping": optional(
        Rule("true, false or 'never'", lambda value: isinstance(value, bool) or value == "never")
    ),
    "no_repeat_ngram_size": optional(non_negative_int()),
    "encoder_no_repeat_ngram_size": optional(non_negative_int()),
    "temperature": optional(number(0)),
    "top_k": optional(non_negative_int()),
    "top_p": optional(probability()),
    "typical_p": optional(probability()),
    "min_p": optional(probability()),
    "epsilon_cutoff": optional(probability()),
    "eta_cutoff": optional(probability()),
    "repetition_penalty": optional(number(0, exclusive_minimum=True)),
    "encoder_repetition_penalty": optional(number(0, exclusive_minimum=True)),
    "diversity_penalty": optional(number()),
    "use_cache": _FLAG,
    "cache_implementation": optional(one_of(*_CACHE_IMPLEMENTATIONS)),
    "max_cache_len": optional(positive_int()),
    "bos_token_id": optional(integer()),
    "eos_token_id": optional(int_or_ints()),
    "pad_token_id": optional(integer()),
    "decoder_start_token_id": optional(integer()),
    "forced_bos_token_id": optional(integer(0)),
    "forced_eos_token_id": optional(int_or_ints(0)),
    "bad_words_ids": optional(list_of(list_of(integer(0)))),
    "suppress_tokens": _TOKEN_IDS,
    "begin_suppress_tokens": _TOKEN_IDS,
    "renormalize_logits": _FLAG,
    "remove_invalid_values": _FLAG,
    "output_attentions": _FLAG,
    "output_hidden_states": _FLAG,
    **{name: _FLAG for name in _UNSUPPORTED_FLAGS},
}


class GenerationConfig:
    """Decoding options, read from and written to ``generation_config.json``.

    Fields and defaults are transformers' (``top_k=50``, ``max_length`` unset: 20 new tokens ...). Keys autohub
    does not implement are kept and written back, but ``generate()`` refuses values that
    would change the result (beam sampling, ``return_dict_in_generate`` ...).
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("transformers_version", None)
        _check_options(kwargs)
        for name, default in _DEFAULTS.items():
            setattr(self, name, kwargs.pop(name, default))
        for name, value in kwargs.items():
            setattr(self, name, value)

    # -- construction / serialisation ------------------------------------------------------

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any) -> GenerationConfig:
        """Build from a dict; ``kwargs`` override its values."""
        if not isinstance(config_dict, dict):
            raise ConfigError(f"a generation config must be a JSON object, got {type(config_dict).__name__}")
        return cls(**{**config_dict, **kwargs})

    @classmethod
    def _from_file(cls, path: str | os.PathLike, **kwargs: Any) -> GenerationConfig:
        """Read ``path``; a bad value raises :class:`ConfigError` naming the file and the key."""
        values = read_json_file(path)
        _check_options(values, source=path)
        return cls.from_dict(values, **kwargs)

    @classmethod
    def from_model_config(cls, config: Any) -> GenerationConfig:
        """Defaults for a model: special token ids (and legacy generation keys) of its config."""
        values = {}
        for name in (*_MODEL_CONFIG_KEYS, *_DEFAULTS):
            value = getattr(config, name, None)
            if value is not None:
                values[name] = value
        return cls(**values)

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        config_file_name: str = GENERATION_CONFIG_NAME,
        **kwargs: Any,
    ) -> GenerationConfig:
        """Load ``generation_config.json`` from a model directory or Hub repo id."""
        options = HubOptions.pop_from(kwargs)
        path = resolve_file(pretrained_model_name_or_path, config_file_name, options)
        assert path is not None
        return cls._from_file(path, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Every field, including unknown keys."""
        return _copied({key: value for key, value in vars(self).items() if not key.startswith("_")})

    def to_diff_dict(self) -> dict[str, Any]:
        """The fields that differ from the defaults (what transformers writes to disk)."""
        return {key: value for key, value in self.to_dict().items() if _DEFAULTS.get(key, object()) != value}

    def to_json_string(self) -> str:
        """The options that differ from the defaults as indented JSON (generation_config.json's content)."""
        return json.dumps(self.to_diff_dict(), indent=2, sort_keys=True) + "\n"

    def save_pretrained(self, save_directory: str | os.PathLike) -> Path:
        """Write ``generation_config.json`` (non-default values) into ``save_directory``, atomically.

        Inside a model's ``save_pretrained`` it is part of that save's single commit.
        """
        directory = Path(save_directory)
        text = self.to_json_string()
        with checkpoint_transaction(directory) as transaction:
            transaction.write_text(GENERATION_CONFIG_NAME, text)
        return directory / GENERATION_CONFIG_NAME

    def update(self, **kwargs: Any) -> dict[str, Any]:
        """Set the known fields among ``kwargs`` (checked like the constructor's); return the others."""
        _check_options(kwargs)
        unused = {}
        for key, value in kwargs.items():
            if key in _DEFAULTS or key in _UNSUPPORTED_FLAGS or hasattr(self, key):
                setattr(self, key, value)
            else:
                unused[key] = value
        return unused

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GenerationConfig) and self.to_dict() == other.to_dict()

    def __deepcopy__(self, memo: dict[int, Any]) -> GenerationConfig:
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        clone.__dict__.update(_copied(self.__dict__, memo))
        return clone

    def __repr__(self) -> str:
        return f"GenerationConfig {self.to_json_string()}"

    # -- checks ------------------------------------------------------------------------------

    def validate(self) -> None:
        """Raise :class:`GenerationError` for options of the wrong type or range (:data:`OPTION_RULES`)
        and for combinations generate() cannot honour."""
        _check_options(vars(self))
        for name in _UNSUPPORTED_FLAGS:
            if getattr(self, name, False):
                raise GenerationError(f"{name}=True is not supported: generate() returns the token ids only")
        for name in ("num_beams", "num_return_sequences"):
            if getattr(self, name) is None:
                raise GenerationError(f"{name} must be a positive integer, got None")
        if self.num_beams > 1 and self.do_sample:
            raise GenerationError(
                f"beam sampling (do_sample=True with num_beams={self.num_beams}) is not supported: "
                "use num_beams=1 to sample or do_sample=False for beam search"
            )
        if self.num_return_sequences > 1 and self.num_beams == 1 and not self.do_sample:
            raise GenerationError(
                f"num_return_sequences={self.num_return_sequences} needs beam search (num_beams > 1) "
                "or sampling (do_sample=True): greedy search returns one sequence per prompt"
            )
        if self.num_return_sequences > self.num_beams > 1:
            raise GenerationError(
                f"num_return_sequences={self.num_return_sequences} cannot exceed num_beams={self.num_beams}"
            )
        if self.do_sample:
            if self.temperature is not None and not self.temperature > 0:
                raise GenerationError(f"temperature must be > 0 when sampling, got {self.temperature!r}")
            if self.top_p is not None and not self.top_p > 0:
                raise GenerationError(f"top_p must be within (0, 1] when sampling, got {self.top_p!r}")


# -- logits processors --------------------------------------------------------------------------

Processor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _repetition_penalty(penalty: float, ignored_prefix: torch.Tensor | None) -> Processor:
    """Divide positive / multiply negative logits of tokens already in the sequence (left pads ignored)."""

    def process(sequence: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        vocab_size = scores.shape[-1]
        if ignored_prefix is not None:
            positions = torch.arange(sequence.shape[1], device=sequence.device)
            sequence = sequence.masked_fill(positions[None, :] < ignored_prefix[:, None], vocab_size)
        sequence = sequence.clamp(max=vocab_size)
        padded = F.pad(scores, (0, 1))
        score = torch.gather(padded, 1, sequence)
        score = torch.where(score < 0, score * penalty, score / penalty)
        return padded.scatter(1, sequence, score)[..., :vocab_size]

    return process


def _no_repeat_ngram(ngram_size: int) -> Processor:
    """Ban every token that would complete an n-gram already present in the sequence (pads included)."""

    def process(sequence: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        length = sequence.shape[-1]
        if length < ngram_size:
            return scores
        vocab_size = scores.shape[-1]
        prefix = sequence[:, length + 1 - ngram_size :]
        windows = sequence.unfold(dimension=1, size=ngram_size, step=1)
        completes = (windows[..., :-1] == prefix[:, None, :]).all(dim=-1)
        # Windows that do not match ban a spare column past the vocabulary.
        banned_ids = torch.where(completes, windows[..., -1].clamp(max=vocab_size), vocab_size)
        banned = scores.new_zeros((scores.shape[0], vocab_size + 1), dtype=torch.bool)
        banned.scatter_(1, banned_ids, True)
        return scores.masked_fill(banned[:, :vocab_size], -float("inf"))

    return process


def _suppress_eos_while(eos: torch.Tensor, too_short: Callable[[torch.Tensor], bool]) -> Processor:
    def process(sequence: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if not too_short(sequence):
            return scores
        is_eos = torch.isin(torch.arange(scores.shape[-1], device=scores.device), eos)
        return torch.where(is_eos, -float("inf"), scores)

    return process


def _suppress_tokens(token_ids: list[int], at_length: int | None = None) -> Processor:
    """Set the logits of ``token_ids`` to -inf (ids past the vocabulary are ignored): at every step,
    or only when the sequence is ``at_length`` long (transformers' SuppressTokensLogitsProcessor and
    SuppressTokensAtBeginLogitsProcessor)."""
    suppressed = torch.tensor(list(token_ids), dtype=torch.long)

    def process(sequence: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if at_length is not None and sequence.shape[-1] != at_length:
            return scores
        vocabulary = torch.arange(scores.shape[-1], device=scores.device)
        return torch.where(torch.isin(vocabulary, suppressed.to(scores.device)), -float("inf"), scores)

    return process


def _force_token_at(token_ids: int | list[int], length: int) -> Processor:
    """When the sequence is ``length`` long, allow only ``token_ids`` (logit 0, every other -inf):
    transformers' ForcedBOSTokenLogitsProcessor (``length`` 1) and ForcedEOSTokenLogitsProcessor
    (``length`` ``max_length - 1``)."""
    forced = [token_ids] if isinstance(token_ids, int) else list(token_ids)

    def process(sequence: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if sequence.shape[-1] != length:
            return scores
        scores = torch.full_like(scores, -float("inf"))
        scores[:, forced] = 0
        return scores

    return process


def _temperature(temperature: float) -> Processor:
    return lambda sequence, scores: scores / temperature


def _top_k(top_k: int) -> Processor:
    def process(sequence: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        k = min(top_k, scores.shape[-1])
        threshold = torch.topk(scores, k)[0][..., -1, None]
        return scores.masked_fill(scores < threshold, -float("inf"))

    return process


def _top_p(top_p: float) -> Processor:
    def process(sequence: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        sorted_logits, sorted_indices = torch.sort(scores, descending=False)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        remove_sorted = cumulative <= (1 - top_p)
        remove_sorted[..., -1:] = False  # keep at least one token
        remove = remove_sorted.scatter(1, sorted_indices, remove_sorted)
        return scores.masked_fill(remove, -float("inf"))

    return process


def _logits_processors(
    config: GenerationConfig,
    eos: torch.Tensor | None,
    prompt_length: int,
    left_pads: torch.Tensor | None,
    max_length: int,
) -> list[Processor]:
    """transformers' processors, in transformers' order."""
    processors: list[Processor] = []
    if config.repetition_penalty is not None and config.repetition_penalty != 1.0:
        processors.append(_repetition_penalty(float(config.repetition_penalty), left_pads))
    if config.no_repeat_ngram_size:
        processors.append(_no_repeat_ngram(int(config.no_repeat_ngram_size)))
    # min_new_tokens takes precedence over min_length, as in transformers.
    min_length = (
        prompt_length + config.min_new_tokens if config.min_new_tokens is not None else config.min_length
    )
    if eos is not None and min_length:
        processors.append(_suppress_eos_while(eos, lambda sequence: sequence.shape[-1] < min_length))
    forced_bos = getattr(config, "forced_bos_token_id", None)
    if forced_bos is not None:
        processors.append(_force_token_at(forced_bos, 1))
    forced_eos = getattr(config, "forced_eos_token_id", None)
    if forced_eos is not None:
        processors.append(_force_token_at(forced_eos, max_length - 1))
    suppress_tokens = getattr(config, "suppress_tokens", None)
    if suppress_tokens is not None:
        processors.append(_suppress_tokens(suppress_tokens))
    begin_suppress_tokens = getattr(config, "begin_suppress_tokens", None)
    if begin_suppress_tokens is not None:
        # The first generated token; after a one-token prompt with a forced BOS, the one after it.
        begin_index = prompt_length if prompt_length > 1 or forced_bos is None else prompt_length + 1
        processors.append(_suppress_tokens(begin_suppress_tokens, at_length=begin_index))
    if config.do_sample:
        if config.temperature is not None and config.temperature != 1.0:
            processors.append(_temperature(float(config.temperature)))
        if config.top_k:
            processors.append(_top_k(int(config.top_k)))
        if config.top_p is not None and config.top_p < 1.0:
            processors.append(_top_p(float(config.top_p)))
    return processors


# -- the mixin ------------------------------------------------------------------------------------


class GenerationMixin:
    """``generate()`` for heads whose forward follows the KV-cache contract.

    The generation defaults come from ``generation_config.json`` of the checkpoint (read by
    ``from_pretrained``), else from the model config's special token ids; assign
    ``model.generation_config`` to change them. ``save_pretrained`` writes them back.
    """

    @property
    def generation_config(self) -> GenerationConfig:
        """The defaults ``generate()`` uses: from generation_config.json when the checkpoint has one,
        else derived from the model config; assign a :class:`GenerationConfig` to replace them."""
        config = self.__dict__.get("_generation_config")
        if config is None:
            config = self._default_generation_config()
            self.__dict__["_generation_config"] = config
        return config

    @generation_config.setter
    def generation_config(self, value: GenerationConfig) -> None:
        if not isinstance(value, GenerationConfig):
            raise GenerationError(f"generation_config must be a GenerationConfig, got {type(value).__name__}")
        self.__dict__["_generation_config"] = value

    def _default_generation_config(self) -> GenerationConfig:
        return GenerationConfig.from_model_config(self.config)

    def _load_generation_config(self, name_or_path: str | os.PathLike, options: HubOptions) -> None:
        """Called by ``from_pretrained``: read generation_config.json with the same download options."""
        path = resolve_file(name_or_path, GENERATION_CONFIG_NAME, options, required=False)
        if path is not None:
            self.generation_config = GenerationConfig._from_file(path)

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        generation_config: GenerationConfig | None = None,
        streamer: Any = None,
        generator: torch.Generator | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        """Generate token ids: greedy, sampling (``do_sample=True``) or beam search (``num_beams > 1``).

        ``kwargs`` naming generation options override ``generation_config``; the others
        are passed to the model's forward (e.g. ``encoder_outputs``, ``decoder_input_ids``).
        ``streamer`` receives ``put(ids)`` with the prompt then each new token, and
        ``end()``. ``generator`` seeds sampling (else torch's global RNG, as transformers).
        Returns the prompt followed by the new tokens (decoder ids for encoder-decoders), with
        ``num_return_sequences`` consecutive rows per prompt (beam search: best first).

        The KV cache is the model's default (a :class:`~autohub_core.cache.DynamicCache` for the
        rotary decoders) unless ``cache_implementation="static"`` asks for a preallocated
        :class:`~autohub_core.cache.StaticCache` of ``max_cache_len`` positions (default: the
        prompt plus the new tokens), or ``past_key_values=`` passes a cache to fill. A forward
        replaced by ``torch.compile(model.forward)`` compiles once with the static cache; with the
        default cache it works but recompiles as the cache grows (a warning says so).
        """
        if not callable(getattr(self, "prepare_inputs_for_generation", None)):
            raise GenerationError(f"{type(self).__name__} cannot generate: it has no language-modelling head")
        if generation_config is not None and not isinstance(generation_config, GenerationConfig):
            raise GenerationError(
                f"generation_config must be a GenerationConfig, got {type(generation_config).__name__}"
            )
        config = copy.deepcopy(generation_config if generation_config is not None else self.generation_config)
        model_kwargs = config.update(**kwargs)
        for name in _BEAM_OPTIONS:  # unset (null) in a config file: transformers' default
            if getattr(config, name) is None:
                setattr(config, name, _DEFAULTS[name])
        config.validate()
        self._check_model_kwargs(model_kwargs)
        config.cache_implementation = _CACHE_ALIASES.get(
            config.cache_implementation, config.cache_implementation
        )
        if config.cache_implementation not in (None, "dynamic", "static"):
            raise UnsupportedFeatureError(
                f"cache_implementation={config.cache_implementation!r} is not implemented: use 'dynamic' "
                "(the default) or 'static'"
            )
        if config.cache_implementation == "static" and not callable(getattr(self, "_static_cache", None)):
            raise UnsupportedFeatureError(
                f"{type(self).__name__} has no static cache: generate(cache_implementation='static') works "
                "with the rotary decoders (Llama, Mistral, Qwen2 ...); leave cache_implementation unset"
            )
        is_encoder_decoder = bool(getattr(self.config, "is_encoder_decoder", False))
        device = self.device

        eos_ids = config.eos_token_id
        eos_ids = [eos_ids] if isinstance(eos_ids, int) else list(eos_ids or [])
        eos = torch.tensor(eos_ids, device=device) if eos_ids else None
        pad_token_id = config.pad_token_id
        if pad_token_id is None and eos_ids:
            logger.warning("Setting `pad_token_id` to `eos_token_id`:%s for open-end generation.", eos_ids[0])
            pad_token_id = eos_ids[0]
        # Bounded work, checked before any forward pass: new tokens and every id fed to the model.
        decoder_prompt = model_kwargs.get("decoder_input_ids") if is_encoder_decoder else input_ids
        _check_new_tokens(config, decoder_prompt.shape[-1] if isinstance(decoder_prompt, torch.Tensor) else 1)
        self._check_token_ids(input_ids, model_kwargs, config, eos_ids, pad_token_id, is_encoder_decoder)
        _check_sequences(config, input_ids.shape[0] if isinstance(input_ids, torch.Tensor) else 1)

        if input_ids is None and not (is_encoder_decoder and model_kwargs.get("encoder_outputs") is not None):
            if is_encoder_decoder or config.bos_token_id is None:
                raise GenerationError("generate() needs input_ids (there is no bos_token_id to start from)")
            input_ids = torch.full((1, 1), config.bos_token_id, dtype=torch.long, device=device)
        if input_ids is not None:
            input_ids = input_ids.to(device)
            if attention_mask is None:
                attention_mask = _infer_attention_mask(input_ids, pad_token_id, eos_ids)
        if attention_mask is not None:
            attention_mask = attention_mask.to(device)

        if is_encoder_decoder:
            sequence = self._start_decoder(input_ids, attention_mask, config, model_kwargs)
        else:
            sequence = input_ids
        batch_size, prompt_length = sequence.shape
        # Beams and returned sequences are rows of their own: repeat each prompt (and the tensors
        # that go with it, encoder outputs included) that many times, as transformers does.
        copies = max(config.num_beams, config.num_return_sequences)
        if copies > 1:
            sequence = sequence.repeat_interleave(copies, dim=0)
            if attention_mask is not None:
                attention_mask = attention_mask.repeat_interleave(copies, dim=0)
            model_kwargs = _repeat_rows(model_kwargs, copies)
        decoder_mask = None if is_encoder_decoder else attention_mask
        if config.max_new_tokens is not None:
            max_length = prompt_length + config.max_new_tokens
        elif config.max_length is not None:
            max_length = config.max_length
        else:
            max_length = prompt_length + DEFAULT_NEW_TOKENS
            max_positions = getattr(self.config, "max_position_embeddings", None)
            if isinstance(max_positions, int):
                max_length = min(max_length, max_positions)
        _check_new_tokens(config, prompt_length)
        if prompt_length >= max_length:
            if config.num_beams > 1:
                raise GenerationError(
                    f"input length is {prompt_length}, but max_length is {max_length}: beam search needs "
                    "room for at least one new token (set max_new_tokens)"
                )
            logger.warning(
                "Input length is %d, but max_length is %d: one token is generated anyway; "
                "set max_new_tokens to control the number of new tokens",
                prompt_length,
                max_length,
            )
        # The prompt is at least decoded once, even when it is already max_length long.
        initial_cache = self._initial_cache(
            config, model_kwargs, sequence.shape[0], max(max_length, prompt_length + 1)
        )
        left_pads = None if is_encoder_decoder else (attention_mask != 0).int().argmax(dim=1)
        processors = _logits_processors(config, eos, prompt_length, left_pads, max_length)
        if "logits_to_keep" in inspect.signature(self.forward).parameters:
            model_kwargs.setdefault("logits_to_keep", 1)

        def next_token_logits(sequence: torch.Tensor, past_key_values: Any) -> tuple[torch.Tensor, Any]:
            """One forward step (with the current ``decoder_mask``): float32 next-token logits and the cache."""
            inputs = self.prepare_inputs_for_generation(
                sequence,
                past_key_values=past_key_values,
                attention_mask=attention_mask if is_encoder_decoder else decoder_mask,
                use_cache=config.use_cache,
                **model_kwargs,
            )
            outputs = self(**inputs, return_dict=True)
            logits = outputs.logits[:, -1, :].to(dtype=torch.float32, copy=True)
            return logits, outputs.past_key_values if config.use_cache else None

        if config.num_beams > 1:
            if streamer is not None:
                raise GenerationError("a streamer cannot be used with beam search (num_beams > 1)")
            search = _BeamSearch(config, batch_size, prompt_length, max_length, eos, pad_token_id, sequence)
            past_key_values = initial_cache
            while True:
                logits, past_key_values = next_token_logits(search.running_sequences(), past_key_values)
                source_rows = search.step(logits, processors)
                if isinstance(past_key_values, Cache):
                    past_key_values.reorder_cache(source_rows)
                elif past_key_values is not None:
                    past_key_values = _reorder_rows(past_key_values, source_rows)
                if decoder_mask is not None:
                    decoder_mask = torch.cat(
                        [decoder_mask, decoder_mask.new_ones((len(decoder_mask), 1))], dim=-1
                    )
                if search.is_done():
                    return search.best_sequences()

        rows = sequence.shape[0]
        unfinished = torch.ones(rows, dtype=torch.bool, device=device)
        past_key_values = initial_cache
        if streamer is not None:
            streamer.put(sequence.cpu())
        while True:
            scores, past_key_values = next_token_logits(sequence, past_key_values)
            for process in processors:
                scores = process(sequence, scores)
            if config.do_sample:
                probabilities = F.softmax(scores, dim=-1)
                next_tokens = torch.multinomial(probabilities, num_samples=1, generator=generator).squeeze(1)
            else:
                next_tokens = torch.argmax(scores, dim=-1)
            if eos is not None:
                next_tokens = torch.where(unfinished, next_tokens, pad_token_id)
            sequence = torch.cat([sequence, next_tokens[:, None]], dim=-1)
            if decoder_mask is not None:
                decoder_mask = torch.cat([decoder_mask, decoder_mask.new_ones((rows, 1))], dim=-1)
            if streamer is not None:
                streamer.put(next_tokens.cpu())
            if eos is not None:
                unfinished &= ~torch.isin(next_tokens, eos)
            if sequence.shape[1] >= max_length or not bool(unfinished.any()):
                break
        if streamer is not None:
            streamer.end()
        return sequence

    def _initial_cache(
        self, config: GenerationConfig, model_kwargs: dict[str, Any], rows: int, max_length: int
    ) -> Any:
        """The cache the first step starts from (None: the model's default), checked before any
        work: a static cache must hold ``rows`` rows and ``max_length`` positions. A compiled forward
        without one is warned about (it recompiles as the cache grows)."""
        cache = model_kwargs.pop("past_key_values", None)
        kind = config.cache_implementation
        name = type(self).__name__
        if cache is None and kind == "static":
            max_cache_len = config.max_cache_len or max_length
            max_positions = getattr(self.config, "max_position_embeddings", None)
            if isinstance(max_positions, int) and max_cache_len > max_positions:
                raise GenerationError(
                    f"a static cache of {max_cache_len} positions (max_cache_len, or the prompt plus "
                    f"max_new_tokens) exceeds the model's max_position_embeddings ({max_positions})"
                )
            cache = self._static_cache(rows, max_cache_len)
        if isinstance(cache, StaticCache):
            if max_length > cache.max_cache_len:
                raise GenerationError(
                    f"generate() would reach {max_length} positions (the prompt plus max_new_tokens), more "
                    f"than the static cache holds (max_cache_len={cache.max_cache_len}); raise "
                    "max_cache_len or lower max_new_tokens"
                )
            if cache.batch_size != rows:
                raise GenerationError(
                    f"the static cache was built for batch_size={cache.batch_size}, but generate() decodes "
                    f"{rows} rows (prompts x beams or returned sequences)"
                )
        compiled = getattr(self.forward, "_torchdynamo_orig_callable", None) is not None
        if compiled and config.use_cache and not (isinstance(cache, Cache) and cache.is_compileable):
            logger.warning(
                "%s.forward is compiled (torch.compile), but its KV cache changes shape at every step, so "
                "torch recompiles it; %s",
                name,
                "pass cache_implementation='static' to compile once"
                if callable(getattr(self, "_static_cache", None))
                else f"{name} has no static cache, run it uncompiled for speed",
            )
        return cache

    def _vocab_size(self) -> int | None:
        """Rows of the input embeddings (else ``config.vocab_size``): the ids the model can read."""
        get_embeddings = getattr(self, "get_input_embeddings", None)
        rows = getattr(get_embeddings() if callable(get_embeddings) else None, "num_embeddings", None)
        if rows is None:
            rows = getattr(self.config, "vocab_size", None)
        return rows if isinstance(rows, int) and not isinstance(rows, bool) else None

    def _check_token_ids(
        self,
        input_ids: Any,
        model_kwargs: dict[str, Any],
        config: GenerationConfig,
        eos_ids: list[int],
        pad_token_id: int | None,
        is_encoder_decoder: bool,
    ) -> None:
        """Every token id generate() will feed to the model is an integer within the vocabulary."""
        vocab_size = self._vocab_size()
        prompts = {"input_ids": input_ids, "decoder_input_ids": model_kwargs.get("decoder_input_ids")}
        for name, ids in prompts.items():
            if ids is None:
                continue
            if not isinstance(ids, torch.Tensor) or ids.dtype.is_floating_point or ids.dtype.is_complex:
                kind = ids.dtype if isinstance(ids, torch.Tensor) else type(ids).__name__
                raise GenerationError(f"{name} must be a tensor of integer token ids, got {kind}")
            if ids.dim() != 2:
                raise GenerationError(f"{name} must have shape (batch, length), got {tuple(ids.shape)}")
            if ids.shape[1] == 0:
                raise GenerationError(
                    f"{name} has no tokens (shape {tuple(ids.shape)}): give a prompt of at least one token "
                    "(an empty text encodes to none when the tokenizer adds no special tokens)"
                )
            if (
                vocab_size is not None
                and ids.numel()
                and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size)
            ):
                raise GenerationError(
                    f"{name} holds token ids in [{int(ids.min())}, {int(ids.max())}], outside the vocabulary "
                    f"of {vocab_size} tokens"
                )
        if vocab_size is None:
            return
        used: dict[str, int | None] = {}
        if is_encoder_decoder and prompts["decoder_input_ids"] is None:
            start = config.decoder_start_token_id
            used["decoder_start_token_id" if start is not None else "bos_token_id"] = (
                start if start is not None else config.bos_token_id
            )
        elif input_ids is None and not is_encoder_decoder:
            used["bos_token_id"] = config.bos_token_id
        if any(0 <= eos < vocab_size for eos in eos_ids):  # finished rows are then fed the pad id
            used["pad_token_id"] = pad_token_id
        for name, token_id in used.items():
            if token_id is not None and not 0 <= token_id < vocab_size:
                raise GenerationError(
                    f"{name} = {token_id} is outside the vocabulary of {vocab_size} tokens; set a valid "
                    f"one in the generation config or as generate({name}=...)"
                )

    def _check_model_kwargs(self, model_kwargs: dict[str, Any]) -> None:
        accepted = inspect.signature(self.forward).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
        for key in model_kwargs:
            if key not in accepted and not takes_any:
                raise GenerationError(
                    f"generate() got an unknown argument {key!r}: it is neither a generation option "
                    f"nor an argument of {type(self).__name__}.forward"
                )

    def _start_decoder(
        self,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        config: GenerationConfig,
        model_kwargs: dict[str, Any],
    ) -> torch.Tensor:
        """Run the encoder once (unless ``encoder_outputs`` is given) and return the decoder prompt."""
        if model_kwargs.get("encoder_outputs") is None:
            model_kwargs["encoder_outputs"] = self.get_encoder()(
                input_ids=input_ids, attention_mask=attention_mask, return_dict=True
            )
        device = self.device
        decoder_input_ids = model_kwargs.pop("decoder_input_ids", None)
        if decoder_input_ids is not None:
            return decoder_input_ids.to(device)
        start = config.decoder_start_token_id
        if start is None:
            start = config.bos_token_id
        if start is None:
            raise GenerationError(
                "an encoder-decoder model needs decoder_start_token_id (or bos_token_id) in its "
                "generation config, or decoder_input_ids="
            )
        batch_size = model_kwargs["encoder_outputs"][0].shape[0]
        return torch.full((batch_size, 1), start, dtype=torch.long, device=device)


def _check_options(values: dict[str, Any], source: str | os.PathLike | None = None) -> None:
    """Check the generation options among ``values`` against :data:`OPTION_RULES`: a bad one raises
    :class:`ConfigError` naming the file ``source``, or :class:`GenerationError` when given in code."""
    for key, value in values.items():
        rule = OPTION_RULES.get(key)
        if rule is None:
            continue
        try:
            rule.check(key, value, source)
        except ConfigError as error:
            if source is not None:
                raise
            raise GenerationError(f"generation option {str(error).removeprefix('config key ')}") from None


def _check_new_tokens(config: GenerationConfig, prompt_length: int) -> None:
    """Refuse more new tokens than the ``max_new_tokens`` limit, before any work."""
    if config.max_new_tokens is not None:
        limits.check(
            "max_new_tokens", config.max_new_tokens, f"generate(max_new_tokens={config.max_new_tokens})"
        )
    elif config.max_length is not None:
        requested = config.max_length - prompt_length
        limits.check(
            "max_new_tokens",
            requested,
            f"generate(max_length={config.max_length}) with a prompt of {prompt_length} tokens asks for "
            f"{requested} new tokens",
        )


def _check_sequences(config: GenerationConfig, batch_size: int) -> None:
    """Refuse decoding more rows at once (prompts x beams or returned sequences) than the
    ``max_generation_sequences`` limit, before any work."""
    copies = max(config.num_beams, config.num_return_sequences)
    limits.check(
        "max_generation_sequences",
        batch_size * copies,
        f"generate() with {batch_size} prompt(s) x {copies} (num_beams={config.num_beams}, "
        f"num_return_sequences={config.num_return_sequences}) decodes {batch_size * copies} sequences at once",
    )


def _copied(value: Any, memo: dict[int, Any] | None = None) -> Any:
    try:
        return copy.deepcopy(value, memo)
    except RecursionError:
        raise GenerationError(
            "a generation option is nested too deeply to copy or save; flatten it"
        ) from None


# -- beam search ----------------------------------------------------------------------------------


class _BeamSearch:
    """transformers' beam search bookkeeping (``_beam_search``), advanced one token at a time.

    For each prompt it keeps ``num_beams`` running hypotheses, scored by their summed
    log-probabilities, and the ``num_beams`` best finished ones, scored with the length
    penalty. Each step ranks the best ``max(2, 1 + number of EOS ids) * num_beams``
    continuations, so enough unfinished ones remain even when the best ones all end.
    Hypotheses live in ``max_length`` buffers; finished ones shorter than the longest
    returned are padded with transformers' fill value. Shapes are ``(batch, beams, ...)``.
    """

    def __init__(
        self,
        config: GenerationConfig,
        batch_size: int,
        prompt_length: int,
        max_length: int,
        eos: torch.Tensor | None,
        pad_token_id: int | None,
        prompts: torch.Tensor,
    ) -> None:
        self.num_beams = int(config.num_beams)
        self.num_return_sequences = int(config.num_return_sequences)
        self.length_penalty = config.length_penalty
        self.early_stopping = config.early_stopping
        self.batch_size = batch_size
        self.prompt_length = prompt_length
        self.max_length = max_length
        self.eos = eos
        self.length = prompt_length
        self.num_candidates = max(2, 1 + (len(eos) if eos is not None else 0)) * self.num_beams
        beams = (batch_size, self.num_beams)
        device = prompts.device
        # transformers fills with `pad_token_id or eos_token_id[0]` when there is an EOS id, else
        # with -1: a pad id of 0 is falsy there, so the first EOS id is used instead.
        fill = (pad_token_id or int(eos[0])) if eos is not None else -1
        self.running = torch.full((*beams, max_length), fill, dtype=torch.long, device=device)
        self.running[:, :, :prompt_length] = prompts.view(*beams, prompt_length)
        # Only the first beam of each prompt is live at the start, so beams do not repeat each other.
        self.running_scores = torch.zeros(beams, dtype=torch.float32, device=device)
        self.running_scores[:, 1:] = -1.0e9
        self.finished = self.running.clone()
        self.finished_scores = torch.full(beams, -1.0e9, dtype=torch.float32, device=device)
        self.finished_new_tokens = torch.zeros(beams, dtype=torch.long, device=device)
        self.is_finished = torch.zeros(beams, dtype=torch.bool, device=device)
        self.can_improve = torch.ones((batch_size, 1), dtype=torch.bool, device=device)
        self.every_candidate_ended = False

    def running_sequences(self) -> torch.Tensor:
        """The running hypotheses so far, one row per beam: ``(batch * beams, length)``."""
        return self.running[:, :, : self.length].reshape(-1, self.length)

    def step(self, logits: torch.Tensor, processors: list[Processor]) -> torch.Tensor:
        """Extend the hypotheses with the next-token ``logits`` of each running beam.

        The logits processors see log-probabilities, as in transformers. Returns, for each new
        running beam, the row (of ``batch * beams``) it continues: the cache must follow it.
        """
        batch_size, num_beams = self.batch_size, self.num_beams
        log_probs = F.log_softmax(logits, dim=-1)
        sequences = self.running_sequences()
        for process in processors:
            log_probs = process(sequences, log_probs)
        vocab_size = log_probs.shape[-1]
        totals = log_probs.view(batch_size, num_beams, vocab_size) + self.running_scores[:, :, None]
        scores, flat_ids = torch.topk(totals.view(batch_size, num_beams * vocab_size), self.num_candidates)
        source_beams = flat_ids // vocab_size
        tokens = flat_ids % vocab_size
        candidates = _gather_beams(self.running, source_beams)
        candidates[:, :, self.length] = tokens
        source_rows = source_beams + torch.arange(batch_size, device=tokens.device)[:, None] * num_beams
        ended = torch.full_like(tokens, self.length + 1 >= self.max_length, dtype=torch.bool)
        if self.eos is not None:
            ended |= torch.isin(tokens, self.eos)

        running_source_rows = self._keep_running(scores, candidates, source_rows, ended)
        self._keep_finished(scores, candidates, ended)
        self.length += 1
        self._update_can_improve()
        self.every_candidate_ended = bool(ended.all())
        return running_source_rows.view(-1)

    def _keep_running(
        self, scores: torch.Tensor, candidates: torch.Tensor, source_rows: torch.Tensor, ended: torch.Tensor
    ) -> torch.Tensor:
        """The best ``num_beams`` candidates that did not end become the running beams."""
        scores = scores + ended.to(torch.float32) * -1.0e9
        best = torch.topk(scores, k=self.num_beams)[1]
        self.running = _gather_beams(candidates, best)
        self.running_scores = _gather_beams(scores, best)
        return _gather_beams(source_rows, best)

    def _keep_finished(self, scores: torch.Tensor, candidates: torch.Tensor, ended: torch.Tensor) -> None:
        """Candidates among the top ``num_beams`` that ended join the finished hypotheses if they rank."""
        new_tokens = self.length + 1 - self.prompt_length
        in_top_beams = torch.arange(self.num_candidates, device=ended.device) < self.num_beams
        just_finished = ended & in_top_beams[None, :]
        scores = scores / (new_tokens**self.length_penalty)
        if self.early_stopping is True:  # a prompt with num_beams finished hypotheses takes no more
            scores += self.is_finished.all(dim=-1, keepdim=True).to(torch.float32) * -1.0e9
        scores += (~self.can_improve).to(torch.float32) * -1.0e9
        scores += (~just_finished).to(torch.float32) * -1.0e9
        merged_scores = torch.cat((self.finished_scores, scores), dim=1)
        best = torch.topk(merged_scores, k=self.num_beams)[1]
        self.finished = _gather_beams(torch.cat((self.finished, candidates), dim=1), best)
        self.finished_scores = _gather_beams(merged_scores, best)
        candidate_new_tokens = torch.full_like(ended, new_tokens, dtype=torch.long)
        self.finished_new_tokens = _gather_beams(
            torch.cat((self.finished_new_tokens, candidate_new_tokens), 1), best
        )
        self.is_finished = _gather_beams(torch.cat((self.is_finished, just_finished), dim=1), best)

    def _update_can_improve(self) -> None:
        """transformers' early-stopping heuristic: can the best running beam still beat the worst finished one?"""
        if self.early_stopping == "never" and self.length_penalty > 0.0:
            best_length = self.max_length - self.prompt_length
        else:
            best_length = self.length - self.prompt_length
        best_running = self.running_scores[:, :1] / (best_length**self.length_penalty)
        worst_finished = torch.where(
            self.is_finished, self.finished_scores.min(dim=1, keepdim=True)[0], -1.0e9
        )
        self.can_improve &= (best_running > worst_finished).any(dim=-1, keepdim=True)

    def is_done(self) -> bool:
        if not bool(self.can_improve.any()):
            return True
        if self.early_stopping is True and bool(self.is_finished.all()):
            return True
        return self.every_candidate_ended

    def best_sequences(self) -> torch.Tensor:
        """The ``num_return_sequences`` best finished hypotheses of each prompt, best first."""
        count = self.num_return_sequences
        sequences = self.finished[:, :count].reshape(self.batch_size * count, self.max_length)
        longest = int(self.finished_new_tokens[:, :count].max())
        return sequences[:, : self.prompt_length + longest]


def _gather_beams(tensor: torch.Tensor, beam_indices: torch.Tensor) -> torch.Tensor:
    """``tensor[b, beam_indices[b, i], ...]`` for a ``(batch, beams, ...)`` tensor."""
    while beam_indices.dim() < tensor.dim():
        beam_indices = beam_indices.unsqueeze(-1)
    return torch.take_along_dim(tensor, beam_indices, dim=1)


def _reorder_rows(cache: Any, rows: torch.Tensor) -> Any:
    """Select ``rows`` (batch dimension) of every tensor in a nested tuple/list cache."""
    if isinstance(cache, torch.Tensor):
        return cache.index_select(0, rows.to(cache.device))
    if isinstance(cache, tuple | list):
        return type(cache)(_reorder_rows(item, rows) for item in cache)
    if cache is None:
        return None
    raise GenerationError(
        f"beam search cannot reorder a cache of type {type(cache).__name__}: past_key_values must be "
        "nested tuples of tensors"
    )


def _repeat_rows(model_kwargs: dict[str, Any], copies: int) -> dict[str, Any]:
    """Repeat each row of every tensor argument (and of ``encoder_outputs``) ``copies`` times."""
    repeated = {}
    for key, value in model_kwargs.items():
        if isinstance(value, torch.Tensor):
            value = value.repeat_interleave(copies, dim=0)
        elif key == "encoder_outputs" and isinstance(value, dict):
            value = copy.copy(value)
            for name, item in list(value.items()):
                if isinstance(item, torch.Tensor):
                    value[name] = item.repeat_interleave(copies, dim=0)
        elif key == "encoder_outputs" and isinstance(value, tuple):
            value = tuple(
                item.repeat_interleave(copies, dim=0) if isinstance(item, torch.Tensor) else item
                for item in value
            )
        repeated[key] = value
    return repeated


def _infer_attention_mask(
    input_ids: torch.Tensor, pad_token_id: int | None, eos_ids: list[int]
) -> torch.Tensor:
    """transformers' rule: mask the pad token when it occurs and differs from every EOS token."""
    if pad_token_id is not None and pad_token_id not in eos_ids and bool((input_ids == pad_token_id).any()):
        return input_ids.ne(pad_token_id).long()
    return torch.ones_like(input_ids)


# -- streamers ------------------------------------------------------------------------------------


class TextStreamer:
    """Prints decoded text to stdout as soon as whole words are formed (transformers' TextStreamer).

    Pass it as ``generate(..., streamer=TextStreamer(tokenizer))``; ``skip_prompt=True`` leaves
    the prompt out; ``decode_kwargs`` go to ``tokenizer.decode``. Batch size 1 only.
    """

    def __init__(self, tokenizer: Any, skip_prompt: bool = False, **decode_kwargs: Any) -> None:
        self.tokenizer = tokenizer
        self.skip_prompt = skip_prompt
        self.decode_kwargs = decode_kwargs
        self.token_cache: list[int] = []
        self.print_len = 0
        self.next_tokens_are_prompt = True

    def put(self, value: torch.Tensor) -> None:
        """Receive token ids (the prompt first, then one token per step)."""
        if value.dim() > 1 and value.shape[0] > 1:
            raise ValueError("TextStreamer only supports batch size 1")
        if value.dim() > 1:
            value = value[0]
        if self.skip_prompt and self.next_tokens_are_prompt:
            self.next_tokens_are_prompt = False
            return
        self.token_cache.extend(value.tolist())
        text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
        if text.endswith("\n"):
            printable = text[self.print_len :]
            self.token_cache = []
            self.print_len = 0
        elif text and _is_cjk(ord(text[-1])):
            printable = text[self.print_len :]
            self.print_len += len(printable)
        else:
            printable = text[self.print_len : text.rfind(" ") + 1]
            self.print_len += len(printable)
        self.on_finalized_text(printable)

    def end(self) -> None:
        """Flush what is left and signal the end of the stream."""
        printable = ""
        if self.token_cache:
            text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
            printable = text[self.print_len :]
            self.token_cache = []
            self.print_len = 0
        self.next_tokens_are_prompt = True
        self.on_finalized_text(printable, stream_end=True)

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        """Print the new text (and a newline at the end of the stream)."""
        print(text, flush=True, end=None if stream_end else "")


class TextIteratorStreamer(TextStreamer):
    """A :class:`TextStreamer` whose text pieces are read by iterating over it, typically while
    ``generate()`` runs in another thread. ``timeout`` (seconds) bounds each wait."""

    def __init__(
        self, tokenizer: Any, skip_prompt: bool = False, timeout: float | None = None, **decode_kwargs: Any
    ) -> None:
        super().__init__(tokenizer, skip_prompt, **decode_kwargs)
        self.text_queue: Queue[str | None] = Queue()
        self.stop_signal = None
        self.timeout = timeout

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        """Queue the new text for the iterating thread (and the stop signal at the end of the stream)."""
        self.text_queue.put(text, timeout=self.timeout)
        if stream_end:
            self.text_queue.put(self.stop_signal, timeout=self.timeout)

    def __iter__(self) -> TextIteratorStreamer:
        return self

    def __next__(self) -> str:
        value = self.text_queue.get(timeout=self.timeout)
        if value is self.stop_signal:
            raise StopIteration
        return value


def _is_cjk(codepoint: int) -> bool:
    return any(
        low <= codepoint <= high
        for low, high in (
            (0x4E00, 0x9FFF),
            (0x3400, 0x4DBF),
            (0x20000, 0x2A6DF),
            (0x2A700, 0x2B73F),
            (0x2B740, 0x2B81F),
            (0x2B820, 0x2CEAF),
            (0xF900, 0xFAFF),
            (0x2F800, 0x2FA1F),
        )
    )
