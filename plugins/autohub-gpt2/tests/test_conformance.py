"""The autohub conformance kit applied to the gpt2 plugin (base model and every registered head)."""

from __future__ import annotations

from autohub_core.testing import ConformanceSuite


class TestGPT2Conformance(ConformanceSuite):
    plugin_name = "gpt2"
    model_type = "gpt2"
    config_kwargs = {
        "vocab_size": 99,
        "pad_token_id": 0,  # sequence classification of a padded batch needs it (as in transformers)
        "n_embd": 32,
        "n_layer": 2,
        "n_head": 4,
        "n_positions": 64,
    }
