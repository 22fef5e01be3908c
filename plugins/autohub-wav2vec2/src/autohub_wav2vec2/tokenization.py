"""Wav2Vec2's CTC tokenizer: one id per character, ``|`` between words, CTC decoding.

Encoding matches transformers' ``Wav2Vec2CTCTokenizer``: each character is a token, a space
becomes the word delimiter (``|``), characters outside ``vocab.json`` become ``<unk>``, and the
multi-character vocabulary entries (``<pad>``, ``<s>`` ...) are matched whole, eating the spaces
around them. With ``do_lower_case=True`` input letters are upper-cased first (the vocabularies
are upper case) and decoded text is lower-cased.

Decoding is CTC decoding of one id per audio frame: repeated ids collapse into one (ids
separated by a ``<pad>``, the CTC blank, stay apart), ``<pad>`` is dropped, ``|`` becomes a
space, and the text is stripped. ``output_char_offsets`` / ``output_word_offsets`` give each
character's / word's span in frames.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any, ClassVar

from tokenizers import AddedToken, Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel

from autohub_core import limits
from autohub_core.errors import TokenizerError
from autohub_core.tokenization import TOKENIZER_CONFIG_FILE, PreTrainedTokenizer, _clean_up_tokenization

__all__ = ["Wav2Vec2CTCTokenizer", "Wav2Vec2CTCTokenizerOutput"]

VOCAB_FILE = "vocab.json"

#: A character offset: ``{"char": "A", "start_offset": 3, "end_offset": 5}`` (frames, end excluded).
Offset = dict[str, Any]


@dataclass
class Wav2Vec2CTCTokenizerOutput:
    """Decoded text with, on request, character and word offsets in frames (for a batch, one list
    per sequence). Fields are also reachable as keys (``output["text"]``)."""

    text: str | list[str]
    char_offsets: list[Offset] | list[list[Offset]] | None = None
    word_offsets: list[Offset] | list[list[Offset]] | None = None

    def __getitem__(self, key: str) -> Any:
        if key not in ("text", "char_offsets", "word_offsets"):
            raise KeyError(key)
        return getattr(self, key)


def _read_vocab(path: Path, target_lang: str | None) -> tuple[dict[str, Any], dict[str, int]]:
    """The whole vocab.json and the token -> id table to use (``target_lang``'s for a nested,
    multi-lingual vocabulary such as MMS's)."""
    full = limits.read_json(path, TokenizerError, expect=dict)
    nested = bool(full) and all(isinstance(value, dict) for value in full.values())
    if target_lang is not None:
        if not nested or target_lang not in full:
            choices = ", ".join(sorted(full)) if nested else "none: it is not a multi-lingual vocabulary"
            raise TokenizerError(
                f"{path}: target_lang={target_lang!r} is not in the vocabulary (languages: {choices})"
            )
        table = full[target_lang]
    elif nested:
        raise TokenizerError(
            f"{path} is a multi-lingual vocabulary (one table per language): pass target_lang= "
            f"(one of {', '.join(sorted(full)[:10])}{' ...' if len(full) > 10 else ''})"
        )
    else:
        table = full
    for token, index in table.items():
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise TokenizerError(f"{path}: the id of {token!r} must be an integer >= 0, got {index!r}")
    return full, table


class Wav2Vec2CTCTokenizer(PreTrainedTokenizer):
    """The character-level CTC tokenizer of Wav2Vec2 checkpoints (``vocab.json``).

    Options (tokenizer_config.json or keyword arguments): ``word_delimiter_token`` (``"|"``),
    ``replace_word_delimiter_char`` (``" "``), ``do_lower_case`` and ``target_lang`` (the table of
    a multi-lingual vocab.json).
    """

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": VOCAB_FILE}
    default_special_tokens: ClassVar[dict[str, str]] = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
    }
    default_init_kwargs: ClassVar[dict[str, Any]] = {
        "word_delimiter_token": "|",
        "replace_word_delimiter_char": " ",
        "do_lower_case": False,
        "target_lang": None,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        vocab_file = kwargs.get("vocab_file")
        super().__init__(*args, **kwargs)
        if vocab_file:
            self._vocab_json, _ = _read_vocab(Path(vocab_file), self.init_kwargs["target_lang"])
        else:
            self._vocab_json = self._backend.get_vocab(with_added_tokens=False)

    @classmethod
    def _backend_from_legacy_files(cls, files: dict[str, Path], init_kwargs: dict[str, Any]) -> Tokenizer:
        """A word-level model over vocab.json, with its multi-character entries as added tokens
        (stripping the spaces around them) and the word delimiter as a special added token, as
        transformers adds them; the normalizer is set by :meth:`_configure_backend`."""
        _, table = _read_vocab(files["vocab_file"], init_kwargs.get("target_lang"))
        unk_token = str(init_kwargs.get("unk_token") or cls.default_special_tokens["unk_token"])
        backend = Tokenizer(WordLevel(table, unk_token=unk_token))
        backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
        delimiter = init_kwargs.get("word_delimiter_token")
        added = [
            AddedToken(token, lstrip=True, rstrip=True, normalized=False, special=False)
            for token in sorted(table, key=table.__getitem__)
            if len(token) > 1
        ]
        if delimiter is not None:
            added.append(
                AddedToken(str(delimiter), lstrip=False, rstrip=False, normalized=False, special=True)
            )
        backend.add_tokens(added)
        return backend

    def _configure_backend(self, backend: Tokenizer) -> None:
        """Spaces -> the word delimiter; with ``do_lower_case``, the vocabulary's letters upper-cased."""
        steps = []
        if self.init_kwargs["do_lower_case"]:
            vocab = backend.get_vocab(with_added_tokens=False)
            steps += [
                normalizers.Replace(token.lower(), token)
                for token in sorted(vocab)
                if len(token) == 1 and token.lower() != token and token.lower().upper() == token
            ]
        delimiter = self.init_kwargs["word_delimiter_token"]
        if delimiter is not None:
            steps.append(normalizers.Replace(" ", str(delimiter)))
        backend.normalizer = normalizers.Sequence(steps)

    @property
    def word_delimiter_token(self) -> str | None:
        """The token between words (``"|"``)."""
        delimiter = self.init_kwargs["word_delimiter_token"]
        return None if delimiter is None else str(delimiter)

    @property
    def word_delimiter_token_id(self) -> int | None:
        """The id of :attr:`word_delimiter_token`."""
        delimiter = self.word_delimiter_token
        return None if delimiter is None else self.convert_tokens_to_ids(delimiter)

    # ----------------------------------------------------------------- decoding

    def decode(
        self,
        token_ids: Any,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
        output_char_offsets: bool = False,
        output_word_offsets: bool = False,
        group_tokens: bool = True,
        spaces_between_special_tokens: bool = False,
    ) -> str | Wav2Vec2CTCTokenizerOutput:
        """CTC-decode one sequence of ids (one per frame) into text; with ``output_char_offsets`` /
        ``output_word_offsets`` a :class:`Wav2Vec2CTCTokenizerOutput` with the offsets in frames.
        ``group_tokens=False`` keeps repeated ids apart (for ids that are not per-frame)."""
        token_ids = token_ids.tolist() if hasattr(token_ids, "tolist") else token_ids
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        tokens = self._tokens_for_decoding(token_ids, skip_special_tokens)
        text, char_offsets, word_offsets = self._ctc_decode(
            tokens, group_tokens, spaces_between_special_tokens, output_char_offsets, output_word_offsets
        )
        if clean_up_tokenization_spaces is None:
            clean_up_tokenization_spaces = self.clean_up_tokenization_spaces
        if clean_up_tokenization_spaces:
            text = _clean_up_tokenization(text)
        if output_char_offsets or output_word_offsets:
            return Wav2Vec2CTCTokenizerOutput(text=text, char_offsets=char_offsets, word_offsets=word_offsets)
        return text

    def batch_decode(
        self,
        sequences: Any,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
        output_char_offsets: bool = False,
        output_word_offsets: bool = False,
        **kwargs: Any,
    ) -> list[str] | Wav2Vec2CTCTokenizerOutput:
        """:meth:`decode` each sequence of a batch; with offsets, one output whose fields are lists."""
        sequences = sequences.tolist() if hasattr(sequences, "tolist") else sequences
        decoded = [
            self.decode(
                sequence,
                skip_special_tokens,
                clean_up_tokenization_spaces,
                output_char_offsets,
                output_word_offsets,
                **kwargs,
            )
            for sequence in sequences
        ]
        if output_char_offsets or output_word_offsets:
            return Wav2Vec2CTCTokenizerOutput(
                text=[output.text for output in decoded],  # type: ignore[union-attr]
                char_offsets=[output.char_offsets for output in decoded],  # type: ignore[union-attr]
                word_offsets=[output.word_offsets for output in decoded],  # type: ignore[union-attr]
            )
        return decoded  # type: ignore[return-value]

    def _tokens_for_decoding(self, token_ids: Sequence[int], skip_special_tokens: bool) -> list[str]:
        """The token of each id (``unk_token`` for unknown ids), special ones dropped when asked
        (never the word delimiter)."""
        unk = self.unk_token
        tokens = []
        special = set(self.all_special_tokens) if skip_special_tokens else set()
        special.discard(self.word_delimiter_token)
        for index in token_ids:
            token = self._backend.id_to_token(int(index))
            token = unk if token is None else token
            if token not in special:
                tokens.append(token)
        return tokens

    def _ctc_decode(
        self,
        tokens: list[str],
        group_tokens: bool,
        spaces_between_special_tokens: bool,
        output_char_offsets: bool,
        output_word_offsets: bool,
    ) -> tuple[str, list[Offset] | None, list[Offset] | None]:
        """transformers' ``convert_tokens_to_string``: the text, and the offsets when asked."""
        if not tokens:
            return "", [], []
        if group_tokens:
            chars, repetitions = zip(
                *((token, len(list(group))) for token, group in groupby(tokens)), strict=True
            )
        else:
            chars, repetitions = tuple(tokens), (1,) * len(tokens)
        pad = self.pad_token
        replacement = self.init_kwargs["replace_word_delimiter_char"]
        kept = [replacement if char == self.word_delimiter_token else char for char in chars if char != pad]
        char_offsets = word_offsets = None
        if output_char_offsets or output_word_offsets:
            char_offsets = []
            end = 0
            for char, count in zip(chars, repetitions, strict=True):
                start, end = end, end + count
                if char != pad:
                    char_offsets.append({"char": char, "start_offset": start, "end_offset": end})
            for offset, char in zip(char_offsets, kept, strict=True):
                offset["char"] = char
            if output_word_offsets:
                word_offsets = _word_offsets(char_offsets, replacement)
            if not output_char_offsets:
                char_offsets = None
        text = (" " if spaces_between_special_tokens else "").join(kept).strip()
        if self.init_kwargs["do_lower_case"]:
            text = text.lower()
        return text, char_offsets, word_offsets

    # ----------------------------------------------------------------- saving

    def save_pretrained(self, save_directory: str | os.PathLike) -> tuple[str, ...]:
        """Write vocab.json and tokenizer_config.json, the two files transformers writes for this
        tokenizer (both libraries load them), in one transaction on the folder."""
        directory = Path(save_directory)
        if directory.is_file():
            raise TokenizerError(f"save_pretrained needs a directory, but {directory} is a file")
        contents = {
            TOKENIZER_CONFIG_FILE: _json(self._tokenizer_config()),
            VOCAB_FILE: _json(self._vocab_json),
        }
        from autohub_core._io import checkpoint_transaction

        with checkpoint_transaction(directory) as transaction:
            for name, text in contents.items():
                transaction.write_text(name, text)
        return tuple(str(directory / name) for name in contents)


def _word_offsets(char_offsets: list[Offset], delimiter: str) -> list[Offset]:
    """Group character offsets into words at the delimiter character."""
    words: list[Offset] = []
    word, start, end, in_word = "", 0, 0, False
    for offset in char_offsets:
        is_word = offset["char"] != delimiter
        if is_word and in_word:
            word += offset["char"]
            end = offset["end_offset"]
        elif is_word:
            word, start, end = offset["char"], offset["start_offset"], offset["end_offset"]
        elif in_word:
            words.append({"word": word, "start_offset": start, "end_offset": end})
        in_word = is_word
    if in_word:
        words.append({"word": word, "start_offset": start, "end_offset": end})
    return words


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
