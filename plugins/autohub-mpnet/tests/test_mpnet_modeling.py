"""MPNet model parity with transformers (the oracle), in both directions, in inference and training.

Each checkpoint is a tiny random transformers model (fixed seed) saved with ``save_pretrained``, from
a config shaped like a Hub checkpoint, shrunk: ``all-mpnet-base-v2`` / ``microsoft/mpnet-base``
(their keys and options: ``layer_norm_eps`` 1e-5, 32 relative-attention buckets, positions past the
padding index), and one variant reading the other options (another activation, untied embeddings,
a larger bucket table, ``pad_token_id`` 0, which MPNet ignores). autohub loads it through its Auto
classes and must give the same outputs (hidden states, attention weights, pooled output, logits,
losses) on padded batches, and the same loss and gradients in a training step with dropout, with
and without gradient checkpointing. The reverse direction saves with autohub and loads with
transformers.
"""

from __future__ import annotations

import math
import pathlib
from typing import Any

import pytest
import torch
import transformers
from transformers.models.mpnet.modeling_mpnet import MPNetEncoder as TransformersEncoder

from autohub_core import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForMultipleChoice,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    auto_class_for_task,
)
from autohub_core.errors import ConfigError, UnsupportedConfigError
from autohub_core.layers import relative_position_bucket
from autohub_mpnet import modeling
from autohub_mpnet.config import MPNetConfig

ATOL = 1e-5
VOCAB = 99
BATCH, SEQ, CHOICES = 3, 9, 2

# task -> (autohub Auto class, transformers class)
HEADS: dict[str, tuple[Any, Any]] = {
    "base": (AutoModel, transformers.MPNetModel),
    "masked-lm": (AutoModelForMaskedLM, transformers.MPNetForMaskedLM),
    "sequence-classification": (
        AutoModelForSequenceClassification,
        transformers.MPNetForSequenceClassification,
    ),
    "token-classification": (AutoModelForTokenClassification, transformers.MPNetForTokenClassification),
    "question-answering": (AutoModelForQuestionAnswering, transformers.MPNetForQuestionAnswering),
    "multiple-choice": (AutoModelForMultipleChoice, transformers.MPNetForMultipleChoice),
}

#: Shrunk Hub shapes: all-mpnet-base-v2 and microsoft/mpnet-base share one config.json shape.
VARIANTS: dict[str, dict[str, Any]] = {
    "all-mpnet-base-v2": {"layer_norm_eps": 1e-5, "relative_attention_num_buckets": 32},
    "options": {
        "hidden_act": "gelu_new",
        "tie_word_embeddings": False,
        "relative_attention_num_buckets": 40,
        "pad_token_id": 0,
        "layer_norm_eps": 1e-12,
    },
}


def _options(task: str, **overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "vocab_size": VOCAB,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 37,
        "max_position_embeddings": 40,
        "num_labels": 2 if task == "question-answering" else 3,
    }
    options.update(overrides)
    return options


def _save_transformers_model(root: pathlib.Path, task: str, variant: str, **overrides: Any) -> pathlib.Path:
    torch.manual_seed(0)
    config = transformers.MPNetConfig(**_options(task, **VARIANTS[variant], **overrides))
    model = HEADS[task][1](config)
    with torch.no_grad():  # trained-looking: random biases and norms, a bias table far from zero
        for name, parameter in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name:
                parameter.add_(torch.randn_like(parameter) * 0.1)
            if name.endswith("relative_attention_bias.weight"):
                parameter.normal_(0.0, 1.0)
    directory = root / f"{task}-{variant}"
    model.save_pretrained(directory)
    return directory


def _inputs(task: str, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Token ids (padding id 1) with right padding (row 1) and left padding (row 2), and the mask."""
    shape = (BATCH * CHOICES, SEQ) if task == "multiple-choice" else (BATCH, SEQ)
    input_ids = torch.randint(3, VOCAB, shape, generator=generator)
    attention_mask = torch.ones(shape, dtype=torch.long)
    input_ids[1, 6:] = modeling.PADDING_IDX
    attention_mask[1, 6:] = 0
    input_ids[2, :3] = modeling.PADDING_IDX
    attention_mask[2, :3] = 0
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    if task == "multiple-choice":
        inputs = {key: value.view(BATCH, CHOICES, SEQ) for key, value in inputs.items()}
    return inputs


def _labels(task: str, generator: torch.Generator) -> dict[str, torch.Tensor]:
    if task == "masked-lm":
        labels = torch.randint(0, VOCAB, (BATCH, SEQ), generator=generator)
        labels[1, 6:] = -100
        return {"labels": labels}
    if task == "sequence-classification":
        return {"labels": torch.randint(0, 3, (BATCH,), generator=generator)}
    if task == "token-classification":
        labels = torch.randint(0, 3, (BATCH, SEQ), generator=generator)
        labels[1, 6:] = -100
        return {"labels": labels}
    if task == "question-answering":
        return {"start_positions": torch.tensor([1, 4, 20]), "end_positions": torch.tensor([3, 5, 7])}
    if task == "multiple-choice":
        return {"labels": torch.randint(0, CHOICES, (BATCH,), generator=generator)}
    return {}


def _assert_close(actual: Any, expected: Any, where: str) -> None:
    if isinstance(expected, (tuple, list)):
        assert isinstance(actual, (tuple, list)) and len(actual) == len(expected), where
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _assert_close(a, e, f"{where}[{index}]")
        return
    assert actual.shape == expected.shape, where
    difference = (actual.float() - expected.float()).abs().max().item()
    assert difference <= ATOL, f"{where}: max-abs difference {difference}"


def _assert_same_outputs(ours: Any, theirs: Any, inputs: dict[str, Any]) -> None:
    with torch.no_grad():
        expected = theirs(**inputs, output_hidden_states=True, output_attentions=True)
        actual = ours(**inputs, output_hidden_states=True, output_attentions=True)
    expected = {key: value for key, value in expected.items() if value is not None}
    assert set(actual.keys()) == set(expected)
    for key, value in expected.items():
        _assert_close(actual[key], value, key)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], pathlib.Path]:
    """transformers checkpoints, saved once per (task, variant) on first use."""
    root = tmp_path_factory.mktemp("checkpoints")

    class _Lazy(dict):
        def __missing__(self, key: tuple[str, str]) -> pathlib.Path:
            self[key] = _save_transformers_model(root, *key)
            return self[key]

    return _Lazy()


def _load_pair(directory: pathlib.Path, task: str, **kwargs: Any) -> tuple[Any, Any]:
    ours = HEADS[task][0].from_pretrained(directory, **kwargs)
    theirs = HEADS[task][1].from_pretrained(directory, **kwargs).eval()
    return ours, theirs


@pytest.fixture(scope="module")
def loaded(checkpoints: dict) -> dict[tuple[str, str], tuple[Any, Any]]:
    """(autohub, transformers) models of each checkpoint in eval mode, loaded once on first use."""

    class _Lazy(dict):
        def __missing__(self, key: tuple[str, str]) -> tuple[Any, Any]:
            self[key] = _load_pair(checkpoints[key], key[0])
            return self[key]

    return _Lazy()


# --------------------------------------------------------------------------- inference


#: Every head in the all-mpnet-base-v2 shape; the heads whose numerics the other options change.
PARITY_CASES = [("all-mpnet-base-v2", task) for task in HEADS] + [
    ("options", task) for task in ("base", "masked-lm", "sequence-classification")
]


@pytest.mark.parametrize(("variant", "task"), PARITY_CASES)
def test_transformers_checkpoint_gives_same_outputs(loaded: dict, task: str, variant: str) -> None:
    """Every head, sdpa and eager: outputs with padding, and the loss, equal transformers'."""
    ours, theirs = loaded[task, variant]
    assert type(ours).__name__ == HEADS[task][1].__name__ and not ours.training
    assert isinstance(ours.config, MPNetConfig) and ours.config._attn_implementation == "sdpa"
    generator = torch.Generator().manual_seed(1)
    inputs = _inputs(task, generator)
    labels = _labels(task, generator)
    with torch.no_grad():
        expected = theirs(**inputs, **labels)
        actual = ours(**inputs, **labels)  # sdpa (output_attentions would take the eager path)
    _assert_close(actual.to_tuple(), expected.to_tuple(), "sdpa")
    if labels:
        assert torch.isfinite(actual.loss)
    ours.set_attn_implementation("eager")
    try:
        _assert_same_outputs(ours, theirs, inputs)
    finally:
        ours.set_attn_implementation("sdpa")


def test_bucket_function_matches_transformers() -> None:
    """Every offset from -300 to 300 (past max_distance 128) lands in transformers' bucket."""
    offsets = torch.arange(-300, 301)[None, :]
    expected = TransformersEncoder.relative_position_bucket(offsets, num_buckets=32, max_distance=128)
    actual = relative_position_bucket(offsets, bidirectional=True, num_buckets=32, max_distance=128)
    assert torch.equal(actual, expected)
    assert actual.min() == 0 and actual.max() == 31


def test_long_sequence_uses_far_buckets(tmp_path: pathlib.Path) -> None:
    """150 positions: offsets past max_distance share the last bucket of each direction."""
    directory = _save_transformers_model(tmp_path, "base", "all-mpnet-base-v2", max_position_embeddings=160)
    ours, theirs = _load_pair(directory, "base")
    input_ids = torch.randint(3, VOCAB, (2, 150), generator=torch.Generator().manual_seed(3))
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 140:] = 0
    with torch.no_grad():
        expected = theirs(input_ids, attention_mask).last_hidden_state
        actual = ours(input_ids, attention_mask).last_hidden_state
    _assert_close(actual, expected, "last_hidden_state")


def test_inputs_embeds_and_positions(loaded: dict) -> None:
    """inputs_embeds get positions from padding_idx + 1; explicit position_ids are used as given."""
    ours, theirs = loaded["masked-lm", "options"]
    input_ids = torch.randint(3, VOCAB, (2, SEQ), generator=torch.Generator().manual_seed(5))
    _assert_same_outputs(ours, theirs, {"inputs_embeds": theirs.get_input_embeddings()(input_ids)})
    positions = torch.arange(SEQ).flip(0).unsqueeze(0).expand(2, -1) + 2
    _assert_same_outputs(ours, theirs, {"input_ids": input_ids, "position_ids": positions})


def test_position_ids_follow_fairseq() -> None:
    input_ids = torch.tensor([[0, 5, 6, 2, 1, 1], [1, 1, 0, 7, 8, 2]])
    expected = torch.tensor([[2, 3, 4, 5, 1, 1], [1, 1, 2, 3, 4, 5]])
    assert torch.equal(modeling.position_ids_from_input_ids(input_ids), expected)


@pytest.mark.parametrize(
    ("num_labels", "problem_type", "labels"),
    [
        (1, None, torch.tensor([0.5, -1.0, 2.0])),
        (3, "multi_label_classification", torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])),
        (3, "regression", torch.tensor([[0.5, 1.0, 0.0], [-1.0, 0.0, 2.0], [2.0, 3.0, 1.0]])),
    ],
    ids=["regression-inferred", "multi-label", "regression-3-labels"],
)
def test_sequence_classification_problem_types(
    tmp_path: pathlib.Path, checkpoints: dict, num_labels: int, problem_type: str | None, labels: torch.Tensor
) -> None:
    """The three problem types (single-label, inferred from integer labels, is in the parity test)."""
    if num_labels == 3:
        directory = checkpoints["sequence-classification", "all-mpnet-base-v2"]
    else:
        directory = _save_transformers_model(
            tmp_path, "sequence-classification", "all-mpnet-base-v2", num_labels=num_labels
        )
    ours, theirs = _load_pair(directory, "sequence-classification", problem_type=problem_type)
    inputs = _inputs("sequence-classification", torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected, actual = theirs(**inputs, labels=labels), ours(**inputs, labels=labels)
    _assert_close(actual.logits, expected.logits, "logits")
    _assert_close(actual.loss, expected.loss, "loss")
    assert ours.config.problem_type == theirs.config.problem_type == (problem_type or "regression")


@pytest.mark.parametrize("task", list(HEADS))
def test_autohub_checkpoint_loads_in_transformers(tmp_path: pathlib.Path, task: str) -> None:
    config = AutoConfig.for_model("mpnet", **_options(task, **VARIANTS["all-mpnet-base-v2"]))
    torch.manual_seed(3)
    ours = HEADS[task][0].from_config(config).eval()
    with torch.no_grad():
        for parameter in ours.parameters():
            parameter.normal_(0.0, 0.2)
    ours.save_pretrained(tmp_path)
    theirs, info = HEADS[task][1].from_pretrained(tmp_path, output_loading_info=True)
    assert not any(info.values()), info
    inputs = _inputs(task, torch.Generator().manual_seed(2))
    _assert_same_outputs(ours, theirs.eval(), inputs)


def test_tied_head_saves_transformers_keys(tmp_path: pathlib.Path, checkpoints: dict) -> None:
    """The LM decoder is tied to the word embeddings and its bias to lm_head.bias only when configured;
    saved keys are transformers'."""
    from safetensors import safe_open

    for variant, tied in (("all-mpnet-base-v2", True), ("options", False)):
        source = checkpoints["masked-lm", variant]
        model = AutoModelForMaskedLM.from_pretrained(source)
        assert (model.lm_head.decoder.bias is model.lm_head.bias) == tied
        assert (model.lm_head.decoder.weight is model.mpnet.embeddings.word_embeddings.weight) == tied
        model.save_pretrained(tmp_path / variant)
        with (
            safe_open(str(tmp_path / variant / "model.safetensors"), "pt") as ours,
            safe_open(str(source / "model.safetensors"), "pt") as theirs,
        ):
            assert sorted(ours.keys()) == sorted(theirs.keys())


def test_text_encoding_is_the_base_model(loaded: dict) -> None:
    ours, _ = loaded["base", "all-mpnet-base-v2"]
    assert auto_class_for_task("text-encoding").from_config(ours.config).__class__ is type(ours)


def test_return_dict_false_gives_transformers_tuples(loaded: dict) -> None:
    ours, theirs = loaded["base", "all-mpnet-base-v2"]
    inputs = _inputs("base", torch.Generator().manual_seed(6))
    with torch.no_grad():
        actual, expected = ours(**inputs, return_dict=False), theirs(**inputs, return_dict=False)
    assert isinstance(actual, tuple) and len(actual) == len(expected) == 2
    _assert_close(actual, expected, "tuple")


# --------------------------------------------------------------------------- configuration


def test_config_keeps_transformers_defaults() -> None:
    ours, theirs = MPNetConfig(), transformers.MPNetConfig()
    keys = [key for key in theirs.to_diff_dict() if key not in ("transformers_version", "model_type")]
    keys += ["relative_attention_num_buckets", "layer_norm_eps", "tie_word_embeddings", "pad_token_id"]
    for key in keys:
        assert getattr(ours, key) == getattr(theirs, key), key
    assert set(ours.config_rules) >= {
        "vocab_size",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "hidden_act",
        "hidden_dropout_prob",
        "attention_probs_dropout_prob",
        "max_position_embeddings",
        "initializer_range",
        "layer_norm_eps",
        "relative_attention_num_buckets",
    }


@pytest.mark.parametrize(
    ("overrides", "error", "key"),
    [
        ({"relative_attention_num_buckets": 16}, ConfigError, "relative_attention_num_buckets"),
        ({"hidden_act": "no-such-activation"}, UnsupportedConfigError, "hidden_act"),
        ({"hidden_size": 30}, ConfigError, "hidden_size"),
        ({"hidden_dropout_prob": 1.5}, ConfigError, "hidden_dropout_prob"),
        ({"vocab_size": 1}, ConfigError, "vocab_size"),
    ],
)
def test_bad_config_is_refused(overrides: dict[str, Any], error: type, key: str) -> None:
    with pytest.raises(error, match=key):
        AutoModel.from_config(AutoConfig.for_model("mpnet", **_options("base", **overrides)))


# --------------------------------------------------------------------------- training


def _training_step(model: Any, inputs: dict[str, torch.Tensor], checkpointing: bool) -> tuple[Any, dict]:
    """Loss (``num_items_in_batch`` given) and parameter gradients of one training-mode step."""
    model.train()
    model.zero_grad()
    if checkpointing:
        model.gradient_checkpointing_enable()
    else:
        model.gradient_checkpointing_disable()
    torch.manual_seed(11)
    loss = model(**inputs, num_items_in_batch=torch.tensor(7)).loss
    loss.backward()
    return loss.detach(), {name: p.grad for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("task", [task for task in HEADS if task != "base"])
def test_training_step_matches_transformers(checkpoints: dict, task: str) -> None:
    """Loss and gradients equal transformers', with and without gradient checkpointing: eager attention
    with every dropout on (transformers' dropout masks); sdpa without dropout for one head."""
    directory = checkpoints[task, "all-mpnet-base-v2"]
    generator = torch.Generator().manual_seed(1)
    inputs = {**_inputs(task, generator), **_labels(task, generator)}
    cases = [("eager", 0.1)] + ([("sdpa", 0.0)] if task == "sequence-classification" else [])
    for implementation, dropout in cases:
        probabilities = {"hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}
        ours = HEADS[task][0].from_pretrained(directory, attn_implementation=implementation, **probabilities)
        theirs = HEADS[task][1].from_pretrained(directory, **probabilities)
        expected_loss, expected_grads = _training_step(theirs, inputs, checkpointing=False)
        assert math.isfinite(expected_loss.item()) and len(expected_grads) == len(list(theirs.parameters()))
        for checkpointing in (False, True):
            loss, grads = _training_step(ours, inputs, checkpointing)
            assert ours.is_gradient_checkpointing == checkpointing
            torch.testing.assert_close(loss, expected_loss, atol=ATOL, rtol=1e-4)
            assert grads.keys() == expected_grads.keys()
            for name, grad in grads.items():
                torch.testing.assert_close(grad, expected_grads[name], atol=ATOL, rtol=1e-4, msg=name)
