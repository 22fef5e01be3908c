"""BERT's tokenizer: WordPiece with BERT's normalizer, pre-tokenizer and ``[CLS] … [SEP]`` template."""

from __future__ import annotations

from typing import ClassVar

from autohub_core.tokenization import WordPieceTokenizer

__all__ = ["BertTokenizer"]


class BertTokenizer(WordPieceTokenizer):
    """BERT WordPiece tokenizer; loads ``tokenizer.json`` or, without it, ``vocab.txt``.

    Options (from tokenizer_config.json or keyword arguments): ``do_lower_case``,
    ``strip_accents`` (``None`` follows ``do_lower_case``), ``tokenize_chinese_chars``.
    As in transformers, they set the normalizer even when tokenizer.json has one.
    """

    model_input_names: ClassVar[list[str]] = ["input_ids", "token_type_ids", "attention_mask"]
