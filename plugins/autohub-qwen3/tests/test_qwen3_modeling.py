"""Parity of autohub-qwen3 with transformers' Qwen3: every head with left padding, training and
gradient checkpointing, config options (sliding windows, layer_types, head_dim, attention_bias, tied
or not), Hub-shaped config.json files, the KV cache, bf16 and both save directions."""

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
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    ConfigError,
    UnsupportedConfigError,
)
from autohub_core.testing.parity import (
    assert_gradients_equal,
    assert_outputs_close,
    head_labels,
    left_padded_inputs,
    train_step,
)

FAMILY = "qwen3"
#: Qwen3-0.6B's config.json shrunk: head_dim 16 with 4 heads of a 32-wide model (0.6B: 128 x 16
#: heads of 1024), grouped key/values, tied embeddings, rope_theta 1e6, no sliding window.
TINY = {
    "vocab_size": 99,
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "max_position_embeddings": 64,
    "max_window_layers": 2,
    "tie_word_embeddings": True,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
    "pad_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
}
#: Sliding attention from layer 1 on, a window of 3 (shorter than every test prompt).
WINDOWED = {"use_sliding_window": True, "sliding_window": 3, "max_window_layers": 1}
HEADS = {
    "Qwen3Model": AutoModel,
    "Qwen3ForCausalLM": AutoModelForCausalLM,
    "Qwen3ForSequenceClassification": AutoModelForSequenceClassification,
    "Qwen3ForTokenClassification": AutoModelForTokenClassification,
    "Qwen3ForQuestionAnswering": AutoModelForQuestionAnswering,
}


@pytest.fixture(scope="module")
def save_hf(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Save a tiny random transformers model of ``class_name``; returns its directory."""
    cache: dict[tuple, Path] = {}

    def save(class_name: str = "Qwen3ForCausalLM", **overrides: object) -> Path:
        key = (class_name, json.dumps(overrides, sort_keys=True))
        if key not in cache:
            config = transformers.AutoConfig.for_model(FAMILY, **{**TINY, **overrides})
            torch.manual_seed(0)
            model = getattr(transformers, class_name)(config).eval()
            with torch.no_grad():  # q_norm / k_norm start at one: make them count
                for name, parameter in model.named_parameters():
                    if "norm" in name:
                        parameter.uniform_(0.5, 1.5)
            directory = tmp_path_factory.mktemp(class_name)
            model.save_pretrained(directory)
            cache[key] = directory
        return cache[key]

    return save


_inputs = functools.partial(left_padded_inputs, TINY["vocab_size"], TINY["pad_token_id"])


def _both(directory: Path, class_name: str = "Qwen3ForCausalLM", **kwargs: Any) -> tuple[Any, Any]:
    ours = HEADS[class_name].from_pretrained(directory, **kwargs)
    theirs = getattr(transformers, class_name).from_pretrained(directory, **kwargs).eval()
    return ours, theirs


@pytest.mark.parametrize("class_name", sorted(HEADS))
def test_head_matches_transformers(save_hf: Callable[..., Path], class_name: str) -> None:
    ours, theirs = _both(save_hf(class_name, **WINDOWED), class_name)
    assert type(ours).__name__ == class_name
    inputs = _inputs()
    labels = head_labels(class_name, inputs)
    with torch.no_grad():
        assert_outputs_close(
            ours(**inputs, **labels, output_hidden_states=True),
            theirs(**inputs, **labels, output_hidden_states=True),
            hidden=True,
        )


def test_attentions_match_eager_transformers(save_hf: Callable[..., Path]) -> None:
    directory = save_hf("Qwen3ForCausalLM", **WINDOWED)
    ours, theirs = _both(directory, attn_implementation="eager")
    inputs = _inputs()
    with torch.no_grad():
        assert_outputs_close(
            ours(**inputs, output_attentions=True, output_hidden_states=True),
            theirs(**inputs, output_attentions=True, output_hidden_states=True),
            hidden=True,
            attentions=True,
        )


TRAINING_CASES = [
    ("Qwen3ForCausalLM", False),
    ("Qwen3ForCausalLM", True),
    ("Qwen3ForQuestionAnswering", True),
    ("Qwen3ForSequenceClassification", False),
    ("Qwen3ForTokenClassification", False),
]


@pytest.mark.parametrize(("class_name", "checkpointing"), TRAINING_CASES, ids=str)
def test_training_step_matches_transformers(
    save_hf: Callable[..., Path], class_name: str, checkpointing: bool
) -> None:
    """Train mode, dropout 0.1 with the same seed, ``num_items_in_batch``, with or without gradient
    checkpointing: loss and gradients (q_norm / k_norm included) equal transformers'."""
    directory = save_hf(class_name, attention_dropout=0.1, **WINDOWED)
    inputs = _inputs()
    kwargs = {**inputs, **head_labels(class_name, inputs), "num_items_in_batch": torch.tensor(7)}
    reference = getattr(transformers, class_name).from_pretrained(directory)
    expected, expected_gradients = train_step(reference, kwargs, checkpointing)
    actual, gradients = train_step(HEADS[class_name].from_pretrained(directory), kwargs, checkpointing)
    torch.testing.assert_close(actual.loss, expected.loss, atol=1e-5, rtol=1e-4)
    assert any("q_norm" in name for name in gradients)
    assert_gradients_equal(gradients, expected_gradients)


CONFIG_OPTIONS = [
    {"tie_word_embeddings": False},
    {"attention_bias": True},
    {"head_dim": 8, "num_key_value_heads": 1},
    {"layer_types": ["sliding_attention", "full_attention"], **WINDOWED},
    {"rope_parameters": {"rope_type": "yarn", "factor": 4.0, "rope_theta": 10000.0}},
]


@pytest.mark.parametrize("overrides", CONFIG_OPTIONS, ids=lambda o: json.dumps(o, sort_keys=True)[:60])
def test_config_options_match_transformers(save_hf: Callable[..., Path], overrides: dict) -> None:
    ours, theirs = _both(save_hf("Qwen3ForCausalLM", **overrides))
    tied = ours.lm_head.weight is ours.model.embed_tokens.weight
    assert tied == overrides.get("tie_word_embeddings", True)
    assert ours.config.layer_types == theirs.config.layer_types
    inputs = _inputs()
    with torch.no_grad():
        assert_outputs_close(ours(**inputs), theirs(**inputs))


@pytest.mark.parametrize("sliding", [False, True], ids=["full", "sliding"])
def test_hub_config_without_layer_types(tmp_path: Path, save_hf: Callable[..., Path], sliding: bool) -> None:
    """A config.json as Qwen3 repos ship it (transformers 4.51: ``rope_theta``, ``rope_scaling``
    null, ``torch_dtype``, no ``layer_types``): ``layer_types`` is derived from
    ``use_sliding_window`` / ``max_window_layers`` as transformers derives it."""
    directory = save_hf("Qwen3ForCausalLM", **WINDOWED)
    document = json.loads((directory / "config.json").read_text())
    for key in ("layer_types", "rope_parameters", "dtype", "transformers_version"):
        document.pop(key, None)
    document.update(
        rope_theta=1000000.0,
        rope_scaling=None,
        torch_dtype="float32",
        transformers_version="4.51.0",
        use_sliding_window=sliding,
        sliding_window=3 if sliding else None,
    )
    (tmp_path / "config.json").write_text(json.dumps(document))
    (tmp_path / "model.safetensors").write_bytes((directory / "model.safetensors").read_bytes())
    ours, theirs = _both(tmp_path)
    expected = ["full_attention", "sliding_attention"] if sliding else ["full_attention"] * 2
    assert ours.config.layer_types == theirs.config.layer_types == expected
    assert ours.config.rope_parameters == {"rope_type": "default", "rope_theta": 1000000.0}
    inputs = _inputs(length=9)
    with torch.no_grad():
        assert_outputs_close(ours(**inputs), theirs(**inputs))


def test_incremental_decoding_with_cache_equals_full_forward(save_hf: Callable[..., Path]) -> None:
    """Prefill 5 tokens then decode one at a time past the sliding window (3): the logits equal a
    full forward's, which equal transformers'."""
    ours, theirs = _both(save_hf("Qwen3ForCausalLM", **WINDOWED))
    inputs = _inputs(length=9)
    input_ids, attention_mask = inputs["input_ids"], inputs["attention_mask"]
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        full = ours(input_ids, attention_mask=attention_mask, position_ids=position_ids).logits
        prefix = 5
        step = ours(
            input_ids[:, :prefix],
            attention_mask=attention_mask[:, :prefix],
            position_ids=position_ids[:, :prefix],
            use_cache=True,
        )
        logits, past = [step.logits], step.past_key_values
        assert past[0][0].shape == (3, TINY["num_key_value_heads"], prefix, TINY["head_dim"])
        for index in range(prefix, input_ids.shape[1]):
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


def test_bf16_checkpoint_loads_in_bf16_like_transformers(
    tmp_path: Path, save_hf: Callable[..., Path]
) -> None:
    """A bf16 checkpoint (as the Hub ships Qwen3) loads in bf16 by default and gives transformers'
    bf16 logits and greedy tokens."""
    reference = transformers.Qwen3ForCausalLM.from_pretrained(save_hf("Qwen3ForCausalLM", **WINDOWED))
    reference.to(torch.bfloat16).save_pretrained(tmp_path)
    ours, theirs = _both(tmp_path)
    assert ours.dtype == theirs.dtype == torch.bfloat16
    inputs = _inputs()
    with torch.no_grad():
        torch.testing.assert_close(ours(**inputs).logits, theirs(**inputs).logits, atol=1e-2, rtol=0)
    generated = ours.generate(**inputs, max_new_tokens=5, do_sample=False)
    assert torch.equal(generated, theirs.generate(**inputs, max_new_tokens=5, do_sample=False))


@pytest.mark.parametrize("class_name", ["Qwen3ForCausalLM", "Qwen3ForQuestionAnswering"])
def test_autohub_checkpoint_loads_in_transformers(
    tmp_path: Path, save_hf: Callable[..., Path], class_name: str
) -> None:
    ours = HEADS[class_name].from_pretrained(save_hf(class_name, attention_bias=True, **WINDOWED))
    ours.save_pretrained(tmp_path)
    theirs = getattr(transformers, class_name).from_pretrained(tmp_path).eval()
    inputs = _inputs()
    with torch.no_grad():
        assert_outputs_close(ours(**inputs), theirs(**inputs))


def test_fresh_model_saves_and_reloads_in_transformers(tmp_path: Path) -> None:
    config = AutoConfig.for_model(FAMILY, **TINY)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).eval()
    assert model.model.layers[0].self_attn.q_norm.weight.eq(1).all()  # RMSNorm weights start at one
    model.save_pretrained(tmp_path)
    theirs = transformers.Qwen3ForCausalLM.from_pretrained(tmp_path).eval()
    inputs = _inputs()
    with torch.no_grad():
        assert_outputs_close(model(**inputs), theirs(**inputs))


def test_config_defaults_and_keys_match_transformers() -> None:
    ours = AutoConfig.for_model(FAMILY).to_dict()
    theirs = transformers.Qwen3Config().to_dict()
    for key in ("transformers_version", "_name_or_path", "id2label"):
        theirs.pop(key)
    assert {key: ours.get(key) for key in theirs} == theirs
    windowed = AutoConfig.for_model(FAMILY, use_sliding_window=True, num_hidden_layers=30)
    assert (
        windowed.layer_types
        == transformers.Qwen3Config(use_sliding_window=True, num_hidden_layers=30).layer_types
    )
    assert windowed.sliding_window == 4096 and AutoConfig.for_model(FAMILY).sliding_window is None


@pytest.mark.parametrize(
    ("overrides", "error", "key"),
    [
        ({"layer_types": ["full_attention", "chunked_attention"]}, UnsupportedConfigError, "layer_types"),
        ({"layer_types": ["sliding_attention", "full_attention"]}, ConfigError, "sliding_window"),
        (
            {"rope_parameters": {"rope_type": "mrope", "rope_theta": 1.0}},
            UnsupportedConfigError,
            "rope_parameters",
        ),
        ({"attention_bias": "yes"}, ConfigError, "attention_bias"),
        ({"head_dim": 0}, ConfigError, "head_dim"),
    ],
    ids=["layer-type", "window-missing", "rope-type", "attention-bias", "head-dim"],
)
def test_unsupported_or_invalid_config_names_the_key(overrides: dict, error: type, key: str) -> None:
    with pytest.raises(error, match=key):
        AutoModelForCausalLM.from_config(AutoConfig.for_model(FAMILY, **{**TINY, **overrides}))
