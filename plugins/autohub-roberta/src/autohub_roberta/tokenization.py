"""RoBERTa's byte-level BPE tokenizer and XLM-RoBERTa's SentencePiece Unigram tokenizer.

Both load ``tokenizer.json`` when there is one, otherwise their legacy files:
``vocab.json`` + ``merges.txt`` (RoBERTa) or ``sentencepiece.bpe.model`` (XLM-RoBERTa). Both frame
sequences as ``<s> A </s>`` and pairs as ``<s> A </s></s> B </s>``, and take only
``input_ids`` and ``attention_mask`` (no token type ids). XLM-RoBERTa's ``<mask>`` swallows the space
before it (``lstrip=True``) unless the files say otherwise; RoBERTa's does so only when the files
say so (tokenizer.json, ``added_tokens_decoder``, special_tokens_map.json), as in transformers 5.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import BPE

from autohub_core.sentencepiece import (
    SPIECE_UNDERLINE,
    SentencePieceLayout,
    precompiled_charsmap,
    tokenizer_from_sentencepiece,
)
from autohub_core.tokenization import PreTrainedTokenizer

__all__ = ["RobertaTokenizer", "XLMRobertaTokenizer"]


class _FairseqTokenizer(PreTrainedTokenizer):
    """What RoBERTa and XLM-RoBERTa share: fairseq's special tokens, a left-stripping ``<mask>``."""

    model_input_names: ClassVar[list[str]] = ["input_ids", "attention_mask"]
    default_special_tokens: ClassVar[dict[str, str]] = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }

    def __init__(self, tokenizer_object: Tokenizer | None = None, **kwargs: Any) -> None:
        # As transformers' fast tokenizers: a mask token given as a plain string absorbs the space before it.
        mask_token = kwargs.get("mask_token", self.default_special_tokens["mask_token"])
        if isinstance(mask_token, str):
            kwargs["mask_token"] = AddedToken(
                mask_token, lstrip=True, rstrip=False, normalized=False, special=True
            )
        super().__init__(tokenizer_object, **kwargs)


class RobertaTokenizer(_FairseqTokenizer):
    """RoBERTa byte-level BPE tokenizer; loads ``tokenizer.json`` or, without it, ``vocab.json`` + ``merges.txt``.

    Options (from tokenizer_config.json or keyword arguments): ``add_prefix_space`` (treat the
    first word like any other, default False) and ``trim_offsets`` (offsets exclude the leading
    space, default True). As in transformers, they set the pre-tokenizer and post-processor
    even when tokenizer.json has its own.
    """

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": "vocab.json", "merges_file": "merges.txt"}
    default_init_kwargs: ClassVar[dict[str, Any]] = {"add_prefix_space": False, "trim_offsets": True}

    def __init__(self, tokenizer_object: Tokenizer | None = None, **kwargs: Any) -> None:
        # transformers 5's RobertaTokenizer adds a mask token named by a plain string as it is: from
        # vocab.json + merges.txt alone, the space in "a <mask>" stays a token of its own.
        mask_token = kwargs.get("mask_token", self.default_special_tokens["mask_token"])
        if isinstance(mask_token, str):
            kwargs["mask_token"] = AddedToken(mask_token, normalized=False, special=True)
        super().__init__(tokenizer_object, **kwargs)

    @classmethod
    def _backend_from_legacy_files(cls, files: dict[str, Path], init_kwargs: dict[str, Any]) -> Tokenizer:
        """Byte-level BPE over vocab.json (token -> id) and merges.txt; the rest is set by :meth:`_configure_backend`."""
        vocab, merges = BPE.read_file(str(files["vocab_file"]), str(files["merges_file"]))
        return Tokenizer(
            BPE(
                vocab,
                merges,
                dropout=None,
                continuing_subword_prefix="",
                end_of_word_suffix="",
                fuse_unk=False,
            )
        )

    def _configure_backend(self, backend: Tokenizer) -> None:
        """Byte-level pre-tokenizer and decoder, and the ``<s> A </s></s> B </s>`` post-processor."""
        add_prefix_space = bool(self.init_kwargs["add_prefix_space"])
        trim_offsets = bool(self.init_kwargs["trim_offsets"])
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
        backend.decoder = decoders.ByteLevel()
        cls, sep = self.cls_token, self.sep_token
        if cls is None or sep is None:
            return
        backend.post_processor = processors.RobertaProcessing(
            (sep, self.sep_token_id),
            (cls, self.cls_token_id),
            trim_offsets=trim_offsets,
            add_prefix_space=add_prefix_space,
        )


class XLMRobertaTokenizer(_FairseqTokenizer):
    """XLM-RoBERTa SentencePiece (Unigram) tokenizer; loads ``tokenizer.json`` or ``sentencepiece.bpe.model``.

    From the SentencePiece model, ids follow fairseq: ``<s>=0, <pad>=1, </s>=2, <unk>=3``, every
    other piece shifted by one, and ``<mask>`` last. The option ``add_prefix_space`` (default
    True) prepends ``▁`` to every word.
    """

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": "sentencepiece.bpe.model"}
    default_init_kwargs: ClassVar[dict[str, Any]] = {"add_prefix_space": True}
    #: transformers reads the SentencePiece model as a Unigram; its first three pieces give way to
    #: fairseq's four special tokens (named by the tokenizer's options) and ``<mask>`` comes last.
    sentencepiece_layout: ClassVar[SentencePieceLayout] = SentencePieceLayout(
        model="unigram", byte_fallback=False, replaced_pieces=3, unk_id=3
    )

    @classmethod
    def _backend_from_legacy_files(cls, files: dict[str, Path], init_kwargs: dict[str, Any]) -> Tokenizer:
        """Unigram over the SentencePiece pieces in fairseq order; :meth:`_configure_backend` sets the pipeline."""

        def token(name: str) -> str:
            return str(init_kwargs.get(name) or cls.default_special_tokens[name])

        layout = dataclasses.replace(
            cls.sentencepiece_layout,
            leading_pieces=tuple(
                token(name) for name in ("bos_token", "pad_token", "eos_token", "unk_token")
            ),
            trailing_pieces=(token("mask_token"),),
        )
        return tokenizer_from_sentencepiece(files["vocab_file"], layout)

    def _configure_backend(self, backend: Tokenizer) -> None:
        """transformers' XLM-R pipeline, also over a tokenizer.json: only a precompiled normaliser
        is kept; whitespace splitting then ``Metaspace``; the ``<s> A </s> </s> B </s>`` template."""
        charsmap = precompiled_charsmap(backend.normalizer)
        backend.normalizer = normalizers.Precompiled(charsmap) if charsmap else None
        prepend_scheme = "always" if self.init_kwargs["add_prefix_space"] else "never"
        backend.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.WhitespaceSplit(),
                pre_tokenizers.Metaspace(replacement=SPIECE_UNDERLINE, prepend_scheme=prepend_scheme),
            ]
        )
        backend.decoder = decoders.Metaspace(replacement=SPIECE_UNDERLINE, prepend_scheme=prepend_scheme)
        cls, sep = self.cls_token, self.sep_token
        if cls is None or sep is None:
            return
        backend.post_processor = processors.TemplateProcessing(
            single=f"{cls} $A {sep}",
            pair=f"{cls} $A {sep} {sep} $B {sep}",
            special_tokens=[(cls, self.cls_token_id), (sep, self.sep_token_id)],
        )
