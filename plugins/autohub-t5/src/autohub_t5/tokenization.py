"""T5's tokenizer: a SentencePiece Unigram model with ``<extra_id_N>`` sentinels and ``… </s>``.

The pipeline is the one transformers' ``T5Tokenizer`` builds, whether the vocabulary comes
from tokenizer.json or from the legacy ``spiece.model``: SentencePiece's precompiled
normaliser (when the model has one), whitespace splitting then ``Metaspace`` (``▁`` prepended
to every word), a ``Metaspace`` decoder, and ``</s>`` appended after each sequence.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors

from autohub_core.errors import TokenizerError
from autohub_core.sentencepiece import (
    SPIECE_UNDERLINE,
    SentencePieceLayout,
    precompiled_charsmap,
    tokenizer_from_sentencepiece,
)
from autohub_core.tokenization import PreTrainedTokenizer

__all__ = ["T5Tokenizer"]


def _sentinel(index: int) -> str:
    return f"<extra_id_{index}>"


class T5Tokenizer(PreTrainedTokenizer):
    """T5 Unigram tokenizer; loads ``tokenizer.json`` or, without it, ``spiece.model``.

    ``extra_ids`` (default 100) sentinel tokens ``<extra_id_0>`` … are special tokens; from
    ``spiece.model`` they are appended to the vocabulary in reverse order, so
    ``<extra_id_0>`` gets the last id, as in the original T5 vocabulary.
    """

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": "spiece.model"}
    model_input_names: ClassVar[list[str]] = ["input_ids", "attention_mask"]
    default_special_tokens: ClassVar[dict[str, str]] = {
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
    }
    default_init_kwargs: ClassVar[dict[str, Any]] = {"extra_ids": 100}
    #: transformers reads every spiece.model as a Unigram without byte fallback; the sentinels
    #: are appended per tokenizer (their number is the ``extra_ids`` option).
    sentencepiece_layout: ClassVar[SentencePieceLayout] = SentencePieceLayout(
        model="unigram", byte_fallback=False
    )

    def __init__(self, tokenizer_object: Tokenizer | None = None, **kwargs: Any) -> None:
        extra_ids = int(kwargs.get("extra_ids", self.default_init_kwargs["extra_ids"]))
        kwargs["extra_ids"] = extra_ids
        given = kwargs.pop("extra_special_tokens", None) or kwargs.pop("additional_special_tokens", None)
        special = list(given.values()) if isinstance(given, dict) else list(given or [])
        sentinels = [token for token in special if "<extra_id_" in str(token)]
        if not sentinels:
            special += [_sentinel(index) for index in range(extra_ids)]
        elif extra_ids > 0 and extra_ids != len(sentinels):
            raise TokenizerError(
                f"extra_ids ({extra_ids}) disagrees with the {len(sentinels)} <extra_id_N> tokens of "
                "additional_special_tokens; pass one of them"
            )
        super().__init__(tokenizer_object, additional_special_tokens=special, **kwargs)

    @classmethod
    def _backend_from_legacy_files(cls, files: dict[str, Path], init_kwargs: dict[str, Any]) -> Tokenizer:
        """A Unigram over the pieces and scores of ``spiece.model`` then the sentinels, last first;
        its control and user-defined pieces are added tokens. :meth:`_configure_backend` sets the
        rest of the pipeline."""
        sentinels = tuple(_sentinel(index) for index in reversed(range(int(init_kwargs["extra_ids"]))))
        layout = dataclasses.replace(cls.sentencepiece_layout, trailing_pieces=sentinels)
        return tokenizer_from_sentencepiece(files["vocab_file"], layout)

    def _configure_backend(self, backend: Tokenizer) -> None:
        """Set transformers' T5 pipeline: only the precompiled normaliser of a tokenizer.json is kept."""
        charsmap = precompiled_charsmap(backend.normalizer)
        backend.normalizer = normalizers.Precompiled(charsmap) if charsmap else None
        backend.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.WhitespaceSplit(),
                pre_tokenizers.Metaspace(replacement=SPIECE_UNDERLINE, prepend_scheme="always", split=True),
            ]
        )
        backend.decoder = decoders.Metaspace(
            replacement=SPIECE_UNDERLINE, prepend_scheme="always", split=True
        )
        eos = self.eos_token
        if eos is None:
            backend.post_processor = None
            return
        backend.post_processor = processors.TemplateProcessing(
            single=["$A", str(eos)],
            pair=["$A", str(eos), "$B", str(eos)],
            special_tokens=[(str(eos), self.eos_token_id)],
        )

    def get_sentinel_tokens(self) -> list[str]:
        """The ``<extra_id_N>`` tokens among the additional special tokens."""
        return [token for token in self.additional_special_tokens if token.startswith("<extra_id_")]

    def get_sentinel_token_ids(self) -> list[int]:
        """The ids of :meth:`get_sentinel_tokens`."""
        return self.convert_tokens_to_ids(self.get_sentinel_tokens())
