"""autohub hook implementations for the Phi-3 family: lazy class paths only."""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, hookimpl

_MODELING = "autohub_phi3.modeling"

HEADS = {
    "causal-lm": "Phi3ForCausalLM",
    "sequence-classification": "Phi3ForSequenceClassification",
    "token-classification": "Phi3ForTokenClassification",
}


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    register("phi3", "autohub_phi3.config:Phi3Config")


@hookimpl
def autohub_register_tokenizers(register: RegisterByType) -> None:
    register("phi3", "autohub_phi3.tokenization:Phi3Tokenizer")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    register("phi3", f"{_MODELING}:Phi3Model")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    for task, class_name in HEADS.items():
        register("phi3", task, f"{_MODELING}:{class_name}")
