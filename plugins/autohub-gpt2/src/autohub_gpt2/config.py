"""GPT-2 configuration: the keys of a GPT-2 config.json, with transformers' defaults."""

from __future__ import annotations

from typing import Any, ClassVar

from autohub_core.configuration import (
    PretrainedConfig,
    Rule,
    boolean,
    multiple_of,
    number,
    optional,
    positive_int,
    probability,
    string,
)


class GPT2Config(PretrainedConfig):
    """Configuration of a GPT-2 model (``model_type = "gpt2"``).

    ``n_inner=None`` means ``4 * n_embd``. The ``summary_*`` keys configure transformers'
    ``GPT2DoubleHeadsModel`` only; they are kept so a config round-trips, no autohub head reads them.
    """

    model_type = "gpt2"
    attribute_map: ClassVar[dict[str, str]] = {
        "hidden_size": "n_embd",
        "max_position_embeddings": "n_positions",
        "num_attention_heads": "n_head",
        "num_hidden_layers": "n_layer",
    }
    config_rules: ClassVar[dict[str, Rule]] = {
        "vocab_size": positive_int(),
        "n_positions": positive_int(),
        "n_embd": positive_int(),
        "n_layer": positive_int(),
        "n_head": positive_int(),
        "n_inner": optional(positive_int()),
        "activation_function": string(),
        "resid_pdrop": probability(),
        "embd_pdrop": probability(),
        "attn_pdrop": probability(),
        "layer_norm_epsilon": number(0),
        "initializer_range": number(0),
        "scale_attn_weights": boolean(),
        "use_cache": boolean(),
        "scale_attn_by_inverse_layer_idx": boolean(),
        "reorder_and_upcast_attn": boolean(),
    }
    config_constraints = (multiple_of("n_embd", "n_head"),)

    def __init__(
        self,
        vocab_size: int = 50257,
        n_positions: int = 1024,
        n_embd: int = 768,
        n_layer: int = 12,
        n_head: int = 12,
        n_inner: int | None = None,
        activation_function: str = "gelu_new",
        resid_pdrop: float = 0.1,
        embd_pdrop: float = 0.1,
        attn_pdrop: float = 0.1,
        layer_norm_epsilon: float = 1e-5,
        initializer_range: float = 0.02,
        summary_type: str = "cls_index",
        summary_use_proj: bool = True,
        summary_activation: str | None = None,
        summary_proj_to_labels: bool = True,
        summary_first_dropout: float = 0.1,
        scale_attn_weights: bool = True,
        use_cache: bool = True,
        bos_token_id: int | None = 50256,
        eos_token_id: int | list[int] | None = 50256,
        scale_attn_by_inverse_layer_idx: bool = False,
        reorder_and_upcast_attn: bool = False,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.n_positions = n_positions
        self.n_embd = n_embd
        self.n_layer = n_layer
        self.n_head = n_head
        self.n_inner = n_inner
        self.activation_function = activation_function
        self.resid_pdrop = resid_pdrop
        self.embd_pdrop = embd_pdrop
        self.attn_pdrop = attn_pdrop
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.summary_type = summary_type
        self.summary_use_proj = summary_use_proj
        self.summary_activation = summary_activation
        self.summary_proj_to_labels = summary_proj_to_labels
        self.summary_first_dropout = summary_first_dropout
        self.scale_attn_weights = scale_attn_weights
        self.use_cache = use_cache
        self.scale_attn_by_inverse_layer_idx = scale_attn_by_inverse_layer_idx
        self.reorder_and_upcast_attn = reorder_and_upcast_attn
        super().__init__(bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)
