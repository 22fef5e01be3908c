"""The autohub conformance kit applied to the t5 plugin (base model and every registered head)."""

from __future__ import annotations

from autohub_core.testing import ConformanceSuite


class TestT5Conformance(ConformanceSuite):
    plugin_name = "t5"
    model_type = "t5"
    config_kwargs = {
        "vocab_size": 99,
        "d_model": 32,
        "d_kv": 8,
        "d_ff": 37,
        "num_layers": 2,
        "num_heads": 4,
        "decoder_start_token_id": 0,
    }
    # The 2-rank tensor-parallel run needs sizes 2 divides (config_kwargs has odd ones).
    tensor_parallel_overrides = {"d_ff": 36}
    # A T5 feed-forward has wi (ReLU) or wi_0 / wi_1 (gated), never both; the plan declares all three.
    config_dependent_plan_entries = frozenset(
        {"DenseReluDense.wi", "DenseReluDense.wi_0", "DenseReluDense.wi_1"}
    )

    def inputs_for(self, task, config):
        """T5's sequence classifier reads the hidden state at the <eos> of each example."""
        inputs = super().inputs_for(task, config)
        if task == "sequence-classification":
            inputs["input_ids"][:, 4] = config.eos_token_id
        return inputs
