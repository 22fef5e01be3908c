"""CLIPTokenizer against transformers' CLIPTokenizer on a BPE vocabulary laid out as OpenAI's
(conftest.py's ``legacy_files``): ids, tokens, offsets, decoding, padding and truncation to 77 on hard texts, from
vocab.json + merges.txt and from tokenizer.json, and files saved by each library loading in the other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import transformers
from tokenizers import Tokenizer

from autohub_clip.tokenization import CLIPTokenizer
from autohub_core import AutoTokenizer
from autohub_core.errors import TokenizerError

transformers.logging.set_verbosity_error()

TEXTS = [
    "A photo of a CAT",
    "Hello World!!! What?!",
    "  leading, trailing and   runs of   spaces  ",
    "new\nlines\n\nand\ttabs\r\n",
    "accents: café naïve Ångström, decomposed cafe\u0301",
    "emoji 😀🐱 and flags 🇫🇷 and zwj 👩\u200d💻",
    "it's a dog's life, isn't it? they'd've",
    "numbers 3.14159 and 2026-11-30, 100%",
    "cjk 猫の写真 and арабский كلمة",
    "a <|endoftext|> inside and <|startoftext|> too",
    "",
    "PHOTOGRAPHY photographer's photos",
    "the quick brown fox jumps over the lazy dog " * 12,
]
MAX_LENGTH = 77


@pytest.fixture(scope="module")
def saved_by_transformers(legacy_files: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("clip-hf-saved")
    transformers.CLIPTokenizer.from_pretrained(legacy_files).save_pretrained(directory)
    assert (directory / "tokenizer.json").is_file()
    return directory


def _assert_same_encoding(ours, theirs, texts=TEXTS, **kwargs) -> None:
    for text in texts:
        expected = theirs(text, return_offsets_mapping=True, **kwargs)
        actual = ours(text, return_offsets_mapping=True, **kwargs)
        assert actual["input_ids"] == expected["input_ids"], text
        assert actual["attention_mask"] == expected["attention_mask"], text
        assert [tuple(o) for o in actual["offset_mapping"]] == [
            tuple(o) for o in expected["offset_mapping"]
        ], text
        assert ours.convert_ids_to_tokens(actual["input_ids"]) == theirs.convert_ids_to_tokens(
            expected["input_ids"]
        )
        for skip in (False, True):
            assert ours.decode(actual["input_ids"], skip_special_tokens=skip) == theirs.decode(
                expected["input_ids"], skip_special_tokens=skip
            ), (text, skip)


@pytest.mark.parametrize("source", ["legacy_files", "saved_by_transformers"])
def test_encoding_matches_transformers(request, source) -> None:
    directory = request.getfixturevalue(source)
    theirs = transformers.AutoTokenizer.from_pretrained(directory)
    ours = AutoTokenizer.from_pretrained(directory)
    assert type(ours) is CLIPTokenizer and type(theirs).__name__ == "CLIPTokenizer"
    assert ours.get_vocab() == theirs.get_vocab()
    assert ours.pad_token == "<|endoftext|>" == theirs.pad_token
    assert ours.model_max_length == MAX_LENGTH == theirs.model_max_length
    _assert_same_encoding(ours, theirs)
    _assert_same_encoding(ours, theirs, truncation=True)
    _assert_same_encoding(ours, theirs, truncation=True, max_length=12)
    batch = [text for text in TEXTS if text]
    for options in ({"padding": True}, {"padding": "max_length", "truncation": True}):
        assert ours(batch, **options)["input_ids"] == theirs(batch, **options)["input_ids"], options
    long = ours(TEXTS[-1], truncation=True)["input_ids"]
    assert len(long) == MAX_LENGTH and long[-1] == ours.eos_token_id
    pair = ("a photo of", "a cat")
    assert ours(*pair)["input_ids"] == theirs(*pair)["input_ids"]
    assert ours.batch_decode(ours(batch, padding=True)["input_ids"], skip_special_tokens=True) == (
        theirs.batch_decode(theirs(batch, padding=True)["input_ids"], skip_special_tokens=True)
    )


def test_files_saved_by_each_load_in_the_other(legacy_files: Path, tmp_path: Path) -> None:
    ours = AutoTokenizer.from_pretrained(legacy_files)
    ours.save_pretrained(tmp_path / "ours")
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path / "ours")
    assert type(theirs).__name__ == "CLIPTokenizer"
    _assert_same_encoding(AutoTokenizer.from_pretrained(tmp_path / "ours"), theirs, truncation=True)
    reference = transformers.AutoTokenizer.from_pretrained(legacy_files)
    _assert_same_encoding(ours, reference, truncation=True)


def test_a_tokenizer_json_with_another_pipeline_is_set_back_to_clips(saved_by_transformers, tmp_path) -> None:
    """As transformers: the normalizer, pre-tokenizer, decoder and framing are CLIP's whatever the file says."""
    document = json.loads((saved_by_transformers / "tokenizer.json").read_text(encoding="utf-8"))
    document["normalizer"] = None
    document["pre_tokenizer"] = {"type": "Whitespace"}
    document["post_processor"] = None
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / name).write_text((saved_by_transformers / name).read_text(encoding="utf-8"))
    (tmp_path / "tokenizer.json").write_text(json.dumps(document), encoding="utf-8")
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path)
    ours = AutoTokenizer.from_pretrained(tmp_path)
    _assert_same_encoding(ours, theirs, texts=TEXTS[:6])


def test_bad_tokenizer_files_are_typed(legacy_files: Path, tmp_path: Path) -> None:
    (tmp_path / "vocab.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "merges.txt").write_text((legacy_files / "merges.txt").read_text(encoding="utf-8"))
    with pytest.raises(TokenizerError, match=r"vocab\.json"):
        CLIPTokenizer.from_pretrained(tmp_path)
    word_level = Tokenizer.from_str(
        json.dumps({"version": "1.0", "model": {"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "a"}})
    )
    with pytest.raises(TokenizerError, match="BPE"):
        CLIPTokenizer(tokenizer_object=word_level)
