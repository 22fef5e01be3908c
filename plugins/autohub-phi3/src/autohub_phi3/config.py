"""Phi-3 configuration: the keys of a Phi-3 config.json, with transformers' defaults."""

from __future__ import annotations

from typing import Any, ClassVar

from autohub_core.configuration import (
    ROTARY_DECODER_CONSTRAINTS,
    ROTARY_DECODER_RULES,
    PretrainedConfig,
    Rule,
    number,
    optional,
    positive_int,
    probability,
    standardize_rope_parameters,
)

#: The rope types Phi-3 reads its ``rope_scaling`` ``type`` as: LongRoPE's older names.
LEGACY_LONGROPE_NAMES = ("su", "yarn")


class Phi3Config(PretrainedConfig):
    """Configuration of a Phi-3 model (``model_type = "phi3"``; Phi-3, Phi-3.5 and Phi-4-mini).

    RoPE settings live in ``rope_parameters`` (transformers 5); the legacy ``rope_scaling`` and
    ``rope_theta`` keys are read into it, its type ``su`` or ``yarn`` means ``longrope`` (as
    transformers reads Phi-3), a top-level ``partial_rotary_factor`` is its default rotated share
    of each head, and ``original_max_position_embeddings`` (the pre-training length, which picks
    LongRoPE's short or long factors) overrides the one inside it. ``sliding_window`` (None: off)
    applies to every layer. ``embd_pdrop`` is kept for round trips; transformers' Phi-3 does not
    use it either.
    """

    model_type = "phi3"
    attribute_map = {"rope_scaling": "rope_parameters"}
    config_rules: ClassVar[dict[str, Rule]] = {
        **ROTARY_DECODER_RULES,
        "resid_pdrop": probability(),
        "embd_pdrop": probability(),
        "original_max_position_embeddings": positive_int(),
        "partial_rotary_factor": optional(number(0, 1, exclusive_minimum=True)),
        "sliding_window": optional(positive_int()),
    }
    config_constraints = ROTARY_DECODER_CONSTRAINTS

    def __init__(
        self,
        vocab_size: int = 32064,
        hidden_size: int = 3072,
        intermediate_size: int = 8192,
        num_hidden_layers: int = 32,
        num_attention_heads: int = 32,
        num_key_value_heads: int | None = None,
        resid_pdrop: float = 0.0,
        embd_pdrop: float = 0.0,
        attention_dropout: float = 0.0,
        hidden_act: str = "silu",
        max_position_embeddings: int = 4096,
        original_max_position_embeddings: int = 4096,
        initializer_range: float = 0.02,
        rms_norm_eps: float = 1e-5,
        use_cache: bool = True,
        tie_word_embeddings: bool = False,
        rope_parameters: dict[str, Any] | None = None,
        rope_scaling: dict[str, Any] | None = None,
        rope_theta: float = 10000.0,
        bos_token_id: int | None = 1,
        eos_token_id: int | list[int] | None = 32000,
        pad_token_id: int | None = 32000,
        sliding_window: int | None = None,
        head_dim: int | None = None,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_attention_heads if num_key_value_heads is None else num_key_value_heads
        self.resid_pdrop = resid_pdrop
        self.embd_pdrop = embd_pdrop
        self.attention_dropout = attention_dropout
        self.hidden_act = hidden_act
        self.max_position_embeddings = max_position_embeddings
        self.original_max_position_embeddings = original_max_position_embeddings
        self.initializer_range = initializer_range
        self.rms_norm_eps = rms_norm_eps
        self.use_cache = use_cache
        rope = dict(rope_scaling or rope_parameters or {})
        if rope.get("rope_type", rope.get("type")) in LEGACY_LONGROPE_NAMES:
            rope["rope_type"] = "longrope"
        self.rope_parameters = standardize_rope_parameters(
            rope,
            None,
            rope_theta,
            max_position_embeddings,
            partial_rotary_factor=kwargs.get("partial_rotary_factor", 1.0),
            original_max_position_embeddings=original_max_position_embeddings,
        )
        self.sliding_window = sliding_window
        self.head_dim = hidden_size // num_attention_heads if head_dim is None else head_dim
        super().__init__(
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )
