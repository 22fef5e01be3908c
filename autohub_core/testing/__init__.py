"""The conformance kit: tests any family or head plugin runs against itself.

Subclass :class:`ConformanceSuite` in a plugin's tests, set the class attributes, and
pytest collects the inherited checks, parametrized over the tasks::

    from autohub_core.testing import ConformanceSuite

    class TestBertConformance(ConformanceSuite):
        plugin_name = "bert"
        model_type = "bert"
        config_kwargs = {"vocab_size": 99, "hidden_size": 32, "num_hidden_layers": 2,
                         "num_attention_heads": 4, "intermediate_size": 37}
        tasks = ("base", "masked-lm", "sequence-classification")

The kit needs pytest (and torch, safetensors, like the core); it never imports transformers.
"""

from autohub_core.testing.suite import ConformanceSuite

__all__ = ["ConformanceSuite"]
