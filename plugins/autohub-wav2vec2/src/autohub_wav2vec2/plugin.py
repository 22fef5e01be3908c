"""autohub hook implementations for the Wav2Vec2 family: lazy class paths only."""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, RegisterPreprocessor, hookimpl

_MODELING = "autohub_wav2vec2.modeling"
_PROCESSING = "autohub_wav2vec2.processing"

#: task -> class, with transformers' Auto mappings (AutoModelForCTC, AutoModelForAudioClassification ...).
HEADS = {
    "pretraining": "Wav2Vec2ForPreTraining",
    "ctc": "Wav2Vec2ForCTC",
    "audio-classification": "Wav2Vec2ForSequenceClassification",
    "audio-frame-classification": "Wav2Vec2ForAudioFrameClassification",
    "audio-xvector": "Wav2Vec2ForXVector",
}


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    register("wav2vec2", "autohub_wav2vec2.config:Wav2Vec2Config")


@hookimpl
def autohub_register_tokenizers(register: RegisterByType) -> None:
    register("wav2vec2", "autohub_wav2vec2.tokenization:Wav2Vec2CTCTokenizer")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    register("wav2vec2", f"{_MODELING}:Wav2Vec2Model")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    for task, class_name in HEADS.items():
        register("wav2vec2", task, f"{_MODELING}:{class_name}")


@hookimpl
def autohub_register_preprocessors(register: RegisterPreprocessor) -> None:
    register("feature-extractor", "wav2vec2", f"{_PROCESSING}:Wav2Vec2FeatureExtractor")
    register("processor", "wav2vec2", f"{_PROCESSING}:Wav2Vec2Processor")
