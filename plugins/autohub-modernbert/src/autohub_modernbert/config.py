"""ModernBERT configuration: the keys of a ModernBERT config.json, with transformers' defaults.

Two spellings of the attention pattern and the rotary settings are read, as transformers 5 reads
them: the Hub's original one (``global_attn_every_n_layers``, ``global_rope_theta``,
``local_rope_theta``, optionally a legacy ``rope_scaling``) and the one transformers 5 saves
(``layer_types``, and ``rope_parameters`` with one entry per layer type). The config always holds
the second, which is what it writes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from autohub_core.configuration import (
    Constraint,
    PretrainedConfig,
    Rule,
    boolean,
    integer,
    list_of,
    mapping,
    multiple_of,
    number,
    one_of,
    optional,
    positive_int,
    probability,
    rope_parameters,
    standardize_rope_parameters,
    string,
    valid_index,
)

#: The two kinds of layer: global attention, and local attention over a sliding window.
LAYER_TYPES = ("full_attention", "sliding_attention")
#: transformers' RoPE bases of each layer type when the config gives none.
DEFAULT_ROPE_THETA = {"full_attention": 160_000.0, "sliding_attention": 10_000.0}


class ModernBertConfig(PretrainedConfig):
    """Configuration of a ModernBERT model (``model_type = "modernbert"``).

    ``layer_types`` says which layers attend globally (``"full_attention"``) and which locally
    (``"sliding_attention"``: each token sees the tokens at most ``local_attention // 2`` positions
    away); without it, every ``global_attn_every_n_layers``-th layer (from the first) is global.
    ``rope_parameters`` holds one RoPE setting per layer type; ``global_rope_theta`` /
    ``local_rope_theta`` set their bases. ``deterministic_flash_attn`` is passed to flash_attn's
    kernels; ``reference_compile`` (a transformers 4 option) is accepted and ignored.
    """

    model_type = "modernbert"
    config_rules: ClassVar[dict[str, Rule]] = {
        "vocab_size": positive_int(),
        "hidden_size": positive_int(),
        "intermediate_size": positive_int(),
        "num_hidden_layers": positive_int(),
        "num_attention_heads": positive_int(),
        "hidden_activation": string(),
        "max_position_embeddings": positive_int(),
        "initializer_range": number(0),
        "initializer_cutoff_factor": optional(number(0, exclusive_minimum=True)),
        "norm_eps": number(0),
        "norm_bias": boolean(),
        "cls_token_id": optional(integer()),
        "attention_bias": boolean(),
        "attention_dropout": probability(),
        "layer_types": optional(list_of(one_of(*LAYER_TYPES))),
        "rope_parameters": mapping(
            {layer_type: rope_parameters() for layer_type in LAYER_TYPES}, required=LAYER_TYPES
        ),
        "global_attn_every_n_layers": positive_int(),
        "local_attention": positive_int(),
        "embedding_dropout": probability(),
        "mlp_bias": boolean(),
        "mlp_dropout": probability(),
        "decoder_bias": boolean(),
        "classifier_pooling": one_of("cls", "mean"),
        "classifier_dropout": probability(),
        "classifier_bias": boolean(),
        "classifier_activation": string(),
        "deterministic_flash_attn": boolean(),
        "sparse_prediction": boolean(),
        "sparse_pred_ignore_index": integer(),
    }
    config_constraints = (
        multiple_of("hidden_size", "num_attention_heads"),
        Constraint(
            ("hidden_size", "num_attention_heads"),
            "the head size hidden_size / num_attention_heads must be even (rotary embeddings rotate pairs)",
            lambda hidden, heads: hidden % heads or (hidden // heads) % 2 == 0,
        ),
        valid_index("pad_token_id", "vocab_size"),
        Constraint(
            ("layer_types", "num_hidden_layers"),
            "'layer_types' must name one attention type per layer",
            lambda layer_types, layers: len(layer_types) == layers,
        ),
    )

    def __init__(
        self,
        vocab_size: int = 50368,
        hidden_size: int = 768,
        intermediate_size: int = 1152,
        num_hidden_layers: int = 22,
        num_attention_heads: int = 12,
        hidden_activation: str = "gelu",
        max_position_embeddings: int = 8192,
        initializer_range: float = 0.02,
        initializer_cutoff_factor: float | None = 2.0,
        norm_eps: float = 1e-5,
        norm_bias: bool = False,
        pad_token_id: int | None = 50283,
        eos_token_id: int | list[int] | None = 50282,
        bos_token_id: int | None = 50281,
        cls_token_id: int | None = 50281,
        sep_token_id: int | None = 50282,
        attention_bias: bool = False,
        attention_dropout: float = 0.0,
        layer_types: list[str] | None = None,
        rope_parameters: dict[str, dict[str, Any]] | None = None,
        global_attn_every_n_layers: int = 3,
        local_attention: int = 128,
        embedding_dropout: float = 0.0,
        mlp_bias: bool = False,
        mlp_dropout: float = 0.0,
        decoder_bias: bool = True,
        classifier_pooling: str = "cls",
        classifier_dropout: float = 0.0,
        classifier_bias: bool = False,
        classifier_activation: str = "gelu",
        deterministic_flash_attn: bool = False,
        sparse_prediction: bool = False,
        sparse_pred_ignore_index: int = -100,
        tie_word_embeddings: bool = True,
        **kwargs: Any,
    ) -> None:
        global_rope_theta = kwargs.pop("global_rope_theta", None)
        local_rope_theta = kwargs.pop("local_rope_theta", None)
        rope_scaling = kwargs.pop("rope_scaling", None)
        kwargs.pop("reference_compile", None)  # transformers 4's torch.compile switch; not saved by 5
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.hidden_activation = hidden_activation
        self.max_position_embeddings = max_position_embeddings
        self.initializer_range = initializer_range
        self.initializer_cutoff_factor = initializer_cutoff_factor
        self.norm_eps = norm_eps
        self.norm_bias = norm_bias
        self.cls_token_id = cls_token_id
        self.attention_bias = attention_bias
        self.attention_dropout = attention_dropout
        self.global_attn_every_n_layers = global_attn_every_n_layers
        if (
            layer_types is None
            and isinstance(num_hidden_layers, int)
            and _is_positive(global_attn_every_n_layers)
        ):
            layer_types = [
                "sliding_attention" if index % global_attn_every_n_layers else "full_attention"
                for index in range(num_hidden_layers)
            ]
        self.layer_types = layer_types
        self.rope_parameters = _rope_parameters_per_layer_type(
            rope_parameters,
            rope_scaling,
            {"full_attention": global_rope_theta, "sliding_attention": local_rope_theta},
            max_position_embeddings,
        )
        self.local_attention = local_attention
        self.embedding_dropout = embedding_dropout
        self.mlp_bias = mlp_bias
        self.mlp_dropout = mlp_dropout
        self.decoder_bias = decoder_bias
        self.classifier_pooling = classifier_pooling
        self.classifier_dropout = classifier_dropout
        self.classifier_bias = classifier_bias
        self.classifier_activation = classifier_activation
        self.deterministic_flash_attn = deterministic_flash_attn
        self.sparse_prediction = sparse_prediction
        self.sparse_pred_ignore_index = sparse_pred_ignore_index
        super().__init__(
            pad_token_id=pad_token_id,
            eos_token_id=eos_token_id,
            bos_token_id=bos_token_id,
            sep_token_id=sep_token_id,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )

    @property
    def sliding_window(self) -> int:
        """How far a local-attention layer looks on each side: ``local_attention // 2`` positions."""
        return self.local_attention // 2

    @sliding_window.setter
    def sliding_window(self, value: int) -> None:
        self.local_attention = value * 2


def _is_positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _rope_parameters_per_layer_type(
    rope_parameters: Any, rope_scaling: Any, thetas: dict[str, float | None], max_position_embeddings: Any
) -> Any:
    """transformers 5's ``{"full_attention": {...}, "sliding_attention": {...}}``: a legacy
    ``rope_scaling`` updates both, ``global_rope_theta`` / ``local_rope_theta`` (else transformers'
    defaults) set the bases an entry lacks. A value of another shape is left for the rules to refuse."""
    if rope_parameters is not None and not isinstance(rope_parameters, dict):
        return rope_parameters
    merged: dict[str, Any] = {}
    for layer_type in LAYER_TYPES:
        entry = (rope_parameters or {}).get(layer_type)
        if entry is not None and not isinstance(entry, dict):
            merged[layer_type] = entry
            continue
        entry = {**(entry or {"rope_type": "default"}), **(rope_scaling or {})}
        theta = thetas[layer_type]
        entry.setdefault("rope_theta", DEFAULT_ROPE_THETA[layer_type] if theta is None else theta)
        merged[layer_type] = (
            standardize_rope_parameters(entry, None, entry["rope_theta"], max_position_embeddings)
            if isinstance(max_position_embeddings, int)
            else entry
        )
    return merged
