"""DistilBERT's tokenizer: BERT's WordPiece pipeline, without token type ids."""

from __future__ import annotations

from autohub_core.tokenization import WordPieceTokenizer

__all__ = ["DistilBertTokenizer"]


class DistilBertTokenizer(WordPieceTokenizer):
    """WordPiece tokenizer of DistilBERT; loads ``tokenizer.json`` or, without it, ``vocab.txt``.

    Options (from tokenizer_config.json or keyword arguments): ``do_lower_case``,
    ``strip_accents`` (``None`` follows ``do_lower_case``), ``tokenize_chinese_chars``.
    The model takes ``input_ids`` and ``attention_mask`` only.
    """
