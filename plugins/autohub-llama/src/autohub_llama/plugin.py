"""autohub hook implementations for the Llama family: lazy class paths only."""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, hookimpl

_MODELING = "autohub_llama.modeling"

HEADS = {
    "causal-lm": "LlamaForCausalLM",
    "sequence-classification": "LlamaForSequenceClassification",
    "token-classification": "LlamaForTokenClassification",
    "question-answering": "LlamaForQuestionAnswering",
}


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    register("llama", "autohub_llama.config:LlamaConfig")


@hookimpl
def autohub_register_tokenizers(register: RegisterByType) -> None:
    register("llama", "autohub_llama.tokenization:LlamaTokenizer")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    register("llama", f"{_MODELING}:LlamaModel")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    for task, class_name in HEADS.items():
        register("llama", task, f"{_MODELING}:{class_name}")
