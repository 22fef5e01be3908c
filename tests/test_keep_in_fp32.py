"""``_keep_in_fp32_modules``: every family declares what transformers declares, and T5's ``wo``
stays float32 in a float16 model, so activations float16 cannot hold stay finite, as in transformers."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import torch
import transformers

from autohub_core import AutoConfig, AutoModelForSeq2SeqLM

transformers.logging.set_verbosity_error()

FAMILY_MODULES = [
    "autohub_bert",
    "autohub_distilbert",
    "autohub_gpt2",
    "autohub_llama",
    "autohub_mistral",
    "autohub_qwen2",
    "autohub_roberta",  # RoBERTa and XLM-RoBERTa
    "autohub_t5",
]
T5_CONFIG = {
    "vocab_size": 99,
    "d_model": 32,
    "d_kv": 8,
    "d_ff": 64,
    "num_layers": 2,
    "num_heads": 4,
    "relative_attention_num_buckets": 8,
    "decoder_start_token_id": 0,
    "feed_forward_proj": "relu",
}
WO_SCALE = 3e5  # wo's outputs reach ~1e5: past float16's largest value (65504)


@pytest.mark.parametrize("module_name", FAMILY_MODULES)
def test_declarations_match_transformers(module_name: str) -> None:
    modeling = importlib.import_module(f"{module_name}.modeling")
    compared = 0
    for name in modeling.__all__:
        theirs = getattr(transformers, name, None)
        if theirs is None:
            continue
        ours = getattr(modeling, name)
        for attribute in ("_keep_in_fp32_modules", "_keep_in_fp32_modules_strict"):
            assert set(getattr(ours, attribute) or ()) == set(getattr(theirs, attribute) or ()), (
                name,
                attribute,
            )
        compared += 1
    assert compared


@pytest.fixture(scope="module")
def large_wo_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    """A T5 whose feed-forward ``wo`` produces activations float16 overflows on, and its inputs."""
    torch.manual_seed(0)
    model = transformers.T5ForConditionalGeneration(transformers.T5Config(**T5_CONFIG)).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("DenseReluDense.wo.weight"):
                parameter.mul_(WO_SCALE)
    directory = tmp_path_factory.mktemp("t5-large-wo")
    model.save_pretrained(directory)
    generator = torch.Generator().manual_seed(1)
    inputs = {
        "input_ids": torch.randint(2, 99, (2, 6), generator=generator),
        "decoder_input_ids": torch.randint(2, 99, (2, 5), generator=generator),
    }
    return directory, inputs


def test_float16_t5_keeps_wo_in_float32_and_stays_finite(
    large_wo_checkpoint: tuple[Path, dict[str, torch.Tensor]],
) -> None:
    directory, inputs = large_wo_checkpoint
    model = AutoModelForSeq2SeqLM.from_pretrained(directory, dtype=torch.float16)
    for name, parameter in model.named_parameters():
        assert parameter.dtype == (torch.float32 if name.endswith(".wo.weight") else torch.float16), name
    reference = transformers.T5ForConditionalGeneration.from_pretrained(directory, dtype=torch.float16).eval()
    full = transformers.T5ForConditionalGeneration.from_pretrained(directory).eval()
    with torch.no_grad():
        logits = model(**inputs).logits
        expected = reference(**inputs).logits
        exact = full(**inputs).logits
    assert torch.isfinite(logits).all()
    torch.testing.assert_close(logits, expected, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(logits.float(), exact, atol=2e-2, rtol=2e-2)


def test_without_keeping_wo_in_float32_the_checkpoint_overflows(
    large_wo_checkpoint: tuple[Path, dict[str, torch.Tensor]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checkpoint does exercise the mechanism: with ``wo`` in float16 the logits are not finite."""
    directory, inputs = large_wo_checkpoint
    model_class = type(AutoModelForSeq2SeqLM.from_pretrained(directory))
    monkeypatch.setattr(model_class, "_keep_in_fp32_modules", None)
    model = AutoModelForSeq2SeqLM.from_pretrained(directory, dtype=torch.float16)
    assert all(parameter.dtype == torch.float16 for parameter in model.parameters())
    with torch.no_grad():
        assert not torch.isfinite(model(**inputs).logits).all()


def test_from_config_keeps_wo_in_float32_for_float16_only() -> None:
    config = AutoConfig.for_model("t5", **T5_CONFIG)
    half = AutoModelForSeq2SeqLM.from_config(config, dtype=torch.float16)
    wo = half.encoder.block[0].layer[1].DenseReluDense.wo
    assert wo.weight.dtype == torch.float32 and half.shared.weight.dtype == torch.float16
    bfloat16 = AutoModelForSeq2SeqLM.from_config(config, dtype=torch.bfloat16)  # not strict: bf16 throughout
    assert {parameter.dtype for parameter in bfloat16.parameters()} == {torch.bfloat16}
