"""Mistral's tokenizer: the checkpoint's tokenizer.json as it is, or its SentencePiece
``tokenizer.model`` when there is no tokenizer.json; ``<s>`` / ``</s>`` / ``<unk>``.

transformers 5 loads Mistral checkpoints with its generic tokenizer, even when their
tokenizer_config.json names ``LlamaTokenizer`` (as the Hub's do): the tokenizer.json pipeline is
used unchanged, a ``tokenizer.model`` goes through the generic SentencePiece conversion, and
padding is on the right unless tokenizer_config.json says otherwise.
"""

from __future__ import annotations

from typing import ClassVar

from autohub_core.tokenization import TokenizersBackend

__all__ = ["MistralTokenizer"]


class MistralTokenizer(TokenizersBackend):
    """Mistral tokenizer over ``tokenizer.json`` or ``tokenizer.model`` (transformers' generic one,
    with Mistral's special tokens).

    ``add_bos_token`` / ``add_eos_token`` given as arguments (or in tokenizer_config.json when there
    is no tokenizer.json) rebuild the template that adds ``bos_token`` / ``eos_token``, as
    transformers does; otherwise the template of tokenizer.json is kept.
    """

    padding_side = "right"  # transformers 4's LlamaTokenizer padded Mistral on the left, 5's does not
    default_special_tokens: ClassVar[dict[str, str]] = {
        "unk_token": "<unk>",
        "bos_token": "<s>",
        "eos_token": "</s>",
    }
    #: The checkpoint's model type decides: a tokenizer_config.json naming another family's
    #: tokenizer (Mistral repos name LlamaTokenizer) still loads this class, as in transformers.
    replaces_named_tokenizer_class: ClassVar[bool] = True
