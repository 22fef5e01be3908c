"""autohub hook implementations for the BERT family: lazy class paths only."""

from __future__ import annotations

from autohub_core.hookspecs import RegisterByType, RegisterHead, hookimpl

_MODELING = "autohub_bert.modeling"

#: task -> class; ``text-encoding`` is the base model, as transformers' AutoModelForTextEncoding maps it.
HEADS = {
    "text-encoding": "BertModel",
    "pretraining": "BertForPreTraining",
    "masked-lm": "BertForMaskedLM",
    "causal-lm": "BertLMHeadModel",
    "sequence-classification": "BertForSequenceClassification",
    "token-classification": "BertForTokenClassification",
    "question-answering": "BertForQuestionAnswering",
    "multiple-choice": "BertForMultipleChoice",
    "next-sentence-prediction": "BertForNextSentencePrediction",
}


@hookimpl
def autohub_register_configs(register: RegisterByType) -> None:
    register("bert", "autohub_bert.config:BertConfig")


@hookimpl
def autohub_register_tokenizers(register: RegisterByType) -> None:
    register("bert", "autohub_bert.tokenization:BertTokenizer")


@hookimpl
def autohub_register_models(register: RegisterByType) -> None:
    register("bert", f"{_MODELING}:BertModel")


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    for task, class_name in HEADS.items():
        register("bert", task, f"{_MODELING}:{class_name}")
