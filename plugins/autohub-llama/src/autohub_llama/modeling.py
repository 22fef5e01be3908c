"""Llama: token embeddings, pre-RMSNorm decoder layers with rotary attention and a SiLU-gated MLP.

Attribute names follow transformers' Llama checkpoint keys (``model.layers.0.self_attn.q_proj.
weight`` ...), so Hub checkpoints load without renaming. The layer loop, cache, masks and heads
are the core's (:mod:`autohub_core.decoder`); this file declares Llama's block.
"""

from __future__ import annotations

from typing import Any, ClassVar

from autohub_core.decoder import (
    DecoderForCausalLM,
    DecoderForQuestionAnswering,
    DecoderForSequenceClassification,
    DecoderForTokenClassification,
    DecoderLayer,
    RotaryDecoderModel,
)
from autohub_core.modeling import PreTrainedModel
from autohub_core.rotary import (
    DECODER_TP_PLAN,
    GatedMLP,
    RMSNorm,
    RotaryAttention,
    check_rotary_decoder_config,
)
from autohub_llama.config import LlamaConfig

__all__ = [
    "LlamaForCausalLM",
    "LlamaForQuestionAnswering",
    "LlamaForSequenceClassification",
    "LlamaForTokenClassification",
    "LlamaModel",
    "LlamaPreTrainedModel",
]


class LlamaDecoderLayer(DecoderLayer):
    """Pre-norm residual block: RMSNorm -> attention, RMSNorm -> MLP; ``attention_bias`` puts a bias
    on all four attention projections, ``mlp_bias`` on the MLP's."""

    def __init__(self, config: LlamaConfig, layer_index: int) -> None:
        super().__init__()
        bias = config.attention_bias
        self.self_attn = RotaryAttention(config, qkv_bias=bias, output_bias=bias)
        self.mlp = GatedMLP(config.hidden_size, config.intermediate_size, config.hidden_act, config.mlp_bias)
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)


class LlamaPreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions shared by every Llama class.

    Tensor-parallel plan (transformers'): ``q_proj`` / ``k_proj`` / ``v_proj`` and ``gate_proj`` /
    ``up_proj`` colwise, ``o_proj`` and ``down_proj`` rowwise; embeddings and norms replicated.
    """

    config_class = LlamaConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["LlamaDecoderLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = DECODER_TP_PLAN

    def __init__(self, config: LlamaConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        check_rotary_decoder_config(config, "autohub-llama")


class LlamaModel(RotaryDecoderModel, LlamaPreTrainedModel):
    """The bare Llama decoder: returns the final (normed) hidden states and the KV cache."""

    layer_class = LlamaDecoderLayer


class LlamaForCausalLM(DecoderForCausalLM, LlamaPreTrainedModel):
    """Llama with the language-modelling head (``lm_head``, tied to the embeddings when configured)."""

    base_model_class = LlamaModel


class LlamaForSequenceClassification(DecoderForSequenceClassification, LlamaPreTrainedModel):
    """Llama with a classification / regression head (``score``) over the last non-pad token."""

    base_model_class = LlamaModel


class LlamaForTokenClassification(DecoderForTokenClassification, LlamaPreTrainedModel):
    """Llama with a per-token classification head (``score``)."""

    base_model_class = LlamaModel


class LlamaForQuestionAnswering(DecoderForQuestionAnswering, LlamaPreTrainedModel):
    """Llama with a span-extraction head; the base model is ``transformer`` as in transformers."""

    base_model_class = LlamaModel
