"""autohub hook implementations for the Mistral family: lazy class paths only."""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, hookimpl

_MODELING = "autohub_mistral.modeling"

HEADS = {
    "causal-lm": "MistralForCausalLM",
    "sequence-classification": "MistralForSequenceClassification",
    "token-classification": "MistralForTokenClassification",
    "question-answering": "MistralForQuestionAnswering",
}


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    register("mistral", "autohub_mistral.config:MistralConfig")


@hookimpl
def autohub_register_tokenizers(register: RegisterByType) -> None:
    register("mistral", "autohub_mistral.tokenization:MistralTokenizer")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    register("mistral", f"{_MODELING}:MistralModel")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    for task, class_name in HEADS.items():
        register("mistral", task, f"{_MODELING}:{class_name}")
