"""DeBERTa-v2 / v3 against transformers: every head, with padding, on tiny checkpoints shaped like the Hub's.

Three shrunk configs, each saved by transformers once per head:

- ``v3``: microsoft/deberta-v3-base's keys (relative attention with log position buckets, shared
  attention keys, LayerNorm'd relative embeddings, ``"p2c|c2p"`` as a string, no absolute positions,
  no token types); the sequences are longer than half the buckets, so the logarithmic buckets are used;
- ``xlarge``: microsoft/deberta-v2-xlarge's (convolution beside the first layer, ``attention_head_size``)
  with separate position projections (no ``share_att_key``) and the original DeBERTa MLM head
  (``legacy=False``);
- ``options``: the remaining options (``embedding_size`` ≠ ``hidden_size``, token types, absolute
  positions, c2p only, ``max_relative_positions`` without buckets and shorter than the sequence,
  grouped convolution, untied legacy MLM weights, ``cls_dropout`` / pooler options).

For each head: outputs (hidden states and attention weights too) ≤ 1e-5 in eval mode, loss and every
parameter's gradient ≤ 1e-5 in training mode (dropout 0), the same gradients with gradient
checkpointing, and transformers loading what autohub saves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import transformers

from autohub_core import AutoConfig, AutoModel
from autohub_core.auto import auto_class_for_task
from autohub_core.errors import ConfigError, LabelError, UnsupportedConfigError
from autohub_deberta_v2.config import DebertaV2Config

transformers.logging.set_verbosity_error()

_SIZES = {
    "vocab_size": 99,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "max_position_embeddings": 64,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "layer_norm_eps": 1e-7,
    "type_vocab_size": 0,
}
CONFIGS: dict[str, dict[str, Any]] = {
    "v3": {
        **_SIZES,
        "relative_attention": True,
        "position_buckets": 8,
        "max_relative_positions": -1,
        "norm_rel_ebd": "layer_norm",
        "share_att_key": True,
        "pos_att_type": "p2c|c2p",
        "position_biased_input": False,
    },
    "xlarge": {
        **_SIZES,
        "relative_attention": True,
        "position_buckets": 8,
        "norm_rel_ebd": "layer_norm",
        "share_att_key": False,
        "pos_att_type": ["p2c", "c2p"],
        "position_biased_input": False,
        "conv_kernel_size": 3,
        "conv_act": "gelu",
        "attention_head_size": 8,
        "legacy": False,
    },
    "options": {
        **_SIZES,
        "embedding_size": 24,
        "type_vocab_size": 2,
        "position_biased_input": True,
        "relative_attention": True,
        "max_relative_positions": 5,
        "pos_att_type": ["c2p"],
        "conv_kernel_size": 5,
        "conv_groups": 2,
        "tie_word_embeddings": False,
        "pooler_hidden_act": "tanh",
        "cls_dropout": 0.0,
        "pooler_dropout": 0.0,
    },
}
HEADS = {
    "base": "DebertaV2Model",
    "masked-lm": "DebertaV2ForMaskedLM",
    "sequence-classification": "DebertaV2ForSequenceClassification",
    "token-classification": "DebertaV2ForTokenClassification",
    "question-answering": "DebertaV2ForQuestionAnswering",
    "multiple-choice": "DebertaV2ForMultipleChoice",
}
BATCH, LENGTH, CHOICES = 2, 12, 3


class Pairs:
    """For each (config, head, number of labels): transformers' model, built seeded and saved once,
    and autohub's loaded from that checkpoint."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.built: dict[tuple[str, str, int], tuple[Any, Any, Path]] = {}

    def get(self, name: str, task: str, num_labels: int | None = None) -> tuple[Any, Any, Path]:
        num_labels = num_labels or (2 if task == "question-answering" else 3)
        key = (name, task, num_labels)
        if key not in self.built:
            torch.manual_seed(0)
            config = transformers.DebertaV2Config(**CONFIGS[name], num_labels=num_labels)
            reference = getattr(transformers, HEADS[task])(config)
            directory = self.root / f"{name}-{task}-{num_labels}"
            reference.save_pretrained(directory)
            ours = auto_class_for_task(task).from_pretrained(directory)
            assert type(ours).__name__ == HEADS[task]
            self.built[key] = (reference, ours, directory)
        reference, ours, directory = self.built[key]
        for model in (reference, ours):
            model.eval().zero_grad(set_to_none=True)
        ours.gradient_checkpointing_disable()
        return reference, ours, directory


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Pairs:
    return Pairs(tmp_path_factory.mktemp("deberta-v2"))


def _inputs(task: str, with_token_types: bool) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    shape = (BATCH, CHOICES, LENGTH) if task == "multiple-choice" else (BATCH, LENGTH)
    inputs = {"input_ids": torch.randint(5, 99, shape, generator=generator)}
    mask = torch.ones(shape, dtype=torch.long)
    mask[-1, ..., -3:] = 0  # right padding in the last row
    inputs["attention_mask"] = mask
    if with_token_types:
        inputs["token_type_ids"] = torch.randint(0, 2, shape, generator=generator)
    return inputs


def _labels(task: str) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    if task == "masked-lm":
        labels = torch.randint(0, 99, (BATCH, LENGTH), generator=generator)
        labels[:, ::2] = -100
        return {"labels": labels}
    if task == "sequence-classification":
        return {"labels": torch.tensor([2, 0])}
    if task == "token-classification":
        return {"labels": torch.randint(0, 3, (BATCH, LENGTH), generator=generator)}
    if task == "question-answering":
        return {"start_positions": torch.tensor([1, 7]), "end_positions": torch.tensor([4, 20])}
    if task == "multiple-choice":
        return {"labels": torch.tensor([2, 1])}
    return {}


def _assert_outputs_close(expected: Any, actual: Any) -> None:
    expected_fields = {key: value for key, value in expected.items() if value is not None}
    assert set(actual.keys()) == set(expected_fields), (sorted(actual.keys()), sorted(expected_fields))
    for key, value in expected_fields.items():
        mine = actual[key]
        pairs = zip(value, mine, strict=True) if isinstance(value, tuple) else [(value, mine)]
        for theirs, ours in pairs:
            torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5, msg=key)


def _assert_gradients_close(reference: Any, ours: Any) -> None:
    gradients = dict(ours.named_parameters())
    for name, parameter in reference.named_parameters():
        if parameter.grad is not None:
            torch.testing.assert_close(gradients[name].grad, parameter.grad, rtol=0, atol=1e-5, msg=name)


#: Every head on the v3 config; the other configs' options live in the base model, the MLM head
#: (layouts, ``embedding_size``, tying) and the pooler (its options, ``cls_dropout``).
CASES = [
    *(("v3", task) for task in HEADS),
    ("xlarge", "masked-lm"),
    ("options", "masked-lm"),
    ("options", "sequence-classification"),
]


@pytest.mark.parametrize(("name", "task"), CASES)
def test_matches_transformers(name: str, task: str, pairs: Pairs, tmp_path: Path) -> None:
    """Outputs (sdpa and eager), loss and gradients (with and without gradient checkpointing) as
    transformers', and transformers loading what autohub saves."""
    reference, ours, _ = pairs.get(name, task)
    inputs = _inputs(task, CONFIGS[name]["type_vocab_size"] > 0)
    with torch.no_grad():
        expected = reference(**inputs, output_hidden_states=True, output_attentions=True)
        _assert_outputs_close(expected, ours(**inputs, output_hidden_states=True, output_attentions=True))
        fast = ours(**inputs)  # sdpa: no weights asked
        first = next(iter(fast))
        torch.testing.assert_close(fast[first], expected[first], rtol=0, atol=1e-5)
        assert torch.equal(ours(**inputs, return_dict=False)[0], fast[first])

    labels = _labels(task)
    reference.train()
    ours.train()
    expected = reference(**inputs, **labels)
    target = expected.loss if labels else expected.last_hidden_state.sum()
    target.backward()
    for checkpointing in (False, True):
        if checkpointing:
            ours.gradient_checkpointing_enable()
        ours.zero_grad()
        actual = ours(**inputs, **labels)
        loss = actual.loss if labels else actual.last_hidden_state.sum()
        torch.testing.assert_close(loss, target, rtol=0, atol=1e-5)
        loss.backward()
        _assert_gradients_close(reference, ours)

    ours.eval().save_pretrained(tmp_path)
    reloaded = getattr(transformers, HEADS[task]).from_pretrained(tmp_path).eval()
    with torch.no_grad():
        _assert_outputs_close(reloaded(**inputs), ours(**inputs))


@pytest.mark.parametrize(
    ("problem_type", "num_labels", "labels"),
    [
        (None, 3, torch.tensor([2, -1])),  # negative labels are left out
        (None, 3, torch.tensor([-1, -1])),  # no label: loss 0
        (None, 3, torch.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])),  # soft labels
        (None, 1, torch.tensor([0.5, -1.5])),
        ("regression", 1, torch.tensor([0.5, -1.5])),
        ("regression", 3, torch.rand(2, 3, generator=torch.Generator().manual_seed(3))),
        ("single_label_classification", 3, torch.tensor([1, 2])),
        ("multi_label_classification", 3, torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])),
    ],
)
def test_sequence_classification_losses(
    problem_type: str | None, num_labels: int, labels: torch.Tensor, pairs: Pairs
) -> None:
    """Every problem type, and transformers' DeBERTa rules when it is unset (which leave it unset)."""
    reference, ours, _ = pairs.get("v3", "sequence-classification", num_labels)
    reference.config.problem_type = ours.config.problem_type = problem_type
    inputs = _inputs("sequence-classification", False)
    reference.train()
    ours.train()
    expected = reference(**inputs, labels=labels).loss
    actual = ours(**inputs, labels=labels).loss
    torch.testing.assert_close(actual, expected.to(actual.dtype), rtol=0, atol=1e-6)
    assert ours.config.problem_type == problem_type
    if labels.min() >= 0:
        expected.backward()
        actual.backward()
        _assert_gradients_close(reference, ours)


def test_wrong_labels_are_refused(pairs: Pairs) -> None:
    _, classifier, _ = pairs.get("v3", "sequence-classification")
    classifier.config.problem_type = None
    with pytest.raises(LabelError, match="class index"):
        classifier(**_inputs("sequence-classification", False), labels=torch.tensor([3, 0]))


def test_checkpoint_layouts_of_the_masked_lm_head(pairs: Pairs) -> None:
    """A legacy=False checkpoint (``lm_predictions.lm_head``) read with legacy=True leaves those keys
    unexpected and initialises ``cls.predictions``, as transformers does."""
    _, _, directory = pairs.get("xlarge", "masked-lm")
    _, info = auto_class_for_task("masked-lm").from_pretrained(
        directory, legacy=True, output_loading_info=True
    )
    _, expected = transformers.DebertaV2ForMaskedLM.from_pretrained(
        directory, legacy=True, output_loading_info=True
    )
    assert set(info["unexpected_keys"]) == set(expected["unexpected_keys"])
    assert set(info["missing_keys"]) == set(expected["missing_keys"]) - {"cls.predictions.decoder.weight"}
    assert {key.split(".")[0] for key in info["unexpected_keys"]} == {"lm_predictions"}


def test_config_keys(tmp_path: Path) -> None:
    """Every key transformers reads round-trips; the legacy ``"p2c|c2p"`` becomes a list; keys absent
    from a config stay absent; unimplemented values are refused naming the key."""
    transformers.DebertaV2Config(**CONFIGS["xlarge"]).save_pretrained(tmp_path)
    ours = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(ours, DebertaV2Config)
    ours.save_pretrained(tmp_path / "saved")
    saved = json.loads((tmp_path / "saved" / "config.json").read_text())
    written = json.loads((tmp_path / "config.json").read_text())
    del written["transformers_version"]
    assert {key: saved.get(key) for key in written} == written
    legacy = DebertaV2Config(pos_att_type="P2C | c2p", hidden_size=32, num_attention_heads=4)
    assert legacy.pos_att_type == ["p2c", "c2p"]
    assert transformers.DebertaV2Config(pos_att_type="P2C | c2p").pos_att_type == ["p2c", "c2p"]
    assert "position_buckets" not in legacy.to_dict() and legacy.option("position_buckets") == -1
    assert legacy.pooler_hidden_size == 32 and legacy.relative_position_span == 512
    for key, value, error in (
        ("pos_att_type", ["c2p", "p2p"], UnsupportedConfigError),
        ("pos_att_type", "c2p|p2p", UnsupportedConfigError),
        ("norm_rel_ebd", "batch_norm", UnsupportedConfigError),
        ("conv_kernel_size", 2, ConfigError),
        ("pooler_hidden_size", 16, ConfigError),
        ("attention_head_size", 7, ConfigError),
        ("type_vocab_size", -1, ConfigError),
        ("conv_act", "nope", UnsupportedConfigError),
        ("pooler_hidden_act", "nope", UnsupportedConfigError),
    ):
        config = {**CONFIGS["v3"], "conv_kernel_size": 3, key: value}
        with pytest.raises(error, match=key):
            auto_class_for_task("sequence-classification").from_config(
                AutoConfig.for_model("deberta-v2", **config)
            )
    # A base model does not read the pooler's size.
    AutoModel.from_config(AutoConfig.for_model("deberta-v2", **CONFIGS["v3"], pooler_hidden_size=16))
