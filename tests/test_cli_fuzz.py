"""Fuzzing the ``autohub`` command: random argument vectors and broken model folders.

Whatever the input, ``main(argv)`` ends with exit status 0 or 2 (argparse usage errors are
2 too), never prints a traceback, and reports an error on exactly one line (the last one
of stderr). Status 1 means the internal-error guard caught a bug: the test fails on it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from autohub_core import cli, limits
from autohub_core.cli import _FILE_TASKS, main
from autohub_core.tasks import TASK_NAMES

sys.path.insert(0, str(Path(__file__).parent))  # the helpers beside this file (pytest runs in importlib mode)
import hostile_folders
from test_cli import save_tiny_t5
from tiny_models import save_tiny_bert

CASES: Counter[str] = Counter()

Folders = dict[str, Path]


def run(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    """``main(argv)`` with stdout and stderr captured; SystemExit (argparse) becomes the status.

    Runs under :func:`hostile_folders.bounded`: unbounded work fails the test instead of hanging it."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), hostile_folders.bounded():
        try:
            status = main(argv, stdin=io.StringIO(stdin))
        except SystemExit as exit_info:
            status = (
                exit_info.code if isinstance(exit_info.code, int) else (0 if exit_info.code is None else 2)
            )
    return status, out.getvalue(), err.getvalue()


def assert_clean(argv: list[str], status: int, out: str, err: str) -> None:
    """The CLI's promise for any input."""
    assert status in (0, 2), f"status {status}: {err.strip()[-600:]} for {[arg[:80] for arg in argv]}"
    assert "Traceback (most recent call last)" not in out + err, argv
    if status == 2:
        errors = [line for line in err.splitlines() if "error:" in line]
        assert len(errors) == 1 and err.endswith(errors[0] + "\n"), f"{argv}: {err!r}"


# -- folders ------------------------------------------------------------------------------------------


def _copy(source: Path, target: Path, *, drop: tuple[str, ...] = ()) -> Path:
    shutil.copytree(source, target)
    for name in drop:
        (target / name).unlink(missing_ok=True)
    return target


def _edit_json(directory: Path, name: str, **changes: object) -> Path:
    path = directory / name
    document = json.loads(path.read_text(encoding="utf-8"))
    document.update(changes)
    path.write_text(json.dumps(document), encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Folders:
    """Good tiny checkpoints (BERT masked LM, T5) and broken variants of them."""
    root = tmp_path_factory.mktemp("fuzz")
    good = save_tiny_bert(root / "bert", "BertForMaskedLM", seed=1)
    t5 = save_tiny_t5(root / "t5")
    found: Folders = {"bert": good, "t5": t5}
    found["empty"] = root / "empty"
    found["empty"].mkdir()
    found["a-file"] = root / "a-file.txt"
    found["a-file"].write_text("not a folder")
    found["no-config"] = _copy(good, root / "no-config", drop=("config.json",))
    found["config-not-json"] = _copy(good, root / "config-not-json")
    (found["config-not-json"] / "config.json").write_text("{not json", encoding="utf-8")
    found["config-a-list"] = _copy(good, root / "config-a-list")
    (found["config-a-list"] / "config.json").write_text("[1, 2]", encoding="utf-8")
    found["config-binary"] = _copy(good, root / "config-binary")
    (found["config-binary"] / "config.json").write_bytes(b"\xff\xfe\x00garbage")
    found["unknown-type"] = _edit_json(
        _copy(good, root / "unknown-type"), "config.json", model_type="nonesuch"
    )
    found["no-model-type"] = _copy(good, root / "no-model-type")
    config = json.loads((good / "config.json").read_text())
    del config["model_type"]
    (found["no-model-type"] / "config.json").write_text(json.dumps(config))
    wrong_values: dict[str, dict[str, object]] = {
        "hidden-size-str": {"hidden_size": "big"},
        "layers-negative": {"num_hidden_layers": -1},
        "vocab-zero": {"vocab_size": 0},
        "heads-zero": {"num_attention_heads": 0},
        "hidden-huge": {"hidden_size": 10**12},
        "id2label-list": {"id2label": ["a", "b"]},
        "id2label-bad-keys": {"id2label": {"x": "A"}},
        "architectures-int": {"architectures": 3},
        "dtype-bogus": {"dtype": "float13"},
        "vocab-float": {"vocab_size": 1.5},
        "t5-ff-bogus": {"feed_forward_proj": "gated-nope"},
    }
    for name, changes in wrong_values.items():
        source = t5 if name.startswith("t5-") else good
        found[name] = _edit_json(_copy(source, root / name), "config.json", **changes)
    weights = good / "model.safetensors"
    data = weights.read_bytes()
    for name, content in {
        "weights-truncated": data[: len(data) // 2],
        "weights-header-only": data[:100],
        "weights-empty": b"",
        "weights-garbage": b"\x10\x00\x00\x00\x00\x00\x00\x00{not a header}",
        "weights-huge-header": (2**62).to_bytes(8, "little") + b"{}",
    }.items():
        found[name] = _copy(good, root / name)
        (found[name] / "model.safetensors").write_bytes(content)
    found["no-weights"] = _copy(good, root / "no-weights", drop=("model.safetensors",))
    found["no-tokenizer"] = _copy(good, root / "no-tokenizer", drop=("tokenizer.json", "vocab.txt"))
    found["tokenizer-json-corrupt"] = _copy(good, root / "tokenizer-json-corrupt")
    (found["tokenizer-json-corrupt"] / "tokenizer.json").write_text('{"model": 3', encoding="utf-8")
    found["tokenizer-config-corrupt"] = _copy(good, root / "tokenizer-config-corrupt")
    (found["tokenizer-config-corrupt"] / "tokenizer_config.json").write_text("]", encoding="utf-8")
    found["tokenizer-max-length-str"] = _edit_json(
        _copy(good, root / "tokenizer-max-length-str"), "tokenizer_config.json", model_max_length="long"
    )
    found["tokenizer-bad-special"] = _edit_json(
        _copy(good, root / "tokenizer-bad-special"), "tokenizer_config.json", mask_token=7
    )
    found["t5-no-spiece"] = _copy(t5, root / "t5-no-spiece", drop=("tokenizer.json",))
    found["generation-config-corrupt"] = _copy(t5, root / "generation-config-corrupt")
    (found["generation-config-corrupt"] / "generation_config.json").write_text("{", encoding="utf-8")
    found["generation-config-bad-value"] = _edit_json(
        _copy(t5, root / "generation-config-bad-value"), "generation_config.json", num_beams="four"
    )
    catalogue = hostile_folders.materialise_all(hostile_folders.save_bases(root / "bases"), root / "hostile")
    found.update({f"h/{name}": path for name, path in catalogue.items()})
    return found


@pytest.fixture(scope="module", autouse=True)
def small_limits() -> Iterator[None]:
    """Caps small enough that the catalogue's shapes exceeding them are refused fast."""
    limits.configure(max_new_tokens=64, max_num_labels=10_000, chat_template_seconds=2.0)
    yield
    limits.reset()


@pytest.fixture(scope="module", autouse=True)
def report_case_counts() -> Iterator[None]:
    yield
    print("\nCLI fuzz cases run per target:")
    for target, count in sorted(CASES.items()):
        print(f"  {target:<40} {count}")


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No network: repo ids are looked up in an empty cache only."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


_TEXT_FOR = {"fill-mask": "hello [MASK] world", "feature-extraction": "hello"}
BROKEN = [
    "empty", "a-file", "no-config", "config-not-json", "config-a-list", "config-binary", "unknown-type",
    "no-model-type", "hidden-size-str", "layers-negative", "vocab-zero", "heads-zero", "hidden-huge",
    "id2label-list", "id2label-bad-keys", "architectures-int", "dtype-bogus", "vocab-float", "t5-ff-bogus",
    "weights-truncated", "weights-header-only", "weights-empty", "weights-garbage", "weights-huge-header",
    "no-weights", "no-tokenizer", "tokenizer-json-corrupt", "tokenizer-config-corrupt",
    "tokenizer-max-length-str", "tokenizer-bad-special", "t5-no-spiece", "generation-config-corrupt",
    "generation-config-bad-value",
]  # fmt: skip


@pytest.mark.parametrize("name", BROKEN)
def test_broken_folders_give_one_line_errors(folders: Folders, name: str) -> None:
    model = str(folders[name])
    commands = [["inspect", model], ["inspect", model, "--json"]]
    for task in ("fill-mask", "feature-extraction", "text-classification", "text2text-generation"):
        commands.append(["run", model, "--task", task, _TEXT_FOR.get(task, "hello world")])
    for argv in commands:
        CASES["broken folders x commands"] += 1
        status, out, err = run(argv)
        assert_clean(argv, status, out, err)


_HOSTILE_COMMANDS = {
    "bert": [
        ["fill-mask", "hello [MASK] world"],
        ["text-classification", "hello"],
        ["feature-extraction", "hi"],
    ],
    "llama": [
        ["text-generation", "hello world"],
        ["text-classification", "hello"],
        ["feature-extraction", "hi"],
    ],
}


@pytest.mark.parametrize("name", list(hostile_folders.CATALOGUE))
def test_catalogue_folders_give_one_line_errors(folders: Folders, name: str) -> None:
    """Each hostile shape of tests/hostile_folders.py: inspect (text and JSON) and the base's tasks."""
    model = str(folders[f"h/{name}"])
    commands = [["inspect", model], ["inspect", model, "--json"]]
    for task, text in _HOSTILE_COMMANDS[hostile_folders.CATALOGUE[name].base]:
        commands.append(["run", model, "--task", task, text, "hello" * 600])
    with _quiet_logging():
        for argv in commands:
            CASES["catalogue shapes x commands"] += 1
            status, out, err = run(argv)
            assert_clean(argv, status, out, err)


class PanicException(BaseException):
    """Stands for pyo3's PanicException (a BaseException) escaping a native library."""


@pytest.mark.parametrize(
    ("raised", "status", "line"),
    [
        (SystemExit(3), 1, "autohub: internal error: SystemExit: 3 (raised at"),
        (PanicException("Onig: retry-limit-in-match over"), 1, "autohub: internal error: PanicException:"),
        (GeneratorExit(), 1, "autohub: internal error: GeneratorExit:"),
        (KeyboardInterrupt(), 130, "autohub: interrupted"),
    ],
)
def test_base_exceptions_from_plugins_end_in_one_line(
    folders: Folders, monkeypatch: pytest.MonkeyPatch, raised: BaseException, status: int, line: str
) -> None:
    """Whatever code autohub runs for a command raises (a plugin calling sys.exit(), a native panic,
    Ctrl-C), the process is not killed by it: one line on stderr, a status, no traceback."""

    def hostile(*args: object, **kwargs: object) -> None:
        raise raised

    monkeypatch.setattr(cli, "checkpoint_summary", hostile)
    CASES["BaseException containment"] += 1
    code, out, err = run(["inspect", str(folders["bert"])])
    assert code == status and out == ""
    assert err.startswith(line) and err.count("\n") == 1, err
    if not isinstance(raised, SystemExit | KeyboardInterrupt):  # --debug lets the real exception out
        with pytest.raises(type(raised)):
            run(["--debug", "inspect", str(folders["bert"])])


def test_the_real_process_prints_no_python_traceback(folders: Folders) -> None:
    """``python -m autohub_core.cli`` on the shapes whose failure comes from native code or a
    template: exit 2, the last stderr line is autohub's error, no Python traceback. (A Rust panic
    message may precede it: the tokenizers library prints it before autohub sees the exception;
    its backtrace is left out, even under RUST_BACKTRACE=1, unless --debug is given.)"""
    for name, task, text in [
        ("tokenizer-split-regex", "feature-extraction", "hello" * 600),
        ("chat-template-loops-forever", "text-generation", "hello"),
    ]:
        CASES["real process"] += 1
        argv = ["run", str(folders[f"h/{name}"]), "--task", task, text]
        done = subprocess.run(
            [sys.executable, "-m", "autohub_core.cli", *argv],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "AUTOHUB_MAX_NEW_TOKENS": "64", "RUST_BACKTRACE": "1"},
            check=False,
        )
        assert "Traceback (most recent call last)" not in done.stdout + done.stderr, done.stderr
        assert "stack backtrace" not in done.stderr, done.stderr
        assert len([line for line in done.stderr.splitlines() if line.strip()]) <= 4, done.stderr
        assert done.returncode in (0, 2), (name, done.returncode, done.stderr)
        if done.returncode == 2:
            assert done.stderr.splitlines()[-1].startswith("autohub: error: "), done.stderr


def test_good_folders_run_every_task(folders: Folders) -> None:
    """Every task on both families: a result or a one-line error (e.g. BERT cannot translate)."""
    for family in ("bert", "t5"):
        for task in TASK_NAMES:
            extra = ["--context", "hello world"] if task == "question-answering" else []
            argv = ["run", str(folders[family]), "--task", task, *extra, _TEXT_FOR.get(task, "hello world")]
            status, out, err = run(argv)
            assert_clean(argv, status, out, err)
            if family == "t5" and task not in ("fill-mask", "text-generation", *_FILE_TASKS):
                assert status == 0, f"{task}: {err}"  # T5 runs every text task its heads allow
            if task in _FILE_TASKS:  # a text family has no image or audio head: one-line error
                assert status == 2 and ("no installed plugin provides" in err or "--labels" in err), err


# -- random argument vectors ----------------------------------------------------------------------

MODELS = [
    "bert", "t5", "empty", "a-file", "no-config", "weights-truncated", "no-tokenizer", "unknown-type",
    *(f"h/{name}" for name in hostile_folders.CATALOGUE),
]  # fmt: skip
OPTION_VALUES: dict[str, list[str]] = {
    "--task": [*TASK_NAMES, "poetry", ""],
    "--file": ["{missing}", "{folder}", "{binary}", "{texts}", "{empty-file}"],
    "--batch-size": ["1", "2", "0", "-3", "x", "99999999999999999999"],
    "--device": ["cpu", "cuda", "cuda:0", "mps", "meta", "gpu", "", "cpu:1", "cuda:-1"],
    "--dtype": ["auto", "float32", "float16", "bfloat16", "float64"],
    "--top-k": ["1", "3", "0", "-1", "99999999999999999999", "x"],
    "--aggregation": ["none", "simple", "first", "average", "max", "mean"],
    "--context": ["hello world", "", "é🎉 [MASK]"],
    "--labels": ["cat,dog", "", ",", "é🎉"],
    "--max-new-tokens": ["1", "3", "0", "-2", "x"],
    "--temperature": ["0.7", "1", "0", "-1", "nan", "inf", "1e-30", "x"],
    "--top-p": ["0.9", "1", "0", "1.5", "nan", "x"],
    "--seed": ["0", "7", "-1", "99999999999999999999", "x"],
    "--src-lang": ["en", "xx", ""],
    "--tgt-lang": ["de", "fr", "xx", ""],
    "--revision": ["main", "nope", ""],
    "--cache-dir": ["{folder}", "{missing}"],
}
FLAGS = [
    "--json",
    "--similarity",
    "--progress",
    "--do-sample",
    "--offline",
    "--help",
    "--version",
    "-h",
    "--",
]
FREE = [
    "hello world",
    "hello [MASK] world",
    "[MASK]",
    "",
    " ",
    "-",
    "é🎉 naïve",
    "a\nb",
    "x" * 300,
    "-x",
    "--nope",
]
COMMANDS = ["run", "inspect", "plugins", "frobnicate", ""]


@st.composite
def argument_vectors(draw: st.DrawFn) -> list[str]:
    """Mostly ``run`` on a good model with a task, plus options (values from their pools), flags and
    free texts in random order; sometimes another command, a broken model or none."""
    command = draw(st.sampled_from(["run"] * 8 + COMMANDS))
    argv = [command]
    if draw(st.integers(0, 9)) > 0:
        argv.append(
            draw(st.sampled_from(["{bert}", "{t5}"] * 4 + [f"{{{m}}}" for m in MODELS] + ["org/name"]))
        )
    pieces: list[list[str]] = []
    if command == "run" and draw(st.integers(0, 9)) > 0:
        pieces.append(["--task", draw(st.sampled_from(TASK_NAMES))])
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["option", "option", "flag", "free", "free"]))
        if kind == "option":
            option = draw(st.sampled_from(sorted(OPTION_VALUES)))
            pieces.append([option, draw(st.sampled_from(OPTION_VALUES[option]))])
        elif kind == "flag":
            pieces.append([draw(st.sampled_from(FLAGS))])
        else:
            pieces.append([draw(st.sampled_from(FREE))])
    for piece in draw(st.permutations(pieces)):
        argv.extend(piece)
    return argv


@pytest.fixture(scope="module")
def values(folders: Folders, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("fuzz-values")
    (root / "texts.txt").write_text("hello world\nhello [MASK] world\n\n", encoding="utf-8")
    (root / "binary.bin").write_bytes(b"\xff\xfe\xfa\x00")
    (root / "empty.txt").write_text("", encoding="utf-8")
    return {
        **{name: str(folders[name]) for name in MODELS},
        "missing": str(root / "missing"),
        "folder": str(root),
        "binary": str(root / "binary.bin"),
        "texts": str(root / "texts.txt"),
        "empty-file": str(root / "empty.txt"),
    }


@contextlib.contextmanager
def _quiet_logging() -> Iterator[None]:
    import logging

    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)  # "Some weights ... newly initialized" a thousand times
    try:
        yield
    finally:
        logging.disable(previous)


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(argv=argument_vectors(), stdin=st.sampled_from(["", "hello world\n", "\n\n", "[MASK] x\nhello\n"]))
def test_random_argument_vectors(values: dict[str, str], argv: list[str], stdin: str) -> None:
    argv = [arg.format(**values) if arg.startswith("{") and arg.endswith("}") else arg for arg in argv]
    with _quiet_logging():
        status, out, err = run(argv, stdin)
    CASES["random argument vectors"] += 1
    event(
        "ran" if status == 0 else "usage error" if "usage:" in err else "autohub error" if err else "exit 0"
    )
    assert_clean(argv, status, out, err)
