"""autohub hook implementations for the DistilBERT family: lazy class paths only."""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, hookimpl

_MODELING = "autohub_distilbert.modeling"

#: task -> class; ``text-encoding`` is the base model, as transformers' AutoModelForTextEncoding maps it.
HEADS = {
    "text-encoding": "DistilBertModel",
    "masked-lm": "DistilBertForMaskedLM",
    "sequence-classification": "DistilBertForSequenceClassification",
    "token-classification": "DistilBertForTokenClassification",
    "question-answering": "DistilBertForQuestionAnswering",
    "multiple-choice": "DistilBertForMultipleChoice",
}


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    register("distilbert", "autohub_distilbert.config:DistilBertConfig")


@hookimpl
def autohub_register_tokenizers(register: RegisterByType) -> None:
    register("distilbert", "autohub_distilbert.tokenization:DistilBertTokenizer")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    register("distilbert", f"{_MODELING}:DistilBertModel")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    for task, class_name in HEADS.items():
        register("distilbert", task, f"{_MODELING}:{class_name}")
