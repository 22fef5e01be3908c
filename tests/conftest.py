"""Shared fixtures for the core tests: tiny BERT checkpoints saved by transformers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

TINY_BERT = {
    "vocab_size": 99,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "max_position_embeddings": 64,
}


@pytest.fixture(scope="session")
def save_hf_bert(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Save a tiny random transformers BERT of class ``class_name``; returns its directory."""
    import transformers

    cache: dict[tuple, Path] = {}

    def save(class_name: str = "BertModel", seed: int = 0, **config_overrides: object) -> Path:
        key = (class_name, seed, tuple(sorted(config_overrides.items(), key=str)))
        if key not in cache:
            config = transformers.BertConfig(**{**TINY_BERT, **config_overrides})
            torch.manual_seed(seed)
            model = getattr(transformers, class_name)(config).eval()
            directory = tmp_path_factory.mktemp(class_name)
            model.save_pretrained(directory)
            cache[key] = directory
        return cache[key]

    return save


@pytest.fixture
def inputs() -> dict[str, torch.Tensor]:
    """A padded batch of two sequences for the tiny BERT vocabulary."""
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(1, TINY_BERT["vocab_size"], (2, 9), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 6:] = 0
    input_ids[1, 6:] = 0
    token_type_ids = torch.zeros_like(input_ids)
    token_type_ids[:, 4:] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
