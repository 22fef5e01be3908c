"""ALBERT parity against transformers (the oracle): every head, both save directions, losses,
gradients with and without gradient checkpointing, parameter sharing, config keys.

Checkpoints are saved once per module by transformers from configs shaped like
albert/albert-base-v2 (embedding_size < hidden_size, gelu_new, classifier_dropout_prob),
shrunk, in two sharing layouts: one group of one layer (albert-base-v2), and three layers over
two groups of two layers each (uneven: steps 0, 1 run group 0 and step 2 group 1).
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
import torch
import transformers

import autohub_core as ah
from autohub_core.configuration import PretrainedConfig
from autohub_core.errors import ConfigError, UnsupportedConfigError

transformers.logging.set_verbosity_error()

TINY = {
    "vocab_size": 61,
    "embedding_size": 12,
    "hidden_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 20,
    "max_position_embeddings": 32,
    "hidden_act": "gelu_new",
    "classifier_dropout_prob": 0.1,
}
LAYOUTS = {
    "base-v2": {"num_hidden_groups": 1, "inner_group_num": 1},
    "shared-3x2x2": {
        "num_hidden_layers": 3,
        "num_hidden_groups": 2,
        "inner_group_num": 2,
        "hidden_dropout_prob": 0.1,  # albert v1's
        "attention_probs_dropout_prob": 0.1,
    },
}
# transformers class -> (autohub Auto class, extra config)
HEADS = {
    "AlbertModel": (ah.AutoModel, {}),
    "AlbertForPreTraining": (ah.AutoModelForPreTraining, {}),
    "AlbertForMaskedLM": (ah.AutoModelForMaskedLM, {}),
    "AlbertForSequenceClassification": (ah.AutoModelForSequenceClassification, {"num_labels": 3}),
    "AlbertForTokenClassification": (ah.AutoModelForTokenClassification, {"num_labels": 5}),
    "AlbertForQuestionAnswering": (ah.AutoModelForQuestionAnswering, {}),
    "AlbertForMultipleChoice": (ah.AutoModelForMultipleChoice, {}),
}


def config_for(class_name: str, layout: str, **overrides: Any) -> transformers.AlbertConfig:
    return transformers.AlbertConfig(**{**TINY, **LAYOUTS[layout], **HEADS[class_name][1], **overrides})


def save_reference(directory: pathlib.Path, config: transformers.AlbertConfig, class_name: str) -> Any:
    torch.manual_seed(0)
    config._attn_implementation = "eager"  # it alone returns attention weights
    model = getattr(transformers, class_name)(config).eval()
    model.save_pretrained(directory)
    return model


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """(class name, layout) -> (transformers model, its saved directory), each saved once."""
    root = tmp_path_factory.mktemp("albert")
    saved: dict[tuple[str, str], tuple[Any, pathlib.Path]] = {}

    def get(class_name: str, layout: str) -> tuple[Any, pathlib.Path]:
        if (class_name, layout) not in saved:
            directory = root / f"{class_name}-{layout}"
            saved[class_name, layout] = (
                save_reference(directory, config_for(class_name, layout), class_name),
                directory,
            )
        return saved[class_name, layout]

    return get


def batch(class_name: str) -> dict[str, torch.Tensor]:
    """Two rows, the second right-padded, with a second segment (token type 1)."""
    generator = torch.Generator().manual_seed(7)
    input_ids = torch.randint(5, TINY["vocab_size"], (2, 9), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 6:] = 0
    input_ids[1, 6:] = 0
    token_type_ids = torch.zeros_like(input_ids)
    token_type_ids[:, 5:] = 1
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
    if class_name == "AlbertForMultipleChoice":  # (batch, choices, seq)
        inputs = {k: torch.stack([v, v.flip(0), v], dim=1) for k, v in inputs.items()}
    return inputs


def labels_for(class_name: str) -> dict[str, torch.Tensor]:
    shape = batch(class_name)["input_ids"].shape
    generator = torch.Generator().manual_seed(3)
    if class_name in ("AlbertForPreTraining", "AlbertForMaskedLM"):
        labels = torch.randint(0, TINY["vocab_size"], shape, generator=generator)
        labels[0, :2] = -100
        extra = {"sentence_order_label": torch.tensor([0, 1])} if class_name == "AlbertForPreTraining" else {}
        return {"labels": labels, **extra}
    if class_name == "AlbertForSequenceClassification":
        return {"labels": torch.tensor([2, 0])}
    if class_name == "AlbertForTokenClassification":
        labels = torch.randint(0, 5, shape, generator=generator)
        labels[1, 6:] = -100
        return {"labels": labels}
    if class_name == "AlbertForQuestionAnswering":
        return {"start_positions": torch.tensor([1, 3]), "end_positions": torch.tensor([4, 40])}
    if class_name == "AlbertForMultipleChoice":
        return {"labels": torch.tensor([1, 2])}
    return {}


def assert_outputs_close(ours: Any, reference: Any, atol: float = 1e-5) -> None:
    assert list(ours.keys()) == list(reference.keys())
    for key, expected in reference.items():
        actual = ours[key]
        if isinstance(expected, torch.Tensor):
            assert actual.shape == expected.shape, key
            torch.testing.assert_close(actual, expected, atol=atol, rtol=0, msg=key)
        else:
            assert len(actual) == len(expected), key
            for a, e in zip(actual, expected, strict=True):
                torch.testing.assert_close(a, e, atol=atol, rtol=0, msg=key)


CASES = [(class_name, "shared-3x2x2") for class_name in sorted(HEADS)] + [("AlbertForPreTraining", "base-v2")]


@pytest.mark.parametrize(("class_name", "layout"), CASES)
def test_head_matches_transformers(
    checkpoints: Any, tmp_path: pathlib.Path, class_name: str, layout: str
) -> None:
    """Outputs (hidden states and attention weights included) and the loss with padding; the loss and
    every gradient of a training step, dropout on, with and without gradient checkpointing (the
    shared layers accumulate gradients from every step they run); then autohub saves and
    transformers loads the same model."""
    reference, directory = checkpoints(class_name, layout)
    model, info = HEADS[class_name][0].from_pretrained(directory, output_loading_info=True)
    assert type(model).__name__ == class_name and not model.training
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [] and info["mismatched_keys"] == []
    inputs = {**batch(class_name), **labels_for(class_name)}
    with torch.no_grad():
        expected = reference(**inputs, output_hidden_states=True, output_attentions=True)
        actual = model(**inputs, output_hidden_states=True, output_attentions=True)
    assert_outputs_close(actual, expected)
    config = reference.config
    assert len(actual.hidden_states) == config.num_hidden_layers * config.inner_group_num + 1

    # transformers' ALBERT has no gradient checkpointing: its plain step is the reference for both.
    # Attention dropout draws its mask in eager attention only as the reference does.
    model.set_attn_implementation("eager")
    expected_loss, expected_grads = training_step(reference, inputs, checkpointing=False)
    for checkpointing in (False, True):
        loss, grads = training_step(model, inputs, checkpointing)
        torch.testing.assert_close(loss, expected_loss, atol=1e-5, rtol=1e-4)
        assert grads.keys() == expected_grads.keys()
        for name, grad in grads.items():
            torch.testing.assert_close(grad, expected_grads[name], atol=1e-5, rtol=1e-4, msg=name)
    model.gradient_checkpointing_disable()

    model.eval().save_pretrained(tmp_path)
    reloaded, info = getattr(transformers, class_name).from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    with torch.no_grad():
        assert_outputs_close(model(**inputs), reloaded.eval()(**inputs))


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_parameters_are_shared_as_in_transformers(checkpoints: Any, layout: str) -> None:
    reference, directory = checkpoints("AlbertModel", layout)
    model = ah.AutoModel.from_pretrained(directory)
    assert model.state_dict().keys() == reference.state_dict().keys()
    assert model.num_parameters() == reference.num_parameters()
    groups = model.encoder.albert_layer_groups
    assert len(groups) == reference.config.num_hidden_groups
    assert all(len(group.albert_layers) == reference.config.inner_group_num for group in groups)


@pytest.mark.parametrize(
    "problem_type", ["regression", "single_label_classification", "multi_label_classification"]
)
def test_sequence_classification_losses(tmp_path: pathlib.Path, problem_type: str) -> None:
    num_labels = 1 if problem_type == "regression" else 3
    class_name = "AlbertForSequenceClassification"
    reference = save_reference(tmp_path, config_for(class_name, "base-v2", num_labels=num_labels), class_name)
    model = ah.AutoModelForSequenceClassification.from_pretrained(tmp_path)
    labels = {
        "regression": torch.tensor([0.5, -1.0]),
        "single_label_classification": torch.tensor([2, 1]),
        "multi_label_classification": torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]),
    }[problem_type]
    with torch.no_grad():
        expected = reference(**batch(class_name), labels=labels)
        actual = model(**batch(class_name), labels=labels)
    assert model.config.problem_type == reference.config.problem_type == problem_type
    torch.testing.assert_close(actual.loss, expected.loss, atol=1e-6, rtol=0)


def training_step(
    model: torch.nn.Module, inputs: dict[str, torch.Tensor], checkpointing: bool
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Loss and parameter gradients of one training-mode step, dropout on."""
    model.train()
    model.zero_grad()
    if checkpointing:
        model.gradient_checkpointing_enable()
    else:
        model.gradient_checkpointing_disable()
    assert model.is_gradient_checkpointing == checkpointing
    torch.manual_seed(11)
    output = model(**inputs)
    loss = output.loss if "loss" in output else output.pooler_output.square().mean()
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), grads


@pytest.mark.parametrize(
    "overrides",
    [
        {"hidden_act": "gelu"},
        {"tie_word_embeddings": False},
        {"layer_norm_eps": 1e-5, "type_vocab_size": 1, "pad_token_id": 3},
        {"embedding_size": 16, "num_hidden_layers": 4, "num_hidden_groups": 3},
    ],
    ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()),
)
def test_config_options_match(tmp_path: pathlib.Path, overrides: dict[str, Any]) -> None:
    class_name = "AlbertForMaskedLM"
    reference = save_reference(
        tmp_path / "reference", config_for(class_name, "base-v2", **overrides), class_name
    )
    if not overrides.get("tie_word_embeddings", True):
        with (
            torch.no_grad()
        ):  # an untied decoder differs from the embeddings, and its bias from predictions.bias
            reference.predictions.decoder.weight.normal_()
            reference.predictions.decoder.bias.normal_()
        reference.save_pretrained(tmp_path / "reference")
    model = ah.AutoModelForMaskedLM.from_pretrained(tmp_path / "reference")
    for key, value in overrides.items():
        assert getattr(model.config, key) == value
    inputs = batch(class_name)
    if overrides.get("type_vocab_size") == 1:
        inputs["token_type_ids"] = torch.zeros_like(inputs["token_type_ids"])
    tied = overrides.get("tie_word_embeddings", True)
    assert (model.predictions.decoder.weight is model.albert.embeddings.word_embeddings.weight) == tied
    assert (model.predictions.decoder.bias is model.predictions.bias) == tied
    with torch.no_grad():
        assert_outputs_close(model(**inputs), reference(**inputs))
    model.save_pretrained(tmp_path / "ours")
    reloaded = transformers.AlbertForMaskedLM.from_pretrained(tmp_path / "ours").eval()
    with torch.no_grad():
        assert_outputs_close(model(**inputs), reloaded(**inputs))


def test_hub_style_config_keys_load(tmp_path: pathlib.Path) -> None:
    """albert-base-v2's config.json carries keys no ALBERT code reads (down_scale_factor, gap_size,
    net_structure_type, num_memory_blocks) and transformers 4's position_embedding_type: they load,
    round-trip, and change nothing."""
    reference = save_reference(tmp_path, config_for("AlbertModel", "base-v2"), "AlbertModel")
    legacy = {"down_scale_factor": 1, "gap_size": 0, "net_structure_type": 0, "num_memory_blocks": 0}
    document = json.loads((tmp_path / "config.json").read_text())
    document.update(legacy, position_embedding_type="absolute")
    (tmp_path / "config.json").write_text(json.dumps(document))
    model = ah.AutoModel.from_pretrained(tmp_path)
    with torch.no_grad():
        assert_outputs_close(model(**batch("AlbertModel")), reference(**batch("AlbertModel")))
    model.save_pretrained(tmp_path / "ours")
    saved = json.loads((tmp_path / "ours" / "config.json").read_text())
    assert {key: saved[key] for key in legacy} == legacy


@pytest.mark.parametrize(
    ("overrides", "error", "key"),
    [
        ({"position_embedding_type": "relative_key"}, UnsupportedConfigError, "position_embedding_type"),
        ({"hidden_act": "no-such-act"}, UnsupportedConfigError, "hidden_act"),
        ({"hidden_size": 30}, ConfigError, "hidden_size"),
        ({"num_hidden_groups": 0}, ConfigError, "num_hidden_groups"),
        ({"inner_group_num": "two"}, ConfigError, "inner_group_num"),
        ({"embedding_size": -1}, ConfigError, "embedding_size"),
        ({"classifier_dropout_prob": 1.5}, ConfigError, "classifier_dropout_prob"),
    ],
)
def test_unsupported_config_raises_naming_the_key(
    overrides: dict[str, Any], error: type[Exception], key: str
) -> None:
    with pytest.raises(error, match=key):
        ah.AutoModel.from_config(ah.AutoConfig.for_model("albert", **{**TINY, **overrides}))


def test_every_transformers_config_key_is_known() -> None:
    """Each key transformers' AlbertConfig declares is an attribute of autohub's, with the same
    default, and has a value rule."""
    from autohub_albert.config import AlbertConfig

    ours, theirs = AlbertConfig(), transformers.AlbertConfig()
    keys = [key for key in vars(transformers.AlbertConfig)["__annotations__"] if key != "model_type"]
    assert len(keys) >= 20
    for key in keys:
        assert getattr(ours, key) == getattr(theirs, key), key
        assert key in AlbertConfig.config_rules or key in PretrainedConfig.config_rules, key
