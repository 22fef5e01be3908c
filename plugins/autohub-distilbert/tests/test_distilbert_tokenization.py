"""DistilBertTokenizer parity with transformers' DistilBertTokenizer (v5, tokenizers-backed).

A WordPiece vocabulary is trained here with ``tokenizers`` and written as a legacy directory
(vocab.txt + tokenizer_config.json) and as a full one (tokenizer.json saved by transformers).
Nothing is downloaded.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
import transformers
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from autohub_core import AutoTokenizer
from autohub_distilbert.tokenization import DistilBertTokenizer

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, world! How are you doing today?",
    "Café crème, naïve façade, résumé, Über, Ångström, São Paulo.",
    "cafe creme, naive facade, resume, uber, angstrom, sao paulo.",
    "東京は日本の首都です。北京是中国的首都。",
    "Unaffable, unbelievable, unforgettable: tokenization of subwords works.",
    "Prices: $5.99, 100%, 3.14159 & co. (see [note] {here}) <tag> #hash @user",
    "Don't stop believing; it's what we've said and you're right.",
    "Emoji are rare 🙂 but they happen 🚀 sometimes.",
    "New\nlines\tand   many    spaces are just whitespace.",
]

TEXTS = [
    "Hello, world!",
    "The QUICK brown fox jumps over the lazy dog.",
    "Café crème and naïve façade in São Paulo",
    "東京は日本の首都です。北京是中国的首都。",
    "Emoji 🙂 and rockets 🚀 unknown ☃ chars",
    "  leading and trailing spaces   ",
    "many     spaces\tand\ttabs\nand\nnewlines\r\nhere",
    "",
    "unaffable unbelievable unforgettabletokenization",
    "Don't stop believing; it's what we've said.",
    "[CLS] literal special [SEP] tokens [MASK] inside [PAD] text [UNK]",
    "a" * 120 + " supercalifragilisticexpialidocious",
]

PAIRS = [
    ("Hello, world!", "How are you doing today?"),
    ("Café crème", "東京は日本の首都です。"),
    ("x", "The quick brown fox jumps over the lazy dog, unaffable and unbelievable."),
]

LONG_TEXT = " ".join(CORPUS * 3)


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A ~300-entry WordPiece vocabulary (accents, CJK, ##subwords)."""
    trainer_tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    trainer_tokenizer.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    trainer_tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=300, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    )
    trainer_tokenizer.train_from_iterator(CORPUS + [text.lower() for text in CORPUS], trainer=trainer)
    vocab = sorted(trainer_tokenizer.get_vocab().items(), key=lambda item: item[1])
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("".join(f"{token}\n" for token, _ in vocab), encoding="utf-8")
    return path


def _legacy_dir(root: pathlib.Path, vocab_file: pathlib.Path, **config: Any) -> pathlib.Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "vocab.txt").write_bytes(vocab_file.read_bytes())
    (root / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "DistilBertTokenizer", **config}), encoding="utf-8"
    )
    return root


def _full_dir(root: pathlib.Path, vocab_file: pathlib.Path, **config: Any) -> pathlib.Path:
    legacy = _legacy_dir(root.with_name(root.name + "-src"), vocab_file, **config)
    transformers.DistilBertTokenizer.from_pretrained(legacy).save_pretrained(root)
    assert (root / "tokenizer.json").is_file() and not (root / "vocab.txt").exists()
    return root


@pytest.fixture(scope="module", params=["legacy", "full"])
def checkpoint(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, vocab_file: pathlib.Path
) -> pathlib.Path:
    builder = _legacy_dir if request.param == "legacy" else _full_dir
    return builder(tmp_path_factory.mktemp(request.param) / "tok", vocab_file, model_max_length=24)


@pytest.fixture(scope="module")
def tokenizers_pair(checkpoint: pathlib.Path) -> tuple[Any, Any]:
    return AutoTokenizer.from_pretrained(checkpoint), transformers.AutoTokenizer.from_pretrained(checkpoint)


def _as_plain(encoding: Any) -> dict[str, Any]:
    plain = {}
    for key, value in encoding.items():
        value = value.tolist() if hasattr(value, "tolist") else value
        plain[key] = json.loads(json.dumps(value))
    return plain


def _assert_same_call(ours: Any, theirs: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    expected = _as_plain(theirs(*args, **kwargs))
    actual = _as_plain(ours(*args, **kwargs))
    assert actual == expected
    return actual


def test_auto_tokenizer_resolves_distilbert(tokenizers_pair: tuple[Any, Any]) -> None:
    ours, theirs = tokenizers_pair
    assert type(ours) is DistilBertTokenizer
    assert ours.model_input_names == theirs.model_input_names == ["input_ids", "attention_mask"]
    assert ours.vocab_size == theirs.vocab_size
    assert ours.special_tokens_map == theirs.special_tokens_map


@pytest.mark.parametrize("text", TEXTS)
def test_single_text_matches_transformers(tokenizers_pair: tuple[Any, Any], text: str) -> None:
    ours, theirs = tokenizers_pair
    result = _assert_same_call(
        ours, theirs, text, return_offsets_mapping=True, return_special_tokens_mask=True
    )
    assert "token_type_ids" not in result
    assert ours.tokenize(text) == theirs.tokenize(text)
    ids = result["input_ids"]
    for skip in (False, True):
        assert ours.decode(ids, skip_special_tokens=skip) == theirs.decode(ids, skip_special_tokens=skip)


def test_batch_padding_truncation_and_pairs_match_transformers(tokenizers_pair: tuple[Any, Any]) -> None:
    ours, theirs = tokenizers_pair
    batch = _assert_same_call(ours, theirs, TEXTS, padding=True, return_offsets_mapping=True)
    assert len({len(ids) for ids in batch["input_ids"]}) == 1
    _assert_same_call(ours, theirs, TEXTS, padding="max_length", truncation=True, max_length=16)
    _assert_same_call(ours, theirs, LONG_TEXT, truncation=True, return_offsets_mapping=True)
    _assert_same_call(ours, theirs, [LONG_TEXT, "short"], truncation=True, padding=True, return_tensors="pt")
    _assert_same_call(ours, theirs, [a for a, _ in PAIRS], [b for _, b in PAIRS], padding=True)
    _assert_same_call(
        ours, theirs, [a for a, _ in PAIRS], [b for _, b in PAIRS], truncation="only_second", max_length=12
    )
    for first, second in PAIRS:
        _assert_same_call(ours, theirs, first, second, return_token_type_ids=True)
    ids = batch["input_ids"]
    assert ours.batch_decode(ids, skip_special_tokens=True) == theirs.batch_decode(
        ids, skip_special_tokens=True
    )


@pytest.mark.parametrize("options", [{"do_lower_case": False}, {"strip_accents": False}])
@pytest.mark.parametrize("kind", ["legacy", "full"])
def test_normalization_options_match_transformers(
    tmp_path: pathlib.Path, vocab_file: pathlib.Path, kind: str, options: dict[str, Any]
) -> None:
    directory = (_legacy_dir if kind == "legacy" else _full_dir)(tmp_path / "tok", vocab_file, **options)
    ours = DistilBertTokenizer.from_pretrained(directory)
    theirs = transformers.DistilBertTokenizer.from_pretrained(directory)
    _assert_same_call(ours, theirs, TEXTS, return_offsets_mapping=True)


def test_saved_tokenizer_loads_in_transformers(
    tokenizers_pair: tuple[Any, Any], tmp_path: pathlib.Path
) -> None:
    ours, theirs = tokenizers_pair
    ours.save_pretrained(tmp_path)
    reloaded = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert type(reloaded).__name__ == "DistilBertTokenizer"
    assert _as_plain(reloaded(TEXTS, padding=True)) == _as_plain(theirs(TEXTS, padding=True))
    assert _as_plain(AutoTokenizer.from_pretrained(tmp_path)(TEXTS)) == _as_plain(theirs(TEXTS))
