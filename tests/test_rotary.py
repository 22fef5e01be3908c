"""Unit tests of autohub_core.rotary and its helpers, for the branches the rotary families'
parity tests do not reach (YaRN options, dynamic scaling at a given length, LongRoPE's short /
long factors, partial rotary, config checks, mask and pooling edge cases). transformers is the oracle for the RoPE frequencies."""

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
from autohub_core.rotary import (
    RotaryEmbedding,
    apply_rotary,
    causal_mask,
    check_rotary_decoder_config,
    rope_inverse_frequencies,
)

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


LONGROPE = {"rope_type": "longrope", "rope_theta": 10000.0, "short_factor": [1.0, 1.5, 2.0, 3.0]}


@pytest.mark.parametrize(
    ("rope", "seq_len"),
    [
        ({**LONGROPE, "original_max_position_embeddings": 16}, None),  # factor 64 / 16: sqrt rule
        ({**LONGROPE, "original_max_position_embeddings": 16}, 16),  # at the original length: short
        ({**LONGROPE, "original_max_position_embeddings": 16}, 17),  # past it: long
        ({**LONGROPE, "factor": 0.5, "original_max_position_embeddings": 32}, 40),  # factor <= 1: 1.0
        ({**LONGROPE, "attention_factor": 1.3, "factor": 4.0}, None),
    ],
)
def test_longrope_frequencies_match_transformers(rope: dict[str, Any], seq_len: int | None) -> None:
    """Partial rotary (half of head_dim 16: four factor pairs), short / long factors by length, the
    attention factor from ``factor`` or the position ratio."""
    rope = {**rope, "long_factor": [4.0, 5.0, 6.5, 8.0], "partial_rotary_factor": 0.5}
    ours, theirs = _configs(rope)
    inv_freq, scaling = rope_inverse_frequencies(ours, seq_len)
    expected_inv_freq, expected_scaling = ROPE_INIT_FUNCTIONS["longrope"](theirs, None, seq_len)
    torch.testing.assert_close(inv_freq, expected_inv_freq, rtol=0, atol=0)
    assert scaling == pytest.approx(expected_scaling, rel=1e-12)


def test_longrope_embedding_switches_factors_on_the_largest_position() -> None:
    rope = {**LONGROPE, "long_factor": [4.0, 5.0, 6.5, 8.0], "original_max_position_embeddings": 16}
    ours, theirs = _configs({**rope, "partial_rotary_factor": 0.5})
    embedding = RotaryEmbedding(ours)
    short, long = (ROPE_INIT_FUNCTIONS["longrope"](theirs, None, length)[0] for length in (None, 17))
    x = torch.zeros(1)
    for last_position, inv_freq in ((15, short), (16, long), (3, short)):
        positions = torch.tensor([[0, 2, last_position]])
        cos, _ = embedding(x, positions)
        expected = (positions[..., None].float() * inv_freq).cos() * embedding.attention_scaling
        torch.testing.assert_close(cos, torch.cat([expected, expected], dim=-1), rtol=0, atol=0)


def test_partial_rotary_leaves_the_other_dims_unrotated() -> None:
    query, key = torch.randn(2, 3, 5, 8), torch.randn(2, 1, 5, 8)
    angles = torch.rand(2, 5, 2)
    cos, sin = torch.cat([angles, angles], -1).cos(), torch.cat([angles, angles], -1).sin()
    rotated_query, rotated_key = apply_rotary(query, key, cos, sin)
    full_query, full_key = apply_rotary(query[..., :4], key[..., :4], cos, sin)
    torch.testing.assert_close(rotated_query, torch.cat([full_query, query[..., 4:]], -1), rtol=0, atol=0)
    torch.testing.assert_close(rotated_key, torch.cat([full_key, key[..., 4:]], -1), rtol=0, atol=0)


def test_top_level_partial_factor_and_original_length() -> None:
    rope = {"rope_type": "longrope", "original_max_position_embeddings": 4}
    standard = standardize_rope_parameters(
        rope, None, 5.0, 8, partial_rotary_factor=0.75, original_max_position_embeddings=6
    )
    assert standard["partial_rotary_factor"] == 0.75 and standard["original_max_position_embeddings"] == 6
    own = {"rope_type": "default", "partial_rotary_factor": 0.5}
    assert (
        standardize_rope_parameters(own, None, 5.0, 8, partial_rotary_factor=0.75)["partial_rotary_factor"]
        == 0.5
    )
    assert "original_max_position_embeddings" not in standardize_rope_parameters(
        None, None, 5.0, 8, original_max_position_embeddings=6
    )


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
    partial = {"rope_type": "default", "rope_theta": 1.0, "partial_rotary_factor": 0.5}
    check_rotary_decoder_config(_decoder_config(rope_parameters=partial), "autohub-example")
    longrope = {**partial, "rope_type": "longrope", "short_factor": [1.0, 2.0], "long_factor": [1.0] * 3}
    with pytest.raises(ConfigError, match=r"'rope_parameters' has 3 long_factor values.*2 \(head_dim 8"):
        check_rotary_decoder_config(_decoder_config(rope_parameters=longrope), "autohub-example")
    with pytest.raises(UnsupportedConfigError, match=r"'rope_parameters'.*'proportional'.*autohub-example"):
        check_rotary_decoder_config(
            _decoder_config(rope_parameters={"rope_type": "proportional"}), "autohub-example"
        )
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
