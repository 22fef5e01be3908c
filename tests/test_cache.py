"""KV caches and decoding numerics against transformers: the exact bf16 path, DynamicCache /
StaticCache (tokens identical in fp32, sliding windows, beam search), torch.compile without graph
breaks or per-step recompiles, and the typed errors of bad cache requests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
import transformers
from torch._dynamo.utils import counters

from autohub_core import AutoModelForCausalLM, GenerationError, ModelInputError, UnsupportedFeatureError
from autohub_core.cache import DynamicCache, StaticCache
from autohub_core.errors import ConfigError
from autohub_core.rotary import exact_sdpa
from autohub_core.testing.parity import teacher_forced_logits

FAMILIES = {
    "llama": {},
    "mistral": {"sliding_window": 6},
    "qwen2": {"use_sliding_window": True, "sliding_window": 6, "max_window_layers": 1},
}
TINY = {
    "vocab_size": 97,
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "max_position_embeddings": 192,
    "pad_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
}
#: Full attention everywhere (batch-1 decoding then has no mask, where transformers' sdpa call
#: differs from the packed one) and 64-dim heads, where torch's bf16 kernel rounds the two calls
#: differently at some key lengths (106, 123 ... with two threads).
BF16_CHECKPOINT = {
    "llama": {"head_dim": 64},
    "mistral": {"head_dim": 64, "sliding_window": None},
    "qwen2": {"head_dim": 64, "use_sliding_window": False},
}
#: The default path's bf16 tolerance (docs/performance.md): per-step logits within this much of
#: transformers', relative to the step's largest logit.
BF16_RELATIVE_TOLERANCE = 2e-2


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """A tiny random transformers decoder of ``model_type`` saved to disk (cached per options)."""
    saved: dict[str, Path] = {}

    def save(model_type: str, dtype: torch.dtype = torch.float32, **overrides: object) -> Path:
        key = f"{model_type}{dtype}{json.dumps(overrides, sort_keys=True)}"
        if key not in saved:
            config = transformers.AutoConfig.for_model(
                model_type, **{**TINY, **FAMILIES[model_type], **overrides}
            )
            torch.manual_seed(0)
            model = transformers.AutoModelForCausalLM.from_config(config).to(dtype).eval()
            directory = tmp_path_factory.mktemp(model_type)
            model.save_pretrained(directory)
            saved[key] = directory
        return saved[key]

    return save


@pytest.fixture
def two_threads() -> Iterator[None]:
    """torch's CPU sdpa splits long key ranges over threads; with two, the packed decode path and
    transformers' grouped-query call round differently in bf16 (the difference the exact path removes)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


def _prompts(length: int, pads: tuple[int, ...]) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(3, TINY["vocab_size"], (len(pads), length), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    for row, count in enumerate(pads):
        attention_mask[row, :count] = 0
        input_ids[row, :count] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


# -- bf16: the exact path and the default one ------------------------------------------------------


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_bf16_explicit_sdpa_is_transformers_exact_and_default_within_tolerance(
    checkpoint: Callable[..., Path], model_type: str, two_threads: None
) -> None:
    directory = checkpoint(model_type, torch.bfloat16, **BF16_CHECKPOINT[model_type])
    theirs = transformers.AutoModelForCausalLM.from_pretrained(directory, dtype=torch.bfloat16).eval()
    exact = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.bfloat16, attn_implementation="sdpa")
    default = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.bfloat16)
    options = {"max_new_tokens": 16, "do_sample": False, "eos_token_id": None}
    for inputs in (_prompts(120, (0,)), _prompts(120, (0, 9, 50))):  # key lengths 120 to 135
        reference = theirs.generate(**inputs, **options)
        assert torch.equal(exact.generate(**inputs, **options), reference)
        prompt, mask = inputs["input_ids"].shape[1], inputs["attention_mask"]
        expected = teacher_forced_logits(theirs, reference, mask, prompt)
        for mine, ref in zip(teacher_forced_logits(exact, reference, mask, prompt), expected, strict=True):
            assert torch.equal(mine, ref)
        for mine, ref in zip(teacher_forced_logits(default, reference, mask, prompt), expected, strict=True):
            assert float((mine - ref).abs().max()) <= BF16_RELATIVE_TOLERANCE * float(ref.abs().max())


def test_which_path_is_which(checkpoint: Callable[..., Path]) -> None:
    directory = checkpoint("llama")
    default = AutoModelForCausalLM.from_pretrained(directory)
    explicit = AutoModelForCausalLM.from_pretrained(directory, attn_implementation="sdpa")
    assert default.config._attn_implementation == explicit.config._attn_implementation == "sdpa"
    assert not exact_sdpa(default.config) and exact_sdpa(explicit.config)
    assert exact_sdpa(AutoModelForCausalLM.from_config(default.config, attn_implementation="sdpa").config)
    assert not exact_sdpa(AutoModelForCausalLM.from_config(default.config).config)
    default.set_attn_implementation("sdpa")
    assert exact_sdpa(default.config) and exact_sdpa(default.model.config)


# -- cache objects ------------------------------------------------------------------------------------


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_dynamic_and_static_caches_give_transformers_tokens(
    checkpoint: Callable[..., Path], model_type: str
) -> None:
    directory = checkpoint(model_type)
    theirs = transformers.AutoModelForCausalLM.from_pretrained(directory).eval()
    ours = AutoModelForCausalLM.from_pretrained(directory)
    options = {"max_new_tokens": 10, "do_sample": False, "eos_token_id": None}
    for inputs in (_prompts(9, (0,)), _prompts(9, (0, 3, 8))):  # past the window of 6
        reference = theirs.generate(**inputs, **options)
        for implementation in ("dynamic", "static"):
            assert torch.equal(
                ours.generate(**inputs, **options, cache_implementation=implementation), reference
            )
    inputs = _prompts(9, (0, 4))
    beams = {**options, "max_new_tokens": 5, "num_beams": 3, "num_return_sequences": 2}
    expected = theirs.generate(**inputs, **beams)
    assert torch.equal(ours.generate(**inputs, **beams, cache_implementation="static"), expected)
    assert torch.equal(ours.generate(**inputs, **beams), expected)


def test_forward_returns_a_dynamic_cache_and_answers_tuples_with_tuples(
    checkpoint: Callable[..., Path],
) -> None:
    ours = AutoModelForCausalLM.from_pretrained(checkpoint("mistral"))  # every layer slides over 6
    inputs = _prompts(9, (0,))
    with torch.no_grad():
        output = ours(**inputs, use_cache=True)
        cache = output.past_key_values
        assert isinstance(cache, DynamicCache) and cache.get_seq_length() == 9 and len(cache) == 2
        assert cache[0][0].shape == (1, 2, 5, 8)  # the window minus the next token
        step = ours(
            torch.tensor([[5]]), attention_mask=torch.ones(1, 10, dtype=torch.long), past_key_values=cache
        )
        assert step.past_key_values is cache and cache.get_seq_length() == 10
        full = ours(**inputs, past_key_values=DynamicCache(), use_cache=True).past_key_values  # no window
        legacy = full.to_legacy_cache()
        assert legacy[1][0].shape == (1, 2, 9, 8)
        legacy_step = ours(
            torch.tensor([[5]]), attention_mask=torch.ones(1, 10, dtype=torch.long), past_key_values=legacy
        )
        assert isinstance(legacy_step.past_key_values, tuple)
        torch.testing.assert_close(legacy_step.logits, step.logits, atol=1e-6, rtol=0)


def test_static_cache_holds_windows_and_refuses_other_batches(checkpoint: Callable[..., Path]) -> None:
    ours = AutoModelForCausalLM.from_pretrained(checkpoint("qwen2"))  # layer 0 full, layer 1 slides over 6
    cache = StaticCache(ours.config, max_cache_len=32, batch_size=1)
    assert [layer.keys.shape[2] for layer in cache.layers] == [32, 6]
    with torch.no_grad():
        ours(**_prompts(9, (0,)), past_key_values=cache, use_cache=True)
        assert cache.get_seq_length() == 9 and cache.get_max_cache_shape() == 32
        with pytest.raises(ModelInputError, match="batch_size=1"):
            ours(**_prompts(9, (0, 0)), past_key_values=cache)
    with pytest.raises(ConfigError, match="max_position_embeddings"):
        StaticCache(ours.config, max_cache_len=TINY["max_position_embeddings"] + 1)


def test_compiled_forward_decodes_without_graph_breaks_or_recompiles(checkpoint: Callable[..., Path]) -> None:
    inputs = _prompts(9, (0, 3))
    options = {"max_new_tokens": 12, "eos_token_id": None, "cache_implementation": "static"}
    expected = AutoModelForCausalLM.from_pretrained(checkpoint("qwen2")).generate(**inputs, **options)
    ours = AutoModelForCausalLM.from_pretrained(checkpoint("qwen2"))  # compiled before any eager call
    torch._dynamo.reset()
    counters.clear()
    ours.forward = torch.compile(ours.forward, backend="eager")
    assert torch.equal(ours.generate(**inputs, **options), expected)
    # One graph for the prompt, one for all 11 decoding steps: a single recompile, no graph break.
    assert dict(counters["graph_break"]) == {}
    assert counters["stats"]["unique_graphs"] == 2
    assert counters["frames"]["total"] == counters["frames"]["ok"] == 2
    # A second generate() reuses both graphs: nothing is compiled again.
    counters.clear()
    assert torch.equal(ours.generate(**inputs, **options), expected)
    assert dict(counters["frames"]) == {} and dict(counters["graph_break"]) == {}
    torch._dynamo.reset()


def test_compiled_forward_with_the_default_cache_works_and_warns(
    checkpoint: Callable[..., Path], caplog: pytest.LogCaptureFixture
) -> None:
    ours = AutoModelForCausalLM.from_pretrained(checkpoint("llama"))
    inputs = _prompts(9, (0,))
    expected = ours.generate(**inputs, max_new_tokens=3, eos_token_id=None)
    torch._dynamo.reset()
    ours.forward = torch.compile(ours.forward, backend="eager")
    with caplog.at_level("WARNING", logger="autohub"):
        assert torch.equal(ours.generate(**inputs, max_new_tokens=3, eos_token_id=None), expected)
    assert "pass cache_implementation='static' to compile once" in caplog.text
    torch._dynamo.reset()


# -- bad requests, refused before any work ------------------------------------------------------


def test_bad_cache_requests_are_typed_errors_before_any_forward(
    checkpoint: Callable[..., Path], tmp_path: Path
) -> None:
    ours = AutoModelForCausalLM.from_pretrained(checkpoint("llama"))
    calls = []
    ours.register_forward_pre_hook(lambda *_: calls.append(1))
    inputs = _prompts(9, (0,))
    with pytest.raises(GenerationError, match="max_cache_len=12"):
        ours.generate(**inputs, max_new_tokens=8, cache_implementation="static", max_cache_len=12)
    with pytest.raises(GenerationError, match="max_position_embeddings"):
        ours.generate(**inputs, max_new_tokens=TINY["max_position_embeddings"], cache_implementation="static")
    with pytest.raises(GenerationError, match="batch_size=2"):
        ours.generate(**inputs, max_new_tokens=2, past_key_values=StaticCache(ours.config, 16, batch_size=2))
    with pytest.raises(GenerationError, match="cache_implementation"):
        ours.generate(**inputs, max_new_tokens=2, cache_implementation="paged_and_static")
    with pytest.raises(UnsupportedFeatureError, match="'offloaded' is not implemented"):
        ours.generate(**inputs, max_new_tokens=2, cache_implementation="offloaded")
    assert calls == []
    config = transformers.GPT2Config(vocab_size=97, n_embd=32, n_layer=1, n_head=4, n_positions=32)
    transformers.GPT2LMHeadModel(config).save_pretrained(tmp_path)
    gpt2 = AutoModelForCausalLM.from_pretrained(tmp_path)
    with pytest.raises(UnsupportedFeatureError, match="no static cache"):
        gpt2.generate(**inputs, max_new_tokens=2, cache_implementation="static")
