"""MPNetTokenizer parity with transformers' MPNetTokenizer (v5, tokenizers-backed).

The vocabulary is laid out as MPNet's: fairseq's ``<s> <pad> </s> <unk>`` first, then a BERT
WordPiece vocabulary (trained here with ``tokenizers`` on the corpus of ``tests/tokenizer_shapes``,
``[UNK]`` among it), then ``<mask>`` last. The checkpoint layouts are the Hub's (all-mpnet-base-v2):
vocab.txt with tokenizer_config.json and a special_tokens_map.json whose ``<mask>`` strips the space
before it; vocab.txt alone; the Hub's tokenizer.json (transformers 4's converter: a template giving
the second sequence type id 1); and the tokenizer.json transformers 5 saves. Each is compared with
transformers on the hard texts of ``tests/test_tokenizers_alignment``. Nothing is downloaded.
"""

from __future__ import annotations

import json
import pathlib
import sys
from collections.abc import Callable
from typing import Any

import pytest
import transformers
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from autohub_core import AutoTokenizer
from autohub_mpnet.tokenization import MPNetTokenizer

sys.path.insert(0, str(pathlib.Path(__file__).parents[3] / "tests"))
import tokenizer_shapes
from test_tokenizers_alignment import TEXTS

FAIRSEQ_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
HUB_CONFIG = {
    "bos_token": "<s>",
    "cls_token": "<s>",
    "do_lower_case": True,
    "eos_token": "</s>",
    "mask_token": "<mask>",
    "model_max_length": 512,
    "pad_token": "<pad>",
    "sep_token": "</s>",
    "strip_accents": None,
    "tokenize_chinese_chars": True,
    "tokenizer_class": "MPNetTokenizer",
    "unk_token": "[UNK]",
}
LSTRIP_MASK = {
    "content": "<mask>",
    "lstrip": True,
    "normalized": False,
    "rstrip": False,
    "single_word": False,
}
MPNET_TEXTS = [
    "Hello <mask>, the<mask>  <mask>!",
    "literal <s> and </s> and <pad> <unk> [UNK] [CLS] inside",
    "ÉCOLE école ÉTÉ été Ångström Über",
]
SECOND = "question about the lazy dog?"
ENCODING_KEYS = ("input_ids", "attention_mask", "special_tokens_mask", "offset_mapping", "token_type_ids")


def _write_json(path: pathlib.Path, value: dict[str, Any]) -> None:
    path.write_text(json.dumps(value), encoding="utf-8")


def _vocab() -> list[str]:
    bert = sorted(tokenizer_shapes.wordpiece_tokenizer().get_vocab().items(), key=lambda item: item[1])
    return [*FAIRSEQ_SPECIALS, *(token for token, _ in bert), "<mask>"]


def _legacy(directory: pathlib.Path, vocab: list[str], config: dict[str, Any] | None) -> None:
    (directory / "vocab.txt").write_text("".join(f"{token}\n" for token in vocab), encoding="utf-8")
    _write_json(directory / "config.json", {"model_type": "mpnet"})
    if config is not None:
        _write_json(directory / "tokenizer_config.json", config)
        specials = {key: value for key, value in config.items() if key.endswith("_token")}
        _write_json(directory / "special_tokens_map.json", {**specials, "mask_token": LSTRIP_MASK})


def _hub_json(directory: pathlib.Path, vocab: list[str]) -> None:
    """tokenizer.json as the Hub ships it for all-mpnet-base-v2 (transformers 4's MPNetConverter)."""
    backend = Tokenizer(models.WordPiece({token: i for i, token in enumerate(vocab)}, unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(
        single="<s>:0 $A:0 </s>:0",
        pair="<s>:0 $A:0 </s>:0 </s>:0 $B:1 </s>:1",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    backend.decoder = decoders.WordPiece()
    mask = AddedToken("<mask>", lstrip=True, normalized=False, special=True)
    backend.add_special_tokens([*FAIRSEQ_SPECIALS, "[UNK]", mask])
    backend.save(str(directory / "tokenizer.json"))
    _write_json(directory / "config.json", {"model_type": "mpnet"})
    _write_json(directory / "tokenizer_config.json", HUB_CONFIG)


def _converted(directory: pathlib.Path, vocab: list[str]) -> None:
    """tokenizer.json saved by transformers 5 from the Hub's vocab.txt layout (no vocab.txt left)."""
    source = directory.with_name(directory.name + "-source")
    source.mkdir()
    _legacy(source, vocab, HUB_CONFIG)
    transformers.MPNetTokenizer.from_pretrained(source).save_pretrained(directory)
    (directory / "vocab.txt").unlink(missing_ok=True)
    _write_json(directory / "config.json", {"model_type": "mpnet"})


LAYOUTS: dict[str, Callable[[pathlib.Path, list[str]], None]] = {
    "vocab-hub-config": lambda directory, vocab: _legacy(directory, vocab, HUB_CONFIG),
    "vocab-only": lambda directory, vocab: _legacy(directory, vocab, None),
    "vocab-cased": lambda directory, vocab: _legacy(
        directory, vocab, {**HUB_CONFIG, "do_lower_case": False, "strip_accents": False}
    ),
    "hub-json": _hub_json,
    "transformers-json": _converted,
}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    root = tmp_path_factory.mktemp("mpnet-tokenizers")
    vocab = _vocab()
    directories = {}
    for name, build in LAYOUTS.items():
        directory = root / name
        directory.mkdir()
        build(directory, vocab)
        directories[name] = directory
    return directories


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
                snapshot[f"{name}/{key}"] = [
                    tuple(item) if isinstance(item, tuple) else item for item in encoding[key]
                ]
        snapshot[f"{name}/tokens"] = encoding.tokens()
        snapshot[f"{name}/word_ids"] = encoding.word_ids()
        snapshot[f"{name}/sequence_ids"] = encoding.sequence_ids()
    for key in ENCODING_KEYS:
        snapshot[f"batch/{key}"] = [
            [tuple(item) if isinstance(item, tuple) else item for item in row] for row in batch[key]
        ]
    snapshot["batch/word_ids"] = [batch.word_ids(row) for row in range(2)]
    snapshot["keys"] = sorted(tokenizer(text).keys())
    for skip in (False, True):
        snapshot[f"decode/{skip}"] = tokenizer.decode(pair["input_ids"], skip_special_tokens=skip)
    snapshot["tokenize"] = tokenizer.tokenize(text)
    return snapshot


def _assert_same(ours: Any, theirs: Any) -> None:
    for text in [*TEXTS, *MPNET_TEXTS]:
        expected = _snapshot(theirs, text)
        actual = _snapshot(ours, text)
        for key, value in expected.items():
            assert actual[key] == value, (text, key)
    for name in ("bos", "eos", "sep", "cls", "unk", "pad", "mask"):
        assert getattr(ours, f"{name}_token") == getattr(theirs, f"{name}_token"), name
        assert getattr(ours, f"{name}_token_id") == getattr(theirs, f"{name}_token_id"), name
    assert ours.model_input_names == theirs.model_input_names
    assert ours.get_vocab() == theirs.get_vocab()


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_matches_transformers(checkpoints: dict[str, pathlib.Path], layout: str) -> None:
    ours = AutoTokenizer.from_pretrained(checkpoints[layout])
    assert isinstance(ours, MPNetTokenizer)
    theirs = transformers.AutoTokenizer.from_pretrained(checkpoints[layout])
    assert type(theirs).__name__ == "MPNetTokenizer"
    _assert_same(ours, theirs)


@pytest.mark.parametrize("layout", ["vocab-hub-config", "hub-json"])
def test_autohub_save_loads_in_transformers(
    checkpoints: dict[str, pathlib.Path], layout: str, tmp_path: pathlib.Path
) -> None:
    AutoTokenizer.from_pretrained(checkpoints[layout]).save_pretrained(tmp_path)
    _write_json(tmp_path / "config.json", {"model_type": "mpnet"})
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert type(theirs).__name__ == "MPNetTokenizer"
    _assert_same(AutoTokenizer.from_pretrained(tmp_path), theirs)
    _assert_same(AutoTokenizer.from_pretrained(checkpoints[layout]), theirs)


def test_mask_token_swallows_the_space_before_it(checkpoints: dict[str, pathlib.Path]) -> None:
    tokenizer = AutoTokenizer.from_pretrained(checkpoints["vocab-only"])
    mask = tokenizer.added_tokens_decoder[tokenizer.mask_token_id]
    assert mask.lstrip and not mask.rstrip
    assert tokenizer("a <mask>")["input_ids"] == tokenizer("a<mask>")["input_ids"]
    assert tokenizer.mask_token_id == len(tokenizer) - 1
    assert tokenizer("a", "b")["input_ids"][-4:] == [2, 2, tokenizer.convert_tokens_to_ids("b"), 2]
