"""Unit tests of autohub_core.rotary and its helpers, for the branches the rotary families'
parity tests do not reach (YaRN options, dynamic scaling at a given length, config checks,
mask and pooling edge cases). transformers is the oracle for the RoPE frequencies."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch
from transformers import LlamaConfig as TransformersLlamaConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

from autohub_core.configuration import standardize_rope_parameters
from autohub_core.errors import ConfigError, UnsupportedConfigError
from autohub_core.layers import last_non_pad_token
from autohub_core.rotary import causal_mask, check_rotary_decoder_config, rope_inverse_frequencies

SIZES = {"hidden_size": 64, "num_attention_heads": 4, "max_position_embeddings": 64}


def _configs(rope: dict[str, Any]) -> tuple[SimpleNamespace, TransformersLlamaConfig]:
    theirs = TransformersLlamaConfig(**SIZES, rope_parameters=dict(rope))
    ours = SimpleNamespace(
        rope_parameters=standardize_rope_parameters(rope, None, 10000.0, SIZES["max_position_embeddings"]),
        head_dim=SIZES["hidden_size"] // SIZES["num_attention_heads"],
        max_position_embeddings=SIZES["max_position_embeddings"],
    )
    return ours, theirs


@pytest.mark.parametrize(
    "rope",
    [
        {"rope_type": "yarn", "factor": 4.0, "mscale": 1.0, "mscale_all_dim": 0.5},
        {"rope_type": "yarn", "factor": 2.0, "attention_factor": 0.8, "beta_fast": 16, "beta_slow": 2},
        {"rope_type": "yarn", "factor": 8.0, "truncate": False, "original_max_position_embeddings": 16},
        {"rope_type": "yarn", "factor": 1.0, "original_max_position_embeddings": 32},
    ],
)
def test_yarn_options_match_transformers(rope: dict[str, Any]) -> None:
    rope = {"rope_theta": 10000.0, **rope}
    ours, theirs = _configs(rope)
    inv_freq, scaling = rope_inverse_frequencies(ours)
    expected_inv_freq, expected_scaling = ROPE_INIT_FUNCTIONS["yarn"](theirs, None)
    torch.testing.assert_close(inv_freq, expected_inv_freq, rtol=0, atol=0)
    assert scaling == pytest.approx(expected_scaling, rel=1e-12)


@pytest.mark.parametrize("seq_len", [None, 32, 64, 200])
def test_dynamic_frequencies_at_a_length_match_transformers(seq_len: int | None) -> None:
    rope = {"rope_type": "dynamic", "factor": 3.0, "rope_theta": 10000.0}
    ours, theirs = _configs(rope)
    inv_freq, scaling = rope_inverse_frequencies(ours, seq_len)
    expected_inv_freq, expected_scaling = ROPE_INIT_FUNCTIONS["dynamic"](theirs, None, seq_len)
    torch.testing.assert_close(inv_freq, expected_inv_freq, rtol=0, atol=0)
    assert scaling == expected_scaling == 1.0


def test_legacy_rope_scaling_wins_and_fills_defaults() -> None:
    assert standardize_rope_parameters({"rope_type": "linear", "factor": 2.0}, None, 5.0, 8) == {
        "rope_type": "linear",
        "factor": 2.0,
        "rope_theta": 5.0,
    }
    legacy = standardize_rope_parameters({"rope_type": "linear"}, {"type": "yarn", "factor": 2.0}, 5.0, 8)
    assert legacy["rope_type"] == "yarn" and legacy["original_max_position_embeddings"] == 8
    assert standardize_rope_parameters(None, None, 7.0, 8) == {"rope_theta": 7.0, "rope_type": "default"}


def _decoder_config(**overrides: Any) -> SimpleNamespace:
    values = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 8,
        "vocab_size": 100,
        "hidden_act": "silu",
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0},
    }
    return SimpleNamespace(**{**values, **overrides})


def test_config_check_names_the_key_and_the_distribution() -> None:
    check_rotary_decoder_config(_decoder_config(), "autohub-example")
    rope = {"rope_type": "default", "rope_theta": 1.0, "partial_rotary_factor": 0.5}
    with pytest.raises(UnsupportedConfigError, match=r"'partial_rotary_factor'.*autohub-example"):
        check_rotary_decoder_config(_decoder_config(rope_parameters=rope), "autohub-example")
    with pytest.raises(UnsupportedConfigError, match=r"'rope_parameters'.*autohub-example"):
        check_rotary_decoder_config(_decoder_config(rope_parameters="yarn"), "autohub-example")
    with pytest.raises(ConfigError, match="'num_key_value_heads'"):
        check_rotary_decoder_config(_decoder_config(num_key_value_heads=3), "autohub-example")
    with pytest.raises(ConfigError, match="'head_dim'"):
        check_rotary_decoder_config(_decoder_config(head_dim=True), "autohub-example")
    with pytest.raises(UnsupportedConfigError, match="'hidden_act'"):
        check_rotary_decoder_config(_decoder_config(hidden_act="nope"), "autohub-example")


def test_causal_mask_shapes_window_and_padding() -> None:
    device = torch.device("cpu")
    assert causal_mask(None, 5, 0, device) is None
    assert causal_mask(torch.ones(2, 6), 1, 5, device) is None
    with pytest.raises(ValueError, match="attention_mask must have shape"):
        causal_mask(torch.ones(2, 4), 5, 0, device)
    windowed = causal_mask(None, 4, 0, device, sliding_window=2)
    assert windowed is not None and windowed.shape == (1, 1, 4, 4)
    expected = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]], dtype=torch.bool)
    assert torch.equal(windowed[0, 0], expected)
    padded = causal_mask(torch.tensor([[0, 1, 1]]), 1, 2, device)
    assert padded is not None and padded.tolist() == [[[[False, True, True]]]]


def test_last_non_pad_token_pools_any_padding_side() -> None:
    values = torch.arange(2 * 4, dtype=torch.float32).view(2, 4, 1)
    input_ids = torch.tensor([[5, 6, 0, 0], [0, 0, 7, 8]])
    assert last_non_pad_token(values, input_ids, 0).flatten().tolist() == [1.0, 7.0]
    assert last_non_pad_token(values, None, 0).flatten().tolist() == [3.0, 7.0]
    assert last_non_pad_token(values[:1], input_ids[:1], None).flatten().tolist() == [3.0]
    with pytest.raises(ValueError, match="no padding token"):
        last_non_pad_token(values, input_ids, None)
