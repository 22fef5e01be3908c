"""One tokenizer class over the Rust ``tokenizers`` library, with transformers' fast-tokenizer API.

:class:`PreTrainedTokenizer` loads ``tokenizer.json`` (or, without it, the family's legacy
vocabulary files through :meth:`PreTrainedTokenizer._backend_from_legacy_files`), encodes
with ``tokenizers.Tokenizer.encode_batch`` and returns a :class:`BatchEncoding`. Families
subclass it to set their defaults and to say how to build the Rust tokenizer from legacy
files; everything else is shared.

torch and numpy are imported only when tensors are asked for, so importing this module is cheap.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import json
import math
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from tokenizers import AddedToken, Encoding, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece

from autohub_core import limits
from autohub_core.errors import AutohubError, CheckpointNotFoundError, TokenizerError
from autohub_core.hub import HubOptions, cache_only, not_cached_error, resolve_file

__all__ = [
    "BatchEncoding",
    "BosEosTemplateTokenizer",
    "CharSpan",
    "PreTrainedTokenizer",
    "PreTrainedTokenizerFast",
    "TokenSpan",
    "TokenizersBackend",
    "WordPieceTokenizer",
    "backend_errors",
]

TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"

#: ``model_max_length`` of a tokenizer whose config does not set one (transformers' value).
VERY_LARGE_INTEGER = int(1e30)
#: Above this, ``model_max_length`` counts as "no limit" for truncation and padding.
_LARGE_INTEGER = int(1e20)

SPECIAL_TOKENS_ATTRIBUTES = (
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
)

_PADDING_STRATEGIES = ("longest", "max_length", "do_not_pad")
_TRUNCATION_STRATEGIES = ("longest_first", "only_first", "only_second", "do_not_truncate")
_SIDES = ("left", "right")

# Keys of tokenizer_config.json that describe where files came from, not how to tokenize:
# dropped on load and never written back.
_LOAD_TIME_KEYS = frozenset(
    {
        "tokenizer_class",
        "name_or_path",
        "tokenizer_file",
        "special_tokens_map_file",
        "added_tokens_file",
        "is_local",
        "local_files_only",
        "backend",
        "files_loaded",
        "init_inputs",
        "use_fast",
        "trust_remote_code",
    }
)

TextInput = str | Sequence[str]


class CharSpan(NamedTuple):
    """A span of characters of the input: ``text[start:end]``."""

    start: int
    end: int


class TokenSpan(NamedTuple):
    """A span of tokens of an encoded row: tokens ``start`` to ``end - 1``."""

    start: int
    end: int


class BatchEncoding(collections.UserDict):
    """The output of a tokenizer call: a dict of model inputs plus the Rust encodings.

    Values are reachable as keys (``enc["input_ids"]``) and attributes (``enc.input_ids``);
    ``model(**enc)`` works. ``enc[i]`` (an int) is the :class:`tokenizers.Encoding` of row ``i``.
    """

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        encodings: Sequence[Encoding] | None = None,
        tensor_type: str | None = None,
    ) -> None:
        super().__init__(data)
        self._encodings = list(encodings) if encodings is not None else None
        self.convert_to_tensors(tensor_type)

    def __getitem__(self, key: str | int | slice) -> Any:
        if isinstance(key, str):
            return self.data[key]
        if isinstance(key, int) and self._encodings is not None:
            return self._encodings[key]
        if isinstance(key, slice):
            return {name: value[key] for name, value in self.data.items()}
        raise KeyError(f"BatchEncoding keys are str (a field), int (a row's Encoding) or slice; got {key!r}")

    def __getattr__(self, name: str) -> Any:
        data = self.__dict__.get("data")
        if data is not None and name in data:
            return data[name]
        raise AttributeError(f"BatchEncoding has no field or attribute {name!r}")

    def __getstate__(self) -> dict[str, Any]:
        return {"data": self.data, "encodings": self._encodings}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.data = state["data"]
        self._encodings = state["encodings"]

    @property
    def encodings(self) -> list[Encoding] | None:
        """The :class:`tokenizers.Encoding` of each row (``None`` when built from plain lists)."""
        return self._encodings

    def _encoding(self, batch_index: int) -> Encoding:
        if not self._encodings:
            raise TokenizerError(
                "this BatchEncoding was not produced by a tokenizer call and has no encodings"
            )
        return self._encodings[batch_index]

    @property
    def is_fast(self) -> bool:
        """Whether the rows' :class:`tokenizers.Encoding` objects (and the alignment methods) are available."""
        return self._encodings is not None

    @property
    def n_sequences(self) -> int | None:
        """How many sequences each row encodes: 1 (a text), 2 (a pair), ``None`` when unknown."""
        return self._encodings[0].n_sequences if self._encodings else None

    def tokens(self, batch_index: int = 0) -> list[str]:
        """The token strings of row ``batch_index``."""
        return self._encoding(batch_index).tokens

    def word_ids(self, batch_index: int = 0) -> list[int | None]:
        """For each token of row ``batch_index``, the index of its word (``None`` for specials)."""
        return self._encoding(batch_index).word_ids

    def sequence_ids(self, batch_index: int = 0) -> list[int | None]:
        """For each token, 0 or 1 for the sequence of a pair it belongs to (``None`` for specials)."""
        return self._encoding(batch_index).sequence_ids

    # The alignment methods take ``(index)`` for row 0 or ``(batch_index, index)``, as transformers'.
    # A negative token index counts from the end of the row; a negative word or character
    # index, like one past the end, matches nothing (``None``).

    def token_to_sequence(self, batch_or_token_index: int, token_index: int | None = None) -> int | None:
        """The sequence (0 or 1) token ``token_index`` belongs to; ``None`` for specials and padding."""
        encoding, index = self._token_position(batch_or_token_index, token_index)
        return None if index is None else encoding.token_to_sequence(index)

    def token_to_word(self, batch_or_token_index: int, token_index: int | None = None) -> int | None:
        """The index of the word (in its sequence) token ``token_index`` is part of; ``None`` for specials."""
        encoding, index = self._token_position(batch_or_token_index, token_index)
        return None if index is None else encoding.token_to_word(index)

    def token_to_chars(self, batch_or_token_index: int, token_index: int | None = None) -> CharSpan | None:
        """The characters of its sequence token ``token_index`` covers; ``None`` for specials and padding."""
        encoding, index = self._token_position(batch_or_token_index, token_index)
        span = None if index is None else encoding.token_to_chars(index)
        return None if span is None else CharSpan(*span)

    def word_to_tokens(
        self, batch_or_word_index: int, word_index: int | None = None, sequence_index: int = 0
    ) -> TokenSpan | None:
        """The tokens word ``word_index`` of sequence ``sequence_index`` became; ``None`` if none."""
        encoding, index = self._position(batch_or_word_index, word_index)
        span = None if index < 0 else encoding.word_to_tokens(index, sequence_index)
        return None if span is None else TokenSpan(*span)

    def word_to_chars(
        self, batch_or_word_index: int, word_index: int | None = None, sequence_index: int = 0
    ) -> CharSpan | None:
        """The characters of word ``word_index`` of sequence ``sequence_index``; ``None`` if no such word."""
        encoding, index = self._position(batch_or_word_index, word_index)
        span = None if index < 0 else encoding.word_to_chars(index, sequence_index)
        return None if span is None else CharSpan(*span)

    def char_to_token(
        self, batch_or_char_index: int, char_index: int | None = None, sequence_index: int = 0
    ) -> int | None:
        """The token covering character ``char_index`` of sequence ``sequence_index``; ``None`` if none
        (whitespace trimmed from every token, a truncated-away character, an index past the end)."""
        encoding, index = self._position(batch_or_char_index, char_index)
        return None if index < 0 else encoding.char_to_token(index, sequence_index)

    def char_to_word(
        self, batch_or_char_index: int, char_index: int | None = None, sequence_index: int = 0
    ) -> int | None:
        """The word containing character ``char_index`` of sequence ``sequence_index``; ``None`` if none."""
        encoding, index = self._position(batch_or_char_index, char_index)
        return None if index < 0 else encoding.char_to_word(index, sequence_index)

    def _position(self, batch_or_index: int, index: int | None) -> tuple[Encoding, int]:
        """The row's encoding and the index, from the one- or two-argument call forms."""
        if index is None:
            return self._encoding(0), batch_or_index
        return self._encoding(batch_or_index), index

    def _token_position(self, batch_or_index: int, index: int | None) -> tuple[Encoding, int | None]:
        encoding, index = self._position(batch_or_index, index)
        if index < 0:
            index += len(encoding)
        return encoding, index if 0 <= index < len(encoding) else None

    def convert_to_tensors(self, tensor_type: str | None = None) -> BatchEncoding:
        """Convert every value in place to ``"pt"`` (torch int64) or ``"np"`` arrays; ``None`` is a no-op."""
        if tensor_type is None:
            return self
        if tensor_type == "pt":
            import torch

            def as_tensor(value: Any) -> Any:
                if torch.is_tensor(value):
                    return value
                return torch.tensor(value, dtype=torch.int64)  # ids, masks, offsets: all integers

        elif tensor_type == "np":
            import numpy as np

            def as_tensor(value: Any) -> Any:
                if isinstance(value, np.ndarray):
                    return value
                if value and isinstance(value[0], (list, tuple)) and len({len(row) for row in value}) > 1:
                    return np.asarray([np.asarray(row) for row in value], dtype=object)
                return np.asarray(value, dtype=np.int64)

        else:
            raise TokenizerError(f"return_tensors must be None, 'pt' or 'np', got {tensor_type!r}")
        for key, value in self.data.items():
            try:
                self.data[key] = as_tensor(value)
            except ValueError as error:
                raise TokenizerError(
                    f"cannot make a tensor of {key!r}: rows have different lengths; "
                    "pass padding=True and/or truncation=True to get rectangular batches"
                ) from error
        return self

    def to(self, device: Any, *, non_blocking: bool = False) -> BatchEncoding:
        """Move every tensor value to ``device`` (in place) and return ``self``."""
        self.data = {
            key: value.to(device=device, non_blocking=non_blocking) if hasattr(value, "to") else value
            for key, value in self.data.items()
        }
        return self


class _SpecialToken:
    """Descriptor for a named special token (``tokenizer.cls_token``): its string, or ``None``."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, tokenizer: PreTrainedTokenizer | None, owner: type) -> Any:
        if tokenizer is None:
            return self
        value = tokenizer._special_tokens.get(self.name)
        return None if value is None else str(value)

    def __set__(self, tokenizer: PreTrainedTokenizer, value: str | AddedToken | None) -> None:
        if value is not None and not isinstance(value, (str, AddedToken)):
            raise TokenizerError(f"{self.name} must be a str or AddedToken, got {type(value).__name__}")
        tokenizer._special_tokens[self.name] = value


class _SpecialTokenId:
    """Descriptor for a special token's id (``tokenizer.cls_token_id``); setting it sets the token."""

    def __init__(self, token_attribute: str) -> None:
        self.token_attribute = token_attribute

    def __get__(self, tokenizer: PreTrainedTokenizer | None, owner: type) -> Any:
        if tokenizer is None:
            return self
        token = getattr(tokenizer, self.token_attribute)
        return None if token is None else tokenizer.convert_tokens_to_ids(token)

    def __set__(self, tokenizer: PreTrainedTokenizer, value: int | None) -> None:
        token = None if value is None else tokenizer.convert_ids_to_tokens(value)
        setattr(tokenizer, self.token_attribute, token)


class PreTrainedTokenizer:
    """A tokenizer over a :class:`tokenizers.Tokenizer`, with transformers' fast-tokenizer API.

    Build one with :meth:`from_pretrained`, or directly from a Rust tokenizer
    (``tokenizer_object=``), a ``tokenizer_file=`` path, or the family's legacy files
    (``vocab_file=`` and the other keys of :attr:`vocab_files_names`). Other keyword
    arguments are the ``tokenizer_config.json`` keys (special tokens, ``model_max_length``,
    ``padding_side``, family options such as ``do_lower_case``).
    """

    #: init keyword → file name of the legacy vocabulary files (e.g. ``{"vocab_file": "vocab.txt"}``).
    vocab_files_names: ClassVar[dict[str, str]] = {}
    #: The inputs the model's forward takes; the first one is what ``pad`` pads.
    model_input_names: ClassVar[list[str]] = ["input_ids", "attention_mask"]
    padding_side: str = "right"
    truncation_side: str = "right"
    #: Special tokens used when neither the files nor the caller name them.
    default_special_tokens: ClassVar[dict[str, str]] = {}
    #: Family options (saved in tokenizer_config.json) and their defaults, e.g. ``do_lower_case``.
    default_init_kwargs: ClassVar[dict[str, Any]] = {}

    bos_token = _SpecialToken()
    eos_token = _SpecialToken()
    unk_token = _SpecialToken()
    sep_token = _SpecialToken()
    pad_token = _SpecialToken()
    cls_token = _SpecialToken()
    mask_token = _SpecialToken()
    bos_token_id = _SpecialTokenId("bos_token")
    eos_token_id = _SpecialTokenId("eos_token")
    unk_token_id = _SpecialTokenId("unk_token")
    sep_token_id = _SpecialTokenId("sep_token")
    pad_token_id = _SpecialTokenId("pad_token")
    cls_token_id = _SpecialTokenId("cls_token")
    mask_token_id = _SpecialTokenId("mask_token")

    pad_token_type_id: int = 0

    def __init__(
        self,
        tokenizer_object: Tokenizer | None = None,
        *,
        tokenizer_file: str | os.PathLike | None = None,
        name_or_path: str | os.PathLike = "",
        **kwargs: Any,
    ) -> None:
        kwargs = dict(kwargs)
        _check_options(kwargs, "tokenizer arguments")
        legacy_files = {key: Path(kwargs.pop(key)) for key in self.vocab_files_names if kwargs.get(key)}
        for key in _LOAD_TIME_KEYS:
            kwargs.pop(key, None)
        self.name_or_path = str(name_or_path)

        self._special_tokens: dict[str, str | AddedToken | None] = {
            name: _as_token(kwargs.pop(name, self.default_special_tokens.get(name)))
            for name in SPECIAL_TOKENS_ATTRIBUTES
        }
        extra = kwargs.pop("extra_special_tokens", None)  # transformers 5's name
        legacy_extra = kwargs.pop("additional_special_tokens", None)
        extra = extra or legacy_extra
        if isinstance(extra, Mapping):
            extra = list(extra.values())
        self._extra_special_tokens: list[str | AddedToken] = [_as_token(token) for token in extra or []]

        max_length = kwargs.pop("model_max_length", kwargs.pop("max_len", None))
        self.model_max_length: int = VERY_LARGE_INTEGER if max_length is None else int(max_length)
        self.padding_side = _check_side("padding_side", kwargs.pop("padding_side", self.padding_side))
        self.truncation_side = _check_side(
            "truncation_side", kwargs.pop("truncation_side", self.truncation_side)
        )
        self.model_input_names = list(kwargs.pop("model_input_names", self.model_input_names))
        self.clean_up_tokenization_spaces: bool = bool(kwargs.pop("clean_up_tokenization_spaces", False))
        self.split_special_tokens: bool = bool(kwargs.pop("split_special_tokens", False))
        added_tokens_decoder = _parse_added_tokens_decoder(kwargs.pop("added_tokens_decoder", None) or {})

        #: Family options and unknown config keys, written back by :meth:`save_pretrained`.
        self.init_kwargs: dict[str, Any] = {**self.default_init_kwargs, **kwargs}

        if tokenizer_object is not None:
            with backend_errors("cannot copy the given tokenizer_object"):
                backend = copy.deepcopy(tokenizer_object)
        elif tokenizer_file is not None:
            backend = _load_tokenizer_json(Path(tokenizer_file))
        else:
            missing = [f"{key}=" for key in self.vocab_files_names if key not in legacy_files]
            if missing:
                raise TokenizerError(
                    f"{type(self).__name__} needs tokenizer_object=, tokenizer_file= or {', '.join(missing)}"
                )
            for path in legacy_files.values():
                if path.is_file():
                    limits.check_file_size(path)
            with backend_errors(
                f"cannot build {type(self).__name__} from {sorted(map(str, legacy_files.values()))}"
            ):
                backend = self._backend_from_legacy_files(
                    legacy_files, {**self.init_kwargs, **self.special_tokens_map}
                )
        with backend_errors(f"cannot set up {type(self).__name__}"):
            backend.no_truncation()
            backend.no_padding()
            backend.encode_special_tokens = self.split_special_tokens
            self._backend = backend
            self._backend_lock = threading.RLock()

            self._add_missing_tokens(added_tokens_decoder)
            self._configure_backend(backend)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_backend_lock"]  # locks cannot be pickled; each copy gets its own
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._backend_lock = threading.RLock()

    # ----------------------------------------------------------------- family hooks

    @classmethod
    def _backend_from_legacy_files(cls, files: dict[str, Path], init_kwargs: dict[str, Any]) -> Tokenizer:
        """Build the Rust tokenizer from the family's legacy files (no tokenizer.json).

        ``files`` maps each :attr:`vocab_files_names` key to its local path; ``init_kwargs``
        holds the family options and special tokens. Families override this.
        """
        raise TokenizerError(
            f"{cls.__name__} needs a {TOKENIZER_FILE}: it has no way to build a tokenizer from other files"
        )

    @classmethod
    def _adjust_loaded_options(cls, init_kwargs: dict[str, Any]) -> None:
        """Adjust, in place, the options :meth:`from_pretrained` read from the checkpoint's files and
        arguments (``tokenizer_class`` still among them) before building (no-op by default)."""

    def _configure_backend(self, backend: Tokenizer) -> None:
        """Adjust the Rust tokenizer to the init options after loading (no-op by default).

        Families whose options (``do_lower_case``, special tokens) shape the pipeline set the
        matching components here, so explicit options win over tokenizer.json as in transformers.
        """

    # ----------------------------------------------------------------- loading

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | os.PathLike, *init_inputs: Any, **kwargs: Any
    ) -> PreTrainedTokenizer:
        """Load a tokenizer from a local directory or a Hub repo id.

        Reads tokenizer_config.json and special_tokens_map.json (both optional), then
        tokenizer.json, or the family's legacy files when it is absent. Keyword arguments
        are hub options (``cache_dir``, ``revision``, ``token``, ``local_files_only``,
        ``subfolder``, ...) or init options that override the files' values.
        """
        if init_inputs:
            raise TokenizerError(
                f"{cls.__name__}.from_pretrained takes init options as keyword arguments only, "
                f"got positional {init_inputs!r}"
            )
        options = HubOptions.pop_from(kwargs)
        kwargs.pop("use_fast", None)
        kwargs.pop("trust_remote_code", None)

        config_path = resolve_file(name_or_path, TOKENIZER_CONFIG_FILE, options, required=False)
        init_kwargs: dict[str, Any] = _read_options(config_path) if config_path else {}
        if "added_tokens_decoder" not in init_kwargs:
            # Like transformers: special_tokens_map.json only counts for configs without added tokens.
            map_path = resolve_file(name_or_path, SPECIAL_TOKENS_MAP_FILE, options, required=False)
            special_tokens_map = _read_options(map_path) if map_path else {}
            init_kwargs.update(
                {key: value for key, value in special_tokens_map.items() if not kwargs.get(key)}
            )
        tokenizer_json = resolve_file(name_or_path, TOKENIZER_FILE, options, required=False)
        if tokenizer_json is not None:  # as transformers: the file's template wins over the config's flags
            init_kwargs.pop("add_bos_token", None)
            init_kwargs.pop("add_eos_token", None)
        init_kwargs.update(kwargs)
        cls._adjust_loaded_options(init_kwargs)
        for key in _LOAD_TIME_KEYS:
            init_kwargs.pop(key, None)

        if tokenizer_json is not None:
            init_kwargs["tokenizer_file"] = tokenizer_json
        else:
            for key, filename in cls.vocab_files_names.items():
                try:
                    init_kwargs[key] = resolve_file(name_or_path, filename, options)
                except CheckpointNotFoundError as error:
                    if cache_only(name_or_path, options):
                        raise not_cached_error(
                            str(name_or_path), f"{TOKENIZER_FILE} or {filename}"
                        ) from error
                    raise CheckpointNotFoundError(
                        f"{name_or_path} has neither {TOKENIZER_FILE} nor {filename}: cannot build "
                        f"a {cls.__name__}"
                    ) from error
        try:
            return cls(name_or_path=name_or_path, **init_kwargs)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as error:  # wrong types in files
            if isinstance(error, AutohubError):
                raise
            raise TokenizerError(
                f"cannot build {cls.__name__} from the files of {name_or_path}: {type(error).__name__}: {error}"
            ) from error

    def _add_missing_tokens(self, added_tokens_decoder: dict[int, AddedToken]) -> None:
        """Add config-listed added tokens (by id order) and special tokens the backend lacks."""
        present = {token.content for token in self._backend.get_added_tokens_decoder().values()}
        missing = [token for _, token in sorted(added_tokens_decoder.items()) if token.content not in present]
        present.update(token.content for token in missing)
        for token in (*self._special_tokens.values(), *self._extra_special_tokens):
            if token is None or str(token) in present:
                continue
            present.add(str(token))
            missing.append(_as_special_added_token(token))
        if missing:
            self._backend.add_tokens(missing)

    # ----------------------------------------------------------------- special tokens

    @property
    def additional_special_tokens(self) -> list[str]:
        """Special tokens beyond the named ones (transformers 5 calls them ``extra_special_tokens``)."""
        return [str(token) for token in self._extra_special_tokens]

    @additional_special_tokens.setter
    def additional_special_tokens(self, tokens: Iterable[str | AddedToken] | None) -> None:
        self._extra_special_tokens = list(tokens or [])

    extra_special_tokens = additional_special_tokens

    @property
    def additional_special_tokens_ids(self) -> list[int]:
        """Ids of :attr:`additional_special_tokens`."""
        return self.convert_tokens_to_ids(self.additional_special_tokens)

    extra_special_tokens_ids = additional_special_tokens_ids

    @property
    def special_tokens_map(self) -> dict[str, str]:
        """The named special tokens that are set, as ``{"cls_token": "[CLS]", ...}``."""
        return {name: str(value) for name, value in self._special_tokens.items() if value is not None}

    @property
    def all_special_tokens(self) -> list[str]:
        """Every special token string (named, then additional), without duplicates."""
        tokens = [str(value) for value in self._special_tokens.values() if value is not None]
        tokens += self.additional_special_tokens
        return list(dict.fromkeys(tokens))

    @property
    def all_special_ids(self) -> list[int]:
        """The ids of :attr:`all_special_tokens`."""
        return self.convert_tokens_to_ids(self.all_special_tokens)

    def add_tokens(
        self, new_tokens: str | AddedToken | Sequence[str | AddedToken], special_tokens: bool = False
    ) -> int:
        """Add tokens absent from the vocabulary at its end; return how many were added."""
        if not new_tokens:
            return 0
        if isinstance(new_tokens, (str, AddedToken)):
            new_tokens = [new_tokens]
        with self._backend_lock, backend_errors("cannot add tokens"):
            if special_tokens:
                return self._backend.add_special_tokens(list(new_tokens))
            return self._backend.add_tokens(list(new_tokens))

    def add_special_tokens(
        self,
        special_tokens_dict: Mapping[str, str | AddedToken | Sequence[str | AddedToken]],
        replace_additional_special_tokens: bool = True,
    ) -> int:
        """Set named special tokens (``{"pad_token": "[PAD]"}``) and/or ``additional_special_tokens``,
        adding those absent from the vocabulary. Return how many tokens were added."""
        tokens_to_add: list[AddedToken] = []
        for key, value in special_tokens_dict.items():
            if key in ("additional_special_tokens", "extra_special_tokens"):
                if isinstance(value, (str, AddedToken)) or not all(
                    isinstance(token, (str, AddedToken)) for token in value
                ):
                    raise TokenizerError(f"{key} must be a list of str or AddedToken, got {value!r}")
                new_tokens = [_as_special_added_token(token) for token in value]
                if replace_additional_special_tokens:
                    self._extra_special_tokens = list(new_tokens)
                else:
                    known = set(self.additional_special_tokens)
                    new_tokens = [token for token in new_tokens if token.content not in known]
                    self._extra_special_tokens.extend(new_tokens)
                tokens_to_add.extend(new_tokens)
            elif key in SPECIAL_TOKENS_ATTRIBUTES:
                if not isinstance(value, (str, AddedToken)):
                    raise TokenizerError(f"{key} must be a str or AddedToken, got {value!r}")
                token = _as_special_added_token(value)
                setattr(self, key, token)
                tokens_to_add.append(token)
            else:
                allowed = ", ".join((*SPECIAL_TOKENS_ATTRIBUTES, "additional_special_tokens"))
                raise TokenizerError(f"{key!r} is not a special token name; use one of {allowed}")
        return self.add_tokens(tokens_to_add, special_tokens=True)

    # ----------------------------------------------------------------- vocabulary

    @property
    def backend_tokenizer(self) -> Tokenizer:
        """The Rust :class:`tokenizers.Tokenizer` doing the work."""
        return self._backend

    @property
    def is_fast(self) -> bool:
        """Always True: every autohub tokenizer is a Rust one (what transformers calls "fast")."""
        return True

    @property
    def vocab_size(self) -> int:
        """Size of the base vocabulary, without added tokens."""
        return self._backend.get_vocab_size(with_added_tokens=False)

    def __len__(self) -> int:
        """Size of the full vocabulary, added tokens included."""
        return self._backend.get_vocab_size(with_added_tokens=True)

    def get_vocab(self) -> dict[str, int]:
        """The full vocabulary (added tokens included) as token → id."""
        return self._backend.get_vocab(with_added_tokens=True)

    @property
    def added_tokens_decoder(self) -> dict[int, AddedToken]:
        """The added tokens (special ones included) as id → :class:`tokenizers.AddedToken`."""
        return dict(sorted(self._backend.get_added_tokens_decoder().items()))

    def get_added_vocab(self) -> dict[str, int]:
        """The added tokens as token → id."""
        return {token.content: index for index, token in self.added_tokens_decoder.items()}

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]) -> int | list[int]:
        """Map a token (or tokens) to its id; unknown tokens map to ``unk_token_id``."""
        if isinstance(tokens, str):
            return self._token_to_id(tokens)
        return [self._token_to_id(token) for token in tokens]

    def _token_to_id(self, token: str) -> int | None:
        index = self._backend.token_to_id(token)
        return self.unk_token_id if index is None else index

    def convert_ids_to_tokens(
        self, ids: int | Sequence[int], skip_special_tokens: bool = False
    ) -> str | list[str | None] | None:
        """Map an id (or ids) to its token string."""
        if isinstance(ids, int):
            return self._backend.id_to_token(ids)
        skipped = set(self.all_special_ids) if skip_special_tokens else set()
        return [self._backend.id_to_token(int(index)) for index in ids if int(index) not in skipped]

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        """How many special tokens encoding a single sequence (or a pair) adds."""
        return self._backend.num_special_tokens_to_add(pair)

    # ----------------------------------------------------------------- encoding

    def __call__(
        self,
        text: TextInput | Sequence[TextInput] | Sequence[tuple[TextInput, TextInput]] | None = None,
        text_pair: TextInput | Sequence[TextInput] | None = None,
        text_target: TextInput | Sequence[TextInput] | None = None,
        text_pair_target: TextInput | Sequence[TextInput] | None = None,
        **kwargs: Any,
    ) -> BatchEncoding:
        """Tokenize inputs (``text``, ``text_pair``) and/or targets (``text_target``, ``text_pair_target``).

        With both, the targets' ``input_ids`` come back as ``"labels"`` (sequence-to-sequence
        training); with targets only, their encoding is returned. The other keyword arguments
        (padding, truncation, max_length, return_tensors, ...) are those of :meth:`encode_inputs`
        and apply to both.
        """
        if text is None and text_target is None:
            raise TokenizerError("pass text (the inputs) and/or text_target (the labels)")
        inputs = self.encode_inputs(text, text_pair, **kwargs) if text is not None else None
        if text_target is None:
            assert inputs is not None
            return inputs
        targets = self.encode_inputs(text_target, text_pair_target, **kwargs)
        if inputs is None:
            return targets
        inputs["labels"] = targets["input_ids"]
        return inputs

    def encode_inputs(
        self,
        text: TextInput | Sequence[TextInput] | Sequence[tuple[TextInput, TextInput]],
        text_pair: TextInput | Sequence[TextInput] | None = None,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        stride: int = 0,
        is_split_into_words: bool = False,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        return_token_type_ids: bool | None = None,
        return_attention_mask: bool | None = None,
        return_overflowing_tokens: bool = False,
        return_special_tokens_mask: bool = False,
        return_offsets_mapping: bool = False,
        return_length: bool = False,
    ) -> BatchEncoding:
        """Tokenize a text, a pair, a batch of texts or pairs, or pre-split words, for the model.

        A single (unbatched) input gives lists of ints, a batch gives lists of lists, and
        ``return_tensors`` gives ``(batch, length)`` tensors. ``padding`` is ``True``/
        ``"longest"``, ``"max_length"`` or ``False``; ``truncation`` is ``True``/
        ``"longest_first"``, ``"only_first"``, ``"only_second"`` or ``False``. Without
        ``max_length``, truncation and max-length padding use :attr:`model_max_length`.
        """
        padding_strategy, truncation_strategy, max_length = self._resolve_strategies(
            padding, truncation, max_length, pad_to_multiple_of
        )
        batch, is_batched = _as_batch(text, text_pair, is_split_into_words)
        _check_text_lengths(batch)
        if padding_side is not None:
            _check_side("padding_side", padding_side)
        encodings = self._encode_batch(
            batch,
            add_special_tokens=add_special_tokens,
            is_split_into_words=is_split_into_words,
            padding_strategy=padding_strategy,
            truncation_strategy=truncation_strategy,
            max_length=max_length,
            stride=stride,
            pad_to_multiple_of=pad_to_multiple_of,
            padding_side=padding_side or self.padding_side,
        )
        if return_token_type_ids is None:
            return_token_type_ids = "token_type_ids" in self.model_input_names
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names

        rows: list[Encoding] = []
        sample_of_row: list[int] = []
        for sample_index, encoding in enumerate(encodings):
            sample_rows = [encoding, *encoding.overflowing] if return_overflowing_tokens else [encoding]
            rows.extend(sample_rows)
            sample_of_row.extend([sample_index] * len(sample_rows))

        data: dict[str, list[Any]] = {"input_ids": [row.ids for row in rows]}
        if return_token_type_ids:
            data["token_type_ids"] = [row.type_ids for row in rows]
        if return_attention_mask:
            data["attention_mask"] = [row.attention_mask for row in rows]
        if return_special_tokens_mask:
            data["special_tokens_mask"] = [row.special_tokens_mask for row in rows]
        if return_offsets_mapping:
            data["offset_mapping"] = [row.offsets for row in rows]
        if return_length:
            data["length"] = [len(row.ids) for row in rows]
        if return_overflowing_tokens:
            data["overflow_to_sample_mapping"] = sample_of_row

        if not is_batched and return_tensors is None and not return_overflowing_tokens:
            # Like transformers, only per-token fields lose the batch dimension ("length" stays a list).
            data = {key: value[0] if isinstance(value[0], list) else value for key, value in data.items()}
        return BatchEncoding(data, rows, tensor_type=return_tensors)

    def _resolve_strategies(
        self,
        padding: bool | str,
        truncation: bool | str | None,
        max_length: int | None,
        pad_to_multiple_of: int | None,
    ) -> tuple[str, str, int | None]:
        """Turn the user's padding/truncation/max_length into concrete strategies (transformers' rules)."""
        if max_length is not None and padding is False and truncation is None:
            truncation = "longest_first"
        padding_strategy = _strategy(
            "padding", padding, _PADDING_STRATEGIES, true="longest", false="do_not_pad"
        )
        truncation_strategy = _strategy(
            "truncation", truncation, _TRUNCATION_STRATEGIES, true="longest_first", false="do_not_truncate"
        )
        if max_length is None:
            has_limit = self.model_max_length <= _LARGE_INTEGER
            if padding_strategy == "max_length":
                padding_strategy, max_length = (
                    ("max_length", self.model_max_length) if has_limit else ("do_not_pad", None)
                )
            if truncation_strategy != "do_not_truncate":
                if has_limit:
                    max_length = self.model_max_length
                else:
                    truncation_strategy = "do_not_truncate"
        if padding_strategy != "do_not_pad" and (self.pad_token is None or self.pad_token_id is None):
            raise TokenizerError(
                "padding needs a pad token and this tokenizer has none: set tokenizer.pad_token "
                "(e.g. to tokenizer.eos_token) or add one with add_special_tokens({'pad_token': '[PAD]'})"
            )
        if (
            truncation_strategy != "do_not_truncate"
            and padding_strategy != "do_not_pad"
            and pad_to_multiple_of is not None
            and max_length is not None
            and max_length % pad_to_multiple_of != 0
        ):
            raise TokenizerError(
                f"truncation length ({max_length}) is not a multiple of "
                f"pad_to_multiple_of ({pad_to_multiple_of})"
            )
        return padding_strategy, truncation_strategy, max_length

    def _encode_batch(
        self,
        batch: list[Any],
        *,
        add_special_tokens: bool,
        is_split_into_words: bool,
        padding_strategy: str,
        truncation_strategy: str,
        max_length: int | None,
        stride: int,
        pad_to_multiple_of: int | None,
        padding_side: str,
    ) -> list[Encoding]:
        """Encode with the Rust tokenizer under per-call truncation/padding settings.

        The settings live on the shared backend, so they are applied, used and reset under a
        lock: concurrent calls with different settings never see each other's.
        """
        with self._backend_lock:
            if truncation_strategy != "do_not_truncate":
                self._backend.enable_truncation(
                    max_length, stride=stride, strategy=truncation_strategy, direction=self.truncation_side
                )
            if padding_strategy != "do_not_pad":
                self._backend.enable_padding(
                    direction=padding_side,
                    pad_id=self.pad_token_id,
                    pad_type_id=self.pad_token_type_id,
                    pad_token=self.pad_token,
                    length=max_length if padding_strategy == "max_length" else None,
                    pad_to_multiple_of=pad_to_multiple_of,
                )
            try:
                with backend_errors("tokenization failed"):
                    return self._backend.encode_batch(
                        batch, add_special_tokens=add_special_tokens, is_pretokenized=is_split_into_words
                    )
            finally:
                self._backend.no_truncation()
                self._backend.no_padding()

    def encode(
        self,
        text: TextInput,
        text_pair: TextInput | None = None,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """Tokenize and return only the ``input_ids`` (other options as in ``__call__``)."""
        encoded = self(
            text,
            text_pair=text_pair,
            add_special_tokens=add_special_tokens,
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            **kwargs,
        )
        return encoded["input_ids"]

    def tokenize(
        self, text: TextInput, pair: TextInput | None = None, add_special_tokens: bool = False
    ) -> list[str]:
        """Split a text (or pair) into token strings, without special tokens by default."""
        return self(text, text_pair=pair, add_special_tokens=add_special_tokens).tokens()

    # ----------------------------------------------------------------- padding

    def pad(
        self,
        encoded_inputs: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        padding: bool | str = True,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_attention_mask: bool | None = None,
        return_tensors: str | None = None,
    ) -> BatchEncoding:
        """Pad already-encoded inputs (one example, a dict of lists, or a list of dicts) to equal length.

        Tensor inputs give tensors of the same kind back unless ``return_tensors`` says otherwise.
        """
        if isinstance(encoded_inputs, Sequence) and encoded_inputs and isinstance(encoded_inputs[0], Mapping):
            encoded_inputs = {key: [example[key] for example in encoded_inputs] for key in encoded_inputs[0]}
        main_input = self.model_input_names[0]
        if main_input not in encoded_inputs:
            raise TokenizerError(f"pad needs {main_input!r} in its inputs, got keys {list(encoded_inputs)}")
        inputs: dict[str, Any] = {}
        for key, value in encoded_inputs.items():
            if return_tensors is None:
                return_tensors = _tensor_kind(value)
            inputs[key] = value.tolist() if hasattr(value, "tolist") else _tolist_rows(value)
        if not inputs[main_input]:
            if return_attention_mask:
                inputs["attention_mask"] = []
            return BatchEncoding(inputs)

        padding_strategy, _, max_length = self._resolve_strategies(padding, None, max_length, None)
        side = _check_side("padding_side", padding_side or self.padding_side)
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        options = {"multiple": pad_to_multiple_of, "side": side, "attention_mask": return_attention_mask}

        if not isinstance(inputs[main_input][0], (list, tuple)):
            return BatchEncoding(
                self._pad_example(inputs, padding_strategy, max_length, **options), tensor_type=return_tensors
            )
        if padding_strategy == "longest":
            max_length = max(len(ids) for ids in inputs[main_input])
            padding_strategy = "max_length"
        batch_size = len(inputs[main_input])
        if any(len(value) != batch_size for value in inputs.values()):
            raise TokenizerError("pad got fields with different batch sizes")
        padded: dict[str, list[Any]] = {}
        for index in range(batch_size):
            example = {key: value[index] for key, value in inputs.items()}
            for key, value in self._pad_example(example, padding_strategy, max_length, **options).items():
                padded.setdefault(key, []).append(value)
        return BatchEncoding(padded, tensor_type=return_tensors)

    def _pad_example(
        self,
        example: dict[str, Any],
        padding_strategy: str,
        max_length: int | None,
        *,
        multiple: int | None,
        side: str,
        attention_mask: bool,
    ) -> dict[str, Any]:
        main_input = self.model_input_names[0]
        ids = list(example[main_input])
        if padding_strategy == "longest":
            max_length = len(ids)
        if max_length is not None and multiple is not None and max_length % multiple:
            max_length = (max_length // multiple + 1) * multiple
        if attention_mask and "attention_mask" not in example:
            example["attention_mask"] = [1] * len(ids)
        if padding_strategy == "do_not_pad" or max_length is None or len(ids) >= max_length:
            return example
        fill_values = {
            main_input: self.pad_token_id,
            "attention_mask": 0,
            "token_type_ids": self.pad_token_type_id,
            "special_tokens_mask": 1,
        }
        missing = max_length - len(ids)
        for key, fill in fill_values.items():
            if key not in example or (key == "attention_mask" and not attention_mask):
                continue
            filler = [fill] * missing
            values = list(example[key])
            example[key] = values + filler if side == "right" else filler + values
        return example

    # ----------------------------------------------------------------- decoding

    def decode(
        self,
        token_ids: int | Sequence[int] | Sequence[Sequence[int]] | Any,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
    ) -> str | list[str]:
        """Turn ids back into text; a batch (list of lists, 2-D tensor) gives a list of texts."""
        token_ids = token_ids.tolist() if hasattr(token_ids, "tolist") else token_ids
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        if token_ids and isinstance(token_ids[0], (list, tuple)):
            return [
                self._decode_one(ids, skip_special_tokens, clean_up_tokenization_spaces) for ids in token_ids
            ]
        return self._decode_one(token_ids, skip_special_tokens, clean_up_tokenization_spaces)

    def batch_decode(
        self,
        sequences: Sequence[Sequence[int]] | Any,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
    ) -> list[str]:
        """Decode each sequence of a batch."""
        decoded = self.decode(sequences, skip_special_tokens, clean_up_tokenization_spaces)
        return [decoded] if isinstance(decoded, str) else decoded

    def _decode_one(
        self, token_ids: Sequence[int], skip_special_tokens: bool, clean_up_tokenization_spaces: bool | None
    ) -> str:
        with backend_errors("decoding failed"):
            text = self._backend.decode(
                [int(index) for index in token_ids], skip_special_tokens=skip_special_tokens
            )
        if clean_up_tokenization_spaces is None:
            clean_up_tokenization_spaces = self.clean_up_tokenization_spaces
        # transformers skips the clean-up for BPE models: it was written for WordPiece and
        # would delete real spaces before punctuation.
        if clean_up_tokenization_spaces and type(self._backend.model).__name__ != "BPE":
            text = _clean_up_tokenization(text)
        return text

    def convert_tokens_to_string(self, tokens: Sequence[str]) -> str:
        """Join token strings into text with the backend's decoder."""
        decoder = self._backend.decoder
        with backend_errors("decoding failed"):
            return decoder.decode(list(tokens)) if decoder is not None else " ".join(tokens)

    # ----------------------------------------------------------------- chat

    def apply_chat_template(
        self,
        conversation: Sequence[Mapping[str, Any]] | Sequence[Sequence[Mapping[str, Any]]],
        tools: list[dict[str, Any]] | None = None,
        documents: list[dict[str, Any]] | None = None,
        chat_template: str | None = None,
        add_generation_prompt: bool = False,
        continue_final_message: bool = False,
        tokenize: bool = True,
        padding: bool | str = False,
        truncation: bool = False,
        max_length: int | None = None,
        return_tensors: str | None = None,
        return_dict: bool = True,
        tokenizer_kwargs: dict[str, Any] | None = None,
        **template_kwargs: Any,
    ) -> str | list[str] | list[int] | list[list[int]] | BatchEncoding:
        """Render a conversation (or a batch of them) with the model's Jinja chat template.

        The template comes from ``chat_template`` (a template, or the name of one of the
        tokenizer's named templates), else tokenizer_config.json's ``chat_template``, else
        ``chat_template.jinja``. It is rendered like transformers (jinja2's sandbox, with
        ``raise_exception``, ``strftime_now`` and ``tojson``) with ``messages``, ``tools``,
        ``documents``, ``add_generation_prompt``, the special tokens and ``template_kwargs``.
        Returns the text with ``tokenize=False``; else a :class:`BatchEncoding` (no special
        tokens added), or only its ``input_ids`` with ``return_dict=False``, as transformers 5.
        """
        for unsupported in ("return_assistant_tokens_mask", "sanitize_control_tokens"):
            if template_kwargs.pop(unsupported, False):
                raise TokenizerError(f"apply_chat_template({unsupported}=True) is not supported by autohub")
        template = chat_template
        named = self.init_kwargs.get("chat_template")
        if named is None and self.name_or_path:
            path = resolve_file(self.name_or_path, "chat_template.jinja", required=False)
            if path is not None:
                size = limits.check_file_size(path, "chat_template_output_chars")
                with backend_errors(f"cannot read {path} ({size} bytes)"):
                    named = path.read_text(encoding="utf-8")
        if isinstance(named, list):  # tokenizer_config.json's list of {"name", "template"}
            named = {entry["name"]: entry["template"] for entry in named}
        if isinstance(named, dict):
            if template in named:
                template = named[template]
            elif template is None:
                template = (
                    named.get("tool_use")
                    if tools is not None and "tool_use" in named
                    else named.get("default")
                )
        elif template is None:
            template = named
        if not isinstance(template, str):
            raise TokenizerError(
                "this tokenizer has no chat template (tokenizer_config.json's chat_template or "
                "chat_template.jinja): pass chat_template="
            )
        if continue_final_message and add_generation_prompt:
            raise TokenizerError("continue_final_message and add_generation_prompt cannot be used together")
        if not conversation:
            raise TokenizerError("cannot apply a chat template to an empty conversation")
        first = conversation[0]
        is_batched = isinstance(first, (list, tuple))
        conversations = list(conversation) if is_batched else [conversation]
        variables = {**self.special_tokens_map, **template_kwargs}
        try:
            from autohub_core._chat_template import render_chat_template
        except ImportError as error:
            raise TokenizerError(
                "apply_chat_template needs jinja2: pip install 'autohub-core[chat]'"
            ) from error
        rendered = render_chat_template(
            template,
            conversations,
            tools,
            documents,
            add_generation_prompt,
            continue_final_message,
            variables,
        )
        text: str | list[str] = rendered if is_batched else rendered[0]
        if not tokenize:
            return text
        encoded = self(
            text,
            add_special_tokens=False,
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            return_tensors=return_tensors,
            **(tokenizer_kwargs or {}),
        )
        return encoded if return_dict else encoded["input_ids"]

    # ----------------------------------------------------------------- saving

    def save_pretrained(self, save_directory: str | os.PathLike) -> tuple[str, ...]:
        """Write tokenizer.json, tokenizer_config.json and special_tokens_map.json to a directory.

        transformers' AutoTokenizer loads the result back identically. The three files are
        replaced together in one transaction on the folder: an interrupted or failing save
        leaves the previous files, whole (a failure raises ``CheckpointWriteError``).
        """
        directory = Path(save_directory)
        if directory.is_file():
            raise TokenizerError(f"save_pretrained needs a directory, but {directory} is a file")
        with self._backend_lock:
            tokenizer_json = self._backend.to_str(pretty=True)
        contents = {
            TOKENIZER_CONFIG_FILE: _to_json(self._tokenizer_config()),
            SPECIAL_TOKENS_MAP_FILE: _to_json(self._special_tokens_map_for_saving()),
            TOKENIZER_FILE: tokenizer_json,
        }
        from autohub_core._io import checkpoint_transaction

        with checkpoint_transaction(directory) as transaction:
            for name, text in contents.items():
                transaction.write_text(name, text)
        return tuple(str(directory / name) for name in contents)

    def _tokenizer_config(self) -> dict[str, Any]:
        config: dict[str, Any] = dict(self.init_kwargs)
        config.update(
            {
                # The generic class is transformers' PreTrainedTokenizerFast (its TokenizersBackend).
                "tokenizer_class": (
                    "PreTrainedTokenizerFast" if type(self) is PreTrainedTokenizer else type(self).__name__
                ),
                "model_max_length": self.model_max_length,
                "padding_side": self.padding_side,
                "truncation_side": self.truncation_side,
                "clean_up_tokenization_spaces": self.clean_up_tokenization_spaces,
                "added_tokens_decoder": {
                    str(index): _added_token_state(token)
                    for index, token in self.added_tokens_decoder.items()
                },
            }
        )
        if self.model_input_names != type(self).model_input_names:
            config["model_input_names"] = self.model_input_names
        if self.split_special_tokens:
            config["split_special_tokens"] = True
        config.update(self._special_tokens_map_for_saving())
        return config

    def _special_tokens_map_for_saving(self) -> dict[str, Any]:
        saved: dict[str, Any] = dict(self.special_tokens_map)
        if self._extra_special_tokens:
            saved["additional_special_tokens"] = self.additional_special_tokens
        return saved

    def __repr__(self) -> str:
        added = "".join(f"\n\t{index}: {token!r}," for index, token in self.added_tokens_decoder.items())
        return (
            f"{type(self).__name__}(name_or_path={self.name_or_path!r}, vocab_size={self.vocab_size}, "
            f"model_max_length={self.model_max_length}, padding_side={self.padding_side!r}, "
            f"truncation_side={self.truncation_side!r}, special_tokens={self.special_tokens_map}, "
            f"added_tokens_decoder={{{added}{chr(10) if added else ''}}})"
        )


# --------------------------------------------------------------------- helpers


PreTrainedTokenizerFast = PreTrainedTokenizer
"""transformers' name of the same class (every autohub tokenizer is backed by ``tokenizers``)."""


class BosEosTemplateTokenizer(PreTrainedTokenizer):
    """A tokenizer whose ``add_bos_token`` / ``add_eos_token`` options decide its template.

    Given in tokenizer_config.json or as arguments, they rebuild the template that adds
    ``bos_token`` / ``eos_token`` (``[bos] $A [eos]``, and ``[bos] $B [eos]`` for pairs), as
    transformers does; otherwise the template of tokenizer.json is kept, and a tokenizer
    without one adds nothing. Families subclass it for their defaults and legacy files.
    """

    def _configure_backend(self, backend: Tokenizer) -> None:
        explicit = "add_bos_token" in self.init_kwargs or "add_eos_token" in self.init_kwargs
        if explicit or backend.post_processor is None:
            backend.post_processor = self._bos_eos_template()

    def _bos_eos_template(self) -> processors.TemplateProcessing:
        add_bos = bool(self.init_kwargs.get("add_bos_token", False)) and self.bos_token is not None
        add_eos = bool(self.init_kwargs.get("add_eos_token", False)) and self.eos_token is not None
        bos, eos = str(self.bos_token), str(self.eos_token)
        single = f"{bos + ':0 ' if add_bos else ''}$A:0{' ' + eos + ':0' if add_eos else ''}"
        pair = f"{single}{' ' + bos + ':1' if add_bos else ''} $B:1{' ' + eos + ':1' if add_eos else ''}"
        special_tokens = []
        if add_bos:
            special_tokens.append((bos, self.bos_token_id))
        if add_eos:
            special_tokens.append((eos, self.eos_token_id))
        return processors.TemplateProcessing(single=single, pair=pair, special_tokens=special_tokens)


class TokenizersBackend(BosEosTemplateTokenizer):
    """transformers 5's generic tokenizer: the checkpoint's tokenizer.json as it is, or its
    SentencePiece ``tokenizer.model`` converted generically (its own algorithm, byte fallback and
    unknown piece; no ``▁`` prepended to the text) when there is no tokenizer.json.

    What ``AutoTokenizer`` loads for ``tokenizer_class`` ``"PreTrainedTokenizerFast"`` /
    ``"TokenizersBackend"``, for a model type whose tokenizer is used only when named, and for a
    tokenizer.json without a known family.
    """

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": "tokenizer.model"}

    def __init__(
        self,
        tokenizer_object: Tokenizer | None = None,
        *,
        tokenizer_file: str | os.PathLike | None = None,
        **kwargs: Any,
    ) -> None:
        if tokenizer_object is None and tokenizer_file is None and kwargs.get("vocab_file"):
            from autohub_core.sentencepiece import special_pieces

            # As transformers' conversion: the model's own unknown / bos / eos / pad pieces, unless set.
            for name, piece in special_pieces(Path(kwargs["vocab_file"])).items():
                if kwargs.get(name) is None and not self.default_special_tokens.get(name):
                    kwargs[name] = piece
        super().__init__(tokenizer_object, tokenizer_file=tokenizer_file, **kwargs)

    @classmethod
    def _backend_from_legacy_files(cls, files: dict[str, Path], init_kwargs: dict[str, Any]) -> Tokenizer:
        """The generic conversion of ``tokenizer.model``."""
        from autohub_core.sentencepiece import SentencePieceLayout, tokenizer_from_sentencepiece

        return tokenizer_from_sentencepiece(files["vocab_file"], SentencePieceLayout())


class WordPieceTokenizer(PreTrainedTokenizer):
    """WordPiece with the ``[CLS] $A [SEP]`` (pairs: ``... $B [SEP]``) template; loads
    ``tokenizer.json`` or, without it, ``vocab.txt``.

    Options (from tokenizer_config.json or keyword arguments): ``do_lower_case``,
    ``strip_accents`` (``None`` follows ``do_lower_case``), ``tokenize_chinese_chars``.
    As in transformers, they set the normalizer even when tokenizer.json has one. (The
    ``tokenizers`` library names this normalizer and pre-tokenizer ``Bert...``.)
    """

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": "vocab.txt"}
    default_special_tokens: ClassVar[dict[str, str]] = {
        "unk_token": "[UNK]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
    }
    default_init_kwargs: ClassVar[dict[str, Any]] = {
        "do_lower_case": True,
        "strip_accents": None,
        "tokenize_chinese_chars": True,
    }

    @classmethod
    def _backend_from_legacy_files(cls, files: dict[str, Path], init_kwargs: dict[str, Any]) -> Tokenizer:
        """WordPiece over vocab.txt (one token per line, id = line number); the normalizer and
        the ``[CLS]``/``[SEP]`` template are set by :meth:`_configure_backend`."""
        with open(files["vocab_file"], encoding="utf-8") as handle:
            vocab = {line.rstrip("\n"): index for index, line in enumerate(handle)}
        unk_token = str(init_kwargs.get("unk_token", cls.default_special_tokens["unk_token"]))
        backend = Tokenizer(WordPiece(vocab, unk_token=unk_token))
        backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        backend.decoder = decoders.WordPiece(prefix="##")
        return backend

    def _configure_backend(self, backend: Tokenizer) -> None:
        """Set the normalizer from the options and the template from ``cls_token``/``sep_token``."""
        backend.normalizer = normalizers.BertNormalizer(
            clean_text=True,
            handle_chinese_chars=self.init_kwargs["tokenize_chinese_chars"],
            strip_accents=self.init_kwargs["strip_accents"],
            lowercase=self.init_kwargs["do_lower_case"],
        )
        cls, sep = self.cls_token, self.sep_token
        if cls is None or sep is None:
            return
        backend.post_processor = processors.TemplateProcessing(
            single=f"{cls}:0 $A:0 {sep}:0",
            pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
            special_tokens=[(cls, self.cls_token_id), (sep, self.sep_token_id)],
        )


def _as_token(value: Any) -> str | AddedToken | None:
    """A special token from a config value: str, AddedToken, or a serialized AddedToken dict."""
    if isinstance(value, Mapping):
        fields = {
            key: value[key] for key in ("single_word", "lstrip", "rstrip", "normalized") if key in value
        }
        return AddedToken(value["content"], special=True, **fields)
    if value is None or isinstance(value, (str, AddedToken)):
        return value
    raise TokenizerError(f"a special token must be a str or AddedToken, got {value!r}")


def _as_special_added_token(token: str | AddedToken) -> AddedToken:
    if isinstance(token, str):
        return AddedToken(token, special=True, normalized=False)
    token.special = True
    return token


def _parse_added_tokens_decoder(raw: Mapping[Any, Any]) -> dict[int, AddedToken]:
    parsed: dict[int, AddedToken] = {}
    for index, token in raw.items():
        if isinstance(token, AddedToken):
            parsed[int(index)] = token
        elif isinstance(token, Mapping) and "content" in token:
            fields = ("single_word", "lstrip", "rstrip", "normalized", "special")
            parsed[int(index)] = AddedToken(
                token["content"], **{key: token[key] for key in fields if key in token}
            )
        else:
            raise TokenizerError(
                f"added_tokens_decoder entry {index!r} is not a token description: {token!r}"
            )
    return parsed


def _added_token_state(token: AddedToken) -> dict[str, Any]:
    return {
        "content": token.content,
        "lstrip": token.lstrip,
        "normalized": token.normalized,
        "rstrip": token.rstrip,
        "single_word": token.single_word,
        "special": token.special,
    }


def _check_side(name: str, value: str) -> str:
    if value not in _SIDES:
        raise TokenizerError(f"{name} must be 'left' or 'right', got {value!r}")
    return value


def _strategy(name: str, value: Any, allowed: tuple[str, ...], *, true: str, false: str) -> str:
    if value is True:
        return true
    if value is False or value is None:
        return false
    strategy = getattr(value, "value", value)
    if strategy not in allowed:
        raise TokenizerError(f"{name} must be True, False or one of {allowed}, got {value!r}")
    return str(strategy)


def _is_text_input(value: Any) -> bool:
    """True for a str, a list of str, a list of lists of str, or a list of pairs of such (or empty lists)."""
    if isinstance(value, str):
        return True
    if not isinstance(value, (list, tuple)):
        return False
    if not value or isinstance(value[0], str):
        return True
    first = value[0]
    if not isinstance(first, (list, tuple)):
        return False
    if not first or isinstance(first[0], str):
        return True
    return isinstance(first[0], (list, tuple)) and (not first[0] or isinstance(first[0][0], str))


def _as_batch(text: Any, text_pair: Any, is_split_into_words: bool) -> tuple[list[Any], bool]:
    """The inputs as a list for ``encode_batch``, and whether the caller passed a batch."""
    for value in (text, text_pair):
        if value is not None and not _is_text_input(value):
            raise TokenizerError(
                "text must be a str, a list of str (a batch, or one pre-split example), a list of lists "
                f"of str (a batch of pre-split examples), or a list of pairs; got {type(value).__name__}"
            )
    if is_split_into_words:
        is_batched = isinstance(text, (list, tuple)) and bool(text) and isinstance(text[0], (list, tuple))
    else:
        is_batched = isinstance(text, (list, tuple))
    if not is_batched:
        # transformers treats an empty-string pair as no pair at all.
        return ([(text, text_pair)] if text_pair else [text]), False
    if isinstance(text_pair, str):
        raise TokenizerError("for a batch of texts, text_pair must be a list of the same length, not a str")
    if text_pair is None:
        return list(text), True
    if len(text) != len(text_pair):
        raise TokenizerError(f"text has {len(text)} items but text_pair has {len(text_pair)}")
    return list(zip(text, text_pair, strict=True)), True


def _tensor_kind(value: Any) -> str | None:
    """'pt' or 'np' when ``value`` (or its first row) is a torch tensor / numpy array, else None."""
    sample = value[0] if isinstance(value, (list, tuple)) and value else value
    module = type(sample).__module__
    if module.startswith("torch"):
        return "pt"
    if module.startswith("numpy"):
        return "np"
    return None


def _tolist_rows(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [row.tolist() if hasattr(row, "tolist") else row for row in value]
    return value


def _clean_up_tokenization(text: str) -> str:
    """transformers' clean-up of spaces a WordPiece decode leaves before punctuation and contractions."""
    for spaced, joined in (
        (" .", "."),
        (" ?", "?"),
        (" !", "!"),
        (" ,", ","),
        (" ' ", "'"),
        (" n't", "n't"),
        (" 'm", "'m"),
        (" 's", "'s"),
        (" 've", "'ve"),
        (" 're", "'re"),
    ):
        text = text.replace(spaced, joined)
    return text


def _read_options(path: Path) -> dict[str, Any]:
    """tokenizer_config.json / special_tokens_map.json, within the JSON caps, its values checked."""
    options = limits.read_json(path, TokenizerError)
    _check_options(options, str(path))
    return options


def _load_tokenizer_json(path: Path) -> Tokenizer:
    if not path.is_file():
        raise CheckpointNotFoundError(f"tokenizer file {path} does not exist")
    limits.check_file_size(path)
    with backend_errors(f"{path} is not a valid {TOKENIZER_FILE}"):
        return Tokenizer.from_file(str(path))


@contextlib.contextmanager
def backend_errors(what: str) -> Iterator[None]:
    """Raise what the Rust ``tokenizers`` library raises in the block as :class:`TokenizerError`.

    The library raises plain ``Exception`` for input it refuses, and pyo3's ``PanicException``
    (a ``BaseException``, which ``except Exception`` misses) when it panics, for example on a
    tokenizer.json whose regex backtracks too much. ``what`` starts the message. Autohub's own
    errors, ``KeyboardInterrupt`` and ``SystemExit`` pass through unchanged. Families wrap their
    own calls into the library (building a backend from legacy files) with it.
    """
    try:
        yield
    except AutohubError:
        raise
    except Exception as error:
        raise TokenizerError(f"{what}: {type(error).__name__}: {error}") from error
    except BaseException as error:
        if type(error).__name__ != "PanicException":  # pyo3_runtime.PanicException
            raise
        raise TokenizerError(f"{what}: the tokenizers library failed (panicked): {error}") from error


def _check_text_lengths(batch: list[Any]) -> None:
    """Refuse any text (or pre-split word list) longer than ``max_text_chars``, before encoding."""
    cap = limits.current().max_text_chars
    for item in batch:
        for sequence in item if isinstance(item, tuple) else (item,):
            if isinstance(sequence, str):
                length = len(sequence)
            elif isinstance(sequence, (list, tuple)):  # pre-split words; other types fail in the backend
                length = sum(len(word) for word in sequence if isinstance(word, str))
            else:
                continue
            if length > cap:
                limits.check(
                    "max_text_chars", length, f"a text of {length} characters was given to the tokenizer"
                )


_TOKEN_FLAGS = ("single_word", "lstrip", "rstrip", "normalized", "special")


def _is_token(value: Any) -> bool:
    """A str, an AddedToken, or a serialized AddedToken (a string ``content`` and boolean flags)."""
    if isinstance(value, (str, AddedToken)):
        return True
    return (
        isinstance(value, Mapping)
        and isinstance(value.get("content"), str)
        and all(isinstance(value[flag], bool) for flag in _TOKEN_FLAGS if flag in value)
    )


def _is_token_list(value: Any) -> bool:
    tokens = list(value.values()) if isinstance(value, Mapping) else value
    return isinstance(tokens, (list, tuple)) and all(_is_token(token) for token in tokens)


def _is_token_index(key: Any) -> bool:
    return (isinstance(key, int) and not isinstance(key, bool) and key >= 0) or (
        isinstance(key, str) and key.isdecimal()
    )


def _is_length(value: Any) -> bool:
    """A non-negative integer (a float only when finite and whole, as JSON may write 1e30)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return False
    return value >= 0


def _is_chat_template(value: Any) -> bool:
    """A template, or named templates: a list of ``{"name", "template"}`` objects or a name → template object."""
    if isinstance(value, str):
        return True
    if isinstance(value, Mapping):
        return all(isinstance(name, str) and isinstance(template, str) for name, template in value.items())
    return isinstance(value, list) and all(
        isinstance(entry, Mapping)
        and isinstance(entry.get("name"), str)
        and isinstance(entry.get("template"), str)
        for entry in value
    )


# The shared tokenizer_config.json keys and what their (non-null) values must be.
_OPTION_RULES: dict[str, tuple[Any, str]] = {
    **{
        name: (_is_token, 'a token (a string, or an object with a string "content")')
        for name in SPECIAL_TOKENS_ATTRIBUTES
    },
    "additional_special_tokens": (_is_token_list, "a list of tokens"),
    "extra_special_tokens": (_is_token_list, "a list (or an object) of tokens"),
    "added_tokens_decoder": (
        lambda value: (
            isinstance(value, Mapping)
            and all(
                _is_token_index(key) and _is_token(token) and not isinstance(token, str)
                for key, token in value.items()
            )
        ),
        'an object mapping token ids to token descriptions ({"content": ..., "special": ...})',
    ),
    "model_max_length": (_is_length, "a non-negative integer"),
    "max_len": (_is_length, "a non-negative integer"),
    "padding_side": (lambda value: value in _SIDES, "'left' or 'right'"),
    "truncation_side": (lambda value: value in _SIDES, "'left' or 'right'"),
    "model_input_names": (
        lambda value: (
            isinstance(value, list) and bool(value) and all(isinstance(name, str) for name in value)
        ),
        "a non-empty list of input names",
    ),
    "clean_up_tokenization_spaces": (lambda value: isinstance(value, bool), "true or false"),
    "split_special_tokens": (lambda value: isinstance(value, bool), "true or false"),
    "chat_template": (_is_chat_template, 'a template string or a list of {"name", "template"} objects'),
}


def _check_options(options: Mapping[str, Any], source: str) -> None:
    """Raise :class:`TokenizerError` naming ``source`` and the key for a value of the wrong type."""
    for key, value in options.items():
        rule = _OPTION_RULES.get(key)
        if rule is None or value is None:
            continue
        is_valid, expected = rule
        if not is_valid(value):
            shown = repr(value)
            shown = shown if len(shown) <= 200 else shown[:200] + "..."
            raise TokenizerError(f"{source}: {key} must be {expected}, got {shown}")


def _to_json(value: dict[str, Any]) -> str:
    try:
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    except TypeError as error:
        raise TokenizerError(f"cannot save tokenizer settings as JSON: {error}") from error
