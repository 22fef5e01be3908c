"""Parity of autohub-modernbert with transformers' ModernBERT: every head, padded and unpadded paths,
losses of every problem type, gradients, both save directions and every config option."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import transformers

from autohub_core import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForMultipleChoice,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    ConfigError,
    UnsupportedConfigError,
    UnsupportedFeatureError,
)
from autohub_core.testing.parity import assert_gradients_equal, train_step

FAMILY = "modernbert"
#: answerdotai/ModernBERT-base's config.json as the Hub has it (transformers 4 keys), shrunk: a
#: global layer every 3 (layers 0 and 3), a window of 2 on each side, shorter than the inputs.
HUB_CONFIG = {
    "architectures": ["ModernBertForMaskedLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "classifier_activation": "gelu",
    "classifier_bias": False,
    "classifier_dropout": 0.0,
    "classifier_pooling": "mean",
    "cls_token_id": 1,
    "decoder_bias": True,
    "deterministic_flash_attn": False,
    "embedding_dropout": 0.0,
    "eos_token_id": 2,
    "global_attn_every_n_layers": 3,
    "global_rope_theta": 160000.0,
    "gradient_checkpointing": False,
    "hidden_activation": "gelu",
    "hidden_size": 32,
    "initializer_cutoff_factor": 2.0,
    "initializer_range": 0.02,
    "intermediate_size": 24,
    "layer_norm_eps": 1e-05,
    "local_attention": 4,
    "local_rope_theta": 10000.0,
    "max_position_embeddings": 64,
    "mlp_bias": False,
    "mlp_dropout": 0.0,
    "model_type": "modernbert",
    "norm_bias": False,
    "norm_eps": 1e-05,
    "num_attention_heads": 4,
    "num_hidden_layers": 4,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
    "reference_compile": True,
    "sep_token_id": 2,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
    "transformers_version": "4.48.0",
    "vocab_size": 99,
}
TINY = {key: value for key, value in HUB_CONFIG.items() if key not in ("architectures", "model_type")}
HEADS = {
    "ModernBertModel": AutoModel,
    "ModernBertForMaskedLM": AutoModelForMaskedLM,
    "ModernBertForSequenceClassification": AutoModelForSequenceClassification,
    "ModernBertForTokenClassification": AutoModelForTokenClassification,
    "ModernBertForQuestionAnswering": AutoModelForQuestionAnswering,
    "ModernBertForMultipleChoice": AutoModelForMultipleChoice,
}
OUTPUT_FIELDS = ("last_hidden_state", "logits", "start_logits", "end_logits", "loss")
BATCH, LENGTH, CHOICES = 3, 11, 2


@pytest.fixture(scope="module")
def save_hf(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Save a tiny random transformers model of ``class_name`` (once per configuration)."""
    cache: dict[tuple, Path] = {}

    def save(class_name: str = "ModernBertForMaskedLM", **overrides: object) -> Path:
        key = (class_name, json.dumps(overrides, sort_keys=True))
        if key not in cache:
            config = transformers.AutoConfig.for_model(FAMILY, **{**TINY, **overrides})
            torch.manual_seed(0)
            model = getattr(transformers, class_name)(config)
            directory = tmp_path_factory.mktemp(class_name)
            model.save_pretrained(directory)
            cache[key] = directory
        return cache[key]

    return save


def _inputs(class_name: str, left_padding: bool = True) -> dict[str, torch.Tensor]:
    """Right padding in row 1, left padding in row 2 (unless ``left_padding`` is off); pads longer
    than the window, so padded queries see no real token in the local layers."""
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(3, TINY["vocab_size"], (BATCH, LENGTH), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, -5:] = 0
    if left_padding:
        attention_mask[2, :4] = 0
    else:
        attention_mask[2, -1:] = 0
    input_ids[attention_mask == 0] = TINY["pad_token_id"]
    if class_name.endswith("MultipleChoice"):
        input_ids = input_ids[:, None].expand(-1, CHOICES, -1).clone()
        input_ids[:, 1, 1] = 7
        attention_mask = attention_mask[:, None].expand(-1, CHOICES, -1).clone()
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def _labels(class_name: str, inputs: dict[str, torch.Tensor], config: Any = None) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    mask = inputs["attention_mask"]
    if class_name.endswith("MaskedLM"):
        labels = inputs["input_ids"].masked_fill(mask == 0, -100)
        labels[:, ::3] = -100
        return {"labels": labels}
    if class_name.endswith("SequenceClassification"):
        problem = getattr(config, "problem_type", None) if config is not None else None
        if problem == "regression":
            return {"labels": torch.randn(BATCH, 1, generator=generator)}
        if problem == "multi_label_classification":
            return {"labels": torch.randint(0, 2, (BATCH, 2), generator=generator).float()}
        return {"labels": torch.tensor([0, 1, 1])}
    if class_name.endswith("TokenClassification"):
        labels = torch.randint(0, 2, (BATCH, LENGTH), generator=generator)
        return {"labels": labels.masked_fill(mask == 0, -100)}
    if class_name.endswith("QuestionAnswering"):
        return {"start_positions": torch.tensor([1, 4, 5]), "end_positions": torch.tensor([3, 5, 12])}
    if class_name.endswith("MultipleChoice"):
        return {"labels": torch.tensor([0, 1, 1])}
    return {}


def _assert_close(ours: object, theirs: object, what: str, where: torch.Tensor | None = None) -> None:
    """Equal to 1e-5; ``where`` (batch, length) booleans restrict (batch, length, ...) tensors."""
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs), what
        for index, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            _assert_close(a, b, f"{what}[{index}]", where)
        return
    assert isinstance(ours, torch.Tensor), what
    if where is not None and theirs.dim() >= 2 and tuple(theirs.shape[:2]) == tuple(where.shape):
        ours, theirs = ours[where], theirs[where]
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0, msg=what)


def _compare(ours: Any, theirs: Any, where: torch.Tensor | None = None, attentions: bool = False) -> None:
    compared = 0
    for field in OUTPUT_FIELDS:
        if getattr(theirs, field, None) is not None:
            _assert_close(getattr(ours, field), getattr(theirs, field), field, where)
            compared += 1
    assert compared
    if theirs.hidden_states is not None:
        _assert_close(ours.hidden_states, theirs.hidden_states, "hidden_states", where)
    if attentions:
        _assert_close(ours.attentions, theirs.attentions, "attentions")


def _real_tokens(class_name: str, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    mask = inputs["attention_mask"].bool()
    return mask.reshape(-1, mask.shape[-1]) if class_name.endswith("MultipleChoice") else mask


@pytest.mark.parametrize("class_name", sorted(HEADS))
def test_head_matches_transformers_both_ways(
    save_hf: Callable[..., Path], class_name: str, tmp_path: Path
) -> None:
    """A transformers checkpoint gives transformers' outputs, losses and hidden states everywhere
    (padding included) on the padded path and at the real tokens on the unpadded path; autohub's
    save loads in transformers with the same outputs."""
    directory = save_hf(class_name)
    ours = HEADS[class_name].from_pretrained(directory)
    assert type(ours).__name__ == class_name
    theirs = getattr(transformers, class_name).from_pretrained(directory).eval()
    inputs = _inputs(class_name)
    arguments = {**inputs, **_labels(class_name, inputs), "output_hidden_states": True}
    with torch.no_grad():
        expected = theirs(**arguments)
        _compare(ours(**arguments), expected)
        # Unpadded: the padding's own outputs are zeros, and a left-padded row's first token is padding
        # (QA's loss takes a softmax over every position, padding included: compared on the padded path).
        right = _inputs(class_name, left_padding=False)
        right_labels = {} if class_name.endswith("QuestionAnswering") else _labels(class_name, right)
        right_arguments = {**right, **right_labels, "output_hidden_states": True}
        _compare(
            ours(**right_arguments, unpad_inputs=True),
            theirs(**right_arguments),
            _real_tokens(class_name, right),
        )
    ours.save_pretrained(tmp_path)
    reloaded = getattr(transformers, class_name).from_pretrained(tmp_path).eval()
    with torch.no_grad():
        _compare(ours(**arguments), reloaded(**arguments))


@pytest.mark.parametrize("implementation", ["sdpa", "eager"])
def test_unpadded_path_equals_padded_path(save_hf: Callable[..., Path], implementation: str) -> None:
    """Packed real tokens with a block-diagonal (+ window) mask give the padded path's outputs at the
    real tokens, for left and right padding, and zeros at the padding."""
    model = AutoModel.from_pretrained(save_hf("ModernBertModel"), attn_implementation=implementation)
    inputs = _inputs("ModernBertModel")
    with torch.no_grad():
        padded = model(**inputs, output_hidden_states=True)
        unpadded = model(**inputs, output_hidden_states=True, unpad_inputs=True)
    real = inputs["attention_mask"].bool()
    _compare(unpadded, padded, real)
    assert torch.equal(unpadded.last_hidden_state[~real], torch.zeros_like(padded.last_hidden_state[~real]))


def test_attentions_match_eager_transformers(save_hf: Callable[..., Path]) -> None:
    directory = save_hf("ModernBertForMaskedLM")
    ours = AutoModelForMaskedLM.from_pretrained(directory)
    theirs = transformers.ModernBertForMaskedLM.from_pretrained(directory, attn_implementation="eager").eval()
    inputs = _inputs("ModernBertForMaskedLM")
    with torch.no_grad():
        expected = theirs(**inputs, output_attentions=True, output_hidden_states=True)
        _compare(ours(**inputs, output_attentions=True, output_hidden_states=True), expected, attentions=True)
        # unpad_inputs is overridden: attention weights exist on the padded path only.
        unpadded = ours(**inputs, output_attentions=True, output_hidden_states=True, unpad_inputs=True)
        _compare(unpadded, expected, attentions=True)


def test_flash_attention_without_flash_attn_is_a_typed_error(save_hf: Callable[..., Path]) -> None:
    with pytest.raises(UnsupportedFeatureError, match="flash_attn"):
        AutoModel.from_pretrained(save_hf("ModernBertModel"), attn_implementation="flash_attention_2")


PROBLEMS = [
    ({"num_labels": 1}, "regression"),
    ({"num_labels": 2}, "single_label_classification"),
    ({"num_labels": 2, "problem_type": "multi_label_classification"}, "multi_label_classification"),
]


@pytest.mark.parametrize(("overrides", "problem"), PROBLEMS, ids=[problem for _, problem in PROBLEMS])
def test_sequence_classification_losses(save_hf: Callable[..., Path], overrides: dict, problem: str) -> None:
    """Each problem type's loss, with either pooling, on both paths."""
    directory = save_hf("ModernBertForSequenceClassification", **overrides)
    ours = AutoModelForSequenceClassification.from_pretrained(directory)
    theirs = transformers.ModernBertForSequenceClassification.from_pretrained(directory).eval()
    inputs = _inputs("ModernBertForSequenceClassification", left_padding=False)
    labels = _labels(
        "ModernBertForSequenceClassification", inputs, AutoConfig.for_model(FAMILY, problem_type=problem)
    )
    for pooling in ("cls", "mean"):
        ours.config.classifier_pooling = theirs.config.classifier_pooling = pooling
        with torch.no_grad():
            expected = theirs(**inputs, **labels)
            _compare(ours(**inputs, **labels), expected)
            _compare(ours(**inputs, **labels, unpad_inputs=True), expected)
    assert ours.config.problem_type == theirs.config.problem_type == problem


DROPOUTS = {"attention_dropout": 0.1, "mlp_dropout": 0.1, "embedding_dropout": 0.1, "classifier_dropout": 0.1}


@pytest.mark.parametrize("class_name", [name for name in sorted(HEADS) if HEADS[name] is not AutoModel])
def test_training_step_matches_transformers(save_hf: Callable[..., Path], class_name: str) -> None:
    """Train mode, every dropout at 0.1 with the same seed, ``num_items_in_batch``: loss and gradients
    equal transformers', and stay equal under gradient checkpointing."""
    directory = save_hf(class_name, **DROPOUTS)
    inputs = _inputs(class_name)
    kwargs = {**inputs, **_labels(class_name, inputs), "num_items_in_batch": torch.tensor(7)}
    reference = getattr(transformers, class_name).from_pretrained(directory)
    expected, expected_gradients = train_step(reference, kwargs, checkpointing=False)
    for checkpointing in (False, True):
        actual, gradients = train_step(HEADS[class_name].from_pretrained(directory), kwargs, checkpointing)
        torch.testing.assert_close(actual.loss, expected.loss, atol=1e-5, rtol=1e-4)
        assert_gradients_equal(gradients, expected_gradients)


@pytest.mark.parametrize("class_name", ["ModernBertForMaskedLM", "ModernBertForTokenClassification"])
def test_unpadded_training_matches_transformers(save_hf: Callable[..., Path], class_name: str) -> None:
    """The unpadded path trains like transformers' padded one when the padding carries no label."""
    directory = save_hf(class_name)
    inputs = _inputs(class_name)
    kwargs = {**inputs, **_labels(class_name, inputs)}
    expected, expected_gradients = train_step(
        getattr(transformers, class_name).from_pretrained(directory), kwargs, False
    )
    actual, gradients = train_step(
        HEADS[class_name].from_pretrained(directory), {**kwargs, "unpad_inputs": True}, False
    )
    torch.testing.assert_close(actual.loss, expected.loss, atol=1e-5, rtol=1e-4)
    assert_gradients_equal(gradients, expected_gradients)


CONFIG_OPTIONS = [
    (
        "ModernBertForMaskedLM",
        {"norm_bias": True, "attention_bias": True, "mlp_bias": True, "classifier_bias": True},
    ),
    ("ModernBertForMaskedLM", {"decoder_bias": False, "tie_word_embeddings": False}),
    ("ModernBertForMaskedLM", {"hidden_activation": "gelu_pytorch_tanh", "classifier_activation": "silu"}),
    ("ModernBertForMaskedLM", {"global_attn_every_n_layers": 2, "local_attention": 2, "norm_eps": 1e-6}),
    (
        "ModernBertForMaskedLM",
        {"layer_types": ["sliding_attention", "full_attention", "sliding_attention", "sliding_attention"]},
    ),
    ("ModernBertForMaskedLM", {"local_attention": 64}),  # a window wider than the inputs
    ("ModernBertForMaskedLM", {"global_rope_theta": 500.0, "local_rope_theta": 50.0}),
    (
        "ModernBertForMaskedLM",
        {
            "rope_parameters": {
                "full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1000.0},
                "sliding_attention": {"rope_type": "yarn", "factor": 4.0, "rope_theta": 100.0},
            }
        },
    ),
    (
        "ModernBertForMaskedLM",
        {
            "max_position_embeddings": 8,  # shorter than the inputs: dynamic scaling grows the base
            "rope_parameters": {
                "full_attention": {"rope_type": "dynamic", "factor": 2.0, "rope_theta": 1000.0},
                "sliding_attention": {
                    "rope_type": "llama3",
                    "factor": 8.0,
                    "low_freq_factor": 1.0,
                    "high_freq_factor": 4.0,
                    "original_max_position_embeddings": 4,
                    "rope_theta": 100.0,
                },
            },
        },
    ),
    ("ModernBertForMaskedLM", {"sparse_prediction": True}),
    ("ModernBertForMaskedLM", {"sparse_prediction": True, "sparse_pred_ignore_index": 5}),
    ("ModernBertForMultipleChoice", {"classifier_pooling": "cls"}),
    ("ModernBertForMultipleChoice", {"classifier_pooling": "mean"}),
    ("ModernBertForSequenceClassification", {"classifier_pooling": "cls", "classifier_activation": "tanh"}),
]


@pytest.mark.parametrize(
    ("class_name", "overrides"), CONFIG_OPTIONS, ids=lambda o: o if isinstance(o, str) else json.dumps(o)[:60]
)
def test_config_options_match_transformers(
    save_hf: Callable[..., Path], class_name: str, overrides: dict
) -> None:
    directory = save_hf(class_name, **overrides)
    ours = HEADS[class_name].from_pretrained(directory)
    theirs = getattr(transformers, class_name).from_pretrained(directory).eval()
    assert ours.config.layer_types == theirs.config.layer_types
    assert ours.config.rope_parameters == theirs.config.rope_parameters
    if class_name.endswith("MaskedLM"):
        tied = ours.decoder.weight is ours.model.embeddings.tok_embeddings.weight
        assert tied == overrides.get("tie_word_embeddings", True)
    inputs = _inputs(class_name)
    labels = _labels(class_name, inputs)
    with torch.no_grad():
        _compare(ours(**inputs, **labels), theirs(**inputs, **labels))


def test_hub_config_reads_and_writes_as_transformers(tmp_path: Path, save_hf: Callable[..., Path]) -> None:
    """The Hub's keys (global_attn_every_n_layers, global/local_rope_theta, reference_compile) give
    transformers' layer_types and rope_parameters; the saved config is transformers 5's shape and
    reads back in both libraries the same."""
    (tmp_path / "config.json").write_text(json.dumps(HUB_CONFIG))
    ours = AutoConfig.from_pretrained(tmp_path)
    theirs = transformers.AutoConfig.from_pretrained(tmp_path)
    assert (
        ours.layer_types
        == theirs.layer_types
        == [
            "full_attention",
            "sliding_attention",
            "sliding_attention",
            "full_attention",
        ]
    )
    assert ours.rope_parameters == theirs.rope_parameters
    assert ours.sliding_window == theirs.sliding_window == 2
    saved = tmp_path / "saved"
    ours.save_pretrained(saved)
    written = json.loads((saved / "config.json").read_text())
    assert "global_rope_theta" not in written and "reference_compile" not in written
    again, theirs_again = AutoConfig.from_pretrained(saved), transformers.AutoConfig.from_pretrained(saved)
    for key in ("layer_types", "rope_parameters", "local_attention", "classifier_pooling", "cls_token_id"):
        assert getattr(again, key) == getattr(theirs_again, key) == getattr(ours, key), key
    legacy = AutoConfig.for_model(FAMILY, **TINY, rope_scaling={"rope_type": "linear", "factor": 2.0})
    expected = transformers.AutoConfig.for_model(
        FAMILY, **TINY, rope_scaling={"rope_type": "linear", "factor": 2.0}
    )
    assert legacy.rope_parameters == expected.rope_parameters


@pytest.mark.parametrize(
    ("overrides", "error", "key"),
    [
        ({"classifier_pooling": "max"}, ConfigError, "classifier_pooling"),
        ({"layer_types": ["full_attention"]}, ConfigError, "layer_types"),
        (
            {"layer_types": ["full_attention", "chunked_attention", "full_attention", "full_attention"]},
            ConfigError,
            "layer_types",
        ),
        ({"global_attn_every_n_layers": 0}, ConfigError, "global_attn_every_n_layers"),
        ({"local_attention": -2}, ConfigError, "local_attention"),
        ({"hidden_size": 36, "num_attention_heads": 4}, ConfigError, "rotary"),
        ({"rope_parameters": "default"}, ConfigError, "rope_parameters"),
        ({"rope_parameters": {"full_attention": {"rope_type": "linear"}}}, ConfigError, "needs the key"),
        ({"hidden_activation": "nope"}, UnsupportedConfigError, "hidden_activation"),
        ({"classifier_activation": "nope"}, UnsupportedConfigError, "classifier_activation"),
        (
            {"rope_parameters": {"full_attention": {"rope_type": "proportional"}}},
            UnsupportedConfigError,
            "rope_parameters",
        ),
        (
            {
                "rope_parameters": {
                    "sliding_attention": {"rope_type": "default", "partial_rotary_factor": 0.5}
                }
            },
            UnsupportedConfigError,
            "partial_rotary_factor",
        ),
    ],
)
def test_bad_or_unsupported_config_values_are_refused(overrides: dict, error: type, key: str) -> None:
    with pytest.raises(error, match=key):
        AutoModel.from_config(AutoConfig.for_model(FAMILY, **{**TINY, **overrides}))
