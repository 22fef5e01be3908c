"""Prepacked bf16 linear weights on the CPU: outputs bit-identical to the unpacked model, the
ordinary path wherever the packed one does not apply, and undoing it."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from autohub_core import AutoConfig, AutoModelForCausalLM, UnsupportedFeatureError, cpu_kernels
from autohub_core.cpu_kernels import prepack_linear_weights, unpack_linear_weights

needs_kernels = pytest.mark.skipif(not cpu_kernels._supported(), reason="this CPU has no oneDNN bf16 kernels")

TINY = {
    "vocab_size": 211,
    "hidden_size": 64,
    "intermediate_size": 160,
    "num_hidden_layers": 2,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
    "pad_token_id": 0,
}


def _model(
    model_type: str = "qwen2", dtype: torch.dtype = torch.bfloat16, **overrides: object
) -> torch.nn.Module:
    torch.manual_seed(0)
    config = AutoConfig.for_model(model_type, **{**TINY, **overrides})
    return AutoModelForCausalLM.from_config(config, dtype=dtype).eval()


def _prompts() -> dict[str, torch.Tensor]:
    input_ids = torch.randint(3, TINY["vocab_size"], (3, 9), generator=torch.Generator().manual_seed(1))
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, :4] = 0
    attention_mask[2, :2] = 0
    return {"input_ids": input_ids.masked_fill(attention_mask == 0, 0), "attention_mask": attention_mask}


@needs_kernels
@pytest.mark.parametrize("model_type", ["llama", "qwen2"])
def test_packed_model_is_bit_identical(model_type: str) -> None:
    model = _model(model_type, tie_word_embeddings=model_type == "qwen2")
    inputs = _prompts()
    with torch.inference_mode():
        logits = model(**inputs).logits
        tokens = model.generate(**inputs, max_new_tokens=12, eos_token_id=None)
    linears = sum(isinstance(module, torch.nn.Linear) for module in model.modules())
    assert prepack_linear_weights(model) == linears
    with torch.inference_mode():
        assert torch.equal(model(**inputs).logits, logits)
        assert torch.equal(model.generate(**inputs, max_new_tokens=12, eos_token_id=None), tokens)
        single = {key: value[:1] for key, value in inputs.items()}
        assert torch.equal(model(**single).logits, logits[:1])
    state = model.state_dict()
    assert all(not name.endswith("_autohub_packed_weight") for name in state)


@needs_kernels
def test_the_ordinary_path_runs_where_packing_does_not_apply() -> None:
    model = _model()
    assert prepack_linear_weights(model) > 0
    layer = model.model.layers[0].mlp.up_proj
    inputs = torch.randn(2, 3, TINY["hidden_size"], dtype=torch.bfloat16)
    with torch.inference_mode():
        expected = F.linear(inputs, layer.weight)
        assert torch.equal(layer(inputs), expected)
        transposed = inputs.transpose(0, 1)  # not contiguous: the ordinary path
        assert torch.equal(layer(transposed), F.linear(transposed, layer.weight))
    # Training: gradients flow through F.linear.
    model.train()
    loss = model(**_prompts(), labels=_prompts()["input_ids"]).loss
    loss.backward()
    assert layer.weight.grad is not None and bool(layer.weight.grad.abs().sum() > 0)
    # A weight changed in place after packing is read as it is now, not from the stale copy.
    with torch.no_grad():
        layer.weight.mul_(2)
        assert torch.equal(layer(inputs), F.linear(inputs, layer.weight))
        assert not torch.equal(layer(inputs), expected)


@needs_kernels
def test_unpacking_and_what_is_not_packed() -> None:
    model = _model()
    packed = prepack_linear_weights(model)
    assert prepack_linear_weights(model) == packed  # packing again refreshes, counts the same layers
    assert unpack_linear_weights(model) == packed
    assert all(not hasattr(module, "_autohub_packed_weight") for module in model.modules())
    assert all("forward" not in vars(module) for module in model.modules())
    assert prepack_linear_weights(_model(dtype=torch.float32)) == 0  # fp32: nothing to gain


def test_missing_kernels_are_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu_kernels, "_supported", lambda: False)
    with pytest.raises(UnsupportedFeatureError, match="oneDNN bf16"):
        prepack_linear_weights(_model())
