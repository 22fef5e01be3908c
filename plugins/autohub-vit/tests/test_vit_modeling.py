"""ViT models against transformers (the oracle): every head on a shrunk google/vit-base-patch16-224
config, both save directions, the classification problem types, masked image modeling, gradients,
the forward options (interpolated positions, mask token, attention mask, hidden states and
attentions), config keys, and the typed errors for inputs the model cannot run on."""

from __future__ import annotations

import json

import pytest
import torch
import transformers

from autohub_core import (
    AutoConfig,
    AutoModel,
    AutoModelForImageClassification,
    AutoModelForMaskedImageModeling,
)
from autohub_core.errors import ConfigError, ModelInputError, UnsupportedConfigError
from autohub_vit.config import ViTConfig
from autohub_vit.modeling import ViTForImageClassification, ViTForMaskedImageModeling, ViTModel

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()

TOL = 1e-5
IMAGE, PATCH = 32, 8
PATCHES = (IMAGE // PATCH) ** 2
LABELS = ["tabby", "tiger cat", "goldfish", "great white shark", "tench"]

#: google/vit-base-patch16-224's config.json, shrunk: same keys and options, tiny sizes (the
#: masked-image-modeling decoder needs encoder_stride == patch_size, as in the Hub config).
HUB_CONFIG = {
    "architectures": ["ViTForImageClassification"],
    "attention_probs_dropout_prob": 0.0,
    "encoder_stride": PATCH,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.0,
    "hidden_size": 32,
    "id2label": {str(i): label for i, label in enumerate(LABELS)},
    "label2id": {label: i for i, label in enumerate(LABELS)},
    "image_size": IMAGE,
    "initializer_range": 0.02,
    "intermediate_size": 37,
    "layer_norm_eps": 1e-12,
    "model_type": "vit",
    "num_attention_heads": 4,
    "num_channels": 3,
    "num_hidden_layers": 2,
    "patch_size": PATCH,
    "qkv_bias": True,
    "torch_dtype": "float32",
}
HEADS = {
    "base": (transformers.ViTModel, AutoModel, ViTModel),
    "image-classification": (
        transformers.ViTForImageClassification,
        AutoModelForImageClassification,
        ViTForImageClassification,
    ),
    "masked-image-modeling": (
        transformers.ViTForMaskedImageModeling,
        AutoModelForMaskedImageModeling,
        ViTForMaskedImageModeling,
    ),
}
FIELDS = (
    "loss",
    "logits",
    "reconstruction",
    "last_hidden_state",
    "pooler_output",
    "hidden_states",
    "attentions",
)


def _pixels(batch: int = 2, height: int = IMAGE, width: int = IMAGE, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 3, height, width, generator=torch.Generator().manual_seed(seed))


def _mask(batch: int = 2, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 2, (batch, PATCHES), generator=torch.Generator().manual_seed(seed)).bool()


def _assert_same(expected, actual, fields=FIELDS) -> None:
    compared = 0
    for field in fields:
        want, got = getattr(expected, field, None), getattr(actual, field, None)
        if want is None or (isinstance(want, tuple) and not want):
            continue
        assert got is not None, f"{field} missing"
        wants, gots = (want, got) if isinstance(want, tuple) else ((want,), (got,))
        assert len(wants) == len(gots), field
        for one, other in zip(wants, gots, strict=True):
            assert one.shape == other.shape, field
            assert (one - other).abs().max().item() <= TOL, field
            compared += 1
    assert compared


def _reference(head: str, tmp_path, **overrides):
    """A transformers model of ``head`` saved in tmp_path / head, and the directory."""
    torch.manual_seed(0)
    config = transformers.ViTConfig.from_dict({**HUB_CONFIG, **overrides})
    model = HEADS[head][0](config).eval()
    directory = tmp_path / head
    model.save_pretrained(directory)
    return model, directory


def _inputs(head: str) -> dict:
    inputs = {"pixel_values": _pixels()}
    if head == "masked-image-modeling":
        inputs["bool_masked_pos"] = _mask()
    if head == "image-classification":
        inputs["labels"] = torch.tensor([1, 4])
    return inputs


@pytest.mark.parametrize("head", HEADS)
def test_transformers_checkpoint_loads_with_the_same_outputs(head, tmp_path) -> None:
    reference, directory = _reference(head, tmp_path)
    model, info = HEADS[head][1].from_pretrained(directory, output_loading_info=True)
    assert type(model) is HEADS[head][2]
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [] and info["mismatched_keys"] == []
    assert model.config.id2label == {i: label for i, label in enumerate(LABELS)}
    with torch.no_grad():
        expected = reference(**_inputs(head), output_hidden_states=True)
        actual = model(**_inputs(head), output_hidden_states=True)
    _assert_same(expected, actual)
    assert len(actual.hidden_states) == HUB_CONFIG["num_hidden_layers"] + 1


@pytest.mark.parametrize("head", HEADS)
def test_autohub_checkpoint_loads_in_transformers(head, tmp_path) -> None:
    torch.manual_seed(0)
    config = AutoConfig.for_model("vit", **{k: v for k, v in HUB_CONFIG.items() if k != "model_type"})
    model = HEADS[head][1].from_config(config).eval()
    model.save_pretrained(tmp_path)
    reference = HEADS[head][0].from_pretrained(tmp_path).eval()
    assert reference.config.id2label == {i: label for i, label in enumerate(LABELS)}
    with torch.no_grad():
        _assert_same(reference(**_inputs(head)), model(**_inputs(head)))


@pytest.mark.parametrize(
    ("num_labels", "problem_type", "labels"),
    [
        (5, None, torch.tensor([1, 4])),
        (5, "single_label_classification", torch.tensor([0, 2])),
        (5, None, torch.tensor([[1.0, 0, 1, 0, 0], [0, 1, 0, 0, 1]])),
        (1, None, torch.tensor([0.5, -1.25])),
        (3, "regression", torch.tensor([[0.5, 1.0, -2.0], [0.0, 0.25, 3.0]])),
    ],
    ids=["single-label", "single-label-declared", "multi-label", "regression-1", "regression-3"],
)
def test_classification_loss_and_gradients(num_labels, problem_type, labels, tmp_path) -> None:
    overrides = {"num_labels": num_labels, "id2label": None, "label2id": None, "problem_type": problem_type}
    overrides = {k: v for k, v in overrides.items() if v is not None or k == "problem_type"}
    config = {**HUB_CONFIG, **overrides}
    for key in ("id2label", "label2id"):
        config.pop(key)
    _, directory = _reference("image-classification", tmp_path, **config)
    reference = transformers.ViTForImageClassification.from_pretrained(directory).train()
    model = AutoModelForImageClassification.from_pretrained(directory).train()
    expected = reference(pixel_values=_pixels(), labels=labels)
    actual = model(pixel_values=_pixels(), labels=labels)
    assert model.config.problem_type == reference.config.problem_type
    assert abs(expected.loss.item() - actual.loss.item()) <= TOL
    expected.loss.backward()
    actual.loss.backward()
    _assert_gradients_equal(reference, model)


def test_num_items_in_batch_divides_the_summed_single_label_loss(tmp_path) -> None:
    reference, directory = _reference("image-classification", tmp_path)
    model = AutoModelForImageClassification.from_pretrained(directory)
    labels = torch.tensor([1, 4])
    expected = reference(pixel_values=_pixels(), labels=labels, num_items_in_batch=torch.tensor(5)).loss
    actual = model(pixel_values=_pixels(), labels=labels, num_items_in_batch=torch.tensor(5)).loss
    assert abs(expected.item() - actual.item()) <= TOL
    mean = model(pixel_values=_pixels(), labels=labels).loss
    assert abs(actual.item() - mean.item() * 2 / 5) <= TOL


def test_masked_image_modeling_loss_and_gradients(tmp_path) -> None:
    _, directory = _reference("masked-image-modeling", tmp_path)
    reference = transformers.ViTForMaskedImageModeling.from_pretrained(directory).train()
    model = AutoModelForMaskedImageModeling.from_pretrained(directory).train()
    expected = reference(pixel_values=_pixels(), bool_masked_pos=_mask())
    actual = model(pixel_values=_pixels(), bool_masked_pos=_mask())
    assert actual.reconstruction.shape == (2, 3, IMAGE, IMAGE)
    assert abs(expected.loss.item() - actual.loss.item()) <= TOL
    expected.loss.backward()
    actual.loss.backward()
    _assert_gradients_equal(reference, model)
    assert model.vit.embeddings.mask_token.grad.abs().sum() > 0  # masked patches reach the mask token


def _assert_gradients_equal(reference: torch.nn.Module, model: torch.nn.Module) -> None:
    """Every parameter's gradient equal, matched by checkpoint name (transformers 5 renames the
    modules in memory, ``vit.layers.0.attention.q_proj``, and back to these names when saving)."""
    from transformers.core_model_loading import revert_weight_conversion

    expected = revert_weight_conversion(
        reference, {name: p.grad for name, p in reference.named_parameters() if p.grad is not None}
    )
    actual = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
    assert expected.keys() == actual.keys()
    for name, grad in expected.items():
        assert (grad - actual[name]).abs().max().item() <= TOL, name


def test_eager_attentions_match(tmp_path) -> None:
    _, directory = _reference("base", tmp_path)
    reference = transformers.ViTModel.from_pretrained(directory, attn_implementation="eager").eval()
    model = AutoModel.from_pretrained(directory, attn_implementation="eager")
    with torch.no_grad():
        expected = reference(_pixels(), output_attentions=True, output_hidden_states=True)
        actual = model(_pixels(), output_attentions=True, output_hidden_states=True)
    _assert_same(expected, actual)
    assert [a.shape for a in actual.attentions] == [(2, 4, PATCHES + 1, PATCHES + 1)] * 2
    # sdpa gives the same states; asking for attentions computes them eagerly (transformers 5 gives none)
    sdpa = AutoModel.from_pretrained(directory)
    with torch.no_grad():
        _assert_same(expected, sdpa(_pixels(), output_attentions=True, output_hidden_states=True))


@pytest.mark.parametrize(("height", "width"), [(48, 40), (16, 16), (32, 32)])
def test_interpolated_position_embeddings_match(height, width, tmp_path) -> None:
    reference, directory = _reference("image-classification", tmp_path)
    model = AutoModelForImageClassification.from_pretrained(directory)
    pixels = _pixels(height=height, width=width)
    with torch.no_grad():
        expected = reference(pixels, interpolate_pos_encoding=True, output_hidden_states=True)
        actual = model(pixels, interpolate_pos_encoding=True, output_hidden_states=True)
    _assert_same(expected, actual)


def test_mask_token_and_attention_mask_of_the_base_model_match(tmp_path) -> None:
    _, directory = _reference("masked-image-modeling", tmp_path)
    reference = transformers.ViTModel.from_pretrained(directory, use_mask_token=True).eval()
    model = AutoModel.from_pretrained(directory, use_mask_token=True)
    assert model.pooler is not None
    attention_mask = torch.ones(2, PATCHES + 1, dtype=torch.long)
    attention_mask[1, -3:] = 0
    with torch.no_grad():
        for kwargs in ({"bool_masked_pos": _mask()}, {"attention_mask": attention_mask}):
            expected = reference(_pixels(), **kwargs)
            actual = model(_pixels(), **kwargs)
            _assert_same(expected, actual, ("last_hidden_state",))
    unpooled = AutoModel.from_pretrained(directory, add_pooling_layer=False)
    assert unpooled.pooler is None and unpooled(_pixels()).pooler_output is None


def test_pooler_output_size_and_activation_match(tmp_path) -> None:
    reference, directory = _reference("base", tmp_path, pooler_output_size=24, pooler_act="relu")
    model = AutoModel.from_pretrained(directory)
    with torch.no_grad():
        expected, actual = reference(_pixels()), model(_pixels())
    assert actual.pooler_output.shape == (2, 24)
    _assert_same(expected, actual, ("last_hidden_state", "pooler_output"))


def test_rectangular_images_and_patches_and_no_qkv_bias_match(tmp_path) -> None:
    """Also ``head_dim`` (read by transformers 5 when present): 4 heads of 12 over a hidden size of 32."""
    overrides = {
        "image_size": [32, 24],
        "patch_size": [8, 4],
        "qkv_bias": False,
        "hidden_act": "gelu_new",
        "head_dim": 12,
    }
    reference, directory = _reference("image-classification", tmp_path, **overrides)
    model = AutoModelForImageClassification.from_pretrained(directory)
    assert "vit.encoder.layer.0.attention.attention.query.bias" not in model.state_dict()
    assert model.vit.encoder.layer[0].attention.attention.query.weight.shape == (48, 32)
    pixels = _pixels(height=32, width=24)
    with torch.no_grad():
        _assert_same(reference(pixels), model(pixels), ("logits",))


def test_half_precision_pixels_follow_the_model_dtype(tmp_path) -> None:
    _, directory = _reference("image-classification", tmp_path)
    model = AutoModelForImageClassification.from_pretrained(directory, dtype=torch.bfloat16)
    logits = model(_pixels()).logits  # float32 pixel values are cast, as transformers does
    assert logits.dtype == torch.bfloat16 and torch.isfinite(logits).all()


# -- config ------------------------------------------------------------------------------------


def test_config_reads_and_writes_every_key_transformers_reads(tmp_path) -> None:
    keys = set(transformers.ViTConfig().to_dict()) - set(transformers.PretrainedConfig().to_dict())
    assert keys <= set(ViTConfig().to_dict()), keys - set(ViTConfig().to_dict())
    (tmp_path / "config.json").write_text(json.dumps(HUB_CONFIG), encoding="utf-8")
    config = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(config, ViTConfig)
    assert config.pooler_output_size == 32 and config.pooler_act == "tanh"
    config.save_pretrained(tmp_path / "saved")
    reference = transformers.ViTConfig.from_pretrained(tmp_path / "saved")
    for key in keys:
        assert getattr(reference, key) == getattr(config, key), key


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        ("image_size", "big", ConfigError),
        ("patch_size", [8, 8, 8], ConfigError),
        ("patch_size", 64, ConfigError),  # larger than the 32-pixel image
        ("num_channels", 0, ConfigError),
        ("qkv_bias", "yes", ConfigError),
        ("encoder_stride", -1, ConfigError),
        ("hidden_dropout_prob", 1.5, ConfigError),
        ("pooler_output_size", 2.5, ConfigError),
        ("hidden_act", "swooshy", UnsupportedConfigError),
        ("pooler_act", "swooshy", UnsupportedConfigError),
    ],
)
def test_bad_config_values_are_typed_errors_naming_the_key(key, value, error, tmp_path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({**HUB_CONFIG, key: value}), encoding="utf-8")
    with pytest.raises(error, match=key):
        AutoModel.from_config(AutoConfig.from_pretrained(tmp_path))  # the pooler reads pooler_act


# -- inputs the model cannot run on ------------------------------------------------------------


def test_wrong_image_sizes_are_model_input_errors_naming_pixel_values() -> None:
    torch.manual_seed(0)
    model = ViTForImageClassification(ViTConfig(**{k: v for k, v in HUB_CONFIG.items() if k != "model_type"}))
    with pytest.raises(ModelInputError, match=r"pixel_values is 16x16 .* expects 32x32"):
        model(_pixels(height=16, width=16))
    for interpolate in (False, True):  # smaller than one patch: no interpolation helps
        with pytest.raises(ModelInputError, match=r"pixel_values is 4x6 .*smaller than one 8x8 patch.*32x32"):
            model(_pixels(height=4, width=6), interpolate_pos_encoding=interpolate)
    with pytest.raises(ModelInputError, match=r"pixel_values has 1 channels .*num_channels = 3"):
        model(torch.zeros(2, 1, IMAGE, IMAGE))
    with pytest.raises(ModelInputError, match=r"pixel_values must be a 4-D tensor"):
        model(torch.zeros(3, IMAGE, IMAGE))
    with pytest.raises(ModelInputError, match="pixel_values is required"):
        model()
    with pytest.raises(ModelInputError, match="use_mask_token=True"):
        model.vit(_pixels(), bool_masked_pos=_mask())


def test_masked_image_modeling_refuses_bad_masks() -> None:
    torch.manual_seed(0)
    config = ViTConfig(**{k: v for k, v in HUB_CONFIG.items() if k != "model_type"})
    model = ViTForMaskedImageModeling(config)
    with pytest.raises(ModelInputError, match=r"bool_masked_pos has shape \(2, 5\)"):
        model(_pixels(), bool_masked_pos=torch.zeros(2, 5, dtype=torch.bool))
    config.encoder_stride = 4
    with pytest.raises(ModelInputError, match="patch_size = 8 and encoder_stride = 4"):
        ViTForMaskedImageModeling(config)(_pixels(), bool_masked_pos=_mask())
