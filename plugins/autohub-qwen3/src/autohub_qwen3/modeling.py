"""Qwen3: Qwen2's decoder (pre-RMSNorm, rotary GQA attention, SiLU-gated MLP, sliding-window
attention on the layers ``layer_types`` names) with RMS-normed queries and keys, a ``head_dim``
independent of the hidden size and an optional bias on all four attention projections.

Attribute names follow transformers' Qwen3 checkpoint keys (``model.layers.0.self_attn.q_norm.
weight`` ...), so Hub checkpoints load without renaming. The layer loop, cache, masks and heads
are the core's (:mod:`autohub_core.decoder`); this file declares Qwen3's block.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from autohub_core.decoder import (
    DecoderForCausalLM,
    DecoderForQuestionAnswering,
    DecoderForSequenceClassification,
    DecoderForTokenClassification,
    DecoderLayer,
    RotaryDecoderModel,
    check_layer_types,
)
from autohub_core.modeling import PreTrainedModel
from autohub_core.rotary import (
    DECODER_TP_PLAN,
    GatedMLP,
    RMSNorm,
    RotaryAttention,
    check_rotary_decoder_config,
)
from autohub_qwen3.config import Qwen3Config

__all__ = [
    "Qwen3ForCausalLM",
    "Qwen3ForQuestionAnswering",
    "Qwen3ForSequenceClassification",
    "Qwen3ForTokenClassification",
    "Qwen3Model",
    "Qwen3PreTrainedModel",
]


class Qwen3Attention(RotaryAttention):
    """Rotary attention whose queries and keys are RMS-normed over ``head_dim`` (``q_norm`` /
    ``k_norm``, one weight shared by every head) before the rotation; ``attention_bias`` puts a
    bias on ``q_proj`` / ``k_proj`` / ``v_proj`` and ``o_proj``."""

    def __init__(self, config: Qwen3Config) -> None:
        bias = config.attention_bias
        super().__init__(config, qkv_bias=bias, output_bias=bias)
        self.q_norm = RMSNorm(self.head_dim, eps=config.rms_norm_eps)
        self.k_norm = RMSNorm(self.head_dim, eps=config.rms_norm_eps)

    def project(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries and keys normed per head (batch, seq, heads, head_dim) then transposed, as
        transformers computes them; values as the plain projection."""
        shape = (*hidden_states.shape[:2], -1, self.head_dim)
        query = self.q_norm(self.q_proj(hidden_states).view(shape)).transpose(1, 2)
        key = self.k_norm(self.k_proj(hidden_states).view(shape)).transpose(1, 2)
        value = self.v_proj(hidden_states).view(shape).transpose(1, 2)
        return query, key, value


class Qwen3DecoderLayer(DecoderLayer):
    """Pre-norm residual block: RMSNorm -> q/k-normed attention, RMSNorm -> MLP."""

    def __init__(self, config: Qwen3Config, layer_index: int) -> None:
        super().__init__()
        self.self_attn = Qwen3Attention(config)
        self.mlp = GatedMLP(config.hidden_size, config.intermediate_size, config.hidden_act)
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)


class Qwen3PreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions shared by every Qwen3 class.

    Tensor-parallel plan (transformers'): ``q_proj`` / ``k_proj`` / ``v_proj`` and ``gate_proj`` /
    ``up_proj`` colwise, ``o_proj`` and ``down_proj`` rowwise; ``q_norm`` / ``k_norm`` replicated
    with their gradients summed over the ranks (each rank norms its own heads); embeddings and the
    other norms replicated.
    """

    config_class = Qwen3Config
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["Qwen3DecoderLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = {
        **DECODER_TP_PLAN,
        "layers.*.self_attn.q_norm": "replicated_with_grad_allreduce",
        "layers.*.self_attn.k_norm": "replicated_with_grad_allreduce",
    }

    def __init__(self, config: Qwen3Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        check_rotary_decoder_config(config, "autohub-qwen3")
        check_layer_types(config, "autohub-qwen3")


class Qwen3Model(RotaryDecoderModel, Qwen3PreTrainedModel):
    """The bare Qwen3 decoder: returns the final (normed) hidden states and the KV cache."""

    layer_class = Qwen3DecoderLayer


class Qwen3ForCausalLM(DecoderForCausalLM, Qwen3PreTrainedModel):
    """Qwen3 with the language-modelling head (``lm_head``, tied to the embeddings when configured)."""

    base_model_class = Qwen3Model


class Qwen3ForSequenceClassification(DecoderForSequenceClassification, Qwen3PreTrainedModel):
    """Qwen3 with a classification / regression head (``score``) over the last non-pad token."""

    base_model_class = Qwen3Model


class Qwen3ForTokenClassification(DecoderForTokenClassification, Qwen3PreTrainedModel):
    """Qwen3 with a per-token classification head (``score``)."""

    base_model_class = Qwen3Model


class Qwen3ForQuestionAnswering(DecoderForQuestionAnswering, Qwen3PreTrainedModel):
    """Qwen3 with a span-extraction head; the base model is ``transformer`` as in transformers."""

    base_model_class = Qwen3Model
