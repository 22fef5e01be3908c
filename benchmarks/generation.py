"""Greedy generation throughput: autohub against transformers on the same Llama, in one run.

    python benchmarks/generation.py [--new-tokens 64] [--repeats 5] [--batch 1 4]

A random Llama (hidden 256, 4 layers, 8 heads / 4 KV heads, vocab 2000) is saved by
transformers to a temporary directory and loaded by both libraries. For each batch size
both generate the same number of new tokens greedily (KV cache, no EOS), interleaved so that
machine noise hits both alike; the tokens are checked identical. The table shows the median
tokens/s of each side and the ratio autohub / transformers (higher is better for autohub).
CPU only; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
import transformers

from autohub_core import AutoModelForCausalLM

CONFIG = {
    "vocab_size": 2000,
    "hidden_size": 256,
    "intermediate_size": 688,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "max_position_embeddings": 1024,
    "pad_token_id": 0,
}


def _tokens_per_second(model: torch.nn.Module, inputs: dict[str, torch.Tensor], new_tokens: int) -> tuple:
    start = time.perf_counter()
    output = model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False, eos_token_id=None)
    elapsed = time.perf_counter() - start
    return inputs["input_ids"].shape[0] * new_tokens / elapsed, output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4])
    arguments = parser.parse_args()
    transformers.logging.set_verbosity_error()

    with tempfile.TemporaryDirectory() as directory:
        torch.manual_seed(0)
        config = transformers.LlamaConfig(**CONFIG)
        transformers.LlamaForCausalLM(config).eval().save_pretrained(directory)
        ours = AutoModelForCausalLM.from_pretrained(directory)
        theirs = transformers.AutoModelForCausalLM.from_pretrained(directory).eval()

    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, threads {torch.get_num_threads()}"
    )
    print(
        f"{'batch':>5} {'prompt':>6} {'new':>4} {'autohub tok/s':>14} {'transformers tok/s':>19} {'ratio':>6}"
    )
    for batch in arguments.batch:
        generator = torch.Generator().manual_seed(batch)
        input_ids = torch.randint(1, CONFIG["vocab_size"], (batch, 16), generator=generator)
        attention_mask = torch.ones_like(input_ids)
        attention_mask[1:, :4] = 0  # left padding for every row but the first
        input_ids[attention_mask == 0] = 0
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        for model in (ours, theirs):  # warm-up
            model.generate(**inputs, max_new_tokens=4, eos_token_id=None)
        rates: dict[str, list[float]] = {"autohub": [], "transformers": []}
        for _ in range(arguments.repeats):
            rate, mine = _tokens_per_second(ours, inputs, arguments.new_tokens)
            rates["autohub"].append(rate)
            rate, reference = _tokens_per_second(theirs, inputs, arguments.new_tokens)
            rates["transformers"].append(rate)
            if not torch.equal(mine, reference):
                raise SystemExit("autohub and transformers generated different tokens")
        autohub, reference = statistics.median(rates["autohub"]), statistics.median(rates["transformers"])
        print(
            f"{batch:>5} {input_ids.shape[1]:>6} {arguments.new_tokens:>4} {autohub:>14.1f} "
            f"{reference:>19.1f} {autohub / reference:>6.2f}"
        )


if __name__ == "__main__":
    main()
