"""Qwen2 configuration: the keys of a Qwen2 config.json, with transformers' defaults."""

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
    non_negative_int,
    optional,
    positive_int,
    standardize_rope_parameters,
    string,
)


class Qwen2Config(PretrainedConfig):
    """Configuration of a Qwen2 model (``model_type = "qwen2"``).

    RoPE settings live in ``rope_parameters`` (transformers 5); the legacy ``rope_scaling``
    and ``rope_theta`` keys are read into it. As in transformers, ``sliding_window`` is kept
    only with ``use_sliding_window``, and ``layer_types`` (default: sliding attention from
    layer ``max_window_layers`` on) says which layers use it.
    """

    model_type = "qwen2"
    attribute_map = {"rope_scaling": "rope_parameters"}
    config_rules: ClassVar[dict[str, Rule]] = {
        **ROTARY_DECODER_RULES,
        "use_sliding_window": boolean(),
        "sliding_window": optional(positive_int()),
        "max_window_layers": non_negative_int(),
        "layer_types": optional(list_of(string())),
    }
    config_constraints = (
        *ROTARY_DECODER_CONSTRAINTS,
        Constraint(
            ("layer_types", "num_hidden_layers"),
            "'layer_types' must name one attention type per layer",
            lambda layer_types, layers: len(layer_types) == layers,
        ),
    )

    def __init__(
        self,
        vocab_size: int = 151936,
        hidden_size: int = 4096,
        intermediate_size: int = 22016,
        num_hidden_layers: int = 32,
        num_attention_heads: int = 32,
        num_key_value_heads: int | None = 32,
        hidden_act: str = "silu",
        max_position_embeddings: int = 32768,
        initializer_range: float = 0.02,
        rms_norm_eps: float = 1e-6,
        use_cache: bool = True,
        tie_word_embeddings: bool = False,
        rope_parameters: dict[str, Any] | None = None,
        rope_scaling: dict[str, Any] | None = None,
        rope_theta: float = 10000.0,
        use_sliding_window: bool = False,
        sliding_window: int | None = 4096,
        max_window_layers: int = 28,
        layer_types: list[str] | None = None,
        attention_dropout: float = 0.0,
        pad_token_id: int | None = None,
        bos_token_id: int | None = None,
        eos_token_id: int | list[int] | None = None,
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
        self.rope_parameters = standardize_rope_parameters(
            rope_parameters, rope_scaling, rope_theta, max_position_embeddings
        )
        self.use_sliding_window = use_sliding_window
        self.sliding_window = sliding_window if use_sliding_window else None
        self.max_window_layers = max_window_layers
        if layer_types is None:
            layer_types = [
                "sliding_attention"
                if self.sliding_window is not None and index >= max_window_layers
                else "full_attention"
                for index in range(num_hidden_layers)
            ]
        self.layer_types = layer_types
        self.attention_dropout = attention_dropout
        self.head_dim = hidden_size // num_attention_heads if head_dim is None else head_dim
        super().__init__(
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )
