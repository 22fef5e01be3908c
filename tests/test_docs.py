"""The documentation's code: every ```python block compiles, and the blocks marked
``<!-- runnable -->`` run (per page, in order, sharing one namespace) against tiny local
checkpoints that replace the placeholder paths."""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helpers beside this file (pytest runs in importlib mode)
from tiny_media import save_tiny_clip, save_tiny_vit_classifier, save_tiny_wav2vec2_ctc, save_tiny_whisper
from tiny_models import save_tiny_bert

DOCS = Path(__file__).resolve().parent.parent / "docs"
_BLOCK = re.compile(r"(?P<marker><!-- runnable -->\n)?```python\n(?P<code>.*?)\n```", re.DOTALL)
PAGES = sorted(DOCS.glob("*.md"))


def python_blocks(page: Path) -> list[tuple[bool, str]]:
    """(runnable, code) for each ```python block of ``page``."""
    return [(bool(m["marker"]), m["code"]) for m in _BLOCK.finditer(page.read_text(encoding="utf-8"))]


@pytest.fixture(scope="module")
def placeholders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("docs-models")
    return {
        "path/to/bert-base": str(save_tiny_bert(root / "base", "BertModel", seed=0)),
        "path/to/bert-mlm": str(save_tiny_bert(root / "mlm", "BertForMaskedLM", seed=1)),
        "path/to/bert-ner": str(save_tiny_bert(root / "ner", "BertForTokenClassification", seed=2)),
        "path/to/vit-classifier": str(save_tiny_vit_classifier(root / "vit")),
        "path/to/clip": str(save_tiny_clip(root / "clip")),
        "path/to/wav2vec2-ctc": str(save_tiny_wav2vec2_ctc(root / "wav2vec2-ctc")),
        "path/to/whisper": str(save_tiny_whisper(root / "whisper")),
    }


def test_docs_have_runnable_examples() -> None:
    runnable = {page.name for page in PAGES for is_runnable, _ in python_blocks(page) if is_runnable}
    assert {
        "index.md",
        "auto-classes.md",
        "cli.md",
        "plugins.md",
        "migrating.md",
        "vision-and-audio.md",
    } <= runnable


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_python_blocks_compile(page: Path) -> None:
    for index, (_, code) in enumerate(python_blocks(page)):
        compile(code, f"{page.name}[{index}]", "exec")


@pytest.mark.parametrize(
    "page", [p for p in PAGES if any(r for r, _ in python_blocks(p))], ids=lambda page: page.name
)
def test_runnable_blocks_run(
    page: Path, placeholders: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autohub_core import plugins

    monkeypatch.chdir(tmp_path)  # examples that save write here
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    try:
        for index, (runnable, code) in enumerate(python_blocks(page)):
            if not runnable:
                continue
            for placeholder, path in placeholders.items():
                code = code.replace(placeholder, path)
            assert "path/to/" not in code, f"{page.name} block {index} uses an unknown placeholder"
            output = io.StringIO()
            with contextlib.redirect_stdout(output):
                exec(compile(code, f"{page.name}[{index}]", "exec"), namespace)
            assert output.getvalue(), f"{page.name} block {index} printed nothing"
    finally:
        plugins.reset()  # examples may register classes or configure plugins
    assert os.getcwd() == str(tmp_path)
