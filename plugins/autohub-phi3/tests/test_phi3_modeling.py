"""Parity of autohub-phi3 with transformers' Phi-3: every head with left padding, training, config
options (LongRoPE and its legacy names, partial rotary, sliding window), KV cache, generation
(greedy, sampling, beam; past the original length, where LongRoPE switches factors), bf16, saving.

The tiny checkpoints are shaped like Phi-3.5-mini / Phi-4-mini: LongRoPE short and long factors
with ``original_max_position_embeddings`` 16, half of each head rotated, a sliding window of 5.
Inputs of length 7 use the short factors, of length 20 the long ones.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import transformers

from autohub_core import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    ConfigError,
    UnsupportedConfigError,
)
from autohub_core.testing.parity import (
    head_labels,
    left_padded_inputs,
    train_step,
)

transformers.logging.set_verbosity_error()

FAMILY = "phi3"
LONGROPE = {
    "rope_type": "longrope",
    "rope_theta": 10000.0,
    "partial_rotary_factor": 0.5,
    "short_factor": [1.0, 1.5],
    "long_factor": [3.0, 4.0],
}
TINY = {
    "vocab_size": 99,
    "hidden_size": 32,
    "intermediate_size": 37,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
    "original_max_position_embeddings": 16,
    "sliding_window": 5,
    "rope_parameters": LONGROPE,
    "pad_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
}
HEADS = {
    "Phi3Model": AutoModel,
    "Phi3ForCausalLM": AutoModelForCausalLM,
    "Phi3ForSequenceClassification": AutoModelForSequenceClassification,
    "Phi3ForTokenClassification": AutoModelForTokenClassification,
}
LENGTHS = (7, 20)  # within and past original_max_position_embeddings
OUTPUT_FIELDS = ("last_hidden_state", "logits", "loss")


@pytest.fixture(scope="module")
def save_hf(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Save a tiny random transformers model of ``class_name``; returns its directory."""
    cache: dict[str, Path] = {}

    def save(class_name: str = "Phi3ForCausalLM", **overrides: object) -> Path:
        key = class_name + json.dumps(overrides, sort_keys=True)
        if key not in cache:
            config = transformers.AutoConfig.for_model(FAMILY, **{**TINY, **overrides})
            torch.manual_seed(0)
            directory = tmp_path_factory.mktemp(class_name)
            getattr(transformers, class_name)(config).eval().save_pretrained(directory)
            cache[key] = directory
        return cache[key]

    return save


def _both(directory: Path, class_name: str = "Phi3ForCausalLM", **kwargs: Any) -> tuple[Any, Any]:
    ours = HEADS[class_name].from_pretrained(directory, **kwargs)
    theirs = getattr(transformers, class_name).from_pretrained(directory, **kwargs).eval()
    assert type(ours).__name__ == class_name
    return ours, theirs


_inputs = functools.partial(left_padded_inputs, TINY["vocab_size"], TINY["pad_token_id"])


def _compare(ours: Any, theirs: Any, *extra: str) -> None:
    compared = 0
    for field in (*OUTPUT_FIELDS, *extra):
        expected = getattr(theirs, field, None)
        if expected is not None:
            actual = getattr(ours, field)
            if isinstance(expected, tuple):
                assert len(actual) == len(expected), field
                for index, (a, b) in enumerate(zip(actual, expected, strict=True)):
                    torch.testing.assert_close(a, b, atol=1e-5, rtol=0, msg=f"{field}[{index}]")
            else:
                torch.testing.assert_close(actual, expected, atol=1e-5, rtol=0, msg=field)
            compared += 1
    assert compared > len(extra)


@pytest.mark.parametrize("class_name", sorted(HEADS))
def test_head_matches_transformers(save_hf: Callable[..., Path], class_name: str) -> None:
    ours, theirs = _both(save_hf(class_name), class_name)
    for length in LENGTHS:
        inputs = _inputs(length)
        labels = head_labels(class_name, inputs)
        with torch.no_grad():
            _compare(
                ours(**inputs, **labels, output_hidden_states=True),
                theirs(**inputs, **labels, output_hidden_states=True),
                "hidden_states",
            )


def test_attentions_match_eager_transformers(save_hf: Callable[..., Path]) -> None:
    directory = save_hf()
    ours = AutoModelForCausalLM.from_pretrained(directory, attn_implementation="eager")
    theirs = transformers.Phi3ForCausalLM.from_pretrained(directory, attn_implementation="eager").eval()
    inputs = _inputs(20)
    with torch.no_grad():
        _compare(
            ours(**inputs, output_attentions=True), theirs(**inputs, output_attentions=True), "attentions"
        )


@pytest.mark.parametrize(
    ("class_name", "checkpointing"),
    [
        ("Phi3ForCausalLM", False),
        ("Phi3ForCausalLM", True),
        ("Phi3ForSequenceClassification", False),
        ("Phi3ForTokenClassification", True),
    ],
)
def test_training_step_matches_transformers(
    save_hf: Callable[..., Path], class_name: str, checkpointing: bool
) -> None:
    """Train mode with residual and attention dropout 0.1 under the same seed, ``num_items_in_batch``,
    with or without gradient checkpointing: loss and every gradient equal transformers'."""
    directory = save_hf(class_name, resid_pdrop=0.1, attention_dropout=0.1)
    inputs = _inputs(20)
    kwargs = {**inputs, **head_labels(class_name, inputs), "num_items_in_batch": torch.tensor(7)}
    reference = getattr(transformers, class_name).from_pretrained(directory)
    expected, expected_gradients = train_step(reference, kwargs, checkpointing)
    actual, gradients = train_step(HEADS[class_name].from_pretrained(directory), kwargs, checkpointing)
    torch.testing.assert_close(actual.loss, expected.loss, atol=1e-5, rtol=1e-4)
    assert gradients.keys() == expected_gradients.keys()
    for name, gradient in expected_gradients.items():
        torch.testing.assert_close(gradients[name], gradient, atol=1e-5, rtol=1e-4, msg=f"gradient of {name}")


CONFIG_OPTIONS = {
    # Phi-4-mini: tied embeddings, a top-level partial_rotary_factor, wider heads than hidden / heads.
    "phi4-mini": {
        "tie_word_embeddings": True,
        "partial_rotary_factor": 0.75,
        "rope_parameters": {"rope_type": "default", "rope_theta": 500.0},
        "head_dim": 16,
    },
    # Phi-3-mini-4k: plain RoPE, multi-head attention, no window.
    "phi3-mini-4k": {
        "rope_parameters": {"rope_type": "default"},
        "num_key_value_heads": 4,
        "sliding_window": None,
    },
    "longrope-attention-factor": {"rope_parameters": {**LONGROPE, "attention_factor": 1.2, "factor": 2.0}},
    "gelu": {"hidden_act": "gelu_pytorch_tanh", "num_key_value_heads": 1},
}


@pytest.mark.parametrize("overrides", CONFIG_OPTIONS.values(), ids=CONFIG_OPTIONS.keys())
def test_config_options_match_transformers(save_hf: Callable[..., Path], overrides: dict) -> None:
    ours, theirs = _both(save_hf(**overrides))
    if overrides.get("tie_word_embeddings"):
        assert ours.lm_head.weight is ours.model.embed_tokens.weight
    for length in LENGTHS:
        with torch.no_grad():
            _compare(ours(**_inputs(length)), theirs(**_inputs(length)))


@pytest.mark.parametrize("legacy_type", ["su", "yarn", "longrope"])
def test_legacy_rope_scaling_keys(tmp_path: Path, save_hf: Callable[..., Path], legacy_type: str) -> None:
    """config.json with ``rope_scaling`` (type ``su`` / ``yarn`` mean longrope), ``rope_theta`` and a
    top-level ``partial_rotary_factor``: the top-level original_max_position_embeddings (16) wins."""
    directory = save_hf()
    document = json.loads((directory / "config.json").read_text())
    del document["rope_parameters"]
    factors = {key: LONGROPE[key] for key in ("short_factor", "long_factor")}
    document.update(
        rope_theta=500.0,
        partial_rotary_factor=0.5,
        rope_scaling={"type": legacy_type, **factors, "original_max_position_embeddings": 8},
    )
    (tmp_path / "config.json").write_text(json.dumps(document))
    (tmp_path / "model.safetensors").write_bytes((directory / "model.safetensors").read_bytes())
    config = AutoConfig.from_pretrained(tmp_path)
    assert config.rope_parameters["rope_type"] == "longrope"
    assert config.rope_parameters["original_max_position_embeddings"] == 16
    assert config.rope_parameters["rope_theta"] == 500.0
    ours, theirs = _both(tmp_path)
    for length in (16, 17):
        with torch.no_grad():
            _compare(ours(**_inputs(length)), theirs(**_inputs(length)))


@pytest.mark.parametrize(("prefix", "end"), [(3, 14), (17, 22)], ids=["short-factors", "long-factors"])
def test_incremental_decoding_with_cache_equals_full_forward(
    save_hf: Callable[..., Path], prefix: int, end: int
) -> None:
    """Token by token through the cache, past the sliding window, equals one full forward (each run
    within one LongRoPE regime) and transformers'."""
    ours, theirs = _both(save_hf())
    inputs = _inputs(end)
    input_ids, attention_mask = inputs["input_ids"], inputs["attention_mask"]
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        full = ours(input_ids, attention_mask=attention_mask, position_ids=position_ids).logits
        step = ours(
            input_ids[:, :prefix],
            attention_mask=attention_mask[:, :prefix],
            position_ids=position_ids[:, :prefix],
            use_cache=True,
        )
        logits, past = [step.logits], step.past_key_values
        for index in range(prefix, end):
            step = ours(
                input_ids[:, index : index + 1],
                attention_mask=attention_mask[:, : index + 1],
                position_ids=position_ids[:, index : index + 1],
                past_key_values=past,
                use_cache=True,
            )
            logits.append(step.logits)
            past = step.past_key_values
        expected = theirs(input_ids, attention_mask=attention_mask, position_ids=position_ids).logits
    torch.testing.assert_close(torch.cat(logits, dim=1), full, atol=1e-5, rtol=0)
    torch.testing.assert_close(full, expected, atol=1e-5, rtol=0)


GENERATION_OPTIONS = {
    "greedy": {},
    "sampling": {"do_sample": True, "temperature": 0.7, "top_k": 10},
    "sampling-top-p": {"do_sample": True, "top_p": 0.8, "top_k": 0, "repetition_penalty": 1.2},
    "beam": {"num_beams": 3},
    "beam-return-2": {"num_beams": 3, "num_return_sequences": 2, "length_penalty": 0.0},
}


@pytest.mark.parametrize("options", GENERATION_OPTIONS.values(), ids=GENERATION_OPTIONS.keys())
def test_generation_matches_transformers(save_hf: Callable[..., Path], options: dict) -> None:
    """Left-padded prompts of 6 tokens, 14 new ones: the sequences grow past the window and past
    the original length (the cache is recomputed with the long factors), tokens identical."""
    ours, theirs = _both(save_hf())
    prompts = _inputs(6)
    generated = []
    for model in (ours, theirs):
        torch.manual_seed(11)
        generated.append(model.generate(**prompts, max_new_tokens=14, eos_token_id=None, **options))
    assert generated[0].shape == generated[1].shape
    assert generated[0].shape[1] == 20
    assert torch.equal(generated[0], generated[1])


def test_generation_recomputes_the_cache_once_past_the_original_length(save_hf: Callable[..., Path]) -> None:
    """transformers' rule: the step whose (padded) sequence first exceeds the original length (16)
    runs without the cache, which was built with the short factors; later steps keep it."""
    model = AutoModelForCausalLM.from_pretrained(save_hf())
    for cached, length, recomputed in ((15, 16, False), (16, 17, True), (17, 18, False)):
        past = tuple((torch.zeros(1, 2, cached, 8), torch.zeros(1, 2, cached, 8)) for _ in range(2))
        ids = torch.ones(1, length, dtype=torch.long)
        inputs = model.prepare_inputs_for_generation(ids, past, torch.ones_like(ids))
        assert (inputs["past_key_values"] is None) == recomputed
        assert inputs["input_ids"].shape[1] == (length if recomputed else length - cached)


def test_bfloat16_loading_matches_transformers(save_hf: Callable[..., Path]) -> None:
    ours, theirs = _both(save_hf(), dtype=torch.bfloat16)
    assert {parameter.dtype for parameter in ours.parameters()} == {torch.bfloat16}
    inputs = _inputs(20)
    with torch.no_grad():
        actual, expected = ours(**inputs).logits, theirs(**inputs).logits
    assert actual.dtype == expected.dtype == torch.bfloat16
    torch.testing.assert_close(actual, expected, atol=1e-2, rtol=0)


def test_autohub_checkpoints_load_in_transformers(tmp_path: Path, save_hf: Callable[..., Path]) -> None:
    for class_name in ("Phi3ForCausalLM", "Phi3ForSequenceClassification"):
        ours = HEADS[class_name].from_pretrained(save_hf(class_name))
        ours.save_pretrained(tmp_path / class_name)
        theirs = getattr(transformers, class_name).from_pretrained(tmp_path / class_name).eval()
        with torch.no_grad():
            _compare(ours(**_inputs(20)), theirs(**_inputs(20)))
    config = AutoConfig.for_model(FAMILY, **TINY)
    torch.manual_seed(0)
    fresh = AutoModelForCausalLM.from_config(config).eval()
    fresh.save_pretrained(tmp_path / "fresh")
    theirs = transformers.Phi3ForCausalLM.from_pretrained(tmp_path / "fresh").eval()
    assert theirs.config.rope_parameters["rope_type"] == "longrope"
    with torch.no_grad():
        _compare(fresh(**_inputs(20)), theirs(**_inputs(20)))


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        (
            {"rope_parameters": {"rope_type": "linear", "factor": 2.0}},
            UnsupportedConfigError,
            "rope_parameters",
        ),
        ({"rope_parameters": {**LONGROPE, "long_factor": [1.0]}}, ConfigError, "1 long_factor values"),
        ({"resid_pdrop": 1.5}, ConfigError, "resid_pdrop"),
        ({"original_max_position_embeddings": 0}, ConfigError, "original_max_position_embeddings"),
        ({"partial_rotary_factor": 0}, ConfigError, "partial_rotary_factor"),
    ],
)
def test_refused_config_values_name_the_key(overrides: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        AutoModelForCausalLM.from_config(AutoConfig.for_model(FAMILY, **{**TINY, **overrides}))
