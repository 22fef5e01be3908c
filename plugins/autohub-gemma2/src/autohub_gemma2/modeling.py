"""Gemma 2: a rotary GQA decoder whose token embeddings are scaled by ``sqrt(hidden_size)``, with
``1 + weight`` RMSNorms before and after both attention and the GELU-tanh gated MLP, attention
scores scaled by ``query_pre_attn_scalar ** -0.5`` and soft-capped (``attn_logit_softcapping``),
LM logits soft-capped (``final_logit_softcapping``), and sliding-window and global layers as
``layer_types`` says (alternating by default).

Attribute names follow transformers' Gemma 2 checkpoint keys (``model.layers.0.
pre_feedforward_layernorm.weight`` ...), so Hub checkpoints load without renaming. The layer
loop, cache, masks and heads are the core's (:mod:`autohub_core.decoder`); this file declares
Gemma 2's block. Soft-capping needs the scores, so attention is ``"eager"`` by default and sdpa
is refused, as in transformers.
"""

from __future__ import annotations

from typing import Any, ClassVar

from autohub_core.decoder import (
    DecoderForCausalLM,
    DecoderForSequenceClassification,
    DecoderForTokenClassification,
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
    UnitOffsetRMSNorm,
)
from autohub_gemma2.config import Gemma2Config

__all__ = [
    "Gemma2DecoderLayer",
    "Gemma2ForCausalLM",
    "Gemma2ForSequenceClassification",
    "Gemma2ForTokenClassification",
    "Gemma2Model",
    "Gemma2PreTrainedModel",
    "ScaledWordEmbedding",
]

_DISTRIBUTION = "autohub-gemma2"


def _check_supported(config: Gemma2Config) -> None:
    """What Gemma2Config's value rules (checked when the model is built) do not say."""
    rope = config.rope_parameters
    supported = [name for name in SUPPORTED_ROPE_TYPES if name != "longrope"]
    if rope.get("rope_type") not in supported or rope.get("partial_rotary_factor", 1.0) != 1.0:
        raise UnsupportedConfigError(
            f"config key 'rope_parameters' (rope_type {rope.get('rope_type')!r}, partial_rotary_factor "
            f"{rope.get('partial_rotary_factor', 1.0)}) is not supported by {_DISTRIBUTION}; supported rope "
            f"types: {supported}, rotating all of head_dim"
        )
    if config.use_bidirectional_attention:
        raise UnsupportedConfigError(
            f"config key 'use_bidirectional_attention' = True is not supported by {_DISTRIBUTION}: it "
            "builds causal decoders only"
        )
    get_activation(config.hidden_activation, "hidden_activation")
    check_layer_types(config, _DISTRIBUTION)


class Gemma2DecoderLayer(SandwichNormDecoderLayer):
    """``h + post_attention_layernorm(self_attn(input_layernorm(h)))``, then
    ``h + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(h)))``; the attention scales its
    scores by ``query_pre_attn_scalar ** -0.5`` and soft-caps them by ``attn_logit_softcapping``."""

    def __init__(self, config: Gemma2Config, layer_index: int) -> None:
        super().__init__()
        self.self_attn = RotaryAttention(
            config, qkv_bias=config.attention_bias, output_bias=config.attention_bias
        )
        self.self_attn.scaling = config.query_pre_attn_scalar**-0.5
        self.self_attn.logit_softcapping = config.attn_logit_softcapping
        self.mlp = GatedMLP(config.hidden_size, config.intermediate_size, config.hidden_activation)
        self.input_layernorm = UnitOffsetRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = UnitOffsetRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.pre_feedforward_layernorm = UnitOffsetRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_feedforward_layernorm = UnitOffsetRMSNorm(config.hidden_size, eps=config.rms_norm_eps)


class Gemma2PreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions shared by every Gemma 2 class.

    ``"eager"`` attention by default; sdpa is refused (it cannot soft-cap), as in transformers.
    Tensor-parallel plan (transformers'): ``q_proj`` / ``k_proj`` / ``v_proj`` and ``gate_proj`` /
    ``up_proj`` colwise, ``o_proj`` and ``down_proj`` rowwise; embeddings and norms replicated.
    """

    config_class = Gemma2Config
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _supports_sdpa = False
    _no_split_modules = ["Gemma2DecoderLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = DECODER_TP_PLAN

    def __init__(self, config: Gemma2Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        _check_supported(config)


class Gemma2Model(RotaryDecoderModel, Gemma2PreTrainedModel):
    """The bare Gemma 2 decoder: returns the final (normed) hidden states and the KV cache."""

    layer_class = Gemma2DecoderLayer
    norm_class = UnitOffsetRMSNorm
    embedding_class = ScaledWordEmbedding


class Gemma2ForCausalLM(DecoderForCausalLM, Gemma2PreTrainedModel):
    """Gemma 2 with the language-modelling head (``lm_head``, tied to the embeddings by default),
    logits soft-capped by ``final_logit_softcapping`` when set."""

    base_model_class = Gemma2Model


class Gemma2ForSequenceClassification(DecoderForSequenceClassification, Gemma2PreTrainedModel):
    """Gemma 2 with a classification / regression head (``score``) over the last non-pad token."""

    base_model_class = Gemma2Model


class Gemma2ForTokenClassification(DecoderForTokenClassification, Gemma2PreTrainedModel):
    """Gemma 2 with a per-token classification head (``score``)."""

    base_model_class = Gemma2Model
