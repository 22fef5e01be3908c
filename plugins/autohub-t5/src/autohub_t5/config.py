"""T5 configuration: the keys of a T5 config.json, with transformers' defaults."""

from __future__ import annotations

from typing import Any, ClassVar

from autohub_core.configuration import (
    Constraint,
    PretrainedConfig,
    Rule,
    boolean,
    integer,
    non_negative_int,
    number,
    optional,
    positive_int,
    probability,
    string,
)
from autohub_core.errors import UnsupportedConfigError


class T5Config(PretrainedConfig):
    """Configuration of a T5 model (``model_type = "t5"``), also T5 v1.1 and Flan-T5.

    ``feed_forward_proj`` is ``"<act>"`` or ``"gated-<act>"`` (``"gated-gelu"`` means
    ``gelu_new``); it sets ``dense_act_fn`` and ``is_gated_act`` unless config.json gives them.
    ``scale_decoder_outputs`` (multiply the decoder output by ``d_model ** -0.5`` before the
    LM head) defaults to ``tie_word_embeddings``, as transformers decides it.
    """

    model_type = "t5"
    attribute_map = {
        "hidden_size": "d_model",
        "num_attention_heads": "num_heads",
        "num_hidden_layers": "num_layers",
        "head_dim": "d_kv",
    }
    config_rules: ClassVar[dict[str, Rule]] = {
        "vocab_size": positive_int(),
        "d_model": positive_int(),
        "d_kv": positive_int(),
        "d_ff": positive_int(),
        "num_layers": positive_int(),
        "num_decoder_layers": optional(non_negative_int()),
        "num_heads": positive_int(),
        # Bidirectional layers split the buckets in two halves, each with exact and log-spaced buckets.
        "relative_attention_num_buckets": integer(4),
        "relative_attention_max_distance": positive_int(),
        "dropout_rate": probability(),
        "layer_norm_epsilon": number(0),
        "initializer_factor": number(0),
        "feed_forward_proj": string(),
        "use_cache": boolean(),
        "classifier_dropout": probability(),
        "scale_decoder_outputs": optional(boolean()),
        "dense_act_fn": optional(string()),
        "is_gated_act": optional(boolean()),
    }
    config_constraints = (
        Constraint(
            ("relative_attention_max_distance", "relative_attention_num_buckets"),
            "'relative_attention_max_distance' must exceed the exact buckets ('relative_attention_num_buckets' // 2)",
            lambda distance, buckets: distance > buckets // 2,
        ),
    )

    def __init__(
        self,
        vocab_size: int = 32128,
        d_model: int = 512,
        d_kv: int = 64,
        d_ff: int = 2048,
        num_layers: int = 6,
        num_decoder_layers: int | None = None,
        num_heads: int = 8,
        relative_attention_num_buckets: int = 32,
        relative_attention_max_distance: int = 128,
        dropout_rate: float = 0.1,
        layer_norm_epsilon: float = 1e-6,
        initializer_factor: float = 1.0,
        feed_forward_proj: str = "relu",
        is_encoder_decoder: bool = True,
        use_cache: bool = True,
        pad_token_id: int | None = 0,
        eos_token_id: int | None = 1,
        decoder_start_token_id: int | None = 0,
        classifier_dropout: float = 0.0,
        tie_word_embeddings: bool = True,
        scale_decoder_outputs: bool | None = None,
        dense_act_fn: str | None = None,
        is_gated_act: bool | None = None,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.d_kv = d_kv
        self.d_ff = d_ff
        self.num_layers = num_layers
        self.num_decoder_layers = num_layers if num_decoder_layers is None else num_decoder_layers
        self.num_heads = num_heads
        self.relative_attention_num_buckets = relative_attention_num_buckets
        self.relative_attention_max_distance = relative_attention_max_distance
        self.dropout_rate = dropout_rate
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_factor = initializer_factor
        self.feed_forward_proj = feed_forward_proj
        self.use_cache = use_cache
        self.classifier_dropout = classifier_dropout

        parts = feed_forward_proj.split("-") if isinstance(feed_forward_proj, str) else []
        if not all(parts) or len(parts) > 2 or (len(parts) == 2 and parts[0] != "gated"):
            raise UnsupportedConfigError(
                f"config key 'feed_forward_proj' = {feed_forward_proj!r} is not valid; use '<act>' or "
                "'gated-<act>', e.g. 'relu' or 'gated-gelu'"
            )
        default_act = "gelu_new" if feed_forward_proj == "gated-gelu" else parts[-1]
        self.dense_act_fn = default_act if dense_act_fn is None else dense_act_fn
        self.is_gated_act = parts[0] == "gated" if is_gated_act is None else is_gated_act
        self.scale_decoder_outputs = (
            tie_word_embeddings if scale_decoder_outputs is None else scale_decoder_outputs
        )
        super().__init__(
            is_encoder_decoder=is_encoder_decoder,
            pad_token_id=pad_token_id,
            eos_token_id=eos_token_id,
            decoder_start_token_id=decoder_start_token_id,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )
