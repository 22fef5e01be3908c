"""Gemma 3 text: Gemma 2's block (embeddings scaled by sqrt(hidden_size), ``1 + weight`` RMSNorms
before and after attention and MLP, scores scaled by ``query_pre_attn_scalar``, a GELU-tanh gated
MLP, final logit soft-capping) with RMS-normed queries and keys, sliding-window and global layers
as ``layer_types`` says, and a RoPE table per layer type (``rope_parameters``: the local base for
sliding layers, scaling on global ones).

Attribute names follow transformers' Gemma 3 checkpoint keys (``model.layers.0.self_attn.q_norm.
weight`` ...), so Hub checkpoints load without renaming. The layer loop, cache, masks and heads
are the core's (:mod:`autohub_core.decoder`); this file declares Gemma 3's block.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, ClassVar

import torch
from torch import nn

from autohub_core.decoder import (
    DecoderForCausalLM,
    DecoderForSequenceClassification,
    RotaryDecoderModel,
    SandwichNormDecoderLayer,
    ScaledWordEmbedding,
    check_layer_types,
)
from autohub_core.errors import UnsupportedConfigError
from autohub_core.layers import get_activation
from autohub_core.modeling import PreTrainedModel
from autohub_core.rotary import (
    DECODER_TP_PLAN,
    SUPPORTED_ROPE_TYPES,
    GatedMLP,
    RotaryAttention,
    RotaryEmbedding,
    UnitOffsetRMSNorm,
)
from autohub_gemma3.config import LAYER_TYPES, Gemma3TextConfig

__all__ = [
    "Gemma3ForCausalLM",
    "Gemma3PreTrainedModel",
    "Gemma3TextForSequenceClassification",
    "Gemma3TextModel",
]

_DISTRIBUTION = "autohub-gemma3"


def _check_supported(config: Gemma3TextConfig) -> None:
    """What Gemma3TextConfig's value rules (checked when the model is built) do not say."""
    stray = sorted(set(config.rope_parameters) - set(LAYER_TYPES))
    if stray:
        raise UnsupportedConfigError(
            f"config key 'rope_parameters' has the key(s) {stray}, which apply to no layer: Gemma 3 keeps "
            f"one RoPE setting per layer type {list(LAYER_TYPES)} (move them into 'full_attention')"
        )
    for layer_type in LAYER_TYPES:
        rope = config.rope_parameters[layer_type]
        rope_type = rope["rope_type"]
        if (
            rope_type not in SUPPORTED_ROPE_TYPES
            or rope.get("type", rope_type) != rope_type
            or rope.get("partial_rotary_factor", 1.0) != 1.0
        ):
            raise UnsupportedConfigError(
                f"config key 'rope_parameters' ({layer_type}: {rope!r}) is not supported by {_DISTRIBUTION}: "
                f"it implements the rope types {SUPPORTED_ROPE_TYPES}, named once (no 'type' other than "
                "'rope_type'), rotating all dims (no partial_rotary_factor)"
            )
    if config.use_bidirectional_attention:
        raise UnsupportedConfigError(
            f"config key 'use_bidirectional_attention' = True (EmbeddingGemma) is not supported by "
            f"{_DISTRIBUTION}: it builds causal decoders only"
        )
    get_activation(config.hidden_activation, "hidden_activation")
    check_layer_types(config, _DISTRIBUTION)


class Gemma3RotaryEmbeddings(nn.Module):
    """One :class:`~autohub_core.rotary.RotaryEmbedding` per layer type, each from its own
    ``rope_parameters`` entry; no buffers (nothing in the checkpoint)."""

    def __init__(self, config: Gemma3TextConfig) -> None:
        super().__init__()
        self.tables = nn.ModuleDict(
            {
                layer_type: RotaryEmbedding(
                    SimpleNamespace(
                        rope_parameters=config.rope_parameters[layer_type],
                        head_dim=config.head_dim,
                        max_position_embeddings=config.max_position_embeddings,
                    )
                )
                for layer_type in LAYER_TYPES
            }
        )


class Gemma3Attention(RotaryAttention):
    """Rotary GQA attention whose queries and keys are RMS-normed per head before the rotation."""

    def __init__(self, config: Gemma3TextConfig) -> None:
        super().__init__(config, qkv_bias=config.attention_bias, output_bias=config.attention_bias)
        self.scaling = config.query_pre_attn_scalar**-0.5
        self.q_norm = UnitOffsetRMSNorm(config.head_dim, eps=config.rms_norm_eps)
        self.k_norm = UnitOffsetRMSNorm(config.head_dim, eps=config.rms_norm_eps)

    def project(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries and keys normed over ``head_dim``, values as projected."""
        query, key, value = super().project(hidden_states)
        return self.q_norm(query), self.k_norm(key), value


class Gemma3DecoderLayer(SandwichNormDecoderLayer):
    """``h + post_attention_layernorm(self_attn(input_layernorm(h)))``, then
    ``h + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(h)))``."""

    def __init__(self, config: Gemma3TextConfig, layer_index: int) -> None:
        super().__init__()
        self.self_attn = Gemma3Attention(config)
        self.mlp = GatedMLP(config.hidden_size, config.intermediate_size, config.hidden_activation)
        self.input_layernorm = UnitOffsetRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = UnitOffsetRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.pre_feedforward_layernorm = UnitOffsetRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_feedforward_layernorm = UnitOffsetRMSNorm(config.hidden_size, eps=config.rms_norm_eps)


class Gemma3PreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions shared by every Gemma 3 text class.

    sdpa is the default attention, as in transformers (Gemma 3 has no attention soft-capping).
    Tensor-parallel plan (transformers'): ``q_proj`` / ``k_proj`` / ``v_proj`` and ``gate_proj`` /
    ``up_proj`` colwise, ``o_proj`` and ``down_proj`` rowwise; ``q_norm`` / ``k_norm`` replicated,
    their gradients (from each rank's heads) summed over ranks; embeddings and other norms replicated.
    """

    config_class = Gemma3TextConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["Gemma3DecoderLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = {
        **DECODER_TP_PLAN,
        "layers.*.self_attn.q_norm": "replicated_with_grad_allreduce",
        "layers.*.self_attn.k_norm": "replicated_with_grad_allreduce",
    }

    def __init__(self, config: Gemma3TextConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        _check_supported(config)


class Gemma3TextModel(RotaryDecoderModel, Gemma3PreTrainedModel):
    """The bare Gemma 3 text decoder: returns the final (normed) hidden states and the KV cache."""

    layer_class = Gemma3DecoderLayer
    norm_class = UnitOffsetRMSNorm
    embedding_class = ScaledWordEmbedding
    rotary_class = Gemma3RotaryEmbeddings

    def rotary_embedding(self, layer_type: str) -> nn.Module:
        """The RoPE table of ``layer_type``: the local base for sliding layers, the global one else."""
        return self.rotary_emb.tables[layer_type]


class Gemma3ForCausalLM(DecoderForCausalLM, Gemma3PreTrainedModel):
    """Gemma 3 with the language-modelling head (``lm_head``, tied to the embeddings by default),
    logits soft-capped by ``final_logit_softcapping`` when set."""

    base_model_class = Gemma3TextModel


class Gemma3TextForSequenceClassification(DecoderForSequenceClassification, Gemma3PreTrainedModel):
    """Gemma 3 with a classification / regression head (``score``) over the last non-pad token."""

    base_model_class = Gemma3TextModel
