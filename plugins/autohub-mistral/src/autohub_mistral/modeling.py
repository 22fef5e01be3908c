"""Mistral: Llama's architecture (pre-RMSNorm decoder, rotary GQA attention, SiLU-gated MLP)
without biases, with sliding-window attention on every layer (``sliding_window``; None: full).

Attribute names follow transformers' Mistral checkpoint keys (``model.layers.0.self_attn.q_proj.
weight`` ...), so Hub checkpoints load without renaming. The layer loop, cache, masks and heads
are the core's (:mod:`autohub_core.decoder`); this file declares Mistral's block.
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
from autohub_mistral.config import MistralConfig

__all__ = [
    "MistralForCausalLM",
    "MistralForQuestionAnswering",
    "MistralForSequenceClassification",
    "MistralForTokenClassification",
    "MistralModel",
    "MistralPreTrainedModel",
]


class MistralDecoderLayer(DecoderLayer):
    """Pre-norm residual block without biases: RMSNorm -> attention, RMSNorm -> MLP."""

    def __init__(self, config: MistralConfig, layer_index: int) -> None:
        super().__init__()
        self.self_attn = RotaryAttention(config, qkv_bias=False, output_bias=False)
        self.mlp = GatedMLP(config.hidden_size, config.intermediate_size, config.hidden_act)
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)


class MistralPreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions shared by every Mistral class.

    Tensor-parallel plan (transformers'): ``q_proj`` / ``k_proj`` / ``v_proj`` and ``gate_proj`` /
    ``up_proj`` colwise, ``o_proj`` and ``down_proj`` rowwise; embeddings and norms replicated.
    """

    config_class = MistralConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["MistralDecoderLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = DECODER_TP_PLAN

    def __init__(self, config: MistralConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        check_rotary_decoder_config(config, "autohub-mistral")


class MistralModel(RotaryDecoderModel, MistralPreTrainedModel):
    """The bare Mistral decoder: returns the final (normed) hidden states and the KV cache."""

    layer_class = MistralDecoderLayer

    def layer_types(self) -> list[str]:
        """Every layer slides over ``sliding_window`` positions, or none does when it is None."""
        layer_type = "full_attention" if self.config.sliding_window is None else "sliding_attention"
        return [layer_type] * self.config.num_hidden_layers


class MistralForCausalLM(DecoderForCausalLM, MistralPreTrainedModel):
    """Mistral with the language-modelling head (``lm_head``, tied to the embeddings when configured)."""

    base_model_class = MistralModel


class MistralForSequenceClassification(DecoderForSequenceClassification, MistralPreTrainedModel):
    """Mistral with a classification / regression head (``score``) over the last non-pad token."""

    base_model_class = MistralModel


class MistralForTokenClassification(DecoderForTokenClassification, MistralPreTrainedModel):
    """Mistral with a per-token classification head (``score``)."""

    base_model_class = MistralModel


class MistralForQuestionAnswering(DecoderForQuestionAnswering, MistralPreTrainedModel):
    """Mistral with a span-extraction head; the base model is ``model`` as in transformers."""

    base_model_class = MistralModel
    base_model_prefix = "model"
