"""The model contract training libraries rely on, for every family and head, against transformers:
parameter counts, embeddings accessors, placement declarations, and loss plus gradients with
``num_items_in_batch`` and with gradient checkpointing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import transformers

from autohub_core.auto import TASKS, AutoConfig, auto_class_for_task
from autohub_core.plugins import get_registry
from autohub_core.testing import ConformanceSuite

transformers.logging.set_verbosity_error()

_NO_DROPOUT = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
_ROTARY = dict(
    vocab_size=99,
    pad_token_id=0,
    hidden_size=32,
    intermediate_size=37,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
)
_BERT = dict(
    vocab_size=99,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    max_position_embeddings=64,
    **_NO_DROPOUT,
)
FAMILIES: dict[str, dict[str, Any]] = {
    "bert": _BERT,
    "roberta": {**_BERT, "pad_token_id": 1, "max_position_embeddings": 66},
    "xlm-roberta": {**_BERT, "pad_token_id": 1, "max_position_embeddings": 66},
    "distilbert": dict(
        vocab_size=99, dim=32, n_layers=2, n_heads=4, hidden_dim=37, dropout=0.0, attention_dropout=0.0
    ),
    "gpt2": dict(
        vocab_size=99,
        pad_token_id=0,
        n_embd=32,
        n_layer=2,
        n_head=4,
        n_positions=64,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        summary_first_dropout=0.0,
    ),
    "llama": _ROTARY,
    "mistral": _ROTARY,
    "qwen2": _ROTARY,
    "t5": dict(
        vocab_size=99,
        d_model=32,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        decoder_start_token_id=0,
        dropout_rate=0.0,
    ),
}
_TASK_TO_AUTO = {task: name for name, task in TASKS.items()}


def _cases() -> list[tuple[str, str]]:
    registry = get_registry()
    return [
        (model_type, task)
        for model_type in FAMILIES
        for task in ["base", *registry.tasks(model_type)]
        if task in _TASK_TO_AUTO and hasattr(transformers, _TASK_TO_AUTO[task])
    ]


class _Inputs(ConformanceSuite):
    """The conformance kit's inputs and labels (transformers' conventions)."""

    def inputs_for(self, task: str, config: Any) -> dict[str, torch.Tensor]:
        inputs = super().inputs_for(task, config)
        if config.model_type == "t5" and task == "sequence-classification":
            inputs["input_ids"][:, 4] = config.eos_token_id  # T5 pools the hidden state at <eos>
        return inputs


@pytest.fixture(scope="module", params=_cases(), ids="-".join)
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, str]:
    """(transformers model, autohub model loaded from its checkpoint, task)."""
    model_type, task = request.param
    hf_config = transformers.AutoConfig.for_model(model_type, **FAMILIES[model_type])
    if task == "question-answering":
        hf_config.num_labels = 2
    torch.manual_seed(0)
    theirs = getattr(transformers, _TASK_TO_AUTO[task]).from_config(hf_config)
    directory = tmp_path_factory.mktemp(f"{model_type}-{task}")
    theirs.save_pretrained(directory)
    ours = auto_class_for_task(task).from_pretrained(directory)
    return theirs, ours, task


def test_class_and_declarations_match_transformers(pair: tuple[Any, Any, str]) -> None:
    theirs, ours, _ = pair
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.supports_gradient_checkpointing and theirs.supports_gradient_checkpointing
    # Where transformers declares no unit of placement (DistilBERT), autohub declares its block.
    assert set(ours._no_split_modules or ()) == set(theirs._no_split_modules or ()) or (
        not theirs._no_split_modules and ours._no_split_modules
    )
    assert set(ours._keep_in_fp32_modules or ()) == set(theirs._keep_in_fp32_modules or ())
    assert ours.main_input_name == theirs.main_input_name


def test_parameter_counts_match_transformers(pair: tuple[Any, Any, str]) -> None:
    theirs, ours, _ = pair
    for options in ({}, {"exclude_embeddings": True}, {"only_trainable": True}):
        assert ours.num_parameters(**options) == theirs.num_parameters(**options), options
    assert ours.get_memory_footprint(return_buffers=False) == theirs.get_memory_footprint(
        return_buffers=False
    )
    batch = {"input_ids": torch.ones(2, 5, dtype=torch.long)}  # transformers' Trainer counts the same
    assert ours.floating_point_ops(batch) == 6 * 10 * theirs.num_parameters(exclude_embeddings=True)


def test_embedding_accessors_match_transformers(pair: tuple[Any, Any, str]) -> None:
    theirs, ours, _ = pair
    assert torch.equal(ours.get_input_embeddings().weight, theirs.get_input_embeddings().weight)
    their_output = theirs.get_output_embeddings()
    our_output = ours.get_output_embeddings()
    assert (our_output is None) == (their_output is None)
    if our_output is not None:
        assert torch.equal(our_output.weight, their_output.weight)


def test_set_input_embeddings_reaches_the_base_model(pair: tuple[Any, Any, str]) -> None:
    _, ours, _ = pair
    original = ours.get_input_embeddings()
    replacement = torch.nn.Embedding(*original.weight.shape)
    try:
        ours.set_input_embeddings(replacement)
        assert ours.get_input_embeddings() is replacement
    finally:
        ours.set_input_embeddings(original)


@pytest.mark.parametrize("checkpointing", [False, True], ids=["eager", "checkpointing"])
def test_loss_and_gradients_with_num_items_in_batch(pair: tuple[Any, Any, str], checkpointing: bool) -> None:
    """Heads: their loss with ``num_items_in_batch``; base models: a loss on the last hidden state."""
    theirs, ours, task = pair
    kit = _Inputs()
    inputs = kit.inputs_for(task, ours.config)
    has_loss = task not in ("base", "text-encoding")
    if has_loss:
        inputs.update(kit.labels_for(task, ours.config, inputs))
        inputs["num_items_in_batch"] = torch.tensor(5)
    inputs = kit._accepted(ours, inputs)
    results = []
    for model in (theirs, ours):
        model.train()
        if checkpointing:
            model.gradient_checkpointing_enable()
        model.zero_grad()
        torch.manual_seed(0)  # the same dropout masks (heads keep their classifier dropout)
        output = model(**inputs)
        loss = output.loss if has_loss else output.last_hidden_state.pow(2).mean()
        loss.backward()
        results.append((loss.detach(), {n: p.grad for n, p in model.named_parameters()}))
        if checkpointing:
            assert model.is_gradient_checkpointing
            model.gradient_checkpointing_disable()
        model.eval()
    (their_loss, their_grads), (our_loss, our_grads) = results
    torch.testing.assert_close(our_loss, their_loss, rtol=1e-5, atol=1e-6)
    for name, grad in our_grads.items():
        if their_grads[name] is None:
            assert grad is None or not grad.any(), name
        else:
            torch.testing.assert_close(grad, their_grads[name], rtol=1e-4, atol=1e-6, msg=name)


def test_gradient_checkpointing_requires_support(tmp_path: Path) -> None:
    from autohub_core.errors import UnsupportedFeatureError
    from autohub_core.modeling import PreTrainedModel

    class Plain(PreTrainedModel):
        def __init__(self, config: Any) -> None:
            super().__init__(config)
            self.proj = torch.nn.Linear(2, 2)
            self.post_init()

    model = Plain(AutoConfig.for_model("bert", **_BERT))
    with pytest.raises(UnsupportedFeatureError, match="GradientCheckpointingLayer"):
        model.gradient_checkpointing_enable()
