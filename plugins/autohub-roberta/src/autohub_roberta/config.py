"""RoBERTa and XLM-RoBERTa configurations: the keys of their config.json, with transformers' defaults."""

from __future__ import annotations

from typing import Any, ClassVar

from autohub_core.configuration import (
    ENCODER_CONSTRAINTS,
    ENCODER_RULES,
    PretrainedConfig,
    Rule,
    integer,
    one_of,
)

__all__ = ["POSITION_EMBEDDING_TYPES", "RobertaConfig", "XLMRobertaConfig"]

#: The position embeddings autohub-roberta implements (absent from config.json: ``"absolute"``).
POSITION_EMBEDDING_TYPES = ("absolute", "relative_key", "relative_key_query")


class RobertaConfig(PretrainedConfig):
    """Configuration of a RoBERTa model (``model_type = "roberta"``)."""

    model_type = "roberta"
    config_rules: ClassVar[dict[str, Rule]] = {
        **ENCODER_RULES,
        "position_embedding_type": one_of(*POSITION_EMBEDDING_TYPES, unsupported=True),
        # Position ids start after the padding id (fairseq), so it must be set.
        "pad_token_id": integer(),
    }
    config_constraints = ENCODER_CONSTRAINTS

    def __init__(
        self,
        vocab_size: int = 50265,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.1,
        attention_probs_dropout_prob: float = 0.1,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        pad_token_id: int | None = 1,
        bos_token_id: int | None = 0,
        eos_token_id: int | None = 2,
        use_cache: bool = True,
        classifier_dropout: float | None = None,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
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
        self.use_cache = use_cache
        self.classifier_dropout = classifier_dropout
        super().__init__(
            pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs
        )


class XLMRobertaConfig(RobertaConfig):
    """Configuration of an XLM-RoBERTa model (``model_type = "xlm-roberta"``): RoBERTa's keys."""

    model_type = "xlm-roberta"

    def __init__(self, vocab_size: int = 30522, **kwargs: Any) -> None:
        super().__init__(vocab_size=vocab_size, **kwargs)
