"""The Auto classes: read the config, find its ``model_type`` in the registry, delegate.

Nothing here knows a family. ``TASKS`` maps every ``AutoModelFor<Task>`` to the task name
plugins use when they declare heads.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import threading
from collections.abc import Iterator
from typing import Any

from autohub_core.configuration import CONFIG_NAME, PretrainedConfig, read_json_file
from autohub_core.errors import (
    CheckpointNotFoundError,
    ConfigError,
    PluginError,
    ProcessorError,
    RegistrationError,
    TokenizerError,
    UnknownModelTypeError,
    UnsupportedFeatureError,
)
from autohub_core.hub import HubOptions, cache_only, not_cached_error, resolve_file
from autohub_core.plugins import get_registry

__all__ = [
    "TASKS",
    "AutoConfig",
    "AutoFeatureExtractor",
    "AutoImageProcessor",
    "AutoModel",
    "AutoProcessor",
    "AutoTokenizer",
    "auto_class_for_task",
]

BASE_TASK = "base"
TASKS: dict[str, str] = {
    "AutoModel": BASE_TASK,
    "AutoModelForPreTraining": "pretraining",
    "AutoModelForMaskedLM": "masked-lm",
    "AutoModelForCausalLM": "causal-lm",
    "AutoModelForSeq2SeqLM": "seq2seq-lm",
    "AutoModelForSequenceClassification": "sequence-classification",
    "AutoModelForTokenClassification": "token-classification",
    "AutoModelForQuestionAnswering": "question-answering",
    "AutoModelForMultipleChoice": "multiple-choice",
    "AutoModelForNextSentencePrediction": "next-sentence-prediction",
    "AutoModelForTextEncoding": "text-encoding",
    "AutoModelForImageClassification": "image-classification",
    "AutoModelForZeroShotImageClassification": "zero-shot-image-classification",
    "AutoModelForObjectDetection": "object-detection",
    "AutoModelForZeroShotObjectDetection": "zero-shot-object-detection",
    "AutoModelForImageSegmentation": "image-segmentation",
    "AutoModelForSemanticSegmentation": "semantic-segmentation",
    "AutoModelForInstanceSegmentation": "instance-segmentation",
    "AutoModelForUniversalSegmentation": "universal-segmentation",
    "AutoModelForDepthEstimation": "depth-estimation",
    "AutoModelForVideoClassification": "video-classification",
    "AutoModelForMaskedImageModeling": "masked-image-modeling",
    "AutoModelForImageToImage": "image-to-image",
    "AutoModelForMaskGeneration": "mask-generation",
    "AutoModelForAudioClassification": "audio-classification",
    "AutoModelForAudioFrameClassification": "audio-frame-classification",
    "AutoModelForCTC": "ctc",
    "AutoModelForSpeechSeq2Seq": "speech-seq2seq",
    "AutoModelForAudioXVector": "audio-xvector",
    "AutoModelForTextToSpectrogram": "text-to-spectrogram",
    "AutoModelForTextToWaveform": "text-to-waveform",
    "AutoModelForTableQuestionAnswering": "table-question-answering",
    "AutoModelForDocumentQuestionAnswering": "document-question-answering",
    "AutoModelForVisualQuestionAnswering": "visual-question-answering",
    "AutoModelForImageTextToText": "image-text-to-text",
    # transformers 5 keeps the old name as an alias of its successor
    "AutoModelForVision2Seq": "image-text-to-text",
}

_AUTO_CLASS_LOCK = threading.Lock()

# from_pretrained arguments that concern loading the weights, not the config.
_LOADING_ARGUMENTS = (
    "state_dict",
    "output_loading_info",
    "dtype",
    "torch_dtype",
    "device_map",
    "device",
    "ignore_mismatched_sizes",
    "use_safetensors",
    "weights_only",
    "from_tf",
    "from_flax",
    "low_cpu_mem_usage",
    "attn_implementation",
)


def _refuse_remote_code(kwargs: dict[str, Any]) -> None:
    if kwargs.pop("trust_remote_code", False):
        raise UnsupportedFeatureError(
            "trust_remote_code=True is not supported: autohub never runs code from a checkpoint; "
            "model code comes only from installed plugins (pip install the family's plugin)"
        )


def _no_direct_instantiation(cls: type, what: str) -> None:
    raise OSError(
        f"{cls.__name__} is designed to be instantiated using the `{cls.__name__}.from_pretrained("
        f"pretrained_model_name_or_path)` or `{cls.__name__}.{what}` method."
    )


class AutoConfig:
    """Instantiates the configuration class of the family named by ``model_type``."""

    def __init__(self) -> None:
        _no_direct_instantiation(type(self), "for_model(model_type)")

    @classmethod
    def for_model(cls, model_type: str, *args: Any, **kwargs: Any) -> PretrainedConfig:
        """A default config of ``model_type``, with ``kwargs`` overriding attributes."""
        config_class = get_registry().lookup("config", model_type)
        return config_class(*args, **kwargs)

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any
    ) -> PretrainedConfig | tuple[PretrainedConfig, dict[str, Any]]:
        """Load a config from a directory, a json file, or a Hub repo id.

        The class is chosen by ``model_type`` in config.json, or, when it is missing, by the
        longest known model type contained in the name. kwargs override attributes;
        ``return_unused_kwargs=True`` returns ``(config, unused_kwargs)``.
        """
        _refuse_remote_code(kwargs)
        kwargs.pop("_from_auto", None)
        config_dict, kwargs = PretrainedConfig.get_config_dict(pretrained_model_name_or_path, **kwargs)
        registry = get_registry()
        model_type = config_dict.get("model_type")
        if model_type is not None:
            if not isinstance(model_type, str):
                raise ConfigError(
                    f"config of {pretrained_model_name_or_path}: 'model_type' must be a string, got {model_type!r}"
                )
            config_class = registry.lookup("config", model_type)
        else:
            known = registry.model_types("config")
            name = str(pretrained_model_name_or_path)
            matches = [t for t in sorted(known, key=len, reverse=True) if t in name]
            if not matches:
                raise ConfigError(
                    f"Unrecognized model in {pretrained_model_name_or_path}: its {CONFIG_NAME} has no "
                    f"'model_type' key and its name contains none of the installed model types "
                    f'({", ".join(known) or "none"}); add "model_type" to {CONFIG_NAME}'
                )
            config_class = registry.lookup("config", matches[0])
        with _contained(config_class):
            result = config_class.from_dict(config_dict, **kwargs)
        config = result[0] if isinstance(result, tuple) else result
        config.name_or_path = str(pretrained_model_name_or_path)
        return result

    @staticmethod
    def register(model_type: str, config: type[PretrainedConfig], exist_ok: bool = False) -> None:
        """Register ``config`` for ``model_type`` at runtime (wins over plugins)."""
        if issubclass(config, PretrainedConfig) and config.model_type != model_type:
            raise RegistrationError(
                "The config you are passing has a `model_type` attribute that is not consistent with the "
                f"model type you passed (config has {config.model_type} and you passed {model_type}. Fix "
                "one of those so they match!"
            )
        registry = get_registry()
        if (
            registry.has("config", model_type)
            and not exist_ok
            and not registry.maps_to("config", model_type, config)
        ):
            raise RegistrationError(
                f"'{model_type}' is already used by a config ({registry.source('config', model_type)}), "
                "pick another name or pass exist_ok=True."
            )
        registry.register("config", model_type, config)


@contextlib.contextmanager
def _contained(family_class: type) -> Iterator[None]:
    """Run a family class's code (a plugin's, or one registered at runtime): a ``SystemExit`` or
    another non-``Exception`` it raises becomes a :class:`PluginError` naming the class.
    ``KeyboardInterrupt`` (the user's Ctrl-C during a long load) passes through."""
    try:
        yield
    except (Exception, KeyboardInterrupt, GeneratorExit):
        raise
    except BaseException as error:
        raise PluginError(
            f"{family_class.__module__}.{family_class.__qualname__} raised {type(error).__name__}"
            f"{f': {error}' if str(error) else ''} while loading; the plugin providing it is faulty "
            "(see `autohub plugins`)"
        ) from error


class _BaseAutoModelClass:
    """Shared implementation of ``AutoModel`` and every ``AutoModelFor<Task>``."""

    _task: str = BASE_TASK

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _no_direct_instantiation(type(self), "from_config(config)")

    @classmethod
    def _model_class(cls, config: PretrainedConfig) -> Any:
        registry = get_registry()
        model_type = getattr(config, "model_type", "")
        if cls._task == BASE_TASK:
            return registry.lookup("model", model_type)
        return registry.lookup("head", model_type, cls._task)

    @classmethod
    def from_config(cls, config: PretrainedConfig, **kwargs: Any) -> Any:
        """A randomly initialised model of the class registered for ``config`` (no weights loaded)."""
        _refuse_remote_code(kwargs)
        if not isinstance(config, PretrainedConfig):
            raise ConfigError(f"from_config needs a PretrainedConfig, got {type(config).__name__}")
        model_class = cls._model_class(config)
        with _contained(model_class):
            return model_class.from_config(config, **kwargs)

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path: str | os.PathLike, *model_args: Any, **kwargs: Any
    ) -> Any:
        """Load the model class registered for the checkpoint's ``model_type`` and this task.

        Accepts transformers' arguments (config=, state_dict=, cache_dir=, revision=,
        local_files_only=, token=, output_loading_info=, dtype=/torch_dtype=, device_map=,
        ignore_mismatched_sizes=, ...); other kwargs update the config.
        """
        _refuse_remote_code(kwargs)
        if kwargs.get("from_tf") or kwargs.get("from_flax"):
            raise UnsupportedFeatureError(
                "from_tf / from_flax are not supported: autohub loads PyTorch/safetensors weights only"
            )
        options = HubOptions.pop_from(kwargs)
        hub_kwargs = dict(vars(options))
        loading = {name: kwargs.pop(name) for name in _LOADING_ARGUMENTS if name in kwargs}
        config = kwargs.pop("config", None)
        if not isinstance(config, PretrainedConfig):
            source = config if config is not None else pretrained_model_name_or_path
            config, kwargs = AutoConfig.from_pretrained(
                source, return_unused_kwargs=True, **hub_kwargs, **kwargs
            )
        else:
            config = copy.deepcopy(config)
        model_class = cls._model_class(config)
        with _contained(model_class):
            return model_class.from_pretrained(
                pretrained_model_name_or_path, *model_args, config=config, **hub_kwargs, **loading, **kwargs
            )

    @classmethod
    def register(
        cls, config_class: type[PretrainedConfig], model_class: type, exist_ok: bool = False
    ) -> None:
        """Register ``model_class`` for configs of ``config_class`` at runtime (wins over plugins)."""
        declared = getattr(model_class, "config_class", None)
        if declared is not None and declared is not PretrainedConfig and declared is not config_class:
            raise RegistrationError(
                "The model class you are passing has a `config_class` attribute that is not consistent with "
                f"the config class you passed (model has {declared} and you passed {config_class}. Fix one of "
                "those so they match!"
            )
        model_type = getattr(config_class, "model_type", "")
        if not model_type:
            raise RegistrationError(f"{config_class.__name__} has no model_type; set the class attribute")
        kind, task = ("model", None) if cls._task == BASE_TASK else ("head", cls._task)
        registry = get_registry()
        if (
            registry.has(kind, model_type, task)
            and not exist_ok
            and not registry.maps_to(kind, model_type, model_class, task)
        ):
            raise RegistrationError(
                f"'{config_class.__name__}' (model_type {model_type!r}) already has a model for {cls.__name__} "
                f"({registry.source(kind, model_type, task)}); pass exist_ok=True to replace it."
            )
        registry.register(kind, model_type, model_class, task)


def _make_auto_model_class(name: str, task: str) -> type[_BaseAutoModelClass]:
    doc = f"Instantiates the model class registered for the checkpoint's model_type and task {task!r}."
    return type(name, (_BaseAutoModelClass,), {"_task": task, "__doc__": doc, "__module__": __name__})


AutoModel = _make_auto_model_class("AutoModel", BASE_TASK)
AutoModelForPreTraining = _make_auto_model_class("AutoModelForPreTraining", TASKS["AutoModelForPreTraining"])
AutoModelForMaskedLM = _make_auto_model_class("AutoModelForMaskedLM", TASKS["AutoModelForMaskedLM"])
AutoModelForCausalLM = _make_auto_model_class("AutoModelForCausalLM", TASKS["AutoModelForCausalLM"])
AutoModelForSeq2SeqLM = _make_auto_model_class("AutoModelForSeq2SeqLM", TASKS["AutoModelForSeq2SeqLM"])
AutoModelForSequenceClassification = _make_auto_model_class(
    "AutoModelForSequenceClassification", TASKS["AutoModelForSequenceClassification"]
)
AutoModelForTokenClassification = _make_auto_model_class(
    "AutoModelForTokenClassification", TASKS["AutoModelForTokenClassification"]
)
AutoModelForQuestionAnswering = _make_auto_model_class(
    "AutoModelForQuestionAnswering", TASKS["AutoModelForQuestionAnswering"]
)
AutoModelForMultipleChoice = _make_auto_model_class(
    "AutoModelForMultipleChoice", TASKS["AutoModelForMultipleChoice"]
)
AutoModelForNextSentencePrediction = _make_auto_model_class(
    "AutoModelForNextSentencePrediction", TASKS["AutoModelForNextSentencePrediction"]
)
AutoModelForTextEncoding = _make_auto_model_class(
    "AutoModelForTextEncoding", TASKS["AutoModelForTextEncoding"]
)
AutoModelForImageClassification = _make_auto_model_class(
    "AutoModelForImageClassification", TASKS["AutoModelForImageClassification"]
)
AutoModelForZeroShotImageClassification = _make_auto_model_class(
    "AutoModelForZeroShotImageClassification", TASKS["AutoModelForZeroShotImageClassification"]
)
AutoModelForObjectDetection = _make_auto_model_class(
    "AutoModelForObjectDetection", TASKS["AutoModelForObjectDetection"]
)
AutoModelForZeroShotObjectDetection = _make_auto_model_class(
    "AutoModelForZeroShotObjectDetection", TASKS["AutoModelForZeroShotObjectDetection"]
)
AutoModelForImageSegmentation = _make_auto_model_class(
    "AutoModelForImageSegmentation", TASKS["AutoModelForImageSegmentation"]
)
AutoModelForSemanticSegmentation = _make_auto_model_class(
    "AutoModelForSemanticSegmentation", TASKS["AutoModelForSemanticSegmentation"]
)
AutoModelForInstanceSegmentation = _make_auto_model_class(
    "AutoModelForInstanceSegmentation", TASKS["AutoModelForInstanceSegmentation"]
)
AutoModelForUniversalSegmentation = _make_auto_model_class(
    "AutoModelForUniversalSegmentation", TASKS["AutoModelForUniversalSegmentation"]
)
AutoModelForDepthEstimation = _make_auto_model_class(
    "AutoModelForDepthEstimation", TASKS["AutoModelForDepthEstimation"]
)
AutoModelForVideoClassification = _make_auto_model_class(
    "AutoModelForVideoClassification", TASKS["AutoModelForVideoClassification"]
)
AutoModelForMaskedImageModeling = _make_auto_model_class(
    "AutoModelForMaskedImageModeling", TASKS["AutoModelForMaskedImageModeling"]
)
AutoModelForImageToImage = _make_auto_model_class(
    "AutoModelForImageToImage", TASKS["AutoModelForImageToImage"]
)
AutoModelForMaskGeneration = _make_auto_model_class(
    "AutoModelForMaskGeneration", TASKS["AutoModelForMaskGeneration"]
)
AutoModelForAudioClassification = _make_auto_model_class(
    "AutoModelForAudioClassification", TASKS["AutoModelForAudioClassification"]
)
AutoModelForAudioFrameClassification = _make_auto_model_class(
    "AutoModelForAudioFrameClassification", TASKS["AutoModelForAudioFrameClassification"]
)
AutoModelForCTC = _make_auto_model_class("AutoModelForCTC", TASKS["AutoModelForCTC"])
AutoModelForSpeechSeq2Seq = _make_auto_model_class(
    "AutoModelForSpeechSeq2Seq", TASKS["AutoModelForSpeechSeq2Seq"]
)
AutoModelForAudioXVector = _make_auto_model_class(
    "AutoModelForAudioXVector", TASKS["AutoModelForAudioXVector"]
)
AutoModelForTextToSpectrogram = _make_auto_model_class(
    "AutoModelForTextToSpectrogram", TASKS["AutoModelForTextToSpectrogram"]
)
AutoModelForTextToWaveform = _make_auto_model_class(
    "AutoModelForTextToWaveform", TASKS["AutoModelForTextToWaveform"]
)
AutoModelForTableQuestionAnswering = _make_auto_model_class(
    "AutoModelForTableQuestionAnswering", TASKS["AutoModelForTableQuestionAnswering"]
)
AutoModelForDocumentQuestionAnswering = _make_auto_model_class(
    "AutoModelForDocumentQuestionAnswering", TASKS["AutoModelForDocumentQuestionAnswering"]
)
AutoModelForVisualQuestionAnswering = _make_auto_model_class(
    "AutoModelForVisualQuestionAnswering", TASKS["AutoModelForVisualQuestionAnswering"]
)
AutoModelForImageTextToText = _make_auto_model_class(
    "AutoModelForImageTextToText", TASKS["AutoModelForImageTextToText"]
)
AutoModelForVision2Seq = AutoModelForImageTextToText


_AUTO_CLASSES_BY_TASK: dict[str, type[_BaseAutoModelClass]] = {
    task: globals()[name] for name, task in TASKS.items() if name != "AutoModelForVision2Seq"
}


def auto_class_for_task(task: str) -> type[_BaseAutoModelClass]:
    """The Auto class for ``task``: ``"masked-lm"`` -> ``AutoModelForMaskedLM``.

    A task that is not in :data:`TASKS` is one a head plugin added (for example
    ``"sentence-embedding"``); its ``AutoModelFor<Task>`` class is made on first request and
    reused, with the usual ``from_pretrained`` / ``from_config`` / ``register``.
    """
    if not isinstance(task, str) or not re.fullmatch(r"[a-z0-9]+([-_][a-z0-9]+)*", task):
        raise UnknownModelTypeError(f"invalid task name {task!r}: use lower-case words joined by '-'")
    with _AUTO_CLASS_LOCK:
        if task not in _AUTO_CLASSES_BY_TASK:
            name = "AutoModelFor" + "".join(word.capitalize() for word in re.split(r"[-_]", task))
            _AUTO_CLASSES_BY_TASK[task] = _make_auto_model_class(name, task)
        return _AUTO_CLASSES_BY_TASK[task]


class AutoTokenizer:
    """Instantiates the tokenizer class of the checkpoint's family."""

    def __init__(self) -> None:
        _no_direct_instantiation(type(self), "from_pretrained(pretrained_model_name_or_path)")

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path: str | os.PathLike, *inputs: Any, **kwargs: Any
    ) -> Any:
        """Load the tokenizer: class from tokenizer_config.json's ``tokenizer_class``, else the
        config's ``model_type``, else a generic tokenizer over tokenizer.json.

        ``use_fast`` is accepted (every autohub tokenizer is the Rust one).
        """
        _refuse_remote_code(kwargs)
        kwargs.pop("use_fast", None)
        tokenizer_type = kwargs.pop("tokenizer_type", None)
        config = kwargs.pop("config", None)
        options = HubOptions.pop_from(kwargs)
        registry = get_registry()
        tokenizer_class = None
        if tokenizer_type is not None:
            tokenizer_class = registry.lookup("tokenizer", tokenizer_type)
        if tokenizer_class is None:
            tokenizer_class = _tokenizer_class_from_files(pretrained_model_name_or_path, options, config)
        with _contained(tokenizer_class):
            return tokenizer_class.from_pretrained(
                pretrained_model_name_or_path, *inputs, **vars(options), **kwargs
            )

    @staticmethod
    def register(
        config_class: type[PretrainedConfig],
        slow_tokenizer_class: type | None = None,
        fast_tokenizer_class: type | None = None,
        exist_ok: bool = False,
    ) -> None:
        """Register a tokenizer class for configs of ``config_class`` (the fast one is preferred)."""
        tokenizer_class = fast_tokenizer_class or slow_tokenizer_class
        if tokenizer_class is None:
            raise RegistrationError(
                "You need to pass either a `slow_tokenizer_class` or a `fast_tokenizer_class`"
            )
        model_type = getattr(config_class, "model_type", "")
        if not model_type:
            raise RegistrationError(f"{config_class.__name__} has no model_type; set the class attribute")
        registry = get_registry()
        if (
            registry.has("tokenizer", model_type)
            and not exist_ok
            and not registry.maps_to("tokenizer", model_type, tokenizer_class)
        ):
            raise RegistrationError(
                f"'{config_class.__name__}' (model_type {model_type!r}) already has a tokenizer "
                f"({registry.source('tokenizer', model_type)}); pass exist_ok=True to replace it."
            )
        registry.register("tokenizer", model_type, tokenizer_class)


def _tokenizer_class_from_files(name: str | os.PathLike, options: HubOptions, config: Any) -> Any:
    from autohub_core.tokenization import TokenizersBackend

    registry = get_registry()
    tokenizer_config_path = resolve_file(name, "tokenizer_config.json", options, required=False)
    if tokenizer_config_path is not None:
        class_name = read_json_file(tokenizer_config_path).get("tokenizer_class")
        if isinstance(class_name, str):
            if class_name.removesuffix("Fast") in ("PreTrainedTokenizer", "TokenizersBackend"):
                return TokenizersBackend
            found = registry.find_tokenizer_by_name(class_name)
            if found is not None:
                return _model_type_tokenizer_over_named(found, _model_type(name, options, config))
    model_type = _model_type(name, options, config)
    if isinstance(model_type, str) and registry.has("tokenizer", model_type):
        family = registry.lookup("tokenizer", model_type)
        # transformers maps some model types (llama) to no tokenizer: unnamed, they get the generic one.
        return TokenizersBackend if getattr(family, "only_when_named", False) else family
    if resolve_file(name, "tokenizer.json", options, required=False) is not None:
        return TokenizersBackend
    if cache_only(name, options):  # the files that would tell may be on the Hub: say what is missing
        raise not_cached_error(str(name), "tokenizer.json")
    if isinstance(model_type, str):
        registry.lookup("tokenizer", model_type)  # raises the actionable "install a plugin" error
    raise TokenizerError(
        f"cannot tell which tokenizer {name} needs: no tokenizer.json, no known tokenizer_class in "
        "tokenizer_config.json, and no model_type in config.json with an installed plugin"
    )


def _model_type(name: str | os.PathLike, options: HubOptions, config: Any) -> Any:
    """The ``model_type`` of the given config, else of the checkpoint's config.json (None without)."""
    model_type = getattr(config, "model_type", None) if isinstance(config, PretrainedConfig) else None
    if model_type is not None:
        return model_type
    config_path = resolve_file(name, CONFIG_NAME, options, required=False)
    return read_json_file(config_path).get("model_type") if config_path is not None else None


def _model_type_tokenizer_over_named(named: Any, model_type: Any) -> Any:
    """The tokenizer of ``model_type`` when it declares ``replaces_named_tokenizer_class`` (transformers
    loads some model types with one tokenizer whatever tokenizer_config.json names), else ``named``."""
    registry = get_registry()
    if not isinstance(model_type, str) or not registry.has("tokenizer", model_type):
        return named
    own = registry.lookup("tokenizer", model_type)
    return own if getattr(own, "replaces_named_tokenizer_class", False) else named


# -- preprocessing: image processors, feature extractors, processors -------------------------------


class _AutoPreprocessorClass:
    """Shared by ``AutoImageProcessor`` and ``AutoFeatureExtractor``: the class is named by the
    preprocessor file's type key, else chosen by the checkpoint's ``model_type``."""

    _kind: str = ""  # registry kind
    _type_key: str = ""  # the key naming the class in preprocessor_config.json
    _fallback_kinds: tuple[str, ...] = ()  # other kinds whose classes this Auto class also returns

    def __init__(self) -> None:
        _no_direct_instantiation(type(self), "from_pretrained(pretrained_model_name_or_path)")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any) -> Any:
        """Load the preprocessor of a folder or Hub repo: its class from ``image_processor_type`` /
        ``feature_extractor_type`` in processor_config.json (nested) or preprocessor_config.json,
        else from config.json's ``model_type``; kwargs override attributes."""
        from autohub_core.processing import read_preprocessor_dict

        _refuse_remote_code(kwargs)
        kwargs.pop("use_fast", None)
        config = kwargs.pop("config", None)
        options = HubOptions.pop_from(kwargs)
        values, source = read_preprocessor_dict(
            pretrained_model_name_or_path, _NESTED_KEY[cls._kind], options
        )
        preprocessor_class = cls._class_for(values, source, pretrained_model_name_or_path, options, config)
        with _contained(preprocessor_class):
            return preprocessor_class.from_dict(values, _source=source, **kwargs)

    @classmethod
    def _class_for(
        cls, values: dict[str, Any], source: str, name: str | os.PathLike, options: HubOptions, config: Any
    ) -> Any:
        registry = get_registry()
        kinds = (cls._kind, *cls._fallback_kinds)
        named = _named_class(values, source, cls._type_key)
        if named is None and cls._kind == "image-processor":  # old checkpoints: "ViTFeatureExtractor"
            legacy = _named_class(values, source, "feature_extractor_type")
            named = legacy.replace("FeatureExtractor", "ImageProcessor") if legacy else None
        if named is None and cls._kind == "feature-extractor":  # an image checkpoint: its image processor
            named = _named_class(values, source, "image_processor_type")
            kinds = kinds[::-1] if named is not None else kinds
        if named is not None:
            for kind in kinds:
                found = registry.find_by_class_name(kind, named)
                if found is not None:
                    return found
            if cls._kind == "feature-extractor" and named.endswith("FeatureExtractor"):
                found = registry.find_by_class_name(
                    "image-processor", named.replace("FeatureExtractor", "ImageProcessor")
                )
                if found is not None:
                    return found
        model_type = _model_type(name, options, config)
        if isinstance(model_type, str):
            for kind in kinds:
                if registry.has(kind, model_type):
                    return registry.lookup(kind, model_type)
        if named is not None:
            known = sorted(target.rpartition(":")[2] for _, _, target in registry.items(cls._kind))
            raise ProcessorError(
                f"{source}: {cls._type_key} names {named!r}, which no installed plugin provides "
                f"(installed: {', '.join(known) or 'none'}); install the family's plugin "
                f"(pip install autohub-<family>) or register the class with {cls.__name__}.register"
            )
        if isinstance(model_type, str) and registry.has("config", model_type):
            registry.lookup(cls._kind, model_type)  # raises "model_type has no <kind> class"
        raise ProcessorError(
            f"{source}: cannot tell which {cls._kind.replace('-', ' ')} to use: no {cls._type_key} key and "
            "no config.json with a model_type an installed plugin provides; add the key"
        )

    @classmethod
    def _register(cls, config_class: type[PretrainedConfig], value: type, exist_ok: bool) -> None:
        model_type = getattr(config_class, "model_type", "")
        if not model_type:
            raise RegistrationError(f"{config_class.__name__} has no model_type; set the class attribute")
        registry = get_registry()
        if (
            registry.has(cls._kind, model_type)
            and not exist_ok
            and not registry.maps_to(cls._kind, model_type, value)
        ):
            raise RegistrationError(
                f"'{config_class.__name__}' (model_type {model_type!r}) already has a {cls._kind} "
                f"({registry.source(cls._kind, model_type)}); pass exist_ok=True to replace it."
            )
        registry.register(cls._kind, model_type, value)


_NESTED_KEY = {"image-processor": "image_processor", "feature-extractor": "feature_extractor"}


def _named_class(values: dict[str, Any], source: str, key: str) -> str | None:
    """The class name under ``key`` (None when absent); a non-string is a :class:`ProcessorError`."""
    named = values.get(key)
    if named is not None and not isinstance(named, str):
        raise ProcessorError(f"{source}: {key!r} must be a class name (a string), got {named!r}")
    return named


class AutoImageProcessor(_AutoPreprocessorClass):
    """Instantiates the image processor of the checkpoint's family."""

    _kind = "image-processor"
    _type_key = "image_processor_type"

    @classmethod
    def register(
        cls,
        config_class: type[PretrainedConfig],
        image_processor_class: type | None = None,
        slow_image_processor_class: type | None = None,
        fast_image_processor_class: type | None = None,
        exist_ok: bool = False,
    ) -> None:
        """Register an image processor for configs of ``config_class`` (the seeds' signature; one
        class is kept, the fast one when several are given)."""
        chosen = fast_image_processor_class or image_processor_class or slow_image_processor_class
        if chosen is None:
            raise RegistrationError("You need to specify an image processor class to register")
        cls._register(config_class, chosen, exist_ok)


class AutoFeatureExtractor(_AutoPreprocessorClass):
    """Instantiates the feature extractor of the checkpoint's family (for image checkpoints whose
    family has none, its image processor, as transformers)."""

    _kind = "feature-extractor"
    _type_key = "feature_extractor_type"
    _fallback_kinds = ("image-processor",)

    @classmethod
    def register(
        cls, config_class: type[PretrainedConfig], feature_extractor_class: type, exist_ok: bool = False
    ) -> None:
        """Register ``feature_extractor_class`` for configs of ``config_class``."""
        cls._register(config_class, feature_extractor_class, exist_ok)


class AutoProcessor:
    """Instantiates the processor of the checkpoint's family; for a family without one, its
    tokenizer, else its image processor, else its feature extractor (as transformers)."""

    def __init__(self) -> None:
        _no_direct_instantiation(type(self), "from_pretrained(pretrained_model_name_or_path)")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any) -> Any:
        """The class comes from ``processor_class`` in processor_config.json,
        preprocessor_config.json or tokenizer_config.json, else from config.json's model_type."""
        _refuse_remote_code(kwargs)
        kwargs.pop("use_fast", None)
        config = kwargs.pop("config", None)
        options = HubOptions.pop_from(kwargs)
        processor_class, named = _processor_class(pretrained_model_name_or_path, options, config)
        failures: list[str] = []
        if processor_class is not None:
            try:
                with _contained(processor_class):
                    return processor_class.from_pretrained(
                        pretrained_model_name_or_path, **vars(options), **kwargs
                    )
            except (ProcessorError, TokenizerError, CheckpointNotFoundError) as error:
                if named:  # the checkpoint's files ask for this processor: its error is the answer
                    raise
                # chosen by model_type only: a checkpoint may ship one component (an audio
                # classifier has a feature extractor, no tokenizer); that component is the answer
                failures.append(f"{processor_class.__name__}: {error}")
        for auto_class in (AutoTokenizer, AutoImageProcessor, AutoFeatureExtractor):
            try:
                return auto_class.from_pretrained(
                    pretrained_model_name_or_path, config=config, **vars(options), **kwargs
                )
            except (ProcessorError, TokenizerError, UnknownModelTypeError, CheckpointNotFoundError) as error:
                failures.append(f"{auto_class.__name__}: {error}")
        raise ProcessorError(
            f"no processor, tokenizer, image processor or feature extractor can be loaded from "
            f"{pretrained_model_name_or_path}: " + "; ".join(failures)
        )

    @staticmethod
    def register(config_class: type[PretrainedConfig], processor_class: type, exist_ok: bool = False) -> None:
        """Register ``processor_class`` for configs of ``config_class``."""
        model_type = getattr(config_class, "model_type", "")
        if not model_type:
            raise RegistrationError(f"{config_class.__name__} has no model_type; set the class attribute")
        registry = get_registry()
        if (
            registry.has("processor", model_type)
            and not exist_ok
            and not registry.maps_to("processor", model_type, processor_class)
        ):
            raise RegistrationError(
                f"'{config_class.__name__}' (model_type {model_type!r}) already has a processor "
                f"({registry.source('processor', model_type)}); pass exist_ok=True to replace it."
            )
        registry.register("processor", model_type, processor_class)


def _processor_class(name: str | os.PathLike, options: HubOptions, config: Any) -> tuple[Any | None, bool]:
    """The processor class the checkpoint's files name (and True) or its model_type has (and False);
    None when neither."""
    from autohub_core import limits

    registry = get_registry()
    for filename in ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json"):
        path = resolve_file(name, filename, options, required=False)
        if path is None:
            continue
        named = _named_class(limits.read_json(path, ProcessorError), str(path), "processor_class")
        if named is None:
            continue
        found = registry.find_by_class_name("processor", named)
        if found is not None:
            return found, True
        if filename == "processor_config.json":
            known = sorted(target.rpartition(":")[2] for _, _, target in registry.items("processor"))
            raise ProcessorError(
                f"{path}: processor_class names {named!r}, which no installed plugin provides "
                f"(installed: {', '.join(known) or 'none'}); install the family's plugin or register "
                "the class with AutoProcessor.register"
            )
    model_type = _model_type(name, options, config)
    if isinstance(model_type, str) and registry.has("processor", model_type):
        return registry.lookup("processor", model_type), False
    return None, False
