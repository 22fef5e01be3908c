"""Decoding on a CUDA GPU: autohub against transformers in one process, written to a JSON file.

    python benchmarks/gpu.py [--models llama-1b llama-8b] [--batches 1 8 64] [--budget 420]
                             [--json benchmarks/gpu.json]

For each model shape (random bf16 weights with the config of meta-llama/Llama-3.2-1B or
Llama-3.1-8B, saved by transformers to a temporary directory and deleted after) both libraries:

* load it onto the GPU (``from_pretrained(..., dtype=bfloat16, device_map="cuda")``, seconds);
* prefill a 512-token prompt at each batch size (tokens/s);
* decode 64 greedy new tokens at each batch size (new tokens/s, prefill excluded) with the
  dynamic cache and with the static cache (``cache_implementation="static"``), each eagerly and
  with ``torch.compile(model.forward)`` (mode ``reduce-overhead``);

and the greedy tokens of the two libraries are compared (leading tokens that agree). Every run
is timed with CUDA synchronisation; the two libraries alternate. Work that would exceed
``--budget`` seconds is skipped and listed as skipped in the JSON. ``--device cpu --tiny`` runs the
same code on a tiny model (a smoke test of this script). Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import transformers
from decoding import MODELS  # benchmarks/ is the script's folder, first on sys.path

from autohub_core import AutoModelForCausalLM

SHAPES: dict[str, dict[str, Any]] = {
    "llama-1b": MODELS["llama-3.2-1b"][1],  # the shape benchmarks/decoding.py measures on the CPU
    "llama-8b": {
        "vocab_size": 128256,
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "max_position_embeddings": 131072,
        "rope_scaling": {
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192,
        },
        "rope_theta": 500000.0,
        "tie_word_embeddings": False,
    },
    "tiny": {
        "vocab_size": 1000,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 2048,
    },
}
LIBRARIES = ("autohub", "transformers")


class Budget:
    """Seconds left of the run; ``allows(estimate)`` says whether a step still fits."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def allows(self, estimate: float) -> bool:
        """Whether ``estimate`` more seconds fit before the deadline."""
        return time.monotonic() + estimate < self.deadline


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(run: Any, device: torch.device) -> float:
    _synchronize(device)
    start = time.perf_counter()
    run()
    _synchronize(device)
    return time.perf_counter() - start


def _timed_generate(
    model: Any, inputs: dict[str, torch.Tensor], new_tokens: int, cache: str, device: torch.device
) -> tuple[float, torch.Tensor]:
    _synchronize(device)
    start = time.perf_counter()
    output = _generate(model, inputs, new_tokens, cache)
    _synchronize(device)
    return time.perf_counter() - start, output


def _load(library: str, directory: str, device: torch.device) -> Any:
    loader = AutoModelForCausalLM if library == "autohub" else transformers.AutoModelForCausalLM
    return loader.from_pretrained(directory, dtype=torch.bfloat16, device_map=str(device)).eval()


def _generate(model: Any, inputs: dict[str, torch.Tensor], new_tokens: int, cache: str) -> torch.Tensor:
    options = {"cache_implementation": "static"} if cache == "static" else {}
    with torch.inference_mode():
        return model.generate(
            **inputs,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=0,
            **options,
        )


def measure_model(name: str, arguments: argparse.Namespace, device: torch.device, budget: Budget) -> dict:
    """Every figure of one model shape, for both libraries."""
    result: dict[str, Any] = {"model": name, "rows": [], "skipped": []}
    config = transformers.LlamaConfig(**SHAPES[name], pad_token_id=0)
    with tempfile.TemporaryDirectory() as directory:
        with torch.device(device):
            model = transformers.LlamaForCausalLM._from_config(config, dtype=torch.bfloat16)
        result["parameters"] = sum(parameter.numel() for parameter in model.parameters())
        model.save_pretrained(directory)
        del model
        models = {}
        for library in LIBRARIES:
            _synchronize(device)
            start = time.perf_counter()
            models[library] = _load(library, directory, device)
            _synchronize(device)
            result["rows"].append(
                {"library": library, "figure": "load_s", "value": time.perf_counter() - start}
            )
    prompt, new_tokens = arguments.prompt, arguments.new_tokens
    for batch in arguments.batches:
        generator = torch.Generator().manual_seed(batch)
        input_ids = torch.randint(1, config.vocab_size, (batch, prompt), generator=generator).to(device)
        inputs = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
        outputs: dict[tuple[str, str, str], torch.Tensor] = {}
        for library, model in models.items():
            with torch.inference_mode():
                model(**inputs)  # warm-up
                seconds = _timed(lambda model=model, inputs=inputs: model(**inputs), device)
            result["rows"].append(
                {
                    "library": library,
                    "figure": "prefill_tok_s",
                    "batch": batch,
                    "value": batch * prompt / seconds,
                }
            )
        for compiled in (False, True):
            for cache in ("dynamic", "static"):
                for library, model in models.items():
                    key = f"{library} batch {batch} {cache} {'compiled' if compiled else 'eager'}"
                    if not budget.allows(arguments.step_estimate * (4 if compiled else 1)):
                        result["skipped"].append(key)
                        continue
                    forward = model.forward
                    try:
                        if compiled:
                            model.forward = torch.compile(forward, mode="reduce-overhead")
                        _generate(model, inputs, 4, cache)  # warm-up (and compilation)
                        one, _ = _timed_generate(model, inputs, 1, cache, device)
                        total, outputs[(library, cache, str(compiled))] = _timed_generate(
                            model, inputs, new_tokens, cache, device
                        )
                    except Exception as error:  # one failing configuration must not lose the others
                        result["skipped"].append(f"{key}: {type(error).__name__}: {str(error)[:300]}")
                        continue
                    finally:
                        model.forward = forward
                    if total <= one:
                        result["skipped"].append(f"{key}: {new_tokens} tokens took no longer than 1, rerun")
                        continue
                    result["rows"].append(
                        {
                            "library": library,
                            "figure": "decode_tok_s",
                            "batch": batch,
                            "cache": cache,
                            "compiled": compiled,
                            "value": batch * (new_tokens - 1) / (total - one),
                        }
                    )
                pair = [outputs.get((library, cache, str(compiled))) for library in LIBRARIES]
                if all(output is not None for output in pair):
                    same = (pair[0][:, prompt:] == pair[1][:, prompt:]).int().cumprod(dim=-1).sum(dim=-1)
                    result["rows"].append(
                        {
                            "figure": "greedy_tokens_agreeing",
                            "batch": batch,
                            "cache": cache,
                            "compiled": compiled,
                            "value": int(same.min()),
                            "of": new_tokens,
                        }
                    )
    del models
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=sorted(SHAPES), default=["llama-1b", "llama-8b"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8, 64])
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--budget", type=float, default=420.0, help="seconds for the whole run")
    parser.add_argument(
        "--step-estimate", type=float, default=10.0, help="seconds one eager decode run may take"
    )
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="the tiny shape only (smoke test)")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/gpu.json"))
    arguments = parser.parse_args()
    transformers.logging.set_verbosity_error()
    device = torch.device(arguments.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --device cpu --tiny for a smoke test")
    if arguments.tiny:
        arguments.models = ["tiny"]
    budget = Budget(arguments.budget)
    report = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
        "prompt": arguments.prompt,
        "new_tokens": arguments.new_tokens,
        "models": [],
    }
    for name in arguments.models:
        report["models"].append(measure_model(name, arguments, device, budget))
        arguments.json.write_text(json.dumps(report, indent=2))  # what is measured survives a later failure
        print(json.dumps(report["models"][-1], indent=2))


if __name__ == "__main__":
    main()
