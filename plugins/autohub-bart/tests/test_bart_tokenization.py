"""BartTokenizer parity with transformers' (v5: an alias of its RobertaTokenizer, tokenizers-backed).

The vocabulary is the byte-level BPE of ``tests/tokenizer_shapes`` (trained locally). The checkpoint
layouts are the Hub's for facebook/bart-large(-cnn): ``vocab.json`` + ``merges.txt`` with a config.json
(``model_type`` bart) and no tokenizer_config.json, the same with a tokenizer_config.json naming
``BartTokenizer``, and a ``tokenizer.json`` with RoBERTa's post-processor and a space-absorbing
``<mask>``, as the Hub's bart tokenizer.json files are. Each is compared with transformers on the
corpus and the hard texts of ``tests/test_tokenizers_alignment`` (ids, pairs, padding, decoding), and
saved by autohub then loaded by transformers. BART's tokenizer_config.json has no chat template.
Nothing is downloaded.
"""

from __future__ import annotations

import json
import pathlib
import sys
from collections.abc import Callable
from typing import Any

import pytest
import transformers
from tokenizers import AddedToken, Tokenizer, processors

from autohub_bart.tokenization import BartTokenizer
from autohub_core import AutoTokenizer

sys.path.insert(0, str(pathlib.Path(__file__).parents[3] / "tests"))
import tokenizer_shapes
from test_tokenizers_alignment import TEXTS

SECOND = "question about the lazy dog?"


def _write_json(path: pathlib.Path, value: dict[str, Any]) -> None:
    path.write_text(json.dumps(value), encoding="utf-8")


def _legacy(directory: pathlib.Path, trained: Any, tokenizer_config: dict[str, Any] | None) -> None:
    trained.save_model(str(directory))
    _write_json(directory / "config.json", {"model_type": "bart"})
    if tokenizer_config is not None:
        _write_json(directory / "tokenizer_config.json", tokenizer_config)


def _hub_json(directory: pathlib.Path, trained: Any, tokenizer_config: dict[str, Any] | None) -> None:
    """tokenizer.json as the Hub's BART repos have it: RoBERTa's post-processor, ``<mask>`` lstrip."""
    tokenizer = Tokenizer.from_str(trained._tokenizer.to_str())
    vocab = tokenizer.get_vocab()
    tokenizer.post_processor = processors.RobertaProcessing(("</s>", vocab["</s>"]), ("<s>", vocab["<s>"]))
    tokenizer.add_special_tokens(
        [token for token in tokenizer_shapes.BYTE_LEVEL_SPECIALS if token != "<mask>"]
        + [AddedToken("<mask>", lstrip=True, normalized=False, special=True)]
    )
    tokenizer.save(str(directory / "tokenizer.json"))
    _legacy(directory, trained, tokenizer_config)


LAYOUTS: dict[str, Callable[[pathlib.Path, Any], None]] = {
    "merges": lambda directory, trained: _legacy(directory, trained, None),
    "merges-class": lambda directory, trained: _legacy(
        directory, trained, {"tokenizer_class": "BartTokenizer"}
    ),
    "merges-prefix": lambda directory, trained: _legacy(
        directory, trained, {"tokenizer_class": "BartTokenizer", "add_prefix_space": True}
    ),
    "hub-json": lambda directory, trained: _hub_json(directory, trained, {"model_max_length": 1024}),
}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    trained = tokenizer_shapes.byte_level_tokenizer()
    root = tmp_path_factory.mktemp("bart-tokenizers")
    directories = {}
    for name, build in LAYOUTS.items():
        directory = root / name
        directory.mkdir()
        build(directory, trained)
        directories[name] = directory
    return directories


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_ids_and_decoding_match_transformers(checkpoints: dict[str, pathlib.Path], layout: str) -> None:
    ours = AutoTokenizer.from_pretrained(checkpoints[layout])
    theirs = transformers.AutoTokenizer.from_pretrained(checkpoints[layout])
    assert isinstance(ours, BartTokenizer)
    texts = [*TEXTS, *tokenizer_shapes.corpus()]
    mine, reference = ours(texts)["input_ids"], theirs(texts)["input_ids"]
    assert mine == reference
    for ids in mine[: len(TEXTS)] + mine[-50:]:
        assert ours.decode(ids) == theirs.decode(ids)
        assert ours.decode(ids, skip_special_tokens=True) == theirs.decode(ids, skip_special_tokens=True)
    pairs = ours(TEXTS, [SECOND] * len(TEXTS), padding=True, return_tensors="pt")
    expected = theirs(TEXTS, [SECOND] * len(TEXTS), padding=True, return_tensors="pt")
    assert pairs["input_ids"].tolist() == expected["input_ids"].tolist()
    assert pairs["attention_mask"].tolist() == expected["attention_mask"].tolist()


def test_saved_tokenizer_loads_in_transformers(
    checkpoints: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    ours = AutoTokenizer.from_pretrained(checkpoints["hub-json"])
    ours.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert saved["tokenizer_class"] == "BartTokenizer"
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert theirs(TEXTS)["input_ids"] == ours(TEXTS)["input_ids"]
    assert type(AutoTokenizer.from_pretrained(tmp_path)) is BartTokenizer
