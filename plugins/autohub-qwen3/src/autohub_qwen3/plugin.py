"""autohub hook implementations for the Qwen3 family: lazy class paths only."""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, hookimpl

_MODELING = "autohub_qwen3.modeling"

HEADS = {
    "causal-lm": "Qwen3ForCausalLM",
    "sequence-classification": "Qwen3ForSequenceClassification",
    "token-classification": "Qwen3ForTokenClassification",
    "question-answering": "Qwen3ForQuestionAnswering",
}


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    register("qwen3", "autohub_qwen3.config:Qwen3Config")


@hookimpl
def autohub_register_tokenizers(register: RegisterByType) -> None:
    # Qwen3 checkpoints ship Qwen2's tokenizer (tokenizer_class "Qwen2Tokenizer"): autohub-qwen2's class.
    register("qwen3", "autohub_qwen2.tokenization:Qwen2Tokenizer")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    register("qwen3", f"{_MODELING}:Qwen3Model")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    for task, class_name in HEADS.items():
        register("qwen3", task, f"{_MODELING}:{class_name}")
