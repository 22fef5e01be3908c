"""Peak memory of a disk-offloaded load: a model twice the memory limit, autohub against transformers.

    python benchmarks/offload.py [--layers 12] [--json out.json]

A random Llama-shaped checkpoint (fp32, hidden 1024, intermediate 2816, vocab 32000, untied;
about 0.9 GB with 12 layers) is saved by transformers to a temporary directory. Each library then
loads it in a fresh process with ``device_map="auto"``, ``max_memory={"cpu": half the checkpoint}``
and an ``offload_folder``, and runs one forward pass and 8 greedy tokens. Reported per side, median
of ``--repeat`` interleaved runs: the peak RSS the load added (``VmHWM`` after the load minus
``VmRSS`` before it, the peak reset through ``/proc/self/clear_refs``; Linux only), the same
after forward + generate, the load time, and the modules accelerate put on
disk. The two sides' greedy tokens must be identical. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

CHILD = textwrap.dedent(
    """
    import json, sys, time, tempfile
    import torch

    def status(field):  # kB
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1])

    def reset_peak():  # VmHWM := VmRSS
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    library, path, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if library == "autohub":
        from autohub_core import AutoModelForCausalLM
    else:
        from transformers import AutoModelForCausalLM
    torch.set_num_threads(2)
    ids = torch.arange(3, 35).reshape(1, 32)
    reset_peak()
    before = status("VmRSS")
    with tempfile.TemporaryDirectory() as offload:
        start = time.perf_counter()
        model = AutoModelForCausalLM.from_pretrained(
            path, device_map="auto", max_memory={"cpu": limit}, offload_folder=offload
        )
        load_seconds = time.perf_counter() - start
        after_load = status("VmHWM")
        with torch.no_grad():
            model(ids)
            tokens = model.generate(ids, max_new_tokens=8, do_sample=False)
        after_run = status("VmHWM")
        disk = sorted(name for name, device in model.hf_device_map.items() if device == "disk")
    print("@@RESULT " + json.dumps({
        "load_rss_mib": (after_load - before) / 1024, "run_rss_mib": (after_run - before) / 1024,
        "load_seconds": load_seconds, "disk_modules": len(disk), "modules": len(model.hf_device_map),
        "tokens": tokens[0, 32:].tolist(),
    }))
    """
)


def _save_checkpoint(directory: Path, layers: int) -> int:
    import torch
    import transformers

    config = transformers.LlamaConfig(
        vocab_size=32000, hidden_size=1024, intermediate_size=2816, num_hidden_layers=layers,
        num_attention_heads=16, num_key_value_heads=8, max_position_embeddings=256, tie_word_embeddings=False,
    )  # fmt: skip
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(config).save_pretrained(directory)
    return sum(path.stat().st_size for path in directory.glob("*.safetensors"))


def _run(library: str, path: Path, limit: int) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, library, str(path), str(limit)],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in completed.stdout.splitlines():
        if line.startswith("@@RESULT "):
            return json.loads(line.removeprefix("@@RESULT "))
    raise RuntimeError(f"{library} failed:\n{completed.stderr[-3000:]}")


def main() -> None:
    """Build the checkpoint, measure both libraries interleaved, print (and optionally save) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = Path(scratch) / "llama"
        size = _save_checkpoint(checkpoint, args.layers)
        limit = size // 2
        runs: dict[str, list[dict]] = {"autohub": [], "transformers": []}
        for _ in range(args.repeat):
            for library in runs:
                runs[library].append(_run(library, checkpoint, limit))
    if runs["autohub"][0]["tokens"] != runs["transformers"][0]["tokens"]:
        raise SystemExit("greedy tokens differ between autohub and transformers")
    summary = {
        "checkpoint_mib": size / 2**20,
        "max_memory_cpu_mib": limit / 2**20,
        **{
            library: {
                key: statistics.median(run[key] for run in results)
                for key in ("load_rss_mib", "run_rss_mib", "load_seconds")
            }
            | {"disk_modules": f"{results[0]['disk_modules']}/{results[0]['modules']}"}
            for library, results in runs.items()
        },
    }
    print(
        f"checkpoint {summary['checkpoint_mib']:.0f} MiB, max_memory cpu {summary['max_memory_cpu_mib']:.0f} MiB"
    )
    print(f"{'':14}{'load RSS MiB':>14}{'run RSS MiB':>14}{'load s':>9}{'on disk':>10}")
    for library in runs:
        row = summary[library]
        print(
            f"{library:14}{row['load_rss_mib']:14.0f}{row['run_rss_mib']:14.0f}"
            f"{row['load_seconds']:9.2f}{row['disk_modules']:>10}"
        )
    ratio = summary["autohub"]["load_rss_mib"] / summary["transformers"]["load_rss_mib"]
    print(f"load RSS ratio autohub / transformers: {ratio:.2f}; greedy tokens identical")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
