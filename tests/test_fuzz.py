"""Fuzzing the file formats autohub reads: only typed ``AutohubError`` subclasses may escape.

Targets: config.json, model.safetensors, tokenizer files, the sharded-weights index, and
generation_config.json (loaded and used by ``generate()`` on a tiny GPT-2).
Each test counts the cases it ran; the counts are printed at the end of the module (``-s``).
Runs are derandomized (reproducible in CI); set ``AUTOHUB_FUZZ_RANDOM=1`` for fresh cases
and ``AUTOHUB_FUZZ_SCALE=10`` for ten times more of them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import struct
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autohub_core import (
    AutoConfig,
    AutohubError,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    CheckpointNotFoundError,
    TokenizerError,
    WeightsError,
    limits,
)
from autohub_core.generation import GenerationConfig

sys.path.insert(0, str(Path(__file__).parent))  # the helpers beside this file (pytest runs in importlib mode)
from hostile_folders import bounded, origin

SCALE = int(os.environ.get("AUTOHUB_FUZZ_SCALE", "1"))
CASES: Counter[str] = Counter()
TINY_BERT: dict[str, Any] = {
    "model_type": "bert",
    "vocab_size": 99,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "max_position_embeddings": 64,
    "type_vocab_size": 2,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
    "classifier_dropout": None,
    "num_labels": 2,
    "problem_type": None,
    "id2label": {"0": "NEG", "1": "POS"},
    "label2id": {"NEG": 0, "POS": 1},
    "tie_word_embeddings": True,
    "is_decoder": False,
    "add_cross_attention": False,
}
HUGE = [10**12, 2**40, 2**62, 2**63, 2**64 + 1, 10**30]


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        database=None,
        derandomize=os.environ.get("AUTOHUB_FUZZ_RANDOM") != "1",
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@pytest.fixture(scope="module", autouse=True)
def report_case_counts() -> Iterator[None]:
    yield
    print("\nfuzz cases run per target:")
    for target, count in sorted(CASES.items()):
        print(f"  {target:<60} {count}")


@pytest.fixture(scope="module")
def bert_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny autohub BERT (masked-LM) with config.json, model.safetensors and tokenizer files."""
    directory = tmp_path_factory.mktemp("fuzz-bert")
    torch.manual_seed(0)
    config = AutoConfig.for_model("bert", **{k: v for k, v in TINY_BERT.items() if k != "model_type"})
    AutoModelForMaskedLM.from_config(config).save_pretrained(directory)
    words = ["hello", "world", "fuzz", "ing", "##s", "##ing", *"abcdefghijklmnopqrstuvwxyz"]
    (directory / "vocab.txt").write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n"
    )
    AutoTokenizer.from_pretrained(directory).save_pretrained(directory)
    return directory


def fresh_copy(source: Path, *names: str) -> Path:
    """A new directory with copies of ``names`` (never rewrite a file a previous model may mmap)."""
    target = Path(tempfile.mkdtemp(prefix="fuzz-", dir=source.parent))
    for name in names:
        shutil.copy(source / name, target / name)
    return target


def expect_typed(operation: Any, *allowed: type[AutohubError]) -> AutohubError | None:
    """Run ``operation``; return the typed error it raised (None on success), fail on any other."""
    try:
        operation()
    except allowed as error:
        return error
    return None


# -- config.json --------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**3), 64),
    st.sampled_from(HUGE),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
config_keys = st.one_of(
    st.sampled_from(sorted(TINY_BERT)),
    st.sampled_from(
        ["to_dict", "update", "__class__", "__dict__", "use_return_dict", "dtype", "torch_dtype"]
    ),
    st.text(max_size=10),
)
mutations = st.lists(
    st.tuples(config_keys, st.one_of(st.just("<delete>"), json_values)), min_size=1, max_size=4
)


def mutated_config(changes: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(TINY_BERT)
    for key, value in changes:
        if value == "<delete>":
            document.pop(key, None)
        else:
            document[key] = value
    return document


def load_config_and_build(directory: Path, auto_class: Any) -> None:
    config = AutoConfig.from_pretrained(directory)
    config.to_json_string()
    auto_class.from_config(config)


@fuzz_settings(150)
@given(
    changes=mutations,
    auto_class=st.sampled_from([AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification]),
)
def test_fuzz_config_values(tmp_path: Path, changes: list[tuple[str, Any]], auto_class: Any) -> None:
    CASES["config.json values"] += 1
    directory = Path(tempfile.mkdtemp(dir=tmp_path))
    (directory / "config.json").write_text(json.dumps(mutated_config(changes)))
    expect_typed(lambda: load_config_and_build(directory, auto_class), AutohubError)


WRONG_VALUES: list[Any] = [
    None,
    True,
    "x",
    "12",
    2.5,
    float("nan"),
    -1,
    0,
    10**12,
    2**64 + 1,
    [],
    [32],
    {},
    {"a": 1},
]


def test_every_bert_key_with_every_wrong_type(tmp_path: Path) -> None:
    """The systematic grid: each key of a BERT config.json set to each kind of wrong value."""
    for key in sorted(TINY_BERT):
        for value in WRONG_VALUES:
            CASES["config.json key x type grid"] += 1
            directory = Path(tempfile.mkdtemp(dir=tmp_path))
            (directory / "config.json").write_text(json.dumps({**TINY_BERT, key: value}))
            for auto_class in (AutoModel, AutoModelForSequenceClassification):
                try:
                    load_config_and_build(directory, auto_class)
                except AutohubError:
                    pass
                except Exception as error:
                    raise AssertionError(f"{key}={value!r} -> {type(error).__name__}: {error}") from error


@pytest.mark.parametrize(
    "key", ["vocab_size", "hidden_size", "intermediate_size", "max_position_embeddings", "num_hidden_layers"]
)
@pytest.mark.parametrize("size", [10**12, 2**63])
def test_absurd_sizes_are_refused_before_allocating(tmp_path: Path, key: str, size: int) -> None:
    CASES["config.json huge sizes"] += 1
    document = {**TINY_BERT, key: size}
    if key == "hidden_size":
        document["num_attention_heads"] = 1
    (tmp_path / "config.json").write_text(json.dumps(document))
    error = expect_typed(lambda: load_config_and_build(tmp_path, AutoModel), AutohubError)
    assert error is not None and type(error).__name__ == "ConfigError"


@fuzz_settings(40)
@given(
    raw=st.one_of(
        st.binary(max_size=64),
        st.text(max_size=64).map(str.encode),
        json_values.map(lambda value: json.dumps(value).encode()),
        st.integers(1, 200_000).map(lambda depth: ("[" * depth + "]" * depth).encode()),
        st.integers(1, 200_000).map(lambda depth: ('{"a":' * depth + "1" + "}" * depth).encode()),
        st.just(b"\xff\xfe{\x00}"),
    )
)
def test_fuzz_config_documents(tmp_path: Path, raw: bytes) -> None:
    CASES["config.json documents"] += 1
    directory = Path(tempfile.mkdtemp(dir=tmp_path))
    (directory / "config.json").write_bytes(raw)
    expect_typed(lambda: load_config_and_build(directory, AutoModel), AutohubError)


# -- model.safetensors ----------------------------------------------------------------------


def split_safetensors(raw: bytes) -> tuple[dict[str, Any], bytes]:
    (length,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + length]), raw[8 + length :]


def join_safetensors(header: dict[str, Any], data: bytes) -> bytes:
    encoded = json.dumps(header).encode()
    return struct.pack("<Q", len(encoded)) + encoded + data


@st.composite
def corrupt_safetensors(draw: st.DrawFn, raw: bytes) -> bytes:
    header, data = split_safetensors(raw)
    names = sorted(k for k in header if k != "__metadata__")
    kind = draw(
        st.sampled_from(["truncate", "length", "offsets", "overlap", "dtype", "shape", "header", "flip"])
    )
    if kind == "truncate":
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if kind == "length":
        value = draw(st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([2**64 - 1, 2**63, 10**9, 0])))
        return struct.pack("<Q", value) + raw[8:]
    if kind == "header":
        garbage = draw(st.one_of(st.binary(max_size=40), st.text(max_size=40).map(str.encode)))
        return struct.pack("<Q", len(garbage)) + garbage + data
    if kind == "flip":
        position = draw(st.integers(0, min(len(raw), 8 + 400) - 1))
        mutated = bytearray(raw)
        mutated[position] ^= draw(st.integers(1, 255))
        return bytes(mutated)
    name = draw(st.sampled_from(names))
    entry = header[name]
    if kind == "offsets":
        entry["data_offsets"] = draw(
            st.one_of(
                st.lists(st.integers(-(2**40), 2**64), min_size=0, max_size=3),
                st.tuples(st.integers(0, len(data) + 64), st.integers(0, len(data) + 64)).map(list),
                st.just([entry["data_offsets"][1], entry["data_offsets"][0]]),
                st.just("0,1"),
            )
        )
    elif kind == "overlap":
        other = header[draw(st.sampled_from(names))]
        entry["data_offsets"] = list(other["data_offsets"])
    elif kind == "dtype":
        entry["dtype"] = draw(
            st.sampled_from(["F16", "BF16", "F64", "I64", "I8", "U8", "BOOL", "F8_E4M3", "XX", 5])
        )
    else:
        entry["shape"] = draw(
            st.one_of(
                st.lists(st.integers(-3, 200), max_size=4),
                st.just(list(reversed(entry["shape"]))),
                st.just([2**63]),
                st.just("32"),
            )
        )
    return join_safetensors(header, data)


@fuzz_settings(120)
@given(data=st.data())
def test_fuzz_safetensors(bert_checkpoint: Path, data: st.DataObject) -> None:
    CASES["model.safetensors"] += 1
    raw = (bert_checkpoint / "model.safetensors").read_bytes()
    directory = fresh_copy(bert_checkpoint, "config.json")
    (directory / "model.safetensors").write_bytes(data.draw(corrupt_safetensors(raw)))
    error = expect_typed(lambda: AutoModelForMaskedLM.from_pretrained(directory), WeightsError)
    if error is not None:
        assert "model.safetensors" in str(error), f"the error must name the file: {error}"
    shutil.rmtree(directory)


# -- tokenizer files ----------------------------------------------------------------------

TOKENIZER_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)
TOKENIZER_CONFIG_KEYS = [
    "tokenizer_class",
    "model_max_length",
    "do_lower_case",
    "strip_accents",
    "padding_side",
    "truncation_side",
    "unk_token",
    "cls_token",
    "sep_token",
    "pad_token",
    "mask_token",
    "added_tokens_decoder",
    "additional_special_tokens",
    "extra_special_tokens",
    "clean_up_tokenization_spaces",
    "model_input_names",
]


@st.composite
def corrupt_tokenizer(draw: st.DrawFn, directory: Path) -> None:
    kind = draw(st.sampled_from(["tokenizer.json", "vocab-entry", "config-type", "vocab.txt", "special-map"]))
    if kind == "tokenizer.json":
        path = directory / "tokenizer.json"
        document = json.loads(path.read_text())
        how = draw(st.sampled_from(["broken", "truncated", "model-type", "vocab-type", "binary"]))
        if how == "broken":
            path.write_text(draw(st.text(max_size=40)))
        elif how == "truncated":
            text = path.read_text()
            path.write_text(text[: draw(st.integers(0, len(text) - 1))])
        elif how == "binary":
            path.write_bytes(b"\xff\xfe" + draw(st.binary(max_size=20)))
        elif how == "model-type":
            document["model"] = draw(json_values)
            path.write_text(json.dumps(document))
        else:
            document["model"]["vocab"] = draw(json_values)
            path.write_text(json.dumps(document))
    elif kind == "vocab-entry":
        path = directory / "tokenizer.json"
        document = json.loads(path.read_text())
        vocab = document["model"]["vocab"]
        for token in draw(st.lists(st.sampled_from(sorted(vocab)), min_size=1, max_size=6)):
            vocab.pop(token, None)
        path.write_text(json.dumps(document))
    elif kind == "config-type":
        path = directory / "tokenizer_config.json"
        document = json.loads(path.read_text())
        for key in draw(st.lists(st.sampled_from(TOKENIZER_CONFIG_KEYS), min_size=1, max_size=3)):
            document[key] = draw(json_values)
        path.write_text(json.dumps(document))
    elif kind == "vocab.txt":
        (directory / "tokenizer.json").unlink()
        lines = (directory / "vocab.txt").read_text().splitlines()
        kept = draw(st.lists(st.sampled_from(lines), max_size=len(lines), unique=True))
        payload = "\n".join(kept).encode() + draw(st.one_of(st.just(b""), st.binary(max_size=8)))
        (directory / "vocab.txt").write_bytes(payload)
    else:
        path = directory / "special_tokens_map.json"
        path.write_text(
            json.dumps(draw(st.dictionaries(st.sampled_from(TOKENIZER_CONFIG_KEYS), json_values)))
        )


def tokenize_round(directory: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(directory)
    encoded = tokenizer(["hello world", "fuzzing"], ["a b", "c"], padding=True, truncation=True, max_length=8)
    tokenizer.decode(encoded["input_ids"][0])


@fuzz_settings(120)
@given(data=st.data())
def test_fuzz_tokenizer_files(bert_checkpoint: Path, data: st.DataObject) -> None:
    CASES["tokenizer files"] += 1
    directory = fresh_copy(bert_checkpoint, *TOKENIZER_FILES)
    data.draw(corrupt_tokenizer(directory))
    expect_typed(lambda: tokenize_round(directory), TokenizerError, CheckpointNotFoundError)
    shutil.rmtree(directory)


# -- sharded index ---------------------------------------------------------------------------

shard_names = st.one_of(
    st.sampled_from(
        [
            "model-00001-of-00002.safetensors",
            "missing.safetensors",
            "../outside/stolen.safetensors",
            "sub/../../outside/stolen.safetensors",
            "linked-out.safetensors",
            "linked-dir/stolen.safetensors",
            "",
            ".",
            "/",
            "a" * 300,
            "bad\x00name",
        ]
    ),
    st.text(max_size=20),
    st.builds(lambda: "ABSOLUTE"),
)


@fuzz_settings(100)
@given(
    weight_map=st.one_of(
        st.dictionaries(
            st.sampled_from(["bert.embeddings.word_embeddings.weight", "cls.predictions.bias"]), shard_names
        ),
        json_values,
    )
)
def test_fuzz_index_never_reads_outside(bert_checkpoint: Path, weight_map: Any) -> None:
    CASES["index.json"] += 1
    root = Path(tempfile.mkdtemp(prefix="fuzz-index-", dir=bert_checkpoint.parent))
    outside = root / "outside"
    outside.mkdir()
    shutil.copy(
        bert_checkpoint / "model.safetensors", outside / "stolen.safetensors"
    )  # valid: reading it would work
    directory = root / "model"
    directory.mkdir()
    shutil.copy(bert_checkpoint / "config.json", directory / "config.json")
    shutil.copy(bert_checkpoint / "model.safetensors", directory / "model-00001-of-00002.safetensors")
    (directory / "linked-out.safetensors").symlink_to(outside / "stolen.safetensors")
    (directory / "linked-dir").symlink_to(outside)
    if isinstance(weight_map, dict):
        weight_map = {
            k: str(outside / "stolen.safetensors") if v == "ABSOLUTE" else v for k, v in weight_map.items()
        }
    (directory / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    error = expect_typed(
        lambda: AutoModelForMaskedLM.from_pretrained(directory), WeightsError, CheckpointNotFoundError
    )
    inside = "model-00001-of-00002.safetensors"
    inside_only = isinstance(weight_map, dict) and all(value == inside for value in weight_map.values())
    if error is None:
        assert inside_only, f"loaded although the index names {weight_map}"
    shutil.rmtree(root)


# -- generation_config.json ------------------------------------------------------------------

GENERATION_KEYS = [
    "max_new_tokens",
    "max_length",
    "min_length",
    "min_new_tokens",
    "do_sample",
    "temperature",
    "top_k",
    "top_p",
    "repetition_penalty",
    "num_beams",
    "num_return_sequences",
    "length_penalty",
    "early_stopping",
    "no_repeat_ngram_size",
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
    "decoder_start_token_id",
    "use_cache",
    "return_dict_in_generate",
    "output_scores",
]
generation_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 40),
    st.sampled_from([*HUGE, 10**6, 10**9, -(2**63), 99, 100]),  # 99 = vocab_size: one past the last id
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["4", "never", "", "greedy"]),
    st.lists(st.integers(-3, 10**6), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
extreme_counts = st.one_of(st.integers(0, 6), st.integers(-3, -1), st.sampled_from([10**6, 10**9, 2**63]))
extreme_floats = st.one_of(
    st.floats(-2, 3), st.sampled_from([float("nan"), float("inf"), -float("inf"), 0.0, 1e-30, 1e30])
)
token_ids = st.one_of(st.integers(-3, 101), st.sampled_from([10**6, 2**63]))
#: Values of the key's own type, at the edges of (or past) their range: they pass type checks and
#: reach generate().
TYPED_EXTREMES: dict[str, st.SearchStrategy[Any]] = {
    **dict.fromkeys(
        [
            "max_new_tokens",
            "max_length",
            "min_length",
            "min_new_tokens",
            "top_k",
            "num_beams",
            "num_return_sequences",
            "no_repeat_ngram_size",
        ],
        extreme_counts,
    ),
    **dict.fromkeys(["temperature", "top_p", "repetition_penalty", "length_penalty"], extreme_floats),
    **dict.fromkeys(
        ["do_sample", "use_cache", "early_stopping", "return_dict_in_generate", "output_scores"],
        st.booleans(),
    ),
    **dict.fromkeys(
        ["bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id"],
        st.one_of(token_ids, st.lists(token_ids, max_size=3)),
    ),
}
generation_documents = st.lists(
    st.sampled_from(GENERATION_KEYS).flatmap(
        lambda key: st.tuples(
            st.just(key), st.one_of(TYPED_EXTREMES[key], TYPED_EXTREMES[key], generation_values)
        )
    ),
    max_size=4,
).map(dict)


@pytest.fixture(scope="module")
def gpt2_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny autohub GPT-2 causal LM (config.json + model.safetensors, vocabulary of 99 ids)."""
    directory = tmp_path_factory.mktemp("fuzz-gpt2")
    torch.manual_seed(0)
    config = AutoConfig.for_model(
        "gpt2", vocab_size=99, n_positions=64, n_embd=16, n_layer=1, n_head=2, bos_token_id=1, eos_token_id=2
    )
    AutoModelForCausalLM.from_config(config).save_pretrained(directory)
    return directory


@fuzz_settings(120)
@given(
    document=generation_documents,
    raw_suffix=st.sampled_from(["", "", "", "", "", "NaN", "Infinity", "-Infinity"]),
)
def test_fuzz_generation_config(gpt2_checkpoint: Path, document: dict[str, Any], raw_suffix: str) -> None:
    """generation_config.json of hostile values (wrong types, negatives, huge, NaN, nested, ids past
    the vocabulary): GenerationConfig.from_pretrained, from_pretrained of the model (which reads it) and
    generate() with it succeed or raise an AutohubError, within bounded time and memory."""
    CASES["generation_config.json"] += 1
    directory = fresh_copy(gpt2_checkpoint, "config.json", "model.safetensors")
    text = json.dumps(document)
    if raw_suffix and document:  # Python's json writes NaN / Infinity literals, as a hostile file may
        text = text[:-1] + f', "temperature": {raw_suffix}}}'
    (directory / "generation_config.json").write_text(text)
    input_ids = torch.tensor([[1, 5, 7, 9]])
    previous = limits.configure(max_new_tokens=32)
    try:
        with bounded():
            error = expect_typed(lambda: GenerationConfig.from_pretrained(directory), AutohubError)
            CASES[
                f"generation_config.json: GenerationConfig.from_pretrained {type(error).__name__ if error else 'ok'}"
            ] += 1
            try:
                model = AutoModelForCausalLM.from_pretrained(directory)
            except AutohubError as refused:
                CASES[f"generation_config.json: model from_pretrained {type(refused).__name__}"] += 1
                return
            attention_mask = torch.ones_like(input_ids)
            error = expect_typed(
                lambda: model.generate(input_ids, attention_mask=attention_mask), AutohubError
            )
            CASES[f"generation_config.json: generate {type(error).__name__ if error else 'ok'}"] += 1
    except BaseException as error:
        if isinstance(error, AssertionError):
            raise
        raise AssertionError(
            f"generation_config.json {text}: {type(error).__module__}.{type(error).__name__}: "
            f"{str(error)[:300]} at {origin(error)}"
        ) from error
    finally:
        limits.configure(**dataclasses.asdict(previous))
        shutil.rmtree(directory)
