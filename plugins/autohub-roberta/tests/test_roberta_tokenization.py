"""RobertaTokenizer / XLMRobertaTokenizer parity with transformers' (v5, tokenizers-backed) classes.

Every checkpoint is built here: a byte-level BPE trained with ``tokenizers``' ByteLevelBPETokenizer
(vocab.json + merges.txt) and a Unigram SentencePiece model trained with sentencepiece's trainer
(sentencepiece.bpe.model), each written as a legacy directory (only those files and a
tokenizer_config.json) and as a full one (tokenizer.json saved by transformers). Nothing is downloaded.

transformers 5 builds ``<mask>`` without ``lstrip`` when it loads the legacy files alone, where
transformers 4 and the Hub's tokenizer.json files strip the space before it. autohub's RoBERTa does as
transformers 5; its XLM-RoBERTa keeps the latter, so for XLM-RoBERTa legacy directories the oracle is
given that ``<mask>`` explicitly.
"""

from __future__ import annotations

import json
import pathlib
import random
from typing import Any

import pytest
import sentencepiece
import transformers
from tokenizers import AddedToken, ByteLevelBPETokenizer

from autohub_core import AutoTokenizer
from autohub_core.errors import TokenizerError
from autohub_roberta.tokenization import RobertaTokenizer, XLMRobertaTokenizer

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
    "Hello",
    "World",
    "café",
    "crème",
    "naïve",
    "résumé",
    "Über",
    "straße",
    "São",
    "Paulo",
    "東京",
    "日本語",
    "北京是中国的首都",
    "emoji",
    "🙂",
    "🚀",
    "tokenization",
    "unbelievable",
    "don't",
    "it's",
    "3.14",
    "$5",
    "100%",
]

TEXTS = [
    "Hello world",
    " leading space",
    "  two leading spaces and  double  spaces  ",
    "trailing space ",
    "new\nlines\nand\ttabs\there\r\nwindows",
    "Café crème, naïve résumé, Über straße",
    "東京 日本語 北京是中国的首都",
    "emoji 🙂 and rockets 🚀 and unseen ☃ ❄",
    "",
    "Hello <mask>! the<mask> dog <mask>",
    "literal <s> specials </s> and <pad> inside",
    "don't stop: it's 3.14, $5 or 100%",
]

PAIRS = [
    ("Hello world", "the quick brown fox"),
    ("Café crème", "東京 日本語"),
    (" leading", "trailing "),
    ("the quick brown fox jumps over the lazy dog " * 3, "short"),
]

LONG_TEXT = " ".join(WORDS * 4)

MASK = AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False, special=True)

KEYS = ("input_ids", "attention_mask", "special_tokens_mask", "offset_mapping")


def _corpus() -> list[str]:
    rng = random.Random(0)
    letters = "abcdefghijklmnopqrstuvwxyzéüöç"
    lines = []
    for _ in range(600):
        words = [
            rng.choice(WORDS)
            if rng.random() < 0.6
            else "".join(rng.choice(letters) for _ in range(rng.randint(1, 6)))
            for _ in range(rng.randint(3, 12))
        ]
        lines.append(" ".join(words))
    return lines


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def bpe_files(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """vocab.json + merges.txt of a ~500-token byte-level BPE, special tokens at fairseq ids."""
    directory = tmp_path_factory.mktemp("bpe")
    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(
        _corpus(), vocab_size=500, min_frequency=1, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    )
    trainer.save_model(str(directory))
    return directory


@pytest.fixture(scope="module")
def spm_file(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A Unigram sentencepiece.bpe.model (nmt_nfkc normalisation) trained on the corpus."""
    directory = tmp_path_factory.mktemp("spm")
    corpus = directory / "corpus.txt"
    corpus.write_text("\n".join(_corpus()), encoding="utf-8")
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(directory / "sentencepiece.bpe"),
        vocab_size=250,
        model_type="unigram",
        character_coverage=1.0,
        minloglevel=2,
    )
    return directory / "sentencepiece.bpe.model"


def _legacy_dir(
    root: pathlib.Path, family: str, sources: dict[str, pathlib.Path], **config: Any
) -> pathlib.Path:
    root.mkdir(parents=True, exist_ok=True)
    if family == "roberta":
        for name in ("vocab.json", "merges.txt"):
            (root / name).write_bytes((sources["bpe"] / name).read_bytes())
    else:
        (root / "sentencepiece.bpe.model").write_bytes(sources["spm"].read_bytes())
    tokenizer_class = "RobertaTokenizer" if family == "roberta" else "XLMRobertaTokenizer"
    (root / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": tokenizer_class, "model_max_length": 32, **config}), encoding="utf-8"
    )
    return root


def _classes(family: str) -> tuple[type, type]:
    if family == "roberta":
        return RobertaTokenizer, transformers.RobertaTokenizer
    return XLMRobertaTokenizer, transformers.XLMRobertaTokenizer


# (family, kind, tokenizer_config options)
CHECKPOINTS = [
    pytest.param(("roberta", "legacy", {}), id="roberta-legacy"),
    pytest.param(("roberta", "legacy", {"add_prefix_space": True}), id="roberta-legacy-prefix"),
    pytest.param(("roberta", "full", {}), id="roberta-full"),
    pytest.param(
        ("roberta", "full", {"add_prefix_space": True, "trim_offsets": False}),
        id="roberta-full-prefix-untrimmed",
    ),
    pytest.param(("xlm-roberta", "legacy", {}), id="xlmr-legacy"),
    pytest.param(("xlm-roberta", "legacy", {"add_prefix_space": False}), id="xlmr-legacy-no-prefix"),
    pytest.param(("xlm-roberta", "full", {}), id="xlmr-full"),
]


@pytest.fixture(scope="module", params=CHECKPOINTS)
def pair_of_tokenizers(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    bpe_files: pathlib.Path,
    spm_file: pathlib.Path,
) -> tuple[Any, Any]:
    family, kind, config = request.param
    ours_class, theirs_class = _classes(family)
    sources = {"bpe": bpe_files, "spm": spm_file}
    legacy = _legacy_dir(tmp_path_factory.mktemp(f"{family}-legacy"), family, sources, **config)
    if kind == "legacy":
        ours = ours_class.from_pretrained(legacy)
        assert ours.backend_tokenizer.get_vocab_size() > 0
        extra = {"mask_token": MASK} if family == "xlm-roberta" else {}
        return ours, theirs_class.from_pretrained(legacy, **extra)
    full = tmp_path_factory.mktemp(f"{family}-full")
    theirs_class.from_pretrained(legacy, mask_token=MASK).save_pretrained(full)
    assert (full / "tokenizer.json").is_file()
    assert not any((full / name).exists() for name in ("vocab.json", "sentencepiece.bpe.model"))
    return ours_class.from_pretrained(full), theirs_class.from_pretrained(full)


def _as_plain(encoding: Any) -> dict[str, Any]:
    """A BatchEncoding of either library as a plain dict of lists (offsets as lists)."""
    return {
        key: json.loads(json.dumps(value.tolist() if hasattr(value, "tolist") else value))
        for key, value in encoding.items()
    }


def _assert_same_call(ours: Any, theirs: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
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
    assert set(KEYS) <= set(result)
    assert "token_type_ids" not in result
    assert ours.tokenize(text) == theirs.tokenize(text)
    assert ours.encode(text) == theirs.encode(text)
    assert ours.encode(text, add_special_tokens=False) == theirs.encode(text, add_special_tokens=False)
    ids = result["input_ids"]
    assert ids[0] == ours.cls_token_id == 0 and ids[-1] == ours.sep_token_id == 2
    assert ours.convert_ids_to_tokens(ids) == theirs.convert_ids_to_tokens(ids)
    for skip in (False, True):
        assert ours.decode(ids, skip_special_tokens=skip) == theirs.decode(ids, skip_special_tokens=skip)


def test_batch_with_padding_matches_transformers(pair_of_tokenizers: tuple[Any, Any]) -> None:
    ours, theirs = pair_of_tokenizers
    result = _assert_same_call(
        ours, theirs, TEXTS, padding=True, return_offsets_mapping=True, return_special_tokens_mask=True
    )
    assert len({len(ids) for ids in result["input_ids"]}) == 1
    assert ours.pad_token_id == 1 and 1 in result["input_ids"][TEXTS.index("")]
    assert ours.batch_decode(result["input_ids"], skip_special_tokens=True) == theirs.batch_decode(
        result["input_ids"], skip_special_tokens=True
    )
    tensors = ours(TEXTS, padding="max_length", max_length=40, truncation=True, return_tensors="pt")
    assert tuple(tensors["input_ids"].shape) == (len(TEXTS), 40)
    assert set(tensors) == {"input_ids", "attention_mask"}


def test_pairs_match_transformers(pair_of_tokenizers: tuple[Any, Any]) -> None:
    ours, theirs = pair_of_tokenizers
    for first, second in PAIRS:
        result = _assert_same_call(
            ours, theirs, first, second, return_offsets_mapping=True, return_special_tokens_mask=True
        )
        ids = result["input_ids"]
        sep = ours.sep_token_id
        assert [index for index, token in enumerate(ids) if token == sep][:2] == [
            ids.index(sep),
            ids.index(sep) + 1,
        ]
        assert ours.decode(ids) == theirs.decode(ids)
    firsts, seconds = zip(*PAIRS, strict=True)
    _assert_same_call(ours, theirs, list(firsts), list(seconds), padding=True, truncation=True, max_length=20)
    for strategy in ("longest_first", "only_first"):
        _assert_same_call(
            ours,
            theirs,
            PAIRS[3][0],
            PAIRS[3][1],
            truncation=strategy,
            max_length=12,
            return_offsets_mapping=True,
        )


def test_long_text_truncation_matches_transformers(pair_of_tokenizers: tuple[Any, Any]) -> None:
    ours, theirs = pair_of_tokenizers
    result = _assert_same_call(ours, theirs, LONG_TEXT, truncation=True, return_offsets_mapping=True)
    assert len(result["input_ids"]) == ours.model_max_length == 32
    assert result["input_ids"][-1] == ours.sep_token_id
    overflow = _assert_same_call(
        ours, theirs, LONG_TEXT, truncation=True, max_length=16, stride=4, return_overflowing_tokens=True
    )
    assert len(overflow["input_ids"]) > 2
    full = _assert_same_call(ours, theirs, LONG_TEXT)
    assert len(full["input_ids"]) > 32


def test_save_and_reload_round_trips(pair_of_tokenizers: tuple[Any, Any], tmp_path: pathlib.Path) -> None:
    ours, theirs = pair_of_tokenizers
    ours.save_pretrained(tmp_path)
    reloaded_ours = type(ours).from_pretrained(tmp_path)
    reloaded_theirs = type(theirs).from_pretrained(tmp_path)
    expected = _as_plain(theirs(TEXTS, return_offsets_mapping=True))
    assert _as_plain(reloaded_ours(TEXTS, return_offsets_mapping=True)) == expected
    assert _as_plain(reloaded_theirs(TEXTS, return_offsets_mapping=True)) == expected
    config = json.loads((tmp_path / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["tokenizer_class"] == type(ours).__name__


# --------------------------------------------------------------------------- options and layout


@pytest.mark.parametrize("add_prefix_space", [False, True])
@pytest.mark.parametrize("trim_offsets", [True, False])
def test_roberta_options_at_load_match_transformers(
    tmp_path: pathlib.Path, bpe_files: pathlib.Path, add_prefix_space: bool, trim_offsets: bool
) -> None:
    """add_prefix_space / trim_offsets as keyword arguments override the files, for legacy and tokenizer.json."""
    legacy = _legacy_dir(tmp_path / "legacy", "roberta", {"bpe": bpe_files})
    full = tmp_path / "full"
    transformers.RobertaTokenizer.from_pretrained(legacy, mask_token=MASK).save_pretrained(full)
    options = {"add_prefix_space": add_prefix_space, "trim_offsets": trim_offsets}
    for directory in (legacy, full):
        ours = RobertaTokenizer.from_pretrained(directory, **options)
        theirs = transformers.RobertaTokenizer.from_pretrained(directory, **options)
        _assert_same_call(ours, theirs, TEXTS, return_offsets_mapping=True)
        _assert_same_call(ours, theirs, *PAIRS[2], return_offsets_mapping=True)
    if add_prefix_space:
        words = ["Hello", "world", "東京", "🙂"]
        _assert_same_call(ours, theirs, words, is_split_into_words=True, return_offsets_mapping=True)


def test_prefix_space_changes_the_first_word(bpe_files: pathlib.Path, tmp_path: pathlib.Path) -> None:
    directory = _legacy_dir(tmp_path, "roberta", {"bpe": bpe_files})
    plain = RobertaTokenizer.from_pretrained(directory)
    prefixed = RobertaTokenizer.from_pretrained(directory, add_prefix_space=True)
    assert prefixed.tokenize("hello") == plain.tokenize(" hello") == ["Ġhello"]
    assert plain.tokenize("hello")[0] != "Ġhello"


def test_mask_token_strips_the_space_before_it_as_transformers(pair_of_tokenizers: tuple[Any, Any]) -> None:
    """``<mask>`` swallows the space before it exactly when transformers' does (its ``lstrip``)."""
    ours, theirs = pair_of_tokenizers
    assert ours.mask_token == "<mask>"
    with_space = ours.encode("dog <mask>", add_special_tokens=False)
    without_space = ours.encode("dog<mask>", add_special_tokens=False)
    assert with_space == theirs.encode("dog <mask>", add_special_tokens=False)
    assert with_space[-1] == without_space[-1] == ours.mask_token_id
    assert (with_space == without_space) is theirs.added_tokens_decoder[theirs.mask_token_id].lstrip


def test_xlmr_ids_follow_fairseq_layout(spm_file: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """<s>=0, <pad>=1, </s>=2, <unk>=3, every SentencePiece id shifted by one, <mask> last."""
    directory = _legacy_dir(tmp_path, "xlm-roberta", {"spm": spm_file})
    ours = XLMRobertaTokenizer.from_pretrained(directory)
    processor = sentencepiece.SentencePieceProcessor(model_file=str(spm_file))
    assert [ours.convert_tokens_to_ids(t) for t in ("<s>", "<pad>", "</s>", "<unk>")] == [0, 1, 2, 3]
    assert ours.mask_token_id == processor.get_piece_size() + 1 == len(ours) - 1
    for text in TEXTS[:9]:
        expected = [
            3 if piece_id == processor.unk_id() else piece_id + 1 for piece_id in processor.encode(text)
        ]
        assert ours.encode(text, add_special_tokens=False) == expected, text


def test_auto_tokenizer_resolves_both_families(
    tmp_path: pathlib.Path, bpe_files: pathlib.Path, spm_file: pathlib.Path
) -> None:
    sources = {"bpe": bpe_files, "spm": spm_file}
    for family, expected in (("roberta", RobertaTokenizer), ("xlm-roberta", XLMRobertaTokenizer)):
        by_class = _legacy_dir(tmp_path / f"{family}-class", family, sources)
        assert type(AutoTokenizer.from_pretrained(by_class)) is expected
        by_model_type = _legacy_dir(tmp_path / f"{family}-type", family, sources)
        (by_model_type / "tokenizer_config.json").write_text("{}", encoding="utf-8")
        (by_model_type / "config.json").write_text(json.dumps({"model_type": family}), encoding="utf-8")
        tokenizer = AutoTokenizer.from_pretrained(by_model_type)
        assert type(tokenizer) is expected
        assert tokenizer.model_input_names == ["input_ids", "attention_mask"]


def test_bad_sentencepiece_file_is_refused(tmp_path: pathlib.Path) -> None:
    (tmp_path / "sentencepiece.bpe.model").write_bytes(b"this is not a protobuf")
    with pytest.raises(TokenizerError, match="SentencePiece"):
        XLMRobertaTokenizer.from_pretrained(tmp_path)
