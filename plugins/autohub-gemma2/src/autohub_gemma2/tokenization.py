"""Gemma's tokenizer: a SentencePiece BPE with byte fallback, left padding, ``<bos>`` added, no eos.

It loads the checkpoint's tokenizer.json or, without one, the SentencePiece ``tokenizer.model``.
Either way the pipeline is the one transformers 5's ``GemmaTokenizer`` builds around the
vocabulary and merges, whatever pipeline the file describes:

- a normaliser that turns spaces into ``▁`` (no ``▁`` prepended to the text, no other
  normalisation);
- a pre-tokenizer splitting after each space (a no-op once spaces are ``▁``, kept as transformers
  has it);
- a BPE with byte fallback whose unknown token is ``unk_token``;
- a decoder that turns ``▁`` back into spaces and byte pieces into bytes.

Like transformers, only the vocabulary, merges and template of the file are kept, not its added
tokens: those come from tokenizer_config.json's ``added_tokens_decoder`` (the file's own when the
config lists none) and the special tokens. The control and user-defined pieces of tokenizer.model
are its added tokens, and its extra special tokens unless the config names some.

Gemma 2 and Gemma 3 ship the same tokenizer: other plugins register this class for their model
types (``"autohub_gemma2.tokenization:GemmaTokenizer"``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import BPE

from autohub_core import limits
from autohub_core.sentencepiece import SPIECE_UNDERLINE, SentencePieceLayout, tokenizer_from_sentencepiece
from autohub_core.tokenization import SPECIAL_TOKENS_ATTRIBUTES, BosEosTemplateTokenizer, backend_errors

__all__ = ["GemmaTokenizer"]


class GemmaTokenizer(BosEosTemplateTokenizer):
    """Gemma tokenizer over ``tokenizer.json`` or ``tokenizer.model`` (pads on the left).

    Special tokens default to ``<unk>``, ``<bos>``, ``<eos>``, ``<pad>`` and ``<mask>``.
    ``add_bos_token`` / ``add_eos_token`` (tokenizer_config.json without a tokenizer.json, or
    keyword arguments) rebuild the template that adds ``bos_token`` / ``eos_token``; otherwise
    the template of tokenizer.json is kept (the Hub's adds ``<bos>``).
    """

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": "tokenizer.model"}
    padding_side = "left"
    default_special_tokens: ClassVar[dict[str, str]] = {
        "unk_token": "<unk>",
        "bos_token": "<bos>",
        "eos_token": "<eos>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }
    #: transformers reads Gemma's SentencePiece model as a byte-fallback BPE knowing its unknown piece.
    sentencepiece_layout: ClassVar[SentencePieceLayout] = SentencePieceLayout(model="bpe", byte_fallback=True)

    def __init__(
        self,
        tokenizer_object: Tokenizer | None = None,
        *,
        tokenizer_file: str | os.PathLike | None = None,
        **kwargs: Any,
    ) -> None:
        loaded = None
        if tokenizer_object is None and tokenizer_file is not None:
            path = Path(tokenizer_file)
            limits.check_file_size(path)
            with backend_errors(f"{path} is not a valid tokenizer.json"):
                loaded = Tokenizer.from_file(str(path))
        elif tokenizer_object is None and kwargs.get("vocab_file"):
            loaded = tokenizer_from_sentencepiece(Path(kwargs.pop("vocab_file")), self.sentencepiece_layout)
            if not kwargs.get("extra_special_tokens") and not kwargs.get("additional_special_tokens"):
                pieces = sorted(loaded.get_added_tokens_decoder().items())
                kwargs["additional_special_tokens"] = [token.content for _, token in pieces]
        if loaded is not None:
            if not kwargs.get("added_tokens_decoder"):
                kwargs["added_tokens_decoder"] = self._file_added_tokens(loaded, kwargs)
            tokenizer_object = _vocabulary_only(loaded)
        super().__init__(tokenizer_object, **kwargs)

    def _file_added_tokens(self, loaded: Tokenizer, kwargs: dict[str, Any]) -> dict[int, AddedToken]:
        """The added tokens of a tokenizer file, the named special tokens among them marked special."""
        named = set()
        for name in SPECIAL_TOKENS_ATTRIBUTES:
            value = kwargs.get(name, self.default_special_tokens.get(name))
            named.add(
                value.get("content") if isinstance(value, Mapping) else None if value is None else str(value)
            )
        added = loaded.get_added_tokens_decoder()
        for token in added.values():
            token.special = token.special or token.content in named
        return added

    def _configure_backend(self, backend: Tokenizer) -> None:
        """Set the template, then transformers' Gemma pipeline and BPE options."""
        super()._configure_backend(backend)
        backend.normalizer = normalizers.Replace(" ", SPIECE_UNDERLINE)
        backend.pre_tokenizer = pre_tokenizers.Split(" ", behavior="merged_with_previous", invert=False)
        backend.decoder = decoders.Sequence(
            [decoders.Replace(SPIECE_UNDERLINE, " "), decoders.ByteFallback(), decoders.Fuse()]
        )
        model = backend.model
        if isinstance(model, BPE):
            model.byte_fallback = True
            model.fuse_unk = True
            model.unk_token = None if self.unk_token is None else str(self.unk_token)
            model.dropout = None


def _vocabulary_only(backend: Tokenizer) -> Tokenizer:
    """A tokenizer with ``backend``'s model (vocabulary and merges) and template, nothing else."""
    bare = Tokenizer(backend.model)
    bare.post_processor = backend.post_processor
    return bare
