"""RoBERTa's byte-level BPE tokenizer and XLM-RoBERTa's SentencePiece Unigram tokenizer.

Both load ``tokenizer.json`` when there is one, otherwise their legacy files:
``vocab.json`` + ``merges.txt`` (RoBERTa) or ``sentencepiece.bpe.model`` (XLM-RoBERTa). Both frame
sequences as ``<s> A </s>`` and pairs as ``<s> A </s></s> B </s>``, and take only
``input_ids`` and ``attention_mask`` (no token type ids). ``<mask>`` swallows the space before it
(``lstrip=True``) unless the files say otherwise, as in transformers' fast tokenizers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import BPE, Unigram

from autohub_core.errors import TokenizerError
from autohub_core.tokenization import PreTrainedTokenizer

__all__ = ["RobertaTokenizer", "XLMRobertaTokenizer"]

#: SentencePiece's replacement for spaces.
_SPIECE_SPACE = "▁"


class _FairseqTokenizer(PreTrainedTokenizer):
    """What RoBERTa and XLM-RoBERTa share: fairseq's special tokens, a left-stripping ``<mask>``."""

    model_input_names: ClassVar[list[str]] = ["input_ids", "attention_mask"]
    default_special_tokens: ClassVar[dict[str, str]] = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }

    def __init__(self, tokenizer_object: Tokenizer | None = None, **kwargs: Any) -> None:
        # As transformers' fast tokenizers: a mask token given as a plain string absorbs the space before it.
        mask_token = kwargs.get("mask_token", self.default_special_tokens["mask_token"])
        if isinstance(mask_token, str):
            kwargs["mask_token"] = AddedToken(
                mask_token, lstrip=True, rstrip=False, normalized=False, special=True
            )
        super().__init__(tokenizer_object, **kwargs)


class RobertaTokenizer(_FairseqTokenizer):
    """RoBERTa byte-level BPE tokenizer; loads ``tokenizer.json`` or, without it, ``vocab.json`` + ``merges.txt``.

    Options (from tokenizer_config.json or keyword arguments): ``add_prefix_space`` (treat the
    first word like any other, default False) and ``trim_offsets`` (offsets exclude the leading
    space, default True). As in transformers, they set the pre-tokenizer and post-processor
    even when tokenizer.json has its own.
    """

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": "vocab.json", "merges_file": "merges.txt"}
    default_init_kwargs: ClassVar[dict[str, Any]] = {"add_prefix_space": False, "trim_offsets": True}

    @classmethod
    def _backend_from_legacy_files(cls, files: dict[str, Path], init_kwargs: dict[str, Any]) -> Tokenizer:
        """Byte-level BPE over vocab.json (token -> id) and merges.txt; the rest is set by :meth:`_configure_backend`."""
        vocab, merges = BPE.read_file(str(files["vocab_file"]), str(files["merges_file"]))
        return Tokenizer(
            BPE(
                vocab,
                merges,
                dropout=None,
                continuing_subword_prefix="",
                end_of_word_suffix="",
                fuse_unk=False,
            )
        )

    def _configure_backend(self, backend: Tokenizer) -> None:
        """Byte-level pre-tokenizer and decoder, and the ``<s> A </s></s> B </s>`` post-processor."""
        add_prefix_space = bool(self.init_kwargs["add_prefix_space"])
        trim_offsets = bool(self.init_kwargs["trim_offsets"])
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
        backend.decoder = decoders.ByteLevel()
        cls, sep = self.cls_token, self.sep_token
        if cls is None or sep is None:
            return
        backend.post_processor = processors.RobertaProcessing(
            (sep, self.sep_token_id),
            (cls, self.cls_token_id),
            trim_offsets=trim_offsets,
            add_prefix_space=add_prefix_space,
        )


class XLMRobertaTokenizer(_FairseqTokenizer):
    """XLM-RoBERTa SentencePiece (Unigram) tokenizer; loads ``tokenizer.json`` or ``sentencepiece.bpe.model``.

    From the SentencePiece model, ids follow fairseq: ``<s>=0, <pad>=1, </s>=2, <unk>=3``, every
    other piece shifted by one, and ``<mask>`` last. The option ``add_prefix_space`` (default
    True) prepends ``▁`` to the text when building from the SentencePiece model.
    """

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": "sentencepiece.bpe.model"}
    default_init_kwargs: ClassVar[dict[str, Any]] = {"add_prefix_space": True}

    @classmethod
    def _backend_from_legacy_files(cls, files: dict[str, Path], init_kwargs: dict[str, Any]) -> Tokenizer:
        """Unigram over the SentencePiece pieces in fairseq order, the model's normalizer, Metaspace."""
        proto = _read_sentencepiece_model(files["vocab_file"])
        if proto.trainer_spec.model_type != 1:  # 1 is UNIGRAM in sentencepiece_model.proto
            raise TokenizerError(
                f"{files['vocab_file']} is not a Unigram SentencePiece model (model_type "
                f"{proto.trainer_spec.model_type}); XLM-RoBERTa needs one"
            )

        special = cls.default_special_tokens
        # The model's own first three pieces (<unk>, <s>, </s>) give way to fairseq's four.
        vocab = [(special[name], 0.0) for name in ("bos_token", "pad_token", "eos_token", "unk_token")]
        vocab += [(piece.piece, piece.score) for piece in proto.pieces[3:]]
        vocab.append((special["mask_token"], 0.0))
        backend = Tokenizer(Unigram(vocab, unk_id=3, byte_fallback=False))

        # Control (3) and user-defined (4) pieces are added tokens; control ones are special.
        backend.add_tokens(
            [
                AddedToken(piece.piece, normalized=False, special=piece.type == 3)
                for piece in proto.pieces[3:]
                if piece.type in (3, 4)
            ]
        )
        # SentencePiece's character normalisation; whitespace is split off before Metaspace, so
        # offsets exclude the spaces (transformers' XLMRobertaTokenizer builds the same pipeline).
        charsmap = proto.normalizer_spec.precompiled_charsmap
        if charsmap:
            backend.normalizer = normalizers.Precompiled(charsmap)
        prepend_scheme = "always" if init_kwargs.get("add_prefix_space", True) else "never"
        backend.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.WhitespaceSplit(),
                pre_tokenizers.Metaspace(replacement=_SPIECE_SPACE, prepend_scheme=prepend_scheme),
            ]
        )
        backend.decoder = decoders.Metaspace(replacement=_SPIECE_SPACE, prepend_scheme=prepend_scheme)
        return backend

    def _configure_backend(self, backend: Tokenizer) -> None:
        """The ``<s> A </s> </s> B </s>`` template (every token type 0) from ``cls_token``/``sep_token``."""
        cls, sep = self.cls_token, self.sep_token
        if cls is None or sep is None:
            return
        backend.post_processor = processors.TemplateProcessing(
            single=f"{cls} $A {sep}",
            pair=f"{cls} $A {sep} {sep} $B {sep}",
            special_tokens=[(cls, self.cls_token_id), (sep, self.sep_token_id)],
        )


def _read_sentencepiece_model(path: Path) -> Any:
    """The ``ModelProto`` of a SentencePiece model file, parsed with sentencepiece's own protobuf module."""
    from google.protobuf.message import DecodeError
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    try:
        proto.ParseFromString(Path(path).read_bytes())
    except (OSError, DecodeError) as error:
        raise TokenizerError(f"{path} is not a readable SentencePiece model: {error}") from error
    if len(proto.pieces) < 3:
        raise TokenizerError(f"{path} is not a readable SentencePiece model: it has no vocabulary")
    return proto
