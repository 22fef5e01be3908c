"""Generation: autohub against transformers on the same random checkpoints, in one run.

    python benchmarks/generation.py [--models toy-llama qwen3-0.6b gemma2-2b] [--prompt 128]
                                    [--new-tokens 32] [--repeats 3]

Each model is a random checkpoint with a Hub model's shapes, saved by transformers to a temporary
directory (bf16, except the fp32 toy) and deleted after:

* ``toy-llama``: hidden 256, 4 layers (fp32), batch 1 and a left-padded batch of 4;
* ``qwen3-0.6b``: Qwen/Qwen3-0.6B's config.json (0.6B parameters, tied embeddings), bf16;
* ``gemma2-2b``: google/gemma-2-2b's config.json (2.6B parameters, soft-capping, eager), bf16.

Measured, interleaved so that machine noise hits both alike (medians of ``--repeats``):

* load: ``AutoModelForCausalLM.from_pretrained`` in this process (files in the page cache);
* prefill: one forward over a ``--prompt``-token prompt, tokens/s;
* decode: greedy new tokens/s with the KV cache after the prompt (the time of generating
  ``--new-tokens`` minus the time of generating one, i.e. without the prefill).

Greedy tokens are compared: in fp32 they must be identical; in bf16 the table reports how many
leading tokens agree (bf16 rounding can flip near-tied logits, see docs/performance.md). Ratios are
autohub / transformers (load: lower is better; tokens/s: higher is better). CPU only.
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

from autohub_core import AutoModelForCausalLM

#: name -> (transformers config class, config keys, dtype, batch sizes)
MODELS: dict[str, tuple[str, dict[str, Any], torch.dtype, tuple[int, ...]]] = {
    "toy-llama": (
        "LlamaConfig",
        {
            "vocab_size": 2000,
            "hidden_size": 256,
            "intermediate_size": 688,
            "num_hidden_layers": 4,
            "num_attention_heads": 8,
            "num_key_value_heads": 4,
            "max_position_embeddings": 1024,
            "pad_token_id": 0,
        },
        torch.float32,
        (1, 4),
    ),
    "qwen3-0.6b": (
        "Qwen3Config",
        {
            "vocab_size": 151936,
            "hidden_size": 1024,
            "intermediate_size": 3072,
            "num_hidden_layers": 28,
            "num_attention_heads": 16,
            "num_key_value_heads": 8,
            "head_dim": 128,
            "max_position_embeddings": 40960,
            "rms_norm_eps": 1e-6,
            "rope_theta": 1000000,
            "tie_word_embeddings": True,
            "hidden_act": "silu",
            "pad_token_id": 0,
        },
        torch.bfloat16,
        (1,),
    ),
    "gemma2-2b": (
        "Gemma2Config",
        {
            "vocab_size": 256000,
            "hidden_size": 2304,
            "intermediate_size": 9216,
            "num_hidden_layers": 26,
            "num_attention_heads": 8,
            "num_key_value_heads": 4,
            "head_dim": 256,
            "max_position_embeddings": 8192,
            "query_pre_attn_scalar": 256,
            "sliding_window": 4096,
            "attn_logit_softcapping": 50.0,
            "final_logit_softcapping": 30.0,
            "hidden_activation": "gelu_pytorch_tanh",
            "pad_token_id": 0,
        },
        torch.bfloat16,
        (1,),
    ),
}


def _median_seconds(run: Callable[[], Any], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _generate(model: Any, inputs: dict[str, torch.Tensor], new_tokens: int) -> torch.Tensor:
    with torch.inference_mode():
        return model.generate(
            **inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, eos_token_id=None
        )


def _agreeing_tokens(mine: torch.Tensor, reference: torch.Tensor, prompt_length: int) -> int:
    """How many new tokens agree, counted from the first, the smallest over the rows."""
    same = (mine[:, prompt_length:] == reference[:, prompt_length:]).int()
    return int(same.cumprod(dim=-1).sum(dim=-1).min())


def benchmark(name: str, arguments: argparse.Namespace) -> None:
    """Create the checkpoint, load it with both libraries, and print its rows."""
    class_name, keys, dtype, batches = MODELS[name]
    with tempfile.TemporaryDirectory() as directory:
        torch.manual_seed(0)
        config = getattr(transformers, class_name)(**keys)
        with torch.device("cpu"):
            model = transformers.AutoModelForCausalLM.from_config(config, dtype=dtype)
        model.save_pretrained(directory)
        del model
        loaders = {
            "autohub": lambda: AutoModelForCausalLM.from_pretrained(directory, dtype=dtype),
            "transformers": lambda: transformers.AutoModelForCausalLM.from_pretrained(directory, dtype=dtype),
        }
        load = {side: [] for side in loaders}
        for _ in range(arguments.repeats):
            for side, loader in loaders.items():
                start = time.perf_counter()
                loaded = loader()
                load[side].append(time.perf_counter() - start)
                del loaded
        ours = loaders["autohub"]().eval()
        theirs = loaders["transformers"]().eval()
    parameters = sum(parameter.numel() for parameter in ours.parameters())
    load_ours, load_theirs = statistics.median(load["autohub"]), statistics.median(load["transformers"])
    print(f"\n{name}: {parameters / 1e6:.0f}M parameters, {str(dtype).removeprefix('torch.')}")
    print(
        f"  load (s)        autohub {load_ours:8.2f}  transformers {load_theirs:8.2f}  ratio {load_ours / load_theirs:5.2f}"
    )
    for batch in batches:
        generator = torch.Generator().manual_seed(batch)
        input_ids = torch.randint(1, keys["vocab_size"], (batch, arguments.prompt), generator=generator)
        attention_mask = torch.ones_like(input_ids)
        attention_mask[1:, : arguments.prompt // 4] = 0  # left padding for every row but the first
        input_ids[attention_mask == 0] = 0
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        models = {"autohub": ours, "transformers": theirs}
        for model in models.values():  # warm-up
            _generate(model, inputs, 2)
        prefill = {}
        decode = {}
        outputs = {}
        for side, model in models.items():
            with torch.inference_mode():
                prefill[side] = _median_seconds(
                    lambda model=model, inputs=inputs: model(**inputs), arguments.repeats
                )
            one = _median_seconds(
                lambda model=model, inputs=inputs: _generate(model, inputs, 1), arguments.repeats
            )
            start = time.perf_counter()
            outputs[side] = _generate(model, inputs, arguments.new_tokens)
            decode[side] = time.perf_counter() - start - one
        tokens = batch * arguments.prompt
        new = batch * (arguments.new_tokens - 1)
        rate = {side: (tokens / prefill[side], new / decode[side]) for side in models}
        agree = _agreeing_tokens(outputs["autohub"], outputs["transformers"], arguments.prompt)
        if dtype == torch.float32 and agree != arguments.new_tokens:
            raise SystemExit(f"{name}: fp32 greedy tokens differ from transformers' after {agree}")
        for index, what in enumerate(("prefill", "decode")):
            mine, reference = rate["autohub"][index], rate["transformers"][index]
            print(
                f"  {what} tok/s b{batch:<3}autohub {mine:8.1f}  transformers {reference:8.1f}  "
                f"ratio {mine / reference:5.2f}"
            )
        print(f"  greedy tokens b{batch}: {agree}/{arguments.new_tokens} leading new tokens identical")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    transformers.logging.set_verbosity_error()
    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, threads {torch.get_num_threads()}"
    )
    for name in arguments.models:
        benchmark(name, arguments)


if __name__ == "__main__":
    main()
