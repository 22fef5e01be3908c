"""autohub hook implementations for the ModernBERT family: lazy class paths only."""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, hookimpl

_MODELING = "autohub_modernbert.modeling"

#: task -> class (transformers' Auto mappings for model type ``modernbert``).
HEADS = {
    "masked-lm": "ModernBertForMaskedLM",
    "sequence-classification": "ModernBertForSequenceClassification",
    "token-classification": "ModernBertForTokenClassification",
    "question-answering": "ModernBertForQuestionAnswering",
    "multiple-choice": "ModernBertForMultipleChoice",
}


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    register("modernbert", "autohub_modernbert.config:ModernBertConfig")


@hookimpl
def autohub_register_tokenizers(register: RegisterByType) -> None:
    register("modernbert", "autohub_modernbert.tokenization:ModernBertTokenizer")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    register("modernbert", f"{_MODELING}:ModernBertModel")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    for task, class_name in HEADS.items():
        register("modernbert", task, f"{_MODELING}:{class_name}")
