"""Text generation: :class:`GenerationConfig`, :class:`GenerationMixin` and text streamers.

``generate()`` reproduces transformers' greedy search and multinomial sampling: the same
logits processors in the same order (repetition penalty, min length, min new tokens, then
temperature, top-k, top-p when sampling), the same stopping rules (max length, one or more
EOS tokens per sequence, finished sequences padded with ``pad_token_id``) and the same
position ids for left-padded batches. A head that can generate inherits
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

from autohub_core._io import atomic_write_text
from autohub_core.configuration import read_json_file
from autohub_core.errors import ConfigError, GenerationError
from autohub_core.hub import HubOptions, resolve_file

__all__ = [
    "GENERATION_CONFIG_NAME",
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
    "temperature": 1.0,
    "top_k": 50,
    "top_p": 1.0,
    "repetition_penalty": 1.0,
    "use_cache": True,
    "bos_token_id": None,
    "eos_token_id": None,
    "pad_token_id": None,
    "decoder_start_token_id": None,
}
_MODEL_CONFIG_KEYS = ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id")


class GenerationConfig:
    """Decoding options, read from and written to ``generation_config.json``.

    Fields and defaults are transformers' (``top_k=50``, ``max_length`` unset: 20 new tokens ...). Keys autohub
    does not implement are kept and written back, but ``generate()`` refuses values that
    would change the result (``num_beams > 1``).
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("transformers_version", None)
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
        return cls.from_dict(read_json_file(path), **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Every field, including unknown keys."""
        return copy.deepcopy({key: value for key, value in vars(self).items() if not key.startswith("_")})

    def to_diff_dict(self) -> dict[str, Any]:
        """The fields that differ from the defaults (what transformers writes to disk)."""
        return {key: value for key, value in self.to_dict().items() if _DEFAULTS.get(key, object()) != value}

    def to_json_string(self) -> str:
        return json.dumps(self.to_diff_dict(), indent=2, sort_keys=True) + "\n"

    def save_pretrained(self, save_directory: str | os.PathLike) -> Path:
        """Write ``generation_config.json`` (non-default values) into ``save_directory``."""
        directory = Path(save_directory)
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / GENERATION_CONFIG_NAME
        atomic_write_text(target, self.to_json_string())
        return target

    def update(self, **kwargs: Any) -> dict[str, Any]:
        """Set the known fields among ``kwargs``; return the others."""
        unused = {}
        for key, value in kwargs.items():
            if key in _DEFAULTS or hasattr(self, key):
                setattr(self, key, value)
            else:
                unused[key] = value
        return unused

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GenerationConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"GenerationConfig {self.to_json_string()}"

    # -- checks ------------------------------------------------------------------------------

    def validate(self) -> None:
        """Raise :class:`GenerationError` for options generate() cannot honour."""
        if self.num_beams not in (None, 1):
            raise GenerationError(
                f"num_beams={self.num_beams} is not supported: autohub implements greedy search and "
                "sampling only (num_beams=1)"
            )
        for name in ("max_new_tokens", "min_new_tokens"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise GenerationError(f"{name} must be a non-negative integer, got {value!r}")
        if self.max_length is not None and (not isinstance(self.max_length, int) or self.max_length < 1):
            raise GenerationError(f"max_length must be a positive integer, got {self.max_length!r}")
        if self.repetition_penalty is not None and not self.repetition_penalty > 0:
            raise GenerationError(f"repetition_penalty must be > 0, got {self.repetition_penalty!r}")
        if self.do_sample:
            if self.temperature is not None and not self.temperature > 0:
                raise GenerationError(f"temperature must be > 0 when sampling, got {self.temperature!r}")
            if self.top_p is not None and not 0 <= self.top_p <= 1:
                raise GenerationError(f"top_p must be within [0, 1], got {self.top_p!r}")
            if self.top_k is not None and (not isinstance(self.top_k, int) or self.top_k < 0):
                raise GenerationError(f"top_k must be a non-negative integer, got {self.top_k!r}")


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


def _suppress_eos_while(eos: torch.Tensor, too_short: Callable[[torch.Tensor], bool]) -> Processor:
    def process(sequence: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if not too_short(sequence):
            return scores
        is_eos = torch.isin(torch.arange(scores.shape[-1], device=scores.device), eos)
        return torch.where(is_eos, -float("inf"), scores)

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
    config: GenerationConfig, eos: torch.Tensor | None, prompt_length: int, left_pads: torch.Tensor | None
) -> list[Processor]:
    """transformers' processors, in transformers' order."""
    processors: list[Processor] = []
    if config.repetition_penalty is not None and config.repetition_penalty != 1.0:
        processors.append(_repetition_penalty(float(config.repetition_penalty), left_pads))
    # min_new_tokens takes precedence over min_length, as in transformers.
    min_length = (
        prompt_length + config.min_new_tokens if config.min_new_tokens is not None else config.min_length
    )
    if eos is not None and min_length:
        processors.append(_suppress_eos_while(eos, lambda sequence: sequence.shape[-1] < min_length))
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
            self.generation_config = GenerationConfig.from_dict(read_json_file(path))

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
        """Generate token ids (greedy, or sampling with ``do_sample=True``).

        ``kwargs`` naming generation options override ``generation_config``; the others
        are passed to the model's forward (e.g. ``encoder_outputs``, ``decoder_input_ids``).
        ``streamer`` receives ``put(ids)`` with the prompt then each new token, and
        ``end()``. ``generator`` seeds sampling (else torch's global RNG, as transformers).
        Returns the prompt followed by the new tokens (decoder ids for encoder-decoders).
        """
        if not callable(getattr(self, "prepare_inputs_for_generation", None)):
            raise GenerationError(f"{type(self).__name__} cannot generate: it has no language-modelling head")
        config = copy.deepcopy(generation_config if generation_config is not None else self.generation_config)
        model_kwargs = config.update(**kwargs)
        config.validate()
        self._check_model_kwargs(model_kwargs)
        is_encoder_decoder = bool(getattr(self.config, "is_encoder_decoder", False))
        device = self.device

        eos_ids = config.eos_token_id
        eos_ids = [eos_ids] if isinstance(eos_ids, int) else list(eos_ids or [])
        eos = torch.tensor(eos_ids, device=device) if eos_ids else None
        pad_token_id = config.pad_token_id
        if pad_token_id is None and eos_ids:
            logger.warning("Setting `pad_token_id` to `eos_token_id`:%s for open-end generation.", eos_ids[0])
            pad_token_id = eos_ids[0]

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
            decoder_mask = None
        else:
            sequence = input_ids
            decoder_mask = attention_mask
        batch_size, prompt_length = sequence.shape
        if config.max_new_tokens is not None:
            max_length = prompt_length + config.max_new_tokens
        elif config.max_length is not None:
            max_length = config.max_length
        else:
            max_length = prompt_length + DEFAULT_NEW_TOKENS
            max_positions = getattr(self.config, "max_position_embeddings", None)
            if isinstance(max_positions, int):
                max_length = min(max_length, max_positions)
        if prompt_length >= max_length:
            logger.warning(
                "Input length is %d, but max_length is %d: one token is generated anyway; "
                "set max_new_tokens to control the number of new tokens",
                prompt_length,
                max_length,
            )
        left_pads = None if is_encoder_decoder else (attention_mask != 0).int().argmax(dim=1)
        processors = _logits_processors(config, eos, prompt_length, left_pads)
        if "logits_to_keep" in inspect.signature(self.forward).parameters:
            model_kwargs.setdefault("logits_to_keep", 1)

        unfinished = torch.ones(batch_size, dtype=torch.bool, device=device)
        past_key_values = None
        if streamer is not None:
            streamer.put(sequence.cpu())
        while True:
            inputs = self.prepare_inputs_for_generation(
                sequence,
                past_key_values=past_key_values,
                attention_mask=attention_mask if is_encoder_decoder else decoder_mask,
                use_cache=config.use_cache,
                **model_kwargs,
            )
            outputs = self(**inputs, return_dict=True)
            if config.use_cache:
                past_key_values = outputs.past_key_values
            scores = outputs.logits[:, -1, :].to(dtype=torch.float32, copy=True)
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
                decoder_mask = torch.cat([decoder_mask, decoder_mask.new_ones((batch_size, 1))], dim=-1)
            if streamer is not None:
                streamer.put(next_tokens.cpu())
            if eos is not None:
                unfinished &= ~torch.isin(next_tokens, eos)
            if sequence.shape[1] >= max_length or not bool(unfinished.any()):
                break
        if streamer is not None:
            streamer.end()
        return sequence

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
