"""Generation options are checked by type and range when they are loaded or passed, ``generate()``
refuses more new tokens than ``limits.max_new_tokens`` and ids outside the vocabulary before any
work, and a hypothesis fuzz over generation_config.json lets out only autohub's typed errors.

A tiny GPT-2 built with ``from_config`` (no transformers) is the model.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autohub_core as ah
from autohub_core import limits
from autohub_core.errors import AutohubError, ConfigError, GenerationError, LimitExceededError
from autohub_core.generation import GENERATION_CONFIG_NAME, OPTION_RULES, GenerationConfig

VOCAB = 40
TINY_GPT2 = {"vocab_size": VOCAB, "n_positions": 64, "n_embd": 16, "n_layer": 1, "n_head": 2}


@pytest.fixture(autouse=True)
def _default_limits() -> Iterator[None]:
    limits.reset()
    yield
    limits.reset()


@pytest.fixture(scope="module")
def model() -> Any:
    torch.manual_seed(0)
    config = ah.AutoConfig.for_model("gpt2", **TINY_GPT2, bos_token_id=1, eos_token_id=2)
    return ah.AutoModelForCausalLM.from_config(config).eval()


@pytest.fixture(scope="module")
def checkpoint(model: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("gpt2")
    model.save_pretrained(directory)
    return directory


PROMPT = torch.tensor([[5, 6, 7]])

BAD_OPTIONS: list[tuple[str, Any]] = [
    ("max_new_tokens", -1),
    ("max_new_tokens", 1e9),
    ("max_new_tokens", "10"),
    ("max_length", True),
    ("min_length", -3),
    ("min_new_tokens", 2.5),
    ("num_beams", 0),
    ("num_return_sequences", -2),
    ("temperature", -0.5),
    ("temperature", math.nan),
    ("top_k", -1),
    ("top_k", 2.0),
    ("top_p", 1.5),
    ("top_p", "0.9"),
    ("typical_p", -0.1),
    ("repetition_penalty", 0),
    ("repetition_penalty", math.inf),
    ("no_repeat_ngram_size", -1),
    ("length_penalty", math.nan),
    ("early_stopping", "always"),
    ("do_sample", "yes"),
    ("use_cache", 1),
    ("eos_token_id", [2, "3"]),
    ("pad_token_id", 0.5),
    ("bos_token_id", [1]),
    ("decoder_start_token_id", "0"),
    ("forced_bos_token_id", -1),
    ("bad_words_ids", [1, 2]),
    ("bad_words_ids", [["a"]]),
    ("suppress_tokens", 5),
    ("return_dict_in_generate", "no"),
]


@pytest.mark.parametrize(("key", "value"), BAD_OPTIONS)
def test_bad_options_are_refused_where_they_are_given(
    tmp_path: Path, model: Any, key: str, value: Any
) -> None:
    with pytest.raises(GenerationError, match=f"'{key}'"):
        GenerationConfig(**{key: value})
    with pytest.raises(GenerationError, match=f"'{key}'"):
        GenerationConfig().update(**{key: value})
    with pytest.raises(GenerationError, match=f"'{key}'"):
        model.generate(PROMPT, **{key: value})
    config = GenerationConfig()
    setattr(config, key, value)  # assigned after construction: refused by generate()
    with pytest.raises(GenerationError, match=f"'{key}'"):
        model.generate(PROMPT, generation_config=config)
    path = tmp_path / GENERATION_CONFIG_NAME
    path.write_text(json.dumps({key: value}, allow_nan=True))
    with pytest.raises(ConfigError, match=f"'{key}'") as caught:
        GenerationConfig.from_pretrained(tmp_path)
    assert str(path) in str(caught.value)


def test_a_bad_generation_config_json_fails_the_model_load(checkpoint: Path, tmp_path: Path) -> None:
    directory = tmp_path / "model"
    directory.mkdir()
    for file in checkpoint.iterdir():
        (directory / file.name).write_bytes(file.read_bytes())
    (directory / GENERATION_CONFIG_NAME).write_text(json.dumps({"top_k": "fifty", "do_sample": True}))
    with pytest.raises(ConfigError, match=r"generation_config\.json: config key 'top_k' = 'fifty'"):
        ah.AutoModelForCausalLM.from_pretrained(directory)


def test_valid_options_and_unknown_keys_load(tmp_path: Path) -> None:
    values = {
        "do_sample": True,
        "temperature": 0.0,
        "top_p": 0.8,
        "top_k": 0,
        "eos_token_id": [2, 3],
        "pad_token_id": None,
        "num_beams": None,
        "early_stopping": "never",
        "bad_words_ids": [[4, 5], [6]],
        "suppress_tokens": [],
        "repetition_penalty": 1.05,
        "max_new_tokens": 0,
        "some_future_option": {"kept": [1, "two"]},
    }
    (tmp_path / GENERATION_CONFIG_NAME).write_text(json.dumps(values))
    config = GenerationConfig.from_pretrained(tmp_path)
    assert config.some_future_option == {"kept": [1, "two"]} and config.early_stopping == "never"
    assert set(values) - {"some_future_option"} <= set(OPTION_RULES)


def test_sampling_needs_a_positive_temperature_and_top_p(model: Any) -> None:
    with pytest.raises(GenerationError, match="temperature must be > 0 when sampling"):
        model.generate(PROMPT, do_sample=True, temperature=0.0)
    with pytest.raises(GenerationError, match="top_p must be within"):
        model.generate(PROMPT, do_sample=True, top_p=0.0)
    assert model.generate(PROMPT, temperature=0.0, top_p=0.0, max_new_tokens=2).shape == (1, 5)


def test_new_tokens_are_capped_before_any_work(model: Any) -> None:
    started = time.perf_counter()
    with pytest.raises(LimitExceededError, match="AUTOHUB_MAX_NEW_TOKENS"):
        model.generate(PROMPT, max_new_tokens=10**9)
    with pytest.raises(LimitExceededError, match="asks for 999999997 new tokens"):
        model.generate(PROMPT, max_length=10**9)
    with pytest.raises(LimitExceededError):
        model.generate(PROMPT, max_length=10**9, num_beams=4)
    assert time.perf_counter() - started < 5
    limits.configure(max_new_tokens=3)
    assert model.generate(PROMPT, max_new_tokens=3, eos_token_id=None).shape == (1, 6)
    assert model.generate(PROMPT, max_length=6, eos_token_id=None).shape == (1, 6)
    with pytest.raises(LimitExceededError, match="max_new_tokens=3"):
        model.generate(PROMPT, max_new_tokens=4)


def test_token_ids_outside_the_vocabulary_are_refused_before_any_work(model: Any) -> None:
    with pytest.raises(GenerationError, match=f"input_ids holds token ids in \\[5, {VOCAB}\\]"):
        model.generate(torch.tensor([[5, VOCAB]]))
    with pytest.raises(GenerationError, match="input_ids holds token ids in \\[-1, 6\\]"):
        model.generate(torch.tensor([[-1, 6]]))
    with pytest.raises(GenerationError, match="integer token ids"):
        model.generate(torch.tensor([[5.0, 6.0]]))
    with pytest.raises(GenerationError, match="shape"):
        model.generate(torch.tensor([5, 6]))
    with pytest.raises(GenerationError, match="pad_token_id = -1"):
        model.generate(PROMPT, pad_token_id=-1)
    with pytest.raises(GenerationError, match=f"bos_token_id = {VOCAB}"):
        model.generate(bos_token_id=VOCAB)
    # An EOS id the model can never produce is harmless, as in transformers; so is its pad then.
    assert model.generate(PROMPT, eos_token_id=VOCAB + 5, max_new_tokens=2).shape == (1, 5)


def test_beams_and_returned_sequences_are_capped_before_any_work(model: Any) -> None:
    started = time.perf_counter()
    with pytest.raises(LimitExceededError, match="AUTOHUB_MAX_GENERATION_SEQUENCES"):
        model.generate(PROMPT, num_beams=10**6, num_return_sequences=10**6, max_new_tokens=2)
    with pytest.raises(LimitExceededError, match="2 prompt\\(s\\) x 40000"):
        model.generate(PROMPT.repeat(2, 1), do_sample=True, num_return_sequences=40_000, max_new_tokens=2)
    assert time.perf_counter() - started < 5
    limits.configure(max_generation_sequences=4)
    assert model.generate(PROMPT.repeat(2, 1), num_beams=2, max_new_tokens=2).shape[0] == 2
    with pytest.raises(LimitExceededError, match="decodes 6 sequences"):
        model.generate(PROMPT.repeat(2, 1), num_beams=3, max_new_tokens=2)


def test_an_empty_prompt_is_refused(model: Any) -> None:
    with pytest.raises(GenerationError, match="input_ids has no tokens"):
        model.generate(torch.zeros((1, 0), dtype=torch.long), max_new_tokens=2)
    with pytest.raises(ah.ModelInputError, match="input_ids has no positions"):
        model(torch.zeros((2, 0), dtype=torch.long))
    with pytest.raises(ah.ModelInputError, match="exactly one of"):
        model(PROMPT, inputs_embeds=torch.zeros((1, 3, 8)))


def test_generation_options_nested_too_deeply_raise_a_typed_error(model: Any) -> None:
    nested: list[Any] = []
    for _ in range(100_000):
        nested = [nested]
    config = GenerationConfig(custom=nested)
    for use in (config.to_dict, config.to_json_string, lambda: copy.deepcopy(config)):
        with pytest.raises(GenerationError, match="nested too deeply"):
            use()
    with pytest.raises(GenerationError, match="nested too deeply"):
        model.generate(PROMPT, generation_config=config)


# -- fuzz ---------------------------------------------------------------------------------------

_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 8),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "never", "10", "gelu"]),
    st.lists(st.integers(-2, VOCAB + 2), max_size=3),
    st.lists(st.lists(st.integers(-1, VOCAB), max_size=2), max_size=2),
)
_KEYS = st.sampled_from([*sorted(OPTION_RULES), "unknown_option"])
FUZZ_EXAMPLES = 150


@settings(
    max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_fuzzed_generation_config_json_lets_out_only_typed_errors(
    tmp_path: Path, model: Any, values: dict[str, Any]
) -> None:
    limits.configure(max_new_tokens=4)
    try:
        path = tmp_path / GENERATION_CONFIG_NAME
        path.write_text(json.dumps(values, allow_nan=True))
        try:
            config = GenerationConfig.from_pretrained(tmp_path)
        except ConfigError as error:
            assert str(path) in str(error)
            return
        try:
            output = model.generate(PROMPT, generation_config=config)
        except AutohubError:
            return
        assert output.dtype == torch.long and output.shape[1] <= PROMPT.shape[1] + 20
        assert int(output.min()) >= -1 and int(output.max()) < max(VOCAB, 50)
    finally:
        limits.reset()
