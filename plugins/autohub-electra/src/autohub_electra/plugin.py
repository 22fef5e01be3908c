"""autohub hook implementations for the ELECTRA family: lazy class paths only."""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, hookimpl

_MODELING = "autohub_electra.modeling"

#: task -> class, as transformers' Auto classes map ELECTRA (pretraining is the discriminator,
#: masked-lm the generator).
HEADS = {
    "text-encoding": "ElectraModel",
    "pretraining": "ElectraForPreTraining",
    "masked-lm": "ElectraForMaskedLM",
    "causal-lm": "ElectraForCausalLM",
    "sequence-classification": "ElectraForSequenceClassification",
    "token-classification": "ElectraForTokenClassification",
    "question-answering": "ElectraForQuestionAnswering",
    "multiple-choice": "ElectraForMultipleChoice",
}


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    register("electra", "autohub_electra.config:ElectraConfig")


@hookimpl
def autohub_register_tokenizers(register: RegisterByType) -> None:
    register("electra", "autohub_electra.tokenization:ElectraTokenizer")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    register("electra", f"{_MODELING}:ElectraModel")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    for task, class_name in HEADS.items():
        register("electra", task, f"{_MODELING}:{class_name}")
