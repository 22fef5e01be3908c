"""DistilBERT configuration: the keys of a DistilBERT config.json, with transformers' defaults."""

from __future__ import annotations

from typing import Any, ClassVar

from autohub_core.configuration import (
    PretrainedConfig,
    Rule,
    boolean,
    multiple_of,
    number,
    positive_int,
    probability,
    string,
    valid_index,
)


class DistilBertConfig(PretrainedConfig):
    """Configuration of a DistilBERT model (``model_type = "distilbert"``).

    The usual names are aliases: ``hidden_size`` is ``dim``, ``num_attention_heads`` is
    ``n_heads`` and ``num_hidden_layers`` is ``n_layers``.
    """

    model_type = "distilbert"
    attribute_map: ClassVar[dict[str, str]] = {
        "hidden_size": "dim",
        "num_attention_heads": "n_heads",
        "num_hidden_layers": "n_layers",
    }
    config_rules: ClassVar[dict[str, Rule]] = {
        "vocab_size": positive_int(),
        "max_position_embeddings": positive_int(),
        "sinusoidal_pos_embds": boolean(),
        "n_layers": positive_int(),
        "n_heads": positive_int(),
        "dim": positive_int(),
        "hidden_dim": positive_int(),
        "dropout": probability(),
        "attention_dropout": probability(),
        "activation": string(),
        "initializer_range": number(0),
        "qa_dropout": probability(),
        "seq_classif_dropout": probability(),
    }
    config_constraints = (multiple_of("dim", "n_heads"), valid_index("pad_token_id", "vocab_size"))

    def __init__(
        self,
        vocab_size: int = 30522,
        max_position_embeddings: int = 512,
        sinusoidal_pos_embds: bool = False,
        n_layers: int = 6,
        n_heads: int = 12,
        dim: int = 768,
        hidden_dim: int = 4 * 768,
        dropout: float = 0.1,
        attention_dropout: float = 0.1,
        activation: str = "gelu",
        initializer_range: float = 0.02,
        qa_dropout: float = 0.1,
        seq_classif_dropout: float = 0.2,
        pad_token_id: int | None = 0,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.max_position_embeddings = max_position_embeddings
        self.sinusoidal_pos_embds = sinusoidal_pos_embds
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.dim = dim
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.activation = activation
        self.initializer_range = initializer_range
        self.qa_dropout = qa_dropout
        self.seq_classif_dropout = seq_classif_dropout
        super().__init__(pad_token_id=pad_token_id, **kwargs)
