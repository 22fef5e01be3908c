"""autohub hook implementation: a new task, ``"sentence-embedding"``, for the BERT family.

The task is not one of the core's ``TASKS``; users reach it with
``autohub_core.auto_class_for_task("sentence-embedding")``.
"""

from __future__ import annotations

from autohub_core.hookspecs import RegisterHead, hookimpl


@hookimpl
def autohub_register_heads(register: RegisterHead) -> None:
    register("bert", "sentence-embedding", "autohub_bert_pooling.modeling:BertForSentenceEmbedding")
