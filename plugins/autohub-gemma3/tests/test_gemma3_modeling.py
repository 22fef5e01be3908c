"""Parity of autohub-gemma3 with transformers' Gemma 3 text model: every head, config spellings and
options, RoPE per layer type, KV cache past the sliding window, generation, bf16, both save directions."""

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

FAMILY = "gemma3_text"
#: gemma-3-1b's options, shrunk: head_dim independent of hidden_size / heads, a window of 3 (the
#: prompts are longer), a global layer after each sliding one, the local RoPE base apart from the
#: global one, linear RoPE scaling on global layers (gemma-3-4b's), query_pre_attn_scalar apart from
#: head_dim.
TINY = {
    "vocab_size": 99,
    "hidden_size": 32,
    "intermediate_size": 37,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "max_position_embeddings": 64,
    "sliding_window": 3,
    "sliding_window_pattern": 2,
    "rope_theta": 10_000.0,
    "rope_local_base_freq": 100.0,
    "rope_scaling": {"rope_type": "linear", "factor": 2.0},
    "query_pre_attn_scalar": 12,
    "pad_token_id": 0,
    "eos_token_id": 1,
    "bos_token_id": 2,
}
HEADS = {
    "Gemma3TextModel": AutoModel,
    "Gemma3ForCausalLM": AutoModelForCausalLM,
    "Gemma3TextForSequenceClassification": AutoModelForSequenceClassification,
}


@pytest.fixture(scope="module")
def save_hf(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Save a tiny random transformers model of ``class_name`` (norm weights random too: transformers
    starts them at zero); returns its directory."""
    cache: dict[tuple, Path] = {}

    def save(class_name: str = "Gemma3ForCausalLM", **overrides: object) -> Path:
        key = (class_name, json.dumps(overrides, sort_keys=True))
        if key not in cache:
            config = transformers.AutoConfig.for_model(FAMILY, **{**TINY, **overrides})
            torch.manual_seed(0)
            model = getattr(transformers, class_name)(config).eval()
            with torch.no_grad():
                for name, parameter in model.named_parameters():
                    if "norm" in name:
                        parameter.normal_(0, 0.5)
            directory = tmp_path_factory.mktemp(class_name)
            model.save_pretrained(directory)
            cache[key] = directory
        return cache[key]

    return save


_inputs = functools.partial(left_padded_inputs, TINY["vocab_size"], TINY["pad_token_id"])


def _both(directory: Path, class_name: str = "Gemma3ForCausalLM", **kwargs: Any) -> tuple[Any, Any]:
    return (
        HEADS[class_name].from_pretrained(directory, **kwargs),
        getattr(transformers, class_name).from_pretrained(directory, **kwargs).eval(),
    )


@pytest.mark.parametrize("class_name", sorted(HEADS))
def test_head_matches_transformers(save_hf: Callable[..., Path], class_name: str) -> None:
    ours, theirs = _both(save_hf(class_name), class_name)
    assert type(ours).__name__ == class_name
    assert ours.config._attn_implementation == theirs.config._attn_implementation == "sdpa"
    inputs = _inputs()
    labels = head_labels(class_name, inputs)
    with torch.no_grad():
        assert_outputs_close(
            ours(**inputs, **labels, output_hidden_states=True),
            theirs(**inputs, **labels, output_hidden_states=True),
            hidden=True,
        )
        embeds = torch.randn(3, 7, TINY["hidden_size"], generator=torch.Generator().manual_seed(4))
        if class_name != "Gemma3TextForSequenceClassification":  # pools at the last position of embeddings
            assert_outputs_close(
                ours(inputs_embeds=embeds), theirs(inputs_embeds=embeds)
            )  # not scaled by sqrt(hidden)


def test_attentions_match_eager_transformers(save_hf: Callable[..., Path]) -> None:
    ours, theirs = _both(save_hf(), attn_implementation="eager")
    assert ours.config._attn_implementation == "eager"
    inputs = _inputs()
    with torch.no_grad():
        assert_outputs_close(
            ours(**inputs, output_attentions=True, output_hidden_states=True),
            theirs(**inputs, output_attentions=True, output_hidden_states=True),
            hidden=True,
            attentions=True,
        )


@pytest.mark.parametrize("checkpointing", [False, True], ids=["plain", "checkpointing"])
@pytest.mark.parametrize("class_name", ["Gemma3ForCausalLM", "Gemma3TextForSequenceClassification"])
def test_training_step_matches_transformers(
    save_hf: Callable[..., Path], class_name: str, checkpointing: bool
) -> None:
    """Train mode, dropout 0.1 with the same seed, ``num_items_in_batch``, with or without gradient
    checkpointing: loss and gradients equal transformers'; checkpointing changes no gradient."""
    directory = save_hf(class_name, attention_dropout=0.1)
    inputs = _inputs()
    kwargs = {**inputs, **head_labels(class_name, inputs), "num_items_in_batch": torch.tensor(7)}
    reference = getattr(transformers, class_name).from_pretrained(directory)
    expected, expected_gradients = train_step(reference, kwargs, checkpointing)
    actual, gradients = train_step(HEADS[class_name].from_pretrained(directory), kwargs, checkpointing)
    torch.testing.assert_close(actual.loss, expected.loss, atol=1e-5, rtol=1e-4)
    assert_gradients_equal(gradients, expected_gradients)
    if checkpointing:
        _, plain = train_step(HEADS[class_name].from_pretrained(directory), kwargs, checkpointing=False)
        assert_gradients_equal(gradients, plain)


CONFIG_OPTIONS = [
    {"tie_word_embeddings": False, "attention_bias": True, "num_key_value_heads": 1},
    {"final_logit_softcapping": 3.0, "hidden_activation": "silu", "rms_norm_eps": 1e-5},
    # Kept and, as in transformers' Gemma 3, not applied (q/k norms replaced it).
    {"attn_logit_softcapping": 2.0},
    {"layer_types": ["full_attention", "sliding_attention"], "sliding_window": 2},
    {
        "rope_parameters": {
            "full_attention": {"rope_type": "yarn", "factor": 4.0, "rope_theta": 500.0},
            "sliding_attention": {"rope_type": "linear", "factor": 3.0, "rope_theta": 50.0},
        }
    },
]


@pytest.mark.parametrize("overrides", CONFIG_OPTIONS, ids=lambda o: json.dumps(o, sort_keys=True)[:60])
def test_config_options_match_transformers(save_hf: Callable[..., Path], overrides: dict) -> None:
    ours, theirs = _both(save_hf(**overrides))
    assert (ours.lm_head.weight is ours.model.embed_tokens.weight) == ours.config.tie_word_embeddings
    inputs = _inputs()
    with torch.no_grad():
        assert_outputs_close(ours(**inputs), theirs(**inputs))


#: gemma-3-1b-it's generation_config.json (sampling, eos also on <end_of_turn>).
HUB_GENERATION_CONFIG = {
    "bos_token_id": 2,
    "cache_implementation": "hybrid",
    "do_sample": True,
    "eos_token_id": [1, 50],
    "pad_token_id": 0,
    "top_k": 64,
    "top_p": 0.95,
}


def _hub_shaped(directory: Path, source: Path, **legacy: object) -> Path:
    """``source``'s weights with config.json in the Hub's original spelling (gemma-3-1b-it's keys) and
    the Hub's generation_config.json."""
    directory.mkdir()
    document = json.loads((source / "config.json").read_text())
    for key in ("rope_parameters", "layer_types", "_sliding_window_pattern"):
        document.pop(key, None)
    document.update({"cache_implementation": "hybrid", "torch_dtype": "float32", **legacy})
    (directory / "config.json").write_text(json.dumps(document))
    (directory / "model.safetensors").write_bytes((source / "model.safetensors").read_bytes())
    (directory / "generation_config.json").write_text(json.dumps(HUB_GENERATION_CONFIG))
    return directory


@pytest.mark.parametrize(
    "legacy",
    [
        {
            "rope_theta": 1000.0,
            "rope_local_base_freq": 10.0,
            "rope_scaling": None,
            "sliding_window_pattern": 3,
        },
        {"rope_scaling": {"rope_type": "linear", "factor": 8.0}},
    ],
    ids=["gemma-3-1b", "gemma-3-4b"],
)
def test_hub_config_spelling_matches_transformers(
    tmp_path: Path, save_hf: Callable[..., Path], legacy: dict
) -> None:
    """``sliding_window_pattern``, ``rope_theta`` / ``rope_local_base_freq`` and a legacy ``rope_scaling``
    (global layers only) give transformers' ``layer_types`` and ``rope_parameters``, its outputs and,
    with the checkpoint's generation config, its sampled tokens."""
    directory = _hub_shaped(tmp_path / "hub", save_hf(num_hidden_layers=3), **legacy)
    config = AutoConfig.from_pretrained(directory)
    reference = transformers.AutoConfig.from_pretrained(directory)
    assert config.layer_types == reference.layer_types
    assert config.rope_parameters == reference.rope_parameters
    ours, theirs = _both(directory)
    inputs = _inputs()
    with torch.no_grad():
        assert_outputs_close(ours(**inputs), theirs(**inputs))
    sampled = []
    for model in (ours, theirs):
        torch.manual_seed(3)
        sampled.append(model.generate(**inputs, max_new_tokens=6))
    assert torch.equal(*sampled)
    ours.save_pretrained(tmp_path / "saved")  # written in transformers 5's spelling, read back the same
    assert AutoConfig.from_pretrained(tmp_path / "saved").rope_parameters == reference.rope_parameters


def test_incremental_decoding_past_the_window_equals_full_forward(save_hf: Callable[..., Path]) -> None:
    """Left-padded prompts three times the sliding window, then one token at a time from the cache."""
    directory = save_hf()
    ours, theirs = _both(directory)
    inputs = _inputs(length=10)
    input_ids, attention_mask = inputs["input_ids"], inputs["attention_mask"]
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        full = ours(input_ids, attention_mask=attention_mask, position_ids=position_ids).logits
        prefix = 6
        step = ours(
            input_ids[:, :prefix],
            attention_mask=attention_mask[:, :prefix],
            position_ids=position_ids[:, :prefix],
            use_cache=True,
        )
        logits, past = [step.logits], step.past_key_values
        # Layer 0 slides (it keeps the window minus the next token), layer 1 attends to everything.
        kept = TINY["sliding_window"] - 1
        assert past[0][0].shape == (3, TINY["num_key_value_heads"], kept, TINY["head_dim"])
        assert past[1][0].shape == (3, TINY["num_key_value_heads"], prefix, TINY["head_dim"])
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


GENERATION = {
    "greedy": {},
    "sampling": {"do_sample": True, "temperature": 0.7, "top_k": 10},
    "sampling-top-p": {"do_sample": True, "top_p": 0.8, "top_k": 0, "repetition_penalty": 1.2},
    "beam": {"num_beams": 3, "num_return_sequences": 2},
}


@pytest.mark.parametrize("options", GENERATION.values(), ids=GENERATION.keys())
def test_generation_matches_transformers(save_hf: Callable[..., Path], options: dict) -> None:
    """Left-padded prompts longer than the sliding window, eos off: the same tokens (sampling with
    the same global seed, as tests/test_generation.py compares)."""
    ours, theirs = _both(save_hf(final_logit_softcapping=30.0))
    inputs = _inputs(length=6)
    kwargs = {**inputs, "max_new_tokens": 8, "eos_token_id": None, **options}
    torch.manual_seed(11)
    mine = ours.generate(**kwargs)
    torch.manual_seed(11)
    reference = theirs.generate(**kwargs)
    assert mine.shape == reference.shape
    assert torch.equal(mine, reference)


def test_bfloat16_loading_matches_transformers(save_hf: Callable[..., Path]) -> None:
    """Weights, the embedding scale (rounded to bf16 as transformers rounds it) and the logits."""
    ours, theirs = _both(save_hf(), dtype=torch.bfloat16)
    assert ours.dtype == torch.bfloat16
    inputs = _inputs()
    with torch.no_grad():
        embedded = ours.model.embed_tokens(inputs["input_ids"])
        assert torch.equal(embedded, theirs.model.embed_tokens(inputs["input_ids"]))
        mine, reference = ours(**inputs).logits, theirs(**inputs).logits
    assert mine.dtype == torch.bfloat16
    torch.testing.assert_close(mine, reference, atol=2e-2, rtol=2e-2)


def test_autohub_checkpoints_load_in_transformers(tmp_path: Path, save_hf: Callable[..., Path]) -> None:
    for class_name in ("Gemma3ForCausalLM", "Gemma3TextForSequenceClassification"):
        ours = HEADS[class_name].from_pretrained(save_hf(class_name))
        ours.save_pretrained(tmp_path / class_name)
        theirs = getattr(transformers, class_name).from_pretrained(tmp_path / class_name).eval()
        with torch.no_grad():
            assert_outputs_close(ours(**_inputs()), theirs(**_inputs()))
    config = AutoConfig.for_model(FAMILY, **TINY)
    torch.manual_seed(0)
    fresh = AutoModelForCausalLM.from_config(config)
    assert all(not norm.weight.any() for name, norm in fresh.named_modules() if name.endswith("norm"))
    fresh.save_pretrained(tmp_path / "fresh")
    theirs = transformers.Gemma3ForCausalLM.from_pretrained(tmp_path / "fresh").eval()
    assert theirs.config.rope_parameters == config.rope_parameters
    with torch.no_grad():
        assert_outputs_close(fresh.eval()(**_inputs()), theirs(**_inputs()))


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        ({"use_bidirectional_attention": True}, UnsupportedConfigError, "use_bidirectional_attention"),
        ({"hidden_activation": "swish2"}, UnsupportedConfigError, "hidden_activation"),
        ({"rope_parameters": {"rope_type": "linear", "factor": 2.0}}, UnsupportedConfigError, "rope_type"),
        ({"rope_scaling": {"type": "linear", "factor": 2.0}}, UnsupportedConfigError, "full_attention"),
        (
            {"rope_parameters": {"full_attention": {"rope_type": "default", "partial_rotary_factor": 0.5}}},
            UnsupportedConfigError,
            "partial_rotary_factor",
        ),
        ({"layer_types": ["full_attention", "chunked_attention"]}, UnsupportedConfigError, "layer_types"),
        ({"layer_types": ["full_attention"]}, ConfigError, "layer_types"),
        ({"hidden_size": 30}, ConfigError, "hidden_size"),
        ({"query_pre_attn_scalar": 0}, ConfigError, "query_pre_attn_scalar"),
    ],
)
def test_unsupported_and_invalid_values_name_the_key(
    overrides: dict, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        config = AutoConfig.for_model(FAMILY, **{**TINY, **overrides})
        AutoModelForCausalLM.from_config(config)


def test_multimodal_gemma3_is_refused_naming_the_text_model(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"model_type": "gemma3", "text_config": {"model_type": "gemma3_text"}})
    )
    for load in (AutoConfig.from_pretrained, AutoModelForCausalLM.from_pretrained):
        with pytest.raises(UnsupportedConfigError, match="only the text model is, model_type 'gemma3_text'"):
            load(tmp_path)
