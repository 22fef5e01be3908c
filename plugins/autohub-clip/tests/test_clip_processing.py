"""CLIPImageProcessor and CLIPProcessor against transformers' (PIL backend, ``CLIPImageProcessorPil``):
pixel values for images at the model size and resized ones (PIL bicubic on both sides: measured
difference 0.0, the test allows 1e-5), every input form, grayscale / RGBA / palette images, the
Hub's legacy and current preprocessor files, both save directions of the processor, the zero-shot
flow (processor -> model -> softmax over labels) end to end, and the typed errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers
from PIL import Image

from autohub_clip.modeling import CLIPModel
from autohub_clip.processing import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, CLIPImageProcessor, CLIPProcessor
from autohub_clip.tokenization import CLIPTokenizer
from autohub_core import AutoImageProcessor, AutoModelForZeroShotImageClassification, AutoProcessor
from autohub_core.errors import AutohubError, ModelInputError, ProcessorError

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()

TOL = 1e-5
#: openai/clip-vit-base-patch32's preprocessor_config.json, as the Hub ships it (legacy names).
HUB_PREPROCESSOR = {
    "crop_size": 224,
    "do_center_crop": True,
    "do_normalize": True,
    "do_resize": True,
    "feature_extractor_type": "CLIPFeatureExtractor",
    "image_mean": OPENAI_CLIP_MEAN,
    "image_std": OPENAI_CLIP_STD,
    "resample": 3,
    "size": 224,
}
LABELS = ["a photo of a cat", "a photo of a dog", "a photo of a bird sitting on a branch"]


def _image(height: int, width: int, seed: int = 0, mode: str = "RGB") -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels).convert(mode)


@pytest.fixture(scope="module")
def hub_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("clip-preprocessor")
    (directory / "preprocessor_config.json").write_text(json.dumps(HUB_PREPROCESSOR), encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def processors(hub_folder: Path):
    theirs = transformers.AutoImageProcessor.from_pretrained(hub_folder)
    ours = AutoImageProcessor.from_pretrained(hub_folder)
    assert type(theirs).__name__ == "CLIPImageProcessorPil" and type(ours) is CLIPImageProcessor
    assert ours.size == {"shortest_edge": 224} and ours.crop_size == {"height": 224, "width": 224}
    return theirs, ours


def _same_pixels(theirs, ours, images, **options) -> np.ndarray:
    expected = theirs(images, return_tensors="np", **options)["pixel_values"]
    actual = ours(images, return_tensors="np", **options)["pixel_values"]
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    assert np.abs(actual - expected).max() <= TOL
    return actual


@pytest.mark.parametrize("shape", [(224, 224), (224, 300), (300, 224)], ids=["square", "wide", "tall"])
def test_images_at_model_size_are_exact(processors, shape) -> None:
    """No resampling happens (the shortest edge is already 224): only crop, rescale, normalize."""
    theirs, ours = processors
    image = _image(*shape)
    actual = _same_pixels(theirs, ours, image)
    top, left = (shape[0] - 224) // 2, (shape[1] - 224) // 2
    crop = np.asarray(image, dtype=np.float64)[top : top + 224, left : left + 224] / 255
    manual = (crop - OPENAI_CLIP_MEAN) / OPENAI_CLIP_STD
    assert np.abs(actual[0] - manual.transpose(2, 0, 1)).max() <= 1e-5


@pytest.mark.parametrize("shape", [(240, 320), (100, 150), (500, 375), (31, 57)])
def test_resized_images_match(processors, shape) -> None:
    """Bicubic PIL resampling on both sides: the same pixels."""
    _same_pixels(*processors, _image(*shape, seed=sum(shape)))


def test_every_input_form(processors, tmp_path) -> None:
    theirs, ours = processors
    image = _image(180, 260, seed=5)
    array = np.asarray(image)
    path = tmp_path / "photo.png"
    image.save(path)
    forms = {
        "pil": image,
        "hwc-uint8": array,
        "chw-uint8": array.transpose(2, 0, 1).copy(),
        "hwc-float": array.astype(np.float32) / 255,
        "torch-chw": torch.from_numpy(array.transpose(2, 0, 1).copy()),
        "batch": [image, _image(300, 200, seed=6)],
    }
    reference = ours(image, return_tensors="np")["pixel_values"]
    for name, images in forms.items():
        pixels = _same_pixels(theirs, ours, images)
        if name not in ("batch", "hwc-float"):
            assert np.array_equal(pixels, reference), name
    # Floats in [0, 1] are rescaled by 1/255 again unless told not to, as in transformers.
    scaled = _same_pixels(theirs, ours, forms["hwc-float"], do_rescale=False)
    assert np.abs(scaled - reference).max() <= 1e-5
    assert np.array_equal(ours(str(path), return_tensors="np")["pixel_values"], reference)
    batch = ours([image, image], return_tensors="pt")
    assert batch.pixel_values.shape == (2, 3, 224, 224) and batch.pixel_values.dtype == torch.float32


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK"])
def test_grayscale_rgba_and_palette_images_become_rgb(processors, mode) -> None:
    theirs, ours = processors
    image = _image(200, 260, seed=7, mode=mode)
    if mode == "RGBA":
        alpha = np.random.default_rng(8).integers(0, 256, (200, 260), dtype=np.uint8)
        image.putalpha(Image.fromarray(alpha))
    pixels = _same_pixels(theirs, ours, image)
    assert pixels.shape == (1, 3, 224, 224)
    # A 2-D array (which transformers refuses) reads as the grayscale image it holds.
    grey = np.random.default_rng(9).integers(0, 256, (64, 80), dtype=np.uint8)
    from_array = ours(grey, return_tensors="np")["pixel_values"]
    assert np.array_equal(from_array, ours(Image.fromarray(grey), return_tensors="np")["pixel_values"])


def test_preprocessor_files_load_both_ways(processors, tmp_path) -> None:
    """The Hub's legacy file, transformers' current one and ours: each library reads the others'."""
    theirs, ours = processors
    theirs.save_pretrained(tmp_path / "theirs")
    saved = json.loads((tmp_path / "theirs" / "preprocessor_config.json").read_text())
    assert saved["image_processor_type"] == "CLIPImageProcessor"
    from_theirs = AutoImageProcessor.from_pretrained(tmp_path / "theirs")
    assert type(from_theirs) is CLIPImageProcessor and from_theirs.do_convert_rgb is True
    ours.save_pretrained(tmp_path / "ours")
    written = json.loads((tmp_path / "ours" / "preprocessor_config.json").read_text())
    assert written["image_processor_type"] == "CLIPImageProcessor"
    assert written["size"] == {"shortest_edge": 224} and written["resample"] == 3
    back = transformers.AutoImageProcessor.from_pretrained(tmp_path / "ours")
    image = _image(260, 200, seed=10)
    for theirs_one, ours_one in ((back, from_theirs), (theirs, CLIPImageProcessor())):
        _same_pixels(theirs_one, ours_one, image)
    square = CLIPImageProcessor(use_square_size=True)
    assert square.size == {"height": 224, "width": 224}


@pytest.fixture(scope="module")
def clip_folder(legacy_files: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A whole CLIP checkpoint as transformers saves it: processor_config.json, the tokenizer files,
    and a tiny model whose vocabulary is the tokenizer's (openai/clip-vit-base-patch32's options)."""
    directory = tmp_path_factory.mktemp("clip-whole")
    tokenizer = transformers.CLIPTokenizer.from_pretrained(legacy_files)
    image_processor = transformers.CLIPImageProcessorPil(
        **{**HUB_PREPROCESSOR, "feature_extractor_type": None}
    )
    transformers.CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(
        directory
    )
    tower = {"intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 4, "projection_dim": 16}
    config = transformers.CLIPConfig(
        text_config={
            **tower,
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "max_position_embeddings": 77,
            "bos_token_id": 0,
            "eos_token_id": 2,  # as the Hub file: argmax pooling (the eos token has the highest id)
        },
        vision_config={**tower, "hidden_size": 24, "image_size": 224, "patch_size": 32},
        projection_dim=16,
    )
    torch.manual_seed(0)
    transformers.CLIPModel(config).save_pretrained(directory)
    return directory


def _same_batch(expected, actual) -> None:
    assert sorted(actual.keys()) == sorted(expected.keys())
    for key, value in expected.items():
        got = actual[key]
        assert got.dtype == value.dtype, key
        torch.testing.assert_close(got, value, rtol=0, atol=TOL, msg=key)


def test_processor_matches_transformers_and_saves_both_ways(clip_folder: Path, tmp_path: Path) -> None:
    theirs = transformers.AutoProcessor.from_pretrained(clip_folder)
    ours = AutoProcessor.from_pretrained(clip_folder)
    assert type(ours) is CLIPProcessor
    assert type(ours.image_processor) is CLIPImageProcessor and type(ours.tokenizer) is CLIPTokenizer
    assert set(ours.model_input_names) == set(theirs.model_input_names)
    images = [_image(240, 320, seed=11), _image(224, 224, seed=12)]
    calls = [
        {"text": LABELS, "images": images, "padding": True},
        {"text": LABELS[0]},
        {"images": images[0]},
        {"text": LABELS, "padding": "max_length", "truncation": True, "max_length": 12},
        {"images": [images[0], images[0]], "do_center_crop": False},
        {"text": LABELS, "images": images, "text_kwargs": {"padding": True}, "images_kwargs": {"size": 240}},
    ]
    for call in calls:
        _same_batch(theirs(**call, return_tensors="pt"), ours(**call, return_tensors="pt"))
    ours.save_pretrained(tmp_path)
    written = json.loads((tmp_path / "processor_config.json").read_text())
    assert written["processor_class"] == "CLIPProcessor"
    assert written["image_processor"]["image_processor_type"] == "CLIPImageProcessor"
    back = transformers.AutoProcessor.from_pretrained(tmp_path)
    assert type(back).__name__ == "CLIPProcessor"
    _same_batch(theirs(**calls[0], return_tensors="pt"), back(**calls[0], return_tensors="pt"))
    again = AutoProcessor.from_pretrained(tmp_path)
    _same_batch(theirs(**calls[0], return_tensors="pt"), again(**calls[0], return_tensors="pt"))
    assert ours.batch_decode(ours(text=LABELS)["input_ids"], skip_special_tokens=True) == LABELS


def test_zero_shot_flow_end_to_end(clip_folder: Path) -> None:
    """processor -> model -> softmax over the labels, as with transformers; the image features too."""
    image = _image(300, 400, seed=13)
    probabilities = []
    for processor_class, model_class in (
        (transformers.AutoProcessor, transformers.AutoModelForZeroShotImageClassification),
        (AutoProcessor, AutoModelForZeroShotImageClassification),
    ):
        processor = processor_class.from_pretrained(clip_folder)
        model = model_class.from_pretrained(clip_folder).eval()
        inputs = processor(text=LABELS, images=image, return_tensors="pt", padding=True)
        with torch.no_grad():
            outputs = model(**inputs)
            features = model.get_image_features(pixel_values=inputs["pixel_values"]).pooler_output
        probabilities.append((outputs.logits_per_image.softmax(dim=-1), features))
    assert type(model) is CLIPModel
    (expected, expected_features), (actual, actual_features) = probabilities
    assert actual.shape == (1, len(LABELS))
    torch.testing.assert_close(actual, expected, rtol=0, atol=TOL)
    torch.testing.assert_close(actual_features, expected_features, rtol=0, atol=TOL)
    assert int(actual.argmax()) == int(expected.argmax())


def test_too_long_text(clip_folder: Path) -> None:
    """Without truncation a text longer than 77 tokens reaches the model, which refuses it by name;
    with truncation=True it is cut to 77 and runs."""
    processor = AutoProcessor.from_pretrained(clip_folder)
    model = CLIPModel.from_pretrained(clip_folder)
    text = "a photo of a cat " * 30
    inputs = processor(text=text, images=_image(224, 224), return_tensors="pt")
    assert inputs["input_ids"].shape[-1] > 77
    with pytest.raises(ModelInputError, match="max_position_embeddings"):
        model(**inputs)
    inputs = processor(text=text, images=_image(224, 224), return_tensors="pt", truncation=True)
    assert inputs["input_ids"].shape == (1, 77)
    with torch.no_grad():
        assert model(**inputs).logits_per_image.shape == (1, 1)


def _copy_folder(source: Path, target: Path) -> Path:
    target.mkdir()
    for path in source.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return target


def test_bad_preprocessing_input_is_typed(clip_folder: Path, tmp_path: Path) -> None:
    folder = _copy_folder(clip_folder, tmp_path / "unknown-class")
    document = json.loads((folder / "processor_config.json").read_text())
    document["processor_class"] = "NoSuchProcessor"
    (folder / "processor_config.json").write_text(json.dumps(document))
    with pytest.raises(AutohubError, match=r"processor_config\.json.*NoSuchProcessor"):
        AutoProcessor.from_pretrained(folder)

    folder = _copy_folder(clip_folder, tmp_path / "wrong-types")
    document["processor_class"] = "CLIPProcessor"
    document["image_processor"]["size"] = "big"
    (folder / "processor_config.json").write_text(json.dumps(document))
    with pytest.raises(ProcessorError, match=r"processor_config\.json.*'size'"):
        AutoProcessor.from_pretrained(folder)

    processor = AutoProcessor.from_pretrained(clip_folder)
    broken = tmp_path / "broken.png"
    _image(64, 64).save(tmp_path / "whole.png")
    broken.write_bytes((tmp_path / "whole.png").read_bytes()[:60])
    with pytest.raises(ProcessorError, match=r"broken\.png"):
        processor(images=str(broken))
    with pytest.raises(ProcessorError, match="at least one input"):
        processor()
    with pytest.raises(ProcessorError, match="text"):
        processor(text=[1, 2])
    with pytest.raises(ProcessorError, match="channel"):
        processor(images=_image(64, 64, mode="RGBA"), do_convert_rgb=False)
    with pytest.raises(ProcessorError, match="images"):
        processor(images=[])
    with pytest.raises(ProcessorError, match="bogus"):
        processor(text="a cat", bogus=1)
