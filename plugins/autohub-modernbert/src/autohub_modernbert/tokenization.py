"""ModernBERT's tokenizer: the checkpoint's tokenizer.json (a byte-level BPE with ``[CLS] … [SEP]``
template and ``[CLS]`` / ``[SEP]`` / ``[MASK]`` / ``[PAD]`` / ``[UNK]`` special tokens) as it is.

transformers 5 loads ModernBERT checkpoints with its generic tokenizer whatever their
tokenizer_config.json names (the Hub's name ``PreTrainedTokenizerFast``); so does autohub.
"""

from __future__ import annotations

from typing import ClassVar

from autohub_core.tokenization import TokenizersBackend

__all__ = ["ModernBertTokenizer"]


class ModernBertTokenizer(TokenizersBackend):
    """ModernBERT tokenizer over ``tokenizer.json``: its pipeline, template and special tokens
    unchanged; no ``token_type_ids`` (the model takes none)."""

    model_input_names: ClassVar[list[str]] = ["input_ids", "attention_mask"]
    #: The checkpoint's model type decides, as in transformers.
    replaces_named_tokenizer_class: ClassVar[bool] = True
