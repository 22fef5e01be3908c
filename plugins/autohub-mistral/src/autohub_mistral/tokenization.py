"""Mistral's tokenizer: the checkpoint's tokenizer.json with Llama's defaults (Mistral checkpoints
ship a LlamaTokenizer): left padding, ``<s>`` / ``</s>`` / ``<unk>``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from tokenizers import Tokenizer, processors

from autohub_core.errors import TokenizerError
from autohub_core.tokenization import PreTrainedTokenizer

__all__ = ["MistralTokenizer"]


class MistralTokenizer(PreTrainedTokenizer):
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

    @classmethod
    def _backend_from_legacy_files(cls, files: dict[str, Path], init_kwargs: dict[str, Any]) -> Tokenizer:
        raise TokenizerError(
            f"{cls.__name__} needs tokenizer.json: building a Mistral tokenizer from the sentencepiece "
            f"file {files.get('vocab_file')} alone is not supported by autohub-mistral"
        )

    def _configure_backend(self, backend: Tokenizer) -> None:
        explicit = "add_bos_token" in self.init_kwargs or "add_eos_token" in self.init_kwargs
        if explicit or backend.post_processor is None:
            backend.post_processor = _bos_eos_template(self)


def _bos_eos_template(tokenizer: PreTrainedTokenizer) -> processors.TemplateProcessing:
    """transformers' template: ``[bos] $A [eos]`` (and ``[bos] $B [eos]`` for pairs), per the flags."""
    add_bos = bool(tokenizer.init_kwargs.get("add_bos_token", False)) and tokenizer.bos_token is not None
    add_eos = bool(tokenizer.init_kwargs.get("add_eos_token", False)) and tokenizer.eos_token is not None
    bos, eos = str(tokenizer.bos_token), str(tokenizer.eos_token)
    single = f"{bos + ':0 ' if add_bos else ''}$A:0{' ' + eos + ':0' if add_eos else ''}"
    pair = f"{single}{' ' + bos + ':1' if add_bos else ''} $B:1{' ' + eos + ':1' if add_eos else ''}"
    special_tokens = []
    if add_bos:
        special_tokens.append((bos, tokenizer.bos_token_id))
    if add_eos:
        special_tokens.append((eos, tokenizer.eos_token_id))
    return processors.TemplateProcessing(single=single, pair=pair, special_tokens=special_tokens)
