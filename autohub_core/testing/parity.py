"""Assertions for a plugin's parity tests against a reference implementation (transformers).

Outputs compared field by field (nested tuples of hidden states and attentions included), and one
seeded training step whose loss and per-parameter gradients are compared by name::

    from autohub_core.testing.parity import assert_outputs_close, train_step, assert_gradients_equal

    assert_outputs_close(ours(**inputs), theirs(**inputs), hidden=True)
    (_, ours_grads), (_, theirs_grads) = train_step(ours, batch, False), train_step(theirs, batch, False)
    assert_gradients_equal(ours_grads, theirs_grads)

the seeded, left-padded batch and per-head labels the decoder families' tests feed both models
(:func:`left_padded_inputs`, :func:`head_labels`), and the per-step logits of a decoder fed a
fixed continuation (:func:`teacher_forced_logits`).
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = [
    "OUTPUT_FIELDS",
    "assert_gradients_equal",
    "assert_nested_close",
    "assert_outputs_close",
    "head_labels",
    "left_padded_inputs",
    "teacher_forced_logits",
    "train_step",
]

#: The output fields :func:`assert_outputs_close` compares when the reference has them.
OUTPUT_FIELDS = ("last_hidden_state", "logits", "start_logits", "end_logits", "loss")


def assert_nested_close(ours: object, theirs: object, what: str, atol: float = 1e-5) -> None:
    """``ours`` equals ``theirs`` within ``atol`` (rtol 0), through nested tuples and lists; ``what``
    names the value in the failure message."""
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs), what
        for index, (mine, reference) in enumerate(zip(ours, theirs, strict=True)):
            assert_nested_close(mine, reference, f"{what}[{index}]", atol)
        return
    assert ours is not None, what
    torch.testing.assert_close(ours, theirs, atol=atol, rtol=0, msg=what)


def assert_outputs_close(
    ours: object, theirs: object, hidden: bool = False, attentions: bool = False, atol: float = 1e-5
) -> None:
    """Every :data:`OUTPUT_FIELDS` entry the reference output has (at least one), and with ``hidden``
    / ``attentions`` its hidden states / attention weights, equal within ``atol``."""
    compared = 0
    for field in OUTPUT_FIELDS:
        if getattr(theirs, field, None) is not None:
            assert_nested_close(getattr(ours, field), getattr(theirs, field), field, atol)
            compared += 1
    assert compared, "the reference output has none of the compared fields"
    if hidden:
        assert_nested_close(ours.hidden_states, theirs.hidden_states, "hidden_states", atol)
    if attentions:
        assert_nested_close(ours.attentions, theirs.attentions, "attentions", atol)


def train_step(
    model: Any, kwargs: dict[str, Any], checkpointing: bool
) -> tuple[Any, dict[str, torch.Tensor]]:
    """One seeded training forward and backward (train mode, gradient checkpointing when asked):
    the output and each parameter's gradient by name."""
    model.train()
    if checkpointing:
        model.gradient_checkpointing_enable()
    torch.manual_seed(0)
    output = model(**kwargs)
    output.loss.backward()
    return output, {name: p.grad for name, p in model.named_parameters() if p.grad is not None}


def assert_gradients_equal(
    actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], atol: float = 1e-5, rtol: float = 1e-4
) -> None:
    """The same parameters have gradients, each equal within ``atol`` / ``rtol``."""
    assert actual.keys() == expected.keys()
    for name, gradient in expected.items():
        torch.testing.assert_close(actual[name], gradient, atol=atol, rtol=rtol, msg=f"gradient of {name}")


def left_padded_inputs(vocab_size: int, pad_token_id: int, length: int = 7) -> dict[str, torch.Tensor]:
    """A seeded batch of three rows of ``length`` tokens (ids from 3 up): row 1 left-padded by three
    tokens, row 2 by one, the padding holding ``pad_token_id``; ``input_ids`` and ``attention_mask``."""
    input_ids = torch.randint(3, vocab_size, (3, length), generator=torch.Generator().manual_seed(1))
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, :3] = 0
    attention_mask[2, :1] = 0
    input_ids[attention_mask == 0] = pad_token_id
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def head_labels(class_name: str, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Seeded labels for the head named ``class_name`` over ``inputs`` (at most three rows): the
    unpadded tokens for ``...CausalLM``, a class per row for ``...SequenceClassification``, a class
    per token for ``...TokenClassification``, span ends for ``...QuestionAnswering``; none else."""
    batch, length = inputs["input_ids"].shape
    if class_name.endswith("CausalLM"):
        return {"labels": inputs["input_ids"].masked_fill(inputs["attention_mask"] == 0, -100)}
    if class_name.endswith("SequenceClassification"):
        return {"labels": torch.tensor([0, 1, 1])[:batch]}
    if class_name.endswith("TokenClassification"):
        return {"labels": torch.randint(0, 2, (batch, length), generator=torch.Generator().manual_seed(2))}
    if class_name.endswith("QuestionAnswering"):
        return {
            "start_positions": torch.tensor([1, 4, 2])[:batch],
            "end_positions": torch.tensor([3, 6, 9])[:batch],
        }
    return {}


def teacher_forced_logits(
    model: torch.nn.Module, sequence: torch.Tensor, mask: torch.Tensor, prompt: int
) -> list[torch.Tensor]:
    """The next-token logits (float32, one ``(batch, vocab)`` tensor per step) of ``model`` decoding
    ``sequence`` one token at a time with its cache after the first ``prompt`` tokens, whose
    attention ``mask`` (left padding) is given; every later token is attended."""
    full_mask = torch.cat([mask, mask.new_ones(mask.shape[0], sequence.shape[1] - prompt)], dim=-1)
    positions = (full_mask.cumsum(-1) - 1).clamp(min=0)
    steps, past = [], None
    with torch.no_grad():
        for end in range(prompt, sequence.shape[1]):
            start = 0 if past is None else end - 1
            output = model(
                sequence[:, start:end],
                attention_mask=full_mask[:, :end],
                position_ids=positions[:, start:end],
                past_key_values=past,
                use_cache=True,
            )
            past = output.past_key_values
            steps.append(output.logits[:, -1].float())
    return steps
