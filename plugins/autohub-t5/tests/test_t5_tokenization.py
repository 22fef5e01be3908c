"""T5Tokenizer against transformers' T5Tokenizer, from spiece.model and from tokenizer.json."""

from __future__ import annotations

import json
import random
import shutil

import pytest
import sentencepiece
import transformers

from autohub_core import AutoTokenizer
from autohub_t5.tokenization import T5Tokenizer

transformers.logging.set_verbosity_error()

WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "hello",
    "world",
    "token",
    "model",
    "text",
    "encoder",
    "decoder",
    "translate",
    "summarize",
    "question",
    "answer",
    "café",
    "naïve",
    "résumé",
    "über",
    "straße",
    "日本語",
    "テキスト",
    "中文",
    "可以",
    "emoji",
    "😀",
    "🎉",
    "numbers",
    "12345",
    "symbols",
    "data",
    "science",
    "python",
    "rust",
    "library",
    "attention",
    "layer",
    "norm",
    "relative",
    "position",
]

TEXTS = [
    "hello world",
    " leading space",
    "   several   spaces   between",
    "line one\nline two\n\nline four",
    "tabs\tand\r\nwindows newlines",
    "emoji 😀 🎉 and a rare 🦜",
    "accents: café naïve résumé über straße Ångström",
    "ＦＵＬＬ width and ligature ﬁ",
    "日本語のテキスト 中文也可以",
    "",
    "translate summarize: <extra_id_0> fox <extra_id_1> dog</s>",
    "UPPER Case Unknown Letters Q X Z",
    " ".join(WORDS * 6),
]
PAIRS = [("question: what is it?", "context: a quick brown fox"), ("", "only second"), ("日本語", "😀 emoji")]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Directories: legacy spiece.model (100 and 5 extra ids), transformers' tokenizer.json,
    and an older-style tokenizer.json with a different pre-tokenizer/normalizer."""
    root = tmp_path_factory.mktemp("t5-tokenizer")
    rng = random.Random(0)
    corpus = root / "corpus.txt"
    corpus.write_text(
        "\n".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) for _ in range(800)),
        encoding="utf-8",
    )
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(root / "spiece"),
        vocab_size=90,
        model_type="unigram",
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        character_coverage=1.0,
        minloglevel=2,
    )
    directories = {}
    for name, extra in (("legacy", {}), ("legacy-5", {"extra_ids": 5})):
        directory = root / name
        directory.mkdir()
        shutil.copy(root / "spiece.model", directory / "spiece.model")
        config = {"tokenizer_class": "T5Tokenizer", "model_max_length": 512, **extra}
        (directory / "tokenizer_config.json").write_text(json.dumps(config))
        directories[name] = directory
    json_directory = root / "json"
    transformers.T5Tokenizer.from_pretrained(directories["legacy"]).save_pretrained(json_directory)
    directories["json"] = json_directory
    old_style = root / "json-old-style"
    shutil.copytree(json_directory, old_style)
    document = json.loads((old_style / "tokenizer.json").read_text(encoding="utf-8"))
    document["normalizer"] = {
        "type": "Sequence",
        "normalizers": [
            document["normalizer"],
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "▁"},
        ],
    }
    document["pre_tokenizer"] = {
        "type": "Metaspace",
        "replacement": "▁",
        "prepend_scheme": "always",
        "split": True,
    }
    (old_style / "tokenizer.json").write_text(json.dumps(document), encoding="utf-8")
    directories["json-old-style"] = old_style
    return directories


@pytest.fixture(scope="module", params=["legacy", "legacy-5", "json", "json-old-style"])
def tokenizers_pair(request, files):
    directory = files[request.param]
    reference = transformers.T5Tokenizer.from_pretrained(directory)
    ours = AutoTokenizer.from_pretrained(directory)
    assert isinstance(ours, T5Tokenizer)
    return reference, ours


def _same_encoding(expected, actual) -> None:
    assert actual["input_ids"] == expected["input_ids"]
    assert actual["attention_mask"] == expected["attention_mask"]
    assert [list(map(tuple, row)) for row in actual["offset_mapping"]] == [
        list(map(tuple, row)) for row in expected["offset_mapping"]
    ]


def test_vocabulary_and_special_tokens(tokenizers_pair):
    reference, ours = tokenizers_pair
    assert len(ours) == len(reference)
    assert ours.get_vocab() == reference.get_vocab()
    assert (ours.eos_token_id, ours.pad_token_id, ours.unk_token_id) == (1, 0, 2)
    assert ours.all_special_ids == reference.all_special_ids
    sentinels = [token for token in reference.all_special_tokens if token.startswith("<extra_id_")]
    assert sorted(ours.get_sentinel_tokens()) == sorted(sentinels)
    assert ours.convert_tokens_to_ids("<extra_id_0>") == len(reference) - 1
    assert ours.model_input_names == ["input_ids", "attention_mask"]


def test_single_texts_match(tokenizers_pair):
    reference, ours = tokenizers_pair
    for text in TEXTS:
        expected = reference([text], return_offsets_mapping=True)
        actual = ours([text], return_offsets_mapping=True)
        _same_encoding(expected, actual)
        ids = actual["input_ids"][0]
        assert ids[-1] == 1  # </s> appended
        for skip in (False, True):
            assert ours.decode(ids, skip_special_tokens=skip) == reference.decode(
                ids, skip_special_tokens=skip
            )


def test_padded_batch_truncation_and_pairs_match(tokenizers_pair):
    reference, ours = tokenizers_pair
    for kwargs in (
        {"padding": True},
        {"padding": "max_length", "max_length": 40, "truncation": True},
        {"truncation": True, "max_length": 9},
    ):
        _same_encoding(
            reference(TEXTS, return_offsets_mapping=True, **kwargs),
            ours(TEXTS, return_offsets_mapping=True, **kwargs),
        )
    first, second = (list(column) for column in zip(*PAIRS, strict=True))
    for kwargs in ({"padding": True}, {"padding": True, "truncation": True, "max_length": 10}):
        _same_encoding(
            reference(first, second, return_offsets_mapping=True, **kwargs),
            ours(first, second, return_offsets_mapping=True, **kwargs),
        )
    tensors = ours(TEXTS[:3], padding=True, return_tensors="pt")
    assert tensors["input_ids"].tolist() == reference(TEXTS[:3], padding=True)["input_ids"]


def test_saved_tokenizer_loads_in_transformers(files, tmp_path):
    ours = AutoTokenizer.from_pretrained(files["legacy-5"])
    ours.save_pretrained(tmp_path)
    reloaded = transformers.AutoTokenizer.from_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    for text in TEXTS:
        assert reloaded(text)["input_ids"] == ours(text)["input_ids"] == again(text)["input_ids"]
    assert len(reloaded) == len(ours) == len(again)


def test_extra_ids_disagreeing_with_sentinels_is_refused(files):
    with pytest.raises(ValueError, match="extra_ids"):
        T5Tokenizer.from_pretrained(
            files["legacy"], extra_ids=3, additional_special_tokens=["<extra_id_0>", "<extra_id_1>"]
        )
