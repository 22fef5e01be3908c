"""SentencePiece ``.model`` files turned into a :class:`tokenizers.Tokenizer`, as transformers does.

Checkpoints without a tokenizer.json may ship only a SentencePiece model (``tokenizer.model``,
``spiece.model``, ``sentencepiece.bpe.model``). A family converts it by calling
:func:`tokenizer_from_sentencepiece` from its ``_backend_from_legacy_files`` with a
:class:`SentencePieceLayout`, the data saying how its vocabulary is laid out; the family's
``_configure_backend`` then sets whatever pipeline it owns.

The result is what transformers 5's generic backend builds from the same file: the model
(BPE with merges derived from the piece ids, or Unigram with the piece scores), the control and
user-defined pieces as added tokens, the model's precompiled normaliser followed by spaces → ``▁``
(no pre-tokenizer, and no ``▁`` prepended: transformers ignores ``add_dummy_prefix``), and a
decoder turning ``▁`` back into spaces (and byte pieces into bytes with byte fallback).

Reading the file needs ``sentencepiece`` and ``protobuf``, imported only when a file is read.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path
from typing import Any, Literal

from tokenizers import AddedToken, Tokenizer, decoders, normalizers
from tokenizers.models import BPE, Unigram

from autohub_core import limits
from autohub_core.errors import MissingExtraError, TokenizerError

__all__ = [
    "SPIECE_UNDERLINE",
    "SentencePieceLayout",
    "precompiled_charsmap",
    "special_pieces",
    "tokenizer_from_sentencepiece",
]

#: SentencePiece's stand-in for a space.
SPIECE_UNDERLINE = "▁"

# Enum values of sentencepiece_model.proto.
_UNIGRAM_MODEL = 1
_CONTROL_PIECE = 3
_USER_DEFINED_PIECE = 4


@dataclasses.dataclass(frozen=True)
class SentencePieceLayout:
    """How a family reads a SentencePiece model: declared data, the same for every checkpoint.

    ``model``: the ``tokenizers`` model to build, whatever algorithm trained the file
    (transformers' Llama tokenizer is always BPE, T5's and XLM-R's always Unigram); ``None``
    follows the file. ``byte_fallback``: forced on or off; ``None`` follows the file.
    ``bpe_knows_unk``: whether a BPE model gets the file's unknown piece (transformers' Llama
    tokenizer builds its BPE without one). ``leading_pieces`` replace the file's first
    ``replaced_pieces`` pieces (fairseq's ``<s> <pad> </s> <unk>``); ``trailing_pieces`` are
    appended after the file's (T5's sentinels, XLM-R's ``<mask>``), all with score 0.
    ``unk_id``: Unigram's unknown id in the final vocabulary; ``None`` is the file's.
    """

    model: Literal["bpe", "unigram"] | None = None
    byte_fallback: bool | None = None
    bpe_knows_unk: bool = True
    replaced_pieces: int = 0
    leading_pieces: tuple[str, ...] = ()
    trailing_pieces: tuple[str, ...] = ()
    unk_id: int | None = None


def special_pieces(path: Path) -> dict[str, str]:
    """``unk_token`` / ``bos_token`` / ``eos_token`` / ``pad_token``: the pieces the SentencePiece
    model at ``path`` declares for them (those it has)."""
    trainer_spec = _read_model_proto(Path(path)).trainer_spec
    declared = {
        "unk_token": (trainer_spec.unk_id, trainer_spec.unk_piece),
        "bos_token": (trainer_spec.bos_id, trainer_spec.bos_piece),
        "eos_token": (trainer_spec.eos_id, trainer_spec.eos_piece),
        "pad_token": (trainer_spec.pad_id, trainer_spec.pad_piece),
    }
    return {name: piece for name, (piece_id, piece) in declared.items() if piece_id >= 0 and piece}


def tokenizer_from_sentencepiece(path: Path, layout: SentencePieceLayout) -> Tokenizer:
    """Build the Rust tokenizer of the SentencePiece model at ``path`` laid out as ``layout`` says."""
    proto = _read_model_proto(Path(path))
    trainer_spec = proto.trainer_spec
    file_pieces = list(proto.pieces)[layout.replaced_pieces :]
    vocab = [(piece, 0.0) for piece in layout.leading_pieces]
    vocab += [(piece.piece, piece.score) for piece in file_pieces]
    vocab += [(piece, 0.0) for piece in layout.trailing_pieces]
    byte_fallback = trainer_spec.byte_fallback if layout.byte_fallback is None else layout.byte_fallback
    model = layout.model or ("unigram" if trainer_spec.model_type == _UNIGRAM_MODEL else "bpe")
    if model == "unigram":
        unk_id = trainer_spec.unk_id if layout.unk_id is None else layout.unk_id
        backend = Tokenizer(Unigram(vocab, unk_id=unk_id, byte_fallback=byte_fallback))
    else:
        ids = {piece: index for index, (piece, _) in enumerate(vocab)}
        backend = Tokenizer(
            BPE(
                ids,
                _merges_by_piece_id(ids),
                unk_token=trainer_spec.unk_piece if layout.bpe_knows_unk else None,
                fuse_unk=True,
                byte_fallback=byte_fallback,
                dropout=None,
            )
        )
    backend.add_tokens(
        [
            AddedToken(piece.piece, normalized=False, special=piece.type == _CONTROL_PIECE)
            for piece in file_pieces
            if piece.type in (_CONTROL_PIECE, _USER_DEFINED_PIECE)
        ]
    )
    steps = [normalizers.Replace(" ", SPIECE_UNDERLINE)]
    charsmap = proto.normalizer_spec.precompiled_charsmap
    if charsmap:
        steps.insert(0, normalizers.Precompiled(charsmap))
    backend.normalizer = normalizers.Sequence(steps)
    decoding = [decoders.Replace(SPIECE_UNDERLINE, " ")]
    if byte_fallback:
        decoding += [decoders.ByteFallback(), decoders.Fuse()]
    backend.decoder = decoders.Sequence(decoding)
    return backend


def precompiled_charsmap(normalizer: normalizers.Normalizer | None) -> bytes | None:
    """The charsmap of a ``Precompiled`` normaliser (alone or in a ``Sequence``), if there is one.

    Families that rebuild their pipeline keep only this part of a tokenizer.json's (or a
    converted model's) normaliser, as transformers does.
    """
    if normalizer is None:
        return None
    state = json.loads(normalizer.__getstate__())
    candidates = state.get("normalizers", []) if state.get("type") == "Sequence" else [state]
    for candidate in candidates:
        if candidate.get("type") == "Precompiled" and candidate.get("precompiled_charsmap"):
            return base64.b64decode(candidate["precompiled_charsmap"])
    return None


def _merges_by_piece_id(ids: dict[str, int]) -> list[tuple[str, str]]:
    """BPE merges recovered from the vocabulary alone, as transformers derives them.

    Every split of a piece into two pieces of the vocabulary is a merge; merges producing a
    lower id come first (SentencePiece numbers BPE pieces in merge order), then shorter left parts.
    """
    ranked = [
        (merged_id, split, (piece[:split], piece[split:]))
        for piece, merged_id in ids.items()
        for split in range(1, len(piece))
        if piece[:split] in ids and piece[split:] in ids
    ]
    ranked.sort(key=lambda entry: (entry[0], entry[1]))
    return [merge for _, _, merge in ranked]


def _read_model_proto(path: Path) -> Any:
    """The ``ModelProto`` of a SentencePiece model file (sentencepiece's own protobuf module), read
    only when its size is within ``max_tokenizer_file_bytes``."""
    try:
        limits.check_file_size(path)
    except OSError as error:
        raise TokenizerError(f"cannot read the SentencePiece model {path}: {error}") from error
    try:
        from google.protobuf.message import DecodeError
        from sentencepiece import sentencepiece_model_pb2
    except ImportError as error:
        raise MissingExtraError(
            f"reading the SentencePiece model {path} (there is no tokenizer.json) needs the "
            "sentencepiece and protobuf packages: pip install sentencepiece protobuf"
        ) from error
    proto = sentencepiece_model_pb2.ModelProto()
    try:
        proto.ParseFromString(path.read_bytes())
    except (OSError, DecodeError) as error:
        raise TokenizerError(
            f"{path} is not a readable SentencePiece model (and there is no tokenizer.json): {error}"
        ) from error
    if not proto.pieces:
        raise TokenizerError(
            f"{path} is not a readable SentencePiece model (and there is no tokenizer.json): no pieces"
        )
    return proto
