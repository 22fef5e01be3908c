"""CLIP's tokenizer: lower-cased byte-level BPE whose word-final pieces end in ``</w>``.

As transformers 5's ``CLIPTokenizer``: a BPE model over the vocabulary and merges (of
tokenizer.json, or of vocab.json + merges.txt) with ``end_of_word_suffix="</w>"`` and
``<|endoftext|>`` as unknown token; the normalizer NFC, whitespace runs to one space, lower case;
the pre-tokenizer CLIP's regex (special tokens, contractions, letter runs, single digits,
punctuation runs) then byte-level; ``<|startoftext|> A <|endoftext|>`` framing (pairs as RoBERTa's)
without offset trimming; decoding maps ``</w>`` back to a space and strips the ends. These parts
are set from code whatever tokenizer.json says, as transformers does. ``pad_token`` is
``<|endoftext|>``, as in OpenAI's checkpoints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import BPE

from autohub_core.errors import TokenizerError
from autohub_core.tokenization import PreTrainedTokenizer

__all__ = ["CLIPTokenizer"]

END_OF_WORD = "</w>"
#: CLIP's word splitting (the openai/CLIP ``bpe_simple_vocab`` pattern, as transformers writes it).
SPLIT_PATTERN = (
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
)


class CLIPTokenizer(PreTrainedTokenizer):
    """CLIP BPE tokenizer; loads ``tokenizer.json`` or, without it, ``vocab.json`` + ``merges.txt``."""

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": "vocab.json", "merges_file": "merges.txt"}
    model_input_names: ClassVar[list[str]] = ["input_ids", "attention_mask"]
    default_special_tokens: ClassVar[dict[str, str]] = {
        "unk_token": "<|endoftext|>",
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
    }

    @classmethod
    def _backend_from_legacy_files(cls, files: dict[str, Path], init_kwargs: dict[str, Any]) -> Tokenizer:
        """A BPE model over vocab.json (token -> id) and merges.txt (``#version`` line, then ``a b`` pairs)."""
        vocab, merges = BPE.read_file(str(files["vocab_file"]), str(files["merges_file"]))
        return Tokenizer(BPE(vocab, merges, unk_token=str(init_kwargs.get("unk_token") or "<|endoftext|>")))

    def _configure_backend(self, backend: Tokenizer) -> None:
        """Set CLIP's BPE options, normalizer, pre-tokenizer, decoder and framing."""
        model = backend.model
        if not isinstance(model, BPE):
            raise TokenizerError(
                f"{self.name_or_path or 'tokenizer.json'}: CLIPTokenizer needs a BPE model, "
                f"got {type(model).__name__}"
            )
        model.dropout = None
        model.continuing_subword_prefix = ""
        model.end_of_word_suffix = END_OF_WORD
        model.fuse_unk = False
        model.unk_token = str(self.unk_token) if self.unk_token is not None else None
        backend.normalizer = normalizers.Sequence(
            [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
        )
        backend.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="removed", invert=True),
                pre_tokenizers.ByteLevel(add_prefix_space=False),
            ]
        )
        backend.decoder = decoders.ByteLevel()
        if self.bos_token is None or self.eos_token is None:
            raise TokenizerError("CLIPTokenizer needs bos_token and eos_token (they frame every text)")
        backend.post_processor = processors.RobertaProcessing(
            (str(self.eos_token), self.eos_token_id),
            (str(self.bos_token), self.bos_token_id),
            trim_offsets=False,
            add_prefix_space=False,
        )

    def _decode_one(
        self, token_ids: Any, skip_special_tokens: bool, clean_up_tokenization_spaces: bool | None
    ) -> str:
        """The byte-level decoding, each ``</w>`` turned into a space, the ends stripped (transformers)."""
        text = super()._decode_one(token_ids, skip_special_tokens, clean_up_tokenization_spaces)
        return text.replace(END_OF_WORD, " ").strip()
