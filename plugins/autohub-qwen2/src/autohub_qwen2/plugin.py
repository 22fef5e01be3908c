"""autohub hook implementations for the Qwen2 family: lazy class paths only."""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, hookimpl

_MODELING = "autohub_qwen2.modeling"

HEADS = {
    "causal-lm": "Qwen2ForCausalLM",
    "sequence-classification": "Qwen2ForSequenceClassification",
    "token-classification": "Qwen2ForTokenClassification",
    "question-answering": "Qwen2ForQuestionAnswering",
}


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    register("qwen2", "autohub_qwen2.config:Qwen2Config")


@hookimpl
def autohub_register_tokenizers(register: RegisterByType) -> None:
    register("qwen2", "autohub_qwen2.tokenization:Qwen2Tokenizer")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    register("qwen2", f"{_MODELING}:Qwen2Model")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    for task, class_name in HEADS.items():
        register("qwen2", task, f"{_MODELING}:{class_name}")
