"""Preprocessing beyond text: image processors, audio feature extractors and processors.

A family declares its classes through the ``autohub_register_preprocessors`` hook and usually
only *declares data*: an :class:`ImageProcessor` subclass sets ``defaults`` (size, resampling,
mean and std ...), a :class:`FeatureExtractor` subclass its sampling rate and computes its
features, a :class:`Processor` subclass names its components. Files are transformers':
``preprocessor_config.json`` (``image_processor_type`` / ``feature_extractor_type``) and, as
transformers 5 saves processors, ``processor_config.json`` holding each component nested under
its attribute name plus ``processor_class``.

Images follow transformers' PIL backend (``XImageProcessorPil``): PIL resampling, then rescale
and normalize in numpy with the same dtypes, so pixel values match it. numpy is imported with
this module; Pillow only when an image needs it (``pip install autohub-core[vision]``).
"""

from __future__ import annotations

import copy
import json
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from autohub_core.configuration import (
    ConfigError,
    Rule,
    boolean,
    check_rules,
    number,
    one_of,
    optional,
    positive_int,
)
from autohub_core.errors import MissingExtraError, ProcessorError
from autohub_core.hub import HubOptions, resolve_file

__all__ = [
    "FEATURE_EXTRACTOR_NAME",
    "IMAGE_PROCESSOR_NAME",
    "PROCESSOR_NAME",
    "BatchFeature",
    "FeatureExtractor",
    "ImageProcessor",
    "Preprocessor",
    "Processor",
    "load_image",
    "merge_features",
    "read_preprocessor_dict",
]

IMAGE_PROCESSOR_NAME = FEATURE_EXTRACTOR_NAME = "preprocessor_config.json"
PROCESSOR_NAME = "processor_config.json"

IMAGENET_STANDARD_MEAN = (0.5, 0.5, 0.5)
IMAGENET_STANDARD_STD = (0.5, 0.5, 0.5)
_BILINEAR, _BICUBIC = 2, 3
_PIL_RESAMPLING = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}


# -- batches --------------------------------------------------------------------------------------


class BatchFeature(dict):
    """What a processor returns: a dict (``pixel_values``, ``input_values``, ``input_features``,
    ``attention_mask`` ...) whose values are lists, numpy arrays (``return_tensors="np"``) or torch
    tensors (``"pt"``); keys are also attributes."""

    def __init__(self, data: Mapping[str, Any] | None = None, tensor_type: str | None = None) -> None:
        super().__init__(data or {})
        self.convert_to_tensors(tensor_type)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as error:
            raise AttributeError(name) from error

    def convert_to_tensors(self, tensor_type: str | None = None) -> BatchFeature:
        """Turn every value into a numpy array (``"np"``) or torch tensor (``"pt"``), in place."""
        if tensor_type is None:
            return self
        tensor_type = str(getattr(tensor_type, "value", tensor_type))
        if tensor_type not in ("pt", "np"):
            raise ProcessorError(f"return_tensors={tensor_type!r} is not supported; use 'pt', 'np' or None")
        for key, value in self.items():
            array = _stack(key, value)
            if tensor_type == "pt":
                import torch

                self[key] = torch.from_numpy(np.ascontiguousarray(array))
            else:
                self[key] = array
        return self

    def to(self, *args: Any, **kwargs: Any) -> BatchFeature:
        """Move tensors to a device (``"cuda"``) and/or cast floating tensors to a dtype, as
        ``torch.Tensor.to``; integer tensors (masks, ids) keep their dtype."""
        import torch

        dtype = next((arg for arg in (*args, kwargs.get("dtype")) if isinstance(arg, torch.dtype)), None)
        device = next(
            (arg for arg in (*args, kwargs.get("device")) if isinstance(arg, str | torch.device | int)), None
        )
        for key, value in self.items():
            if not isinstance(value, torch.Tensor):
                continue
            if dtype is not None and torch.is_floating_point(value):
                self[key] = value.to(device=device, dtype=dtype)
            elif device is not None:
                self[key] = value.to(device=device)
        return self


def _stack(key: str, value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "numpy") and hasattr(value, "detach"):  # a torch tensor
        return value.detach().cpu().numpy()
    if isinstance(value, list | tuple) and value and all(isinstance(item, np.ndarray) for item in value):
        shapes = {item.shape for item in value}
        if len(shapes) > 1:
            raise ProcessorError(
                f"cannot make one tensor of {key!r}: its items have different shapes {sorted(shapes)}; "
                "pad them (padding=True) or return lists (return_tensors=None)"
            )
        return np.stack(value)
    try:
        return np.asarray(value)
    except ValueError as error:  # ragged nested lists
        raise ProcessorError(
            f"cannot make one tensor of {key!r} ({error}); pad the batch (padding=True) or pass "
            "return_tensors=None"
        ) from error


# -- the shared base: attributes declared as data, JSON in and out ---------------------------------


class Preprocessor:
    """Base of image processors and feature extractors: attributes declared as data, loaded
    from and saved to transformers' ``preprocessor_config.json``.

    A subclass declares ``defaults`` (attribute -> default value; merged down the class
    hierarchy; every one is an instance attribute written by :meth:`to_dict`), ``config_rules``
    (checked when built; a bad value raises :class:`ProcessorError` naming the key and file) and
    ``model_input_names``. Unknown keys of a loaded file are kept and written back.
    """

    type_key: ClassVar[str] = ""
    """The key naming the class in the JSON file (``image_processor_type`` ...)."""
    processor_key: ClassVar[str] = ""
    """The attribute name under which processor_config.json nests this component."""
    legacy_names: ClassVar[tuple[str, ...]] = ()
    """Other class names the JSON files of existing checkpoints give for this class."""
    defaults: ClassVar[dict[str, Any]] = {}
    config_rules: ClassVar[dict[str, Rule]] = {}
    model_input_names: ClassVar[list[str]] = []
    _all_defaults: ClassVar[dict[str, Any]] = {}
    _all_rules: ClassVar[dict[str, Rule]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        merged_defaults: dict[str, Any] = {}
        merged_rules: dict[str, Rule] = {}
        for klass in reversed(cls.__mro__):
            merged_defaults.update(vars(klass).get("defaults", {}))
            merged_rules.update(vars(klass).get("config_rules", {}))
        cls._all_defaults, cls._all_rules = merged_defaults, merged_rules

    def __init__(self, **kwargs: Any) -> None:
        source = kwargs.pop("_source", None)
        kwargs.pop(self.type_key, None)
        values = {**copy.deepcopy(self._all_defaults), **kwargs}
        values = self._standardize(values, source)
        self._check(values, source)
        self._extra_keys = [key for key in kwargs if key not in self._all_defaults]
        for key, value in values.items():
            setattr(self, key, value)

    def _standardize(self, values: dict[str, Any], source: str | None) -> dict[str, Any]:
        """Bring legacy value shapes to the current ones (a subclass hook); ``values`` is a copy."""
        return values

    def _check(self, values: Mapping[str, Any], source: str | None) -> None:
        try:
            check_rules(values, self._all_rules, source=source)
        except ConfigError as error:
            raise ProcessorError(str(error).replace("config key", "preprocessor key", 1)) from error

    # -- loading ---------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any) -> Any:
        """Load from a folder, a Hub repo id or a JSON file: ``processor_config.json``'s nested entry
        (transformers 5 saves processors that way), else ``preprocessor_config.json``. ``kwargs``
        override attributes; download options (``cache_dir``, ``revision``, ``token`` ...) are
        accepted; ``return_unused_kwargs=True`` is not needed (every kwarg is an attribute)."""
        options = HubOptions.pop_from(kwargs)
        kwargs.pop("trust_remote_code", None)
        kwargs.pop("use_fast", None)
        values, source = read_preprocessor_dict(pretrained_model_name_or_path, cls.processor_key, options)
        return cls.from_dict(values, _source=source, **kwargs)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], **kwargs: Any) -> Any:
        """Build from a dict of attributes; ``kwargs`` override them."""
        if not isinstance(values, Mapping):
            raise ProcessorError(f"{cls.__name__}.from_dict needs a dict, got {type(values).__name__}")
        return cls(**{**values, **kwargs})

    # -- saving ----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Every declared attribute and every kept unknown key, plus the type key (class name)."""
        values = {key: getattr(self, key) for key in [*self._all_defaults, *self._extra_keys]}
        values = {key: list(value) if isinstance(value, tuple) else value for key, value in values.items()}
        values[self.type_key] = type(self).__name__
        return copy.deepcopy(values)

    def to_json_string(self) -> str:
        """:meth:`to_dict` as transformers writes it (sorted keys, indent 2, trailing newline)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def save_pretrained(self, save_directory: str | os.PathLike) -> list[str]:
        """Write ``preprocessor_config.json`` into ``save_directory`` atomically; returns its path."""
        from autohub_core._io import checkpoint_transaction

        directory = Path(save_directory)
        if directory.is_file():
            raise ProcessorError(f"save_pretrained needs a directory, but {directory} is a file")
        text = self.to_json_string()
        with checkpoint_transaction(directory) as transaction:
            transaction.write_text(IMAGE_PROCESSOR_NAME, text)
        return [str(directory / IMAGE_PROCESSOR_NAME)]

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"


def read_preprocessor_dict(
    pretrained_model_name_or_path: str | os.PathLike, nested_key: str, options: HubOptions | None = None
) -> tuple[dict[str, Any], str]:
    """A preprocessor's raw attributes and the file they came from: a JSON file given directly,
    else ``processor_config.json``'s entry ``nested_key`` (how transformers 5 saves processors),
    else ``preprocessor_config.json``."""
    options = options or HubOptions()
    if os.path.isfile(pretrained_model_name_or_path):
        path = Path(pretrained_model_name_or_path)
        return _read_json(path), str(path)
    nested = resolve_file(pretrained_model_name_or_path, PROCESSOR_NAME, options, required=False)
    if nested is not None:
        entry = _read_json(nested).get(nested_key)
        if isinstance(entry, dict):
            return entry, f"{nested} ({nested_key!r})"
    path = resolve_file(pretrained_model_name_or_path, IMAGE_PROCESSOR_NAME, options)
    assert path is not None
    return _read_json(path), str(path)


def _read_json(path: Path) -> dict[str, Any]:
    from autohub_core import limits

    return limits.read_json(path, ProcessorError)


# -- images ---------------------------------------------------------------------------------------


def _require_pil() -> Any:
    try:
        import PIL.Image
        import PIL.ImageOps
    except ImportError as error:
        raise MissingExtraError(
            "images need Pillow: pip install 'autohub-core[vision]' (or pip install Pillow)"
        ) from error
    return PIL


def load_image(path: str | os.PathLike) -> Any:
    """Open an image file as an RGB PIL image, EXIF orientation applied, as transformers'
    ``load_image``; a missing, corrupt or truncated file raises :class:`ProcessorError`."""
    pil = _require_pil()
    text = str(path)
    if text.startswith(("http://", "https://")):
        raise ProcessorError(
            f"image {text!r}: URLs are not fetched; download the file and pass its path or a PIL image"
        )
    if not os.path.isfile(text):
        raise ProcessorError(f"image file {text!r} does not exist")
    try:
        with pil.Image.open(text) as opened:
            image = pil.ImageOps.exif_transpose(opened)
            return image.convert("RGB")
    except (OSError, ValueError, SyntaxError, pil.Image.DecompressionBombError) as error:
        raise ProcessorError(f"image file {text!r} cannot be read: {error}") from error


def _size_rule() -> Rule:
    keys = ({"height", "width"}, {"shortest_edge"}, {"shortest_edge", "longest_edge"}, {"longest_edge"})
    keys_and_max = (*keys, {"max_height", "max_width"})

    def accepts(value: Any) -> bool:
        if value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            return True
        if isinstance(value, list | tuple):
            return len(value) in (1, 2) and all(isinstance(v, int) and v > 0 for v in value)
        return (
            isinstance(value, dict)
            and set(value) in keys_and_max
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value.values())
        )

    return Rule(
        "a positive integer, [height, width], or an object with keys height and width, "
        "shortest_edge (and longest_edge), or max_height and max_width, of positive integers",
        accepts,
    )


def _floats_rule() -> Rule:
    return optional(
        Rule(
            "a number or a list of numbers",
            lambda value: (
                number().accepts(value)
                or (isinstance(value, list | tuple) and all(map(number().accepts, value)))
            ),
        )
    )


class ImageProcessor(Preprocessor):
    """transformers' image processing (PIL backend): convert to RGB, resize, center crop, rescale,
    normalize; a family subclass declares its ``defaults``.

    Call it on one image or a list: PIL images, numpy arrays (HWC or CHW, uint8 or float),
    torch tensors, or paths to image files. Any attribute can be overridden per call
    (``processor(images, do_center_crop=False)``). Returns ``pixel_values`` (channels first).
    """

    type_key = "image_processor_type"
    processor_key = "image_processor"
    model_input_names = ["pixel_values"]
    default_to_square: ClassVar[bool] = True
    """How a bare integer ``size`` reads: True -> height = width = size; False -> shortest edge."""
    defaults = {
        "do_resize": True,
        "size": {"height": 224, "width": 224},
        "resample": _BILINEAR,
        "do_center_crop": None,
        "crop_size": None,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": list(IMAGENET_STANDARD_MEAN),
        "image_std": list(IMAGENET_STANDARD_STD),
        "do_convert_rgb": None,
    }
    config_rules = {
        "do_resize": optional(boolean()),
        "size": _size_rule(),
        "resample": optional(
            Rule(
                "a PIL resampling filter code 0-5",
                lambda value: value in _PIL_RESAMPLING and not isinstance(value, bool),
            )
        ),
        "do_center_crop": optional(boolean()),
        "crop_size": _size_rule(),
        "do_rescale": optional(boolean()),
        "rescale_factor": optional(number(0.0, exclusive_minimum=True)),
        "do_normalize": optional(boolean()),
        "image_mean": _floats_rule(),
        "image_std": _floats_rule(),
        "do_convert_rgb": optional(boolean()),
    }

    def _standardize(self, values: dict[str, Any], source: str | None) -> dict[str, Any]:
        self._check({key: values.get(key) for key in ("size", "crop_size")}, source)
        values["size"] = _size_dict(values.get("size"), self.default_to_square)
        values["crop_size"] = _size_dict(values.get("crop_size"), True)
        return values

    def __call__(self, images: Any, return_tensors: str | None = None, **overrides: Any) -> BatchFeature:
        """Preprocess one image or a batch (see the class docstring)."""
        return self.preprocess(images, return_tensors=return_tensors, **overrides)

    def preprocess(self, images: Any, return_tensors: str | None = None, **overrides: Any) -> BatchFeature:
        """What ``__call__`` does."""
        unknown = sorted(set(overrides) - set(self._all_defaults))
        if unknown:
            raise ProcessorError(
                f"{type(self).__name__} got unknown argument(s) {unknown}; it accepts "
                f"{sorted(self._all_defaults)}"
            )
        options = {key: getattr(self, key) for key in self._all_defaults} | overrides
        options = self._standardize(options, None) if overrides else options
        if overrides:
            self._check(options, None)
        self._check_options(options)
        pixel_values = [self.process_one(image, options) for image in _flat_images(images)]
        return BatchFeature({"pixel_values": pixel_values}, tensor_type=return_tensors)

    @staticmethod
    def _check_options(options: Mapping[str, Any]) -> None:
        for flag, needed in (
            ("do_resize", ("size", "resample")),
            ("do_center_crop", ("crop_size",)),
            ("do_rescale", ("rescale_factor",)),
            ("do_normalize", ("image_mean", "image_std")),
        ):
            missing = [key for key in needed if options.get(key) is None]
            if options.get(flag) and missing:
                raise ProcessorError(f"{flag}=True needs {' and '.join(missing)} to be set")

    def process_one(self, image: Any, options: Mapping[str, Any]) -> np.ndarray:
        """One image through the pipeline: a float32 array, channels first."""
        array = _channels_first(image, bool(options.get("do_convert_rgb")))
        if options.get("do_resize"):
            array = _resize(array, options["size"], options["resample"])
        if options.get("do_center_crop"):
            array = _center_crop(array, options["crop_size"])
        if options.get("do_rescale"):
            array = (array.astype(np.float64) * options["rescale_factor"]).astype(np.float32)
        if options.get("do_normalize"):
            array = _normalize(array, options["image_mean"], options["image_std"])
        return array


def _size_dict(size: Any, default_to_square: bool) -> dict[str, int] | None:
    """transformers' ``get_size_dict``: an int, a [h, w] pair or a dict as the size dict."""
    if size is None or isinstance(size, dict):
        return size
    if isinstance(size, int):
        return {"height": size, "width": size} if default_to_square else {"shortest_edge": size}
    if len(size) == 1:
        return _size_dict(size[0], default_to_square)
    return {"height": size[0], "width": size[1]}


def _is_image(value: Any) -> bool:
    if isinstance(value, np.ndarray | str | os.PathLike):
        return True
    module = type(value).__module__
    return module.startswith("PIL.") or (module.startswith("torch") and hasattr(value, "ndim"))


def _flat_images(images: Any) -> list[Any]:
    """One image, a list of images, a 4-D batch, or a list of lists of images: a flat list."""
    if isinstance(images, list | tuple):
        if not images:
            raise ProcessorError("images: got an empty list; pass at least one image")
        if all(isinstance(item, list | tuple) for item in images):
            return [image for group in images for image in _flat_images(group)]
        if not all(_is_image(item) for item in images):
            kinds = sorted({type(item).__name__ for item in images if not _is_image(item)})
            raise ProcessorError(
                f"images: cannot read items of type {', '.join(kinds)}; pass PIL images, numpy arrays, "
                "torch tensors or paths to image files"
            )
        return [item for image in images for item in _flat_images(image)]
    if not _is_image(images):
        raise ProcessorError(
            f"images: cannot read a {type(images).__name__}; pass a PIL image, a numpy array (HWC or CHW), "
            "a torch tensor, a path to an image file, or a list of those"
        )
    if getattr(images, "ndim", 3) == 4:
        return list(images)
    return [images]


def _channels_first(image: Any, convert_rgb: bool) -> np.ndarray:
    """One input image as a channels-first numpy array (its dtype kept), as the PIL backend's
    ``process_image``."""
    if isinstance(image, str | os.PathLike):
        image = load_image(image)
    pil_input = type(image).__module__.startswith("PIL.")
    if not pil_input and not isinstance(image, np.ndarray):  # a torch tensor
        image = image.detach().cpu().numpy()
    if not pil_input:
        _check_array(image)
    if convert_rgb:
        image = _to_rgb(image)
    elif pil_input:
        image = np.array(image)
    if image.ndim == 2:
        return image[None]
    if pil_input or _is_channels_last(image):  # np.array of a PIL image is always HWC
        return np.moveaxis(image, -1, 0)
    return image


def _is_channels_last(image: np.ndarray) -> bool:
    """Whether a 3-D array is HWC (else CHW), as transformers infers it: 1, 3 or 4 channels,
    channels first when both ends could be."""
    if image.ndim != 3:
        raise ProcessorError(f"images: an image must have 2 or 3 dimensions, got shape {tuple(image.shape)}")
    if image.shape[0] in (1, 3, 4):
        return False
    if image.shape[-1] in (1, 3, 4):
        return True
    raise ProcessorError(
        f"images: cannot tell the channel axis of an array of shape {tuple(image.shape)}: "
        "expected 1, 3 or 4 channels first (CHW) or last (HWC)"
    )


def _check_array(array: np.ndarray) -> None:
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.number)):
        raise ProcessorError(f"images: an array image must hold numbers, got dtype {array.dtype}")
    if array.size == 0:
        raise ProcessorError(f"images: an image array is empty (shape {tuple(array.shape)})")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise ProcessorError("images: an image array holds NaN or infinite values")


def _to_rgb(image: Any) -> np.ndarray:
    """transformers' ``convert_to_rgb``: alpha composited over white, grey repeated to RGB."""
    if type(image).__module__.startswith("PIL."):
        pil = _require_pil()
        if "A" in image.getbands() or image.info.get("transparency") is not None:
            background = pil.Image.new("RGBA", image.size, (255, 255, 255, 255))
            return np.array(pil.Image.alpha_composite(background, image.convert("RGBA")).convert("RGB"))
        return np.array(image.convert("RGB"))
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=-1)
    channels_last = _is_channels_last(image)
    work = image if channels_last else np.moveaxis(image, 0, -1)
    if work.shape[-1] == 1:
        work = np.repeat(work, 3, axis=-1)
    elif work.shape[-1] == 4:
        floating = np.issubdtype(work.dtype, np.floating)
        if floating and (work.min() < 0.0 or work.max() > 1.0):
            raise ProcessorError(
                f"images: an RGBA float image must lie in [0, 1] to be converted to RGB, got "
                f"[{work.min()}, {work.max()}]"
            )
        white = 1.0 if floating else 255
        alpha = work[..., 3:4] / white
        blended = alpha * work[..., :3] + (1 - alpha) * white
        work = blended.astype(work.dtype) if floating else np.round(blended).astype(work.dtype)
    return work if channels_last else np.moveaxis(work, -1, 0)


def _resize(image: np.ndarray, size: Mapping[str, int], resample: int) -> np.ndarray:
    """Resize a channels-first array with PIL, as transformers' ``resize`` (float images in [0, 1]
    go through uint8 and come back scaled by 1/255)."""
    height, width = image.shape[-2:]
    if "shortest_edge" in size and "longest_edge" in size:
        new_height, new_width = _aspect_size(height, width, size["shortest_edge"], size["longest_edge"])
    elif "shortest_edge" in size:
        short, long = (width, height) if width <= height else (height, width)
        new_short, new_long = size["shortest_edge"], int(size["shortest_edge"] * long / short)
        new_height, new_width = (new_long, new_short) if width <= height else (new_short, new_long)
    elif "max_height" in size:
        scale = min(size["max_height"] / height, size["max_width"] / width)
        new_height, new_width = max(int(height * scale), 1), max(int(width * scale), 1)
    elif "height" in size:
        new_height, new_width = size["height"], size["width"]
    else:
        raise ProcessorError(
            f"size {dict(size)} cannot be used to resize: give height and width or shortest_edge"
        )
    if new_height < 1 or new_width < 1:
        raise ProcessorError(f"an image of {height}x{width} pixels resizes to nothing with size {dict(size)}")
    pil = _require_pil()
    rescaled = _needs_uint8_rescale(image)
    pixels = np.moveaxis(image, 0, -1)
    pixels = (pixels.astype(np.float64) * 255).astype(np.float32) if rescaled else pixels
    pixels = pixels[..., 0] if pixels.shape[-1] == 1 else pixels
    resized = np.array(
        pil.Image.fromarray(pixels.astype(np.uint8)).resize((new_width, new_height), resample=resample)
    )
    resized = resized[..., None] if resized.ndim == 2 else resized
    resized = np.moveaxis(resized, -1, 0)
    return (resized.astype(np.float64) / 255).astype(np.float32) if rescaled else resized


def _aspect_size(height: int, width: int, shortest: int, longest: int) -> tuple[int, int]:
    """transformers' ``get_size_with_aspect_ratio``."""
    low, high = min(height, width), max(height, width)
    if high / low * shortest > longest:
        shortest = round(longest * low / high)
    if width <= height:
        return int(shortest * height / width), shortest
    return shortest, int(shortest * width / height)


def _needs_uint8_rescale(image: np.ndarray) -> bool:
    """Whether a float image in [0, 1] must be scaled by 255 to pass through PIL (transformers'
    ``_rescale_for_pil_conversion``); values PIL cannot hold raise :class:`ProcessorError`."""
    if image.dtype == np.uint8:
        return False
    if np.allclose(image, image.astype(int)):
        if image.min() >= 0 and image.max() <= 255:
            return False
        raise ProcessorError(
            f"images: integer pixel values must lie in [0, 255] to be resized, got [{image.min()}, {image.max()}]"
        )
    if image.min() >= 0 and image.max() <= 1:
        return True
    raise ProcessorError(
        f"images: float pixel values must lie in [0, 1] (or be whole numbers in [0, 255]) to be resized, "
        f"got [{image.min()}, {image.max()}]"
    )


def _center_crop(image: np.ndarray, size: Mapping[str, int]) -> np.ndarray:
    """transformers' ``center_crop`` on a channels-first array (zero padding when too small)."""
    if "height" not in size or "width" not in size:
        raise ProcessorError(f"crop_size must have height and width, got {dict(size)}")
    height, width = image.shape[-2:]
    crop_height, crop_width = int(size["height"]), int(size["width"])
    top, left = (height - crop_height) // 2, (width - crop_width) // 2
    if top >= 0 and left >= 0:
        return image[..., top : top + crop_height, left : left + crop_width]
    new_height, new_width = max(crop_height, height), max(crop_width, width)
    padded = np.zeros_like(image, shape=(*image.shape[:-2], new_height, new_width))
    top_pad, left_pad = math.ceil((new_height - height) / 2), math.ceil((new_width - width) / 2)
    padded[..., top_pad : top_pad + height, left_pad : left_pad + width] = image
    top, left = top + top_pad, left + left_pad
    return padded[
        ...,
        max(0, top) : min(new_height, top + crop_height),
        max(0, left) : min(new_width, left + crop_width),
    ]


def _normalize(image: np.ndarray, mean: Any, std: Any) -> np.ndarray:
    """(image - mean) / std per channel, in the image's float dtype (float32 for integers)."""
    if not np.issubdtype(image.dtype, np.floating):
        image = image.astype(np.float32)
    channels = image.shape[0]
    means = list(mean) if isinstance(mean, Sequence) else [mean] * channels
    stds = list(std) if isinstance(std, Sequence) else [std] * channels
    if len(means) != channels or len(stds) != channels:
        raise ProcessorError(
            f"images: an image has {channels} channel(s) but image_mean / image_std have {len(means)} / "
            f"{len(stds)} values; convert the image to RGB (image.convert('RGB')) or pass do_convert_rgb=True"
        )
    mean_array = np.array(means, dtype=image.dtype)
    std_array = np.array(stds, dtype=image.dtype)
    return ((image.T - mean_array) / std_array).T


# -- audio ----------------------------------------------------------------------------------------


class FeatureExtractor(Preprocessor):
    """Base of audio feature extractors (transformers' ``SequenceFeatureExtractor``): input
    checking, the sampling-rate check and padding; a family computes its features in
    ``__call__`` with :meth:`audio_batch`, :meth:`check_sampling_rate` and :meth:`pad_arrays`;
    :meth:`pad` is transformers' (what data collators call)."""

    type_key = "feature_extractor_type"
    processor_key = "feature_extractor"
    model_input_names = ["input_values", "attention_mask"]
    defaults = {
        "feature_size": 1,
        "sampling_rate": 16000,
        "padding_value": 0.0,
        "padding_side": "right",
        "return_attention_mask": True,
    }
    config_rules = {
        "feature_size": positive_int(),
        "sampling_rate": positive_int(),
        "padding_value": number(),
        "padding_side": one_of("right", "left"),
        "return_attention_mask": boolean(),
    }

    def check_sampling_rate(self, sampling_rate: int | None) -> None:
        """Refuse audio sampled at another rate than the model's (transformers' ValueError wording);
        ``None`` only warns, as in transformers."""
        name = type(self).__name__
        if sampling_rate is None:
            warnings.warn(
                f"It is strongly recommended to pass the `sampling_rate` argument to `{name}()`. Failing to "
                "do so can result in silent errors that might be hard to debug.",
                stacklevel=3,
            )
            return
        if sampling_rate != self.sampling_rate:
            raise ProcessorError(
                f"The model corresponding to this feature extractor: {name} was trained using a sampling rate "
                f"of {self.sampling_rate}. Please make sure that the provided `raw_speech` input was sampled "
                f"with {self.sampling_rate} and not {sampling_rate}; resample it first (sampling_rate="
                f"{sampling_rate})."
            )

    @staticmethod
    def audio_batch(raw_speech: Any, argument: str = "raw_speech") -> tuple[list[np.ndarray], bool]:
        """The input as a list of 1-D float32 arrays, and whether it was a batch: accepts a 1-D array,
        a list of floats, a list of 1-D arrays / lists, a 2-D array (a batch) or a torch tensor."""
        if hasattr(raw_speech, "detach") and hasattr(raw_speech, "numpy"):
            raw_speech = raw_speech.detach().cpu().float().numpy()
        batched = (
            isinstance(raw_speech, list | tuple) and len(raw_speech) > 0 and not _is_scalar(raw_speech[0])
        )
        batched = batched or (isinstance(raw_speech, np.ndarray) and raw_speech.ndim == 2)
        items = list(raw_speech) if batched else [raw_speech]
        if not items:
            raise ProcessorError(f"{argument}: got an empty batch; pass at least one audio array")
        arrays = [
            _audio_array(item, f"{argument}[{index}]" if batched else argument)
            for index, item in enumerate(items)
        ]
        return arrays, batched

    def pad(
        self,
        processed_features: Any,
        padding: bool | str = True,
        max_length: int | None = None,
        truncation: bool = False,
        pad_to_multiple_of: int | None = None,
        return_attention_mask: bool | None = None,
        return_tensors: str | None = None,
    ) -> BatchFeature:
        """transformers' ``pad``, what data collators call: ``processed_features`` is a dict of
        per-example lists (a :class:`BatchFeature`) or a list of such dicts. The main input
        (``model_input_names[0]``) is padded with ``padding_value`` (and truncated), an
        ``attention_mask`` given is padded with zeros (else made when asked for); other keys are
        kept as given."""
        if isinstance(processed_features, list | tuple) and processed_features:
            if not all(isinstance(example, Mapping) for example in processed_features):
                raise ProcessorError("pad takes a dict of lists or a list of dicts (one per example)")
            processed_features = {
                key: [example[key] for example in processed_features] for key in processed_features[0]
            }
        if not isinstance(processed_features, Mapping):
            raise ProcessorError(
                f"pad takes a dict of lists or a list of dicts, got {type(processed_features).__name__}"
            )
        main = self.model_input_names[0]
        if main not in processed_features:
            raise ProcessorError(
                f"pad needs the key {main!r} ({type(self).__name__}'s main input), got {sorted(processed_features)}"
            )
        arrays = [_feature_array(value) for value in processed_features[main]]
        given_masks = processed_features.get("attention_mask")
        masks = None if given_masks is None else [np.asarray(mask) for mask in given_masks]
        values, attention_mask = self.pad_arrays(
            arrays,
            padding=padding,
            max_length=max_length,
            truncation=truncation,
            pad_to_multiple_of=pad_to_multiple_of,
            return_attention_mask=True if masks is not None else return_attention_mask,
            masks=masks,
        )
        features = {
            key: value for key, value in processed_features.items() if key not in (main, "attention_mask")
        }
        features[main] = values
        if attention_mask is not None:
            features["attention_mask"] = attention_mask
        return BatchFeature(features, tensor_type=return_tensors)

    def pad_arrays(
        self,
        arrays: Sequence[np.ndarray],
        padding: bool | str = True,
        max_length: int | None = None,
        truncation: bool = False,
        pad_to_multiple_of: int | None = None,
        return_attention_mask: bool | None = None,
        masks: Sequence[np.ndarray] | None = None,
    ) -> tuple[list[np.ndarray] | np.ndarray, np.ndarray | list[np.ndarray] | None]:
        """Pad (and truncate) arrays along their first axis, as transformers' ``pad`` does.

        ``padding``: True / ``"longest"`` (to the longest), ``"max_length"`` (to ``max_length``),
        False / ``"do_not_pad"``. Returns the batch (one array when padded, else a list) and the
        attention mask (int32, 1 on real frames; ``masks`` given are padded with zeros), or None
        when not asked for.
        """
        strategy = _padding_strategy(padding)
        if truncation and max_length is None:
            raise ProcessorError("truncation=True needs max_length")
        if strategy == "max_length" and max_length is None:
            raise ProcessorError("padding='max_length' needs max_length")
        if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
            raise ProcessorError(f"max_length must be a positive integer, got {max_length!r}")
        if pad_to_multiple_of is not None and max_length is not None and max_length % pad_to_multiple_of:
            max_length = (max_length // pad_to_multiple_of + 1) * pad_to_multiple_of
        if masks is None:
            masks = [np.ones(len(array), dtype=np.int32) for array in arrays]
        elif len(masks) != len(arrays) or any(len(m) != len(a) for m, a in zip(masks, arrays, strict=False)):
            raise ProcessorError("attention_mask must have one entry per example, as long as its values")
        arrays = [array[:max_length] if truncation else array for array in arrays]
        masks = [mask[:max_length] if truncation else mask for mask in masks]
        want_mask = self.return_attention_mask if return_attention_mask is None else return_attention_mask
        if strategy == "longest":
            max_length = max(len(array) for array in arrays)
        if strategy != "do_not_pad" and pad_to_multiple_of is not None and max_length % pad_to_multiple_of:
            max_length = (max_length // pad_to_multiple_of + 1) * pad_to_multiple_of
        if strategy == "do_not_pad":
            return list(arrays), (list(masks) if want_mask else None)
        padded, padded_masks = [], []
        for array, mask in zip(arrays, masks, strict=True):
            missing = max(max_length - len(array), 0)
            before, after = (missing, 0) if self.padding_side == "left" else (0, missing)
            widths = [(before, after)] + [(0, 0)] * (array.ndim - 1)
            padded.append(np.pad(array, widths, constant_values=self.padding_value))
            padded_masks.append(np.pad(mask, (before, after)))
        return np.stack(padded), (np.stack(padded_masks) if want_mask else None)


def _feature_array(value: Any) -> np.ndarray:
    """One example's features as an array: floats as float32 (transformers' ``pad`` too)."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    return array.astype(np.float32) if np.issubdtype(array.dtype, np.floating) else array


def _is_scalar(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool)


def _audio_array(item: Any, argument: str) -> np.ndarray:
    try:
        array = np.asarray(item)
    except ValueError as error:
        raise ProcessorError(f"{argument}: cannot read the audio as an array of numbers ({error})") from error
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise ProcessorError(f"{argument}: audio must be real numbers, got dtype {array.dtype}")
    if array.ndim != 1:
        raise ProcessorError(
            f"{argument}: one audio must be a 1-D array of samples (mono), got shape {tuple(array.shape)}; "
            "average the channels of stereo audio first"
        )
    if array.size == 0:
        raise ProcessorError(f"{argument}: the audio is empty (0 samples)")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise ProcessorError(f"{argument}: the audio holds NaN or infinite samples")
    return array


def _padding_strategy(padding: bool | str) -> str:
    if padding is True or padding == "longest":
        return "longest"
    if padding is False or padding == "do_not_pad":
        return "do_not_pad"
    if padding == "max_length":
        return "max_length"
    raise ProcessorError(f"padding={padding!r}: use True, False, 'longest', 'max_length' or 'do_not_pad'")


# -- processors -----------------------------------------------------------------------------------


_AUTO_FOR_ATTRIBUTE = {
    "image_processor": "AutoImageProcessor",
    "feature_extractor": "AutoFeatureExtractor",
    "tokenizer": "AutoTokenizer",
}


class Processor:
    """Several preprocessing components under one object (an image processor and a tokenizer,
    a feature extractor and a tokenizer ...), saved as transformers 5 does.

    A family subclass names its components in ``attributes`` (each one of
    ``"image_processor"``, ``"feature_extractor"``, ``"tokenizer"``) and writes ``__call__``.
    """

    attributes: ClassVar[tuple[str, ...]] = ()
    legacy_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(self.attributes):
            raise ProcessorError(
                f"{type(self).__name__} takes {len(self.attributes)} components, got {len(args)}"
            )
        components = dict(zip(self.attributes, args, strict=False))
        for name in self.attributes:
            if name in kwargs:
                if name in components:
                    raise ProcessorError(f"{type(self).__name__} got {name!r} twice")
                components[name] = kwargs.pop(name)
        missing = [name for name in self.attributes if components.get(name) is None]
        if missing:
            raise ProcessorError(f"{type(self).__name__} needs {', '.join(missing)}")
        for name, component in components.items():
            setattr(self, name, component)
        self.extra = {key: value for key, value in kwargs.items() if key != "processor_class"}

    @property
    def model_input_names(self) -> list[str]:
        """The inputs the components produce, in order, without repeats."""
        names: list[str] = []
        for attribute in self.attributes:
            names += [n for n in getattr(getattr(self, attribute), "model_input_names", []) if n not in names]
        return names

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any) -> Any:
        """Load each component with its Auto class from the same folder or repo; ``kwargs`` that
        are download options go to each, the others to :meth:`__init__` (kept in ``extra``)."""
        import autohub_core.auto as auto

        options = vars(HubOptions.pop_from(kwargs))
        kwargs.pop("trust_remote_code", None)
        kwargs.pop("use_fast", None)
        components = {
            name: getattr(auto, _AUTO_FOR_ATTRIBUTE[name]).from_pretrained(
                pretrained_model_name_or_path, **options
            )
            for name in cls.attributes
        }
        nested = resolve_file(
            pretrained_model_name_or_path, PROCESSOR_NAME, HubOptions(**options), required=False
        )
        extra = {}
        if nested is not None:
            extra = {
                key: value
                for key, value in _read_json(nested).items()
                if key not in cls.attributes and key != "processor_class"
            }
        return cls(**components, **{**extra, **kwargs})

    def to_dict(self) -> dict[str, Any]:
        """processor_config.json's content: each non-tokenizer component's dict under its name."""
        values: dict[str, Any] = dict(self.extra)
        for name in self.attributes:
            if name != "tokenizer":
                values[name] = getattr(self, name).to_dict()
        values["processor_class"] = type(self).__name__
        return values

    def save_pretrained(self, save_directory: str | os.PathLike) -> list[str]:
        """Write the tokenizer's files and processor_config.json, in one atomic save."""
        from autohub_core._io import checkpoint_transaction

        directory = Path(save_directory)
        if directory.is_file():
            raise ProcessorError(f"save_pretrained needs a directory, but {directory} is a file")
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        with checkpoint_transaction(directory) as transaction:
            if "tokenizer" in self.attributes:
                self.tokenizer.save_pretrained(directory)
            transaction.write_text(PROCESSOR_NAME, text)
        return [str(directory / PROCESSOR_NAME)]

    def __call__(self, *args: Any, **kwargs: Any) -> BatchFeature:
        raise NotImplementedError(f"{type(self).__name__} does not define __call__")

    def decode(self, *args: Any, **kwargs: Any) -> Any:
        """The tokenizer's ``decode``."""
        return self._tokenizer().decode(*args, **kwargs)

    def batch_decode(self, *args: Any, **kwargs: Any) -> Any:
        """The tokenizer's ``batch_decode``."""
        return self._tokenizer().batch_decode(*args, **kwargs)

    def _tokenizer(self) -> Any:
        if "tokenizer" not in self.attributes:
            raise ProcessorError(f"{type(self).__name__} has no tokenizer to decode with")
        return self.tokenizer

    def __repr__(self) -> str:
        parts = ", ".join(f"{name}={type(getattr(self, name)).__name__}" for name in self.attributes)
        return f"{type(self).__name__}({parts})"


def merge_features(*features: Mapping[str, Any] | None, tensor_type: str | None = None) -> BatchFeature:
    """One :class:`BatchFeature` from several components' outputs (later keys win)."""
    merged: dict[str, Any] = {}
    for feature in features:
        if feature is not None:
            merged.update(feature)
    return BatchFeature(merged, tensor_type=None if tensor_type is None else tensor_type)
