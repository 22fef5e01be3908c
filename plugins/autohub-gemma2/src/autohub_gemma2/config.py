"""Gemma 2 configuration: the keys of a ``gemma2`` config.json, with transformers' defaults."""

from __future__ import annotations

from typing import Any, ClassVar

from autohub_core.configuration import (
    ROTARY_DECODER_CONSTRAINTS,
    ROTARY_DECODER_RULES,
    Constraint,
    PretrainedConfig,
    Rule,
    boolean,
    list_of,
    multiple_of,
    number,
    optional,
    positive_int,
    standardize_rope_parameters,
    string,
)

__all__ = ["Gemma2Config"]

_POSITIVE = number(0, exclusive_minimum=True)


class Gemma2Config(PretrainedConfig):
    """Configuration of a Gemma 2 model (``model_type = "gemma2"``).

    ``layer_types`` says which layers attend over the last ``sliding_window`` positions and which
    globally; without it the layers alternate, sliding first, as in transformers. Attention scores
    are scaled by ``query_pre_attn_scalar ** -0.5`` and soft-capped by ``attn_logit_softcapping``,
    the LM logits by ``final_logit_softcapping`` (None: off). RoPE settings live in
    ``rope_parameters`` (transformers 5); the legacy ``rope_scaling`` and ``rope_theta`` keys are
    read into it. ``use_bidirectional_attention`` is refused when a model is built; the Hub's
    ``hidden_act`` is kept but, as in transformers, ``hidden_activation`` is the MLP's.
    """

    model_type = "gemma2"
    attribute_map = {"rope_scaling": "rope_parameters"}
    config_rules: ClassVar[dict[str, Rule]] = {
        **{key: rule for key, rule in ROTARY_DECODER_RULES.items() if key != "hidden_act"},
        "head_dim": positive_int(),
        "hidden_activation": string(),
        "attention_bias": boolean(),
        "query_pre_attn_scalar": _POSITIVE,
        "sliding_window": optional(positive_int()),
        "layer_types": optional(list_of(string())),
        "final_logit_softcapping": optional(_POSITIVE),
        "attn_logit_softcapping": optional(_POSITIVE),
        "use_bidirectional_attention": optional(boolean()),
    }
    config_constraints = (
        *ROTARY_DECODER_CONSTRAINTS,
        multiple_of("hidden_size", "num_attention_heads"),  # transformers' check, whatever head_dim is
        Constraint(
            ("layer_types", "num_hidden_layers"),
            "'layer_types' must name one attention type per layer",
            lambda layer_types, layers: len(layer_types) == layers,
        ),
    )

    def __init__(
        self,
        vocab_size: int = 256000,
        hidden_size: int = 2304,
        intermediate_size: int = 9216,
        num_hidden_layers: int = 26,
        num_attention_heads: int = 8,
        num_key_value_heads: int = 4,
        head_dim: int = 256,
        hidden_activation: str = "gelu_pytorch_tanh",
        max_position_embeddings: int = 8192,
        initializer_range: float = 0.02,
        rms_norm_eps: float = 1e-6,
        use_cache: bool = True,
        pad_token_id: int | None = 0,
        eos_token_id: int | list[int] | None = 1,
        bos_token_id: int | None = 2,
        tie_word_embeddings: bool = True,
        rope_parameters: dict[str, Any] | None = None,
        rope_scaling: dict[str, Any] | None = None,
        rope_theta: float = 10000.0,
        attention_bias: bool = False,
        attention_dropout: float = 0.0,
        query_pre_attn_scalar: float = 256,
        sliding_window: int | None = 4096,
        layer_types: list[str] | None = None,
        final_logit_softcapping: float | None = 30.0,
        attn_logit_softcapping: float | None = 50.0,
        use_bidirectional_attention: bool | None = None,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads
        self.head_dim = head_dim
        self.hidden_activation = hidden_activation
        self.max_position_embeddings = max_position_embeddings
        self.initializer_range = initializer_range
        self.rms_norm_eps = rms_norm_eps
        self.use_cache = use_cache
        self.rope_parameters = standardize_rope_parameters(
            rope_parameters, rope_scaling, rope_theta, max_position_embeddings
        )
        self.attention_bias = attention_bias
        self.attention_dropout = attention_dropout
        self.query_pre_attn_scalar = query_pre_attn_scalar
        self.sliding_window = sliding_window
        if layer_types is None and isinstance(num_hidden_layers, int):
            layer_types = [
                "sliding_attention" if (index + 1) % 2 else "full_attention"
                for index in range(num_hidden_layers)
            ]
        self.layer_types = layer_types
        self.final_logit_softcapping = final_logit_softcapping
        self.attn_logit_softcapping = attn_logit_softcapping
        self.use_bidirectional_attention = use_bidirectional_attention
        super().__init__(
            pad_token_id=pad_token_id,
            eos_token_id=eos_token_id,
            bos_token_id=bos_token_id,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )
