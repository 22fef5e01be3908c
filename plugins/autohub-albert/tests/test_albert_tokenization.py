"""AlbertTokenizer against transformers' AlbertTokenizer, from spiece.model and from tokenizer.json.

The spiece.model is trained here with SentencePiece's trainer on the shared test corpus, laid out
as ALBERT's (``<pad>`` 0, ``<unk>`` 1, control ``[CLS]`` / ``[SEP]``, a user-defined ``[MASK]``,
NFKC's precompiled charsmap). Checkpoint shapes: the legacy file alone, with a cased
tokenizer_config.json (``do_lower_case`` false, ``keep_accents`` true), with ``add_prefix_space``
false; transformers' tokenizer.json; and a tokenizer.json as older conversions wrote it (a
``Replace(" {2,}")`` normaliser step, a bare Metaspace pre-tokenizer) that transformers 5 rebuilds.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import sentencepiece
import transformers

from autohub_albert.tokenization import AlbertTokenizer
from autohub_core import AutoTokenizer

sys.path.insert(0, str(Path(__file__).parents[3] / "tests"))  # the repository's shared test helpers
from tokenizer_shapes import corpus

transformers.logging.set_verbosity_error()

TEXTS = [
    "",
    " ",
    "Hello world",
    "HELLO World, don't stop: it's 3.14, $5 or 100%!",
    "hello  world   again",
    "  two leading, double  and trailing  ",
    "new\nline\tand\ttab\r\nwindows",
    "cafe\u0301 crème naïve e\u0301t\u00e9 Über São Paulo Ångström",
    "ÀÉÎÕÜ ß ﬁ ① ｆｕｌｌ width",
    "``quoted'' and ''twice`` \"plain\"",
    "a [MASK] b [mask] c[MASK]d [CLS] [SEP] <pad> <unk>",
    "東京 日本語 北京是中国的首都",
    "emoji 🙂 and family 👩‍👩‍👧!",
    "مرحبا بالعالم and שלום עולם",
    "▁already▁meta spaced",
    "the quick brown fox jumps over the lazy dog " * 3,
]
PAIRS = [("question: what is it?", "context: the lazy  Dog"), ("", "only second"), ("東京", "🙂 café")]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("albert-tokenizer")
    (root / "corpus.txt").write_text("\n".join(corpus()), encoding="utf-8")
    sentencepiece.SentencePieceTrainer.train(
        input=str(root / "corpus.txt"),
        model_prefix=str(root / "spiece"),
        vocab_size=150,
        hard_vocab_limit=False,
        model_type="unigram",
        character_coverage=1.0,
        pad_id=0,
        unk_id=1,
        bos_id=-1,
        eos_id=-1,
        control_symbols=["[CLS]", "[SEP]"],
        user_defined_symbols=["[MASK]"],
        minloglevel=2,
    )
    directories = {}
    options = {
        "legacy": None,
        "legacy-cased": {"do_lower_case": False, "keep_accents": True, "remove_space": True},
        "legacy-no-prefix": {"add_prefix_space": False},
    }
    for name, config in options.items():
        directory = root / name
        directory.mkdir()
        shutil.copy(root / "spiece.model", directory / "spiece.model")
        (directory / "config.json").write_text(json.dumps({"model_type": "albert"}))
        if config is not None:
            document = {"tokenizer_class": "AlbertTokenizer", "model_max_length": 512, **config}
            (directory / "tokenizer_config.json").write_text(json.dumps(document))
        directories[name] = directory
    for name in ("legacy", "legacy-cased"):
        json_directory = root / name.replace("legacy", "json")
        transformers.AutoTokenizer.from_pretrained(directories[name]).save_pretrained(json_directory)
        (json_directory / "config.json").write_text(json.dumps({"model_type": "albert"}))
        directories[json_directory.name] = json_directory
    old_style = root / "json-old-style"
    shutil.copytree(directories["json"], old_style)
    document = json.loads((old_style / "tokenizer.json").read_text(encoding="utf-8"))
    document["normalizer"]["normalizers"].append(
        {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}
    )
    document["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"}
    (old_style / "tokenizer.json").write_text(json.dumps(document), encoding="utf-8")
    directories["json-old-style"] = old_style
    return directories


SHAPES = ["legacy", "legacy-cased", "legacy-no-prefix", "json", "json-cased", "json-old-style"]


@pytest.fixture(scope="module", params=SHAPES)
def tokenizers_pair(request: pytest.FixtureRequest, files: dict[str, Path]) -> tuple[Any, Any]:
    directory = files[request.param]
    reference = transformers.AutoTokenizer.from_pretrained(directory)
    ours = AutoTokenizer.from_pretrained(directory)
    assert type(reference).__name__ == "AlbertTokenizer" and isinstance(ours, AlbertTokenizer)
    return reference, ours


def _snapshot(tokenizer: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Everything an encoding says: values, tokens and word / sequence ids of every row."""
    encoding = tokenizer(
        *args,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
        return_token_type_ids=True,
        **kwargs,
    )
    values = {key: [list(map(tuple, row)) if key == "offset_mapping" else row for row in value]
              for key, value in encoding.items()}  # fmt: skip
    rows = range(len(encoding["input_ids"]))
    values["tokens"] = [encoding.tokens(row) for row in rows]
    values["word_ids"] = [encoding.word_ids(row) for row in rows]
    values["sequence_ids"] = [encoding.sequence_ids(row) for row in rows]
    return values


def test_vocabulary_and_special_tokens(tokenizers_pair: tuple[Any, Any]) -> None:
    reference, ours = tokenizers_pair
    assert ours.get_vocab() == reference.get_vocab()
    assert ours.special_tokens_map == {
        key: value
        for key, value in reference.special_tokens_map.items()
        if key != "additional_special_tokens"
    }
    assert sorted(ours.all_special_ids) == sorted(reference.all_special_ids)
    assert (ours.pad_token_id, ours.unk_token_id, ours.cls_token_id, ours.sep_token_id) == (0, 1, 2, 3)
    assert ours.model_input_names == reference.model_input_names == ["input_ids", "attention_mask"]
    assert "token_type_ids" not in ours("a b") and "token_type_ids" not in reference("a b")


def test_texts_match(tokenizers_pair: tuple[Any, Any]) -> None:
    """Ids, offsets, tokens, word ids and decoding of each hard text, alone and as a padded batch."""
    reference, ours = tokenizers_pair
    for text in TEXTS:
        assert _snapshot(ours, [text]) == _snapshot(reference, [text]), text
        ids = ours(text)["input_ids"]
        for skip in (False, True):
            assert ours.decode(ids, skip_special_tokens=skip) == reference.decode(
                ids, skip_special_tokens=skip
            ), (text, skip)
        assert ours.tokenize(text) == reference.tokenize(text)
    assert _snapshot(ours, TEXTS, padding=True) == _snapshot(reference, TEXTS, padding=True)


def test_pairs_truncation_and_overflow_match(tokenizers_pair: tuple[Any, Any]) -> None:
    reference, ours = tokenizers_pair
    first, second = (list(column) for column in zip(*PAIRS, strict=True))
    for kwargs in ({"padding": True}, {"padding": "max_length", "max_length": 16, "truncation": True}):
        assert _snapshot(ours, first, second, **kwargs) == _snapshot(reference, first, second, **kwargs)
    windows = {"truncation": True, "max_length": 8, "stride": 2, "return_overflowing_tokens": True}
    assert _snapshot(ours, TEXTS[-4:], **windows) == _snapshot(reference, TEXTS[-4:], **windows)
    question = {"truncation": "only_second", "max_length": 12, "stride": 3, "return_overflowing_tokens": True}
    assert _snapshot(ours, ["dog?"], [TEXTS[-1]], **question) == _snapshot(
        reference, ["dog?"], [TEXTS[-1]], **question
    )


@pytest.mark.parametrize("name", ["legacy", "legacy-cased"])
def test_saved_tokenizer_loads_in_transformers(files: dict[str, Path], tmp_path: Path, name: str) -> None:
    """autohub saves, transformers (and autohub) load the same tokenizer back."""
    ours = AutoTokenizer.from_pretrained(files[name])
    ours.save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "albert"}))
    reloaded = transformers.AutoTokenizer.from_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert type(reloaded).__name__ == "AlbertTokenizer" and type(again) is AlbertTokenizer
    for text in TEXTS:
        assert _snapshot(reloaded, [text]) == _snapshot(ours, [text]) == _snapshot(again, [text]), text
    assert reloaded.decode(ours(TEXTS[7])["input_ids"]) == ours.decode(ours(TEXTS[7])["input_ids"])
