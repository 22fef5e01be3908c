"""Gemma 3 text configuration: the keys of a ``gemma3_text`` config.json, with transformers' defaults.

Two spellings of the attention pattern and the rotary settings are read, as transformers 5 reads
them: the Hub's original one (``sliding_window_pattern``, ``rope_theta`` for the global layers,
``rope_local_base_freq`` for the sliding ones, a legacy ``rope_scaling`` for the global layers
only) and the one transformers 5 saves (``layer_types``, and ``rope_parameters`` with one entry
per layer type). The config always holds the second, which is what it writes.
"""

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
    mapping,
    multiple_of,
    number,
    optional,
    positive_int,
    rope_parameters,
    standardize_rope_parameters,
    string,
)
from autohub_core.errors import UnsupportedConfigError

__all__ = ["DEFAULT_ROPE_THETA", "LAYER_TYPES", "Gemma3Config", "Gemma3TextConfig"]

#: The two kinds of layer: global attention, and local attention over a sliding window.
LAYER_TYPES = ("full_attention", "sliding_attention")
#: transformers' RoPE bases of each layer type when the config gives none.
DEFAULT_ROPE_THETA = {"full_attention": 1_000_000.0, "sliding_attention": 10_000.0}
_POSITIVE = number(0, exclusive_minimum=True)


class Gemma3TextConfig(PretrainedConfig):
    """Configuration of a Gemma 3 text model (``model_type = "gemma3_text"``).

    ``layer_types`` says which layers attend globally and which over the last ``sliding_window``
    positions; without it every ``sliding_window_pattern``-th layer (default 6) is global, the
    others sliding. ``rope_parameters`` holds one RoPE setting per layer type. Attention scores are
    scaled by ``query_pre_attn_scalar ** -0.5``; ``final_logit_softcapping`` caps the LM logits.
    ``attn_logit_softcapping`` is kept but, as in transformers' Gemma 3 (whose q/k norms replaced
    it), not applied. ``use_bidirectional_attention`` (EmbeddingGemma) is refused when a model is
    built.
    """

    model_type = "gemma3_text"
    config_rules: ClassVar[dict[str, Rule]] = {
        **{
            key: rule
            for key, rule in ROTARY_DECODER_RULES.items()
            if key not in ("hidden_act", "rope_parameters")
        },
        "num_key_value_heads": positive_int(),
        "head_dim": positive_int(),
        "hidden_activation": string(),
        "rope_parameters": mapping(
            {layer_type: rope_parameters() for layer_type in LAYER_TYPES}, required=LAYER_TYPES
        ),
        "rope_scaling": rope_parameters(),
        "rope_local_base_freq": _POSITIVE,
        "attention_bias": boolean(),
        "query_pre_attn_scalar": _POSITIVE,
        "sliding_window": optional(positive_int()),
        "sliding_window_pattern": positive_int(),
        "layer_types": optional(list_of(string())),
        "final_logit_softcapping": optional(_POSITIVE),
        "attn_logit_softcapping": optional(_POSITIVE),
        "use_bidirectional_attention": optional(boolean()),
    }
    config_constraints = (
        *ROTARY_DECODER_CONSTRAINTS,
        multiple_of("hidden_size", "num_attention_heads"),
        Constraint(
            ("layer_types", "num_hidden_layers"),
            "'layer_types' must name one attention type per layer",
            lambda layer_types, layers: len(layer_types) == layers,
        ),
    )

    def __init__(
        self,
        vocab_size: int = 262_208,
        hidden_size: int = 2304,
        intermediate_size: int = 9216,
        num_hidden_layers: int = 26,
        num_attention_heads: int = 8,
        num_key_value_heads: int = 4,
        head_dim: int = 256,
        hidden_activation: str = "gelu_pytorch_tanh",
        max_position_embeddings: int = 131_072,
        initializer_range: float = 0.02,
        rms_norm_eps: float = 1e-6,
        use_cache: bool = True,
        pad_token_id: int | None = 0,
        eos_token_id: int | list[int] | None = 1,
        bos_token_id: int | None = 2,
        tie_word_embeddings: bool = True,
        rope_parameters: dict[str, Any] | None = None,
        attention_bias: bool = False,
        attention_dropout: float = 0.0,
        query_pre_attn_scalar: float = 256,
        sliding_window: int | None = 4096,
        layer_types: list[str] | None = None,
        final_logit_softcapping: float | None = None,
        attn_logit_softcapping: float | None = None,
        use_bidirectional_attention: bool | None = False,
        **kwargs: Any,
    ) -> None:
        rope_scaling = kwargs.pop("rope_scaling", None)
        thetas = {
            "full_attention": kwargs.pop("rope_theta", DEFAULT_ROPE_THETA["full_attention"]),
            "sliding_attention": kwargs.pop("rope_local_base_freq", DEFAULT_ROPE_THETA["sliding_attention"]),
        }
        pattern = kwargs.get("sliding_window_pattern", 6)  # kept (and written back), as transformers does
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
        self.attention_bias = attention_bias
        self.attention_dropout = attention_dropout
        self.query_pre_attn_scalar = query_pre_attn_scalar
        self.sliding_window = sliding_window
        if layer_types is None and isinstance(num_hidden_layers, int):
            layer_types = [
                "sliding_attention" if (index + 1) % pattern else "full_attention"
                for index in range(num_hidden_layers)
            ]
        self.layer_types = layer_types
        self.rope_parameters = _rope_parameters_per_layer_type(
            rope_parameters, rope_scaling, thetas, max_position_embeddings
        )
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


def _rope_parameters_per_layer_type(
    rope_parameters: Any, rope_scaling: Any, thetas: dict[str, Any], max_position_embeddings: Any
) -> Any:
    """transformers 5's ``{"full_attention": {...}, "sliding_attention": {...}}``: a missing entry is
    the default RoPE, a legacy ``rope_scaling`` updates the global entry only, ``thetas`` set the
    bases an entry lacks. Other keys and values of another shape are kept for the rules (and the
    model) to refuse."""
    if rope_parameters is not None and not isinstance(rope_parameters, dict):
        return rope_parameters
    merged = dict(rope_parameters or {})
    for layer_type in LAYER_TYPES:
        entry = merged.get(layer_type) or {"rope_type": "default"}
        if not isinstance(entry, dict):
            continue
        entry = dict(entry)
        if layer_type == "full_attention" and isinstance(rope_scaling, dict):
            entry.update(rope_scaling)
        entry.setdefault("rope_theta", thetas[layer_type])
        if isinstance(max_position_embeddings, int):
            entry = standardize_rope_parameters(entry, None, entry["rope_theta"], max_position_embeddings)
        merged[layer_type] = entry
    return merged


class Gemma3Config(PretrainedConfig):
    """``model_type = "gemma3"``, the multimodal Gemma 3 (a SigLIP vision tower and the text model,
    transformers' ``Gemma3ForConditionalGeneration``): refused with a message saying what is
    supported, rather than "no plugin provides model_type 'gemma3'"."""

    model_type = "gemma3"

    def __init__(self, **kwargs: Any) -> None:
        raise UnsupportedConfigError(
            "model_type 'gemma3' (Gemma 3 with its SigLIP vision tower, Gemma3ForConditionalGeneration) is "
            "not supported by autohub-gemma3: only the text model is, model_type 'gemma3_text' "
            "(Gemma3ForCausalLM checkpoints such as google/gemma-3-1b-it)"
        )
