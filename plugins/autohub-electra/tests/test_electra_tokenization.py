"""ElectraTokenizer parity with transformers' (v5: its BertTokenizer, tokenizers-backed).

The vocabulary is a WordPiece trained with ``tokenizers`` on the corpus of ``tests/tokenizer_shapes``.
The checkpoint layouts are the Hub's (google/electra-small-discriminator: vocab.txt with an uncased
tokenizer_config.json, and tokenizer.json as transformers 4's converter wrote it), vocab.txt alone,
tokenizer_config.json naming ``ElectraTokenizer``, a cased one (the NER fine-tunes), and the
tokenizer.json transformers 5 saves. Each is compared with transformers on the hard texts of
``tests/test_tokenizers_alignment``: ids, type ids, offsets, special-token masks, tokens, word and
sequence ids, alone, in pairs, padded, pre-split; decoding. Nothing is downloaded.
"""

from __future__ import annotations

import json
import pathlib
import sys
from collections.abc import Callable
from typing import Any

import pytest
import transformers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from autohub_core import AutoTokenizer
from autohub_core.tokenization import WordPieceTokenizer
from autohub_electra.tokenization import ElectraTokenizer

sys.path.insert(0, str(pathlib.Path(__file__).parents[3] / "tests"))
import tokenizer_shapes
from test_tokenizers_alignment import TEXTS

HUB_CONFIG = {"do_lower_case": True, "model_max_length": 512}
SPECIALS = tokenizer_shapes.WORDPIECE_SPECIALS
SECOND = "question about the lazy dog?"
ENCODING_KEYS = ("input_ids", "attention_mask", "special_tokens_mask", "offset_mapping", "token_type_ids")


def _write_json(path: pathlib.Path, value: dict[str, Any]) -> None:
    path.write_text(json.dumps(value), encoding="utf-8")


def _legacy(directory: pathlib.Path, vocab: list[str], config: dict[str, Any] | None) -> None:
    (directory / "vocab.txt").write_text("".join(f"{token}\n" for token in vocab), encoding="utf-8")
    _write_json(directory / "config.json", {"model_type": "electra"})
    if config is not None:
        _write_json(directory / "tokenizer_config.json", config)


def _hub_json(directory: pathlib.Path, vocab: list[str]) -> None:
    """tokenizer.json as the Hub ships it (transformers 4's BertConverter), with the Hub's config."""
    ids = {token: index for index, token in enumerate(vocab)}
    backend = Tokenizer(models.WordPiece(ids, unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0",
        pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
    )
    backend.decoder = decoders.WordPiece(prefix="##")
    backend.add_special_tokens(SPECIALS)
    backend.save(str(directory / "tokenizer.json"))
    _legacy(directory, vocab, HUB_CONFIG)


def _converted(directory: pathlib.Path, vocab: list[str]) -> None:
    """tokenizer.json saved by transformers 5 from the Hub's vocab.txt layout (no vocab.txt left)."""
    source = directory.with_name(directory.name + "-source")
    source.mkdir()
    _legacy(source, vocab, HUB_CONFIG)
    transformers.ElectraTokenizer.from_pretrained(source).save_pretrained(directory)
    (directory / "vocab.txt").unlink(missing_ok=True)
    _write_json(directory / "config.json", {"model_type": "electra"})


LAYOUTS: dict[str, Callable[[pathlib.Path, list[str]], None]] = {
    "vocab-hub-config": lambda directory, vocab: _legacy(directory, vocab, HUB_CONFIG),
    "vocab-only": lambda directory, vocab: _legacy(directory, vocab, None),
    "vocab-named-class": lambda directory, vocab: _legacy(
        directory, vocab, {**HUB_CONFIG, "tokenizer_class": "ElectraTokenizer"}
    ),
    "vocab-cased": lambda directory, vocab: _legacy(
        directory, vocab, {**HUB_CONFIG, "do_lower_case": False, "tokenize_chinese_chars": False}
    ),
    "hub-json": _hub_json,
    "transformers-json": _converted,
}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    root = tmp_path_factory.mktemp("electra-tokenizers")
    trained = tokenizer_shapes.wordpiece_tokenizer().get_vocab()
    vocab = [token for token, _ in sorted(trained.items(), key=lambda item: item[1])]
    directories = {}
    for name, build in LAYOUTS.items():
        directory = root / name
        directory.mkdir()
        build(directory, vocab)
        directories[name] = directory
    return directories


def _plain(values: Any) -> Any:
    return [tuple(item) if isinstance(item, tuple) else item for item in values]


def _snapshot(tokenizer: Any, text: str) -> dict[str, Any]:
    """Everything compared for one text: alone, in a pair, padded in a batch, as words; decoding."""
    options = {
        "return_offsets_mapping": True,
        "return_special_tokens_mask": True,
        "return_token_type_ids": True,
    }
    single = tokenizer(text, **options)
    pair = tokenizer(text, SECOND, **options)
    batch = tokenizer([SECOND, text], padding=True, **options)
    words = tokenizer(text.split(" "), is_split_into_words=True, return_offsets_mapping=True)
    snapshot: dict[str, Any] = {}
    for name, encoding in (("single", single), ("pair", pair), ("words", words)):
        for key in ENCODING_KEYS:
            if key in encoding:
                snapshot[f"{name}/{key}"] = _plain(encoding[key])
        snapshot[f"{name}/tokens"] = encoding.tokens()
        snapshot[f"{name}/word_ids"] = encoding.word_ids()
        snapshot[f"{name}/sequence_ids"] = encoding.sequence_ids()
    for key in ENCODING_KEYS:
        snapshot[f"batch/{key}"] = [_plain(row) for row in batch[key]]
    snapshot["batch/word_ids"] = [batch.word_ids(row) for row in range(2)]
    snapshot["keys"] = sorted(tokenizer(text).keys())
    for skip in (False, True):
        snapshot[f"decode/{skip}"] = tokenizer.decode(pair["input_ids"], skip_special_tokens=skip)
    return snapshot


def _assert_same(ours: Any, theirs: Any) -> None:
    for text in TEXTS:
        expected = _snapshot(theirs, text)
        actual = _snapshot(ours, text)
        for key, value in expected.items():
            assert actual[key] == value, (text, key)
    for name in ("sep", "cls", "unk", "pad", "mask"):
        assert getattr(ours, f"{name}_token") == getattr(theirs, f"{name}_token"), name
        assert getattr(ours, f"{name}_token_id") == getattr(theirs, f"{name}_token_id"), name
    assert ours.model_input_names == theirs.model_input_names
    assert ours.get_vocab() == theirs.get_vocab()


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_matches_transformers(checkpoints: dict[str, pathlib.Path], layout: str) -> None:
    ours = AutoTokenizer.from_pretrained(checkpoints[layout])
    if (
        layout == "transformers-json"
    ):  # its tokenizer_config.json names BertTokenizer (transformers 5's class)
        assert isinstance(ours, WordPieceTokenizer)
    else:
        assert isinstance(ours, ElectraTokenizer)
    theirs = transformers.AutoTokenizer.from_pretrained(checkpoints[layout])
    _assert_same(ours, theirs)


@pytest.mark.parametrize("layout", ["vocab-hub-config", "hub-json", "vocab-cased"])
def test_autohub_save_loads_in_transformers(
    checkpoints: dict[str, pathlib.Path], layout: str, tmp_path: pathlib.Path
) -> None:
    AutoTokenizer.from_pretrained(checkpoints[layout]).save_pretrained(tmp_path)
    _write_json(tmp_path / "config.json", {"model_type": "electra"})
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path)
    _assert_same(AutoTokenizer.from_pretrained(tmp_path), theirs)
    _assert_same(AutoTokenizer.from_pretrained(checkpoints[layout]), theirs)
