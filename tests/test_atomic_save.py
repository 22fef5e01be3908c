"""save_pretrained is atomic per checkpoint: killed (kill -9), failing (disk full) or racing
another saver at any moment, the folder loads as exactly the previous checkpoint or exactly
the new one, written files follow the umask, and no temporary file outlives the next save.

The checkpoints (tests/atomic_save_worker.py): A is a 2-layer GPT-2 in one model.safetensors,
B a 3-layer one with another vocabulary, sharded, with another generation_config.json.
"""

from __future__ import annotations

import collections
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import safetensors
import safetensors.torch

from autohub_core import CheckpointWriteError, PreTrainedTokenizer
from autohub_core import _io as io

sys.path.insert(0, str(Path(__file__).parent))  # the helpers beside this file (pytest runs in importlib mode)
import atomic_save_worker as worker

WORKER = str(Path(__file__).with_name("atomic_save_worker.py"))
KILLS = 160


@pytest.fixture(scope="module")
def models() -> dict[str, Any]:
    return {kind: worker.build(kind) for kind in ("A", "B")}


def _leftovers(directory: Path) -> list[str]:
    """Temporary files and journals autohub may leave behind (none once a save completed)."""
    return sorted(n for n in os.listdir(directory) if n.startswith(".autohub-") or n.endswith(".tmp"))


def _expected_files(kind: str, scratch: Path, models: dict[str, Any]) -> list[str]:
    """The files a save of ``kind`` into an empty folder writes (saved once under ``scratch``)."""
    reference = scratch / f"reference-{kind}"
    if not reference.exists():
        worker.save(models[kind], kind, reference)
    return sorted(os.listdir(reference))


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_kill_9_at_random_moments_leaves_one_whole_checkpoint(tmp_path: Path, models) -> None:
    directory = tmp_path / "checkpoint"
    zygote = subprocess.Popen(
        [sys.executable, WORKER, "zygote", str(directory)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert zygote.stdin is not None and zygote.stdout is not None
    rng = random.Random(14)
    outcomes: collections.Counter[str] = collections.Counter()
    try:
        timings = json.loads(zygote.stdout.readline())
        current = worker.which(directory, models)
        for _ in range(KILLS):
            first = "B" if current == "A" else "A"  # the child's first save changes the checkpoint
            zygote.stdin.write(first + "\n")
            zygote.stdin.flush()
            pid = int(zygote.stdout.readline())
            # Anywhere in the child's first few saves (it alternates, so either side can win); at
            # least 40 ms, since forking and starting the child take a few ms of their own.
            time.sleep(rng.uniform(0, max(0.04, 3 * (timings["A"] + timings["B"]))))
            os.kill(pid, signal.SIGKILL)  # raises ProcessLookupError if the child had failed
            deadline = time.monotonic() + 10
            while not _gone(pid) and time.monotonic() < deadline:
                time.sleep(0.001)
            assert _gone(pid)
            if (directory / io.JOURNAL_NAME).exists():
                outcomes["killed mid-commit (journal pending)"] += 1
            if any(n.startswith(io.TEMP_PREFIX) for n in os.listdir(directory)):
                outcomes["left temporary files"] += 1
            loaded = worker.which(directory, models)  # exactly A or exactly B, else AssertionError
            outcomes["previous checkpoint" if loaded == current else "new checkpoint"] += 1
            assert not (directory / io.JOURNAL_NAME).exists()  # the load completed a pending commit
            current = loaded
    finally:
        zygote.kill()
        zygote.wait()
    print(
        f"\n{KILLS} kills (save of A {timings['A'] * 1e3:.0f} ms, of B {timings['B'] * 1e3:.0f} ms):",
        dict(outcomes),
    )
    assert outcomes["previous checkpoint"] + outcomes["new checkpoint"] == KILLS
    assert outcomes["previous checkpoint"] > 0 and outcomes["new checkpoint"] > 0
    worker.save(models["A"], "A", directory)
    assert _leftovers(directory) == []
    assert sorted(os.listdir(directory)) == _expected_files("A", tmp_path, models)


def test_a_full_file_system_keeps_the_previous_checkpoint(tmp_path: Path, models) -> None:
    """A real tmpfs too small for the new checkpoint (in a private user and mount namespace)."""
    sizes = {}
    for kind, model in (("A", models["A"]), ("big", worker.build("big"))):
        worker.save(model, kind, tmp_path / kind)
        sizes[kind] = sum(
            -(-(tmp_path / kind / n).stat().st_size // 4096) * 4096 for n in os.listdir(tmp_path / kind)
        )
    size = 2 * sizes["A"] + 256 * 1024  # room for A twice (the old one stays until the commit) and B
    assert sizes["big"] > size - sizes["A"]
    mount_point = tmp_path / "small-fs"
    mount_point.mkdir()
    arguments = [str(size), str(mount_point), sys.executable, WORKER]
    script = 'mount -t tmpfs -o size="$1" tmpfs "$2" && exec "$3" "$4" diskfull "$2"'
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    single = ["config.json", "generation_config.json", "model.safetensors"]
    assert report["big_error"] is not None
    assert "No space left on device" in report["big_error"] and str(mount_point) in report["big_error"]
    assert "unchanged" in report["big_error"]
    assert report["after_failure"] == "A" and report["files_after_failure"] == single
    assert report["after_resave"] == "A" and report["files_after_resave"] == single
    assert "committed" in report["pending_error"] and io.JOURNAL_NAME in report["pending_files"]
    assert "write access" in report["read_only_error"]
    assert report["after_read_write"] == "B"
    assert not [n for n in report["files_at_end"] if n.startswith(".")]


class _FailingOs:
    """``os`` for autohub_core._io, whose ``fail_at``-th file-system change fails with ENOSPC."""

    STEPS = frozenset({"mkdir", "open", "write", "fsync", "replace", "unlink", "chmod"})

    def __init__(self, fail_at: int) -> None:
        self.fail_at = fail_at
        self.calls = 0
        self.names: list[str] = []

    def step(self, what: str) -> None:
        self.names.append(what)
        self.calls += 1
        if self.calls == self.fail_at:
            raise OSError(errno.ENOSPC, f"No space left on device (injected at {what})")

    def __getattr__(self, name: str) -> Any:
        real = getattr(os, name)
        if name not in self.STEPS:
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            self.step(name)
            return real(*args, **kwargs)

        return call


@pytest.mark.parametrize(
    ("old", "new"), [("A", "B"), ("B", "A")], ids=["single-to-sharded", "sharded-to-single"]
)
def test_a_failure_at_every_step_of_a_save(tmp_path: Path, models, monkeypatch, old: str, new: str) -> None:
    template = tmp_path / "template"
    worker.save(models[old], old, template)
    real_save_file = safetensors.torch.save_file

    def save_file(tensors: Any, filename: str, metadata: Any = None) -> None:
        failing.step("safetensors")  # fails before writing: nothing written
        real_save_file(tensors, filename, metadata=metadata)

    def partial_save_file(tensors: Any, filename: str, metadata: Any = None) -> None:
        if failing.calls + 1 != failing.fail_at:
            return save_file(tensors, filename, metadata)
        failing.calls += 1  # the disk fills up in the middle of the tensor file
        real_save_file(tensors, filename, metadata=metadata)
        os.truncate(filename, os.path.getsize(filename) // 2)
        raise safetensors.SafetensorError("Error while serializing: No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", save_file)
    failing = _FailingOs(fail_at=0)
    monkeypatch.setattr(io, "os", failing)
    worker.save(models[new], new, tmp_path / "count")
    steps = failing.names
    outcomes: collections.Counter[str] = collections.Counter()
    for fail_at, step in enumerate(steps, start=1):
        for writer in (save_file, partial_save_file) if step == "safetensors" else (save_file,):
            directory = tmp_path / f"at-{fail_at}-{writer.__name__}"
            shutil.copytree(template, directory)
            failing = _FailingOs(fail_at)
            monkeypatch.setattr(io, "os", failing)
            monkeypatch.setattr(safetensors.torch, "save_file", writer)
            with pytest.raises(CheckpointWriteError, match=str(directory)) as raised:
                worker.save(models[new], new, directory)
            monkeypatch.setattr(io, "os", os)
            committed = "is committed" in str(raised.value)
            if not committed:
                assert "unchanged" in str(raised.value)
                assert _leftovers(directory) == []  # the failed save removed its temporary files
            assert worker.which(directory, models) == (new if committed else old)
            outcomes["new (committed, completed by the load)" if committed else "previous"] += 1
            worker.save(models[new], new, directory)  # and a later save succeeds, leaving nothing behind
            assert _leftovers(directory) == []
            assert sorted(os.listdir(directory)) == _expected_files(new, tmp_path, models)
    print(f"\n{old}->{new}: a failure injected at each of {len(steps)} steps:", dict(outcomes))
    assert outcomes["previous"] > 0 and outcomes["new (committed, completed by the load)"] > 0


def test_concurrent_saving_processes_one_wins_whole(tmp_path: Path, models) -> None:
    directory = tmp_path / "checkpoint"
    savers = [
        subprocess.Popen(
            [sys.executable, WORKER, "concurrent", kind, str(directory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for kind in ("A", "B")
    ]
    winners: collections.Counter[str] = collections.Counter()
    try:
        for saver in savers:
            assert saver.stdout.readline().strip() == "ready"
        for _ in range(30):
            for saver in savers:
                saver.stdin.write("go\n")
                saver.stdin.flush()
            for saver in savers:
                assert saver.stdout.readline().strip() == "ok"
            winners[worker.which(directory, models)] += 1
            assert _leftovers(directory) == []
    finally:
        for saver in savers:
            saver.stdin.close()
        codes = [saver.wait(timeout=60) for saver in savers]
    assert codes == [0, 0]
    print("\n30 rounds of two processes saving at once, winners:", dict(winners))
    assert sum(winners.values()) == 30


def test_concurrent_saving_threads_one_wins_whole(tmp_path: Path, models) -> None:
    directory = tmp_path / "checkpoint"
    errors: list[BaseException] = []

    def keep_saving(kind: str) -> None:
        try:
            for _ in range(6):
                worker.save(models[kind], kind, directory)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=keep_saving, args=(kind,)) for kind in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert worker.which(directory, models) in {"A", "B"} and _leftovers(directory) == []


def _tokenizer() -> PreTrainedTokenizer:
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    backend = Tokenizer(WordLevel({"[UNK]": 0, "hello": 1, "world": 2}, unk_token="[UNK]"))
    backend.pre_tokenizer = Whitespace()
    return PreTrainedTokenizer(tokenizer_object=backend, unk_token="[UNK]")


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_follow_the_umask(tmp_path: Path, models, umask: int) -> None:
    previous = os.umask(umask)
    try:
        worker.save(models["A"], "A", tmp_path)
        worker.save(models["B"], "B", tmp_path)
        _tokenizer().save_pretrained(tmp_path)
        models["A"].config.save_pretrained(tmp_path)
    finally:
        os.umask(previous)
    modes = {path.name: path.stat().st_mode & 0o777 for path in tmp_path.iterdir()}
    assert {"config.json", "model.safetensors.index.json", "tokenizer.json"} <= modes.keys()
    assert set(modes.values()) == {0o666 & ~umask}, modes


def _pending_commit(directory: Path, models, monkeypatch) -> None:
    """A folder holding A, then a save of B stopped right after its commit point."""
    worker.save(models["A"], "A", directory)
    real_apply = io._apply

    def stop(*args: Any) -> None:
        raise OSError(errno.EIO, "stopped right after the commit point")

    monkeypatch.setattr(io, "_apply", stop)
    with pytest.raises(CheckpointWriteError, match="committed but could not be completed"):
        worker.save(models["B"], "B", directory)
    monkeypatch.setattr(io, "_apply", real_apply)
    assert (directory / io.JOURNAL_NAME).exists()
    visible = sorted(n for n in os.listdir(directory) if not n.startswith("."))
    assert visible == ["config.json", "generation_config.json", "model.safetensors"]  # still A's files


def test_a_pending_commit_is_completed_by_the_next_load(tmp_path: Path, models, monkeypatch) -> None:
    directory = tmp_path / "checkpoint"
    _pending_commit(directory, models, monkeypatch)
    assert worker.which(directory, models) == "B"
    assert _leftovers(directory) == []
    assert sorted(os.listdir(directory)) == _expected_files("B", tmp_path, models)


def test_a_pending_commit_is_completed_by_the_next_save(tmp_path: Path, models, monkeypatch) -> None:
    directory = tmp_path / "checkpoint"
    _pending_commit(directory, models, monkeypatch)
    models["B"].generation_config.save_pretrained(directory)  # a save of one file: B's, completed first
    assert _leftovers(directory) == []
    assert sorted(os.listdir(directory)) == _expected_files("B", tmp_path, models)
    assert worker.which(directory, models) == "B"


def test_leftover_temporary_files_are_removed_by_the_next_save(tmp_path: Path, models) -> None:
    worker.save(models["A"], "A", tmp_path)
    garbage = [
        ".autohub-tmp-0a1b2c3d4e5f-model.safetensors",
        ".model.safetensors.k2j3h4g5.tmp",
        ".config.json.abcd_123.tmp",
    ]
    kept = [".notes.tmp", "mine.tmp", ".config.json.abc.tmp"]
    for name in garbage + kept:
        (tmp_path / name).write_bytes(b"x" * 100)
    worker.save(models["B"], "B", tmp_path)
    assert sorted(
        n for n in os.listdir(tmp_path) if n.endswith(".tmp") or n.startswith(".autohub")
    ) == sorted(kept)
    assert worker.which(tmp_path, models) == "B"


@pytest.mark.parametrize(
    "journal",
    [
        {"rename": [[".autohub-tmp-x", "../outside"]], "delete": []},
        {"rename": [["config.json", "model.safetensors"]], "delete": []},
        {"rename": [], "delete": ["/etc/hostname"]},
        {"rename": "everything", "delete": []},
        [1, 2],
    ],
    ids=["escaping-rename", "non-temporary-source", "absolute-delete", "wrong-type", "not-an-object"],
)
def test_a_journal_autohub_did_not_write_is_refused(tmp_path: Path, models, journal: Any) -> None:
    directory = tmp_path / "checkpoint"
    worker.save(models["A"], "A", directory)
    (directory / ".autohub-tmp-x").write_bytes(b"x")
    (directory / io.JOURNAL_NAME).write_text(json.dumps(journal))
    before = sorted(os.listdir(directory))
    with pytest.raises(CheckpointWriteError, match=r"autohub-commit\.json"):
        worker.which(directory, models)
    assert sorted(os.listdir(directory)) == before and not (tmp_path / "outside").exists()


def test_write_errors_are_typed_and_name_the_folder(tmp_path: Path, models) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CheckpointWriteError, match=str(blocker)) as raised:
        _tokenizer().save_pretrained(blocker / "sub")
    assert isinstance(raised.value, OSError)
