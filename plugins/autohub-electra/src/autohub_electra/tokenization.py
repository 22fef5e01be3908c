"""ELECTRA's tokenizer: BERT's WordPiece pipeline (transformers' ElectraTokenizer is its BertTokenizer)."""

from __future__ import annotations

from typing import ClassVar

from autohub_core.tokenization import WordPieceTokenizer

__all__ = ["ElectraTokenizer"]


class ElectraTokenizer(WordPieceTokenizer):
    """ELECTRA WordPiece tokenizer; loads ``tokenizer.json`` or, without it, ``vocab.txt``.

    Options (from tokenizer_config.json or keyword arguments): ``do_lower_case`` (the Hub's
    checkpoints are uncased), ``strip_accents`` (``None`` follows ``do_lower_case``),
    ``tokenize_chinese_chars``. Returns ``token_type_ids`` as transformers does.
    """

    model_input_names: ClassVar[list[str]] = ["input_ids", "token_type_ids", "attention_mask"]
