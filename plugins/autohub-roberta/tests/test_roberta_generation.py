"""RobertaForCausalLM / XLMRobertaForCausalLM as decoders: KV cache, generate(), cross-attention and
attention implementations, against transformers (the oracle)."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import torch
import transformers
from transformers.cache_utils import DynamicCache, EncoderDecoderCache

import autohub_core as ah

TINY = {
    "vocab_size": 99,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "max_position_embeddings": 64,
    "is_decoder": True,
}
PAD = 1
FAMILIES = {"roberta": "Roberta", "xlm-roberta": "XLMRoberta"}


@pytest.fixture(params=sorted(FAMILIES))
def family(request: pytest.FixtureRequest) -> str:
    return request.param


def save_reference(
    directory: pathlib.Path, family: str, implementation: str = "sdpa", **overrides: Any
) -> torch.nn.Module:
    torch.manual_seed(0)
    prefix = FAMILIES[family]
    config = getattr(transformers, f"{prefix}Config")(**{**TINY, **overrides})
    model = getattr(transformers, f"{prefix}ForCausalLM")._from_config(
        config, attn_implementation=implementation
    )
    model.eval().save_pretrained(directory)
    return model


def left_padded_prompts() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(3, TINY["vocab_size"], (3, 7), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, :3] = 0
    attention_mask[2, :1] = 0
    input_ids[attention_mask == 0] = PAD
    return input_ids, attention_mask


def right_padded_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ids, mask and labels (-100 at the padding); every causal row sees at least one token."""
    input_ids, attention_mask = left_padded_prompts()
    attention_mask = attention_mask.flip(-1)
    input_ids = input_ids.flip(-1)
    return input_ids, attention_mask, input_ids.masked_fill(attention_mask == 0, -100)


def encoder_states() -> tuple[torch.Tensor, torch.Tensor]:
    states = torch.randn(3, 5, TINY["hidden_size"], generator=torch.Generator().manual_seed(1))
    mask = torch.ones(3, 5, dtype=torch.long)
    mask[0, 3:] = 0
    return states, mask


@pytest.mark.parametrize(
    "options",
    [
        {"do_sample": False},
        {"do_sample": True, "top_k": 0},
        {"do_sample": True, "top_k": 10, "top_p": 0.9, "temperature": 0.7},
        {"num_beams": 3},
    ],
    ids=["greedy", "sampling", "top-k-top-p", "beam"],
)
def test_generate_matches_transformers_with_left_padding(
    tmp_path: pathlib.Path, family: str, options: dict[str, Any]
) -> None:
    reference = save_reference(tmp_path, family)
    model = ah.AutoModelForCausalLM.from_pretrained(tmp_path)
    assert type(model).__name__ == f"{FAMILIES[family]}ForCausalLM" and type(model).can_generate()
    input_ids, attention_mask = left_padded_prompts()
    kwargs = {"attention_mask": attention_mask, "max_new_tokens": 10, "pad_token_id": PAD, **options}
    torch.manual_seed(5)
    expected = reference.generate(input_ids, **kwargs)
    torch.manual_seed(5)
    actual = model.generate(input_ids, **kwargs)
    assert torch.equal(actual, expected)


def test_kv_cache_logits_equal_full_recompute(tmp_path: pathlib.Path, family: str) -> None:
    save_reference(tmp_path, family)
    model = ah.AutoModelForCausalLM.from_pretrained(tmp_path)
    input_ids, attention_mask = left_padded_prompts()
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        full = model(input_ids, attention_mask, position_ids=position_ids, use_cache=False)
        assert full.past_key_values is None
        prefix = model(input_ids[:, :4], attention_mask[:, :4], position_ids=position_ids[:, :4])
        past, logits = prefix.past_key_values, [prefix.logits]
        assert len(past) == TINY["num_hidden_layers"] and past[0][0].shape == (3, 4, 4, 8)
        for index in range(4, input_ids.shape[1]):
            step = model(
                input_ids[:, index : index + 1],
                attention_mask[:, : index + 1],
                position_ids=position_ids[:, index : index + 1],
                past_key_values=past,
            )
            past = step.past_key_values
            logits.append(step.logits)
    keep = attention_mask.bool()
    torch.testing.assert_close(torch.cat(logits, dim=1)[keep], full.logits[keep], atol=1e-5, rtol=0)


def test_cached_forward_matches_transformers(tmp_path: pathlib.Path, family: str) -> None:
    reference = save_reference(tmp_path, family)
    model = ah.AutoModelForCausalLM.from_pretrained(tmp_path)
    input_ids, attention_mask = left_padded_prompts()
    with torch.no_grad():
        expected = reference(input_ids[:, :5], attention_mask=attention_mask[:, :5], use_cache=True)
        actual = model(input_ids[:, :5], attention_mask[:, :5], use_cache=True)
        expected_step = reference(
            input_ids[:, 5:], attention_mask=attention_mask, past_key_values=expected.past_key_values
        )
        actual_step = model(input_ids[:, 5:], attention_mask, past_key_values=actual.past_key_values)
    keep = attention_mask.bool()
    torch.testing.assert_close(actual.logits[keep[:, :5]], expected.logits[keep[:, :5]], atol=1e-5, rtol=0)
    torch.testing.assert_close(actual_step.logits, expected_step.logits, atol=1e-5, rtol=0)
    for (key, value), layer in zip(
        actual_step.past_key_values, expected_step.past_key_values.layers, strict=True
    ):
        # (batch, heads, positions, head_dim): padded positions are undefined (fully masked rows)
        torch.testing.assert_close(
            key.transpose(1, 2)[keep], layer.keys.transpose(1, 2)[keep], atol=1e-5, rtol=0
        )
        torch.testing.assert_close(
            value.transpose(1, 2)[keep], layer.values.transpose(1, 2)[keep], atol=1e-5, rtol=0
        )


def test_labels_give_transformers_loss_and_no_cache(tmp_path: pathlib.Path, family: str) -> None:
    reference = save_reference(tmp_path, family)
    model = ah.AutoModelForCausalLM.from_pretrained(tmp_path)
    input_ids, attention_mask, labels = right_padded_batch()
    with torch.no_grad():
        expected = reference(input_ids, attention_mask=attention_mask, labels=labels)
        actual = model(input_ids, attention_mask, labels=labels)
    assert actual.past_key_values is None
    torch.testing.assert_close(actual.loss, expected.loss, atol=1e-5, rtol=0)
    with torch.no_grad():
        last = model(input_ids, attention_mask, logits_to_keep=1).logits
    torch.testing.assert_close(last, actual.logits[:, -1:], atol=1e-6, rtol=0)


def test_cross_attention_matches_transformers(tmp_path: pathlib.Path, family: str) -> None:
    reference = save_reference(tmp_path, family, add_cross_attention=True)
    model, info = ah.AutoModelForCausalLM.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    assert hasattr(model.roberta.encoder.layer[0], "crossattention")
    input_ids, attention_mask = left_padded_prompts()
    states, states_mask = encoder_states()
    inputs = {"encoder_hidden_states": states, "encoder_attention_mask": states_mask}
    with torch.no_grad():
        expected = reference(input_ids, attention_mask=attention_mask, **inputs, output_attentions=True)
        reference.config._attn_implementation = "eager"
        expected_weights = reference(
            input_ids, attention_mask=attention_mask, **inputs, output_attentions=True
        )
        reference.config._attn_implementation = "sdpa"
        actual = model(input_ids, attention_mask, **inputs, output_attentions=True)
    keep = attention_mask.bool()
    torch.testing.assert_close(actual.logits[keep], expected.logits[keep], atol=1e-5, rtol=0)
    assert len(actual.past_key_values[0]) == 4  # self (key, value), then cross (key, value)
    assert len(actual.cross_attentions) == TINY["num_hidden_layers"]
    for ours, theirs in zip(actual.cross_attentions, expected_weights.cross_attentions, strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)

    for options in ({"do_sample": False}, {"num_beams": 2}):
        kwargs = {
            "attention_mask": attention_mask,
            "max_new_tokens": 8,
            "pad_token_id": PAD,
            **inputs,
            **options,
        }
        # transformers 5.23's generate builds a self-attention-only cache for this head: pass the full one.
        cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        expected_tokens = reference.generate(input_ids, past_key_values=cache, **kwargs)
        assert torch.equal(model.generate(input_ids, **kwargs), expected_tokens)


def test_cross_attention_training_gradients_match(tmp_path: pathlib.Path, family: str) -> None:
    reference = save_reference(tmp_path, family, add_cross_attention=True, hidden_dropout_prob=0.0)
    model = ah.AutoModelForCausalLM.from_pretrained(tmp_path)
    input_ids, attention_mask, labels = right_padded_batch()
    states, states_mask = encoder_states()
    gradients = []
    for network in (model, reference):
        network.train()
        encoder_hidden_states = states.clone().requires_grad_()
        torch.manual_seed(3)
        loss = network(
            input_ids=input_ids,
            attention_mask=attention_mask,
            encoder_hidden_states=encoder_hidden_states,
            encoder_attention_mask=states_mask,
            labels=labels,
        ).loss
        loss.backward()
        gradients.append(encoder_hidden_states.grad)
    torch.testing.assert_close(gradients[0], gradients[1], atol=1e-5, rtol=1e-4)
    expected = dict(reference.named_parameters())
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(parameter.grad, expected[name].grad, atol=1e-5, rtol=1e-4, msg=name)


def test_encoder_hidden_states_need_cross_attention_layers(tmp_path: pathlib.Path, family: str) -> None:
    save_reference(tmp_path, family)
    model = ah.AutoModelForCausalLM.from_pretrained(tmp_path)
    states, _ = encoder_states()
    input_ids, _ = left_padded_prompts()
    with pytest.raises(ah.ConfigError, match="add_cross_attention"):
        model(input_ids, encoder_hidden_states=states)


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("is_decoder", [False, True], ids=["encoder", "decoder"])
def test_attn_implementation_matches_transformers(
    tmp_path: pathlib.Path,
    family: str,
    implementation: str,
    is_decoder: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reference = save_reference(tmp_path, family, implementation, is_decoder=is_decoder)
    model = ah.AutoModelForCausalLM.from_pretrained(tmp_path, attn_implementation=implementation)
    assert model.config._attn_implementation == implementation
    calls = []
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def counted(*args: Any, **kwargs: Any) -> torch.Tensor:
        calls.append(1)
        return sdpa(*args, **kwargs)

    input_ids, attention_mask = left_padded_prompts()
    with torch.no_grad():
        expected = reference(input_ids, attention_mask=attention_mask, output_hidden_states=True)
        monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", counted)
        actual = model(input_ids, attention_mask, output_hidden_states=True)
    assert bool(calls) == (implementation == "sdpa")
    keep = attention_mask.bool() if is_decoder else torch.ones_like(attention_mask, dtype=torch.bool)
    for ours, theirs in zip(actual.hidden_states, expected.hidden_states, strict=True):
        torch.testing.assert_close(ours[keep], theirs[keep], atol=1e-5, rtol=0)
    torch.testing.assert_close(actual.logits[keep], expected.logits[keep], atol=1e-5, rtol=0)


def test_text_encoding_is_the_base_model(tmp_path: pathlib.Path, family: str) -> None:
    """AutoModelForTextEncoding gives the base model, as transformers' MODEL_FOR_TEXT_ENCODING_MAPPING."""
    reference = save_reference(tmp_path, family, is_decoder=False)
    name = f"{FAMILIES[family]}Model"
    assert type(transformers.AutoModelForTextEncoding.from_pretrained(tmp_path)).__name__ == name
    model = ah.AutoModelForTextEncoding.from_pretrained(tmp_path)
    assert type(model).__name__ == name
    input_ids, attention_mask = left_padded_prompts()
    with torch.no_grad():
        torch.testing.assert_close(
            model(input_ids, attention_mask).last_hidden_state,
            reference.roberta(input_ids, attention_mask=attention_mask).last_hidden_state,
            atol=1e-5,
            rtol=0,
        )
