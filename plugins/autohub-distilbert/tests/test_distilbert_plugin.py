"""The plugin module is cheap to import and declares every head through the entry point."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points


def test_plugin_module_imports_neither_torch_nor_modeling() -> None:
    code = (
        "import sys, autohub_distilbert.plugin; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert 'autohub_distilbert.modeling' not in sys.modules, 'modeling imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_entry_point_registers_distilbert() -> None:
    points = {point.name: point.value for point in entry_points(group="autohub")}
    assert points["distilbert"] == "autohub_distilbert.plugin"


def test_registry_resolves_every_head() -> None:
    from autohub_core.plugins import get_registry
    from autohub_distilbert.plugin import HEADS

    registry = get_registry()
    assert registry.lookup("model", "distilbert").__name__ == "DistilBertModel"
    assert registry.lookup("config", "distilbert").__name__ == "DistilBertConfig"
    assert registry.lookup("tokenizer", "distilbert").__name__ == "DistilBertTokenizer"
    for task, class_name in HEADS.items():
        assert registry.lookup("head", "distilbert", task).__name__ == class_name
