"""autohub hook implementations for the ALBERT family: lazy class paths only."""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, hookimpl

_MODELING = "autohub_albert.modeling"

#: task -> class; ``text-encoding`` is the base model, as transformers' AutoModelForTextEncoding maps it.
HEADS = {
    "text-encoding": "AlbertModel",
    "pretraining": "AlbertForPreTraining",
    "masked-lm": "AlbertForMaskedLM",
    "sequence-classification": "AlbertForSequenceClassification",
    "token-classification": "AlbertForTokenClassification",
    "question-answering": "AlbertForQuestionAnswering",
    "multiple-choice": "AlbertForMultipleChoice",
}


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    register("albert", "autohub_albert.config:AlbertConfig")


@hookimpl
def autohub_register_tokenizers(register: RegisterByType) -> None:
    register("albert", "autohub_albert.tokenization:AlbertTokenizer")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    register("albert", f"{_MODELING}:AlbertModel")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    for task, class_name in HEADS.items():
        register("albert", task, f"{_MODELING}:{class_name}")
