"""ModernBERT's tokenizer against transformers' on the hard text set: a tokenizer.json in the pipeline
answerdotai/ModernBERT-base ships (NFC, byte-level BPE, ``[CLS] $A [SEP]`` template, ``[MASK]`` with
lstrip, non-special added tokens) with the Hub's tokenizer_config.json, with or without its
``tokenizer_class``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import transformers
from tokenizers import (
    AddedToken,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

from autohub_core import AutoTokenizer
from autohub_core.tokenization import TokenizersBackend
from autohub_modernbert.tokenization import ModernBertTokenizer

TESTS = Path(__file__).resolve().parents[3] / "tests"
sys.path.insert(0, str(TESTS))  # the shared tokenizer corpus and hard texts (pytest runs in importlib mode)
from test_tokenizers_alignment import QUESTION, SECOND, TEXTS  # noqa: E402
from tokenizer_shapes import corpus  # noqa: E402

SPECIALS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
KEYS = ("input_ids", "attention_mask", "token_type_ids", "special_tokens_mask", "offset_mapping")


def _tokenizer_json() -> Tokenizer:
    """A ~600-token byte-level BPE built as ModernBERT-base's tokenizer.json is."""
    tokenizer = Tokenizer(models.BPE(fuse_unk=False, byte_fallback=False))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(
        add_prefix_space=False, trim_offsets=True, use_regex=True
    )
    tokenizer.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=["|||IP_ADDRESS|||", "<|padding|>", "<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(corpus(), trainer=trainer)
    tokenizer.add_tokens(
        [AddedToken("|||EMAIL_ADDRESS|||", normalized=True), AddedToken("   ", normalized=True)]
    )
    tokenizer.add_special_tokens(
        [AddedToken(token, normalized=False, lstrip=token == "[MASK]") for token in SPECIALS]
    )
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0",
        pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return tokenizer


def _tokenizer_config(tokenizer: Tokenizer) -> dict[str, Any]:
    """ModernBERT-base's tokenizer_config.json, for this vocabulary."""
    decoder = {
        str(index): {
            "content": token.content,
            "lstrip": token.lstrip,
            "normalized": token.normalized,
            "rstrip": token.rstrip,
            "single_word": token.single_word,
            "special": token.special,
        }
        for index, token in tokenizer.get_added_tokens_decoder().items()
    }
    return {
        "added_tokens_decoder": decoder,
        "clean_up_tokenization_spaces": True,
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": 8192,
        "pad_token": "[PAD]",
        "sep_token": "[SEP]",
        "tokenizer_class": "PreTrainedTokenizerFast",
        "unk_token": "[UNK]",
    }


@pytest.fixture(scope="module", params=["hub-files", "no-tokenizer-class"])
def checkpoint(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp(request.param)
    tokenizer = _tokenizer_json()
    tokenizer.save(str(directory / "tokenizer.json"))
    (directory / "config.json").write_text(json.dumps({"model_type": "modernbert"}))
    options = _tokenizer_config(tokenizer)
    if request.param == "no-tokenizer-class":
        del options["tokenizer_class"]  # then the model type decides
    (directory / "tokenizer_config.json").write_text(json.dumps(options))
    mask = {"content": "[MASK]", "lstrip": True, "normalized": False, "rstrip": False, "single_word": False}
    special = {"cls_token": "[CLS]", "mask_token": mask, "pad_token": "[PAD]", "sep_token": "[SEP]"}
    (directory / "special_tokens_map.json").write_text(json.dumps({**special, "unk_token": "[UNK]"}))
    return directory


def _assert_same(ours: Any, theirs: Any, *args: Any, **kwargs: Any) -> None:
    """Same keys and values for these inputs, and the same tokens, word ids and sequence ids per row."""
    expected = theirs(*args, return_offsets_mapping=True, return_special_tokens_mask=True, **kwargs)
    actual = ours(*args, return_offsets_mapping=True, return_special_tokens_mask=True, **kwargs)
    assert set(actual.keys()) == set(expected.keys()), args
    for key in KEYS:
        if key in expected:
            assert actual[key] == expected[key], (key, args)
    for row in range(len(expected.encodings)):
        assert actual.tokens(row) == expected.tokens(row), args
        assert actual.word_ids(row) == expected.word_ids(row), args
        assert actual.sequence_ids(row) == expected.sequence_ids(row), args


def test_matches_transformers_on_hard_texts(checkpoint: Path, tmp_path: Path) -> None:
    """Every hard text alone, as a pair, in a padded batch and truncated with overflow: ids, masks,
    offsets, tokens, word ids; decoding with and without special tokens; both save directions."""
    ours = AutoTokenizer.from_pretrained(checkpoint)
    theirs = transformers.AutoTokenizer.from_pretrained(checkpoint)
    # The Hub's tokenizer_class (PreTrainedTokenizerFast) names the generic tokenizer, as in transformers.
    expected_class = (
        ModernBertTokenizer if checkpoint.name.startswith("no-tokenizer-class") else TokenizersBackend
    )
    assert type(ours) is expected_class
    assert ours.all_special_tokens == theirs.all_special_tokens
    assert ours.special_tokens_map == theirs.special_tokens_map
    assert ours.get_vocab() == theirs.get_vocab()
    for text in TEXTS:
        _assert_same(ours, theirs, text)
        _assert_same(ours, theirs, text, SECOND)
        ids = theirs(text, SECOND)["input_ids"]
        for skip in (False, True):
            assert ours.decode(ids, skip_special_tokens=skip) == theirs.decode(ids, skip_special_tokens=skip)
    _assert_same(ours, theirs, TEXTS, padding=True)
    _assert_same(ours, theirs, TEXTS, [SECOND] * len(TEXTS), padding="longest")
    truncated = {
        "truncation": "only_second",
        "max_length": 12,
        "stride": 3,
        "return_overflowing_tokens": True,
    }
    _assert_same(ours, theirs, [QUESTION] * 2, TEXTS[-2:], **truncated)
    # Both save directions: each library reads the other's save with the same results.
    ours.save_pretrained(tmp_path / "ours")
    theirs.save_pretrained(tmp_path / "theirs")
    for ours_again, theirs_again in (
        (ours, transformers.AutoTokenizer.from_pretrained(tmp_path / "ours")),
        (AutoTokenizer.from_pretrained(tmp_path / "theirs"), theirs),
    ):
        _assert_same(ours_again, theirs_again, TEXTS, padding=True)
