"""autohub hook implementations for the Whisper family: lazy class paths only."""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, RegisterPreprocessor, hookimpl

_MODELING = "autohub_whisper.modeling"

#: transformers' auto mappings for ``whisper``.
HEADS = {
    "speech-seq2seq": "WhisperForConditionalGeneration",
    "audio-classification": "WhisperForAudioClassification",
    "causal-lm": "WhisperForCausalLM",
}


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    register("whisper", "autohub_whisper.config:WhisperConfig")


@hookimpl
def autohub_register_tokenizers(register: RegisterByType) -> None:
    register("whisper", "autohub_whisper.tokenization:WhisperTokenizer")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    register("whisper", f"{_MODELING}:WhisperModel")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    for task, class_name in HEADS.items():
        register("whisper", task, f"{_MODELING}:{class_name}")


@hookimpl
def autohub_register_preprocessors(register: RegisterPreprocessor) -> None:
    register("feature-extractor", "whisper", "autohub_whisper.processing:WhisperFeatureExtractor")
    register("processor", "whisper", "autohub_whisper.processing:WhisperProcessor")
