"""GPT-2's tokenizer: byte-level BPE, with ``<|endoftext|>`` as its bos, eos and unk token.

The Rust tokenizer is rebuilt the way transformers 5 builds ``GPT2Tokenizer``: a BPE model over the
vocabulary and merges (of tokenizer.json, or of vocab.json + merges.txt), a ``ByteLevel``
pre-tokenizer whose ``add_prefix_space`` comes from the tokenizer options (default False), a
``ByteLevel`` decoder, no normalizer. The post-processor is tokenizer.json's own (usually a
``ByteLevel`` one, whose ``trim_offsets`` decides whether offsets include the leading space);
without one (legacy files) it is a template adding ``bos_token`` / ``eos_token`` as
``add_bos_token`` / ``add_eos_token`` say (both default False).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

from tokenizers import AddedToken, Tokenizer, decoders, pre_tokenizers, processors
from tokenizers.models import BPE

from autohub_core import limits
from autohub_core.errors import CheckpointNotFoundError, TokenizerError
from autohub_core.tokenization import PreTrainedTokenizer, backend_errors

__all__ = ["GPT2Tokenizer"]

_TEMPLATE_FLAGS = ("add_bos_token", "add_eos_token")


class GPT2Tokenizer(PreTrainedTokenizer):
    """GPT-2 byte-level BPE tokenizer; loads ``tokenizer.json`` or, without it, ``vocab.json`` + ``merges.txt``.

    Options (tokenizer_config.json or keyword arguments): ``add_prefix_space`` (treat the first word
    like any other by prepending a space). ``add_bos_token`` / ``add_eos_token`` rebuild the
    post-processor as a template adding those tokens. As in transformers 5, tokenizer_config.json's
    ``add_bos_token`` / ``add_eos_token`` are ignored when a tokenizer.json is loaded (its
    post-processor wins); pass them to :meth:`from_pretrained` or set the attributes to apply them.
    """

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": "vocab.json", "merges_file": "merges.txt"}
    model_input_names: ClassVar[list[str]] = ["input_ids", "attention_mask"]
    default_special_tokens: ClassVar[dict[str, str]] = {
        "unk_token": "<|endoftext|>",
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
    }
    default_init_kwargs: ClassVar[dict[str, Any]] = {"add_prefix_space": False}

    def __init__(
        self,
        tokenizer_object: Tokenizer | None = None,
        *,
        tokenizer_file: str | os.PathLike | None = None,
        **kwargs: Any,
    ) -> None:
        flags = {key: bool(kwargs.pop(key)) for key in _TEMPLATE_FLAGS if kwargs.get(key) is not None}
        if tokenizer_file is not None:
            tokenizer_object = _backend_from_tokenizer_json(Path(tokenizer_file))
            flags = {}  # tokenizer.json's post-processor wins over the config's flags
        self._add_bos_token = flags.get("add_bos_token", False)
        self._add_eos_token = flags.get("add_eos_token", False)
        self._template_requested = bool(flags)
        super().__init__(tokenizer_object, **kwargs)

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | os.PathLike, *init_inputs: Any, **kwargs: Any
    ) -> GPT2Tokenizer:
        """Load as :meth:`PreTrainedTokenizer.from_pretrained`; explicit ``add_bos_token`` /
        ``add_eos_token`` arguments are applied even over a tokenizer.json."""
        explicit = {key: kwargs.pop(key) for key in _TEMPLATE_FLAGS if kwargs.get(key) is not None}
        tokenizer = super().from_pretrained(name_or_path, *init_inputs, **kwargs)
        for key, value in explicit.items():
            setattr(tokenizer, key, value)
        return tokenizer  # type: ignore[return-value]

    @classmethod
    def _backend_from_legacy_files(cls, files: dict[str, Path], init_kwargs: dict[str, Any]) -> Tokenizer:
        """Byte-level BPE over vocab.json (token -> id) and merges.txt (one ``a b`` pair a line)."""
        for key, filename in cls.vocab_files_names.items():
            if key not in files:
                raise CheckpointNotFoundError(f"GPT2Tokenizer needs {filename} ({key}=) or a tokenizer.json")
        try:
            vocab, merges = BPE.read_file(str(files["vocab_file"]), str(files["merges_file"]))
        except Exception as error:  # the Rust side raises plain Exception
            raise TokenizerError(
                f"cannot read {files['vocab_file']} / {files['merges_file']} as GPT-2 vocabulary files: {error}"
            ) from error
        return _byte_level_bpe(vocab, merges)

    def _configure_backend(self, backend: Tokenizer) -> None:
        """Set the pre-tokenizer from ``add_prefix_space``; build the template post-processor when
        there is none or ``add_bos_token`` / ``add_eos_token`` were given."""
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(
            add_prefix_space=bool(self.init_kwargs["add_prefix_space"])
        )
        if self._template_requested or backend.post_processor is None:
            self._update_post_processor()

    @property
    def add_bos_token(self) -> bool:
        """Whether encoding prepends ``bos_token`` (setting it rebuilds the post-processor)."""
        return self._add_bos_token

    @add_bos_token.setter
    def add_bos_token(self, value: bool) -> None:
        self._add_bos_token = bool(value)
        self._update_post_processor()

    @property
    def add_eos_token(self) -> bool:
        """Whether encoding appends ``eos_token`` (setting it rebuilds the post-processor)."""
        return self._add_eos_token

    @add_eos_token.setter
    def add_eos_token(self, value: bool) -> None:
        self._add_eos_token = bool(value)
        self._update_post_processor()

    def _update_post_processor(self) -> None:
        """A template: ``[bos] $A [eos]`` and ``[bos] $A [eos] [bos] $B [eos]``, per the flags."""
        bos, eos = self.bos_token, self.eos_token
        self._add_bos_token = self._add_bos_token and bos is not None
        self._add_eos_token = self._add_eos_token and eos is not None
        prefix = f"{bos}:0 " if self._add_bos_token else ""
        suffix = f" {eos}:0" if self._add_eos_token else ""
        single = f"{prefix}$A:0{suffix}"
        pair_prefix = f" {bos}:1" if self._add_bos_token else ""
        pair_suffix = f" {eos}:1" if self._add_eos_token else ""
        pair = f"{single}{pair_prefix} $B:1{pair_suffix}"
        special_tokens = []
        if self._add_bos_token:
            special_tokens.append((bos, self.bos_token_id))
        if self._add_eos_token:
            special_tokens.append((eos, self.eos_token_id))
        with self._backend_lock:
            self._backend.post_processor = processors.TemplateProcessing(
                single=single, pair=pair, special_tokens=special_tokens
            )


def _byte_level_bpe(vocab: dict[str, int], merges: list[tuple[str, str]]) -> Tokenizer:
    """GPT-2's BPE model (no unk token, no dropout, no subword affixes) with the byte-level decoder."""
    backend = Tokenizer(
        BPE(
            vocab,
            merges,
            dropout=None,
            continuing_subword_prefix="",
            end_of_word_suffix="",
            fuse_unk=False,
        )
    )
    backend.decoder = decoders.ByteLevel()
    return backend


def _backend_from_tokenizer_json(path: Path) -> Tokenizer:
    """Rebuild the tokenizer from tokenizer.json's vocabulary and merges, keeping its post-processor
    and added tokens (like transformers, which drops the file's normalizer, pre-tokenizer and decoder)."""
    if not path.is_file():
        raise CheckpointNotFoundError(f"tokenizer file {path} does not exist")
    limits.check_file_size(path)
    with backend_errors(f"{path} is not a valid byte-level BPE tokenizer.json"):  # bad JSON, not BPE, a panic
        document = json.loads(path.read_text(encoding="utf-8"))
        model = document["model"]
        vocab = model["vocab"]
        merges = [
            tuple(merge.split(" ")) if isinstance(merge, str) else tuple(merge) for merge in model["merges"]
        ]
        # Only the post-processor is wanted from the file: parse it without the large vocabulary.
        skeleton = {**document, "model": {**model, "vocab": {}, "merges": []}, "added_tokens": []}
        post_processor = Tokenizer.from_str(json.dumps(skeleton)).post_processor
        added = [
            AddedToken(
                entry["content"],
                **{
                    key: entry[key]
                    for key in ("single_word", "lstrip", "rstrip", "normalized", "special")
                    if key in entry
                },
            )
            for entry in sorted(document.get("added_tokens") or [], key=lambda entry: entry["id"])
        ]
    backend = _byte_level_bpe(vocab, merges)
    if post_processor is not None:
        backend.post_processor = post_processor
    if added:
        backend.add_tokens(added)
    return backend
