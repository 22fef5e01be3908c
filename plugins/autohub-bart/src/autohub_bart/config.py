"""BART configuration: the keys of a BART config.json, with transformers' defaults."""

from __future__ import annotations

from typing import Any, ClassVar

from autohub_core.configuration import (
    PretrainedConfig,
    Rule,
    boolean,
    int_or_ints,
    integer,
    multiple_of,
    non_negative_int,
    number,
    optional,
    positive_int,
    probability,
    string,
    valid_index,
)

__all__ = ["BartConfig"]


class BartConfig(PretrainedConfig):
    """Configuration of a BART model (``model_type = "bart"``), shaped like ``facebook/bart-large``
    by default.

    Every key transformers' ``BartConfig`` reads is implemented. ``forced_eos_token_id`` (and
    ``forced_bos_token_id``, as bart-large-cnn's config.json has it) are generation options the
    model's default generation config takes when the checkpoint has no generation_config.json.
    Legacy fairseq keys transformers ignores (``normalize_before``, ``add_final_layer_norm``,
    ``static_position_embeddings`` ...) are kept and written back, and ignored as there. Without
    ``id2label`` there are 3 labels, as in transformers.
    """

    model_type = "bart"
    attribute_map = {
        "num_attention_heads": "encoder_attention_heads",
        "hidden_size": "d_model",
        "num_hidden_layers": "encoder_layers",
        "initializer_range": "init_std",
    }
    config_rules: ClassVar[dict[str, Rule]] = {
        "vocab_size": positive_int(),
        "max_position_embeddings": positive_int(),
        "encoder_layers": non_negative_int(),
        "encoder_ffn_dim": positive_int(),
        "encoder_attention_heads": positive_int(),
        "decoder_layers": non_negative_int(),
        "decoder_ffn_dim": positive_int(),
        "decoder_attention_heads": positive_int(),
        "encoder_layerdrop": probability(),
        "decoder_layerdrop": probability(),
        "activation_function": string(),
        "d_model": positive_int(),
        "dropout": probability(),
        "attention_dropout": probability(),
        "activation_dropout": probability(),
        "init_std": number(0),
        "classifier_dropout": probability(),
        "scale_embedding": boolean(),
        "use_cache": boolean(),
        "forced_bos_token_id": optional(integer(0)),
        "forced_eos_token_id": optional(int_or_ints(0)),
    }
    config_constraints = (
        multiple_of("d_model", "encoder_attention_heads"),
        multiple_of("d_model", "decoder_attention_heads"),
        valid_index("pad_token_id", "vocab_size"),
    )

    def __init__(
        self,
        vocab_size: int = 50265,
        max_position_embeddings: int = 1024,
        encoder_layers: int = 12,
        encoder_ffn_dim: int = 4096,
        encoder_attention_heads: int = 16,
        decoder_layers: int = 12,
        decoder_ffn_dim: int = 4096,
        decoder_attention_heads: int = 16,
        encoder_layerdrop: float = 0.0,
        decoder_layerdrop: float = 0.0,
        activation_function: str = "gelu",
        d_model: int = 1024,
        dropout: float = 0.1,
        attention_dropout: float = 0.0,
        activation_dropout: float = 0.0,
        init_std: float = 0.02,
        classifier_dropout: float = 0.0,
        scale_embedding: bool = False,
        use_cache: bool = True,
        pad_token_id: int | None = 1,
        bos_token_id: int | None = 0,
        eos_token_id: int | list[int] | None = 2,
        is_encoder_decoder: bool = True,
        decoder_start_token_id: int | None = 2,
        forced_eos_token_id: int | list[int] | None = 2,
        tie_word_embeddings: bool = True,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.max_position_embeddings = max_position_embeddings
        self.d_model = d_model
        self.encoder_ffn_dim = encoder_ffn_dim
        self.encoder_layers = encoder_layers
        self.encoder_attention_heads = encoder_attention_heads
        self.decoder_ffn_dim = decoder_ffn_dim
        self.decoder_layers = decoder_layers
        self.decoder_attention_heads = decoder_attention_heads
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.activation_dropout = activation_dropout
        self.activation_function = activation_function
        self.init_std = init_std
        self.encoder_layerdrop = encoder_layerdrop
        self.decoder_layerdrop = decoder_layerdrop
        self.classifier_dropout = classifier_dropout
        self.use_cache = use_cache
        self.scale_embedding = scale_embedding
        self.forced_eos_token_id = forced_eos_token_id
        if "id2label" not in kwargs:
            kwargs.setdefault("num_labels", 3)
        super().__init__(
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            is_encoder_decoder=is_encoder_decoder,
            decoder_start_token_id=decoder_start_token_id,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )
