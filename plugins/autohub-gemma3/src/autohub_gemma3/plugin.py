"""autohub hook implementations for the Gemma 3 text family: lazy class paths only.

The tokenizer is autohub-gemma2's ``GemmaTokenizer`` (Gemma 3 ships the Gemma tokenizer).
``gemma3`` (the multimodal model) has a config class that refuses it, naming ``gemma3_text``.
"""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, hookimpl

_MODELING = "autohub_gemma3.modeling"

HEADS = {
    "causal-lm": "Gemma3ForCausalLM",
    "sequence-classification": "Gemma3TextForSequenceClassification",
}


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    register("gemma3_text", "autohub_gemma3.config:Gemma3TextConfig")
    register("gemma3", "autohub_gemma3.config:Gemma3Config")


@hookimpl
def autohub_register_tokenizers(register: RegisterByType) -> None:
    register("gemma3_text", "autohub_gemma2.tokenization:GemmaTokenizer")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    register("gemma3_text", f"{_MODELING}:Gemma3TextModel")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    for task, class_name in HEADS.items():
        register("gemma3_text", task, f"{_MODELING}:{class_name}")
