"""Byte-level BPE families (GPT-2, RoBERTa, Qwen2) against transformers: ``add_prefix_space`` and ``<mask>``.

``add_prefix_space`` is given by tokenizer_config.json or as a ``from_pretrained`` argument (also
``False`` over a config's ``True``) for checkpoints made of vocab.json + merges.txt, of a tokenizer.json
from transformers' slow→fast conversion, and of a tokenizer.json saved by ``tokenizers`` in the
family's own pipeline; each is checked on plain text and on pre-split words, and through a save and
reload. RoBERTa's ``<mask>`` is checked from vocab.json + merges.txt alone (transformers 5 keeps the
space before it as a token), from files that give it ``lstrip`` and from a tokenizer.json.
The checkpoints are those of ``tokenizer_shapes``; the full text × alignment sweep over them is
``test_tokenizers_alignment.py``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import transformers
from tokenizers import AddedToken

from autohub_core import AutoTokenizer

sys.path.insert(0, str(Path(__file__).parent))  # the helpers beside this file (pytest runs in importlib mode)
import tokenizer_shapes
from tokenizer_shapes import Shape

TEXTS = ["hello world", " hello  world", "Hello <mask>!", "東京 🙂 café", ""]
WORDS = [["hello", "world"], ["Hello", "東京", "🙂"], ["café"], ["a", "", "b"]]

# (shape, from_pretrained kwargs, the add_prefix_space they mean)
PREFIX_CASES = [
    (f"{family}-{source}{suffix}", kwargs, expected)
    for family in ("gpt2", "roberta", "qwen2")
    for source in ("merges", "json", "library-json")
    for suffix, kwargs, expected in (
        ("-class" if source != "library-json" else "", {}, False),
        ("-prefix", {}, True),
        ("-class" if source != "library-json" else "", {"add_prefix_space": True}, True),
        ("-prefix", {"add_prefix_space": False}, False),
    )
]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Shape], Path]:
    return tokenizer_shapes.checkpoint_maker(tmp_path_factory.mktemp("byte-level"))


def _load_both(directory: Path, **kwargs: Any) -> tuple[Any, Any]:
    return AutoTokenizer.from_pretrained(directory, **kwargs), transformers.AutoTokenizer.from_pretrained(
        directory, **kwargs
    )


def _plain(encoding: Any) -> dict[str, Any]:
    return {key: json.loads(json.dumps(value)) for key, value in encoding.items()}


def _assert_same(ours: Any, theirs: Any) -> None:
    for text in TEXTS:
        options = {"return_offsets_mapping": True}
        assert _plain(ours(text, **options)) == _plain(theirs(text, **options)), text
        assert ours(text).word_ids() == theirs(text).word_ids(), text
    for words in WORDS:
        options = {"is_split_into_words": True, "return_offsets_mapping": True}
        assert _plain(ours(words, **options)) == _plain(theirs(words, **options)), words
        assert ours(words, **options).word_ids() == theirs(words, **options).word_ids(), words
    batch = _plain(ours(WORDS, is_split_into_words=True))
    assert batch == _plain(theirs(WORDS, is_split_into_words=True))


@pytest.mark.parametrize(
    ("name", "kwargs", "prefix"), PREFIX_CASES, ids=[f"{name}-{kwargs}" for name, kwargs, _ in PREFIX_CASES]
)
def test_add_prefix_space_matches_transformers(
    checkpoints: Callable[[Shape], Path], name: str, kwargs: dict[str, Any], prefix: bool
) -> None:
    ours, theirs = _load_both(checkpoints(tokenizer_shapes.shape_named(name)), **kwargs)
    _assert_same(ours, theirs)
    # The flag's meaning: every word, the first one too, starts with the byte-level space "Ġ".
    assert ours.tokenize("hello")[0].startswith("Ġ") is prefix
    split = ours(["hello", "world"], is_split_into_words=True, add_special_tokens=False)
    starts = [split.tokens()[span.start] for span in map(split.word_to_tokens, range(2))]
    assert [token.startswith("Ġ") for token in starts] == [prefix, prefix]


@pytest.mark.parametrize("family", ["gpt2", "roberta", "qwen2"])
def test_add_prefix_space_survives_save_and_reload(
    checkpoints: Callable[[Shape], Path], tmp_path: Path, family: str
) -> None:
    ours, theirs = _load_both(
        checkpoints(tokenizer_shapes.shape_named(f"{family}-merges-class")), add_prefix_space=True
    )
    ours.save_pretrained(tmp_path)
    for reloaded in _load_both(tmp_path):
        _assert_same(reloaded, theirs)


@pytest.mark.parametrize("name", ["roberta-merges", "roberta-merges-class", "roberta-merges-untrimmed"])
def test_roberta_mask_from_vocab_and_merges_keeps_the_space(
    checkpoints: Callable[[Shape], Path], name: str
) -> None:
    """transformers 5 adds ``<mask>`` without ``lstrip`` when only vocab.json + merges.txt name it."""
    ours, theirs = _load_both(checkpoints(tokenizer_shapes.shape_named(name)))
    for text in ("Hello <mask>!", "the<mask> dog <mask>", "<mask>"):
        assert ours.tokenize(text) == theirs.tokenize(text)
        assert ours(text)["input_ids"] == theirs(text)["input_ids"]
    assert ours.tokenize("Hello <mask>!") == ["Hello", "Ġ", "<mask>", "!"]
    assert ours.unk_token_id not in ours.convert_tokens_to_ids(ours.tokenize("Hello <mask>!"))
    assert ours.added_tokens_decoder[ours.mask_token_id].lstrip is False


@pytest.mark.parametrize(
    ("name", "kwargs", "lstrip"),
    [
        ("roberta-merges-lstrip-mask", {}, True),
        ("roberta-merges-class", {"mask_token": AddedToken("<mask>", lstrip=True, special=True)}, True),
        ("roberta-json-lstrip-mask", {}, True),
        ("roberta-json-class", {}, False),
        ("roberta-library-json", {}, False),
    ],
)
def test_roberta_mask_follows_the_files(
    checkpoints: Callable[[Shape], Path], name: str, kwargs: dict[str, Any], lstrip: bool
) -> None:
    """A ``<mask>`` given ``lstrip`` (special_tokens_map.json, tokenizer.json, an argument) swallows the
    space before it; as in transformers, its token string then keeps that space."""
    ours, theirs = _load_both(checkpoints(tokenizer_shapes.shape_named(name)), **kwargs)
    for text in ("Hello <mask>!", "the<mask> dog <mask>", "<mask>"):
        assert ours.tokenize(text) == theirs.tokenize(text)
        options = {"return_offsets_mapping": True}
        assert _plain(ours(text, **options)) == _plain(theirs(text, **options))
    assert ours.added_tokens_decoder[ours.mask_token_id].lstrip is lstrip
    expected = ["Hello", " <mask>", "!"] if lstrip else ["Hello", "Ġ", "<mask>", "!"]
    assert ours.tokenize("Hello <mask>!") == expected
