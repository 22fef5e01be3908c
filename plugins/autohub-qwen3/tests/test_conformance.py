"""The autohub conformance kit applied to the qwen3 plugin (base model and every registered head)."""

from __future__ import annotations

from autohub_core.testing import ConformanceSuite


class TestQwen3Conformance(ConformanceSuite):
    plugin_name = "qwen3"
    model_type = "qwen3"
    config_kwargs = {
        "vocab_size": 99,
        "pad_token_id": 0,  # sequence classification of a padded batch needs it (as in transformers)
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,  # independent of hidden_size / num_attention_heads, as in Qwen3 (default 128)
        "max_position_embeddings": 64,
    }
    # The 2-rank tensor-parallel run needs sizes 2 divides (config_kwargs has odd ones).
    tensor_parallel_overrides = {"intermediate_size": 36, "vocab_size": 98}
