"""Llama's tokenizer: a SentencePiece BPE with byte fallback, left padding, ``<s>`` / ``</s>`` / ``<unk>``.

It loads the checkpoint's tokenizer.json or, without one, the SentencePiece ``tokenizer.model``.
Either way the pipeline is the one transformers 5's ``LlamaTokenizer`` builds around the
vocabulary and merges, whatever pipeline the tokenizer.json itself describes (the Hub's files
have ``Prepend("▁")`` + ``Replace(" ", "▁")`` normalisers or a ``Metaspace`` pre-tokenizer):

- no normaliser; a ``Metaspace`` pre-tokenizer that turns spaces into ``▁`` and prepends one
  ``▁`` to the text (``add_prefix_space``, default True) — before the first piece only, or with
  ``legacy=True`` also after every special token inside the text; nothing with
  ``add_prefix_space=False``;
- a decoder that turns ``▁`` back into spaces and byte pieces into bytes, and drops the
  prepended space;
- a BPE with byte fallback and no unknown token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from tokenizers import Tokenizer, decoders, pre_tokenizers
from tokenizers.models import BPE

from autohub_core.sentencepiece import SPIECE_UNDERLINE, SentencePieceLayout, tokenizer_from_sentencepiece
from autohub_core.tokenization import BosEosTemplateTokenizer

__all__ = ["LlamaTokenizer"]


class LlamaTokenizer(BosEosTemplateTokenizer):
    """Llama tokenizer over ``tokenizer.json`` or ``tokenizer.model`` (pads on the left).

    Options (tokenizer_config.json or keyword arguments): ``add_prefix_space`` and ``legacy``
    (see the module docstring); ``add_bos_token`` / ``add_eos_token`` rebuild the template that
    adds ``bos_token`` / ``eos_token``, otherwise the template of tokenizer.json is kept. A
    tokenizer.json with a byte-level pipeline (Llama 3 style) keeps its own pipeline, as
    transformers then loads it with its generic tokenizer.
    """

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": "tokenizer.model"}
    padding_side = "left"
    #: transformers 5 maps model_type llama to no tokenizer: a checkpoint whose tokenizer_config.json
    #: names no class gets the generic ``TokenizersBackend``, and so does it here.
    only_when_named: ClassVar[bool] = True
    default_special_tokens: ClassVar[dict[str, str]] = {
        "unk_token": "<unk>",
        "bos_token": "<s>",
        "eos_token": "</s>",
    }
    #: transformers' LlamaTokenizer reads every SentencePiece model as a byte-fallback BPE.
    sentencepiece_layout: ClassVar[SentencePieceLayout] = SentencePieceLayout(
        model="bpe", byte_fallback=True, bpe_knows_unk=False
    )

    @classmethod
    def _backend_from_legacy_files(cls, files: dict[str, Path], init_kwargs: dict[str, Any]) -> Tokenizer:
        """The BPE of ``tokenizer.model``; :meth:`_configure_backend` sets the pipeline."""
        return tokenizer_from_sentencepiece(files["vocab_file"], cls.sentencepiece_layout)

    def _configure_backend(self, backend: Tokenizer) -> None:
        """Set the template, then transformers' Llama pipeline and BPE options."""
        super()._configure_backend(backend)
        if _is_byte_level(backend):
            return
        add_prefix_space = self.init_kwargs.get("add_prefix_space")
        add_prefix_space = True if add_prefix_space is None else bool(add_prefix_space)
        if not add_prefix_space:
            prepend_scheme = "never"
        else:
            prepend_scheme = "always" if self.init_kwargs.get("legacy", False) else "first"
        backend.normalizer = None
        backend.pre_tokenizer = pre_tokenizers.Metaspace(
            replacement=SPIECE_UNDERLINE, prepend_scheme=prepend_scheme, split=False
        )
        steps = [decoders.Replace(SPIECE_UNDERLINE, " "), decoders.ByteFallback(), decoders.Fuse()]
        if add_prefix_space:
            steps.append(decoders.Strip(content=" ", left=1, right=0))
        backend.decoder = decoders.Sequence(steps)
        model = backend.model
        if isinstance(model, BPE):
            model.byte_fallback = True
            model.fuse_unk = True
            model.unk_token = None
            model.dropout = None


def _is_byte_level(backend: Tokenizer) -> bool:
    """Whether the pre-tokenizer or decoder is byte-level (anywhere in a sequence)."""
    return any(
        component is not None and '"ByteLevel"' in component.__getstate__().decode("utf-8")
        for component in (backend.pre_tokenizer, backend.decoder)
    )
