"""DistilBERT's tokenizer: BERT's WordPiece pipeline; token type ids only where transformers returns them."""

from __future__ import annotations

from typing import Any, ClassVar

from autohub_core.tokenization import WordPieceTokenizer

__all__ = ["DistilBertTokenizer"]

#: What transformers' AutoTokenizer returns for a DistilBERT checkpoint loaded with BertTokenizer.
_BERT_INPUT_NAMES = ["input_ids", "token_type_ids", "attention_mask"]


class DistilBertTokenizer(WordPieceTokenizer):
    """WordPiece tokenizer of DistilBERT; loads ``tokenizer.json`` or, without it, ``vocab.txt``.

    Options (from tokenizer_config.json or keyword arguments): ``do_lower_case``,
    ``strip_accents`` (``None`` follows ``do_lower_case``), ``tokenize_chinese_chars``.
    The model takes ``input_ids`` and ``attention_mask`` only. transformers' AutoTokenizer
    loads a DistilBERT checkpoint whose tokenizer_config.json does not name
    ``DistilBertTokenizer`` with ``BertTokenizer``, which also returns ``token_type_ids``;
    :meth:`from_pretrained` does the same for such checkpoints (unless ``model_input_names``
    is given), so both libraries return the same keys.
    """

    model_input_names: ClassVar[list[str]] = ["input_ids", "attention_mask"]

    @classmethod
    def _adjust_loaded_options(cls, init_kwargs: dict[str, Any]) -> None:
        """BERT's ``model_input_names`` unless tokenizer_config.json names ``DistilBertTokenizer``."""
        named = str(init_kwargs.get("tokenizer_class") or "").removesuffix("Fast")
        if named != "DistilBertTokenizer":
            init_kwargs.setdefault("model_input_names", list(_BERT_INPUT_NAMES))
