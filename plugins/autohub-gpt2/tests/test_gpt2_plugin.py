"""The GPT-2 plugin is discovered through its entry point and declares lazy classes only."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

from autohub_core import AutoConfig
from autohub_gpt2.plugin import HEADS


def test_entry_point_is_installed() -> None:
    entry_points = {entry.name: entry.value for entry in importlib.metadata.entry_points(group="autohub")}
    assert entry_points["gpt2"] == "autohub_gpt2.plugin"


def test_plugin_module_imports_neither_torch_nor_modeling() -> None:
    code = (
        "import sys, autohub_gpt2.plugin; "
        "print('torch' in sys.modules, 'autohub_gpt2.modeling' in sys.modules, "
        "'autohub_gpt2.tokenization' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False", "False"]


def test_heads_and_config_resolve() -> None:
    assert set(HEADS) == {
        "causal-lm",
        "sequence-classification",
        "token-classification",
        "question-answering",
    }
    config = AutoConfig.for_model("gpt2", n_embd=16, n_head=4)
    assert type(config).__name__ == "GPT2Config" and config.hidden_size == 16
