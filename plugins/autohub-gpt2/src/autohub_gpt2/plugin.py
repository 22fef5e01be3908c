"""autohub hook implementations for the GPT-2 family: lazy class paths only."""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, hookimpl

_MODELING = "autohub_gpt2.modeling"

HEADS = {
    "causal-lm": "GPT2LMHeadModel",
    "sequence-classification": "GPT2ForSequenceClassification",
    "token-classification": "GPT2ForTokenClassification",
    "question-answering": "GPT2ForQuestionAnswering",
}


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    register("gpt2", "autohub_gpt2.config:GPT2Config")


@hookimpl
def autohub_register_tokenizers(register: RegisterByType) -> None:
    register("gpt2", "autohub_gpt2.tokenization:GPT2Tokenizer")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    register("gpt2", f"{_MODELING}:GPT2Model")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    for task, class_name in HEADS.items():
        register("gpt2", task, f"{_MODELING}:{class_name}")
