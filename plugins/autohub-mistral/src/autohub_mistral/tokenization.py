"""Mistral's tokenizer: the checkpoint's tokenizer.json as it is, or its SentencePiece
``tokenizer.model`` when there is no tokenizer.json; ``<s>`` / ``</s>`` / ``<unk>``.

transformers 5 loads Mistral checkpoints with its generic tokenizer, even when their
tokenizer_config.json names ``LlamaTokenizer`` (as the Hub's do): the tokenizer.json pipeline is
used unchanged, a ``tokenizer.model`` goes through the generic SentencePiece conversion, and
padding is on the right unless tokenizer_config.json says otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from tokenizers import Tokenizer

from autohub_core.sentencepiece import SentencePieceLayout, tokenizer_from_sentencepiece
from autohub_core.tokenization import BosEosTemplateTokenizer

__all__ = ["MistralTokenizer"]


class MistralTokenizer(BosEosTemplateTokenizer):
    """Mistral tokenizer over ``tokenizer.json`` or ``tokenizer.model``.

    ``add_bos_token`` / ``add_eos_token`` given in tokenizer_config.json or as arguments
    rebuild the template that adds ``bos_token`` / ``eos_token``, as transformers does;
    otherwise the template of tokenizer.json is kept.
    """

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": "tokenizer.model"}
    padding_side = "right"  # transformers 4's LlamaTokenizer padded Mistral on the left, 5's does not
    default_special_tokens: ClassVar[dict[str, str]] = {
        "unk_token": "<unk>",
        "bos_token": "<s>",
        "eos_token": "</s>",
    }
    #: The checkpoint's model type decides: a tokenizer_config.json naming another family's
    #: tokenizer (Mistral repos name LlamaTokenizer) still loads this class, as in transformers.
    replaces_named_tokenizer_class: ClassVar[bool] = True
    #: The SentencePiece model read as it is: its own algorithm, byte fallback and unknown piece.
    sentencepiece_layout: ClassVar[SentencePieceLayout] = SentencePieceLayout()

    @classmethod
    def _backend_from_legacy_files(cls, files: dict[str, Path], init_kwargs: dict[str, Any]) -> Tokenizer:
        """transformers' generic conversion of ``tokenizer.model`` (no ``▁`` prepended to the text)."""
        return tokenizer_from_sentencepiece(files["vocab_file"], cls.sentencepiece_layout)
