"""DistilBERT under ``attn_implementation="eager"`` / ``"sdpa"``, and as ``AutoModelForTextEncoding``,
against transformers loaded the same way."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import torch
import transformers

from autohub_core import AutoModel, AutoModelForMaskedLM, AutoModelForTextEncoding

TINY = {
    "vocab_size": 99,
    "dim": 32,
    "n_layers": 2,
    "n_heads": 4,
    "hidden_dim": 37,
    "max_position_embeddings": 64,
}


def _save(directory: pathlib.Path, class_name: str, implementation: str = "sdpa") -> torch.nn.Module:
    torch.manual_seed(0)
    config = transformers.DistilBertConfig(**TINY)
    model = getattr(transformers, class_name)._from_config(config, attn_implementation=implementation)
    model.eval().save_pretrained(directory)
    return model


def _inputs() -> dict[str, torch.Tensor]:
    input_ids = torch.randint(4, 99, (3, 9), generator=torch.Generator().manual_seed(1))
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 6:] = 0
    attention_mask[2, :3] = 0
    return {"input_ids": input_ids.masked_fill(attention_mask == 0, 0), "attention_mask": attention_mask}


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
@pytest.mark.parametrize(
    ("class_name", "auto_class"),
    [("DistilBertModel", AutoModel), ("DistilBertForMaskedLM", AutoModelForMaskedLM)],
)
def test_attn_implementation_matches_transformers(
    tmp_path: pathlib.Path,
    class_name: str,
    auto_class: Any,
    implementation: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reference = _save(tmp_path, class_name, implementation)
    model = auto_class.from_pretrained(tmp_path, attn_implementation=implementation)
    assert model.config._attn_implementation == implementation
    calls = []
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def counted(*args: Any, **kwargs: Any) -> torch.Tensor:
        calls.append(1)
        return sdpa(*args, **kwargs)

    with torch.no_grad():
        expected = reference(**_inputs(), output_hidden_states=True)
        monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", counted)
        actual = model(**_inputs(), output_hidden_states=True)
    assert bool(calls) == (implementation == "sdpa")
    torch.testing.assert_close(actual[0], expected[0], atol=1e-5, rtol=0)
    for ours, theirs in zip(actual.hidden_states, expected.hidden_states, strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


def test_text_encoding_is_the_base_model(tmp_path: pathlib.Path) -> None:
    """AutoModelForTextEncoding gives DistilBertModel, as transformers' MODEL_FOR_TEXT_ENCODING_MAPPING."""
    reference = _save(tmp_path, "DistilBertForMaskedLM")
    assert type(transformers.AutoModelForTextEncoding.from_pretrained(tmp_path)).__name__ == "DistilBertModel"
    model = AutoModelForTextEncoding.from_pretrained(tmp_path)
    assert type(model).__name__ == "DistilBertModel"
    with torch.no_grad():
        torch.testing.assert_close(
            model(**_inputs()).last_hidden_state,
            reference.distilbert(**_inputs()).last_hidden_state,
            atol=1e-5,
            rtol=0,
        )
