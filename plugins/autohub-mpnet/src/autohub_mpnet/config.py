"""MPNet configuration: the keys of an MPNet config.json, with transformers' defaults."""

from __future__ import annotations

from typing import Any, ClassVar

from autohub_core.configuration import ENCODER_CONSTRAINTS, ENCODER_RULES, PretrainedConfig, Rule, integer

__all__ = ["RELATIVE_ATTENTION_BUCKETS", "MPNetConfig"]

#: The buckets MPNet's relative attention uses, whatever the config says: transformers (and fairseq)
#: always compute 32 buckets, so ``relative_attention_num_buckets`` only sizes the bias table.
RELATIVE_ATTENTION_BUCKETS = 32
#: The keys of :data:`ENCODER_RULES` MPNet has no use for (no token types, cache or classifier dropout).
_UNREAD_ENCODER_KEYS = ("type_vocab_size", "use_cache", "classifier_dropout")


class MPNetConfig(PretrainedConfig):
    """Configuration of an MPNet model (``model_type = "mpnet"``).

    As in transformers, the padding index of the word and position embeddings is always 1 (the
    ``<pad>`` of MPNet's vocabulary), whatever ``pad_token_id`` says.
    """

    model_type = "mpnet"
    config_rules: ClassVar[dict[str, Rule]] = {
        **{key: rule for key, rule in ENCODER_RULES.items() if key not in _UNREAD_ENCODER_KEYS},
        # Row 1 is the padding row of both embedding tables.
        "vocab_size": integer(2),
        "max_position_embeddings": integer(2),
        "relative_attention_num_buckets": Rule(
            f"an integer >= {RELATIVE_ATTENTION_BUCKETS} (MPNet's attention always computes "
            f"{RELATIVE_ATTENTION_BUCKETS} buckets; this key only sizes their bias table)",
            integer(RELATIVE_ATTENTION_BUCKETS).accepts,
        ),
    }
    config_constraints = ENCODER_CONSTRAINTS

    def __init__(
        self,
        vocab_size: int = 30527,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.1,
        attention_probs_dropout_prob: float = 0.1,
        max_position_embeddings: int = 512,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        relative_attention_num_buckets: int = 32,
        pad_token_id: int | None = 1,
        bos_token_id: int | None = 0,
        eos_token_id: int | list[int] | None = 2,
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
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.relative_attention_num_buckets = relative_attention_num_buckets
        super().__init__(
            pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs
        )
