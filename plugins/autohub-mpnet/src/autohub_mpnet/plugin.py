"""autohub hook implementations for the MPNet family: lazy class paths only."""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, hookimpl

_MODELING = "autohub_mpnet.modeling"

#: task -> class; ``text-encoding`` is the base model, as transformers' AutoModelForTextEncoding maps it.
HEADS = {
    "text-encoding": "MPNetModel",
    "masked-lm": "MPNetForMaskedLM",
    "sequence-classification": "MPNetForSequenceClassification",
    "token-classification": "MPNetForTokenClassification",
    "question-answering": "MPNetForQuestionAnswering",
    "multiple-choice": "MPNetForMultipleChoice",
}


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    register("mpnet", "autohub_mpnet.config:MPNetConfig")


@hookimpl
def autohub_register_tokenizers(register: RegisterByType) -> None:
    register("mpnet", "autohub_mpnet.tokenization:MPNetTokenizer")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    register("mpnet", f"{_MODELING}:MPNetModel")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    for task, class_name in HEADS.items():
        register("mpnet", task, f"{_MODELING}:{class_name}")
