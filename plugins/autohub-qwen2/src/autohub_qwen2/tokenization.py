"""Qwen2's tokenizer: byte-level BPE from tokenizer.json, or from vocab.json + merges.txt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import BPE

from autohub_core.errors import TokenizerError
from autohub_core.tokenization import BosEosTemplateTokenizer

__all__ = ["Qwen2Tokenizer"]

PRETOKENIZE_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


class Qwen2Tokenizer(BosEosTemplateTokenizer):
    """Qwen2 byte-level BPE tokenizer (``<|endoftext|>`` as unk, eos and pad; no bos).

    Loads ``tokenizer.json`` or, without it, ``vocab.json`` + ``merges.txt``. As transformers'
    Qwen2Tokenizer, it always uses Qwen2's NFC normalizer, pre-tokenizer regex and byte-level
    decoder, so the option ``add_prefix_space`` (tokenizer_config.json or keyword argument,
    default False) applies to a tokenizer.json too. ``add_bos_token`` / ``add_eos_token``
    rebuild the template as in transformers.
    """

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": "vocab.json", "merges_file": "merges.txt"}
    default_special_tokens: ClassVar[dict[str, str]] = {
        "unk_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
    }

    @classmethod
    def _backend_from_legacy_files(cls, files: dict[str, Path], init_kwargs: dict[str, Any]) -> Tokenizer:
        """BPE over vocab.json (token -> id) and merges.txt; the pipeline is set by :meth:`_configure_backend`."""
        try:
            vocab = json.loads(files["vocab_file"].read_text(encoding="utf-8"))
            lines = files["merges_file"].read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise TokenizerError(
                f"cannot read Qwen2 vocabulary files {sorted(map(str, files.values()))}: {error}"
            ) from error
        merges = [tuple(line.split(" ")) for line in lines if line and not line.startswith("#version")]
        return Tokenizer(
            BPE(
                vocab=vocab,
                merges=merges,
                unk_token=None,
                continuing_subword_prefix="",
                end_of_word_suffix="",
                fuse_unk=False,
                byte_fallback=False,
            )
        )

    def _configure_backend(self, backend: Tokenizer) -> None:
        """Qwen2's normalizer, pre-tokenizer (``add_prefix_space`` from the options) and decoder, then the template."""
        backend.normalizer = normalizers.NFC()
        backend.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(
                    add_prefix_space=bool(self.init_kwargs.get("add_prefix_space")), use_regex=False
                ),
            ]
        )
        backend.decoder = decoders.ByteLevel()
        super()._configure_backend(backend)
