"""Llama configuration: the keys of a Llama config.json, with transformers' defaults."""

from __future__ import annotations

from typing import Any, ClassVar

from autohub_core.configuration import (
    ROTARY_DECODER_CONSTRAINTS,
    ROTARY_DECODER_RULES,
    PretrainedConfig,
    Rule,
    boolean,
    standardize_rope_parameters,
)


class LlamaConfig(PretrainedConfig):
    """Configuration of a Llama model (``model_type = "llama"``).

    RoPE settings live in ``rope_parameters`` (transformers 5); the legacy ``rope_scaling``
    and ``rope_theta`` keys are read into it, and ``config.rope_scaling`` reads it back.
    """

    model_type = "llama"
    attribute_map = {"rope_scaling": "rope_parameters"}
    config_rules: ClassVar[dict[str, Rule]] = {
        **ROTARY_DECODER_RULES,
        "attention_bias": boolean(),
        "mlp_bias": boolean(),
    }
    config_constraints = ROTARY_DECODER_CONSTRAINTS

    def __init__(
        self,
        vocab_size: int = 32000,
        hidden_size: int = 4096,
        intermediate_size: int = 11008,
        num_hidden_layers: int = 32,
        num_attention_heads: int = 32,
        num_key_value_heads: int | None = None,
        hidden_act: str = "silu",
        max_position_embeddings: int = 2048,
        initializer_range: float = 0.02,
        rms_norm_eps: float = 1e-6,
        use_cache: bool = True,
        pad_token_id: int | None = None,
        bos_token_id: int | None = 1,
        eos_token_id: int | list[int] | None = 2,
        pretraining_tp: int | None = 1,
        tie_word_embeddings: bool = False,
        rope_parameters: dict[str, Any] | None = None,
        rope_scaling: dict[str, Any] | None = None,
        rope_theta: float = 10000.0,
        attention_bias: bool = False,
        attention_dropout: float = 0.0,
        mlp_bias: bool = False,
        head_dim: int | None = None,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_attention_heads if num_key_value_heads is None else num_key_value_heads
        self.hidden_act = hidden_act
        self.max_position_embeddings = max_position_embeddings
        self.initializer_range = initializer_range
        self.rms_norm_eps = rms_norm_eps
        self.use_cache = use_cache
        self.pretraining_tp = pretraining_tp
        self.rope_parameters = standardize_rope_parameters(
            rope_parameters, rope_scaling, rope_theta, max_position_embeddings
        )
        self.attention_bias = attention_bias
        self.attention_dropout = attention_dropout
        self.mlp_bias = mlp_bias
        self.head_dim = hidden_size // num_attention_heads if head_dim is None else head_dim
        super().__init__(
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )
