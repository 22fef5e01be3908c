"""Fuzzing the ``autohub`` command: random argument vectors and broken model folders.

Whatever the input, ``main(argv)`` ends with exit status 0 or 2 (argparse usage errors are
2 too), never prints a traceback, and reports an error on exactly one line (the last one
of stderr). Status 1 means the internal-error guard caught a bug: the test fails on it.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from autohub_core.cli import main
from autohub_core.tasks import TASK_NAMES

sys.path.insert(0, str(Path(__file__).parent))  # the helpers beside this file (pytest runs in importlib mode)
from test_cli import save_tiny_t5
from tiny_models import save_tiny_bert

Folders = dict[str, Path]


def run(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    """``main(argv)`` with stdout and stderr captured; SystemExit (argparse) becomes the status."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv, stdin=io.StringIO(stdin))
        except SystemExit as exit_info:
            status = (
                exit_info.code if isinstance(exit_info.code, int) else (0 if exit_info.code is None else 2)
            )
    return status, out.getvalue(), err.getvalue()


def assert_clean(argv: list[str], status: int, out: str, err: str) -> None:
    """The CLI's promise for any input."""
    assert status in (0, 2), f"status {status} for {argv}: {err}"
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
    return found


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
        status, out, err = run(argv)
        assert_clean(argv, status, out, err)


def test_good_folders_run_every_task(folders: Folders) -> None:
    """Every task on both families: a result or a one-line error (e.g. BERT cannot translate)."""
    for family in ("bert", "t5"):
        for task in TASK_NAMES:
            extra = ["--context", "hello world"] if task == "question-answering" else []
            argv = ["run", str(folders[family]), "--task", task, *extra, _TEXT_FOR.get(task, "hello world")]
            status, out, err = run(argv)
            assert_clean(argv, status, out, err)
            if family == "t5" and task not in ("fill-mask", "text-generation"):
                assert status == 0, f"{task}: {err}"  # T5 runs every task its heads allow


# -- random argument vectors ----------------------------------------------------------------------

MODELS = ["bert", "t5", "empty", "a-file", "no-config", "weights-truncated", "no-tokenizer", "unknown-type"]
OPTION_VALUES: dict[str, list[str]] = {
    "--task": [*TASK_NAMES, "poetry", ""],
    "--file": ["{missing}", "{folder}", "{binary}", "{texts}", "{empty-file}"],
    "--batch-size": ["1", "2", "0", "-3", "x", "99999999999999999999"],
    "--device": ["cpu", "cuda", "cuda:0", "mps", "meta", "gpu", "", "cpu:1", "cuda:-1"],
    "--dtype": ["auto", "float32", "float16", "bfloat16", "float64"],
    "--top-k": ["1", "3", "0", "-1", "99999999999999999999", "x"],
    "--aggregation": ["none", "simple", "first", "average", "max", "mean"],
    "--context": ["hello world", "", "é🎉 [MASK]"],
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
    max_examples=400,
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
    event(
        "ran" if status == 0 else "usage error" if "usage:" in err else "autohub error" if err else "exit 0"
    )
    assert_clean(argv, status, out, err)
