"""ELECTRA configuration: the keys of an ELECTRA config.json, with transformers' defaults."""

from __future__ import annotations

from typing import Any, ClassVar

from autohub_core.configuration import (
    ENCODER_CONSTRAINTS,
    ENCODER_RULES,
    PretrainedConfig,
    Rule,
    boolean,
    one_of,
    optional,
    positive_int,
    probability,
    string,
)

#: The position embeddings autohub-electra implements (transformers 4's; transformers 5 reads only "absolute").
POSITION_EMBEDDING_TYPES = ("absolute", "relative_key", "relative_key_query")
#: The sequence summaries of the multiple-choice head; transformers also accepts "attn" but does not implement it.
SUMMARY_TYPES = ("first", "last", "mean", "cls_index")


class ElectraConfig(PretrainedConfig):
    """Configuration of an ELECTRA model (``model_type = "electra"``), discriminator or generator.

    ``embedding_size`` may differ from ``hidden_size`` (the embeddings are then projected by
    ``embeddings_project``); the ``summary_*`` keys shape the multiple-choice head's sequence summary
    (``summary_proj_to_labels`` and ``summary_first_dropout`` are read when present, as transformers does).
    """

    model_type = "electra"
    config_rules: ClassVar[dict[str, Rule]] = {
        **ENCODER_RULES,
        "embedding_size": positive_int(),
        "position_embedding_type": one_of(*POSITION_EMBEDDING_TYPES, unsupported=True),
        "summary_type": one_of(*SUMMARY_TYPES, unsupported=True),
        "summary_use_proj": boolean(),
        "summary_proj_to_labels": boolean(),
        "summary_activation": optional(string()),
        "summary_first_dropout": probability(),
        "summary_last_dropout": probability(),
    }
    config_constraints = ENCODER_CONSTRAINTS

    def __init__(
        self,
        vocab_size: int = 30522,
        embedding_size: int = 128,
        hidden_size: int = 256,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 4,
        intermediate_size: int = 1024,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.1,
        attention_probs_dropout_prob: float = 0.1,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        summary_type: str = "first",
        summary_use_proj: bool = True,
        summary_activation: str | None = "gelu",
        summary_last_dropout: float = 0.1,
        pad_token_id: int | None = 0,
        position_embedding_type: str = "absolute",
        use_cache: bool = True,
        classifier_dropout: float | None = None,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.summary_type = summary_type
        self.summary_use_proj = summary_use_proj
        self.summary_activation = summary_activation
        self.summary_last_dropout = summary_last_dropout
        self.position_embedding_type = position_embedding_type
        self.use_cache = use_cache
        self.classifier_dropout = classifier_dropout
        super().__init__(pad_token_id=pad_token_id, **kwargs)
