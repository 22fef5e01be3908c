"""Parity of GPT2Tokenizer with transformers' over byte-level edge cases, from tokenizer.json and from
the legacy vocab.json + merges.txt, with the tokenizer files built in the test."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import transformers
from tokenizers import ByteLevelBPETokenizer

from autohub_core import AutoTokenizer
from autohub_gpt2.tokenization import GPT2Tokenizer

transformers.logging.set_verbosity_error()

EOS = "<|endoftext|>"
CORPUS = [
    "Hello world! This is a tiny corpus for a tiny byte-level BPE.",
    "  Leading spaces,   multiple   spaces,\ttabs\tand\nnew\n\nlines.",
    "Accents: café, naïve, résumé, e\u0301 (combining), Ångström.",
    "CJK: 日本語のテキスト, 中文文本, 한국어 텍스트.",
    "Emoji: 😀 🎉 👍🏽 🇫🇷 and symbols © ™ ∑ → ≤.",
    "The quick brown fox jumps over the lazy dog. It's 2024; we'll see.",
]
TEXTS = [
    "Hello world",
    " Hello world",
    "  two leading spaces",
    "multiple    inner     spaces",
    "trailing spaces   ",
    "line one\nline two\n\n\nline five",
    "tabs\tand\t\tmore tabs",
    "\n",
    " ",
    "",
    "café naïve résumé",
    "e\u0301 combining acute and n\u0303",
    "日本語のテキスト and 中文",
    "emoji 😀🎉 👍🏽 🇫🇷",
    f"special {EOS} inside {EOS}",
    "never seen: Ωμέγα ÆØÅ \u200b zero width",
    "The quick brown fox jumps over the lazy dog. " * 12,
]
PAIRS = [("What is it?", " A tiny test."), ("", "second only"), ("日本", "😀 emoji")]


def _write_files(directory: Path, *, trim_offsets: bool, config: dict[str, Any] | None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    trainer = ByteLevelBPETokenizer(trim_offsets=trim_offsets)
    trainer.train_from_iterator(CORPUS * 5, vocab_size=400, min_frequency=1, special_tokens=[EOS])
    trainer.save(str(directory / "tokenizer.json"))
    trainer.save_model(str(directory))  # vocab.json + merges.txt
    (directory / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    if config is not None:
        (directory / "tokenizer_config.json").write_text(json.dumps(config))
    return directory


@pytest.fixture(scope="module")
def make_files(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Tokenizer files for (trim_offsets, tokenizer_config, legacy); legacy drops tokenizer.json."""
    cache: dict[str, Path] = {}

    def make(trim_offsets: bool = False, config: dict[str, Any] | None = None, legacy: bool = False) -> Path:
        key = json.dumps([trim_offsets, config, legacy], sort_keys=True)
        if key not in cache:
            directory = _write_files(
                tmp_path_factory.mktemp("gpt2tok"), trim_offsets=trim_offsets, config=config
            )
            if legacy:
                (directory / "tokenizer.json").unlink()
            cache[key] = directory
        return cache[key]

    return make


def _load_both(directory: Path, **kwargs: Any) -> tuple[Any, Any]:
    reference = transformers.AutoTokenizer.from_pretrained(directory, **kwargs)
    ours = AutoTokenizer.from_pretrained(directory, **kwargs)
    assert type(ours) is GPT2Tokenizer
    return reference, ours


def _assert_same_encoding(reference: Any, ours: Any, *args: Any, **kwargs: Any) -> None:
    expected = reference(*args, **kwargs)
    actual = ours(*args, **kwargs)
    assert set(expected.keys()) == set(actual.keys())
    for key in expected:
        expected_value, actual_value = expected[key], actual[key]
        if hasattr(expected_value, "tolist"):
            expected_value, actual_value = expected_value.tolist(), actual_value.tolist()
        assert expected_value == actual_value, f"{key} differs for {args!r} {kwargs!r}"


SOURCES = [
    pytest.param({"legacy": False, "trim_offsets": False}, id="json"),
    pytest.param({"legacy": False, "trim_offsets": True}, id="json-trim-offsets"),
    pytest.param({"legacy": True}, id="legacy"),
]
CONFIGS = [
    pytest.param(None, id="no-config"),
    pytest.param({"tokenizer_class": "GPT2Tokenizer", "model_max_length": 32}, id="plain"),
    pytest.param({"tokenizer_class": "GPT2Tokenizer", "add_prefix_space": True}, id="prefix-space"),
    pytest.param({"tokenizer_class": "GPT2Tokenizer", "add_bos_token": True}, id="add-bos"),
    pytest.param(
        {"tokenizer_class": "GPT2Tokenizer", "add_eos_token": True, "add_bos_token": False}, id="add-eos"
    ),
]


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("source", SOURCES)
def test_encoding_matches_transformers(
    make_files: Callable[..., Path], source: dict[str, Any], config: dict[str, Any] | None
) -> None:
    reference, ours = _load_both(make_files(config=config, **source))
    options = {"return_offsets_mapping": True, "return_special_tokens_mask": True, "return_length": True}
    for text in TEXTS:
        _assert_same_encoding(reference, ours, text, **options)
        assert ours.tokenize(text) == reference.tokenize(text)
    _assert_same_encoding(reference, ours, TEXTS, **options)
    _assert_same_encoding(
        reference, ours, [first for first, _ in PAIRS], [second for _, second in PAIRS], **options
    )
    for text in TEXTS:
        ids = reference(text)["input_ids"]
        assert ours.decode(ids) == reference.decode(ids)
        assert ours.decode(ids, skip_special_tokens=True) == reference.decode(ids, skip_special_tokens=True)
    for attribute in (
        "bos_token",
        "eos_token",
        "unk_token",
        "pad_token",
        "model_input_names",
        "padding_side",
    ):
        assert getattr(ours, attribute) == getattr(reference, attribute), attribute
    assert len(ours) == len(reference) and ours.vocab_size == reference.vocab_size


@pytest.mark.parametrize("source", SOURCES)
def test_explicit_add_bos_token_argument(make_files: Callable[..., Path], source: dict[str, Any]) -> None:
    """An argument given to from_pretrained applies even over tokenizer.json (the config's value does not)."""
    directory = make_files(config={"tokenizer_class": "GPT2Tokenizer"}, **source)
    reference, ours = _load_both(directory, add_bos_token=True, add_eos_token=True)
    assert ours("Hello world")["input_ids"][0] == ours.bos_token_id
    _assert_same_encoding(reference, ours, TEXTS, return_offsets_mapping=True)
    ours.add_bos_token = False
    reference.add_bos_token = False
    _assert_same_encoding(reference, ours, [first for first, _ in PAIRS], [second for _, second in PAIRS])


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("source", SOURCES)
def test_padding_and_truncation_match_transformers(
    make_files: Callable[..., Path], source: dict[str, Any], padding_side: str
) -> None:
    config = {"tokenizer_class": "GPT2Tokenizer", "pad_token": EOS, "padding_side": padding_side}
    reference, ours = _load_both(make_files(config=config, **source))
    assert ours.padding_side == padding_side and ours.pad_token_id == reference.pad_token_id
    _assert_same_encoding(reference, ours, TEXTS, padding=True, return_tensors="pt")
    _assert_same_encoding(reference, ours, TEXTS, padding="max_length", truncation=True, max_length=12)
    _assert_same_encoding(
        reference, ours, TEXTS[-1], truncation=True, max_length=20, return_overflowing_tokens=True, stride=4
    )
    firsts, seconds = [first for first, _ in PAIRS], [second for _, second in PAIRS]
    _assert_same_encoding(
        reference, ours, firsts, seconds, padding=True, truncation="only_second", max_length=12
    )
    _assert_same_encoding(reference, ours, TEXTS, padding=True, pad_to_multiple_of=8)


def test_padding_without_pad_token_fails_like_transformers(make_files: Callable[..., Path]) -> None:
    reference, ours = _load_both(make_files(config={"tokenizer_class": "GPT2Tokenizer"}))
    assert reference.pad_token is None and ours.pad_token is None
    with pytest.raises(ValueError):
        reference(TEXTS, padding=True)
    with pytest.raises(ValueError):
        ours(TEXTS, padding=True)


def test_special_tokens_defaults(make_files: Callable[..., Path]) -> None:
    _, ours = _load_both(make_files(legacy=True))
    assert ours.bos_token == ours.eos_token == ours.unk_token == EOS
    assert ours.bos_token_id == ours.eos_token_id == ours.convert_tokens_to_ids(EOS) == 0
    assert ours.model_input_names == ["input_ids", "attention_mask"]
    assert "token_type_ids" not in ours("Hello")
    assert ours.add_bos_token is False and ours.add_eos_token is False


def test_is_split_into_words_matches_transformers(make_files: Callable[..., Path]) -> None:
    config = {"tokenizer_class": "GPT2Tokenizer", "add_prefix_space": True}
    reference, ours = _load_both(make_files(config=config))
    words = [["Hello", "world", "😀"], ["café", "日本語"]]
    _assert_same_encoding(reference, ours, words, is_split_into_words=True, return_offsets_mapping=True)


@pytest.mark.parametrize("source", SOURCES)
def test_saved_tokenizer_loads_in_transformers(
    make_files: Callable[..., Path], source: dict[str, Any], tmp_path: Path
) -> None:
    config = {"tokenizer_class": "GPT2Tokenizer", "add_prefix_space": True, "add_bos_token": True}
    directory = make_files(config=config, **source)
    reference, ours = _load_both(directory)
    ours.save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    saved_config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert saved_config["tokenizer_class"] == "GPT2Tokenizer" and saved_config["add_prefix_space"] is True
    reloaded_reference, reloaded_ours = _load_both(tmp_path)
    for tokenizer in (reloaded_reference, reloaded_ours):
        _assert_same_encoding(reference, tokenizer, TEXTS, return_offsets_mapping=True)
        assert tokenizer.decode(reference("café 😀")["input_ids"]) == reference.decode(
            reference("café 😀")["input_ids"]
        )


def test_transformers_saved_tokenizer_loads_in_autohub(
    make_files: Callable[..., Path], tmp_path: Path
) -> None:
    config = {"tokenizer_class": "GPT2Tokenizer", "pad_token": EOS, "padding_side": "left"}
    reference = transformers.AutoTokenizer.from_pretrained(make_files(config=config, legacy=True))
    reference.add_special_tokens({"additional_special_tokens": ["<|extra|>"]})
    reference.save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    ours = AutoTokenizer.from_pretrained(tmp_path)
    assert ours.padding_side == "left" and ours.additional_special_tokens == ["<|extra|>"]
    texts = [*TEXTS, "with <|extra|> token"]
    _assert_same_encoding(reference, ours, texts, padding=True, return_offsets_mapping=True)


def test_pickle_round_trip(make_files: Callable[..., Path]) -> None:
    _, ours = _load_both(make_files(config={"tokenizer_class": "GPT2Tokenizer", "add_prefix_space": True}))
    clone = pickle.loads(pickle.dumps(ours))
    assert clone(TEXTS)["input_ids"] == ours(TEXTS)["input_ids"]
