"""generate() of autohub-qwen3 against transformers' Qwen3: greedy, seeded sampling and beam search
on a left-padded batch whose prompts and generations run past the sliding window."""

from __future__ import annotations

import pytest
import torch
import transformers

from autohub_core import AutoModelForCausalLM

#: Qwen3-shaped (head_dim independent of the hidden size, grouped key/values, tied embeddings),
#: sliding attention with a window of 4 on the second layer.
CONFIG = {
    "vocab_size": 99,
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "max_position_embeddings": 64,
    "tie_word_embeddings": True,
    "use_sliding_window": True,
    "sliding_window": 4,
    "max_window_layers": 1,
    "pad_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
}

Pair = tuple[torch.nn.Module, torch.nn.Module]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    """(autohub, transformers) of one tiny random Qwen3 checkpoint saved by transformers."""
    torch.manual_seed(0)
    model = transformers.Qwen3ForCausalLM(transformers.Qwen3Config(**CONFIG)).eval()
    directory = tmp_path_factory.mktemp("qwen3")
    model.save_pretrained(directory)
    return AutoModelForCausalLM.from_pretrained(directory), model


def _prompts() -> dict[str, torch.Tensor]:
    """Three prompts of lengths 7, 5 and 2, left padded (two are longer than the window)."""
    input_ids = torch.randint(3, 99, (3, 7), generator=torch.Generator().manual_seed(7))
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, :2] = 0
    attention_mask[2, :5] = 0
    input_ids[attention_mask == 0] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def _generate_both(models: Pair, seed: int = 0, **kwargs: object) -> tuple[torch.Tensor, torch.Tensor]:
    ours, theirs = models
    torch.manual_seed(seed)
    mine = ours.generate(**_prompts(), **kwargs)
    torch.manual_seed(seed)
    reference = theirs.generate(**_prompts(), **kwargs)
    return mine, reference


def test_greedy_matches_transformers_past_the_window(models: Pair) -> None:
    mine, reference = _generate_both(models, max_new_tokens=12, do_sample=False, eos_token_id=None)
    assert mine.shape == (3, 19)
    assert torch.equal(mine, reference)


@pytest.mark.parametrize(
    "options",
    [
        {"temperature": 0.7, "top_k": 10},
        {"temperature": 1.3, "top_k": 20, "top_p": 0.9, "repetition_penalty": 1.2},
    ],
    ids=["temperature-top-k", "top-p-repetition"],
)
def test_sampling_is_seeded_and_matches_transformers(models: Pair, options: dict) -> None:
    """The same global seed gives transformers' sampled tokens; a generator gives repeatable ones."""
    mine, reference = _generate_both(models, seed=11, max_new_tokens=10, do_sample=True, **options)
    assert torch.equal(mine, reference)
    ours = models[0]
    first, again = (
        ours.generate(
            **_prompts(),
            max_new_tokens=10,
            do_sample=True,
            generator=torch.Generator().manual_seed(5),
            **options,
        )
        for _ in range(2)
    )
    assert torch.equal(first, again)


def test_beam_search_matches_transformers(models: Pair) -> None:
    options = {"num_beams": 3, "num_return_sequences": 2, "length_penalty": 0.5, "do_sample": False}
    mine, reference = _generate_both(models, max_new_tokens=8, **options)
    assert mine.shape[0] == 6
    assert torch.equal(mine, reference)
