"""Mistral's tokenizer: the checkpoint's tokenizer.json with Llama's defaults (Mistral checkpoints
ship a LlamaTokenizer): left padding, ``<s>`` / ``</s>`` / ``<unk>``."""

from __future__ import annotations

from typing import ClassVar

from autohub_core.tokenization import BosEosTemplateTokenizer

__all__ = ["MistralTokenizer"]


class MistralTokenizer(BosEosTemplateTokenizer):
    """Mistral tokenizer over ``tokenizer.json`` (pads on the left, as transformers' MistralTokenizer).

    ``add_bos_token`` / ``add_eos_token`` given in tokenizer_config.json or as arguments
    rebuild the template that adds ``bos_token`` / ``eos_token``, as transformers does;
    otherwise the template of tokenizer.json is kept. The sentencepiece ``tokenizer.model``
    alone is not supported: a tokenizer.json is required.
    """

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": "tokenizer.model"}
    padding_side = "left"
    default_special_tokens: ClassVar[dict[str, str]] = {
        "unk_token": "<unk>",
        "bos_token": "<s>",
        "eos_token": "</s>",
    }
