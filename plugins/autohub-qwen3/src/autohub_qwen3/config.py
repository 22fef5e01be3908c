"""Qwen3 configuration: the keys of a Qwen3 config.json, with transformers' defaults."""

from __future__ import annotations

from typing import Any, ClassVar

from autohub_core.configuration import Rule, boolean, positive_int
from autohub_qwen2.config import Qwen2Config


class Qwen3Config(Qwen2Config):
    """Configuration of a Qwen3 model (``model_type = "qwen3"``).

    Qwen2's keys with Qwen2's rules, plus ``attention_bias`` (a bias on all four attention
    projections, default False) and a ``head_dim`` independent of the hidden size (default 128).
    As in transformers, ``sliding_window`` is kept only with ``use_sliding_window``, and a config
    without ``layer_types`` gets sliding attention from layer ``max_window_layers`` on.
    """

    model_type = "qwen3"
    config_rules: ClassVar[dict[str, Rule]] = {
        **Qwen2Config.config_rules,
        "head_dim": positive_int(),
        "attention_bias": boolean(),
    }

    def __init__(self, head_dim: int = 128, attention_bias: bool = False, **kwargs: Any) -> None:
        self.attention_bias = attention_bias
        super().__init__(head_dim=head_dim, **kwargs)
