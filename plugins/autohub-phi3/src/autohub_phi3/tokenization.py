"""Phi-3's tokenizer: the checkpoint's tokenizer.json as it is (a SentencePiece BPE with byte
fallback, plus ``<|endoftext|>``, ``<|user|>``, ``<|assistant|>``, ``<|end|>`` ... added tokens),
or its SentencePiece ``tokenizer.model`` when there is no tokenizer.json.

The Hub's Phi-3 tokenizer_config.json files name ``LlamaTokenizer``, but transformers 5 lists
``phi3`` among the model types whose named tokenizer class it ignores: it loads them with its
generic tokenizer, the tokenizer.json pipeline unchanged. So does autohub.
"""

from __future__ import annotations

from typing import ClassVar

from autohub_core.tokenization import TokenizersBackend

__all__ = ["Phi3Tokenizer"]


class Phi3Tokenizer(TokenizersBackend):
    """Phi-3 tokenizer over ``tokenizer.json`` or ``tokenizer.model`` (transformers' generic one).

    Special tokens, padding side (the Hub's say left) and chat template come from
    tokenizer_config.json; ``add_bos_token`` / ``add_eos_token`` given as arguments rebuild the
    template, otherwise the template of tokenizer.json is kept, as in transformers.
    """

    #: The checkpoint's model type decides: a tokenizer_config.json naming ``LlamaTokenizer`` (as
    #: the Hub's Phi-3 repos do) still loads this class, as in transformers.
    replaces_named_tokenizer_class: ClassVar[bool] = True
