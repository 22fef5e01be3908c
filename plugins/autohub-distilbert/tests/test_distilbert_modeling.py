"""DistilBERT parity with transformers for every head, in both directions.

Each checkpoint is a tiny random transformers model saved with ``save_pretrained`` and
loaded through the autohub Auto classes from its config.json; the reverse direction saves
with autohub and loads with transformers. fp32 outputs must agree to 1e-5.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
import torch
import transformers
from safetensors.torch import load_file, save_file

from autohub_core import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForMultipleChoice,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)
from autohub_core.errors import ConfigError, UnsupportedConfigError
from autohub_distilbert.config import DistilBertConfig
from autohub_distilbert.modeling import DistilBertModel, sinusoidal_position_embeddings

TOLERANCE = 1e-5
TINY = {
    "vocab_size": 99,
    "dim": 32,
    "n_layers": 2,
    "n_heads": 4,
    "hidden_dim": 37,
    "max_position_embeddings": 64,
}

# head class name -> (autohub Auto class, kind of inputs/labels)
HEADS = {
    "DistilBertModel": (AutoModel, "base"),
    "DistilBertForMaskedLM": (AutoModelForMaskedLM, "tokens"),
    "DistilBertForSequenceClassification": (AutoModelForSequenceClassification, "sequence"),
    "DistilBertForTokenClassification": (AutoModelForTokenClassification, "tokens"),
    "DistilBertForQuestionAnswering": (AutoModelForQuestionAnswering, "spans"),
    "DistilBertForMultipleChoice": (AutoModelForMultipleChoice, "choices"),
}

VARIANTS = [
    pytest.param({}, id="default"),
    pytest.param({"sinusoidal_pos_embds": True}, id="sinusoidal"),
    pytest.param({"activation": "relu"}, id="relu"),
    pytest.param({"sinusoidal_pos_embds": True, "activation": "gelu_new", "pad_token_id": 3}, id="mixed"),
]


def _hf_config(**overrides: Any) -> transformers.DistilBertConfig:
    return transformers.DistilBertConfig(**{**TINY, "num_labels": 3, **overrides})


def _save_hf(root: pathlib.Path, class_name: str, seed: int = 0, **overrides: Any) -> pathlib.Path:
    if class_name == "DistilBertForQuestionAnswering":
        overrides = {**overrides, "num_labels": 2}
    torch.manual_seed(seed)
    model = getattr(transformers, class_name)(_hf_config(**overrides)).eval()
    # Non-zero biases and LayerNorm affine weights so that every tensor matters.
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias") or "norm" in name.lower():
                parameter.add_(torch.randn_like(parameter) * 0.1)
    model.save_pretrained(root)
    return root


def _inputs(kind: str, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Padded inputs (row 1 has two padding positions) for a head kind."""
    if kind == "choices":
        input_ids = torch.randint(4, 99, (2, 3, 7), generator=generator)
        attention_mask = torch.ones(2, 3, 7, dtype=torch.long)
        attention_mask[1, :, 5:] = 0
    else:
        input_ids = torch.randint(4, 99, (3, 9), generator=generator)
        attention_mask = torch.ones(3, 9, dtype=torch.long)
        attention_mask[1, 7:] = 0
        attention_mask[2, 4:] = 0
    input_ids = input_ids.masked_fill(attention_mask == 0, 0)
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def _labels(
    kind: str, generator: torch.Generator, inputs: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    batch = inputs["input_ids"].shape[0]
    if kind == "tokens":
        labels = torch.randint(0, 3, inputs["input_ids"].shape, generator=generator)
        return {"labels": labels.masked_fill(inputs["attention_mask"] == 0, -100)}
    if kind == "sequence":
        return {"labels": torch.randint(0, 3, (batch,), generator=generator)}
    if kind == "spans":
        return {
            "start_positions": torch.tensor([1, 3, 20][:batch]),
            "end_positions": torch.tensor([2, 6, 4][:batch]),
        }
    if kind == "choices":
        return {"labels": torch.randint(0, 3, (batch,), generator=generator)}
    return {}


def _output_tensors(output: Any) -> dict[str, Any]:
    return {key: value for key, value in output.items() if value is not None}


def _assert_close(actual: Any, expected: Any, where: str = "") -> None:
    if isinstance(expected, (tuple, list)):
        assert isinstance(actual, (tuple, list)), where
        assert len(actual) == len(expected), where
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _assert_close(a, e, f"{where}[{index}]")
        return
    assert actual.shape == expected.shape, where
    difference = (actual.float() - expected.float()).abs().max().item() if expected.numel() else 0.0
    assert difference <= TOLERANCE, f"{where}: max abs diff {difference}"


def _assert_same_outputs(ours: Any, theirs: Any) -> None:
    ours_dict, theirs_dict = _output_tensors(ours), _output_tensors(theirs)
    assert list(ours_dict) == list(theirs_dict)
    for key, expected in theirs_dict.items():
        _assert_close(ours_dict[key], expected, key)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], pathlib.Path]:
    """One transformers checkpoint per (head, variant), saved lazily and kept for the module."""
    cache: dict[tuple[str, str], pathlib.Path] = {}

    class Lazy(dict):
        def __missing__(self, key: tuple[str, str]) -> pathlib.Path:
            class_name, variant = key
            overrides = json.loads(variant)
            directory = tmp_path_factory.mktemp(class_name)
            cache[key] = _save_hf(directory, class_name, **overrides)
            return cache[key]

    return Lazy()


def _checkpoint(checkpoints: dict, class_name: str, variant: dict[str, Any]) -> pathlib.Path:
    return checkpoints[(class_name, json.dumps(variant, sort_keys=True))]


# --------------------------------------------------------------------------- parity


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("class_name", list(HEADS))
def test_forward_matches_transformers(checkpoints: dict, class_name: str, variant: dict[str, Any]) -> None:
    auto_class, kind = HEADS[class_name]
    directory = _checkpoint(checkpoints, class_name, variant)
    ours = auto_class.from_pretrained(directory)
    theirs = getattr(transformers, class_name).from_pretrained(directory).eval()
    assert type(ours).__name__ == class_name
    assert not ours.training

    generator = torch.Generator().manual_seed(1)
    inputs = _inputs(kind, generator)
    inputs.update(_labels(kind, generator, inputs))
    with torch.no_grad():
        _assert_same_outputs(ours(**inputs), theirs(**inputs))
        # Without an attention mask too.
        plain = {k: v for k, v in inputs.items() if k != "attention_mask"}
        _assert_same_outputs(ours(**plain), theirs(**plain))
    if kind != "base":
        assert ours(**inputs).loss is not None
    # token_type_ids (which the tokenizer returns for BertTokenizer-configured checkpoints) are ignored.
    with torch.no_grad():
        segments = torch.ones_like(inputs["input_ids"])
        _assert_same_outputs(
            ours(**inputs, token_type_ids=segments), theirs(**inputs, token_type_ids=segments)
        )
        _assert_same_outputs(ours(**inputs, token_type_ids=segments), ours(**inputs))


@pytest.mark.parametrize("class_name", list(HEADS))
def test_hidden_states_and_attentions_match_transformers(checkpoints: dict, class_name: str) -> None:
    auto_class, kind = HEADS[class_name]
    directory = _checkpoint(checkpoints, class_name, {})
    ours = auto_class.from_pretrained(directory)
    # transformers returns attention weights only from its eager attention.
    theirs = getattr(transformers, class_name).from_pretrained(directory, attn_implementation="eager").eval()
    inputs = _inputs(kind, torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = theirs(**inputs, output_hidden_states=True, output_attentions=True)
        actual = ours(**inputs, output_hidden_states=True, output_attentions=True)
    assert len(actual.hidden_states) == TINY["n_layers"] + 1
    assert len(actual.attentions) == TINY["n_layers"]
    _assert_same_outputs(actual, expected)
    # Padding positions get zero attention weight.
    mask = inputs["attention_mask"].reshape(-1, inputs["attention_mask"].shape[-1])
    assert torch.all(actual.attentions[0].transpose(1, 3)[mask == 0] == 0)


def test_config_flags_and_return_dict(checkpoints: dict) -> None:
    directory = _checkpoint(checkpoints, "DistilBertModel", {})
    ours = AutoModel.from_pretrained(directory, output_hidden_states=True)
    inputs = _inputs("base", torch.Generator().manual_seed(3))
    with torch.no_grad():
        output = ours(**inputs)
        as_tuple = ours(**inputs, return_dict=False)
    assert len(output.hidden_states) == TINY["n_layers"] + 1
    assert isinstance(as_tuple, tuple)
    torch.testing.assert_close(as_tuple[0], output.last_hidden_state, rtol=0, atol=0)


def test_inputs_embeds_and_position_ids_match_transformers(checkpoints: dict) -> None:
    directory = _checkpoint(checkpoints, "DistilBertForMaskedLM", {"sinusoidal_pos_embds": True})
    ours = AutoModelForMaskedLM.from_pretrained(directory)
    theirs = transformers.DistilBertForMaskedLM.from_pretrained(directory).eval()
    inputs = _inputs("tokens", torch.Generator().manual_seed(4))
    embeds = theirs.get_input_embeddings()(inputs["input_ids"]).detach()
    position_ids = torch.arange(5, 14).unsqueeze(0)
    with torch.no_grad():
        expected = theirs(
            inputs_embeds=embeds, attention_mask=inputs["attention_mask"], position_ids=position_ids
        )
        actual = ours(
            inputs_embeds=embeds, attention_mask=inputs["attention_mask"], position_ids=position_ids
        )
    _assert_same_outputs(actual, expected)
    with pytest.raises(ValueError, match="exactly one"):
        ours(input_ids=inputs["input_ids"], inputs_embeds=embeds)


@pytest.mark.parametrize(
    ("problem_type", "num_labels", "labels"),
    [
        ("regression", 1, torch.tensor([0.5, -1.25, 2.0])),
        ("regression", 3, torch.randn(3, 3, generator=torch.Generator().manual_seed(5))),
        ("single_label_classification", 3, torch.tensor([0, 2, 1])),
        ("multi_label_classification", 3, torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])),
        (None, 1, torch.tensor([0.5, -1.25, 2.0])),
        (None, 3, torch.tensor([0, 2, 1])),
        (None, 3, torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])),
    ],
)
def test_sequence_classification_losses_match_transformers(
    tmp_path: pathlib.Path, problem_type: str | None, num_labels: int, labels: torch.Tensor
) -> None:
    directory = _save_hf(
        tmp_path, "DistilBertForSequenceClassification", num_labels=num_labels, problem_type=problem_type
    )
    ours = AutoModelForSequenceClassification.from_pretrained(directory)
    theirs = transformers.DistilBertForSequenceClassification.from_pretrained(directory).eval()
    inputs = _inputs("sequence", torch.Generator().manual_seed(6))
    with torch.no_grad():
        expected = theirs(**inputs, labels=labels)
        actual = ours(**inputs, labels=labels)
    _assert_same_outputs(actual, expected)
    assert ours.config.problem_type == theirs.config.problem_type


# --------------------------------------------------------------------------- reverse direction


@pytest.mark.parametrize("variant", VARIANTS[:3])
@pytest.mark.parametrize("class_name", list(HEADS))
def test_autohub_checkpoint_loads_in_transformers(
    tmp_path: pathlib.Path, class_name: str, variant: dict[str, Any]
) -> None:
    auto_class, kind = HEADS[class_name]
    num_labels = 2 if class_name == "DistilBertForQuestionAnswering" else 3
    config = DistilBertConfig(**TINY, num_labels=num_labels, **variant)
    torch.manual_seed(7)
    ours = auto_class.from_config(config).eval()
    ours.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == "distilbert"
    assert saved["architectures"] == [class_name]

    theirs, info = getattr(transformers, class_name).from_pretrained(tmp_path, output_loading_info=True)
    theirs.eval()
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    generator = torch.Generator().manual_seed(8)
    inputs = _inputs(kind, generator)
    inputs.update(_labels(kind, generator, inputs))
    with torch.no_grad():
        _assert_same_outputs(ours(**inputs), theirs(**inputs))


def test_state_dict_keys_match_transformers(checkpoints: dict) -> None:
    for class_name, (auto_class, _) in HEADS.items():
        directory = _checkpoint(checkpoints, class_name, {})
        ours = auto_class.from_pretrained(directory)
        theirs = getattr(transformers, class_name).from_pretrained(directory)
        assert sorted(ours.state_dict()) == sorted(theirs.state_dict()), class_name
        assert set(load_file(directory / "model.safetensors")) <= set(ours.state_dict())


# --------------------------------------------------------------------------- weights and tying


@pytest.mark.parametrize("tie", [True, False])
def test_masked_lm_tying_matches_transformers(tmp_path: pathlib.Path, tie: bool) -> None:
    directory = _save_hf(tmp_path / "hf", "DistilBertForMaskedLM", tie_word_embeddings=tie)
    stored = load_file(directory / "model.safetensors")
    assert ("vocab_projector.weight" in stored) == (not tie)
    ours = AutoModelForMaskedLM.from_pretrained(directory)
    tied = ours.vocab_projector.weight is ours.distilbert.embeddings.word_embeddings.weight
    assert tied == tie
    theirs = transformers.DistilBertForMaskedLM.from_pretrained(directory).eval()
    inputs = _inputs("tokens", torch.Generator().manual_seed(9))
    with torch.no_grad():
        _assert_same_outputs(ours(**inputs), theirs(**inputs))
    ours.save_pretrained(tmp_path / "ours")
    assert set(load_file(tmp_path / "ours" / "model.safetensors")) == set(stored)


def test_sinusoidal_table_matches_transformers() -> None:
    from transformers.models.distilbert.modeling_distilbert import _create_sinusoidal_embeddings

    for n_positions, dim in ((64, 32), (512, 768)):
        expected = _create_sinusoidal_embeddings(n_positions, dim, torch.empty(n_positions, dim))
        torch.testing.assert_close(sinusoidal_position_embeddings(n_positions, dim), expected, rtol=0, atol=0)


def test_sinusoidal_positions_missing_from_checkpoint_are_filled(tmp_path: pathlib.Path) -> None:
    directory = _save_hf(tmp_path, "DistilBertModel", sinusoidal_pos_embds=True)
    weights = load_file(directory / "model.safetensors")
    del weights["embeddings.position_embeddings.weight"]
    save_file(weights, directory / "model.safetensors", metadata={"format": "pt"})

    ours, info = AutoModel.from_pretrained(directory, output_loading_info=True)
    theirs = transformers.DistilBertModel.from_pretrained(directory).eval()
    assert info["missing_keys"] == ["embeddings.position_embeddings.weight"]
    table = ours.embeddings.position_embeddings.weight
    torch.testing.assert_close(table, sinusoidal_position_embeddings(64, 32), rtol=0, atol=0)
    torch.testing.assert_close(table, theirs.embeddings.position_embeddings.weight, rtol=0, atol=0)
    inputs = _inputs("base", torch.Generator().manual_seed(10))
    with torch.no_grad():
        _assert_same_outputs(ours(**inputs), theirs(**inputs))


def test_sinusoidal_positions_from_checkpoint_are_kept(tmp_path: pathlib.Path) -> None:
    directory = _save_hf(tmp_path, "DistilBertModel", sinusoidal_pos_embds=True)
    weights = load_file(directory / "model.safetensors")
    weights["embeddings.position_embeddings.weight"] = torch.randn(64, 32)
    save_file(weights, directory / "model.safetensors", metadata={"format": "pt"})
    ours = AutoModel.from_pretrained(directory)
    torch.testing.assert_close(
        ours.embeddings.position_embeddings.weight, weights["embeddings.position_embeddings.weight"]
    )


def test_from_config_uses_sinusoids_and_initialises_everything() -> None:
    torch.manual_seed(11)
    model = DistilBertModel.from_config(DistilBertConfig(**TINY, sinusoidal_pos_embds=True))
    torch.testing.assert_close(
        model.embeddings.position_embeddings.weight, sinusoidal_position_embeddings(64, 32), rtol=0, atol=0
    )
    assert torch.all(model.embeddings.word_embeddings.weight[0] == 0)
    assert all(not t.is_meta and torch.isfinite(t).all() for t in model.state_dict().values())


def test_base_checkpoint_loads_into_head_and_back(checkpoints: dict) -> None:
    base_dir = _checkpoint(checkpoints, "DistilBertModel", {})
    head, info = AutoModelForTokenClassification.from_pretrained(base_dir, output_loading_info=True)
    assert info["missing_keys"] == ["classifier.bias", "classifier.weight"]
    base = AutoModel.from_pretrained(base_dir)
    inputs = _inputs("base", torch.Generator().manual_seed(12))
    with torch.no_grad():
        _assert_close(head.distilbert(**inputs).last_hidden_state, base(**inputs).last_hidden_state)

    head_dir = _checkpoint(checkpoints, "DistilBertForSequenceClassification", {})
    base_from_head, info = AutoModel.from_pretrained(head_dir, output_loading_info=True)
    assert not info["missing_keys"]
    theirs = transformers.DistilBertModel.from_pretrained(head_dir).eval()
    with torch.no_grad():
        _assert_same_outputs(base_from_head(**inputs), theirs(**inputs))


# --------------------------------------------------------------------------- config


def test_config_aliases_and_round_trip(tmp_path: pathlib.Path) -> None:
    config = DistilBertConfig(hidden_size=48, num_attention_heads=6, num_hidden_layers=3, tie_weights_=True)
    assert (config.dim, config.n_heads, config.n_layers) == (48, 6, 3)
    assert (config.hidden_size, config.num_attention_heads, config.num_hidden_layers) == (48, 6, 3)
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["dim"] == 48 and "hidden_size" not in saved and saved["tie_weights_"] is True
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, DistilBertConfig) and loaded == config
    theirs = transformers.DistilBertConfig.from_pretrained(tmp_path)
    for key in (
        "dim",
        "n_heads",
        "n_layers",
        "hidden_dim",
        "seq_classif_dropout",
        "qa_dropout",
        "activation",
    ):
        assert getattr(theirs, key) == getattr(loaded, key)


def test_defaults_match_transformers() -> None:
    ours, theirs = DistilBertConfig().to_dict(), transformers.DistilBertConfig().to_dict()
    for key in (
        "vocab_size",
        "max_position_embeddings",
        "sinusoidal_pos_embds",
        "n_layers",
        "n_heads",
        "dim",
        "hidden_dim",
        "dropout",
        "attention_dropout",
        "activation",
        "initializer_range",
        "qa_dropout",
        "seq_classif_dropout",
        "pad_token_id",
        "tie_word_embeddings",
    ):
        assert ours[key] == theirs[key], key


def test_unsupported_and_invalid_configs_raise() -> None:
    with pytest.raises(UnsupportedConfigError, match="'activation'"):
        DistilBertModel.from_config(DistilBertConfig(**{**TINY, "activation": "no-such-act"}))
    with pytest.raises(ConfigError, match="'n_heads'"):
        DistilBertModel.from_config(DistilBertConfig(**{**TINY, "n_heads": 5}))
    with pytest.raises(ConfigError, match="'num_labels'"):
        AutoModelForQuestionAnswering.from_config(DistilBertConfig(**TINY, num_labels=3))
    with pytest.raises(ConfigError, match="'sinusoidal_pos_embds'"):
        DistilBertModel.from_config(DistilBertConfig(**{**TINY, "sinusoidal_pos_embds": "yes"}))


def test_training_mode_applies_dropout(checkpoints: dict) -> None:
    directory = _checkpoint(checkpoints, "DistilBertForSequenceClassification", {})
    model = AutoModelForSequenceClassification.from_pretrained(
        directory, dropout=0.5, seq_classif_dropout=0.5
    )
    inputs = _inputs("sequence", torch.Generator().manual_seed(13))
    model.train()
    torch.manual_seed(0)
    first = model(**inputs).logits
    second = model(**inputs).logits
    assert not torch.allclose(first, second)
    model.eval()
    torch.testing.assert_close(model(**inputs).logits, model(**inputs).logits, rtol=0, atol=0)


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


@pytest.mark.parametrize("class_name", [name for name in HEADS if name != "DistilBertModel"])
def test_training_step_matches_transformers(checkpoints: dict, class_name: str) -> None:
    """Dropout on, ``num_items_in_batch`` given: loss and gradients equal transformers', with and
    without gradient checkpointing."""
    auto_class, kind = HEADS[class_name]
    directory = _checkpoint(checkpoints, class_name, {})
    ours = auto_class.from_pretrained(directory)
    theirs = getattr(transformers, class_name).from_pretrained(directory)
    assert ours.config.dropout > 0 and ours.config.attention_dropout > 0
    generator = torch.Generator().manual_seed(1)
    inputs = _inputs(kind, generator)
    inputs.update(_labels(kind, generator, inputs))
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
