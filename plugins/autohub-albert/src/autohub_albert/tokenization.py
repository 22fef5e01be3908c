"""ALBERT's tokenizer: a SentencePiece Unigram model with ``[CLS] … [SEP]`` around each sequence.

The pipeline is the one transformers 5's ``AlbertTokenizer`` builds, whether the vocabulary comes
from tokenizer.json or from the legacy ``spiece.model``: `````` and ``''`` become ``"``, accents
are stripped (NFKD then removing combining marks) unless ``keep_accents``, the text is lowercased
with ``do_lower_case``, then SentencePiece's precompiled normaliser (when the model has one);
whitespace splitting then ``Metaspace`` (``▁`` prepended to every word with ``add_prefix_space``),
and a ``Metaspace`` decoder. The template adds ``[CLS]`` and ``[SEP]`` (pairs: ``[CLS] A [SEP] B
[SEP]``, B with token type 1) unless tokenizer.json has its own post-processor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers, processors

from autohub_core.sentencepiece import (
    SPIECE_UNDERLINE,
    SentencePieceLayout,
    precompiled_charsmap,
    tokenizer_from_sentencepiece,
)
from autohub_core.tokenization import SPECIAL_TOKENS_ATTRIBUTES, PreTrainedTokenizer

__all__ = ["AlbertTokenizer"]


class AlbertTokenizer(PreTrainedTokenizer):
    """ALBERT Unigram tokenizer; loads ``tokenizer.json`` or, without it, ``spiece.model``.

    Options (from tokenizer_config.json or keyword arguments): ``do_lower_case`` (default True),
    ``keep_accents`` (default False), ``add_prefix_space`` (default True). As in transformers, they
    set the normaliser and pre-tokenizer even when tokenizer.json has its own. Like transformers 5,
    the tokenizer returns no ``token_type_ids`` unless asked (``return_token_type_ids=True``).
    """

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": "spiece.model"}
    model_input_names: ClassVar[list[str]] = ["input_ids", "attention_mask"]
    default_special_tokens: ClassVar[dict[str, str]] = {
        "bos_token": "[CLS]",
        "eos_token": "[SEP]",
        "unk_token": "<unk>",
        "sep_token": "[SEP]",
        "pad_token": "<pad>",
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
    }
    default_init_kwargs: ClassVar[dict[str, Any]] = {
        "do_lower_case": True,
        "keep_accents": False,
        "add_prefix_space": True,
        "trim_offsets": True,
    }
    #: transformers reads spiece.model as a Unigram without byte fallback whose unknown id is 1.
    sentencepiece_layout: ClassVar[SentencePieceLayout] = SentencePieceLayout(
        model="unigram", byte_fallback=False, unk_id=1
    )

    @classmethod
    def _backend_from_legacy_files(cls, files: dict[str, Path], init_kwargs: dict[str, Any]) -> Tokenizer:
        """A Unigram over the pieces and scores of ``spiece.model``; its control and user-defined
        pieces are added tokens, special when they are named special tokens (a user-defined
        ``[MASK]``), as transformers marks them. :meth:`_configure_backend` sets the rest of the
        pipeline."""
        backend = tokenizer_from_sentencepiece(files["vocab_file"], cls.sentencepiece_layout)
        named = {str(init_kwargs[name]) for name in SPECIAL_TOKENS_ATTRIBUTES if init_kwargs.get(name)}
        plain = [token for token in backend.get_added_tokens_decoder().values() if not token.special]
        backend.add_special_tokens(
            [
                AddedToken(token.content, normalized=False, special=True)
                for token in plain
                if token.content in named
            ]
        )
        return backend

    def _configure_backend(self, backend: Tokenizer) -> None:
        """Set transformers' ALBERT pipeline from the options; of a tokenizer.json's normaliser only the
        precompiled charsmap is kept, of its pipeline only the post-processor."""
        steps = [normalizers.Replace("``", '"'), normalizers.Replace("''", '"')]
        if not self.init_kwargs["keep_accents"]:
            steps += [normalizers.NFKD(), normalizers.StripAccents()]
        if self.init_kwargs["do_lower_case"]:
            steps.append(normalizers.Lowercase())
        charsmap = precompiled_charsmap(backend.normalizer)
        if charsmap:
            steps.append(normalizers.Precompiled(charsmap))
        backend.normalizer = normalizers.Sequence(steps)
        prepend_scheme = "always" if self.init_kwargs["add_prefix_space"] else "never"
        backend.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.WhitespaceSplit(),
                pre_tokenizers.Metaspace(replacement=SPIECE_UNDERLINE, prepend_scheme=prepend_scheme),
            ]
        )
        backend.decoder = decoders.Metaspace(replacement=SPIECE_UNDERLINE, prepend_scheme=prepend_scheme)
        cls, sep = self.cls_token, self.sep_token
        if backend.post_processor is not None or cls is None or sep is None:
            return
        backend.post_processor = processors.TemplateProcessing(
            single="[CLS]:0 $A:0 [SEP]:0",
            pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
            special_tokens=[("[CLS]", self.cls_token_id), ("[SEP]", self.sep_token_id)],
        )
