"""DeBERTa-v2 / v3's tokenizer: a SentencePiece Unigram model with ``[CLS] … [SEP]``.

The pipeline is the one transformers 5's ``DebertaV2Tokenizer`` builds, whether the vocabulary
comes from tokenizer.json or from the legacy ``spm.model``: only the vocabulary is read from the
files; the normaliser is (lower-casing with ``do_lower_case``) runs of whitespace and any newline or
tab → one space, NFC, right strip — SentencePiece's precompiled normaliser is not used; the
pre-tokenizer is (punctuation isolated with ``split_by_punct``) then ``Metaspace`` (``▁`` before every
word, or only before the text with ``add_prefix_space=False``); the template is
``[CLS] A [SEP]`` / ``[CLS] A [SEP] B [SEP]``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram

from autohub_core.sentencepiece import SPIECE_UNDERLINE, SentencePieceLayout, tokenizer_from_sentencepiece
from autohub_core.tokenization import PreTrainedTokenizer

__all__ = ["DebertaV2Tokenizer"]


class DebertaV2Tokenizer(PreTrainedTokenizer):
    """DeBERTa-v2 / v3 Unigram tokenizer; loads ``tokenizer.json`` or, without it, ``spm.model``.

    Options (from tokenizer_config.json or keyword arguments): ``do_lower_case`` (default False),
    ``split_by_punct`` (False), ``add_prefix_space`` (True). As in transformers, they set the
    pipeline even when tokenizer.json has one. The unknown token is ``unk_token``'s piece when the
    vocabulary has it with score 0, as transformers picks it.
    """

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": "spm.model"}
    model_input_names: ClassVar[list[str]] = ["input_ids", "attention_mask", "token_type_ids"]
    default_special_tokens: ClassVar[dict[str, str]] = {
        "bos_token": "[CLS]",
        "eos_token": "[SEP]",
        "unk_token": "[UNK]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
    }
    default_init_kwargs: ClassVar[dict[str, Any]] = {
        "do_lower_case": False,
        "split_by_punct": False,
        "add_prefix_space": True,
    }
    #: transformers reads spm.model as a Unigram without byte fallback.
    sentencepiece_layout: ClassVar[SentencePieceLayout] = SentencePieceLayout(
        model="unigram", byte_fallback=False
    )

    @classmethod
    def _backend_from_legacy_files(cls, files: dict[str, Path], init_kwargs: dict[str, Any]) -> Tokenizer:
        """A Unigram over the pieces and scores of ``spm.model``; its control and user-defined pieces
        are added tokens. :meth:`_configure_backend` sets the rest of the pipeline."""
        return tokenizer_from_sentencepiece(files["vocab_file"], cls.sentencepiece_layout)

    def _configure_backend(self, backend: Tokenizer) -> None:
        """Set transformers' DeBERTa-v2 pipeline over the vocabulary of ``backend``."""
        model = backend.model
        if isinstance(model, Unigram):
            self._use_unknown_piece(backend)
        steps = [normalizers.Lowercase()] if self.init_kwargs["do_lower_case"] else []
        steps += [
            normalizers.Replace(Regex(r"\s{2,}|[\n\r\t]"), " "),
            normalizers.NFC(),
            normalizers.Strip(left=False, right=True),
        ]
        backend.normalizer = normalizers.Sequence(steps)
        prepend_scheme = "always" if self.init_kwargs["add_prefix_space"] else "first"
        splits = (
            [pre_tokenizers.Punctuation(behavior="isolated")] if self.init_kwargs["split_by_punct"] else []
        )
        splits.append(pre_tokenizers.Metaspace(replacement=SPIECE_UNDERLINE, prepend_scheme=prepend_scheme))
        backend.pre_tokenizer = pre_tokenizers.Sequence(splits)
        backend.decoder = decoders.Metaspace(replacement=SPIECE_UNDERLINE, prepend_scheme=prepend_scheme)
        cls, sep = self.cls_token, self.sep_token
        if cls is None or sep is None:
            backend.post_processor = None
            return
        backend.post_processor = processors.TemplateProcessing(
            single=f"{cls}:0 $A:0 {sep}:0",
            pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
            special_tokens=[(cls, self.cls_token_id), (sep, self.sep_token_id)],
        )

    def _use_unknown_piece(self, backend: Tokenizer) -> None:
        """Point the Unigram's unknown id at ``unk_token`` when the vocabulary has it with score 0
        (transformers' rule), rebuilding the model only when the id changes."""
        state = json.loads(backend.model.__getstate__())
        vocab = [(piece, score) for piece, score in state["vocab"]]
        unknown = (str(self.unk_token), 0.0)
        if unknown in vocab and vocab.index(unknown) != state.get("unk_id"):
            backend.model = Unigram(vocab, unk_id=vocab.index(unknown), byte_fallback=False)
