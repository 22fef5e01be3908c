"""ViT's image processor: transformers' ``ViTImageProcessor`` (PIL backend) as declared defaults."""

from __future__ import annotations

from typing import Any, ClassVar

from autohub_core.processing import ImageProcessor

__all__ = ["ViTImageProcessor"]


class ViTImageProcessor(ImageProcessor):
    """Resize to 224x224 (bilinear), rescale by 1/255, normalize with mean = std = 0.5.

    Loads transformers' ``preprocessor_config.json``, including the old files of Hub checkpoints
    such as google/vit-base-patch16-224 (``"feature_extractor_type": "ViTFeatureExtractor"`` and a
    bare ``"size": 224``, read as 224x224). Images are not converted to RGB unless
    ``do_convert_rgb=True`` (a grayscale or RGBA image is then refused with a ProcessorError, as
    transformers refuses it).
    """

    legacy_names: ClassVar[tuple[str, ...]] = ("ViTFeatureExtractor",)
    defaults: ClassVar[dict[str, Any]] = {
        "do_resize": True,
        "size": {"height": 224, "width": 224},
        "resample": 2,  # PIL.Image.BILINEAR
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
    }
