"""The autohub conformance kit applied to the phi3 plugin (base model and every registered head),
on a Phi-3.5-mini-shaped config: LongRoPE, partial rotary, a sliding window."""

from __future__ import annotations

from autohub_core.testing import ConformanceSuite


class TestPhi3Conformance(ConformanceSuite):
    plugin_name = "phi3"
    model_type = "phi3"
    config_kwargs = {
        "vocab_size": 99,
        "pad_token_id": 0,  # sequence classification of a padded batch needs it (as in transformers)
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 64,
        "original_max_position_embeddings": 16,
        "sliding_window": 5,
        "rope_parameters": {
            "rope_type": "longrope",
            "partial_rotary_factor": 0.5,
            "short_factor": [1.0, 1.5],
            "long_factor": [3.0, 4.0],
        },
    }
    # The 2-rank tensor-parallel run needs sizes 2 divides (config_kwargs has odd ones).
    tensor_parallel_overrides = {"intermediate_size": 36, "vocab_size": 98}
