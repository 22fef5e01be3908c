"""Encoder load and forward: autohub against transformers on DeBERTa-v3-base- and
ModernBERT-base-shaped random checkpoints, in one run.

    python benchmarks/encoders.py [--models deberta-v3-base modernbert-base] [--repeats 5]
                                  [--shapes 1x128 8x128 8x512]

Each checkpoint is a random model with the Hub model's config (deberta-v3-base: 184M parameters;
ModernBERT-base: 150M), saved by transformers to a temporary directory and deleted after.
Measured, interleaved so that machine noise hits both alike:

* warm load: ``AutoModel.from_pretrained`` in this process (files in the page cache);
* forward: ``model(**inputs)`` under ``torch.inference_mode`` at each batch x length, half the
  rows padded to 3/4 of the length; the outputs are checked equal (max-abs <= 1e-4).

The table shows medians and the ratio autohub / transformers (lower is better for autohub).
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
import transformers

import autohub_core

#: The Hub configs (config.json of microsoft/deberta-v3-base and answerdotai/ModernBERT-base).
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "deberta-v3-base": (
        "DebertaV2Config",
        {
            "hidden_size": 768,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "intermediate_size": 3072,
            "hidden_act": "gelu",
            "max_position_embeddings": 512,
            "relative_attention": True,
            "position_buckets": 256,
            "norm_rel_ebd": "layer_norm",
            "share_att_key": True,
            "pos_att_type": ["p2c", "c2p"],
            "layer_norm_eps": 1e-7,
            "max_relative_positions": -1,
            "position_biased_input": False,
            "type_vocab_size": 0,
            "vocab_size": 128100,
        },
    ),
    "modernbert-base": (
        "ModernBertConfig",
        {
            "hidden_size": 768,
            "num_hidden_layers": 22,
            "num_attention_heads": 12,
            "intermediate_size": 1152,
            "hidden_activation": "gelu",
            "max_position_embeddings": 8192,
            "global_attn_every_n_layers": 3,
            "local_attention": 128,
            "vocab_size": 50368,
            "pad_token_id": 50283,
            "norm_eps": 1e-5,
        },
    ),
}


def _timed(function: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one call of ``function`` takes, and what it returned."""
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def _inputs(batch: int, length: int, vocab_size: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(batch * 1000 + length)
    input_ids = torch.randint(5, min(vocab_size, 30000), (batch, length), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[batch // 2 :, length * 3 // 4 :] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def _row(name: str, ours: float, theirs: float, unit: str = "ms") -> str:
    return f"| {name} | {ours * 1000:.1f} {unit} | {theirs * 1000:.1f} {unit} | {ours / theirs:.2f} |"


def benchmark(model_name: str, repeats: int, shapes: list[tuple[int, int]]) -> list[str]:
    """The markdown rows for one checkpoint shape."""
    config_class, settings = CONFIGS[model_name]
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        torch.manual_seed(0)
        config = getattr(transformers, config_class)(**settings)
        transformers.AutoModel.from_config(config).eval().save_pretrained(directory)
        load_ours, load_theirs = [], []
        for _ in range(repeats):
            load_ours.append(_timed(lambda: autohub_core.AutoModel.from_pretrained(directory))[0])
            load_theirs.append(_timed(lambda: transformers.AutoModel.from_pretrained(directory))[0])
        rows.append(
            _row(f"{model_name}: warm load", statistics.median(load_ours), statistics.median(load_theirs))
        )
        ours = autohub_core.AutoModel.from_pretrained(directory)
        theirs = transformers.AutoModel.from_pretrained(directory).eval()
    for batch, length in shapes:
        inputs = _inputs(batch, length, settings["vocab_size"])
        with torch.inference_mode():
            ours(**inputs), theirs(**inputs)  # warm-up
            times_ours, times_theirs = [], []
            for _ in range(repeats):
                seconds, mine = _timed(lambda inputs=inputs: ours(**inputs).last_hidden_state)
                times_ours.append(seconds)
                seconds, reference = _timed(lambda inputs=inputs: theirs(**inputs).last_hidden_state)
                times_theirs.append(seconds)
        mask = inputs["attention_mask"].bool()
        difference = (mine[mask] - reference[mask]).abs().max().item()
        if difference > 1e-4:
            raise AssertionError(f"{model_name} {batch}x{length}: outputs differ by {difference}")
        rows.append(
            _row(
                f"{model_name}: forward {batch}x{length}",
                statistics.median(times_ours),
                statistics.median(times_theirs),
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--shapes", nargs="+", default=["1x128", "8x128", "8x512"])
    arguments = parser.parse_args()
    shapes = [tuple(int(part) for part in shape.split("x")) for shape in arguments.shapes]
    transformers.logging.set_verbosity_error()
    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, threads {torch.get_num_threads()}"
    )
    print("| benchmark | autohub (median) | transformers (median) | ratio |\n| --- | --- | --- | --- |")
    for model_name in arguments.models:
        for row in benchmark(model_name, arguments.repeats, shapes):
            print(row, flush=True)


if __name__ == "__main__":
    main()
