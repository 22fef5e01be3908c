"""autohub hook implementations for the Gemma 2 family: lazy class paths only."""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, hookimpl

_MODELING = "autohub_gemma2.modeling"

HEADS = {
    "causal-lm": "Gemma2ForCausalLM",
    "sequence-classification": "Gemma2ForSequenceClassification",
    "token-classification": "Gemma2ForTokenClassification",
}


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    register("gemma2", "autohub_gemma2.config:Gemma2Config")


@hookimpl
def autohub_register_tokenizers(register: RegisterByType) -> None:
    register("gemma2", "autohub_gemma2.tokenization:GemmaTokenizer")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    register("gemma2", f"{_MODELING}:Gemma2Model")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    for task, class_name in HEADS.items():
        register("gemma2", task, f"{_MODELING}:{class_name}")
