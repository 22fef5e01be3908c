"""DistilBERT's tokenizer: BERT's WordPiece pipeline, without token type ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece

from autohub_core.tokenization import PreTrainedTokenizer

__all__ = ["DistilBertTokenizer"]


class DistilBertTokenizer(PreTrainedTokenizer):
    """WordPiece tokenizer of DistilBERT; loads ``tokenizer.json`` or, without it, ``vocab.txt``.

    Options (from tokenizer_config.json or keyword arguments): ``do_lower_case``,
    ``strip_accents`` (``None`` follows ``do_lower_case``), ``tokenize_chinese_chars``.
    As in transformers, they set the normalizer even when tokenizer.json has one.
    """

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": "vocab.txt"}
    model_input_names: ClassVar[list[str]] = ["input_ids", "attention_mask"]
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
        """Set BERT's normalizer from the options and the template from ``cls_token``/``sep_token``."""
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
