"""bf16 decoding at realistic sizes against the memory-bandwidth floor: autohub and transformers, one run.

    python benchmarks/decoding.py [--models qwen2.5-0.5b llama-3.2-1b] [--contexts 128 512 1024 2048]
                                  [--new-tokens 32] [--repeats 3]

Each model is a random bf16 checkpoint with the Hub model's config, saved by transformers to a
temporary directory and deleted after. Measured, the sides alternating (medians of ``--repeats``):

* the floor: bytes of weights one decode step reads (every linear weight, the tied or untied output
  projection, the norms) divided by the machine's copy bandwidth (``torch`` copy of 1 GB, read
  bytes per second), and the time bare ``F.linear`` takes over the same weights at batch 1;
* decode, batch 1 and batch 8: new tokens/s after a 128-token prompt (the time of ``--new-tokens``
  new tokens minus that of one), for transformers' default, autohub's default, and autohub with
  :func:`autohub_core.cpu_kernels.prepack_linear_weights`; and the fraction of the floor reached;
* per-token decode latency at each context length (batch 1): the median of 8 single decode steps,
  each timed on its own, after a prompt of that length;
* prefill: one forward over 512 tokens, tokens/s, against the time bare ``F.linear`` takes over
  the same weights with 512 rows (the matrix products alone, at the machine's bf16 GEMM rate).

CPU only; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
import transformers

from autohub_core import AutoModelForCausalLM
from autohub_core.cpu_kernels import prepack_linear_weights

MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "qwen2.5-0.5b": (
        "Qwen2Config",
        {
            "vocab_size": 151936,
            "hidden_size": 896,
            "intermediate_size": 4864,
            "num_hidden_layers": 24,
            "num_attention_heads": 14,
            "num_key_value_heads": 2,
            "max_position_embeddings": 32768,
            "rope_theta": 1000000.0,
            "tie_word_embeddings": True,
        },
    ),
    "llama-3.2-1b": (
        "LlamaConfig",
        {
            "vocab_size": 128256,
            "hidden_size": 2048,
            "intermediate_size": 8192,
            "num_hidden_layers": 16,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "head_dim": 64,
            "max_position_embeddings": 131072,
            "rope_theta": 500000.0,
            "rope_scaling": {
                "rope_type": "llama3",
                "factor": 32.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192,
            },
            "tie_word_embeddings": True,
        },
    ),
}


def _median(run: Callable[[], Any], repeats: int) -> float:
    run()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def copy_bandwidth() -> float:
    """Bytes per second read by a 1 GB tensor copy (median of 5)."""
    source = torch.empty(2**29, dtype=torch.bfloat16)
    target = torch.empty_like(source)
    return source.numel() * 2 / _median(lambda: target.copy_(source), 5)


def bytes_per_step(model: torch.nn.Module) -> int:
    """Weight bytes one decode step reads: every parameter but an untied input embedding table."""
    total = sum(parameter.numel() * parameter.element_size() for parameter in model.parameters())
    embeddings = model.get_input_embeddings().weight
    if embeddings is not model.get_output_embeddings().weight:
        total -= embeddings.numel() * embeddings.element_size()
    return total


def bare_linear_seconds(model: torch.nn.Module, repeats: int, rows: int = 1) -> float:
    """One ``F.linear`` of ``rows`` input rows over each linear weight of ``model`` (the output
    projection included): batch-1 decode's matrix-vector products, or a prefill's matrix products."""
    weights = [module.weight for module in model.modules() if isinstance(module, torch.nn.Linear)]
    inputs = {weight.shape[1]: torch.randn(rows, weight.shape[1], dtype=weight.dtype) for weight in weights}

    def run() -> None:
        for weight in weights:
            F.linear(inputs[weight.shape[1]], weight)

    with torch.inference_mode():
        return _median(run, repeats)


def decode_seconds_per_token(
    model: Any, inputs: dict[str, torch.Tensor], new_tokens: int, repeats: int
) -> float:
    """Seconds per new token (per row), the prompt's prefill excluded."""

    def generate(count: int) -> None:
        model.generate(
            **inputs, max_new_tokens=count, min_new_tokens=count, do_sample=False, eos_token_id=None
        )

    with torch.inference_mode():
        one = _median(lambda: generate(1), repeats)
        many = _median(lambda: generate(new_tokens), repeats)
    return (many - one) / (new_tokens - 1)


def step_seconds_at_context(model: Any, inputs: dict[str, torch.Tensor], steps: int) -> float:
    """Median seconds of one greedy decode step (a forward over one token with the KV cache) after
    the prompt ``inputs``, each step timed on its own."""
    samples = []
    with torch.inference_mode():
        output = model(**inputs, use_cache=True)
        mask = inputs["attention_mask"]
        for _ in range(steps):
            token = output.logits[:, -1:].argmax(-1)
            mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=-1)
            start = time.perf_counter()
            output = model(
                input_ids=token, attention_mask=mask, past_key_values=output.past_key_values, use_cache=True
            )
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _prompt(batch: int, length: int, vocab_size: int) -> dict[str, torch.Tensor]:
    input_ids = torch.randint(1, vocab_size, (batch, length), generator=torch.Generator().manual_seed(length))
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}


def benchmark(name: str, arguments: argparse.Namespace, bandwidth: float) -> None:
    """Create the checkpoint, load it three ways, and print its rows."""
    class_name, keys = MODELS[name]
    with tempfile.TemporaryDirectory() as directory:
        torch.manual_seed(0)
        config = getattr(transformers, class_name)(**keys, pad_token_id=0)
        transformers.AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16).save_pretrained(directory)
        theirs = transformers.AutoModelForCausalLM.from_pretrained(directory, dtype=torch.bfloat16).eval()
        ours = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.bfloat16).eval()
        packed = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.bfloat16).eval()
        prepack_linear_weights(packed)
    sides = {"transformers": theirs, "autohub": ours, "autohub prepacked": packed}
    step_bytes = bytes_per_step(ours)
    floor = step_bytes / bandwidth
    bare = bare_linear_seconds(ours, arguments.repeats)
    print(
        f"\n{name}: {sum(p.numel() for p in ours.parameters()) / 1e9:.2f}B parameters, "
        f"{step_bytes / 1e9:.2f} GB read per step; floor {floor * 1e3:.1f} ms/token at "
        f"{bandwidth / 1e9:.1f} GB/s; bare F.linear {bare * 1e3:.1f} ms ({step_bytes / bare / 1e9:.1f} GB/s)"
    )
    vocab = keys["vocab_size"]
    for batch in (1, 8):
        inputs = _prompt(batch, 128, vocab)
        seconds = {
            side: decode_seconds_per_token(model, inputs, arguments.new_tokens, arguments.repeats)
            for side, model in sides.items()
        }
        reference = seconds["transformers"]
        for side, step in seconds.items():
            print(
                f"  decode b{batch:<2} {side:<18} {batch / step:7.1f} tok/s  {step * 1e3:7.1f} ms/step  "
                f"x{reference / step:4.2f} vs transformers  {floor / step:4.0%} of floor"
            )
    for context in arguments.contexts:
        inputs = _prompt(1, context, vocab)
        row = {side: step_seconds_at_context(model, inputs, 8) for side, model in sides.items()}
        print(
            f"  context {context:>5}: "
            + "  ".join(f"{side} {step * 1e3:6.1f} ms" for side, step in row.items())
        )
    inputs = _prompt(1, 512, vocab)
    with torch.inference_mode():
        prefill = {
            side: _median(lambda model=model: model(**inputs), arguments.repeats)
            for side, model in sides.items()
        }
    gemms = bare_linear_seconds(ours, arguments.repeats, rows=512)
    flops = 2 * 512 * sum(m.weight.numel() for m in ours.modules() if isinstance(m, torch.nn.Linear))
    print(
        f"  prefill 512: bare F.linear over the weights {gemms * 1e3:.1f} ms ({flops / gemms / 1e9:.0f} GFLOP/s)"
    )
    for side, step in prefill.items():
        print(
            f"    {side:<18} {512 / step:7.1f} tok/s  {step * 1e3:7.1f} ms  "
            f"x{step / prefill['transformers']:4.2f} time vs transformers  x{step / gemms:4.2f} of bare F.linear"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--contexts", nargs="+", type=int, default=[128, 512, 1024, 2048])
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    transformers.logging.set_verbosity_error()
    bandwidth = copy_bandwidth()
    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, threads {torch.get_num_threads()}"
    )
    for name in arguments.models:
        benchmark(name, arguments, bandwidth)


if __name__ == "__main__":
    main()
