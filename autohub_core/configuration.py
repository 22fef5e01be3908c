"""``PretrainedConfig``: a model's hyper-parameters, read from and written to config.json."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, ClassVar

from autohub_core.errors import ConfigError
from autohub_core.hub import HubOptions, resolve_file

__all__ = ["CONFIG_NAME", "PretrainedConfig", "read_json_file", "standardize_rope_parameters"]

CONFIG_NAME = "config.json"

# Attributes every config has, with transformers' defaults. Families add their own in __init__.
_COMMON_DEFAULTS: dict[str, Any] = {
    "return_dict": True,
    "output_hidden_states": False,
    "output_attentions": False,
    "torchscript": False,
    "dtype": None,
    "tie_word_embeddings": True,
    "is_encoder_decoder": False,
    "is_decoder": False,
    "add_cross_attention": False,
    "architectures": None,
    "finetuning_task": None,
    "problem_type": None,
    "tokenizer_class": None,
    "bos_token_id": None,
    "eos_token_id": None,
    "pad_token_id": None,
    "sep_token_id": None,
    "decoder_start_token_id": None,
    "chunk_size_feed_forward": 0,
}
_PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")
_ROPE_TYPES_WITH_ORIGINAL_LENGTH = ("llama3", "yarn", "longrope")


class PretrainedConfig:
    """Base class of every family's configuration.

    Subclasses set ``model_type`` and take their hyper-parameters as keyword arguments,
    passing the rest to ``super().__init__(**kwargs)``. Keys no class knows are kept as
    attributes and written back by :meth:`save_pretrained`, so a config round-trips.
    """

    model_type: ClassVar[str] = ""
    attribute_map: ClassVar[dict[str, str]] = {}
    """Aliases: ``{"hidden_size": "n_embd"}`` makes ``config.hidden_size`` read ``n_embd``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("model_type", None)
        kwargs.pop("transformers_version", None)
        if "torch_dtype" in kwargs:
            kwargs.setdefault("dtype", kwargs.pop("torch_dtype"))
        for name, default in _COMMON_DEFAULTS.items():
            setattr(self, name, kwargs.pop(name, default))
        self.dtype = _dtype_name(self.dtype)
        id2label = kwargs.pop("id2label", None)
        label2id = kwargs.pop("label2id", None)
        num_labels = kwargs.pop("num_labels", None)
        if id2label is not None:
            self.id2label = _int_keys(id2label)
            if num_labels is not None and num_labels != len(self.id2label):
                raise ConfigError(
                    f"num_labels={num_labels} disagrees with id2label, which has {len(self.id2label)} "
                    "labels; pass one of them"
                )
        else:
            self.num_labels = 2 if num_labels is None else num_labels
        if label2id is not None:
            if not isinstance(label2id, dict):
                raise ConfigError(f"label2id must be a mapping of label to id, got {type(label2id).__name__}")
            self.label2id = {str(k): _as_int(v, "label2id") for k, v in label2id.items()}
        else:
            self.label2id = {label: index for index, label in self.id2label.items()}
        if self.problem_type is not None and self.problem_type not in _PROBLEM_TYPES:
            raise ConfigError(f"problem_type must be one of {_PROBLEM_TYPES}, got {self.problem_type!r}")
        self.name_or_path = str(kwargs.pop("name_or_path", kwargs.pop("_name_or_path", "")))
        for key, value in kwargs.items():
            if key.startswith("__") or callable(getattr(type(self), key, None)):
                raise ConfigError(f"config key {key!r} would hide the attribute of the same name; rename it")
            try:
                setattr(self, key, value)
            except AttributeError as error:
                raise ConfigError(
                    f"cannot set config key {key!r} on {type(self).__name__}: {error}"
                ) from error

    # -- attribute aliases ---------------------------------------------------------------

    def __setattr__(self, key: str, value: Any) -> None:
        key = type(self).attribute_map.get(key, key)
        super().__setattr__(key, value)

    def __getattr__(self, key: str) -> Any:
        # Only called when normal lookup fails: resolve aliases.
        target = type(self).attribute_map.get(key)
        if target is not None and target != key:
            return getattr(self, target)
        raise AttributeError(f"{type(self).__name__} has no attribute {key!r}")

    # -- labels ----------------------------------------------------------------------------

    @property
    def num_labels(self) -> int:
        """Number of labels of a classification head (``len(id2label)``)."""
        return len(self.id2label)

    @num_labels.setter
    def num_labels(self, value: int) -> None:
        value = _as_int(value, "num_labels")
        if value < 0:
            raise ConfigError(f"num_labels must be >= 0, got {value}")
        if getattr(self, "id2label", None) is None or len(self.id2label) != value:
            self.id2label = {index: f"LABEL_{index}" for index in range(value)}
            self.label2id = {label: index for index, label in self.id2label.items()}

    @property
    def use_return_dict(self) -> bool:
        """Whether models return output objects (False under torchscript)."""
        return self.return_dict and not self.torchscript

    # -- dict / json -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """All attributes as a JSON-serialisable dict, including ``model_type``."""
        output = {
            key: copy.deepcopy(value) for key, value in self.__dict__.items() if not key.startswith("_")
        }
        output.pop("name_or_path", None)
        output["model_type"] = self.model_type
        output["id2label"] = {str(k): v for k, v in self.id2label.items()}
        for key, value in output.items():
            if isinstance(value, PretrainedConfig):
                output[key] = value.to_dict()
        return output

    def to_json_string(self) -> str:
        """The config as config.json text (sorted keys, two-space indent)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=_json_default) + "\n"

    def update(self, values: dict[str, Any]) -> None:
        """Set several attributes at once."""
        for key, value in values.items():
            setattr(self, key, value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PretrainedConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"

    @classmethod
    def from_dict(
        cls, config_dict: dict[str, Any], *, return_unused_kwargs: bool = False, **kwargs: Any
    ) -> PretrainedConfig | tuple[PretrainedConfig, dict[str, Any]]:
        """Build a config from a dict; ``kwargs`` naming existing attributes override them.

        With ``return_unused_kwargs=True`` returns ``(config, unused_kwargs)``.
        """
        if not isinstance(config_dict, dict):
            raise ConfigError(f"a config must be a JSON object, got {type(config_dict).__name__}")
        config_dict = dict(config_dict)
        for key in ("num_labels", "id2label", "label2id"):
            if key in kwargs:
                config_dict.pop("id2label" if key == "num_labels" else key, None)
                if key == "num_labels":
                    config_dict.pop("label2id", None)
                config_dict[key] = kwargs.pop(key)
        if "id2label" in config_dict and "num_labels" in config_dict:
            config_dict.pop("num_labels")
        try:
            config = cls(**config_dict)
        except ConfigError:
            raise
        except (TypeError, ValueError) as error:
            raise ConfigError(f"invalid {cls.__name__} values: {error}") from error
        unused: dict[str, Any] = {}
        for key, value in kwargs.items():
            if hasattr(config, key) or key in cls.attribute_map:
                setattr(config, key, _dtype_name(value) if key in ("dtype", "torch_dtype") else value)
            else:
                unused[key] = value
        return (config, unused) if return_unused_kwargs else config

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> PretrainedConfig:
        """Build a config from a config.json file."""
        config = cls.from_dict(read_json_file(path))
        assert isinstance(config, PretrainedConfig)
        return config

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any
    ) -> PretrainedConfig | tuple[PretrainedConfig, dict[str, Any]]:
        """Load from a model directory, a path to a json file, or a Hub repo id.

        Accepts transformers' download options (cache_dir, force_download, revision, token,
        local_files_only, subfolder) and ``return_unused_kwargs``; other kwargs override
        config attributes.
        """
        config_dict, kwargs = cls.get_config_dict(pretrained_model_name_or_path, **kwargs)
        declared = config_dict.get("model_type")
        if cls.model_type and declared and declared != cls.model_type:
            import warnings

            warnings.warn(
                f"{pretrained_model_name_or_path} has model_type {declared!r} but is loaded into "
                f"{cls.__name__} (model_type {cls.model_type!r}); this may give wrong results",
                stacklevel=2,
            )
        config = cls.from_dict(config_dict, **kwargs)
        target = config[0] if isinstance(config, tuple) else config
        target.name_or_path = str(pretrained_model_name_or_path)
        return config

    @classmethod
    def get_config_dict(
        cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Read the raw config dict; returns it with the kwargs left after download options."""
        options = HubOptions.pop_from(kwargs)
        if os.path.isfile(pretrained_model_name_or_path):
            path = Path(pretrained_model_name_or_path)
        else:
            path = resolve_file(pretrained_model_name_or_path, CONFIG_NAME, options)
            assert path is not None
        return read_json_file(path), kwargs

    def save_pretrained(self, save_directory: str | os.PathLike) -> Path:
        """Write config.json into ``save_directory`` (created if needed), atomically.

        Inside a model's ``save_pretrained`` it is part of that save's single commit.
        """
        from autohub_core._io import checkpoint_transaction

        directory = Path(save_directory)
        if directory.is_file():
            raise ConfigError(f"save_pretrained needs a directory, but {directory} is a file")
        text = self.to_json_string()
        with checkpoint_transaction(directory) as transaction:
            transaction.write_text(CONFIG_NAME, text)
        return directory / CONFIG_NAME


def read_json_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read a JSON object from ``path``; invalid content raises :class:`ConfigError` naming it."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path} is not UTF-8 text: {error}") from error
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path} is not valid JSON: {error}") from error
    except RecursionError as error:
        raise ConfigError(f"{path} is nested too deeply to be a config") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object, found {type(data).__name__}")
    return data


def standardize_rope_parameters(
    rope_parameters: dict[str, Any] | None,
    rope_scaling: dict[str, Any] | None,
    rope_theta: float,
    max_position_embeddings: int,
) -> dict[str, Any]:
    """One ``rope_parameters`` dict from transformers 5's key or the legacy ``rope_scaling`` / ``rope_theta``.

    As in transformers, a legacy ``rope_scaling`` wins over ``rope_parameters``; the result
    always names ``rope_type`` and ``rope_theta``. For configs of rotary-embedding families.
    """
    parameters = dict(rope_scaling or rope_parameters or {})
    parameters.setdefault("rope_theta", rope_theta)
    parameters.setdefault("rope_type", parameters.get("type", "default"))
    if parameters["rope_type"] in _ROPE_TYPES_WITH_ORIGINAL_LENGTH:
        parameters.setdefault("original_max_position_embeddings", max_position_embeddings)
    return parameters


def _as_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                return int(value)
        except ValueError:
            pass
        raise ConfigError(f"config key {key!r} must be an integer, got {value!r}")
    return value


def _int_keys(mapping: Any) -> dict[int, str]:
    if not isinstance(mapping, dict):
        raise ConfigError(f"id2label must be a mapping of id to label, got {type(mapping).__name__}")
    return {_as_int(key, "id2label"): str(value) for key, value in mapping.items()}


def _dtype_name(value: Any) -> str | None:
    """``torch.float16`` or ``"torch.float16"`` or ``"float16"`` -> ``"float16"``."""
    if value is None:
        return None
    name = str(value)
    return name.removeprefix("torch.")


def _json_default(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)
