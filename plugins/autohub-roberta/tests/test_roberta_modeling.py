"""RoBERTa / XLM-RoBERTa model parity with transformers (the oracle), in both directions.

Each test builds a tiny random model with transformers (fixed seed), saves it with
``save_pretrained`` (safetensors), loads it through autohub's Auto classes from config.json,
and compares outputs on the same inputs (padding, attention masks, labels, hidden states,
attention weights). The reverse direction saves with autohub and loads with transformers.
"""

from __future__ import annotations

import logging
import pathlib
from typing import Any

import pytest
import torch
import transformers

from autohub_core import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForMultipleChoice,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)
from autohub_core.errors import ConfigError, UnsupportedConfigError
from autohub_roberta import modeling
from autohub_roberta.config import RobertaConfig, XLMRobertaConfig

ATOL = 1e-5
VOCAB = 99
BATCH, SEQ, CHOICES = 3, 9, 3

FAMILIES = {
    "roberta": ("Roberta", transformers.RobertaConfig),
    "xlm-roberta": ("XLMRoberta", transformers.XLMRobertaConfig),
}

# task -> (autohub Auto class, transformers class-name suffix)
HEADS: dict[str, tuple[Any, str]] = {
    "base": (AutoModel, "Model"),
    "masked-lm": (AutoModelForMaskedLM, "ForMaskedLM"),
    "causal-lm": (AutoModelForCausalLM, "ForCausalLM"),
    "sequence-classification": (AutoModelForSequenceClassification, "ForSequenceClassification"),
    "token-classification": (AutoModelForTokenClassification, "ForTokenClassification"),
    "question-answering": (AutoModelForQuestionAnswering, "ForQuestionAnswering"),
    "multiple-choice": (AutoModelForMultipleChoice, "ForMultipleChoice"),
}

# Config variants: each reads a different option of the family.
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "gelu_new-untied": {"hidden_act": "gelu_new", "tie_word_embeddings": False},
    "relu-pad0-one-type": {"hidden_act": "relu", "pad_token_id": 0, "type_vocab_size": 1},
    "classifier-dropout-eps": {"classifier_dropout": 0.3, "layer_norm_eps": 1e-5},
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
        "is_decoder": task == "causal-lm",
    }
    options.update(overrides)
    return options


def _tiny_config(family: str, task: str, **overrides: Any) -> Any:
    """A tiny transformers config of the family."""
    return FAMILIES[family][1](**_options(task, **overrides))


def _transformers_class(family: str, task: str) -> type:
    return getattr(transformers, FAMILIES[family][0] + HEADS[task][1])


def _save_transformers_model(root: pathlib.Path, family: str, task: str, **overrides: Any) -> pathlib.Path:
    torch.manual_seed(0)
    model = _transformers_class(family, task)(_tiny_config(family, task, **overrides))
    if task != "base":
        # A trained-looking head: random, non-zero biases so the bias tying is really exercised.
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if name.endswith("bias"):
                    parameter.normal_(0.0, 0.1)
    directory = root / f"{family}-{task}"
    model.save_pretrained(directory)
    return directory


def _inputs(config: Any, task: str, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Token ids with right padding (row 1) and left padding (row 2; encoders only), masks and types."""
    pad = config.pad_token_id
    low = max(pad, 2) + 1
    shape = (BATCH * CHOICES, SEQ) if task == "multiple-choice" else (BATCH, SEQ)
    input_ids = torch.randint(low, VOCAB, shape, generator=generator)
    attention_mask = torch.ones(shape, dtype=torch.long)
    input_ids[1, 6:] = pad
    attention_mask[1, 6:] = 0
    if task != "causal-lm":  # a fully masked causal row (left padding) is undefined in both libraries
        input_ids[2, :3] = pad
        attention_mask[2, :3] = 0
    token_type_ids = torch.randint(0, config.type_vocab_size, shape, generator=generator)
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
    if task == "multiple-choice":
        inputs = {key: value.view(BATCH, CHOICES, SEQ) for key, value in inputs.items()}
    return inputs


def _labels(config: Any, task: str, generator: torch.Generator) -> dict[str, torch.Tensor]:
    if task in ("masked-lm", "causal-lm"):
        labels = torch.randint(0, VOCAB, (BATCH, SEQ), generator=generator)
        labels[1, 6:] = -100
        return {"labels": labels}
    if task == "sequence-classification":
        return {"labels": torch.randint(0, config.num_labels, (BATCH,), generator=generator)}
    if task == "token-classification":
        labels = torch.randint(0, config.num_labels, (BATCH, SEQ), generator=generator)
        labels[1, 6:] = -100
        return {"labels": labels}
    if task == "question-answering":
        return {
            "start_positions": torch.tensor([1, 4, 20]),  # 20 is outside the sequence: ignored
            "end_positions": torch.tensor([3, 5, 7]),
        }
    if task == "multiple-choice":
        return {"labels": torch.randint(0, CHOICES, (BATCH,), generator=generator)}
    return {}


def _tensor_fields(output: Any) -> dict[str, Any]:
    """Outputs that hold tensors (transformers also returns an empty ``cross_attentions`` and a cache)."""
    return {
        key: value
        for key, value in output.items()
        if value is not None and key != "past_key_values" and not (isinstance(value, tuple) and not value)
    }


def _assert_close(actual: Any, expected: Any, where: str) -> None:
    if isinstance(expected, (tuple, list)):
        assert isinstance(actual, (tuple, list)), where
        assert len(actual) == len(expected), where
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _assert_close(a, e, f"{where}[{index}]")
        return
    assert actual.shape == expected.shape, where
    difference = (actual.float() - expected.float()).abs().max().item()
    assert difference <= ATOL, f"{where}: max-abs difference {difference}"


def _assert_same_outputs(ours: Any, theirs: Any, inputs: dict[str, Any]) -> None:
    with torch.no_grad():
        expected = _tensor_fields(theirs(**inputs, output_hidden_states=True, output_attentions=True))
        actual = _tensor_fields(ours(**inputs, output_hidden_states=True, output_attentions=True))
    assert set(actual) == set(expected)
    for key, value in expected.items():
        _assert_close(actual[key], value, key)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, str], pathlib.Path]:
    """transformers checkpoints, saved once per (family, task, variant) on first use."""
    root = tmp_path_factory.mktemp("checkpoints")
    cache: dict[tuple[str, str, str], pathlib.Path] = {}

    class _Lazy(dict):
        def __missing__(self, key: tuple[str, str, str]) -> pathlib.Path:
            family, task, variant = key
            path = _save_transformers_model(root / variant, family, task, **VARIANTS[variant])
            self[key] = path
            return path

    return _Lazy(cache)


def _load_pair(directory: pathlib.Path, family: str, task: str) -> tuple[Any, Any]:
    ours = HEADS[task][0].from_pretrained(directory)
    theirs = _transformers_class(family, task).from_pretrained(directory, attn_implementation="eager").eval()
    return ours, theirs


# --------------------------------------------------------------------------- parity


# Every head with the default config; each variant with the heads whose numerics it changes.
PARITY_CASES = [
    pytest.param(family, task, variant, id=f"{family}-{task}-{variant}")
    for family in FAMILIES
    for task, variants in {
        "base": ["default", "relu-pad0-one-type"],
        "masked-lm": list(VARIANTS),
        "causal-lm": list(VARIANTS),
        "sequence-classification": ["default", "classifier-dropout-eps", "relu-pad0-one-type"],
        "token-classification": ["default", "classifier-dropout-eps"],
        "question-answering": ["default", "gelu_new-untied"],
        "multiple-choice": ["default", "classifier-dropout-eps"],
    }.items()
    for variant in variants
]


@pytest.mark.parametrize(("family", "task", "variant"), PARITY_CASES)
def test_transformers_checkpoint_gives_same_outputs(
    checkpoints: dict, family: str, task: str, variant: str
) -> None:
    directory = checkpoints[family, task, variant]
    ours, theirs = _load_pair(directory, family, task)
    assert type(ours).__name__ == FAMILIES[family][0] + HEADS[task][1]
    assert isinstance(ours.config, XLMRobertaConfig if family == "xlm-roberta" else RobertaConfig)
    assert ours.config.model_type == family
    assert not ours.training
    generator = torch.Generator().manual_seed(1)
    inputs = _inputs(ours.config, task, generator)
    _assert_same_outputs(ours, theirs, inputs)
    labels = _labels(ours.config, task, generator)
    if labels:
        with torch.no_grad():
            expected = theirs(**inputs, **labels).loss
            actual = ours(**inputs, **labels).loss
        assert actual is not None and torch.isfinite(actual)
        _assert_close(actual, expected, "loss")


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("task", list(HEADS))
def test_autohub_checkpoint_loads_in_transformers(tmp_path: pathlib.Path, family: str, task: str) -> None:
    config = AutoConfig.for_model(family, **_options(task, tie_word_embeddings=task != "causal-lm"))
    torch.manual_seed(3)
    ours = HEADS[task][0].from_config(config).eval()
    with torch.no_grad():
        for parameter in ours.parameters():
            parameter.normal_(0.0, 0.2)
    ours.save_pretrained(tmp_path)
    theirs = _transformers_class(family, task).from_pretrained(tmp_path, attn_implementation="eager").eval()
    assert set(theirs.state_dict()) >= {key for key in ours.state_dict() if "decoder" not in key}
    inputs = _inputs(ours.config, task, torch.Generator().manual_seed(2))
    _assert_same_outputs(ours, theirs, inputs)
    reloaded = HEADS[task][0].from_pretrained(tmp_path)
    _assert_same_outputs(reloaded, theirs, inputs)


def test_saved_keys_match_transformers(tmp_path: pathlib.Path, checkpoints: dict) -> None:
    """Tied LM head: decoder weight and bias are written once under transformers' names."""
    from safetensors import safe_open

    for variant, tied in (("default", True), ("gelu_new-untied", False)):
        source = checkpoints["roberta", "masked-lm", variant]
        model = AutoModelForMaskedLM.from_pretrained(source)
        assert (model.lm_head.decoder.bias is model.lm_head.bias) == tied
        assert (model.lm_head.decoder.weight is model.roberta.embeddings.word_embeddings.weight) == tied
        model.save_pretrained(tmp_path / variant)
        with (
            safe_open(str(tmp_path / variant / "model.safetensors"), "pt") as ours,
            safe_open(str(source / "model.safetensors"), "pt") as theirs,
        ):
            assert sorted(ours.keys()) == sorted(theirs.keys())


@pytest.mark.parametrize("family", list(FAMILIES))
def test_inputs_embeds_and_positions(checkpoints: dict, family: str) -> None:
    """inputs_embeds get sequential positions from padding_idx + 1; explicit position_ids are used."""
    directory = checkpoints[family, "masked-lm", "relu-pad0-one-type"]
    ours, theirs = _load_pair(directory, family, "masked-lm")
    generator = torch.Generator().manual_seed(5)
    input_ids = torch.randint(3, VOCAB, (2, SEQ), generator=generator)
    embeds = theirs.get_input_embeddings()(input_ids)
    _assert_same_outputs(ours, theirs, {"inputs_embeds": embeds})
    positions = torch.arange(SEQ).flip(0).unsqueeze(0).expand(2, -1) + 2
    _assert_same_outputs(ours, theirs, {"input_ids": input_ids, "position_ids": positions})


def test_position_ids_follow_fairseq() -> None:
    padding_idx = 1
    input_ids = torch.tensor([[0, 5, 6, 2, 1, 1], [1, 1, 0, 7, 8, 2]])
    expected = torch.tensor([[2, 3, 4, 5, 1, 1], [1, 1, 2, 3, 4, 5]])
    assert torch.equal(modeling.position_ids_from_input_ids(input_ids, padding_idx), expected)
    embeds = torch.zeros(2, 4, 8)
    assert modeling.position_ids_from_inputs_embeds(embeds, padding_idx).tolist() == [[2, 3, 4, 5]] * 2


@pytest.mark.parametrize(
    ("num_labels", "problem_type", "labels"),
    [
        (1, None, torch.tensor([0.5, -1.0, 2.0])),
        (3, None, torch.tensor([0, 2, 1])),
        (3, "multi_label_classification", torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])),
        (2, "regression", torch.tensor([[0.5, 1.0], [-1.0, 0.0], [2.0, 3.0]])),
    ],
    ids=["regression-inferred", "single-label-inferred", "multi-label", "regression-2d"],
)
def test_sequence_classification_losses(
    tmp_path: pathlib.Path, num_labels: int, problem_type: str | None, labels: torch.Tensor
) -> None:
    directory = _save_transformers_model(
        tmp_path, "roberta", "sequence-classification", num_labels=num_labels, problem_type=problem_type
    )
    ours, theirs = _load_pair(directory, "roberta", "sequence-classification")
    inputs = _inputs(ours.config, "sequence-classification", torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected = theirs(**inputs, labels=labels)
        actual = ours(**inputs, labels=labels)
    _assert_close(actual.logits, expected.logits, "logits")
    _assert_close(actual.loss, expected.loss, "loss")
    assert ours.config.problem_type == theirs.config.problem_type


def test_base_checkpoint_loads_into_heads_and_back(tmp_path: pathlib.Path, checkpoints: dict) -> None:
    base_dir = checkpoints["xlm-roberta", "base", "default"]
    base = AutoModel.from_pretrained(base_dir)
    head, info = AutoModelForTokenClassification.from_pretrained(base_dir, output_loading_info=True)
    assert sorted(info["missing_keys"]) == ["classifier.bias", "classifier.weight"]
    assert torch.equal(
        head.roberta.encoder.layer[1].output.dense.weight, base.encoder.layer[1].output.dense.weight
    )
    mlm_dir = checkpoints["roberta", "masked-lm", "default"]
    encoder, info = AutoModel.from_pretrained(mlm_dir, output_loading_info=True)
    mlm = AutoModelForMaskedLM.from_pretrained(mlm_dir)
    assert torch.equal(
        encoder.embeddings.position_embeddings.weight, mlm.roberta.embeddings.position_embeddings.weight
    )
    assert "roberta.pooler.dense.weight" not in info["unexpected_keys"]
    assert sorted(info["missing_keys"]) == ["pooler.dense.bias", "pooler.dense.weight"]
    assert {key.split(".")[0] for key in info["unexpected_keys"]} == {"lm_head"}


def test_return_dict_false_gives_tuples(checkpoints: dict) -> None:
    directory = checkpoints["roberta", "question-answering", "default"]
    ours, theirs = _load_pair(directory, "roberta", "question-answering")
    inputs = _inputs(ours.config, "question-answering", torch.Generator().manual_seed(6))
    with torch.no_grad():
        actual = ours(**inputs, return_dict=False)
        expected = theirs(**inputs, return_dict=False)
    assert isinstance(actual, tuple) and len(actual) == len(expected) == 2
    _assert_close(actual, expected, "tuple")


def test_multiple_choice_takes_transformers_positional_order(checkpoints: dict) -> None:
    directory = checkpoints["xlm-roberta", "multiple-choice", "default"]
    ours, theirs = _load_pair(directory, "xlm-roberta", "multiple-choice")
    inputs = _inputs(ours.config, "multiple-choice", torch.Generator().manual_seed(7))
    labels = torch.tensor([0, 2, 1])
    args = (inputs["input_ids"], inputs["token_type_ids"], inputs["attention_mask"], labels)
    with torch.no_grad():
        actual, expected = ours(*args), theirs(*args)
    _assert_close(actual.logits, expected.logits, "logits")
    _assert_close(actual.loss, expected.loss, "loss")


def test_causal_lm_is_causal(checkpoints: dict) -> None:
    """Changing a later token leaves the logits of earlier positions unchanged."""
    model = AutoModelForCausalLM.from_pretrained(checkpoints["roberta", "causal-lm", "default"])
    input_ids = torch.randint(3, VOCAB, (1, SEQ), generator=torch.Generator().manual_seed(8))
    changed = input_ids.clone()
    changed[0, -1] = 3 if input_ids[0, -1] != 3 else 4
    with torch.no_grad():
        before, after = model(input_ids).logits, model(changed).logits
    _assert_close(before[:, :-1], after[:, :-1], "prefix logits")
    assert not torch.allclose(before[:, -1], after[:, -1])


def test_causal_lm_warns_without_is_decoder(caplog: pytest.LogCaptureFixture) -> None:
    config = AutoConfig.for_model("roberta", **_options("base"))
    with caplog.at_level(logging.WARNING, logger="autohub"):
        AutoModelForCausalLM.from_config(config)
    assert "is_decoder=True" in caplog.text


@pytest.mark.parametrize(
    ("overrides", "error", "key"),
    [
        ({"position_embedding_type": "rotary"}, UnsupportedConfigError, "position_embedding_type"),
        ({"add_cross_attention": True}, ConfigError, "add_cross_attention"),
        ({"hidden_act": "no-such-activation"}, UnsupportedConfigError, "hidden_act"),
        ({"hidden_size": 30}, ConfigError, "hidden_size"),
        ({"pad_token_id": None}, ConfigError, "pad_token_id"),
    ],
)
def test_unsupported_config_is_refused(overrides: dict[str, Any], error: type, key: str) -> None:
    # Values a rule refuses fail when the config is built; the others when the model is.
    with pytest.raises(error, match=key):
        AutoModel.from_config(AutoConfig.for_model("xlm-roberta", **_options("base", **overrides)))


def test_configs_keep_transformers_defaults() -> None:
    for ours, theirs in (
        (RobertaConfig(), transformers.RobertaConfig()),
        (XLMRobertaConfig(), transformers.XLMRobertaConfig()),
    ):
        for key in (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "intermediate_size",
            "hidden_act",
            "max_position_embeddings",
            "type_vocab_size",
            "layer_norm_eps",
            "pad_token_id",
            "bos_token_id",
            "eos_token_id",
            "classifier_dropout",
            "tie_word_embeddings",
            "is_decoder",
        ):
            assert getattr(ours, key) == getattr(theirs, key), key


# --------------------------------------------------------------------------- training


def _training_step(
    model: Any, inputs: dict[str, torch.Tensor], checkpointing: bool
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Loss (``num_items_in_batch=7``) and parameter gradients of one training-mode step, dropout on."""
    model.train()
    model.zero_grad()
    if checkpointing:
        model.gradient_checkpointing_enable()
    else:
        model.gradient_checkpointing_disable()
    assert model.is_gradient_checkpointing == checkpointing
    torch.manual_seed(11)
    loss = model(**inputs, num_items_in_batch=torch.tensor(7)).loss
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), grads


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("task", [task for task in HEADS if task != "base"])
def test_training_step_matches_transformers(checkpoints: dict, family: str, task: str) -> None:
    """Dropout on, ``num_items_in_batch`` given: loss and gradients equal transformers', with and
    without gradient checkpointing (sdpa attention on both sides, so the dropout masks agree)."""
    directory = checkpoints[family, task, "default"]
    ours = HEADS[task][0].from_pretrained(directory)
    theirs = _transformers_class(family, task).from_pretrained(directory, attn_implementation="sdpa")
    assert ours.config.hidden_dropout_prob > 0 and ours.config.attention_probs_dropout_prob > 0
    generator = torch.Generator().manual_seed(1)
    inputs = _inputs(ours.config, task, generator)
    inputs.update(_labels(ours.config, task, generator))
    plain_loss, plain_grads = _training_step(ours, inputs, checkpointing=False)
    for checkpointing in (False, True):
        loss, grads = _training_step(ours, inputs, checkpointing)
        expected_loss, expected_grads = _training_step(theirs, inputs, checkpointing)
        torch.testing.assert_close(loss, expected_loss, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(loss, plain_loss, atol=1e-5, rtol=1e-4)
        assert grads.keys() == expected_grads.keys()
        for name, grad in grads.items():
            torch.testing.assert_close(grad, expected_grads[name], atol=1e-5, rtol=1e-4, msg=name)
            torch.testing.assert_close(grad, plain_grads[name], atol=1e-5, rtol=1e-4, msg=name)
