"""The core preprocessing layer against transformers: the PIL-backend image pipeline on every
size rule and input kind, audio padding, the files processors read and write, and the Auto
classes resolving classes registered at runtime (the family plugins test their own classes)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from transformers.feature_extraction_sequence_utils import SequenceFeatureExtractor
from transformers.image_processing_backends import PilBackend

from autohub_core import (
    AutoConfig,
    AutoFeatureExtractor,
    AutohubError,
    AutoImageProcessor,
    AutoProcessor,
    BatchFeature,
    FeatureExtractor,
    ImageProcessor,
    PretrainedConfig,
    Processor,
    ProcessorError,
    RegistrationError,
)
from autohub_core.processing import PROCESSOR_NAME, load_image

MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]

#: transformers' PilBackend has no defaults of its own: both sides get these, then a setting.
BASE = {
    "do_resize": True,
    "resample": 2,
    "do_rescale": True,
    "rescale_factor": 1 / 255,
    "do_normalize": True,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
}
#: Processor settings covering every size rule and step of the PIL pipeline.
SETTINGS = {
    "square": {"size": {"height": 32, "width": 32}, "resample": 2},
    "shortest-edge-crop": {
        "size": {"shortest_edge": 40},
        "resample": 3,
        "do_center_crop": True,
        "crop_size": {"height": 32, "width": 32},
        "image_mean": MEAN,
        "image_std": STD,
        "do_convert_rgb": True,
    },
    "shortest-and-longest": {"size": {"shortest_edge": 30, "longest_edge": 45}, "resample": 0},
    "max-height-width": {"size": {"max_height": 50, "max_width": 20}, "resample": 1},
    "crop-larger-than-image": {
        "do_resize": False,
        "do_center_crop": True,
        "crop_size": {"height": 80, "width": 90},
    },
    "no-normalize": {"size": {"height": 17, "width": 23}, "do_normalize": False, "resample": 4},
    "scalar-mean": {"size": {"height": 16, "width": 16}, "image_mean": 0.3, "image_std": 0.2, "resample": 5},
}


def _images() -> dict[str, object]:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (61, 47, 3), dtype=np.uint8)
    return {
        "pil-rgb": Image.fromarray(rgb),
        "numpy-hwc-uint8": rgb,
        "numpy-chw-uint8": np.moveaxis(rgb, -1, 0).copy(),
        "numpy-hwc-float01": rng.random((40, 70, 3)).astype(np.float32),
        "numpy-chw-float64": rng.random((3, 33, 29)),
        "torch-chw-uint8": torch.from_numpy(np.moveaxis(rgb, -1, 0).copy()),
        "numpy-whole-floats": rng.integers(0, 256, (30, 30, 3)).astype(np.float32),
    }


@pytest.mark.parametrize("setting", sorted(SETTINGS))
@pytest.mark.parametrize("image_name", sorted(_images()))
def test_pixel_values_equal_transformers_pil_backend(setting: str, image_name: str) -> None:
    image = _images()[image_name]
    settings = {**BASE, **SETTINGS[setting]}
    ours = ImageProcessor(**settings)(image, return_tensors="np")["pixel_values"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = PilBackend(**settings)(image, return_tensors="np")["pixel_values"]
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "I;16"])
def test_pil_modes_converted_to_rgb_as_transformers(mode: str) -> None:
    rng = np.random.default_rng(1)
    image = Image.fromarray(rng.integers(0, 256, (20, 24, 4), dtype=np.uint8), "RGBA").convert(mode)
    settings = {**BASE, "size": {"height": 12, "width": 12}, "do_convert_rgb": True}
    ours = ImageProcessor(**settings)(image, return_tensors="np")["pixel_values"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = PilBackend(**settings)(image, return_tensors="np")["pixel_values"]
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("shape", [(20, 24, 1), (1, 20, 24), (20, 24, 4), (4, 20, 24)])
def test_array_channels_converted_to_rgb_as_transformers(shape: tuple[int, ...]) -> None:
    array = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
    settings = {**BASE, "size": {"height": 8, "width": 8}, "do_convert_rgb": True}
    ours = ImageProcessor(**settings)(array, return_tensors="np")["pixel_values"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = PilBackend(**settings)(array, return_tensors="np")["pixel_values"]
    np.testing.assert_array_equal(ours, theirs)


def test_a_2d_array_is_a_grey_image() -> None:
    """transformers refuses a 2-D array; autohub reads it as one grey channel (HW1)."""
    grey = np.random.default_rng(5).integers(0, 256, (20, 24), dtype=np.uint8)
    processor = ImageProcessor(size={"height": 8, "width": 8}, do_convert_rgb=True)
    np.testing.assert_array_equal(
        processor(grey, return_tensors="np")["pixel_values"],
        processor(grey[..., None], return_tensors="np")["pixel_values"],
    )


def test_batches_paths_and_overrides(tmp_path: Path) -> None:
    images = _images()
    path = tmp_path / "photo.png"
    images["pil-rgb"].save(path)
    processor = ImageProcessor(size={"height": 16, "width": 16})
    batch = processor([str(path), images["numpy-hwc-uint8"], images["torch-chw-uint8"]], return_tensors="pt")
    assert batch["pixel_values"].shape == (3, 3, 16, 16)
    assert batch.pixel_values.dtype == torch.float32
    torch.testing.assert_close(batch.pixel_values[0], batch.pixel_values[1], rtol=0, atol=0)  # same pixels
    four_d = processor(np.stack([images["numpy-hwc-uint8"]] * 2), return_tensors="np")["pixel_values"]
    assert four_d.shape == (2, 3, 16, 16)
    overridden = processor(images["pil-rgb"], size={"height": 8, "width": 10}, return_tensors="np")
    assert overridden["pixel_values"].shape == (1, 3, 8, 10)
    assert processor.size == {"height": 16, "width": 16}  # a call's override does not stick
    as_lists = processor(images["pil-rgb"])
    assert isinstance(as_lists["pixel_values"], list)
    assert as_lists["pixel_values"][0].shape == (3, 16, 16)
    half = BatchFeature({"pixel_values": np.zeros((1, 3, 2, 2)), "mask": np.ones((1, 2), np.int64)}, "pt").to(
        torch.float16
    )
    assert half["pixel_values"].dtype == torch.float16 and half["mask"].dtype == torch.int64


def test_size_as_int_reads_as_transformers() -> None:
    class Squared(ImageProcessor):
        pass

    class ShortestEdge(ImageProcessor):
        default_to_square = False

    assert Squared(size=224).size == {"height": 224, "width": 224}
    assert ShortestEdge(size=224, crop_size=200).size == {"shortest_edge": 224}
    assert ShortestEdge(size=224, crop_size=200).crop_size == {"height": 200, "width": 200}
    assert Squared(size=[30, 40]).size == {"height": 30, "width": 40}


def _corrupt_files(tmp_path: Path) -> dict[str, Path]:
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((40, 40, 3), dtype=np.uint8)).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:60])
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"not an image at all" * 10)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    return {"truncated": truncated, "garbage": garbage, "empty": empty, "missing": tmp_path / "none.png"}


@pytest.mark.parametrize("kind", ["truncated", "garbage", "empty", "missing"])
def test_unreadable_image_files_are_typed_errors_naming_the_file(tmp_path: Path, kind: str) -> None:
    path = _corrupt_files(tmp_path)[kind]
    with pytest.raises(ProcessorError, match=path.name):
        ImageProcessor()(str(path))
    with pytest.raises(ProcessorError, match=path.name):
        load_image(path)


@pytest.mark.parametrize(
    ("images", "message"),
    [
        ([], "empty list"),
        (42, "cannot read a int"),
        ([np.zeros((8, 8, 3), np.uint8), "x", 3], "cannot read items"),
        (np.zeros((8, 8, 3), dtype=bool), "dtype bool"),
        (np.full((8, 8, 3), np.nan, np.float32), "NaN"),
        (np.zeros((0, 8, 3), np.uint8), "empty"),
        (np.zeros((8, 8, 7), np.uint8), "channel axis"),
        (np.zeros((2, 3, 8, 8, 3), np.uint8), "2 or 3 dimensions"),
        (np.full((8, 8, 3), 300.5, np.float32), r"\[0, 1\]"),
        (Image.new("L", (8, 8)), "1 channel"),
        (Image.new("RGBA", (8, 8)), "4 channel"),
        ("https://example.com/cat.png", "URLs are not fetched"),
    ],
)
def test_bad_images_are_typed_errors(images: object, message: str) -> None:
    with pytest.raises(ProcessorError, match=message):
        ImageProcessor(size={"height": 4, "width": 4})(images)


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"size": "big"}, "size"),
        ({"size": {"height": 0, "width": 3}}, "size"),
        ({"size": {"tall": 3}}, "size"),
        ({"resample": 9}, "resample"),
        ({"do_resize": "yes"}, "do_resize"),
        ({"rescale_factor": -1}, "rescale_factor"),
        ({"image_mean": ["a", "b"]}, "image_mean"),
        ({"crop_size": [1, 2, 3]}, "crop_size"),
    ],
)
def test_bad_preprocessor_files_name_file_and_key(tmp_path: Path, values: dict, key: str) -> None:
    (tmp_path / "preprocessor_config.json").write_text(
        json.dumps({"image_processor_type": "ImageProcessor", **values})
    )
    with pytest.raises(ProcessorError, match=rf"preprocessor_config.json.*{key}"):
        ImageProcessor.from_pretrained(tmp_path)


def test_unknown_call_argument_and_missing_settings() -> None:
    with pytest.raises(ProcessorError, match="unknown argument"):
        ImageProcessor()(np.zeros((8, 8, 3), np.uint8), do_sharpen=True)
    with pytest.raises(ProcessorError, match="do_center_crop=True needs crop_size"):
        ImageProcessor(do_center_crop=True)(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ProcessorError, match="return_tensors"):
        ImageProcessor()(np.zeros((8, 8, 3), np.uint8), return_tensors="tf")
    ragged = ImageProcessor(do_resize=False)([np.zeros((8, 8, 3), np.uint8), np.zeros((9, 8, 3), np.uint8)])
    with pytest.raises(ProcessorError, match="different shapes"):
        ragged.convert_to_tensors("pt")


# -- audio ----------------------------------------------------------------------------------------


class _TheirExtractor(SequenceFeatureExtractor):
    model_input_names = ["input_values", "attention_mask"]


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize(
    "options",
    [
        {"padding": True},
        {"padding": "longest", "pad_to_multiple_of": 8},
        {"padding": "max_length", "max_length": 12},
        {"padding": "max_length", "max_length": 5, "truncation": True},
        {"padding": "max_length", "max_length": 10, "truncation": True, "pad_to_multiple_of": 4},
        {"padding": False},
    ],
)
@pytest.mark.parametrize("feature_size", [1, 3])
def test_padding_equals_transformers(padding_side: str, options: dict, feature_size: int) -> None:
    rng = np.random.default_rng(3)
    shapes = [(7,), (3,), (9,)] if feature_size == 1 else [(7, 3), (3, 3), (9, 3)]
    arrays = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    settings = {"feature_size": feature_size, "sampling_rate": 16000, "padding_value": -1.5}
    ours = FeatureExtractor(**settings, padding_side=padding_side, return_attention_mask=True)
    theirs = _TheirExtractor(**settings, padding_side=padding_side)
    values, mask = ours.pad_arrays(arrays, **options)
    expected = theirs.pad({"input_values": arrays}, return_attention_mask=True, **options)
    for index in range(len(arrays)):
        np.testing.assert_array_equal(values[index], expected["input_values"][index])
        np.testing.assert_array_equal(mask[index], expected["attention_mask"][index])


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"padding": "max_length", "max_length": 9, "truncation": True, "return_attention_mask": True},
        {"pad_to_multiple_of": 4, "return_attention_mask": False},
    ],
)
@pytest.mark.parametrize("with_masks", [False, True])
def test_pad_as_data_collators_call_it_equals_transformers(options: dict, with_masks: bool) -> None:
    rng = np.random.default_rng(6)
    examples = [{"input_values": rng.standard_normal(n).tolist(), "label": n} for n in (7, 3, 11)]
    if with_masks:
        for example in examples:
            example["attention_mask"] = [1] * (len(example["input_values"]) - 1) + [0]
    ours = FeatureExtractor(padding_value=0.5, return_attention_mask=False)
    theirs = _TheirExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.5, return_attention_mask=False
    )
    actual = ours.pad([dict(e) for e in examples], return_tensors="pt", **options)
    # a given attention_mask is always padded here; transformers pads it only when asked to
    # return one (else it fails to make a tensor of the ragged masks)
    their_options = {**options, "return_attention_mask": True} if with_masks else options
    expected = theirs.pad([dict(e) for e in examples], return_tensors="pt", **their_options)
    assert sorted(actual) == sorted(expected)
    for key in expected:
        assert actual[key].dtype == expected[key].dtype, key
        torch.testing.assert_close(actual[key], expected[key], rtol=0, atol=0)
    with pytest.raises(ProcessorError, match="'input_values'"):
        ours.pad([{"input_features": [0.0]}])


def test_audio_inputs_as_users_give_them() -> None:
    one = np.arange(5, dtype=np.float64)
    arrays, batched = FeatureExtractor.audio_batch(one)
    assert not batched and arrays[0].dtype == np.float32 and arrays[0].shape == (5,)
    arrays, batched = FeatureExtractor.audio_batch([0.1, 0.2, 0.3])
    assert not batched and arrays[0].shape == (3,)
    arrays, batched = FeatureExtractor.audio_batch([one, [1.0, 2.0]])
    assert batched and [a.shape for a in arrays] == [(5,), (2,)]
    arrays, batched = FeatureExtractor.audio_batch(torch.zeros(2, 4, dtype=torch.float16))
    assert batched and len(arrays) == 2


@pytest.mark.parametrize(
    ("audio", "message"),
    [
        (np.zeros(0), "empty"),
        ([], "empty"),
        (np.array([0.1, np.nan]), "NaN"),
        (np.array([0.1, np.inf]), "NaN or infinite"),
        (np.zeros((2, 3, 4)), "1-D"),
        (np.array(["a", "b"]), "real numbers"),
        ([np.zeros(3), np.zeros(0)], r"raw_speech\[1\].*empty"),
        (np.zeros(3, dtype=np.complex64), "real numbers"),
    ],
)
def test_bad_audio_is_a_typed_error(audio: object, message: str) -> None:
    with pytest.raises(ProcessorError, match=message):
        FeatureExtractor.audio_batch(audio)


def test_sampling_rate_check_words_as_transformers() -> None:
    extractor = FeatureExtractor(sampling_rate=16000)
    extractor.check_sampling_rate(16000)
    with pytest.raises(ProcessorError, match=r"sampling rate of 16000.*not 8000"):
        extractor.check_sampling_rate(8000)
    with pytest.warns(UserWarning, match="sampling_rate"):
        extractor.check_sampling_rate(None)
    with pytest.raises(ProcessorError, match="max_length"):
        extractor.pad_arrays([np.zeros(3)], padding="max_length")


# -- files and Auto classes -----------------------------------------------------------------------


class _ToyConfig(PretrainedConfig):
    model_type = "toy-vision-audio"


class _ToyImageProcessor(ImageProcessor):
    legacy_names = ("ToyOldProcessor",)
    defaults = {"size": {"height": 8, "width": 8}}


class _ToyFeatureExtractor(FeatureExtractor):
    defaults = {"do_normalize": True}


class _ToyProcessor(Processor):
    attributes = ("image_processor", "feature_extractor")

    def __call__(self, images=None, audio=None, return_tensors=None):
        pixels = self.image_processor(images, return_tensors=return_tensors)
        values, _ = self.feature_extractor.pad_arrays(self.feature_extractor.audio_batch(audio)[0])
        return BatchFeature({**pixels, "input_values": values}, tensor_type=return_tensors)


@pytest.fixture(scope="module", autouse=True)
def _registered() -> None:
    AutoConfig.register(_ToyConfig.model_type, _ToyConfig, exist_ok=True)
    AutoImageProcessor.register(_ToyConfig, _ToyImageProcessor, exist_ok=True)
    AutoFeatureExtractor.register(_ToyConfig, _ToyFeatureExtractor, exist_ok=True)
    AutoProcessor.register(_ToyConfig, _ToyProcessor, exist_ok=True)


def test_processor_saves_as_transformers_5_and_loads_back(tmp_path: Path) -> None:
    processor = _ToyProcessor(_ToyImageProcessor(image_std=[0.2, 0.3, 0.4]), _ToyFeatureExtractor())
    processor.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / PROCESSOR_NAME).read_text())
    assert saved["processor_class"] == "_ToyProcessor"
    assert saved["image_processor"]["image_processor_type"] == "_ToyImageProcessor"
    assert saved["feature_extractor"]["feature_extractor_type"] == "_ToyFeatureExtractor"
    assert not (tmp_path / "preprocessor_config.json").exists()
    _ToyConfig().save_pretrained(tmp_path)
    loaded = AutoProcessor.from_pretrained(tmp_path)
    assert isinstance(loaded, _ToyProcessor)
    assert loaded.image_processor.image_std == [0.2, 0.3, 0.4]
    assert isinstance(AutoImageProcessor.from_pretrained(tmp_path), _ToyImageProcessor)
    assert isinstance(AutoFeatureExtractor.from_pretrained(tmp_path), _ToyFeatureExtractor)
    features = loaded(
        images=np.zeros((10, 10, 3), np.uint8), audio=[np.ones(3), np.ones(5)], return_tensors="pt"
    )
    assert features["pixel_values"].shape == (1, 3, 8, 8) and features["input_values"].shape == (2, 5)


def test_image_processor_class_by_name_legacy_name_and_model_type(tmp_path: Path) -> None:
    (tmp_path / "preprocessor_config.json").write_text(
        json.dumps({"image_processor_type": "_ToyImageProcessorFast"})
    )
    assert isinstance(AutoImageProcessor.from_pretrained(tmp_path), _ToyImageProcessor)
    (tmp_path / "preprocessor_config.json").write_text(
        json.dumps({"feature_extractor_type": "ToyOldProcessor"})
    )
    assert isinstance(AutoImageProcessor.from_pretrained(tmp_path), _ToyImageProcessor)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"size": 12}))
    _ToyConfig().save_pretrained(tmp_path)
    loaded = AutoImageProcessor.from_pretrained(tmp_path, image_mean=[0.1, 0.1, 0.1])
    assert isinstance(loaded, _ToyImageProcessor)
    assert loaded.size == {"height": 12, "width": 12} and loaded.image_mean == [0.1, 0.1, 0.1]


def test_unknown_processor_classes_are_typed_errors_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "preprocessor_config.json").write_text(
        json.dumps({"image_processor_type": "NoSuchProcessor"})
    )
    with pytest.raises(ProcessorError, match=r"preprocessor_config.json.*NoSuchProcessor"):
        AutoImageProcessor.from_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"image_processor_type": 7}))
    with pytest.raises(ProcessorError, match="image_processor_type"):
        AutoImageProcessor.from_pretrained(tmp_path)
    (tmp_path / PROCESSOR_NAME).write_text(json.dumps({"processor_class": "NoSuchProcessor"}))
    with pytest.raises(ProcessorError, match=r"processor_config.json.*NoSuchProcessor"):
        AutoProcessor.from_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text("{not json")
    (tmp_path / PROCESSOR_NAME).unlink()
    with pytest.raises(ProcessorError, match=r"preprocessor_config\.json"):
        AutoImageProcessor.from_pretrained(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AutohubError, match=r"preprocessor_config\.json"):
        AutoImageProcessor.from_pretrained(empty)
    with pytest.raises(ProcessorError, match="no processor, tokenizer"):
        AutoProcessor.from_pretrained(empty)


def test_register_refuses_a_second_class_without_exist_ok() -> None:
    class Other(ImageProcessor):
        pass

    with pytest.raises(RegistrationError, match="already has a image-processor"):
        AutoImageProcessor.register(_ToyConfig, Other)
    AutoImageProcessor.register(_ToyConfig, _ToyImageProcessor)  # the same class again is fine
    with pytest.raises(RegistrationError):
        AutoImageProcessor.register(_ToyConfig)


def test_unknown_keys_round_trip_and_saved_files_load_in_transformers(tmp_path: Path) -> None:
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    theirs = CLIPImageProcessorPil(size={"shortest_edge": 20}, crop_size={"height": 16, "width": 16})
    theirs.save_pretrained(tmp_path)
    ours = ImageProcessor.from_pretrained(tmp_path, custom_flag=3)
    assert ours.custom_flag == 3
    ours.save_pretrained(tmp_path / "back")
    reloaded = CLIPImageProcessorPil.from_pretrained(tmp_path / "back")
    image = np.random.default_rng(4).integers(0, 256, (30, 26, 3), dtype=np.uint8)
    np.testing.assert_array_equal(
        ours(image, return_tensors="np")["pixel_values"], reloaded(image, return_tensors="np")["pixel_values"]
    )


# -- the seeds' task Auto classes -------------------------------------------------------------------


def test_every_seeds_auto_class_exists_with_its_task() -> None:
    import autohub_core
    from autohub_core.auto import TASKS

    for name, task in TASKS.items():
        auto_class = getattr(autohub_core, name)
        assert auto_class._task == task
        assert callable(auto_class.from_pretrained) and callable(auto_class.register)
    assert autohub_core.AutoModelForVision2Seq is autohub_core.AutoModelForImageTextToText


def test_text_only_checkpoint_gives_its_tokenizer_and_missing_tasks_name_the_heads(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from tiny_models import save_tiny_bert

    from autohub_core import (
        AutoModelForDepthEstimation,
        AutoModelForImageClassification,
        UnknownModelTypeError,
    )
    from autohub_core.tokenization import PreTrainedTokenizer

    directory = save_tiny_bert(tmp_path / "bert")
    assert isinstance(AutoProcessor.from_pretrained(directory), PreTrainedTokenizer)
    config = AutoConfig.from_pretrained(directory)
    with pytest.raises(UnknownModelTypeError, match=r"'image-classification'.*'bert'.*masked-lm"):
        AutoModelForImageClassification.from_config(config)

    class DepthHead(torch.nn.Module):  # a third party's head for a task no in-repo plugin has
        config_class = type(config)

        @classmethod
        def from_config(cls, config: PretrainedConfig) -> DepthHead:
            return cls()

    AutoModelForDepthEstimation.register(type(config), DepthHead)
    try:
        assert isinstance(AutoModelForDepthEstimation.from_config(config), DepthHead)
    finally:
        from autohub_core import plugins

        plugins.reset()
