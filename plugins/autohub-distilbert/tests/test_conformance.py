"""The autohub conformance kit applied to the distilbert plugin (base model and every registered head)."""

from __future__ import annotations

from autohub_core.testing import ConformanceSuite


class TestDistilBertConformance(ConformanceSuite):
    plugin_name = "distilbert"
    model_type = "distilbert"
    config_kwargs = {
        "vocab_size": 99,
        "dim": 32,
        "n_layers": 2,
        "n_heads": 4,
        "hidden_dim": 37,
        "max_position_embeddings": 64,
    }
    # The 2-rank tensor-parallel run needs sizes 2 divides (config_kwargs has odd ones).
    tensor_parallel_overrides = {"hidden_dim": 36}
