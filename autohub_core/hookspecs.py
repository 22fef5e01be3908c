"""The plugin API: the hooks a family plugin implements.

A plugin is a module named by an entry point in the ``autohub`` group::

    [project.entry-points.autohub]
    bert = "autohub_bert.plugin"

Each hook receives a ``register`` callback and declares classes as lazy
``"package.module:ClassName"`` strings. Nothing is imported until a user resolves the
class, so the plugin module itself must import neither torch nor its modeling code.
All five hooks are optional; implement those your package provides.
"""

from __future__ import annotations

from typing import Protocol

import pluggy

PROJECT_NAME = "autohub"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class RegisterByType(Protocol):
    """The ``register`` callback the config, tokenizer and model hooks receive:
    ``register(model_type, "package.module:ClassName")``."""

    def __call__(self, model_type: str, target: str) -> None: ...


class RegisterHead(Protocol):
    """The ``register`` callback :func:`autohub_register_heads` receives:
    ``register(model_type, task, "package.module:ClassName")``."""

    def __call__(self, model_type: str, task: str, target: str) -> None: ...


class RegisterPreprocessor(Protocol):
    """The ``register`` callback :func:`autohub_register_preprocessors` receives:
    ``register(kind, model_type, "package.module:ClassName")``."""

    def __call__(self, kind: str, model_type: str, target: str) -> None: ...


@hookspec
def autohub_register_configs(register: RegisterByType) -> None:
    """Declare configuration classes, once per process, at the first resolution.

    Call ``register(model_type, "module:ConfigClass")`` for each ``model_type`` (the value
    of ``"model_type"`` in config.json) the plugin provides. The class subclasses
    :class:`autohub_core.PretrainedConfig`.
    """


@hookspec
def autohub_register_tokenizers(register: RegisterByType) -> None:
    """Declare tokenizer classes, once per process, at the first resolution.

    Call ``register(model_type, "module:TokenizerClass")``. The class subclasses
    :class:`autohub_core.PreTrainedTokenizer`; its name (with or without a ``Fast``
    suffix) is also matched against ``tokenizer_class`` in tokenizer_config.json.
    """


@hookspec
def autohub_register_models(register: RegisterByType) -> None:
    """Declare base models (what ``AutoModel`` returns), once per process.

    Call ``register(model_type, "module:ModelClass")``. The class subclasses
    :class:`autohub_core.PreTrainedModel` and names its ``config_class``.
    """


@hookspec
def autohub_register_heads(register: RegisterHead) -> None:
    """Declare task heads (what ``AutoModelFor<Task>`` returns), once per process.

    Call ``register(model_type, task, "module:HeadClass")`` where ``task`` is one of
    :data:`autohub_core.auto.TASKS` (for example ``"token-classification"``) or a new task
    name the package introduces (users reach it with ``auto_class_for_task(task)``). A
    package may add heads to a family another package provides.
    """


@hookspec
def autohub_register_preprocessors(register: RegisterPreprocessor) -> None:
    """Declare image processors, feature extractors and processors, once per process.

    Call ``register(kind, model_type, "module:Class")`` with ``kind`` one of
    ``"image-processor"`` (what ``AutoImageProcessor`` returns; subclasses
    :class:`autohub_core.processing.ImageProcessor`), ``"feature-extractor"``
    (``AutoFeatureExtractor``; :class:`autohub_core.processing.FeatureExtractor`) or
    ``"processor"`` (``AutoProcessor``; :class:`autohub_core.processing.Processor`). The class
    name (``Fast`` / ``Pil`` suffixes ignored) is also matched against ``image_processor_type``,
    ``feature_extractor_type`` and ``processor_class`` in preprocessor_config.json /
    processor_config.json, and so are the names in the class's optional ``legacy_names``.
    """
