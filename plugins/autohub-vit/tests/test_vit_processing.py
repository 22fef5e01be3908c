"""ViTImageProcessor against transformers' ViTImageProcessorPil (the PIL backend, what transformers'
AutoImageProcessor gives without torchvision): pixel values for every kind of input, the old Hub
preprocessor_config.json (``ViTFeatureExtractor``, a bare ``size``), JSON files in both directions,
the whole pipeline into the model, and typed errors for bad images and bad files.

Measured difference to transformers: 0.0 (bit-identical float32) for every input here, images
already 224x224 and resized ones alike (both resize with PIL's bilinear filter on uint8 pixels,
then rescale and normalize in numpy with the same dtypes), so the tolerance asserted is exact.
"""

from __future__ import annotations

import json

import numpy as np
import PIL.Image
import pytest
import torch
import transformers
from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

from autohub_core import (
    AutoFeatureExtractor,
    AutoImageProcessor,
    AutoModelForImageClassification,
    AutoProcessor,
)
from autohub_core.errors import AutohubError, ProcessorError
from autohub_vit.processing import ViTImageProcessor

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()

#: The measured max-abs difference to transformers (see the module docstring).
TOLERANCE = 0.0

#: google/vit-base-patch16-224's preprocessor_config.json, exactly as the Hub ships it.
HUB_PREPROCESSOR = {
    "do_normalize": True,
    "do_resize": True,
    "feature_extractor_type": "ViTFeatureExtractor",
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
    "resample": 2,
    "size": 224,
}


def _rgb(height: int, width: int, seed: int = 0) -> PIL.Image.Image:
    rng = np.random.default_rng(seed)
    return PIL.Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _uint8(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _unit(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def _write(directory, name: str, values: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(json.dumps(values), encoding="utf-8")


def _assert_matches(images, **kwargs) -> np.ndarray:
    expected = ViTImageProcessorPil()(images, return_tensors="np", **kwargs).pixel_values
    actual = ViTImageProcessor()(images, return_tensors="np", **kwargs).pixel_values
    assert actual.dtype == expected.dtype == np.float32
    assert actual.shape == expected.shape
    assert float(np.abs(actual - expected).max()) <= TOLERANCE
    return actual


AT_SIZE = {
    "pil-rgb": lambda: _rgb(224, 224),
    "numpy-uint8-hwc": lambda: _uint8(224, 224, 3),
    "numpy-float-chw": lambda: _unit(3, 224, 224),
    "torch-uint8-chw": lambda: torch.from_numpy(_uint8(3, 224, 224)),
    "torch-float-chw": lambda: torch.from_numpy(_unit(3, 224, 224)),
}


@pytest.mark.parametrize("kind", AT_SIZE)
def test_images_at_the_model_size_give_transformers_pixel_values(kind) -> None:
    assert _assert_matches(AT_SIZE[kind]()).shape == (1, 3, 224, 224)


RESIZED = {
    "pil-rgb-300x200": lambda: _rgb(200, 300),
    "numpy-uint8-hwc": lambda: _uint8(120, 90, 3),
    "numpy-float32-chw": lambda: _unit(3, 100, 150),
    "numpy-float64-chw": lambda: np.random.default_rng(1).random((3, 100, 150)),
    "torch-uint8-chw": lambda: torch.from_numpy(_uint8(3, 64, 80)),
    "torch-float-chw": lambda: torch.from_numpy(_unit(3, 64, 80)),
    "torch-batch-4d": lambda: torch.from_numpy(_uint8(2, 3, 40, 30)),
    "mixed-list": lambda: [_rgb(50, 60), _uint8(300, 200, 3), _rgb(224, 224), _unit(3, 31, 17)],
}


@pytest.mark.parametrize("kind", RESIZED)
def test_resized_images_give_transformers_pixel_values(kind) -> None:
    pixels = _assert_matches(RESIZED[kind]())
    assert pixels.shape[-2:] == (224, 224)


@pytest.mark.parametrize("mode", ["L", "RGBA", "LA", "P"])
def test_grayscale_and_rgba_images_convert_to_rgb_on_request(mode) -> None:
    if mode == "RGBA":
        image = PIL.Image.fromarray(_uint8(200, 300, 4), "RGBA")
    else:
        image = _rgb(200, 300).convert(mode)
    _assert_matches(image, do_convert_rgb=True)
    # Without it, transformers' ViT refuses them (ValueError); autohub with a typed error saying what to do.
    with pytest.raises(ValueError):
        ViTImageProcessorPil()(image)
    with pytest.raises(ProcessorError, match=r"channel\(s\).*do_convert_rgb=True"):
        ViTImageProcessor()(image)


def test_an_image_path_gives_the_pixel_values_of_the_image(tmp_path) -> None:
    image = _rgb(200, 300)
    image.save(tmp_path / "cat.png")
    expected = ViTImageProcessorPil()(image, return_tensors="np").pixel_values
    from_path = ViTImageProcessor()(str(tmp_path / "cat.png"), return_tensors="np").pixel_values
    from_paths = ViTImageProcessor()([tmp_path / "cat.png", image], return_tensors="np").pixel_values
    assert float(np.abs(from_path - expected).max()) == 0.0
    assert float(np.abs(from_paths - np.concatenate([expected, expected])).max()) == 0.0


def test_return_types() -> None:
    processor = ViTImageProcessor()
    as_torch = processor([_rgb(20, 30), _rgb(30, 20)], return_tensors="pt").pixel_values
    assert isinstance(as_torch, torch.Tensor) and as_torch.shape == (2, 3, 224, 224)
    as_list = processor(_rgb(20, 30))["pixel_values"]
    assert isinstance(as_list, list) and as_list[0].shape == (3, 224, 224)
    half = processor(_rgb(20, 30), return_tensors="pt").to(torch.float16)
    assert half.pixel_values.dtype == torch.float16


def test_hub_preprocessor_config_with_the_legacy_name_and_a_bare_size(tmp_path) -> None:
    _write(tmp_path, "preprocessor_config.json", HUB_PREPROCESSOR)
    processor = AutoImageProcessor.from_pretrained(tmp_path)
    assert type(processor) is ViTImageProcessor
    assert processor.size == {"height": 224, "width": 224}
    assert type(AutoFeatureExtractor.from_pretrained(tmp_path)) is ViTImageProcessor
    assert type(AutoProcessor.from_pretrained(tmp_path)) is ViTImageProcessor
    reference = transformers.AutoImageProcessor.from_pretrained(tmp_path)
    images = [_rgb(200, 300), _uint8(224, 224, 3)]
    expected = reference(images, return_tensors="np").pixel_values
    assert float(np.abs(processor(images, return_tensors="np").pixel_values - expected).max()) == 0.0


def test_the_class_comes_from_config_json_without_a_type_key(tmp_path) -> None:
    values = {key: value for key, value in HUB_PREPROCESSOR.items() if key != "feature_extractor_type"}
    _write(tmp_path, "preprocessor_config.json", values)
    _write(tmp_path, "config.json", {"model_type": "vit"})
    assert type(AutoImageProcessor.from_pretrained(tmp_path)) is ViTImageProcessor


def test_json_files_load_in_both_directions(tmp_path) -> None:
    ours = ViTImageProcessor(size={"height": 48, "width": 40}, resample=3, image_mean=[0.4, 0.5, 0.6])
    ours.save_pretrained(tmp_path / "ours")
    saved = json.loads((tmp_path / "ours" / "preprocessor_config.json").read_text(encoding="utf-8"))
    assert saved["image_processor_type"] == "ViTImageProcessor"
    theirs = transformers.AutoImageProcessor.from_pretrained(tmp_path / "ours")
    assert type(theirs).__name__ == "ViTImageProcessorPil"
    image = _rgb(70, 90)
    expected = theirs(image, return_tensors="np").pixel_values
    assert expected.shape == (1, 3, 48, 40)
    assert float(np.abs(ours(image, return_tensors="np").pixel_values - expected).max()) == 0.0

    theirs.save_pretrained(tmp_path / "theirs")
    back = AutoImageProcessor.from_pretrained(tmp_path / "theirs")
    assert type(back) is ViTImageProcessor
    assert back.size == {"height": 48, "width": 40} and back.resample == 3
    assert float(np.abs(back(image, return_tensors="np").pixel_values - expected).max()) == 0.0


def test_pipeline_from_a_checkpoint_folder_matches_transformers(tmp_path) -> None:
    """Image processor and model from one folder (the tiny model takes 32x32 images): same logits."""
    torch.manual_seed(0)
    config = transformers.ViTConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        image_size=32,
        patch_size=8,
        num_labels=3,
    )
    transformers.ViTForImageClassification(config).save_pretrained(tmp_path)
    _write(tmp_path, "preprocessor_config.json", {**HUB_PREPROCESSOR, "size": 32})
    images = [_rgb(200, 300), tmp_path / "cat.png"]
    _rgb(40, 50, seed=3).save(images[1])
    reference = transformers.AutoModelForImageClassification.from_pretrained(tmp_path).eval()
    expected = reference(
        **transformers.AutoImageProcessor.from_pretrained(tmp_path)(
            [_rgb(200, 300), PIL.Image.open(images[1])], return_tensors="pt"
        )
    ).logits
    model = AutoModelForImageClassification.from_pretrained(tmp_path)
    batch = AutoImageProcessor.from_pretrained(tmp_path)(images, return_tensors="pt")
    assert batch.pixel_values.shape == (2, 3, 32, 32)
    with torch.no_grad():
        actual = model(**batch).logits
    assert float((actual - expected.detach()).abs().max()) <= 1e-5


# -- bad input ------------------------------------------------------------------------------


def test_corrupt_and_truncated_image_files_are_processor_errors_naming_the_file(tmp_path) -> None:
    corrupt, truncated, missing = tmp_path / "corrupt.png", tmp_path / "truncated.png", tmp_path / "no.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    _rgb(64, 64).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    processor = ViTImageProcessor()
    for path in (corrupt, truncated, missing):
        with pytest.raises(ProcessorError, match=path.name):
            processor(str(path))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("size", "big"),
        ("size", {"height": 224}),
        ("size", -3),
        ("resample", "bilinear"),
        ("image_mean", "grey"),
        ("rescale_factor", 0),
        ("do_resize", "yes"),
    ],
)
def test_preprocessor_config_with_wrong_types_is_a_processor_error_naming_key_and_file(
    key, value, tmp_path
) -> None:
    _write(tmp_path, "preprocessor_config.json", {**HUB_PREPROCESSOR, key: value})
    with pytest.raises(ProcessorError, match=rf"preprocessor_config\.json.*{key}"):
        AutoImageProcessor.from_pretrained(tmp_path)


def test_unknown_processor_class_and_bad_arguments_are_typed_errors(tmp_path) -> None:
    _write(
        tmp_path,
        "preprocessor_config.json",
        {**HUB_PREPROCESSOR, "image_processor_type": "NoSuchImageProcessor"},
    )
    with pytest.raises(AutohubError, match="NoSuchImageProcessor"):
        AutoImageProcessor.from_pretrained(tmp_path)
    processor = ViTImageProcessor()
    with pytest.raises(ProcessorError, match="empty list"):
        processor([])
    with pytest.raises(ProcessorError, match="cannot read a dict"):
        processor({"image": 1})
    with pytest.raises(ProcessorError, match="NaN"):
        processor(np.full((3, 8, 8), np.nan, dtype=np.float32))
    with pytest.raises(ProcessorError, match="unknown argument"):
        processor(_rgb(8, 8), sizes=3)
