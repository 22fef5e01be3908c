"""CLIP's preprocessing: the image processor (transformers' PIL backend, as declared defaults) and
the processor pairing it with the tokenizer."""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

from autohub_core.errors import ProcessorError
from autohub_core.processing import BatchFeature, ImageProcessor, Processor, merge_features

__all__ = ["OPENAI_CLIP_MEAN", "OPENAI_CLIP_STD", "CLIPImageProcessor", "CLIPProcessor"]

OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


class CLIPImageProcessor(ImageProcessor):
    """Convert to RGB, resize the shortest edge to 224 (bicubic), center crop 224x224, rescale by
    1/255, normalize with OpenAI's mean and std.

    A bare integer ``size`` is the shortest edge (``"size": 224`` in the Hub's older files, whose
    ``feature_extractor_type`` is ``"CLIPFeatureExtractor"``); ``use_square_size=True`` resizes to a
    square of that side instead, as transformers keeps for KOSMOS-2. Grayscale and RGBA images are
    converted to RGB (alpha composited over white).
    """

    legacy_names: ClassVar[tuple[str, ...]] = ("CLIPFeatureExtractor",)
    default_to_square: ClassVar[bool] = False
    defaults: ClassVar[dict[str, Any]] = {
        "do_resize": True,
        "size": {"shortest_edge": 224},
        "resample": 3,  # PIL.Image.BICUBIC
        "do_center_crop": True,
        "crop_size": {"height": 224, "width": 224},
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": OPENAI_CLIP_MEAN,
        "image_std": OPENAI_CLIP_STD,
        "do_convert_rgb": True,
    }

    def _standardize(self, values: dict[str, Any], source: str | None) -> dict[str, Any]:
        values = super()._standardize(values, source)
        if values.pop("use_square_size", False):
            side = (values.get("size") or {}).get("shortest_edge")
            if side is None:
                raise ProcessorError(
                    f"{source or 'CLIPImageProcessor'}: use_square_size=True needs size with a shortest_edge, "
                    f"got {values.get('size')!r}"
                )
            values["size"] = {"height": side, "width": side}
        return values


class CLIPProcessor(Processor):
    """A :class:`CLIPImageProcessor` and a :class:`~autohub_clip.tokenization.CLIPTokenizer` under one
    call, as transformers' ``CLIPProcessor``: ``processor(images=..., text=..., return_tensors="pt",
    padding=True)`` returns ``input_ids`` / ``attention_mask`` for the texts and ``pixel_values`` for
    the images (either may be left out). Keyword arguments the image processor knows (``size``,
    ``do_center_crop`` ...) go to it, the others (``padding``, ``truncation``, ``max_length`` ...) to
    the tokenizer; transformers' grouped ``text_kwargs=`` / ``images_kwargs=`` / ``common_kwargs=``
    dicts are read too."""

    attributes: ClassVar[tuple[str, ...]] = ("image_processor", "tokenizer")

    def __call__(
        self,
        images: Any = None,
        text: str | list[str] | None = None,
        return_tensors: str | None = None,
        **kwargs: Any,
    ) -> BatchFeature:
        if images is None and text is None:
            raise ProcessorError(
                "You need to provide at least one input to call CLIPProcessor: images= and/or text="
            )
        if text is not None and not (
            isinstance(text, str)
            or (isinstance(text, list | tuple) and all(isinstance(t, str) for t in text))
        ):
            raise ProcessorError(f"text must be a string or a list of strings, got {type(text).__name__}")
        kwargs = {**(kwargs.pop("common_kwargs", None) or {}), **kwargs}
        image_options = dict(kwargs.pop("images_kwargs", None) or {})
        text_options = dict(kwargs.pop("text_kwargs", None) or {})
        image_options.update(
            {key: kwargs.pop(key) for key in list(kwargs) if key in self.image_processor._all_defaults}
        )
        kwargs = {**kwargs, **text_options}
        return_tensors = kwargs.pop("return_tensors", return_tensors)
        text_parameters = inspect.signature(self.tokenizer.encode_inputs).parameters
        unknown = sorted(key for key in kwargs if key not in text_parameters)
        if unknown:
            raise ProcessorError(
                f"CLIPProcessor got unknown argument(s) {unknown}: they are neither options of the image "
                f"processor {sorted(self.image_processor._all_defaults)} nor of the tokenizer"
            )
        text_inputs = None
        if text is not None:
            text_inputs = self.tokenizer(
                list(text) if isinstance(text, tuple) else text, return_tensors=return_tensors, **kwargs
            )
        elif kwargs:
            raise ProcessorError(
                f"CLIPProcessor got text options {sorted(kwargs)} without text=; image options are "
                f"{sorted(self.image_processor._all_defaults)}"
            )
        image_inputs = None
        if images is not None:
            image_inputs = self.image_processor(images, return_tensors=return_tensors, **image_options)
        return merge_features(text_inputs, image_inputs)
