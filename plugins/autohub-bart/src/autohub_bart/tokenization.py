"""BART's tokenizer: RoBERTa's byte-level BPE (``vocab.json`` + ``merges.txt`` or ``tokenizer.json``).

transformers 5 makes ``BartTokenizer`` an alias of ``RobertaTokenizer``; this subclass only gives it
the name BART's tokenizer_config.json files carry (``"tokenizer_class": "BartTokenizer"``), so
``AutoTokenizer`` finds it by that name and saves it under it.
"""

from __future__ import annotations

from autohub_roberta.tokenization import RobertaTokenizer

__all__ = ["BartTokenizer"]


class BartTokenizer(RobertaTokenizer):
    """RoBERTa's tokenizer under BART's name: ``<s> A </s>``, pairs ``<s> A </s></s> B </s>``, the same
    ids, options (``add_prefix_space``, ``trim_offsets``) and special tokens."""
