"""``attn_implementation``: validation, storage and each implementation's numbers.

Every family built on the core's ``attention`` gives transformers' outputs for the same
implementation (eager vs eager, sdpa vs sdpa, fp32 max-abs <= 1e-5, padded batch), and the
implementations agree with each other on the real (non-padding) positions. ``flash_attention_2``
cannot run here (no CUDA, no flash_attn): its glue (unpadding, causal alignment, re-padding) runs
against a CPU stand-in implementing flash_attn's documented semantics.
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
import transformers

from autohub_core import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForSeq2SeqLM
from autohub_core.errors import ConfigError, UnsupportedFeatureError
from autohub_core.layers import ATTENTION_IMPLEMENTATIONS, attention

transformers.logging.set_verbosity_error()
pytestmark = pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")

ROTARY = {
    "vocab_size": 99,
    "hidden_size": 32,
    "intermediate_size": 37,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
    "pad_token_id": 0,
}
FAMILIES: dict[str, dict[str, Any]] = {
    "gpt2": {"vocab_size": 99, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 64, "pad_token_id": 0},
    "llama": ROTARY,
    "mistral": {**ROTARY, "sliding_window": 4},  # the window cuts into the 7-token batch
    "qwen2": ROTARY,
    "t5": {
        "vocab_size": 99,
        "d_model": 32,
        "d_kv": 8,
        "d_ff": 37,
        "num_layers": 2,
        "num_heads": 4,
        "relative_attention_num_buckets": 8,
        "decoder_start_token_id": 0,
        "pad_token_id": 0,
    },
}
TOL = 1e-5


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """A tiny random transformers model of the family (LM head), saved once; returns its directory."""
    saved: dict[str, Path] = {}

    def save(family: str) -> Path:
        if family not in saved:
            config = transformers.AutoConfig.for_model(family, **FAMILIES[family])
            torch.manual_seed(0)
            model = _hf_class(family).from_config(config)
            saved[family] = tmp_path_factory.mktemp(family)
            model.save_pretrained(saved[family])
        return saved[family]

    return save


def _hf_class(family: str) -> Any:
    return transformers.AutoModelForSeq2SeqLM if family == "t5" else transformers.AutoModelForCausalLM


def _our_class(family: str) -> Any:
    return AutoModelForSeq2SeqLM if family == "t5" else AutoModelForCausalLM


def _batch(family: str) -> dict[str, torch.Tensor]:
    """Three sequences of 7 tokens, two of them left-padded (the decoder's T5 inputs are not padded)."""
    input_ids = torch.randint(3, 99, (3, 7), generator=torch.Generator().manual_seed(1))
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, :3] = 0
    attention_mask[2, :1] = 0
    input_ids[attention_mask == 0] = 0
    batch = {"input_ids": input_ids, "attention_mask": attention_mask}
    if family == "t5":
        batch["decoder_input_ids"] = input_ids[0:1, :5].expand(3, -1)
    return batch


def _real(family: str, batch: dict[str, torch.Tensor], logits: torch.Tensor) -> torch.Tensor:
    """The logits of the real tokens (padded rows hold whatever each implementation leaves there)."""
    if family == "t5":
        return logits
    return logits[batch["attention_mask"].bool()]


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_implementation_matches_transformers(checkpoint: Callable[[str], Path], family: str) -> None:
    directory, batch = checkpoint(family), _batch(family)
    ours: dict[str, torch.Tensor] = {}
    theirs: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for implementation in ("eager", "sdpa", "flex_attention"):
            model = _our_class(family).from_pretrained(directory, attn_implementation=implementation)
            assert model.config._attn_implementation == implementation
            ours[implementation] = model(**batch).logits
        for implementation in ("eager", "sdpa"):
            reference = (
                _hf_class(family).from_pretrained(directory, attn_implementation=implementation).eval()
            )
            theirs[implementation] = reference(**batch).logits
    for implementation in ("eager", "sdpa"):  # same implementation: every position, padding included
        assert _max_diff(ours[implementation], theirs[implementation]) <= TOL, implementation
    eager = _real(family, batch, theirs["eager"])
    for implementation in ("sdpa", "flex_attention"):
        assert _max_diff(_real(family, batch, ours[implementation]), eager) <= TOL, implementation
    assert _max_diff(_real(family, batch, theirs["sdpa"]), eager) <= TOL


@pytest.mark.parametrize("family", ["gpt2", "llama", "t5"])
def test_attention_weights_are_the_same_under_every_implementation(
    checkpoint: Callable[[str], Path], family: str
) -> None:
    directory, batch = checkpoint(family), _batch(family)
    reference = _hf_class(family).from_pretrained(directory, attn_implementation="eager").eval()
    with torch.no_grad():
        expected = reference(**batch, output_attentions=True)
        for implementation in ("sdpa", "flex_attention"):
            model = _our_class(family).from_pretrained(directory, attn_implementation=implementation)
            output = model(**batch, output_attentions=True)
            name = "decoder_attentions" if family == "t5" else "attentions"
            for ours, theirs in zip(getattr(output, name), getattr(expected, name), strict=True):
                assert _max_diff(ours, theirs) <= TOL


@pytest.mark.parametrize("family", ["gpt2", "llama", "mistral"])
def test_greedy_generation_is_the_same_under_every_implementation(
    checkpoint: Callable[[str], Path], family: str
) -> None:
    directory, batch = checkpoint(family), _batch(family)
    tokens = {}
    for implementation in ("eager", "sdpa", "flex_attention"):
        model = AutoModelForCausalLM.from_pretrained(directory, attn_implementation=implementation)
        tokens[implementation] = model.generate(**batch, max_new_tokens=5, do_sample=False)
    assert torch.equal(tokens["eager"], tokens["sdpa"]) and torch.equal(
        tokens["eager"], tokens["flex_attention"]
    )


def test_default_config_value_and_storage(checkpoint: Callable[[str], Path], tmp_path: Path) -> None:
    directory = checkpoint("llama")
    model = AutoModelForCausalLM.from_pretrained(directory)
    assert model.config._attn_implementation == "sdpa"
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert not any("attn_implementation" in key for key in saved)
    assert "_attn_implementation" not in model.config.to_dict()

    config = AutoConfig.from_pretrained(directory)
    config._attn_implementation = "eager"  # None: the config's value
    assert (
        AutoModelForCausalLM.from_pretrained(directory, config=config).config._attn_implementation == "eager"
    )
    model = AutoModel.from_config(config)
    assert model.config._attn_implementation == "eager" and model.config is not config
    model = AutoModel.from_config(config, attn_implementation="flex_attention")
    assert model.config._attn_implementation == "flex_attention"
    assert config._attn_implementation == "eager"  # from_config works on a copy


def test_set_attn_implementation_switches_every_layer(checkpoint: Callable[[str], Path]) -> None:
    directory, batch = checkpoint("t5"), _batch("t5")
    model = AutoModelForSeq2SeqLM.from_pretrained(directory)
    with torch.no_grad():
        sdpa = model(**batch).logits
        model.set_attn_implementation("eager")
        configs = [module.config for module in model.modules() if hasattr(module, "config")]
        assert configs and {config._attn_implementation for config in configs} == {"eager"}
        assert _max_diff(model(**batch).logits, sdpa) <= TOL
    with pytest.raises(ConfigError, match="flash_attention_2"):
        model.set_attn_implementation("flash")
    assert model.config._attn_implementation == "eager"


@pytest.mark.parametrize("value", ["flash", "paged|eager", "", 3])
def test_unknown_implementation_is_a_config_error_listing_the_allowed_ones(
    checkpoint: Callable[[str], Path], value: object
) -> None:
    with pytest.raises(ConfigError) as error:
        AutoModelForCausalLM.from_pretrained(checkpoint("gpt2"), attn_implementation=value)
    assert all(name in str(error.value) for name in ATTENTION_IMPLEMENTATIONS)
    config = AutoConfig.from_pretrained(checkpoint("gpt2"))
    with pytest.raises(ConfigError):
        AutoModelForCausalLM.from_config(config, attn_implementation=value)


def test_flash_attention_2_says_what_is_missing(
    checkpoint: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "flash_attn", None)  # import flash_attn raises ImportError
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UnsupportedFeatureError, match=r"flash_attn package .* and a CUDA device"):
        AutoModelForCausalLM.from_pretrained(checkpoint("llama"), attn_implementation="flash_attention_2")
    monkeypatch.setitem(sys.modules, "flash_attn", _fake_flash_attn())
    with pytest.raises(UnsupportedFeatureError, match="needs a CUDA device"):
        AutoModelForCausalLM.from_pretrained(checkpoint("llama"), attn_implementation="flash_attention_2")


def test_t5_refuses_flash_attention_2(checkpoint: Callable[[str], Path], flash: None) -> None:
    with pytest.raises(UnsupportedFeatureError, match="T5ForConditionalGeneration does not support"):
        AutoModelForSeq2SeqLM.from_pretrained(checkpoint("t5"), attn_implementation="flash_attention_2")


def test_flex_attention_refuses_dropout() -> None:
    query = torch.randn(1, 2, 3, 4)
    with pytest.raises(UnsupportedFeatureError, match="dropout"):
        attention(query, query, query, dropout=0.1, implementation="flex_attention")


# -- flash_attention_2 against a CPU stand-in ---------------------------------------------------


def _fake_flash_attn() -> types.ModuleType:
    """flash_attn's two functions as documented: (batch, seq, heads, dim) tensors, ``causal`` aligned
    on the last key, variable-length sequences packed along dim 0 with int32 offsets."""

    def flash_attn_func(
        q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout_p: float = 0.0, softmax_scale: float | None = None,
        causal: bool = False,
    ) -> torch.Tensor:  # fmt: skip
        mask = (
            torch.ones(q.shape[1], k.shape[1], dtype=torch.bool).tril(k.shape[1] - q.shape[1])
            if causal
            else None
        )
        output = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask, scale=softmax_scale
        )
        return output.transpose(1, 2)

    def flash_attn_varlen_func(
        q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cu_seqlens_q: torch.Tensor, cu_seqlens_k: torch.Tensor,
        max_seqlen_q: int, max_seqlen_k: int, dropout_p: float = 0.0, softmax_scale: float | None = None,
        causal: bool = False,
    ) -> torch.Tensor:  # fmt: skip
        assert cu_seqlens_q.dtype == cu_seqlens_k.dtype == torch.int32
        assert isinstance(max_seqlen_q, int) and isinstance(max_seqlen_k, int)
        assert q.dim() == k.dim() == 3 and len(cu_seqlens_q) == len(cu_seqlens_k)
        outputs = []
        for index in range(len(cu_seqlens_q) - 1):
            qs, qe, ks, ke = (int(cu_seqlens_q[index]), int(cu_seqlens_q[index + 1]),
                              int(cu_seqlens_k[index]), int(cu_seqlens_k[index + 1]))  # fmt: skip
            assert qe - qs <= max_seqlen_q and ke - ks <= max_seqlen_k
            if qe > qs:
                outputs.append(
                    flash_attn_func(
                        q[None, qs:qe], k[None, ks:ke], v[None, ks:ke], 0.0, softmax_scale, causal
                    )[0]
                )
        return torch.cat(outputs)

    module = types.ModuleType("flash_attn")
    module.flash_attn_func = flash_attn_func  # type: ignore[attr-defined]
    module.flash_attn_varlen_func = flash_attn_varlen_func  # type: ignore[attr-defined]
    return module


@pytest.fixture
def flash(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """flash_attn importable (the stand-in) and CUDA reported available."""
    monkeypatch.setitem(sys.modules, "flash_attn", _fake_flash_attn())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    yield


@pytest.mark.parametrize("family", ["gpt2", "llama", "qwen2"])
def test_flash_attention_2_glue_matches_sdpa(
    checkpoint: Callable[[str], Path], family: str, flash: None
) -> None:
    directory, batch = checkpoint(family), _batch(family)
    with torch.no_grad():
        flash_model = AutoModelForCausalLM.from_pretrained(directory, attn_implementation="flash_attention_2")
        sdpa_model = AutoModelForCausalLM.from_pretrained(directory)
        padded = _max_diff(
            _real(family, batch, flash_model(**batch).logits),
            _real(family, batch, sdpa_model(**batch).logits),
        )
        unpadded = {"input_ids": batch["input_ids"][:1]}
        plain = _max_diff(flash_model(**unpadded).logits, sdpa_model(**unpadded).logits)
    assert padded <= TOL and plain <= TOL
    generated = flash_model.generate(**batch, max_new_tokens=4, do_sample=False)
    assert torch.equal(generated, sdpa_model.generate(**batch, max_new_tokens=4, do_sample=False))


def test_flash_attention_2_bidirectional_padding_and_refusals(flash: None) -> None:
    query, key, value = (
        torch.randn(2, 4, 5, 8, generator=torch.Generator().manual_seed(i)) for i in range(3)
    )
    keep = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)[:, None, None, :]
    additive = torch.zeros(keep.shape).masked_fill(~keep, torch.finfo(torch.float32).min)
    expected, _ = attention(query, key, value, keep)
    for mask in (keep, additive):  # boolean or additive padding; every query row, padded ones too
        output, _ = attention(query, key, value, mask, implementation="flash_attention_2")
        assert _max_diff(output, expected) <= TOL
    bias = torch.randn(1, 4, 5, 5)
    with pytest.raises(UnsupportedFeatureError, match="bias"):
        attention(query, key, value, bias, implementation="flash_attention_2")
    window = torch.ones(5, 5, dtype=torch.bool).tril().triu(-1)
    with pytest.raises(UnsupportedFeatureError, match="sliding"):
        attention(query, key, value, window, implementation="flash_attention_2")
