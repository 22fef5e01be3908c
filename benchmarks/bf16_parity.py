"""bf16 greedy tokens: autohub against transformers at a Qwen2.5-0.5B shape, in one run.

    python benchmarks/bf16_parity.py [--new-tokens 64] [--families llama mistral qwen2] [--layers 24]

For each family a random bfloat16 checkpoint shaped like Qwen2.5-0.5B (hidden 896, 24 layers,
14 heads / 2 KV heads, MLP 4864, vocab 151936, tied embeddings: 0.49B parameters) is written by
transformers to a temporary directory (deleted after) and loaded by both libraries in bf16. Both
decode greedily (no EOS) after a 112-token prompt, for batch 1 and a left-padded batch of 4:

- ``exact``: autohub loaded with ``attn_implementation="sdpa"``, which must give transformers'
  tokens exactly (the script exits 1 otherwise);
- ``default``: autohub's default (the packed one-token decode path): the tokens, where they first
  differ, and the largest per-step logit difference when it is fed transformers' tokens (teacher
  forcing), against the bf16 tolerance the docs state.

CPU only; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import torch
import transformers

from autohub_core import AutoModelForCausalLM
from autohub_core.testing.parity import teacher_forced_logits

SHAPE = {
    "vocab_size": 151936,
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "pad_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
}
FAMILY_KEYS = {
    "llama": {},
    "mistral": {"sliding_window": 4096},
    "qwen2": {"use_sliding_window": False, "sliding_window": 32768},
}
#: The stated tolerance of the default path: per-step bf16 logits within this much of
#: transformers', relative to the largest logit magnitude of the step.
RELATIVE_TOLERANCE = 2e-2
#: Long enough for the decode steps to cross key lengths where, with several threads, torch's bf16
#: sdpa kernel splits the keys differently for the packed and the grouped-query calls.
PROMPT_LENGTH = 112


def _prompts(vocab_size: int) -> dict[str, dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(3, vocab_size, (4, PROMPT_LENGTH), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    for row, pads in enumerate((0, 7, 40, 90)):
        attention_mask[row, :pads] = 0
        input_ids[row, :pads] = 0
    return {
        "batch 1": {"input_ids": input_ids[:1], "attention_mask": attention_mask[:1]},
        "padded batch 4": {"input_ids": input_ids, "attention_mask": attention_mask},
    }


def _first_difference(ours: torch.Tensor, theirs: torch.Tensor, prompt: int) -> str:
    differs = (ours != theirs).any(dim=0).nonzero()
    return "identical" if len(differs) == 0 else f"differ from new token {int(differs[0]) - prompt}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--families", nargs="+", default=list(FAMILY_KEYS), choices=list(FAMILY_KEYS))
    parser.add_argument("--layers", type=int, default=SHAPE["num_hidden_layers"])
    arguments = parser.parse_args()
    transformers.logging.set_verbosity_error()
    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, threads {torch.get_num_threads()}, "
        f"{arguments.new_tokens} new tokens, bf16"
    )
    failures = 0
    for family in arguments.families:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as directory:
            config = transformers.AutoConfig.for_model(
                family, **{**SHAPE, "num_hidden_layers": arguments.layers}, **FAMILY_KEYS[family]
            )
            torch.manual_seed(0)
            theirs = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16).eval()
            theirs.save_pretrained(directory)
            parameters = theirs.num_parameters()
            exact = AutoModelForCausalLM.from_pretrained(
                directory, dtype=torch.bfloat16, attn_implementation="sdpa"
            )
            default = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.bfloat16)
        print(f"\n{family}: {parameters / 1e9:.2f}B parameters")
        for label, inputs in _prompts(config.vocab_size).items():
            options = {"max_new_tokens": arguments.new_tokens, "do_sample": False, "eos_token_id": None}
            reference = theirs.generate(**inputs, **options)
            prompt = inputs["input_ids"].shape[1]
            exact_tokens = exact.generate(**inputs, **options)
            default_tokens = default.generate(**inputs, **options)
            exact_ok = torch.equal(exact_tokens, reference)
            failures += not exact_ok
            theirs_steps = teacher_forced_logits(theirs, reference, inputs["attention_mask"], prompt)
            ours_steps = teacher_forced_logits(default, reference, inputs["attention_mask"], prompt)
            worst = max(
                float((mine - ref).abs().max() / ref.abs().max())
                for mine, ref in zip(ours_steps, theirs_steps, strict=True)
            )
            failures += worst > RELATIVE_TOLERANCE
            print(
                f"  {label:15} exact: {_first_difference(exact_tokens, reference, prompt):28} "
                f"default: {_first_difference(default_tokens, reference, prompt):28} "
                f"default teacher-forced max |dlogit| / max |logit| = {worst:.2e} "
                f"(tolerance {RELATIVE_TOLERANCE:.0e})"
            )
        del theirs, exact, default
        print(f"  ({time.perf_counter() - started:.0f} s)")
    print("\nPASS" if not failures else f"\nFAIL ({failures})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
