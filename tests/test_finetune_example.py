"""examples/finetune_ner.py fine-tunes the real MiniLM checkpoint: the loss falls, held-out
accuracy rises, and the saved model reloads and runs through the CLI."""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from types import ModuleType

import pytest
import torch

from autohub_core import AutoModelForTokenClassification

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _finetune_example(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("finetune_ner", ROOT / "examples" / "finetune_ner.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_finetune_ner_learns_and_saves(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    example = _finetune_example(monkeypatch)
    output_dir = tmp_path / "ner"
    result = example.main(
        ["--output-dir", str(output_dir), "--sentences", "160", "--epochs", "3", "--seed", "7"]
    )

    assert result["loss_last"] < 0.5 * result["loss_first"]
    assert result["accuracy_before"] < 0.5
    assert result["accuracy_after"] > result["accuracy_before"] + 0.3
    assert result["accuracy_after"] >= 0.85

    tokenizer, trained = result["tokenizer"], result["model"]
    reloaded = AutoModelForTokenClassification.from_pretrained(output_dir)
    assert reloaded.config.id2label == dict(enumerate(example.LABELS))
    batch = tokenizer([example.NEW_SENTENCE, "hello world"], padding=True, return_tensors="pt")
    trained.eval()
    with torch.inference_mode():
        torch.testing.assert_close(reloaded(**batch).logits, trained(**batch).logits, rtol=0, atol=1e-5)

    entities = {
        (fields[0], fields[3])
        for line in result["cli_output"].splitlines()
        if len(fields := line.strip().split("\t")) == 4
    }
    expected = {(label, word) for word, label in example.NEW_SENTENCE_ENTITIES.items()}
    assert entities & expected, result["cli_output"]
    assert result["cli_output"] in capsys.readouterr().out
