"""autohub hook implementations for the CLIP family: lazy class paths only.

As transformers' auto mappings: ``clip`` is ``CLIPModel`` for ``AutoModel`` and
``AutoModelForZeroShotImageClassification`` and ``CLIPForImageClassification`` for
``AutoModelForImageClassification``; ``clip_text_model`` is ``CLIPTextModel`` (also
``AutoModelForTextEncoding``), ``clip_vision_model`` is ``CLIPVisionModel`` (image feature
extraction). ``CLIPTextModelWithProjection`` / ``CLIPVisionModelWithProjection`` are in no auto
mapping of transformers: import them from ``autohub_clip.modeling``.
"""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, RegisterPreprocessor, hookimpl

_MODELING = "autohub_clip.modeling"


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    register("clip", "autohub_clip.config:CLIPConfig")
    register("clip_text_model", "autohub_clip.config:CLIPTextConfig")
    register("clip_vision_model", "autohub_clip.config:CLIPVisionConfig")


@hookimpl
def autohub_register_tokenizers(register: RegisterByType) -> None:
    register("clip", "autohub_clip.tokenization:CLIPTokenizer")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    register("clip", f"{_MODELING}:CLIPModel")
    register("clip_text_model", f"{_MODELING}:CLIPTextModel")
    register("clip_vision_model", f"{_MODELING}:CLIPVisionModel")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    register("clip", "zero-shot-image-classification", f"{_MODELING}:CLIPModel")
    register("clip", "image-classification", f"{_MODELING}:CLIPForImageClassification")
    register("clip_text_model", "text-encoding", f"{_MODELING}:CLIPTextModel")


@hookimpl
def autohub_register_preprocessors(register: RegisterPreprocessor) -> None:
    register("image-processor", "clip", "autohub_clip.processing:CLIPImageProcessor")
    register("processor", "clip", "autohub_clip.processing:CLIPProcessor")
