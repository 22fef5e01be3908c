"""autohub: Hugging Face style Auto classes over a thin core and one plugin per model family.

``import autohub_core`` is cheap: it imports neither torch nor any plugin. Every public
name is resolved on first access (PEP 562), and plugins are discovered on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "AutoConfig": "autohub_core.auto",
    "AutoModel": "autohub_core.auto",
    "AutoModelForPreTraining": "autohub_core.auto",
    "AutoModelForMaskedLM": "autohub_core.auto",
    "AutoModelForCausalLM": "autohub_core.auto",
    "AutoModelForSeq2SeqLM": "autohub_core.auto",
    "AutoModelForSequenceClassification": "autohub_core.auto",
    "AutoModelForTokenClassification": "autohub_core.auto",
    "AutoModelForQuestionAnswering": "autohub_core.auto",
    "AutoModelForMultipleChoice": "autohub_core.auto",
    "AutoModelForNextSentencePrediction": "autohub_core.auto",
    "AutoModelForTextEncoding": "autohub_core.auto",
    "AutoTokenizer": "autohub_core.auto",
    "AutoModelForImageClassification": "autohub_core.auto",
    "AutoModelForZeroShotImageClassification": "autohub_core.auto",
    "AutoModelForObjectDetection": "autohub_core.auto",
    "AutoModelForZeroShotObjectDetection": "autohub_core.auto",
    "AutoModelForImageSegmentation": "autohub_core.auto",
    "AutoModelForSemanticSegmentation": "autohub_core.auto",
    "AutoModelForInstanceSegmentation": "autohub_core.auto",
    "AutoModelForUniversalSegmentation": "autohub_core.auto",
    "AutoModelForDepthEstimation": "autohub_core.auto",
    "AutoModelForVideoClassification": "autohub_core.auto",
    "AutoModelForMaskedImageModeling": "autohub_core.auto",
    "AutoModelForImageToImage": "autohub_core.auto",
    "AutoModelForMaskGeneration": "autohub_core.auto",
    "AutoModelForAudioClassification": "autohub_core.auto",
    "AutoModelForAudioFrameClassification": "autohub_core.auto",
    "AutoModelForCTC": "autohub_core.auto",
    "AutoModelForSpeechSeq2Seq": "autohub_core.auto",
    "AutoModelForAudioXVector": "autohub_core.auto",
    "AutoModelForTextToSpectrogram": "autohub_core.auto",
    "AutoModelForTextToWaveform": "autohub_core.auto",
    "AutoModelForTableQuestionAnswering": "autohub_core.auto",
    "AutoModelForDocumentQuestionAnswering": "autohub_core.auto",
    "AutoModelForVisualQuestionAnswering": "autohub_core.auto",
    "AutoModelForImageTextToText": "autohub_core.auto",
    "AutoModelForVision2Seq": "autohub_core.auto",
    "AutoImageProcessor": "autohub_core.auto",
    "AutoFeatureExtractor": "autohub_core.auto",
    "AutoProcessor": "autohub_core.auto",
    "TASKS": "autohub_core.auto",
    "auto_class_for_task": "autohub_core.auto",
    "PretrainedConfig": "autohub_core.configuration",
    "PreTrainedModel": "autohub_core.modeling",
    "PreTrainedTokenizer": "autohub_core.tokenization",
    "PreTrainedTokenizerFast": "autohub_core.tokenization",
    "BatchEncoding": "autohub_core.tokenization",
    "AutohubError": "autohub_core.errors",
    "CheckpointNotFoundError": "autohub_core.errors",
    "ConfigError": "autohub_core.errors",
    "UnsupportedConfigError": "autohub_core.errors",
    "UnknownModelTypeError": "autohub_core.errors",
    "WeightsError": "autohub_core.errors",
    "TokenizerError": "autohub_core.errors",
    "RegistrationError": "autohub_core.errors",
    "PluginError": "autohub_core.errors",
    "UnsupportedFeatureError": "autohub_core.errors",
    "GenerationError": "autohub_core.errors",
    "LabelError": "autohub_core.errors",
    "MissingExtraError": "autohub_core.errors",
    "LimitExceededError": "autohub_core.errors",
    "ChatTemplateError": "autohub_core.errors",
    "CheckpointWriteError": "autohub_core.errors",
    "ModelInputError": "autohub_core.errors",
    "ProcessorError": "autohub_core.errors",
    "BatchFeature": "autohub_core.processing",
    "ImageProcessor": "autohub_core.processing",
    "FeatureExtractor": "autohub_core.processing",
    "Processor": "autohub_core.processing",
    "GradientCheckpointingLayer": "autohub_core.modeling",
    "GenerationConfig": "autohub_core.generation",
    "GenerationMixin": "autohub_core.generation",
    "TextStreamer": "autohub_core.generation",
    "TextIteratorStreamer": "autohub_core.generation",
    "hookimpl": "autohub_core.hookspecs",
    "list_plugins": "autohub_core.plugins",
}

__all__ = [*sorted(_EXPORTS), "__version__"]

if TYPE_CHECKING:  # static view of the lazy exports
    from autohub_core.auto import *  # noqa: F403
    from autohub_core.configuration import PretrainedConfig  # noqa: F401
    from autohub_core.errors import *  # noqa: F403
    from autohub_core.generation import (  # noqa: F401
        GenerationConfig,
        GenerationMixin,
        TextIteratorStreamer,
        TextStreamer,
    )
    from autohub_core.hookspecs import hookimpl  # noqa: F401
    from autohub_core.modeling import GradientCheckpointingLayer, PreTrainedModel  # noqa: F401
    from autohub_core.plugins import list_plugins  # noqa: F401
    from autohub_core.tokenization import BatchEncoding, PreTrainedTokenizer, PreTrainedTokenizerFast  # noqa: F401


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'autohub_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
