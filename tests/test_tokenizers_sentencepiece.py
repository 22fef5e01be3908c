"""AutoTokenizer on SentencePiece checkpoints (Llama, Mistral, T5, XLM-R) against transformers'.

Every shape of tests/sentencepiece_shapes.py (``.model`` only, the Hub's tokenizer.json shapes,
``legacy`` true / false / absent, ``add_prefix_space``) is loaded by both AutoTokenizers and
compared on hard texts: ids, tokens, attention masks, offsets and decoding with and without
special tokens, then pairs, padded batches, and truncation with overflowing windows.
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import transformers

from autohub_core import AutoTokenizer
from autohub_core.errors import MissingExtraError, TokenizerError

sys.path.insert(0, str(Path(__file__).parent))  # the helpers beside this file (pytest runs in importlib mode)
from sentencepiece_shapes import SHAPES, train_models

TEXTS = [
    "Hello world",
    " Hello world",
    "Hello world ",
    "  Hello   world  ",
    " ",
    "   ",
    "",
    "\n",
    "line one\nline two\n\nline four",
    "tab\tseparated\t\tvalues",
    " \t mixed \n whitespace \t",
    "<s>Hello</s>",
    "<s> Hello </s>",
    "Hello<s>world",
    "Hello <s> world </s> again",
    "</s>",
    " <s>",
    "a</s>b </s> c",
    "<unk> is unknown",
    "a<sep>b x <sep> y",
    "東京と北京 日本語",
    "👩‍👩‍👧 family 🙂🚀",
    "e\u0301cole cafe\u0301 café",
    "naïve résumé Über São Paulo",
    "مرحبا بالعالم",
    "שלום עולם and hello",
    "3.14 $5 100% 12345",
    "don't it's the quick-brown fox.",
    "▁already▁meta spaced",
    "ÀÉÎÕÜ ß ﬁ ① ｆｕｌｌ",
]
PAIRS = [
    ("question: what is it?", "context: a quick brown fox"),
    (" leading", "trailing "),
    ("", "only the second"),
    ("東京 🙂", "<s> special"),
]
LONG_TEXT = " ".join(["the quick brown fox jumps over the lazy dog,", "東京 🙂 naïve\n"] * 8)

#: Comparisons made, by kind (reported by the last test).
COMPARED: collections.Counter[str] = collections.Counter()

EXPECTED_CLASSES = {
    "llama": "LlamaTokenizer",
    "mistral": "MistralTokenizer",
    "t5": "T5Tokenizer",
    "xlm-roberta": "XLMRobertaTokenizer",
}


def _expected_class(directory: Path, model_type: str) -> str:
    """The family's class; transformers 5 maps llama to no tokenizer, so an unnamed one is generic."""
    config = directory / "tokenizer_config.json"
    named = config.exists() and "tokenizer_class" in json.loads(config.read_text(encoding="utf-8"))
    return "TokenizersBackend" if model_type == "llama" and not named else EXPECTED_CLASSES[model_type]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sentencepiece-shapes")
    models = train_models()
    return {shape.name: shape.make(root, models) for shape in SHAPES}


PARITY_SHAPES = SHAPES


@pytest.fixture(scope="module", params=SHAPES, ids=[shape.name for shape in SHAPES])
def tokenizers(request: pytest.FixtureRequest, checkpoints: dict[str, Path]) -> tuple[Any, Any]:
    """(autohub's, transformers') AutoTokenizer of one shape; padding uses ``</s>`` where there is no pad."""
    directory = checkpoints[request.param.name]
    ours = AutoTokenizer.from_pretrained(directory)
    theirs = transformers.AutoTokenizer.from_pretrained(directory)
    assert type(ours).__name__ == _expected_class(directory, request.param.model_type)
    for tokenizer in (ours, theirs):
        if tokenizer.pad_token is None:
            tokenizer.pad_token = "</s>"
    return ours, theirs


def _plain(value: Any) -> Any:
    """Lists and tuples (offsets) as nested lists, so both libraries' outputs compare equal."""
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _encoded(tokenizer: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    encoded = tokenizer(*args, return_offsets_mapping=True, **kwargs)
    return {key: _plain(value) for key, value in encoded.items()}


def test_texts_match(tokenizers: tuple[Any, Any]) -> None:
    """ids, tokens, masks, offsets (with and without special tokens) and both decodings, per text."""
    ours, theirs = tokenizers
    assert ours.padding_side == theirs.padding_side
    assert ours.all_special_ids == [theirs.convert_tokens_to_ids(token) for token in ours.all_special_tokens]
    for text in TEXTS:
        for add_special_tokens in (True, False):
            expected = _encoded(theirs, text, add_special_tokens=add_special_tokens)
            assert _encoded(ours, text, add_special_tokens=add_special_tokens) == expected, text
        ids = expected["input_ids"]
        assert ours.convert_ids_to_tokens(ids) == theirs.convert_ids_to_tokens(ids), text
        assert ours.tokenize(text) == theirs.tokenize(text), text
        with_specials = theirs(text)["input_ids"]
        for skip in (False, True):
            assert ours.decode(with_specials, skip_special_tokens=skip) == theirs.decode(
                with_specials, skip_special_tokens=skip
            ), (text, skip)
    COMPARED["text"] += len(TEXTS)


def test_pairs_and_padded_batches_match(tokenizers: tuple[Any, Any]) -> None:
    ours, theirs = tokenizers
    for first, second in PAIRS:
        assert _encoded(ours, first, second) == _encoded(theirs, first, second), (first, second)
    batch = dict(padding=True, return_special_tokens_mask=True)
    assert _encoded(ours, TEXTS, **batch) == _encoded(theirs, TEXTS, **batch)
    pairs = ([first for first, _ in PAIRS], [second for _, second in PAIRS])
    assert _encoded(ours, *pairs, **batch) == _encoded(theirs, *pairs, **batch)
    ids = theirs(TEXTS, padding=True)["input_ids"]
    for skip in (False, True):
        assert ours.batch_decode(ids, skip_special_tokens=skip) == theirs.batch_decode(
            ids, skip_special_tokens=skip
        )
    COMPARED["pair"] += len(PAIRS)
    COMPARED["batch"] += 3


def test_truncation_with_overflowing_tokens_matches(tokenizers: tuple[Any, Any]) -> None:
    ours, theirs = tokenizers
    for max_length, stride in ((16, 4), (9, 0)):
        window = dict(truncation=True, max_length=max_length, stride=stride, return_overflowing_tokens=True)
        assert _encoded(ours, LONG_TEXT, **window) == _encoded(theirs, LONG_TEXT, **window)
        padded = dict(window, padding="max_length")
        assert _encoded(ours, [LONG_TEXT, TEXTS[1]], **padded) == _encoded(
            theirs, [LONG_TEXT, TEXTS[1]], **padded
        )
        pair = dict(
            truncation="only_second",
            max_length=max_length + 24,
            stride=stride,
            return_overflowing_tokens=True,
        )
        assert _encoded(ours, "short question", LONG_TEXT, **pair) == _encoded(
            theirs, "short question", LONG_TEXT, **pair
        )
    COMPARED["truncation"] += 6


def test_save_and_reload_keeps_the_ids(tokenizers: tuple[Any, Any], tmp_path: Path) -> None:
    """What autohub saves loads back in autohub and in transformers with the same ids."""
    ours, theirs = tokenizers
    ours.save_pretrained(tmp_path)
    reloaded = type(ours).from_pretrained(tmp_path)
    reloaded_by_transformers = transformers.AutoTokenizer.from_pretrained(tmp_path)
    for text in TEXTS:
        expected = theirs(text)["input_ids"]
        assert reloaded(text)["input_ids"] == expected, text
        assert reloaded_by_transformers(text)["input_ids"] == expected, text


def test_corrupt_model_file_is_a_tokenizer_error(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.model").write_bytes(b"\x0a\x05not a model")
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(TokenizerError, match="SentencePiece model"):
        AutoTokenizer.from_pretrained(tmp_path)


def test_missing_sentencepiece_names_what_to_install(
    checkpoints: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sentencepiece", None)
    with pytest.raises(MissingExtraError, match="pip install sentencepiece protobuf"):
        AutoTokenizer.from_pretrained(checkpoints["llama-model"])


def test_number_of_cases_compared() -> None:
    """Every (shape × text) and the pair, batch and truncation cases ran; the counts are reported."""
    if not COMPARED:
        pytest.skip("run with the comparison tests of this module: they do the counting")
    per_shape = {"text": len(TEXTS), "pair": len(PAIRS), "batch": 3, "truncation": 6}
    expected = {kind: count * len(PARITY_SHAPES) for kind, count in per_shape.items()}
    print(f"\nSentencePiece parity: {len(PARITY_SHAPES)} shapes, cases compared {dict(COMPARED)}")
    assert dict(COMPARED) == expected
