"""Saving processes for tests/test_atomic_save.py (kill -9, concurrent saves, a full file system).

Also imported by the test for :func:`build`, so that both sides build the same checkpoints.

Modes:
  ``zygote DIR``: build the checkpoints, print the time of one save of each, then for each
  line ``KIND`` on stdin fork a child that saves into DIR forever, alternating from KIND,
  and print its pid. The test kills the child with SIGKILL at a random moment.
  ``concurrent KIND DIR``: for each line on stdin save KIND into DIR once and print ``ok``.
  ``diskfull DIR``: DIR is a small tmpfs; save A, fail to save the big checkpoint over it,
  check A is intact, save A again, then check loading with the folder read-only; print a
  JSON report.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

#: name -> (layers, vocabulary, max_shard_size, max_new_tokens in generation_config.json)
CHECKPOINTS = {
    "A": (2, 50, "5GB", 5),  # one model.safetensors
    "B": (3, 80, "60KB", 9),  # sharded, one layer more, another vocabulary
    "big": (3, 3000, "200KB", 9),  # too big for the small file system of the disk-full test
}


def build(kind: str) -> Any:
    """The tiny GPT-2 of checkpoint ``kind``, the same in every process."""
    from autohub_core import AutoConfig, AutoModelForCausalLM

    layers, vocab, _, max_new_tokens = CHECKPOINTS[kind]
    config = AutoConfig.for_model(
        "gpt2", vocab_size=vocab, n_embd=32, n_layer=layers, n_head=4, n_positions=32
    )
    torch.manual_seed(len(kind) * 1000 + layers)
    model = AutoModelForCausalLM.from_config(config)
    model.generation_config.max_new_tokens = max_new_tokens
    return model


def save(model: Any, kind: str, directory: Path) -> None:
    model.save_pretrained(directory, max_shard_size=CHECKPOINTS[kind][2])


def which(directory: Path, models: dict[str, Any]) -> str:
    """The kind the folder loads as, exactly (state dict, config and generation config), else raise."""
    from autohub_core import AutoModelForCausalLM

    loaded = AutoModelForCausalLM.from_pretrained(directory)
    state = loaded.state_dict()
    for kind, model in models.items():
        expected = model.state_dict()
        if (
            state.keys() == expected.keys()
            and all(torch.equal(state[key], expected[key]) for key in expected)
            and loaded.config.n_layer == model.config.n_layer
            and loaded.config.vocab_size == model.config.vocab_size
            and loaded.generation_config.max_new_tokens == model.generation_config.max_new_tokens
        ):
            return kind
    raise AssertionError(f"{directory} loads as none of {sorted(models)}: {sorted(os.listdir(directory))}")


def _zygote(directory: Path) -> None:
    torch.set_num_threads(1)
    models = {kind: build(kind) for kind in ("A", "B")}
    timings = {}
    for kind, model in [*models.items(), *models.items()]:  # the second round is warm
        start = time.perf_counter()
        save(model, kind, directory)
        timings[kind] = time.perf_counter() - start
    print(json.dumps(timings), flush=True)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped automatically
    for line in sys.stdin:
        first = line.strip()
        pid = os.fork()
        if pid == 0:
            try:
                order = [first, "B" if first == "A" else "A"]
                while True:
                    for kind in order:
                        save(models[kind], kind, directory)
            except BaseException as error:  # report it, never run the parent's code
                print(f"saving child failed: {error!r}", file=sys.stderr, flush=True)
                os._exit(1)
        print(pid, flush=True)


def _concurrent(kind: str, directory: Path) -> None:
    model = build(kind)
    print("ready", flush=True)
    for _ in sys.stdin:
        save(model, kind, directory)
        print("ok", flush=True)


def _diskfull(directory: Path) -> None:
    from autohub_core import CheckpointWriteError
    from autohub_core import _io as io

    models = {kind: build(kind) for kind in ("A", "big")}
    report: dict[str, Any] = {}
    save(models["A"], "A", directory)
    try:
        save(models["big"], "big", directory)
        report["big_error"] = None
    except CheckpointWriteError as error:
        report["big_error"] = str(error)
    report["after_failure"] = which(directory, models)
    report["files_after_failure"] = sorted(os.listdir(directory))
    save(models["A"], "A", directory)  # space allows it again
    report["after_resave"] = which(directory, models)
    report["files_after_resave"] = sorted(os.listdir(directory))

    # A save killed after its commit, in a folder that is read-only when next loaded.
    real_apply = io._apply
    io._apply = _fail_once(real_apply)
    try:
        save(build("B"), "B", directory)
    except CheckpointWriteError as error:
        report["pending_error"] = str(error)
    io._apply = real_apply
    report["pending_files"] = sorted(os.listdir(directory))
    subprocess.run(["mount", "-o", "remount,ro", str(directory)], check=True)
    try:
        which(directory, {"A": models["A"], "B": build("B")})
        report["read_only_error"] = None
    except CheckpointWriteError as error:
        report["read_only_error"] = str(error)
    subprocess.run(["mount", "-o", "remount,rw", str(directory)], check=True)
    report["after_read_write"] = which(directory, {"A": models["A"], "B": build("B")})
    report["files_at_end"] = sorted(os.listdir(directory))
    print(json.dumps(report), flush=True)


def _fail_once(function: Any) -> Any:
    calls = []

    def fail(*args: Any) -> Any:
        if not calls:
            calls.append(1)
            raise OSError(5, "injected failure after the commit")
        return function(*args)

    return fail


if __name__ == "__main__":
    mode, *arguments = sys.argv[1:]
    if mode == "zygote":
        _zygote(Path(arguments[0]))
    elif mode == "concurrent":
        _concurrent(arguments[0], Path(arguments[1]))
    else:
        _diskfull(Path(arguments[0]))
