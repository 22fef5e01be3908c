"""autohub hook implementations for the DeBERTa-v2 family (DeBERTa-v2 and v3): lazy class paths only."""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, hookimpl

_MODEL_TYPE = "deberta-v2"
_MODELING = "autohub_deberta_v2.modeling"

#: task -> class; ``text-encoding`` is the base model, as transformers' AutoModelForTextEncoding maps it.
HEADS = {
    "text-encoding": "DebertaV2Model",
    "masked-lm": "DebertaV2ForMaskedLM",
    "sequence-classification": "DebertaV2ForSequenceClassification",
    "token-classification": "DebertaV2ForTokenClassification",
    "question-answering": "DebertaV2ForQuestionAnswering",
    "multiple-choice": "DebertaV2ForMultipleChoice",
}


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    register(_MODEL_TYPE, "autohub_deberta_v2.config:DebertaV2Config")


@hookimpl
def autohub_register_tokenizers(register: RegisterByType) -> None:
    register(_MODEL_TYPE, "autohub_deberta_v2.tokenization:DebertaV2Tokenizer")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    register(_MODEL_TYPE, f"{_MODELING}:DebertaV2Model")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    for task, class_name in HEADS.items():
        register(_MODEL_TYPE, task, f"{_MODELING}:{class_name}")
