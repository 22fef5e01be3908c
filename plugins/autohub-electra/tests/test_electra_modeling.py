"""ELECTRA parity against transformers (the oracle): every head, both save directions, losses,
gradients (with and without gradient checkpointing), the config keys transformers reads.

Two shapes, shrunk from the Hub's: google/electra-small-discriminator (embeddings narrower than
the hidden states, projected by ``embeddings_project``) and google/electra-base-generator
(embeddings wider than the hidden states). One checkpoint per (head, shape) is saved by
transformers per module. Inputs are padded (right padding in one row, left in another).
"""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import torch
import transformers
from safetensors.torch import load_file
from torch import nn
from transformers.masking_utils import eager_mask

import autohub_core as ah
from autohub_core.errors import ConfigError, LabelError, UnsupportedConfigError

# Dropout off so that training-mode forwards (gradients) are deterministic in both libraries.
SHAPES: dict[str, dict[str, Any]] = {
    "discriminator": {
        "vocab_size": 99,
        "embedding_size": 16,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 37,
        "max_position_embeddings": 24,
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "summary_last_dropout": 0.0,
    },
    "generator": {
        "vocab_size": 99,
        "embedding_size": 24,
        "hidden_size": 16,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 20,
        "max_position_embeddings": 24,
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "summary_last_dropout": 0.0,
    },
}

# transformers class -> (autohub Auto class, extra config)
HEADS: dict[str, tuple[Any, dict[str, Any]]] = {
    "ElectraModel": (ah.AutoModel, {}),
    "ElectraForPreTraining": (ah.AutoModelForPreTraining, {}),
    "ElectraForMaskedLM": (ah.AutoModelForMaskedLM, {}),
    "ElectraForCausalLM": (ah.AutoModelForCausalLM, {"is_decoder": True}),
    "ElectraForSequenceClassification": (ah.AutoModelForSequenceClassification, {"num_labels": 3}),
    "ElectraForTokenClassification": (ah.AutoModelForTokenClassification, {"num_labels": 5}),
    "ElectraForQuestionAnswering": (ah.AutoModelForQuestionAnswering, {}),
    "ElectraForMultipleChoice": (ah.AutoModelForMultipleChoice, {}),
}
#: Every head on the discriminator's shape; the generator's shape where the generator is used.
CASES = [(head, "discriminator") for head in sorted(HEADS)] + [
    (head, "generator") for head in ("ElectraModel", "ElectraForMaskedLM", "ElectraForCausalLM")
]


def reference_model(class_name: str, shape: str = "discriminator", **overrides: Any) -> nn.Module:
    """A seeded transformers model (biases random too, so that every parameter matters)."""
    config = transformers.ElectraConfig(**{**SHAPES[shape], **HEADS[class_name][1], **overrides})
    torch.manual_seed(0)
    model = getattr(transformers, class_name)(config)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.normal_(0.0, 0.1)
    return model.eval()


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``saved(class_name, shape)`` -> (transformers model, its checkpoint directory), saved once."""
    cache: dict[tuple[str, str], tuple[nn.Module, pathlib.Path]] = {}

    def get(class_name: str, shape: str = "discriminator") -> tuple[nn.Module, pathlib.Path]:
        if (class_name, shape) not in cache:
            model = reference_model(class_name, shape)
            directory = tmp_path_factory.mktemp(f"{class_name}-{shape}")
            model.save_pretrained(directory)
            cache[class_name, shape] = (model, directory)
        return cache[class_name, shape]

    return get


def batch(class_name: str) -> dict[str, torch.Tensor]:
    """Right padding (row 1) and, for the bidirectional models, left padding (row 2)."""
    generator = torch.Generator().manual_seed(7)
    input_ids = torch.randint(1, 99, (3, 9), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 6:] = 0
    if class_name != "ElectraForCausalLM":
        attention_mask[2, :3] = 0
    input_ids[attention_mask == 0] = 0
    token_type_ids = torch.zeros_like(input_ids)
    token_type_ids[:, 5:] = 1
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
    if class_name == "ElectraForMultipleChoice":  # (batch, choices, seq)
        inputs = {k: v.unsqueeze(0).expand(2, -1, -1).contiguous() for k, v in inputs.items()}
    return inputs


def labels_for(class_name: str, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    shape = inputs["input_ids"].shape
    generator = torch.Generator().manual_seed(3)
    if class_name == "ElectraForPreTraining":
        return {"labels": torch.randint(0, 2, shape, generator=generator)}
    if class_name in ("ElectraForMaskedLM", "ElectraForCausalLM"):
        labels = torch.randint(0, 99, shape, generator=generator)
        labels[0, :2] = -100
        return {"labels": labels}
    if class_name == "ElectraForSequenceClassification":
        return {"labels": torch.tensor([2, 0, 1])}
    if class_name == "ElectraForTokenClassification":
        return {"labels": torch.randint(0, 5, shape, generator=generator)}
    if class_name == "ElectraForQuestionAnswering":
        return {"start_positions": torch.tensor([1, 3, 2]), "end_positions": torch.tensor([4, 40, 8])}
    if class_name == "ElectraForMultipleChoice":
        return {"labels": torch.tensor([1, 0])}
    return {}


def assert_outputs_close(ours: Any, reference: Any, atol: float = 1e-5) -> None:
    compared = 0
    for key, expected in reference.items():
        if key == "past_key_values" or (isinstance(expected, tuple) and not expected):
            continue  # transformers' cache object / empty cross_attentions of an encoder
        actual = ours[key]
        if isinstance(expected, torch.Tensor):
            torch.testing.assert_close(actual, expected, atol=atol, rtol=0, msg=key)
        else:
            assert len(actual) == len(expected), key
            for a, e in zip(actual, expected, strict=True):
                torch.testing.assert_close(a, e, atol=atol, rtol=0, msg=key)
        compared += 1
    assert compared > 0


def gradients(model: nn.Module, inputs: dict[str, torch.Tensor], labels: dict[str, Any]) -> dict[str, Any]:
    model.train()
    model.zero_grad()
    model(**inputs, **labels).loss.backward()
    model.eval()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize(("class_name", "shape"), CASES)
def test_head_matches_transformers_outputs_losses_gradients(saved: Any, class_name: str, shape: str) -> None:
    reference, directory = saved(class_name, shape)
    model, info = HEADS[class_name][0].from_pretrained(directory, output_loading_info=True)
    assert type(model).__name__ == class_name and not model.training
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [] and info["mismatched_keys"] == []
    assert hasattr(model.base_model, "embeddings_project")  # embedding_size != hidden_size in both shapes
    inputs = batch(class_name)
    labels = labels_for(class_name, inputs)
    with torch.no_grad():
        expected = reference(**inputs, **labels, output_hidden_states=True)
        actual = model(**inputs, **labels, output_hidden_states=True)
    assert_outputs_close(actual, expected)
    if not labels:
        return
    theirs = gradients(reference, inputs, labels)
    ours = gradients(model, inputs, labels)
    assert ours.keys() == theirs.keys()
    for name, grad in theirs.items():
        torch.testing.assert_close(ours[name], grad, atol=1e-5, rtol=1e-4, msg=name)
    model.gradient_checkpointing_enable()
    checkpointed = gradients(model, inputs, labels)
    for name, grad in ours.items():
        torch.testing.assert_close(checkpointed[name], grad, atol=1e-6, rtol=0, msg=name)


@pytest.mark.parametrize("class_name", sorted(HEADS))
def test_autohub_save_loads_in_transformers(saved: Any, tmp_path: pathlib.Path, class_name: str) -> None:
    shape = "generator" if class_name in ("ElectraForMaskedLM", "ElectraForCausalLM") else "discriminator"
    reference, directory = saved(class_name, shape)
    HEADS[class_name][0].from_pretrained(directory).save_pretrained(tmp_path)
    reloaded, info = getattr(transformers, class_name).from_pretrained(tmp_path, output_loading_info=True)
    assert not any(info.values()), info
    inputs = batch(class_name)
    with torch.no_grad():
        assert_outputs_close(reloaded.eval()(**inputs), reference(**inputs))


@pytest.mark.parametrize(
    ("problem_type", "labels"),
    [
        ("single_label_classification", torch.tensor([2, 0, 1])),
        ("multi_label_classification", torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])),
        ("regression", torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5], [0.1, 0.2, 0.3]])),
    ],
)
def test_sequence_classification_losses(saved: Any, problem_type: str, labels: torch.Tensor) -> None:
    reference, directory = saved("ElectraForSequenceClassification")
    model = ah.AutoModelForSequenceClassification.from_pretrained(directory, problem_type=problem_type)
    reference.config.problem_type = problem_type
    inputs = batch("ElectraForSequenceClassification")
    with torch.no_grad():
        torch.testing.assert_close(
            model(**inputs, labels=labels).loss, reference(**inputs, labels=labels).loss, atol=1e-6, rtol=0
        )


@pytest.mark.parametrize(
    "summary",
    [
        {"summary_type": "last", "summary_activation": "tanh"},
        {"summary_type": "mean", "summary_use_proj": False},
        {"summary_type": "cls_index", "summary_activation": "", "summary_first_dropout": 0.0},
        {"summary_proj_to_labels": True, "num_labels": 32},
    ],
    ids=["last-tanh", "mean-noproj", "cls_index-noact", "proj_to_labels"],
)
def test_multiple_choice_sequence_summary_options(tmp_path: pathlib.Path, summary: dict[str, Any]) -> None:
    reference = reference_model("ElectraForMultipleChoice", **summary)
    reference.save_pretrained(tmp_path)
    model = ah.AutoModelForMultipleChoice.from_pretrained(tmp_path)
    inputs = batch("ElectraForMultipleChoice")
    with torch.no_grad():
        assert_outputs_close(model(**inputs), reference(**inputs))


def test_classifier_dropout_and_activation_keys(tmp_path: pathlib.Path) -> None:
    """``classifier_dropout`` (train mode, same dropout masks) and ``hidden_act`` of the discriminator head."""
    for class_name in ("ElectraForSequenceClassification", "ElectraForPreTraining"):
        reference = reference_model(class_name, classifier_dropout=0.5, hidden_act="gelu_new")
        reference.save_pretrained(tmp_path / class_name)
        model = HEADS[class_name][0].from_pretrained(tmp_path / class_name)
        inputs = batch(class_name)
        outputs = []
        for network in (reference.train(), model.train()):
            torch.manual_seed(5)
            outputs.append(network(**inputs).logits)
        torch.testing.assert_close(outputs[1], outputs[0], atol=1e-5, rtol=0)


def test_decoder_with_cross_attention_cache_and_greedy_generation(saved: Any, tmp_path: pathlib.Path) -> None:
    reference = reference_model("ElectraForCausalLM", "generator", add_cross_attention=True)
    reference.save_pretrained(tmp_path)
    model = ah.AutoModelForCausalLM.from_pretrained(tmp_path)
    inputs = batch("ElectraForCausalLM")
    encoder = {
        "encoder_hidden_states": torch.randn(3, 4, 16, generator=torch.Generator().manual_seed(1)),
        "encoder_attention_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]]),
    }
    with torch.no_grad():
        expected = reference(**inputs, **encoder, output_attentions=True, output_hidden_states=True)
        actual = model(**inputs, **encoder, output_attentions=True, output_hidden_states=True)
    assert_outputs_close(actual, expected)
    prompt = {"input_ids": inputs["input_ids"][:1, :5], "attention_mask": inputs["attention_mask"][:1, :5]}
    plain, plain_directory = saved("ElectraForCausalLM", "generator")
    ours = ah.AutoModelForCausalLM.from_pretrained(plain_directory)
    generated = ours.generate(**prompt, max_new_tokens=6, do_sample=False)
    expected_tokens = plain.generate(**prompt, max_new_tokens=6, do_sample=False, pad_token_id=0)
    assert generated.tolist() == expected_tokens.tolist()


def test_embeddings_as_wide_as_the_hidden_states_are_not_projected(tmp_path: pathlib.Path) -> None:
    reference = reference_model("ElectraForMaskedLM", embedding_size=32)
    reference.save_pretrained(tmp_path)
    model, info = ah.AutoModelForMaskedLM.from_pretrained(tmp_path, output_loading_info=True)
    assert not hasattr(model.electra, "embeddings_project") and not any(info.values())
    inputs = batch("ElectraForMaskedLM")
    with torch.no_grad():
        assert_outputs_close(model(**inputs), reference(**inputs))


def test_masked_lm_head_is_tied_to_the_word_embeddings(saved: Any) -> None:
    _, directory = saved("ElectraForMaskedLM", "generator")
    model = ah.AutoModelForMaskedLM.from_pretrained(directory)
    assert model.generator_lm_head.weight is model.electra.embeddings.word_embeddings.weight
    assert model.generator_lm_head.weight.shape == (99, 24)


def test_discriminator_labels_are_checked(saved: Any) -> None:
    _, directory = saved("ElectraForPreTraining")
    model = ah.AutoModelForPreTraining.from_pretrained(directory)
    with pytest.raises(LabelError, match="one 0/1 value per token"):
        model(**batch("ElectraForPreTraining"), labels=torch.zeros(3, 4))


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        ("summary_type", "attn", UnsupportedConfigError),
        ("position_embedding_type", "rotary", UnsupportedConfigError),
        ("hidden_act", "swiglu", UnsupportedConfigError),
        ("summary_activation", "nope", UnsupportedConfigError),
        ("embedding_size", 0, ConfigError),
        ("summary_last_dropout", 1.5, ConfigError),
        ("add_cross_attention", True, ConfigError),
    ],
)
def test_refused_config_values_name_the_key(key: str, value: Any, error: type[Exception]) -> None:
    config = ah.AutoConfig.for_model("electra", **SHAPES["discriminator"])
    with pytest.raises(error, match=key):
        setattr(config, key, value)
        ah.AutoModelForMultipleChoice.from_config(config)


def test_summary_projected_to_labels_must_fit_the_choice_classifier() -> None:
    config = ah.AutoConfig.for_model(
        "electra", **SHAPES["discriminator"], summary_proj_to_labels=True, num_labels=3
    )
    with pytest.raises(ConfigError, match="summary_proj_to_labels"):
        ah.AutoModelForMultipleChoice.from_config(config)


# -- transformers 4's relative positions (transformers 5 ignores the key) ------------------------

RELATIVE = "autohub_test_electra_relative_v4"


def _relative_attention(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """transformers 4.57's ``ElectraSelfAttention`` scores: (QKᵀ + distance terms) / sqrt(d) + mask."""
    scores = torch.matmul(query, key.transpose(-1, -2))
    query_length, key_length = query.shape[2], key.shape[2]
    left = torch.arange(key_length - query_length, key_length).view(-1, 1)
    right = torch.arange(key_length).view(1, -1)
    embedding = module.distance_embedding(left - right + module.config.max_position_embeddings - 1)
    scores = scores + torch.einsum("bhld,lrd->bhlr", query, embedding)
    if module.config.position_embedding_type == "relative_key_query":
        scores = scores + torch.einsum("bhrd,lrd->bhlr", key, embedding)
    scores = scores * scaling
    if attention_mask is not None:
        scores = scores + attention_mask
    weights = torch.softmax(scores, dim=-1)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights


transformers.AttentionInterface.register(RELATIVE, _relative_attention)
transformers.AttentionMaskInterface.register(RELATIVE, eager_mask)


@pytest.mark.parametrize("position_embedding_type", ["relative_key", "relative_key_query"])
def test_relative_positions_match_transformers_4(
    tmp_path: pathlib.Path, position_embedding_type: str
) -> None:
    config = transformers.ElectraConfig(
        **SHAPES["discriminator"], position_embedding_type=position_embedding_type
    )
    torch.manual_seed(0)
    reference = transformers.ElectraForPreTraining._from_config(config, attn_implementation=RELATIVE)
    for module in reference.modules():
        if isinstance(module, transformers.models.electra.modeling_electra.ElectraSelfAttention):
            module.distance_embedding = nn.Embedding(2 * config.max_position_embeddings - 1, 8)
            nn.init.normal_(module.distance_embedding.weight, std=0.5)
    embeddings = reference.electra.embeddings
    embeddings.position_embeddings.register_forward_hook(lambda _m, _i, out: torch.zeros_like(out))
    reference.eval().save_pretrained(tmp_path / "reference")
    model = ah.AutoModelForPreTraining.from_pretrained(tmp_path / "reference")
    inputs = batch("ElectraForPreTraining")
    with torch.no_grad():
        expected = reference(**inputs, output_hidden_states=True)
        assert_outputs_close(model(**inputs, output_hidden_states=True), expected)
    model.save_pretrained(tmp_path / "ours")
    result = reference.load_state_dict(load_file(tmp_path / "ours" / "model.safetensors"), strict=False)
    assert result.unexpected_keys == [] and result.missing_keys == []
