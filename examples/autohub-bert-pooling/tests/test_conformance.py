"""The autohub conformance kit applied to a third-party head plugin."""

from __future__ import annotations

from autohub_core.testing import ConformanceSuite


class TestBertPoolingConformance(ConformanceSuite):
    plugin_name = "bert-pooling"
    model_type = "bert"
    config_kwargs = {
        "vocab_size": 99,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 37,
        "max_position_embeddings": 64,
    }
    tensor_parallel_overrides = {"intermediate_size": 38}  # sizes the 2-rank run divides
    tasks = ("sentence-embedding",)
    loss_tasks = ()  # an embedding head has no labels

    def expected_shapes(self, task, config):
        return {"embeddings": (self.batch_size, config.hidden_size)}
