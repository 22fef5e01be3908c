"""autohub hook implementations for RoBERTa and XLM-RoBERTa: lazy class paths only."""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, hookimpl

_MODELING = "autohub_roberta.modeling"

#: model_type -> the prefix of its class names.
FAMILIES = {"roberta": "Roberta", "xlm-roberta": "XLMRoberta"}

#: task -> class name without the family prefix; ``text-encoding`` is the base model, as
#: transformers' AutoModelForTextEncoding maps it.
HEADS = {
    "text-encoding": "Model",
    "masked-lm": "ForMaskedLM",
    "causal-lm": "ForCausalLM",
    "sequence-classification": "ForSequenceClassification",
    "token-classification": "ForTokenClassification",
    "question-answering": "ForQuestionAnswering",
    "multiple-choice": "ForMultipleChoice",
}


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    for model_type, prefix in FAMILIES.items():
        register(model_type, f"autohub_roberta.config:{prefix}Config")


@hookimpl
def autohub_register_tokenizers(register: RegisterByType) -> None:
    for model_type, prefix in FAMILIES.items():
        register(model_type, f"autohub_roberta.tokenization:{prefix}Tokenizer")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    for model_type, prefix in FAMILIES.items():
        register(model_type, f"{_MODELING}:{prefix}Model")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    for model_type, prefix in FAMILIES.items():
        for task, suffix in HEADS.items():
            register(model_type, task, f"{_MODELING}:{prefix}{suffix}")
