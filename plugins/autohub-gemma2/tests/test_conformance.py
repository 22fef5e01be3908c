"""The autohub conformance kit applied to the gemma2 plugin (base model and every registered head)."""

from __future__ import annotations

from autohub_core.testing import ConformanceSuite


class TestGemma2Conformance(ConformanceSuite):
    plugin_name = "gemma2"
    model_type = "gemma2"
    config_kwargs = {
        "vocab_size": 99,
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "query_pre_attn_scalar": 16,
        "max_position_embeddings": 64,
        "sliding_window": 4,
    }
    # The 2-rank tensor-parallel run needs sizes 2 divides (config_kwargs has odd ones).
    tensor_parallel_overrides = {"intermediate_size": 36, "vocab_size": 98}
