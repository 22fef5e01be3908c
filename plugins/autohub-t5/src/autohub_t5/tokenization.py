"""T5's tokenizer: a SentencePiece Unigram model with ``<extra_id_N>`` sentinels and ``… </s>``.

The pipeline is the one transformers' ``T5Tokenizer`` builds, whether the vocabulary comes
from tokenizer.json or from the legacy ``spiece.model``: SentencePiece's precompiled
normaliser (when the model has one), whitespace splitting then ``Metaspace`` (``▁`` prepended
to every word), a ``Metaspace`` decoder, and ``</s>`` appended after each sequence.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, ClassVar

from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram

from autohub_core.errors import TokenizerError
from autohub_core.tokenization import PreTrainedTokenizer

__all__ = ["T5Tokenizer"]

_CONTROL_PIECE = 3  # sentencepiece ModelProto.SentencePiece.Type.CONTROL
_USER_DEFINED_PIECE = 4  # ModelProto.SentencePiece.Type.USER_DEFINED


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
        """A Unigram model over the pieces and scores of ``spiece.model`` plus the sentinels; its
        control and user-defined pieces become added tokens. The rest of the pipeline is set
        by :meth:`_configure_backend`."""
        from sentencepiece import sentencepiece_model_pb2

        proto = sentencepiece_model_pb2.ModelProto()
        try:
            proto.ParseFromString(files["vocab_file"].read_bytes())
        except Exception as error:  # protobuf raises its own DecodeError
            raise TokenizerError(f"{files['vocab_file']} is not a SentencePiece model: {error}") from error
        if proto.trainer_spec.model_type != 1:
            raise TokenizerError(f"{files['vocab_file']} is not a Unigram SentencePiece model")
        vocab = [(piece.piece, piece.score) for piece in proto.pieces]
        extra_ids = int(init_kwargs["extra_ids"])
        vocab += [(_sentinel(index), 0.0) for index in reversed(range(extra_ids))]
        backend = Tokenizer(Unigram(vocab, unk_id=proto.trainer_spec.unk_id, byte_fallback=False))
        charsmap = proto.normalizer_spec.precompiled_charsmap
        if charsmap:
            backend.normalizer = normalizers.Precompiled(charsmap)
        added = [
            AddedToken(piece.piece, normalized=False, special=piece.type == _CONTROL_PIECE)
            for piece in proto.pieces
            if piece.type in (_CONTROL_PIECE, _USER_DEFINED_PIECE)
        ]
        backend.add_tokens(added)
        return backend

    def _configure_backend(self, backend: Tokenizer) -> None:
        """Set transformers' T5 pipeline: only the precompiled normaliser of a tokenizer.json is kept."""
        normalizer = json.loads(backend.to_str()).get("normalizer")
        charsmap = _precompiled_charsmap(normalizer)
        backend.normalizer = normalizers.Precompiled(base64.b64decode(charsmap)) if charsmap else None
        backend.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.WhitespaceSplit(),
                pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
            ]
        )
        backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
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


def _precompiled_charsmap(normalizer: dict[str, Any] | None) -> str | None:
    """The base64 charsmap of a ``Precompiled`` normaliser (alone or in a ``Sequence``), if any."""
    if not normalizer:
        return None
    candidates = normalizer.get("normalizers", []) if normalizer.get("type") == "Sequence" else [normalizer]
    for candidate in candidates:
        if candidate.get("type") == "Precompiled" and candidate.get("precompiled_charsmap"):
            return candidate["precompiled_charsmap"]
    return None
