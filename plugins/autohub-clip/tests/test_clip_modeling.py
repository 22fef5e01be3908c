"""CLIP models against transformers (the oracle) on a shrunk openai/clip-vit-base-patch32 config:
every class's outputs (padding masks, hidden states, attentions), the pooling rules of
``eos_token_id``, features, contrastive and classification losses and their gradients, both save
directions, tower checkpoints of both layouts, Auto class resolution, config keys, typed errors."""

from __future__ import annotations

import json

import pytest
import torch
import transformers

from autohub_clip.config import CLIPConfig, CLIPTextConfig, CLIPVisionConfig
from autohub_clip.modeling import (
    CLIPForImageClassification,
    CLIPModel,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPVisionModel,
    CLIPVisionModelWithProjection,
)
from autohub_core import (
    AutoConfig,
    AutoModel,
    AutoModelForImageClassification,
    AutoModelForTextEncoding,
    AutoModelForZeroShotImageClassification,
)
from autohub_core.errors import ConfigError, ModelInputError, UnknownModelTypeError, UnsupportedConfigError

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()

TOL = 1e-5
VOCAB, EOS, BOS = 99, 98, 97
IMAGE, PATCH = 224, 32

#: openai/clip-vit-base-patch32's config.json, shrunk: same keys and options (legacy
#: ``eos_token_id`` 2 included, as the Hub file has it), tiny widths, the real 224 / 32 image grid.
HUB_CONFIG = {
    "architectures": ["CLIPModel"],
    "initializer_factor": 1.0,
    "logit_scale_init_value": 2.6592,
    "model_type": "clip",
    "projection_dim": 16,
    "text_config": {
        "attention_dropout": 0.0,
        "bos_token_id": 0,
        "dropout": 0.0,
        "eos_token_id": 2,
        "hidden_act": "quick_gelu",
        "hidden_size": 32,
        "initializer_factor": 1.0,
        "initializer_range": 0.02,
        "intermediate_size": 37,
        "layer_norm_eps": 1e-05,
        "max_position_embeddings": 77,
        "model_type": "clip_text_model",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "pad_token_id": 1,
        "projection_dim": 16,
        "vocab_size": VOCAB,
    },
    "vision_config": {
        "attention_dropout": 0.0,
        "dropout": 0.0,
        "hidden_act": "quick_gelu",
        "hidden_size": 24,
        "image_size": IMAGE,
        "initializer_factor": 1.0,
        "initializer_range": 0.02,
        "intermediate_size": 37,
        "layer_norm_eps": 1e-05,
        "model_type": "clip_vision_model",
        "num_attention_heads": 4,
        "num_channels": 3,
        "num_hidden_layers": 2,
        "patch_size": PATCH,
        "projection_dim": 16,
    },
    "torch_dtype": "float32",
}
LABELS = {"0": "cat", "1": "dog", "2": "bird"}

PAIRS = [
    (transformers.CLIPModel, CLIPModel),
    (transformers.CLIPTextModel, CLIPTextModel),
    (transformers.CLIPTextModelWithProjection, CLIPTextModelWithProjection),
    (transformers.CLIPVisionModel, CLIPVisionModel),
    (transformers.CLIPVisionModelWithProjection, CLIPVisionModelWithProjection),
    (transformers.CLIPForImageClassification, CLIPForImageClassification),
]
FIELDS = (
    "loss",
    "logits",
    "logits_per_image",
    "logits_per_text",
    "text_embeds",
    "image_embeds",
    "last_hidden_state",
    "pooler_output",
    "hidden_states",
    "attentions",
)


def _config(**text_overrides: object) -> dict:
    config = json.loads(json.dumps(HUB_CONFIG))
    config["text_config"].update(text_overrides)
    config["id2label"] = LABELS
    return config


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory):
    """A transformers CLIPForImageClassification-capable CLIP checkpoint: the whole CLIPModel's
    weights plus a classifier, saved by transformers."""
    directory = tmp_path_factory.mktemp("hf-clip")
    config = transformers.CLIPConfig(**_config())
    torch.manual_seed(0)
    model = transformers.CLIPModel(config)
    model.save_pretrained(directory)
    return directory


def _text(eos: int = EOS) -> dict[str, torch.Tensor]:
    """Right-padded rows framed by bos / eos, padded with the eos id (openai's pad token)."""
    generator = torch.Generator().manual_seed(3)
    ids = torch.randint(3, 90, (3, 9), generator=generator)
    ids[:, 0] = BOS
    lengths = [9, 6, 4]
    mask = torch.zeros_like(ids)
    for row, length in enumerate(lengths):
        ids[row, length - 1 :] = eos
        mask[row, :length] = 1
    return {"input_ids": ids, "attention_mask": mask}


def _pixels(batch: int = 3, size: int = IMAGE, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _inputs(ours_class: type, eos: int = EOS) -> dict[str, torch.Tensor]:
    inputs: dict[str, torch.Tensor] = {}
    if ours_class in (CLIPModel, CLIPTextModel, CLIPTextModelWithProjection):
        inputs.update(_text(eos))
    if ours_class not in (CLIPTextModel, CLIPTextModelWithProjection):
        inputs["pixel_values"] = _pixels()
    return inputs


def _assert_same(expected, actual, atol: float = TOL, requested_only: bool = False) -> int:
    """Compare the FIELDS both outputs have (``requested_only``: those ``actual`` has)."""
    compared = 0
    for name in FIELDS:
        want, got = getattr(expected, name, None), getattr(actual, name, None)
        if requested_only and got is None:
            continue
        if want is None:
            assert got is None, f"{name}: autohub returns it, transformers does not"
            continue
        wants = want if isinstance(want, tuple) else (want,)
        gots = got if isinstance(got, tuple) else (got,)
        assert len(wants) == len(gots), name
        for one, other in zip(wants, gots, strict=True):
            torch.testing.assert_close(other, one, rtol=0, atol=atol, msg=name)
            compared += 1
    return compared


@pytest.mark.parametrize(("theirs_class", "ours_class"), PAIRS, ids=lambda c: c.__name__)
def test_every_class_matches_transformers(checkpoint, theirs_class, ours_class) -> None:
    """Each class loaded from the same CLIP checkpoint gives transformers' outputs, hidden states and
    (eager) attention weights, with padded text."""
    theirs = theirs_class.from_pretrained(checkpoint, attn_implementation="eager").eval()
    ours, info = ours_class.from_pretrained(checkpoint, output_loading_info=True)
    assert info["mismatched_keys"] == []
    missing = ["classifier.bias", "classifier.weight"] if ours_class is CLIPForImageClassification else []
    assert info["missing_keys"] == missing
    if missing:
        ours.classifier.load_state_dict(theirs.classifier.state_dict())
    inputs = _inputs(ours_class)
    with torch.no_grad():
        expected = theirs(**inputs, output_hidden_states=True, output_attentions=True)
        actual = ours(**inputs, output_hidden_states=True, output_attentions=True)
        plain = ours(**inputs)  # sdpa
    assert _assert_same(expected, actual) >= 3
    assert _assert_same(expected, plain, requested_only=True) >= 1
    if ours_class is CLIPModel:
        for tower in ("text_model_output", "vision_model_output"):
            assert _assert_same(getattr(expected, tower), getattr(actual, tower)) >= 4
        as_tuple = ours(**inputs, return_dict=False)
        assert isinstance(as_tuple[-1], tuple) and torch.equal(as_tuple[0], plain.logits_per_image)


@pytest.mark.parametrize("eos_token_id", [2, EOS], ids=["legacy-argmax", "first-eos"])
def test_pooling_follows_eos_token_id(tmp_path, eos_token_id) -> None:
    """eos_token_id 2 pools at the highest id of each row; another id at its first position, even
    when the padding repeats it."""
    config = transformers.CLIPTextConfig(**{**_config()["text_config"], "eos_token_id": eos_token_id})
    torch.manual_seed(1)
    transformers.CLIPTextModel(config).save_pretrained(tmp_path)
    theirs = transformers.CLIPTextModel.from_pretrained(tmp_path).eval()
    ours = CLIPTextModel.from_pretrained(tmp_path)
    inputs = _text()
    with torch.no_grad():
        expected, actual = theirs(**inputs), ours(**inputs)
    torch.testing.assert_close(actual.pooler_output, expected.pooler_output, rtol=0, atol=TOL)
    rows = torch.arange(3)
    position = inputs["input_ids"].argmax(-1) if eos_token_id == 2 else torch.tensor([8, 5, 3])
    torch.testing.assert_close(actual.pooler_output, actual.last_hidden_state[rows, position])


def test_features_and_image_feature_extraction(checkpoint) -> None:
    """get_text_features / get_image_features (transformers 5 returns the tower output with the
    projected pooler_output) and image feature extraction through AutoModel on a vision tower."""
    theirs = transformers.CLIPModel.from_pretrained(checkpoint).eval()
    ours = CLIPModel.from_pretrained(checkpoint)
    text, pixels = _text(), _pixels()
    with torch.no_grad():
        _assert_same(theirs.get_text_features(**text), ours.get_text_features(**text))
        image_features = ours.get_image_features(pixels)
        _assert_same(theirs.get_image_features(pixels), image_features)
        assert image_features.pooler_output.shape == (3, 16)
        vision = CLIPVisionModelWithProjection.from_pretrained(checkpoint)
        torch.testing.assert_close(
            vision(pixels).image_embeds, image_features.pooler_output, rtol=0, atol=TOL
        )
        text_tower = CLIPTextModelWithProjection.from_pretrained(checkpoint)
        torch.testing.assert_close(
            text_tower(**text).text_embeds, ours.get_text_features(**text).pooler_output, rtol=0, atol=TOL
        )


def test_interpolated_positions_match(checkpoint) -> None:
    theirs = transformers.CLIPVisionModel.from_pretrained(checkpoint).eval()
    ours = CLIPVisionModel.from_pretrained(checkpoint)
    pixels = _pixels(batch=2, size=288)
    with torch.no_grad():
        expected = theirs(pixels, interpolate_pos_encoding=True)
        actual = ours(pixels, interpolate_pos_encoding=True)
    _assert_same(expected, actual)
    with pytest.raises(ModelInputError, match=r"interpolate_pos_encoding=True"):
        ours(pixels)


def _grads(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.grad for name, p in model.named_parameters() if p.grad is not None}


def test_contrastive_loss_and_gradients(checkpoint) -> None:
    """return_loss=True: the same loss and the same gradient on every parameter."""
    theirs = transformers.CLIPModel.from_pretrained(checkpoint).train()
    ours = CLIPModel.from_pretrained(checkpoint).train()
    inputs = {**_text(), "pixel_values": _pixels()}
    expected = theirs(**inputs, return_loss=True)
    actual = ours(**inputs, return_loss=True)
    torch.testing.assert_close(actual.loss, expected.loss, rtol=0, atol=TOL)
    expected.loss.backward()
    actual.loss.backward()
    their_grads, our_grads = _grads(theirs), _grads(ours)
    assert their_grads.keys() == our_grads.keys() and "logit_scale" in our_grads
    for name, grad in their_grads.items():
        torch.testing.assert_close(our_grads[name], grad, rtol=0, atol=TOL, msg=name)
    with pytest.raises(ModelInputError, match="2 texts and 3 images"):
        ours(**{k: v[:2] for k, v in _text().items()}, pixel_values=_pixels(), return_loss=True)


@pytest.mark.parametrize(
    ("problem_type", "labels"),
    [
        (None, torch.tensor([0, 2, 1])),
        ("multi_label_classification", torch.tensor([[1.0, 0, 1], [0, 1, 0], [0, 0, 1]])),
        ("regression", torch.randn(3, 3)),
    ],
)
def test_image_classification_loss_and_gradients(checkpoint, problem_type, labels) -> None:
    theirs = transformers.CLIPForImageClassification.from_pretrained(checkpoint, problem_type=problem_type)
    ours = CLIPForImageClassification.from_pretrained(checkpoint, problem_type=problem_type)
    ours.classifier.load_state_dict(theirs.classifier.state_dict())
    theirs.train(), ours.train()
    expected = theirs(_pixels(), labels=labels)
    actual = ours(_pixels(), labels=labels)
    torch.testing.assert_close(actual.logits, expected.logits, rtol=0, atol=TOL)
    torch.testing.assert_close(actual.loss, expected.loss, rtol=0, atol=TOL)
    expected.loss.backward()
    actual.loss.backward()
    for name, grad in _grads(theirs).items():
        torch.testing.assert_close(_grads(ours)[name], grad, rtol=0, atol=TOL, msg=name)


@pytest.mark.parametrize(("theirs_class", "ours_class"), PAIRS, ids=lambda c: c.__name__)
def test_autohub_save_loads_in_transformers(checkpoint, tmp_path, theirs_class, ours_class) -> None:
    """What autohub saves, transformers loads with no missing or unexpected keys and the same outputs."""
    torch.manual_seed(2)
    ours = ours_class.from_pretrained(checkpoint).eval()
    ours.save_pretrained(tmp_path)
    theirs, info = theirs_class.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == set() or info["missing_keys"] == []
    assert not info["unexpected_keys"] and not info["mismatched_keys"]
    inputs = _inputs(ours_class)
    with torch.no_grad():
        assert _assert_same(theirs.eval()(**inputs), ours(**inputs)) >= 1
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["architectures"] == [ours_class.__name__]
    reloaded = ours_class.from_pretrained(tmp_path).config.to_dict()
    assert reloaded.pop("architectures") == [ours_class.__name__]
    expected = ours.config.to_dict()
    expected.pop("architectures")
    assert reloaded == expected


@pytest.mark.parametrize(
    ("theirs_class", "ours_class"),
    [
        (transformers.CLIPTextModel, CLIPTextModel),
        (transformers.CLIPVisionModel, CLIPVisionModel),
        (transformers.CLIPTextModelWithProjection, CLIPTextModelWithProjection),
        (transformers.CLIPVisionModelWithProjection, CLIPVisionModelWithProjection),
    ],
    ids=lambda c: c.__name__,
)
def test_tower_checkpoints_of_both_layouts(checkpoint, tmp_path, theirs_class, ours_class) -> None:
    """A tower saved by transformers 5 (flat names) and one with the older ``text_model.`` /
    ``vision_model.`` prefixed names both load without missing or unexpected keys."""
    from safetensors.torch import load_file, save_file

    theirs = theirs_class.from_pretrained(checkpoint).eval()
    theirs.save_pretrained(tmp_path / "flat")
    prefix = "text_model" if "Text" in ours_class.__name__ else "vision_model"
    tensors = load_file(tmp_path / "flat" / "model.safetensors")
    prefixed = {
        k if k.startswith(prefix) or "projection" in k else f"{prefix}.{k}": v for k, v in tensors.items()
    }
    (tmp_path / "prefixed").mkdir()
    (tmp_path / "prefixed" / "config.json").write_text((tmp_path / "flat" / "config.json").read_text())
    save_file(prefixed, str(tmp_path / "prefixed" / "model.safetensors"), metadata={"format": "pt"})
    inputs = _inputs(ours_class)
    with torch.no_grad():
        expected = theirs(**inputs)
        for layout in ("flat", "prefixed"):
            ours, info = ours_class.from_pretrained(tmp_path / layout, output_loading_info=True)
            assert info["missing_keys"] == [] and info["unexpected_keys"] == [], (layout, info)
            _assert_same(expected, ours(**inputs))


def test_tower_from_a_whole_clip_checkpoint_reports_the_other_tower(checkpoint) -> None:
    config = CLIPTextConfig.from_pretrained(checkpoint)
    assert config.model_type == "clip_text_model" and config.hidden_size == 32 and config.eos_token_id == 2
    _, info = CLIPTextModel.from_pretrained(checkpoint, output_loading_info=True)
    assert info["missing_keys"] == []
    assert info["unexpected_keys"] and all(
        not key.startswith("text_model.") for key in info["unexpected_keys"]
    )
    assert CLIPVisionConfig.from_pretrained(checkpoint).patch_size == PATCH


def test_auto_classes_resolve(checkpoint, tmp_path) -> None:
    """As transformers' auto mappings: clip -> CLIPModel (AutoModel, zero-shot) and
    CLIPForImageClassification; clip_text_model -> CLIPTextModel (AutoModel, text encoding);
    clip_vision_model -> CLIPVisionModel (AutoModel: image feature extraction)."""
    assert type(AutoModel.from_pretrained(checkpoint)) is CLIPModel
    assert type(AutoModelForZeroShotImageClassification.from_pretrained(checkpoint)) is CLIPModel
    classifier = AutoModelForImageClassification.from_pretrained(checkpoint)
    assert type(classifier) is CLIPForImageClassification and classifier.config.id2label[2] == "bird"
    transformers.CLIPTextModel.from_pretrained(checkpoint).save_pretrained(tmp_path / "text")
    transformers.CLIPVisionModel.from_pretrained(checkpoint).save_pretrained(tmp_path / "vision")
    assert type(AutoModel.from_pretrained(tmp_path / "text")) is CLIPTextModel
    assert type(AutoModelForTextEncoding.from_pretrained(tmp_path / "text")) is CLIPTextModel
    vision = AutoModel.from_pretrained(tmp_path / "vision")
    assert type(vision) is CLIPVisionModel
    with torch.no_grad():
        features = vision(_pixels(batch=1)).pooler_output
    assert features.shape == (1, 24)
    with pytest.raises(UnknownModelTypeError, match="image-classification"):
        AutoModelForImageClassification.from_pretrained(tmp_path / "text")


def test_config_round_trips_both_ways(checkpoint, tmp_path) -> None:
    """Every key transformers' CLIP configs read is kept; each library reads the other's file."""
    ours = AutoConfig.from_pretrained(checkpoint)
    assert isinstance(ours, CLIPConfig)
    assert isinstance(ours.text_config, CLIPTextConfig) and isinstance(ours.vision_config, CLIPVisionConfig)
    theirs = transformers.CLIPConfig.from_pretrained(checkpoint)
    for key in ("projection_dim", "logit_scale_init_value", "initializer_factor"):
        assert getattr(ours, key) == getattr(theirs, key), key
    for tower in ("text_config", "vision_config"):
        for key, value in HUB_CONFIG[tower].items():
            if key != "model_type":
                assert getattr(getattr(ours, tower), key) == getattr(getattr(theirs, tower), key) == value
    ours.save_pretrained(tmp_path)
    again = transformers.CLIPConfig.from_pretrained(tmp_path)
    assert again.text_config.to_dict() | {} and again.text_config.eos_token_id == 2
    assert again.vision_config.patch_size == PATCH and again.projection_dim == 16
    assert again.id2label == {0: "cat", 1: "dog", 2: "bird"}


def test_legacy_config_dict_keys_update_the_towers() -> None:
    config = CLIPConfig(
        text_config={"hidden_size": 64}, text_config_dict={"hidden_size": 32, "vocab_size": 10}
    )
    assert config.text_config.hidden_size == 32 and config.text_config.vocab_size == 10
    theirs = transformers.CLIPConfig(text_config={"hidden_size": 64}, text_config_dict={"hidden_size": 32})
    assert theirs.text_config.hidden_size == 32


@pytest.mark.parametrize(
    ("change", "error", "names"),
    [
        ({"vision_config": {"image_size": [224, 224]}}, UnsupportedConfigError, "image_size"),
        ({"text_config": {"eos_token_id": [2, 3]}}, UnsupportedConfigError, "eos_token_id"),
        ({"text_config": {"hidden_size": 30}}, ConfigError, "text_config"),
        ({"vision_config": {"layer_norm_eps": -1}}, ConfigError, "layer_norm_eps"),
        ({"text_config": "big"}, ConfigError, "text_config"),
        ({"projection_dim": 0}, ConfigError, "projection_dim"),
    ],
)
def test_bad_config_values_name_their_key(tmp_path, change, error, names) -> None:
    config = _config()
    for key, value in change.items():
        if isinstance(value, dict):
            config[key].update(value)
        else:
            config[key] = value
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(error, match=names):
        AutoConfig.from_pretrained(tmp_path)


def test_bad_model_inputs_are_typed(checkpoint) -> None:
    ours = CLIPModel.from_pretrained(checkpoint)
    with pytest.raises(ModelInputError, match="max_position_embeddings"):
        ours.get_text_features(torch.zeros(1, 78, dtype=torch.long))
    with pytest.raises(ModelInputError, match="channels"):
        ours.get_image_features(torch.zeros(1, 4, IMAGE, IMAGE))
    with pytest.raises(ModelInputError, match="pixel_values"):
        ours.get_image_features(torch.zeros(3, IMAGE, IMAGE))
    with pytest.raises(ModelInputError, match="input_ids"):
        ours(pixel_values=_pixels())
