"""Phi-3: a pre-RMSNorm rotary decoder with fused projections (``qkv_proj``: queries | keys | values,
``gate_up_proj``: gate | up), dropout on each residual branch (``resid_pdrop``), partial rotary
(``partial_rotary_factor``), LongRoPE scaling and an optional sliding window on every layer.

Attribute names follow transformers' Phi-3 checkpoint keys (``model.layers.0.self_attn.qkv_proj.
weight`` ...), so Hub checkpoints load without renaming. The layer loop, cache, masks and heads
are the core's (:mod:`autohub_core.decoder`); this file declares Phi-3's block.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from autohub_core.cache import Cache, cache_length
from autohub_core.decoder import (
    DecoderForCausalLM,
    DecoderForSequenceClassification,
    DecoderForTokenClassification,
    DecoderLayer,
    RotaryDecoderModel,
)
from autohub_core.errors import UnsupportedConfigError
from autohub_core.layers import get_activation
from autohub_core.modeling import PreTrainedModel
from autohub_core.rotary import KeyValue, RMSNorm, RotaryAttention, check_rotary_decoder_config
from autohub_phi3.config import Phi3Config

__all__ = [
    "Phi3ForCausalLM",
    "Phi3ForSequenceClassification",
    "Phi3ForTokenClassification",
    "Phi3Model",
    "Phi3PreTrainedModel",
]

_DISTRIBUTION = "autohub-phi3"
#: The rope types transformers' Phi3Config accepts.
PHI3_ROPE_TYPES = ("default", "longrope")


class Phi3Attention(RotaryAttention):
    """Rotary grouped-query attention whose queries, keys and values come from one unbiased
    ``qkv_proj`` (in that order)."""

    def __init__(self, config: Phi3Config) -> None:
        super().__init__(config, qkv_bias=False, output_bias=False)

    def build_projections(self, hidden_size: int, query_size: int, key_value_size: int, bias: bool) -> None:
        """One ``qkv_proj``: ``hidden_size -> query_size + 2 * key_value_size``."""
        self.split_sizes = [query_size, key_value_size, key_value_size]
        self.qkv_proj = nn.Linear(hidden_size, sum(self.split_sizes), bias=bias)

    def project(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Split ``qkv_proj``'s output into (batch, heads, seq, head_dim) queries, keys and values."""
        shape = (*hidden_states.shape[:2], -1, self.head_dim)
        query, key, value = self.qkv_proj(hidden_states).split(self.split_sizes, dim=-1)
        return (
            query.view(shape).transpose(1, 2),
            key.view(shape).transpose(1, 2),
            value.view(shape).transpose(1, 2),
        )


class Phi3MLP(nn.Module):
    """``down_proj(up * act(gate))`` where ``gate | up = gate_up_proj(x)`` (no biases)."""

    def __init__(self, config: Phi3Config) -> None:
        super().__init__()
        self.gate_up_proj = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.activation_fn = get_activation(config.hidden_act)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """The gated feed-forward of ``hidden_states``."""
        gate, up = self.gate_up_proj(hidden_states).chunk(2, dim=-1)
        return self.down_proj(up * self.activation_fn(gate))


class Phi3DecoderLayer(DecoderLayer):
    """Pre-norm residual block whose attention and MLP outputs pass a ``resid_pdrop`` dropout."""

    def __init__(self, config: Phi3Config, layer_index: int) -> None:
        super().__init__()
        self.self_attn = Phi3Attention(config)
        self.mlp = Phi3MLP(config)
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.resid_attn_dropout = nn.Dropout(config.resid_pdrop)
        self.resid_mlp_dropout = nn.Dropout(config.resid_pdrop)

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor | None,
        past_key_value: KeyValue | None,
        output_attentions: bool,
    ) -> tuple[torch.Tensor, KeyValue, torch.Tensor | None]:
        """As :meth:`DecoderLayer.forward`, with dropout on each branch before it joins the residual."""
        attended, present, weights = self.self_attn(
            self.input_layernorm(hidden_states), position_embeddings, mask, past_key_value, output_attentions
        )
        hidden_states = hidden_states + self.resid_attn_dropout(attended)
        mlp_output = self.mlp(self.post_attention_layernorm(hidden_states))
        return hidden_states + self.resid_mlp_dropout(mlp_output), present, weights


class Phi3PreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions shared by every Phi-3 class.

    Tensor-parallel plan (transformers'): the fused ``qkv_proj`` and ``gate_up_proj`` colwise with
    gathered outputs (their outputs are sliced whole), ``o_proj`` and ``down_proj`` rowwise on
    their replicated inputs (``rowwise_split_input``); embeddings and norms replicated.
    """

    config_class = Phi3Config
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["Phi3DecoderLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = {
        "layers.*.self_attn.qkv_proj": "colwise_gather_output",
        "layers.*.self_attn.o_proj": "rowwise_split_input",
        "layers.*.mlp.gate_up_proj": "colwise_gather_output",
        "layers.*.mlp.down_proj": "rowwise_split_input",
    }

    def __init__(self, config: Phi3Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        rope_type = config.rope_parameters.get("rope_type")
        if rope_type not in PHI3_ROPE_TYPES:
            raise UnsupportedConfigError(
                f"config key 'rope_parameters' (rope_type {rope_type!r}) is not supported by Phi-3 "
                f"({_DISTRIBUTION}, as transformers' Phi3Config); use one of {PHI3_ROPE_TYPES}"
            )
        check_rotary_decoder_config(config, _DISTRIBUTION)


class Phi3Model(RotaryDecoderModel, Phi3PreTrainedModel):
    """The bare Phi-3 decoder: returns the final (normed) hidden states and the KV cache."""

    layer_class = Phi3DecoderLayer

    def layer_types(self) -> list[str]:
        """Every layer attends through the sliding window when ``sliding_window`` is set."""
        kind = "full_attention" if self.config.sliding_window is None else "sliding_attention"
        return [kind] * self.config.num_hidden_layers


class Phi3ForCausalLM(DecoderForCausalLM, Phi3PreTrainedModel):
    """Phi-3 with the language-modelling head (``lm_head``, tied to the embeddings when configured).

    Generation recomputes the cache once, when the sequence first grows past
    ``original_max_position_embeddings``: LongRoPE then switches to its long factors, which the
    cached keys were not rotated with (transformers' rule, on the padded length).
    """

    base_model_class = Phi3Model

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.Tensor,
        past_key_values: Cache | tuple[KeyValue, ...] | None = None,
        attention_mask: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """As the core's, without the cache at the step the sequence first outgrows the original length."""
        original_length = self.config.original_max_position_embeddings
        if (
            past_key_values
            and input_ids.shape[1] >= original_length + 1
            and cache_length(past_key_values) <= original_length
        ):
            past_key_values = None
        return super().prepare_inputs_for_generation(input_ids, past_key_values, attention_mask, **kwargs)


class Phi3ForSequenceClassification(DecoderForSequenceClassification, Phi3PreTrainedModel):
    """Phi-3 with a classification / regression head (``score``) over the last non-pad token."""

    base_model_class = Phi3Model


class Phi3ForTokenClassification(DecoderForTokenClassification, Phi3PreTrainedModel):
    """Phi-3 with a per-token classification head (``score``)."""

    base_model_class = Phi3Model
