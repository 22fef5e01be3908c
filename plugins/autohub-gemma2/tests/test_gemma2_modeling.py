"""Parity of autohub-gemma2 with transformers' Gemma 2: every head with left padding, training and
gradient checkpointing, generation (greedy, seeded sampling, beams) past the sliding window, the
KV cache, bf16 loading, both save directions, and the config keys (read, derived or refused).

The checkpoints are gemma-2-2b's config shrunk (head_dim independent of hidden_size / heads,
``query_pre_attn_scalar`` another value again), with soft-caps low enough to bite and norm
weights randomised, saved by transformers.
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
    UnsupportedFeatureError,
)
from autohub_core.testing.parity import (
    assert_nested_close,
    head_labels,
    left_padded_inputs,
    train_step,
)
from autohub_gemma2.modeling import Gemma2ForCausalLM

FAMILY = "gemma2"
TINY = {
    "vocab_size": 99,
    "hidden_size": 32,
    "intermediate_size": 37,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "query_pre_attn_scalar": 24,
    "max_position_embeddings": 64,
    "sliding_window": 4,
    "attn_logit_softcapping": 1.5,
    "final_logit_softcapping": 2.0,
    "initializer_range": 0.2,
}
HEADS = {
    "Gemma2Model": AutoModel,
    "Gemma2ForCausalLM": AutoModelForCausalLM,
    "Gemma2ForSequenceClassification": AutoModelForSequenceClassification,
    "Gemma2ForTokenClassification": AutoModelForTokenClassification,
}
OUTPUT_FIELDS = ("last_hidden_state", "logits", "loss")


@pytest.fixture(scope="module")
def save_hf(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Save a tiny random transformers model of ``class_name``; returns its directory."""
    cache: dict[tuple, Path] = {}

    def save(class_name: str = "Gemma2ForCausalLM", **overrides: object) -> Path:
        key = (class_name, json.dumps(overrides, sort_keys=True))
        if key not in cache:
            config = transformers.AutoConfig.for_model(FAMILY, **{**TINY, **overrides})
            torch.manual_seed(0)
            model = getattr(transformers, class_name)(config).eval()
            with torch.no_grad():
                for name, parameter in model.named_parameters():
                    if "norm" in name:  # zero-initialised: (1 + weight) would hide a plain RMSNorm
                        parameter.normal_(0, 0.5)
            directory = tmp_path_factory.mktemp(class_name)
            model.save_pretrained(directory)
            cache[key] = directory
        return cache[key]

    return save


_inputs = functools.partial(left_padded_inputs, TINY["vocab_size"], 0, length=9)


def _compare(ours: Any, theirs: Any, detail: bool = False) -> None:
    compared = [field for field in OUTPUT_FIELDS if getattr(theirs, field, None) is not None]
    assert compared
    for field in compared:
        assert_nested_close(getattr(ours, field), getattr(theirs, field), field)
    if detail:
        assert_nested_close(ours.hidden_states, theirs.hidden_states, "hidden_states")
        assert_nested_close(ours.attentions, theirs.attentions, "attentions")


@pytest.mark.parametrize("class_name", sorted(HEADS))
def test_head_matches_transformers(save_hf: Callable[..., Path], class_name: str) -> None:
    """Outputs, loss, every hidden state and every (soft-capped, sliding or global) attention map."""
    directory = save_hf(class_name)
    ours = HEADS[class_name].from_pretrained(directory)
    assert type(ours).__name__ == class_name and ours.config._attn_implementation == "eager"
    theirs = getattr(transformers, class_name).from_pretrained(directory).eval()
    inputs = _inputs()
    options = {**head_labels(class_name, inputs), "output_hidden_states": True, "output_attentions": True}
    with torch.no_grad():
        _compare(ours(**inputs, **options), theirs(**inputs, **options), detail=True)


CONFIG_OPTIONS = [
    {"tie_word_embeddings": False, "attention_bias": True},
    {"num_key_value_heads": 1, "query_pre_attn_scalar": 16, "rms_norm_eps": 1e-5},
    {"layer_types": ["full_attention", "sliding_attention", "sliding_attention", "full_attention"]},
    {
        "hidden_activation": "gelu",
        "rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 500.0},
    },
    {
        "rope_parameters": {"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0},
        "max_position_embeddings": 6,
    },
]


@pytest.mark.parametrize("overrides", CONFIG_OPTIONS, ids=lambda o: json.dumps(o, sort_keys=True)[:50])
def test_config_options_match_transformers(save_hf: Callable[..., Path], overrides: dict[str, Any]) -> None:
    directory = save_hf(**overrides)
    ours = AutoModelForCausalLM.from_pretrained(directory)
    theirs = transformers.Gemma2ForCausalLM.from_pretrained(directory).eval()
    tied = ours.lm_head.weight is ours.model.embed_tokens.weight
    assert tied == overrides.get("tie_word_embeddings", True)
    with torch.no_grad():
        _compare(ours(**_inputs()), theirs(**_inputs()))


def test_inputs_embeds_are_not_scaled(save_hf: Callable[..., Path]) -> None:
    """The sqrt(hidden_size) factor belongs to the embedding module: given embeddings enter as they are."""
    directory = save_hf()
    ours = AutoModelForCausalLM.from_pretrained(directory)
    theirs = transformers.Gemma2ForCausalLM.from_pretrained(directory).eval()
    inputs = _inputs()
    embeds = torch.randn(
        *inputs["input_ids"].shape, TINY["hidden_size"], generator=torch.Generator().manual_seed(4)
    )
    with torch.no_grad():
        _compare(
            ours(inputs_embeds=embeds, attention_mask=inputs["attention_mask"]),
            theirs(inputs_embeds=embeds, attention_mask=inputs["attention_mask"]),
        )
        looked_up = ours.get_input_embeddings()(inputs["input_ids"])
    torch.testing.assert_close(looked_up, ours.model.embed_tokens.weight[inputs["input_ids"]] * 32**0.5)


@pytest.mark.parametrize(
    ("class_name", "checkpointing"),
    [
        ("Gemma2ForCausalLM", False),
        ("Gemma2ForCausalLM", True),
        ("Gemma2ForSequenceClassification", False),
        ("Gemma2ForTokenClassification", True),
    ],
)
def test_training_step_matches_transformers(
    save_hf: Callable[..., Path], class_name: str, checkpointing: bool
) -> None:
    """Train mode with attention dropout and the same seed, ``num_items_in_batch``, with or without
    gradient checkpointing: loss and every gradient equal transformers'."""
    directory = save_hf(class_name, attention_dropout=0.1)
    inputs = _inputs()
    kwargs = {**inputs, **head_labels(class_name, inputs), "num_items_in_batch": torch.tensor(7)}
    reference = getattr(transformers, class_name).from_pretrained(directory)
    expected, expected_gradients = train_step(reference, kwargs, checkpointing)
    actual, gradients = train_step(HEADS[class_name].from_pretrained(directory), kwargs, checkpointing)
    torch.testing.assert_close(actual.loss, expected.loss, atol=1e-5, rtol=1e-4)
    assert gradients.keys() == expected_gradients.keys()
    for name, gradient in expected_gradients.items():
        torch.testing.assert_close(gradients[name], gradient, atol=1e-5, rtol=1e-4, msg=f"gradient of {name}")


def _prompts() -> dict[str, torch.Tensor]:
    """Three prompts of lengths 6, 3 and 1 (the first longer than the sliding window), left padded."""
    inputs = _inputs(length=6)
    inputs["attention_mask"][2, :5] = 0
    inputs["input_ids"][inputs["attention_mask"] == 0] = 0
    return inputs


GENERATION = {
    "greedy": {},
    "sampling": {"do_sample": True, "temperature": 0.7, "top_k": 10},
    "sampling_top_p": {"do_sample": True, "top_p": 0.8, "top_k": 0, "repetition_penalty": 1.2},
    "beams": {"num_beams": 3, "num_return_sequences": 2},
}


@pytest.fixture(scope="module")
def generators(save_hf: Callable[..., Path]) -> tuple[Any, Any]:
    directory = save_hf()
    return AutoModelForCausalLM.from_pretrained(directory), transformers.Gemma2ForCausalLM.from_pretrained(
        directory
    ).eval()


@pytest.mark.parametrize("options", list(GENERATION.values()), ids=list(GENERATION))
def test_generation_matches_transformers(generators: tuple[Any, Any], options: dict[str, Any]) -> None:
    """10 new tokens after left-padded prompts: 16 positions, four times the sliding window."""
    ours, theirs = generators
    prompts = _prompts()
    torch.manual_seed(11)
    mine = ours.generate(**prompts, max_new_tokens=10, eos_token_id=None, **options)
    torch.manual_seed(11)
    reference = theirs.generate(**prompts, max_new_tokens=10, eos_token_id=None, **options)
    assert mine.shape == (3 * options.get("num_return_sequences", 1), 16)
    assert torch.equal(mine, reference)


def test_cached_decoding_equals_full_forward(generators: tuple[Any, Any]) -> None:
    """Token by token with the KV cache (past the sliding window) gives the full forward's logits."""
    ours, theirs = generators
    inputs = _inputs(length=12)
    input_ids, attention_mask = inputs["input_ids"], inputs["attention_mask"]
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        full = ours(input_ids, attention_mask=attention_mask, position_ids=position_ids).logits
        step = ours(input_ids[:, :5], attention_mask=attention_mask[:, :5], position_ids=position_ids[:, :5])
        logits, past = [step.logits], step.past_key_values
        # Layer 0 slides (it keeps the window minus the next token), layer 1 attends to everything.
        assert past[0][0].shape == (
            3,
            TINY["num_key_value_heads"],
            TINY["sliding_window"] - 1,
            TINY["head_dim"],
        )
        assert past[1][0].shape == (3, TINY["num_key_value_heads"], 5, TINY["head_dim"])
        for index in range(5, 12):
            step = ours(
                input_ids[:, index : index + 1],
                attention_mask=attention_mask[:, : index + 1],
                position_ids=position_ids[:, index : index + 1],
                past_key_values=past,
            )
            logits.append(step.logits)
            past = step.past_key_values
        expected = theirs(input_ids, attention_mask=attention_mask, position_ids=position_ids).logits
    real = attention_mask.bool()  # a padded query attends to nothing: its (unused) logits differ
    torch.testing.assert_close(torch.cat(logits, dim=1)[real], full[real], atol=1e-5, rtol=0)
    torch.testing.assert_close(full, expected, atol=1e-5, rtol=0)


def test_bfloat16_loading_matches_transformers(save_hf: Callable[..., Path]) -> None:
    """Loaded in bf16 (the embedding scale rounded to bf16 as in transformers): the same embeddings,
    logits within bf16 precision, and the same greedy tokens."""
    directory = save_hf()
    ours = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.bfloat16)
    theirs = transformers.Gemma2ForCausalLM.from_pretrained(directory, dtype=torch.bfloat16).eval()
    assert {parameter.dtype for parameter in ours.parameters()} == {torch.bfloat16}
    inputs = _inputs()
    with torch.no_grad():
        mine = ours(**inputs, output_hidden_states=True)
        reference = theirs(**inputs, output_hidden_states=True)
    assert torch.equal(mine.hidden_states[0], reference.hidden_states[0])
    torch.testing.assert_close(mine.logits, reference.logits, atol=2e-2, rtol=0)
    prompts = _prompts()
    assert torch.equal(
        ours.generate(**prompts, max_new_tokens=5), theirs.generate(**prompts, max_new_tokens=5)
    )


def test_autohub_checkpoint_loads_in_transformers(tmp_path: Path, save_hf: Callable[..., Path]) -> None:
    """autohub saves (a loaded checkpoint, and a fresh one built from a config): transformers loads the same model."""
    config = AutoConfig.for_model(FAMILY, **{**TINY, "tie_word_embeddings": False})
    torch.manual_seed(0)
    models = {
        "Gemma2ForSequenceClassification": AutoModelForSequenceClassification.from_pretrained(
            save_hf("Gemma2ForSequenceClassification")
        ),
        "Gemma2ForCausalLM": AutoModelForCausalLM.from_config(config).eval(),
    }
    inputs = _inputs()
    for class_name, ours in models.items():
        ours.save_pretrained(tmp_path / class_name)
        theirs = getattr(transformers, class_name).from_pretrained(tmp_path / class_name).eval()
        assert theirs.config.to_dict()["layer_types"] == ours.config.layer_types
        with torch.no_grad():
            _compare(ours(**inputs), theirs(**inputs))


def test_config_reads_every_transformers_key(save_hf: Callable[..., Path]) -> None:
    """Every key of transformers' saved config reads back to the same value; the defaults are
    transformers' (layer types alternate, sliding first)."""
    document = json.loads((save_hf() / "config.json").read_text())
    for key in ("architectures", "transformers_version", "dtype"):
        document.pop(key, None)
    config = AutoConfig.for_model(FAMILY, **TINY)
    for key, value in document.items():
        assert getattr(config, key) == value, key
    for layers in (1, 3, 26):
        ours = AutoConfig.for_model(FAMILY, num_hidden_layers=layers)
        theirs = transformers.Gemma2Config(num_hidden_layers=layers)
        assert ours.layer_types == theirs.layer_types
        assert ours.rope_parameters == theirs.rope_parameters
    defaults = {key: value for key, value in transformers.Gemma2Config().to_dict().items() if key in document}
    ours = AutoConfig.for_model(FAMILY)
    assert {key: getattr(ours, key) for key in defaults} == defaults


def test_hub_config_with_legacy_keys(tmp_path: Path, save_hf: Callable[..., Path]) -> None:
    """gemma-2's Hub config.json: ``rope_theta``, both ``hidden_act`` and ``hidden_activation``, no ``layer_types``."""
    directory = save_hf()
    document = json.loads((directory / "config.json").read_text())
    del document["rope_parameters"], document["layer_types"]
    document.update(
        {"rope_theta": 10000.0, "hidden_act": "gelu_pytorch_tanh", "cache_implementation": "hybrid"}
    )
    (tmp_path / "config.json").write_text(json.dumps(document))
    (tmp_path / "model.safetensors").write_bytes((directory / "model.safetensors").read_bytes())
    ours = AutoModelForCausalLM.from_pretrained(tmp_path)
    theirs = transformers.Gemma2ForCausalLM.from_pretrained(tmp_path).eval()
    assert ours.config.layer_types == theirs.config.layer_types
    assert ours.config.hidden_act == "gelu_pytorch_tanh"  # kept and written back
    with torch.no_grad():
        _compare(ours(**_inputs()), theirs(**_inputs()))


@pytest.mark.parametrize(
    ("overrides", "error", "key"),
    [
        ({"use_bidirectional_attention": True}, UnsupportedConfigError, "use_bidirectional_attention"),
        ({"hidden_activation": "swishy"}, UnsupportedConfigError, "hidden_activation"),
        (
            {"layer_types": ["full_attention", "chunked_attention"], "num_hidden_layers": 2},
            UnsupportedConfigError,
            "layer_types",
        ),
        (
            {
                "rope_parameters": {
                    "rope_type": "longrope",
                    "rope_theta": 1.0,
                    "short_factor": [1.0] * 8,
                    "long_factor": [1.0] * 8,
                }
            },
            UnsupportedConfigError,
            "rope_parameters",
        ),
        (
            {"rope_parameters": {"rope_type": "default", "rope_theta": 1e4, "partial_rotary_factor": 0.5}},
            UnsupportedConfigError,
            "rope_parameters",
        ),
        ({"sliding_window": None}, ConfigError, "sliding_window"),
        ({"query_pre_attn_scalar": 0}, ConfigError, "query_pre_attn_scalar"),
        ({"attn_logit_softcapping": -1.0}, ConfigError, "attn_logit_softcapping"),
        ({"hidden_size": 30}, ConfigError, "hidden_size"),
    ],
)
def test_refused_config_names_the_key(overrides: dict[str, Any], error: type[Exception], key: str) -> None:
    with pytest.raises(error, match=key):
        config = AutoConfig.for_model(FAMILY, **{**TINY, **overrides})
        Gemma2ForCausalLM(config)


def test_sdpa_is_refused_and_caps_can_be_off(save_hf: Callable[..., Path]) -> None:
    """sdpa cannot soft-cap: refused as in transformers. Without caps the model still matches."""
    with pytest.raises(UnsupportedFeatureError, match="sdpa"):
        AutoModelForCausalLM.from_pretrained(save_hf(), attn_implementation="sdpa")
    directory = save_hf(attn_logit_softcapping=None, final_logit_softcapping=None)
    ours = AutoModelForCausalLM.from_pretrained(directory)
    theirs = transformers.Gemma2ForCausalLM.from_pretrained(directory).eval()
    with torch.no_grad():
        _compare(ours(**_inputs()), theirs(**_inputs()))
