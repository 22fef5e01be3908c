"""Qwen2: Llama's architecture (pre-RMSNorm decoder, rotary GQA attention, SiLU-gated MLP) with
biased query/key/value projections and sliding-window attention on the layers ``layer_types`` names.

Attribute names follow transformers' Qwen2 checkpoint keys (``model.layers.0.self_attn.q_proj.
weight`` ...), so Hub checkpoints load without renaming. The layer loop, cache, masks and heads
are the core's (:mod:`autohub_core.decoder`); this file declares Qwen2's block.
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
from autohub_qwen2.config import Qwen2Config

__all__ = [
    "Qwen2ForCausalLM",
    "Qwen2ForQuestionAnswering",
    "Qwen2ForSequenceClassification",
    "Qwen2ForTokenClassification",
    "Qwen2Model",
    "Qwen2PreTrainedModel",
]


class Qwen2DecoderLayer(DecoderLayer):
    """Pre-norm residual block: RMSNorm -> attention (biased query/key/value, unbiased output),
    RMSNorm -> MLP."""

    def __init__(self, config: Qwen2Config, layer_index: int) -> None:
        super().__init__()
        self.self_attn = RotaryAttention(config, qkv_bias=True, output_bias=False)
        self.mlp = GatedMLP(config.hidden_size, config.intermediate_size, config.hidden_act)
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)


class Qwen2PreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions shared by every Qwen2 class.

    Tensor-parallel plan (transformers'): ``q_proj`` / ``k_proj`` / ``v_proj`` and ``gate_proj`` /
    ``up_proj`` colwise, ``o_proj`` and ``down_proj`` rowwise; embeddings and norms replicated.
    """

    config_class = Qwen2Config
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["Qwen2DecoderLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = DECODER_TP_PLAN

    def __init__(self, config: Qwen2Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        check_rotary_decoder_config(config, "autohub-qwen2")
        check_layer_types(config, "autohub-qwen2")


class Qwen2Model(RotaryDecoderModel, Qwen2PreTrainedModel):
    """The bare Qwen2 decoder: returns the final (normed) hidden states and the KV cache."""

    layer_class = Qwen2DecoderLayer


class Qwen2ForCausalLM(DecoderForCausalLM, Qwen2PreTrainedModel):
    """Qwen2 with the language-modelling head (``lm_head``, tied to the embeddings when configured)."""

    base_model_class = Qwen2Model


class Qwen2ForSequenceClassification(DecoderForSequenceClassification, Qwen2PreTrainedModel):
    """Qwen2 with a classification / regression head (``score``) over the last non-pad token."""

    base_model_class = Qwen2Model


class Qwen2ForTokenClassification(DecoderForTokenClassification, Qwen2PreTrainedModel):
    """Qwen2 with a per-token classification head (``score``)."""

    base_model_class = Qwen2Model


class Qwen2ForQuestionAnswering(DecoderForQuestionAnswering, Qwen2PreTrainedModel):
    """Qwen2 with a span-extraction head; the base model is ``transformer`` as in transformers."""

    base_model_class = Qwen2Model
