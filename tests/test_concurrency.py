"""Concurrency: many threads loading at once, from a fresh discovery state, get identical tensors."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from autohub_core import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
)
from autohub_core.plugins import reset

THREADS = 8
LOADS_PER_THREAD = 6
TINY = {
    "vocab_size": 99,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "max_position_embeddings": 64,
}
MODELS = [
    ("base", AutoModel, 0),
    ("masked-lm", AutoModelForMaskedLM, 1),
    ("classifier", AutoModelForSequenceClassification, 2),
]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, type]]:
    saved = {}
    for name, auto_class, seed in MODELS:
        torch.manual_seed(seed)
        directory = tmp_path_factory.mktemp(name)
        auto_class.from_config(AutoConfig.for_model("bert", **TINY)).save_pretrained(directory)
        saved[name] = (directory, auto_class)
    return saved


def _inputs() -> dict[str, torch.Tensor]:
    input_ids = torch.randint(5, TINY["vocab_size"], (2, 8), generator=torch.Generator().manual_seed(0))
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 5:] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def _run_threads(work: Callable[[int], None]) -> list[str]:
    barrier = threading.Barrier(THREADS)
    errors: list[str] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            work(index)
        except Exception as error:  # collected and asserted on by the caller
            errors.append(f"thread {index}: {type(error).__name__}: {error}")

    threads = [threading.Thread(target=run, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a loading thread hung"
    return errors


def test_parallel_from_pretrained_from_fresh_discovery(checkpoints, capsys) -> None:
    names = [name for name, _, _ in MODELS]
    reference = {}
    with torch.no_grad():
        for name in names:
            directory, auto_class = checkpoints[name]
            model = auto_class.from_pretrained(directory)
            reference[name] = (model.state_dict(), model(**_inputs()).to_tuple()[0])

    reset()  # every thread races on first-use plugin discovery and lazy class resolution
    completed: list[tuple[int, str]] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        for step in range(LOADS_PER_THREAD):
            # half the loads hit the same checkpoint at once, the other half differ per thread
            name = names[0] if step % 2 == 0 else names[(index + step) % len(names)]
            directory, auto_class = checkpoints[name]
            model = auto_class.from_pretrained(directory)
            state, output = reference[name]
            loaded_state = model.state_dict()
            assert loaded_state.keys() == state.keys()
            assert all(torch.equal(loaded_state[key], tensor) for key, tensor in state.items()), name
            with torch.no_grad():
                assert torch.equal(model(**_inputs()).to_tuple()[0], output), name
            with lock:
                completed.append((index, name))

    errors = _run_threads(work)
    assert errors == []
    assert len(completed) == THREADS * LOADS_PER_THREAD
    with capsys.disabled():
        print(
            f"\nconcurrency: {THREADS} threads x {LOADS_PER_THREAD} loads = {len(completed)} identical loads"
        )


def test_parallel_from_config_with_different_dtypes() -> None:
    """``from_config(dtype=...)`` must not leak its dtype into a model built at the same time."""
    reset()
    config = AutoConfig.for_model("bert", **TINY)
    seen: list[tuple[torch.dtype, set[torch.dtype]]] = []

    def work(index: int) -> None:
        for _ in range(4):
            wanted = torch.bfloat16 if index % 2 else torch.float32
            model = AutoModel.from_config(config, dtype=wanted if index % 2 else None)
            seen.append((wanted, {p.dtype for p in model.parameters()}))

    errors = _run_threads(work)
    assert errors == []
    assert len(seen) == THREADS * 4
    for wanted, dtypes in seen:
        assert dtypes == {wanted}
    assert torch.get_default_dtype() == torch.float32
