"""ALBERT configuration: the keys of an ALBERT config.json, with transformers' defaults."""

from __future__ import annotations

from typing import Any, ClassVar

from autohub_core.configuration import (
    ENCODER_CONSTRAINTS,
    ENCODER_RULES,
    PretrainedConfig,
    Rule,
    one_of,
    positive_int,
    probability,
)


class AlbertConfig(PretrainedConfig):
    """Configuration of an ALBERT model (``model_type = "albert"``).

    ALBERT factorises the embeddings (``embedding_size``, projected to ``hidden_size``) and shares
    parameters across layers: the ``num_hidden_layers`` layers use ``num_hidden_groups`` groups of
    weights, each group a stack of ``inner_group_num`` layers. ``position_embedding_type`` is
    transformers 4's key (transformers 5 neither reads nor writes it); autohub implements
    ``"absolute"`` and refuses the relative types with an ``UnsupportedConfigError``.
    """

    model_type = "albert"
    config_rules: ClassVar[dict[str, Rule]] = {
        **ENCODER_RULES,
        "embedding_size": positive_int(),
        "num_hidden_groups": positive_int(),
        "inner_group_num": positive_int(),
        "classifier_dropout_prob": probability(),
        "position_embedding_type": one_of("absolute", unsupported=True),
    }
    config_constraints = ENCODER_CONSTRAINTS

    def __init__(
        self,
        vocab_size: int = 30000,
        embedding_size: int = 128,
        hidden_size: int = 4096,
        num_hidden_layers: int = 12,
        num_hidden_groups: int = 1,
        num_attention_heads: int = 64,
        intermediate_size: int = 16384,
        inner_group_num: int = 1,
        hidden_act: str = "gelu_new",
        hidden_dropout_prob: float = 0.0,
        attention_probs_dropout_prob: float = 0.0,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        classifier_dropout_prob: float = 0.1,
        pad_token_id: int | None = 0,
        bos_token_id: int | None = 2,
        eos_token_id: int | list[int] | None = 3,
        position_embedding_type: str = "absolute",
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_hidden_groups = num_hidden_groups
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.inner_group_num = inner_group_num
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.classifier_dropout_prob = classifier_dropout_prob
        self.position_embedding_type = position_embedding_type
        super().__init__(
            pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs
        )
