"""autohub hook implementations for the ViT family: lazy class paths only."""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, RegisterPreprocessor, hookimpl

_MODELING = "autohub_vit.modeling"

#: task -> class, as transformers' AutoModelForImageClassification / ...ForMaskedImageModeling map them.
HEADS = {
    "image-classification": "ViTForImageClassification",
    "masked-image-modeling": "ViTForMaskedImageModeling",
}


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    register("vit", "autohub_vit.config:ViTConfig")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    register("vit", f"{_MODELING}:ViTModel")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    for task, class_name in HEADS.items():
        register("vit", task, f"{_MODELING}:{class_name}")


@hookimpl
def autohub_register_preprocessors(register: RegisterPreprocessor) -> None:
    register("image-processor", "vit", "autohub_vit.processing:ViTImageProcessor")
