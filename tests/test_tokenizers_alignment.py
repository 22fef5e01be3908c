"""autohub's AutoTokenizer against transformers' on every checkpoint shape × hard text.

Each WordPiece and byte-level shape of ``tokenizer_shapes`` (legacy files only, tokenizer.json from
transformers' slow→fast conversion, tokenizer.json saved by ``tokenizers``, each with and without
tokenizer_config.json flags or ``from_pretrained`` arguments) is loaded by both libraries and every
text of :data:`TEXTS` is encoded alone, as a pair (both sides), in a padded batch, as pre-split
words (alone and in a pair), and truncated with ``stride`` and overflow (alone and QA-style as the
second of a pair). Compared for each: the returned keys and values (ids, token_type_ids,
attention_mask, special_tokens_mask, offsets, length, overflow_to_sample_mapping), tokens,
word_ids, sequence_ids, ``n_sequences``, ``is_fast``, and every alignment method on every token,
word and character index (one past the end included), in the two-argument form for every row and
the one-argument form for single inputs. ``return_token_type_ids`` is compared as None, True and False.

The one deliberate difference: transformers' ``word_to_chars`` raises TypeError for a word that does
not exist (``CharSpan(*None)``), where autohub returns None like the other methods; the oracle's
TypeError there is read as None. Negative indices are tested on their own (transformers raises
AttributeError or OverflowError for them).
"""

from __future__ import annotations

import json
import pickle
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import transformers

from autohub_core import AutoTokenizer
from autohub_core.errors import TokenizerError
from autohub_core.tokenization import BatchEncoding, CharSpan, TokenSpan

sys.path.insert(0, str(Path(__file__).parent))  # the helpers beside this file (pytest runs in importlib mode)
import tokenizer_shapes
from tokenizer_shapes import BYTE_LEVEL_SHAPES, SENTENCEPIECE_SHAPES, WORDPIECE_SHAPES, Shape

TEXTS = [
    "",
    " ",
    "   ",
    "\n",
    "\t \n ",
    "Hello world",
    "hello  world   again",
    " leading space",
    "trailing space ",
    "  two leading, double  and trailing  ",
    "new\nline\tand\ttab\r\nwindows",
    "Hello <mask>!",
    "the<mask> dog <mask>",
    "<mask> first",
    "a [MASK] b [mask] c[MASK]d",
    "literal <s> and </s> and <|endoftext|> [CLS] [SEP] inside",
    "東京 日本語 北京是中国的首都",
    "東京は日本の首都です。",
    "emoji 🙂 and family 👩‍👩‍👧 and flag 🏳️‍🌈!",
    "cafe\u0301 crème naïve e\u0301t\u00e9 Über",
    "مرحبا بالعالم and שלום עולם",
    "HELLO World, don't stop: it's 3.14, $5 or 100%!",
    "the quick brown fox jumps over the lazy dog " * 3,
]
SECOND = "question about the lazy dog?"
QUESTION = "dog?"

PARITY_SHAPES = WORDPIECE_SHAPES + BYTE_LEVEL_SHAPES
#: How many (checkpoint shape × text) cases :func:`test_matches_transformers` compares.
CASES = len(PARITY_SHAPES) * len(TEXTS)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Shape], Path]:
    return tokenizer_shapes.checkpoint_maker(tmp_path_factory.mktemp("shapes"))


def _load_both(directory: Path, **kwargs: Any) -> tuple[Any, Any]:
    return AutoTokenizer.from_pretrained(directory, **kwargs), transformers.AutoTokenizer.from_pretrained(
        directory, **kwargs
    )


# --------------------------------------------------------------------------- the comparison


def _plain(value: Any) -> Any:
    value = value.tolist() if hasattr(value, "tolist") else value
    return json.loads(json.dumps(value))


def _outcome(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The result (named tuples as their type name and fields) or the exception type's name."""
    try:
        result = method(*args, **kwargs)
    except Exception as error:  # both libraries' errors are compared by kind
        return ("raises", type(error).__name__)
    return (type(result).__name__, *result) if isinstance(result, tuple) else result


def _word_to_chars(encoding: Any, *args: Any, **kwargs: Any) -> Any:
    """``word_to_chars``, transformers' TypeError for a missing word read as None (see module doc)."""
    outcome = _outcome(encoding.word_to_chars, *args, **kwargs)
    return None if outcome == ("raises", "TypeError") else outcome


def _alignment(encoding: Any, sequences: list[Any], single: bool) -> Iterator[tuple[str, Any]]:
    """Every alignment result of every row, on every token, word and character index."""
    yield "is_fast", encoding.is_fast
    yield "n_sequences", encoding.n_sequences
    lengths = [max((len(text) for text in _texts(sequence)), default=0) for sequence in sequences]
    for row, rust in enumerate(encoding.encodings):
        forms = [(row,), ()] if single else [(row,)]
        words = max((word for word in rust.word_ids if word is not None), default=-1) + 3
        for form in forms:
            key = f"{row}{'' if form else '*'}"
            yield f"tokens{key}", encoding.tokens(*form)
            yield f"word_ids{key}", encoding.word_ids(*form)
            yield f"sequence_ids{key}", encoding.sequence_ids(*form)
            for token in range(len(rust) + 2):
                yield f"token_to_word{key}/{token}", _outcome(encoding.token_to_word, *form, token)
                yield f"token_to_sequence{key}/{token}", _outcome(encoding.token_to_sequence, *form, token)
                yield f"token_to_chars{key}/{token}", _outcome(encoding.token_to_chars, *form, token)
            for sequence in (0, 1):
                # Past the sequences there are, only the first indices are worth a look.
                chars = lengths[sequence] + 2 if sequence < len(lengths) else 2
                word_range = words if sequence < len(lengths) else 2
                for word in range(word_range):
                    yield (
                        f"word_to_tokens{key}/{sequence}/{word}",
                        _outcome(encoding.word_to_tokens, *form, word, sequence_index=sequence),
                    )
                    yield (
                        f"word_to_chars{key}/{sequence}/{word}",
                        _word_to_chars(encoding, *form, word, sequence_index=sequence),
                    )
                for char in range(chars):
                    yield (
                        f"char_to_token{key}/{sequence}/{char}",
                        _outcome(encoding.char_to_token, *form, char, sequence_index=sequence),
                    )
                    yield (
                        f"char_to_word{key}/{sequence}/{char}",
                        _outcome(encoding.char_to_word, *form, char, sequence_index=sequence),
                    )


def _texts(sequence: Any) -> list[str]:
    return [sequence] if isinstance(sequence, str) else list(sequence)


def _variants(text: str) -> Iterator[tuple[str, tuple[Any, ...], dict[str, Any], bool]]:
    """(name, positional inputs, keyword options, whether to sweep the alignment methods)."""
    words = text.split(" ")
    yield (
        "single",
        (text,),
        {"return_offsets_mapping": True, "return_special_tokens_mask": True, "return_length": True},
        True,
    )
    yield "single-token-types", (text,), {"return_token_type_ids": True}, False
    yield "single-no-token-types", (text,), {"return_token_type_ids": False}, False
    yield "pair", (text, SECOND), {"return_offsets_mapping": True}, True
    yield (
        "pair-reversed",
        (SECOND, text),
        {"return_offsets_mapping": True, "return_token_type_ids": False},
        True,
    )
    yield "pair-token-types", (text, SECOND), {"return_token_type_ids": True}, False
    yield "batch", ([text, SECOND],), {"padding": True, "return_offsets_mapping": True}, True
    yield "words", (words,), {"is_split_into_words": True, "return_offsets_mapping": True}, True
    yield (
        "words-pair",
        (words, ["a", "question"]),
        {"is_split_into_words": True, "return_offsets_mapping": True},
        True,
    )
    yield (
        "overflow",
        (text,),
        {"truncation": True, "max_length": 16, "stride": 4, "return_overflowing_tokens": True},
        True,
    )
    yield (
        "overflow-question-context",
        ([QUESTION], [text]),
        {
            "truncation": "only_second",
            "max_length": 20,
            "stride": 4,
            "return_overflowing_tokens": True,
            "return_offsets_mapping": True,
            "padding": "max_length",
        },
        True,
    )


def _snapshot(tokenizer: Any, args: tuple[Any, ...], kwargs: dict[str, Any], align: bool) -> dict[str, Any]:
    """The returned keys and values, and with ``align`` every alignment result.

    ``args`` are the inputs of sequence 0 and 1 (a text, a batch of texts or a list of words each):
    the sweep visits every character index up to the longest of them.
    """
    encoding = tokenizer(*args, **kwargs)
    snapshot: dict[str, Any] = {"keys": list(encoding.keys())}
    snapshot.update((key, _plain(value)) for key, value in encoding.items())
    if align:
        snapshot.update(_alignment(encoding, list(args), single=len(encoding.encodings) == 1))
    return snapshot


def _differences(ours: Any, theirs: Any, text: str) -> list[str]:
    found = []
    for name, args, kwargs, align in _variants(text):
        expected = _snapshot(theirs, args, kwargs, align)
        actual = _snapshot(ours, args, kwargs, align)
        if actual != expected:
            keys = sorted(
                key for key in expected.keys() | actual.keys() if actual.get(key) != expected.get(key)
            )
            found += [
                f"{name} {key}: ours {actual.get(key)!r}, transformers {expected.get(key)!r}"
                for key in keys[:3]
            ]
    return found


@pytest.mark.parametrize("shape", PARITY_SHAPES, ids=lambda shape: shape.name)
def test_matches_transformers(shape: Shape, checkpoints: Callable[[Shape], Path]) -> None:
    ours, theirs = _load_both(checkpoints(shape), **shape.load_kwargs)
    assert ours.is_fast is theirs.is_fast is True
    assert ours.model_input_names == theirs.model_input_names
    assert ours.pad_token == theirs.pad_token
    if ours.pad_token is None:  # GPT-2: padded batches need the usual pad = eos
        ours.pad_token = theirs.pad_token = theirs.eos_token
    failures = []
    for text in TEXTS:
        assert ours.tokenize(text) == theirs.tokenize(text), text
        failures += [f"{text!r}: {difference}" for difference in _differences(ours, theirs, text)]
    assert not failures, "\n".join(failures[:20])


def test_case_count() -> None:
    """The (shape × text) cases compared above; the report quotes this number."""
    assert CASES == len(PARITY_SHAPES) * len(TEXTS) >= 1000


# --------------------------------------------------------------------------- the API itself


@pytest.fixture(scope="module")
def bert_pair(checkpoints: Callable[[Shape], Path]) -> tuple[Any, Any]:
    return _load_both(checkpoints(tokenizer_shapes.shape_named("bert-vocab-class")))


def test_one_argument_and_batch_forms_agree(bert_pair: tuple[Any, Any]) -> None:
    ours, theirs = bert_pair
    encoding = ours("lazy dog.", "the quick brown fox")
    reference = theirs("lazy dog.", "the quick brown fox")
    assert encoding.tokens() == [
        "[CLS]",
        "lazy",
        "dog",
        ".",
        "[SEP]",
        "the",
        "quick",
        "brown",
        "fox",
        "[SEP]",
    ]
    assert encoding.char_to_token(4, sequence_index=1) == encoding.char_to_token(0, 4, sequence_index=1) == 6
    assert encoding.char_to_token(5) == encoding.char_to_token(0, 5) == reference.char_to_token(5) == 2
    assert encoding.word_to_tokens(1, sequence_index=1) == reference.word_to_tokens(1, sequence_index=1)
    assert encoding.word_to_chars(0, 2, sequence_index=1) == reference.word_to_chars(0, 2, 1) == (10, 15)
    assert encoding.char_to_word(0, 10, 1) == reference.char_to_word(0, 10, 1) == 2
    assert encoding.token_to_sequence(7) == reference.token_to_sequence(7) == 1
    assert encoding.token_to_word(7) == reference.token_to_word(0, 7) == 2
    assert encoding.n_sequences == reference.n_sequences == 2
    assert ours("dog").n_sequences == 1


def test_spans_are_named_tuples(bert_pair: tuple[Any, Any]) -> None:
    ours, theirs = bert_pair
    span = ours("hello world").word_to_tokens(1)
    assert isinstance(span, TokenSpan) and isinstance(span, tuple)
    assert (span.start, span.end) == tuple(theirs("hello world").word_to_tokens(1)) == (2, 3)
    chars = ours("hello world").token_to_chars(2)
    assert isinstance(chars, CharSpan) and (chars.start, chars.end) == (6, 11)
    assert TokenSpan._fields == CharSpan._fields == ("start", "end")


def test_special_padding_and_out_of_range_positions_are_none(bert_pair: tuple[Any, Any]) -> None:
    ours, _ = bert_pair
    batch = ours(["hello world", "hello"], padding=True)
    assert batch.tokens(1)[-1] == "[PAD]"
    for method in (batch.token_to_word, batch.token_to_chars, batch.token_to_sequence):
        assert method(1, 0) is None  # [CLS]
        assert method(1, 3) is None  # [PAD]
        assert method(1, 99) is None
    assert batch.word_to_tokens(1, 5) is None and batch.word_to_chars(1, 5) is None
    assert batch.char_to_token(1, 99) is None and batch.char_to_word(1, 99) is None
    assert batch.char_to_token(0, 5) is None  # the space between the words
    with pytest.raises(IndexError):
        batch.token_to_word(2, 0)


def test_negative_indices(bert_pair: tuple[Any, Any]) -> None:
    """A negative token index counts from the end and a negative batch index picks from the end
    (transformers raises AttributeError); a negative word or character index matches nothing."""
    ours, _ = bert_pair
    batch = ours(["hello", "hello world"])
    assert batch.token_to_word(-1, -2) == batch.token_to_word(1, 2) == 1
    assert batch.token_to_chars(-1) is None  # [SEP] of row 0
    assert batch.token_to_chars(0, -2) == CharSpan(0, 5)
    assert batch.token_to_sequence(0, -9) is None
    assert batch.word_to_tokens(-1) is None and batch.word_to_chars(-1) is None
    assert batch.char_to_token(-1) is None and batch.char_to_word(0, -1) is None


def test_overflow_windows_map_back_to_their_sample(bert_pair: tuple[Any, Any]) -> None:
    """The QA recipe: each window of a long context finds the answer's tokens by its characters."""
    ours, theirs = bert_pair
    context = "the quick brown fox jumps over the lazy dog " * 3
    answer_start = context.index("lazy", 60)
    answer_end = answer_start + len("lazy dog")
    options = {"truncation": "only_second", "max_length": 16, "stride": 4, "return_overflowing_tokens": True}
    results = []
    for tokenizer in (ours, theirs):
        windows = tokenizer(["fox?", "dog?"], [context, context], **options)
        found = []
        for row in range(len(windows["input_ids"])):
            start = windows.char_to_token(row, answer_start, sequence_index=1)
            end = windows.char_to_token(row, answer_end - 1, sequence_index=1)
            found.append((windows["overflow_to_sample_mapping"][row], start, end))
        results.append(found)
    assert results[0] == results[1]
    assert any(start is not None and end is not None for _, start, end in results[0])
    assert {sample for sample, _, _ in results[0]} == {0, 1}


def test_alignment_survives_tensors_and_pickling(bert_pair: tuple[Any, Any]) -> None:
    ours, _ = bert_pair
    encoding = ours(["hello world", "hello"], padding=True, return_tensors="pt")
    assert encoding.word_to_tokens(0, 1) == TokenSpan(2, 3)
    restored = pickle.loads(pickle.dumps(encoding))
    assert restored.is_fast and restored.n_sequences == 1
    assert restored.char_to_token(0, 6) == encoding.char_to_token(0, 6) == 2


def test_without_encodings_alignment_is_unavailable() -> None:
    plain = BatchEncoding({"input_ids": [[1, 2]]})
    assert plain.is_fast is False and plain.n_sequences is None
    for call in (
        lambda: plain.char_to_token(0),
        lambda: plain.word_to_tokens(0),
        lambda: plain.token_to_chars(0),
    ):
        with pytest.raises(TokenizerError, match="no encodings"):
            call()


# --------------------------------------------------------------------------- returned keys, every family


@pytest.mark.parametrize("shape", SENTENCEPIECE_SHAPES, ids=lambda shape: shape.name)
def test_sentencepiece_families_return_transformers_keys(
    shape: Shape, checkpoints: Callable[[Shape], Path]
) -> None:
    """The keys (and model_input_names) of the SentencePiece families; their ids are tested by their plugins."""
    ours, theirs = _load_both(checkpoints(shape))
    assert ours.model_input_names == theirs.model_input_names
    for token_types in (None, True, False):
        for inputs in (("hello world",), ("hello", "world"), (["hello", "a b"],)):
            expected = list(theirs(*inputs, return_token_type_ids=token_types))
            assert list(ours(*inputs, return_token_type_ids=token_types)) == expected, (token_types, inputs)
