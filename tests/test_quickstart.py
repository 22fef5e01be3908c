"""The README's quickstart gives sentence-transformers' embeddings on the real MiniLM checkpoint."""

from __future__ import annotations

import importlib.util
import pathlib

import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _quickstart():
    spec = importlib.util.spec_from_file_location("quickstart", ROOT / "examples" / "quickstart.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quickstart_embeddings_match_sentence_transformers() -> None:
    from sentence_transformers import SentenceTransformer

    quickstart = _quickstart()
    model_dir = quickstart.default_model_dir()
    sentences = ["A man is eating food.", "Ça va? 日本語 🤗", ""]
    ours = quickstart.embed(model_dir, sentences)
    reference = SentenceTransformer(model_dir, device="cpu").encode(sentences, convert_to_tensor=True)
    assert torch.allclose(ours, reference, atol=1e-5)
