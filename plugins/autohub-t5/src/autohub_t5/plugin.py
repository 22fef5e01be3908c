"""autohub hook implementations for the T5 family: lazy class paths only."""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, hookimpl

_MODELING = "autohub_t5.modeling"

HEADS = {
    "seq2seq-lm": "T5ForConditionalGeneration",
    "text-encoding": "T5EncoderModel",
    "sequence-classification": "T5ForSequenceClassification",
    "token-classification": "T5ForTokenClassification",
    "question-answering": "T5ForQuestionAnswering",
}


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    register("t5", "autohub_t5.config:T5Config")


@hookimpl
def autohub_register_tokenizers(register: RegisterByType) -> None:
    register("t5", "autohub_t5.tokenization:T5Tokenizer")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    register("t5", f"{_MODELING}:T5Model")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    for task, class_name in HEADS.items():
        register("t5", task, f"{_MODELING}:{class_name}")
