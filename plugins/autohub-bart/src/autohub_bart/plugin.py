"""autohub hook implementations for the BART family: lazy class paths only."""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, hookimpl

_MODELING = "autohub_bart.modeling"

HEADS = {
    "seq2seq-lm": "BartForConditionalGeneration",
    "sequence-classification": "BartForSequenceClassification",
    "question-answering": "BartForQuestionAnswering",
    "causal-lm": "BartForCausalLM",
}


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    register("bart", "autohub_bart.config:BartConfig")


@hookimpl
def autohub_register_tokenizers(register: RegisterByType) -> None:
    register("bart", "autohub_bart.tokenization:BartTokenizer")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    register("bart", f"{_MODELING}:BartModel")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    for task, class_name in HEADS.items():
        register("bart", task, f"{_MODELING}:{class_name}")
