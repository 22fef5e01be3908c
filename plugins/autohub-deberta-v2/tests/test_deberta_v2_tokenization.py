"""DebertaV2Tokenizer against transformers' on the files DeBERTa-v3 repos ship.

A tiny SentencePiece Unigram model is trained the way DeBERTa-v3's ``spm.model`` was (``[PAD]`` 0,
``[CLS]`` 1, ``[SEP]`` 2, ``[UNK]`` 3; ``[MASK]`` added after the pieces). Checkpoint shapes:

- ``spm``: microsoft/deberta-v3-base's files: ``spm.model``, a tokenizer_config.json without a
  ``tokenizer_class`` (``{"do_lower_case": false, "vocab_type": "spm"}``), config.json;
- ``spm-options``: the same with ``do_lower_case``, ``split_by_punct`` and ``add_prefix_space=False``;
- ``json``: what transformers' ``save_pretrained`` writes (tokenizer.json, no spm.model): newer uploads;
- ``json-v4``: that tokenizer.json with the normaliser and pre-tokenizer transformers 4's converter
  wrote (precompiled charsmap, ``Metaspace`` alone), which transformers 5 ignores, like autohub.

Every text of the hard text set is compared alone, as both sides of a pair, and in a padded batch:
ids, token types, attention mask, offsets, word ids and decoding (with and without special tokens).
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import sentencepiece
import transformers

from autohub_core import AutoTokenizer
from autohub_deberta_v2.tokenization import DebertaV2Tokenizer

sys.path.insert(0, str(Path(__file__).parents[3] / "tests"))  # the shared tokenizer test helpers
from test_tokenizers_alignment import TEXTS
from tokenizer_shapes import corpus

transformers.logging.set_verbosity_error()

SECOND = "question about the lazy dog?"
HUB_CONFIG = {"do_lower_case": False, "vocab_type": "spm"}
OPTIONS = {"do_lower_case": True, "split_by_punct": True, "add_prefix_space": False}


def _write(directory: Path, name: str, value: dict[str, Any]) -> None:
    (directory / name).write_text(json.dumps(value), encoding="utf-8")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("deberta-v2-tokenizer")
    corpus_file = root / "corpus.txt"
    corpus_file.write_text("\n".join(corpus()), encoding="utf-8")
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus_file),
        model_prefix=str(root / "spm"),
        vocab_size=150,
        hard_vocab_limit=False,
        model_type="unigram",
        character_coverage=1.0,
        pad_id=0,
        pad_piece="[PAD]",
        bos_id=1,
        bos_piece="[CLS]",
        eos_id=2,
        eos_piece="[SEP]",
        unk_id=3,
        unk_piece="[UNK]",
        minloglevel=2,
    )
    directories = {}
    for name, config in (("spm", HUB_CONFIG), ("spm-options", {**HUB_CONFIG, **OPTIONS})):
        directory = root / name
        directory.mkdir()
        shutil.copy(root / "spm.model", directory / "spm.model")
        _write(directory, "tokenizer_config.json", config)
        _write(directory, "config.json", {"model_type": "deberta-v2"})
        directories[name] = directory
    saved = root / "json"
    transformers.AutoTokenizer.from_pretrained(directories["spm"]).save_pretrained(saved)
    (saved / "spm.model").unlink(missing_ok=True)
    _write(saved, "config.json", {"model_type": "deberta-v2"})
    directories["json"] = saved
    older = root / "json-v4"
    shutil.copytree(saved, older)
    document = json.loads((older / "tokenizer.json").read_text(encoding="utf-8"))
    charsmap = sentencepiece.sentencepiece_model_pb2.ModelProto.FromString(
        (root / "spm.model").read_bytes()
    ).normalizer_spec.precompiled_charsmap
    document["normalizer"] = {
        "type": "Sequence",
        "normalizers": [
            {"type": "Strip", "strip_left": True, "strip_right": True},
            {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(charsmap).decode()},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
        ],
    }
    document["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}
    (older / "tokenizer.json").write_text(json.dumps(document), encoding="utf-8")
    directories["json-v4"] = older
    return directories


@pytest.fixture(scope="module", params=["spm", "spm-options", "json", "json-v4"])
def both(request: pytest.FixtureRequest, files: dict[str, Path]) -> tuple[Any, Any]:
    reference = transformers.AutoTokenizer.from_pretrained(files[request.param])
    assert type(reference).__name__ == "DebertaV2Tokenizer"
    ours = AutoTokenizer.from_pretrained(files[request.param])
    assert isinstance(ours, DebertaV2Tokenizer)
    return reference, ours


def _same(expected: Any, actual: Any, rows: int) -> None:
    for key in ("input_ids", "token_type_ids", "attention_mask", "offset_mapping"):
        assert [list(map(tuple, row)) if key == "offset_mapping" else row for row in actual[key]] == [
            list(map(tuple, row)) if key == "offset_mapping" else row for row in expected[key]
        ], key
    for row in range(rows):
        assert actual.word_ids(row) == expected.word_ids(row)
        assert actual.sequence_ids(row) == expected.sequence_ids(row)


def test_vocabulary_and_special_tokens(both: tuple[Any, Any]) -> None:
    reference, ours = both
    assert len(ours) == len(reference) and ours.get_vocab() == reference.get_vocab()
    names = ("cls_token_id", "sep_token_id", "pad_token_id", "unk_token_id", "mask_token_id")
    assert [getattr(ours, name) for name in names] == [getattr(reference, name) for name in names]
    assert (ours.cls_token_id, ours.sep_token_id, ours.pad_token_id, ours.unk_token_id) == (1, 2, 0, 3)
    assert ours.mask_token_id == len(ours) - 1  # appended after the pieces, as DeBERTa-v3's 128000
    assert ours.model_input_names == reference.model_input_names


def test_hard_texts_match(both: tuple[Any, Any]) -> None:
    """Each text alone and as both sides of a pair; then the padded batch of all of them."""
    reference, ours = both
    for text in TEXTS:
        for args in ((text,), (text, SECOND), (SECOND, text)):
            expected = reference(
                [args[0]], *([[args[1]]] if len(args) > 1 else []), return_offsets_mapping=True
            )
            actual = ours([args[0]], *([[args[1]]] if len(args) > 1 else []), return_offsets_mapping=True)
            _same(expected, actual, 1)
        ids = ours(text)["input_ids"]
        for skip in (False, True):
            assert ours.decode(ids, skip_special_tokens=skip) == reference.decode(
                ids, skip_special_tokens=skip
            )
        assert ours.tokenize(text) == reference.tokenize(text)
    kwargs = {"padding": True, "return_offsets_mapping": True}
    _same(reference(TEXTS, **kwargs), ours(TEXTS, **kwargs), len(TEXTS))
    kwargs = {"padding": "max_length", "truncation": True, "max_length": 9, "return_offsets_mapping": True}
    _same(
        reference(TEXTS, [SECOND] * len(TEXTS), **kwargs),
        ours(TEXTS, [SECOND] * len(TEXTS), **kwargs),
        len(TEXTS),
    )


def test_saved_tokenizer_loads_in_transformers(files: dict[str, Path], tmp_path: Path) -> None:
    """autohub saves (tokenizer.json), transformers and autohub load it back with the same encodings."""
    for name in ("spm", "spm-options"):
        ours = AutoTokenizer.from_pretrained(files[name])
        ours.save_pretrained(tmp_path / name)
        reference = transformers.AutoTokenizer.from_pretrained(tmp_path / name)
        again = AutoTokenizer.from_pretrained(tmp_path / name)
        assert type(reference).__name__ == "DebertaV2Tokenizer" and isinstance(again, DebertaV2Tokenizer)
        assert reference.init_kwargs["do_lower_case"] == ours.init_kwargs["do_lower_case"]
        kwargs = {"padding": True, "return_offsets_mapping": True}
        expected = ours(TEXTS, **kwargs)
        _same(expected, reference(TEXTS, **kwargs), len(TEXTS))
        _same(expected, again(TEXTS, **kwargs), len(TEXTS))
