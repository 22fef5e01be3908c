"""CLIP configurations: the text tower, the vision tower, and the dual encoder holding both.

A CLIP config.json (``model_type = "clip"``) nests the towers' keys as plain objects under
``text_config`` and ``vision_config``; :class:`CLIPConfig` builds a :class:`CLIPTextConfig` and a
:class:`CLIPVisionConfig` from them and writes them back as objects. As in transformers,
``CLIPTextConfig.from_pretrained`` / ``CLIPVisionConfig.from_pretrained`` on a whole CLIP
checkpoint read its ``text_config`` / ``vision_config``.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from autohub_core.configuration import (
    Constraint,
    PretrainedConfig,
    Rule,
    multiple_of,
    number,
    optional,
    positive_int,
    probability,
    string,
    valid_index,
)
from autohub_core.errors import ConfigError, UnsupportedConfigError

__all__ = ["CLIPConfig", "CLIPTextConfig", "CLIPVisionConfig"]

#: The keys both towers read (an encoder of pre-LayerNorm blocks).
_TOWER_RULES: dict[str, Rule] = {
    "hidden_size": positive_int(),
    "intermediate_size": positive_int(),
    "num_hidden_layers": positive_int(),
    "num_attention_heads": positive_int(),
    "hidden_act": string(),
    "layer_norm_eps": number(0, exclusive_minimum=True),
    "attention_dropout": probability(),
    "initializer_range": number(0),
    "initializer_factor": number(0),
}
_SIDE = Rule(
    "an integer >= 1, or a [height, width] list",
    lambda value: (
        (isinstance(value, int) and not isinstance(value, bool) and value >= 1)
        or (isinstance(value, list | tuple) and len(value) == 2)
    ),
)


class _TowerConfig(PretrainedConfig):
    """What the two tower configs share: reading their part of a whole CLIP config.json."""

    #: The key of a CLIP config.json holding this tower's config.
    base_config_key: ClassVar[str] = ""
    config_constraints: ClassVar[tuple[Constraint, ...]] = (
        multiple_of("hidden_size", "num_attention_heads"),
    )

    @classmethod
    def get_config_dict(
        cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The tower's own dict: a CLIP config.json's ``text_config`` / ``vision_config`` object."""
        config_dict, kwargs = super().get_config_dict(pretrained_model_name_or_path, **kwargs)
        nested = config_dict.get(cls.base_config_key)
        if config_dict.get("model_type") == CLIPConfig.model_type and isinstance(nested, dict):
            config_dict = nested
        return config_dict, kwargs


class CLIPTextConfig(_TowerConfig):
    """The text tower (``model_type = "clip_text_model"``): a causal transformer over BPE tokens
    whose pooled output is the hidden state at the end-of-text token.

    ``eos_token_id`` decides the pooling, as in transformers: ``2`` (configs written before
    transformers PR #24773) pools at the highest token id of each row, any other id at the
    first position holding that id.
    """

    model_type = "clip_text_model"
    base_config_key = "text_config"
    config_rules: ClassVar[dict[str, Rule]] = {
        **_TOWER_RULES,
        "vocab_size": positive_int(),
        "max_position_embeddings": positive_int(),
        "projection_dim": optional(positive_int()),
    }
    config_constraints: ClassVar[tuple[Constraint, ...]] = (valid_index("pad_token_id", "vocab_size"),)

    def __init__(
        self,
        vocab_size: int = 49408,
        hidden_size: int = 512,
        intermediate_size: int = 2048,
        projection_dim: int | None = 512,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 8,
        max_position_embeddings: int = 77,
        hidden_act: str = "quick_gelu",
        layer_norm_eps: float = 1e-5,
        attention_dropout: float = 0.0,
        initializer_range: float = 0.02,
        initializer_factor: float = 1.0,
        pad_token_id: int | None = 1,
        bos_token_id: int | None = 49406,
        eos_token_id: int | None = 49407,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.projection_dim = projection_dim
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.max_position_embeddings = max_position_embeddings
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.attention_dropout = attention_dropout
        self.initializer_range = initializer_range
        self.initializer_factor = initializer_factor
        super().__init__(
            pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs
        )

    def validate(self, source: str | os.PathLike | None = None) -> None:
        """The rules, plus: the pooling needs one integer ``eos_token_id``."""
        super().validate(source)
        eos = self.eos_token_id
        if not isinstance(eos, int) or isinstance(eos, bool):
            where = f"{source}: " if source else ""
            raise UnsupportedConfigError(
                f"{where}config key 'eos_token_id' = {eos!r} is not implemented: the CLIP text model pools "
                "the hidden state at the first position of one end-of-text id, so it needs one integer"
            )


class CLIPVisionConfig(_TowerConfig):
    """The vision tower (``model_type = "clip_vision_model"``): a ViT over square ``image_size``
    images cut into ``patch_size`` patches, pooled at its class token."""

    model_type = "clip_vision_model"
    base_config_key = "vision_config"
    config_rules: ClassVar[dict[str, Rule]] = {
        **_TOWER_RULES,
        "projection_dim": positive_int(),
        "num_channels": positive_int(),
        "image_size": _SIDE,
        "patch_size": _SIDE,
    }

    def __init__(
        self,
        hidden_size: int = 768,
        intermediate_size: int = 3072,
        projection_dim: int = 512,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        num_channels: int = 3,
        image_size: int = 224,
        patch_size: int = 32,
        hidden_act: str = "quick_gelu",
        layer_norm_eps: float = 1e-5,
        attention_dropout: float = 0.0,
        initializer_range: float = 0.02,
        initializer_factor: float = 1.0,
        **kwargs: Any,
    ) -> None:
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.projection_dim = projection_dim
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_channels = num_channels
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.attention_dropout = attention_dropout
        self.initializer_range = initializer_range
        self.initializer_factor = initializer_factor
        super().__init__(**kwargs)

    def validate(self, source: str | os.PathLike | None = None) -> None:
        """The rules, plus: sizes are single integers (transformers' CLIP divides them as such)."""
        super().validate(source)
        where = f"{source}: " if source else ""
        for key in ("image_size", "patch_size"):
            value = getattr(self, key)
            if not isinstance(value, int):
                raise UnsupportedConfigError(
                    f"{where}config key {key!r} = {value!r} is not implemented: CLIP takes square images "
                    "and patches, one integer side"
                )


_TOWERS: dict[str, type[_TowerConfig]] = {"text_config": CLIPTextConfig, "vision_config": CLIPVisionConfig}


class CLIPConfig(PretrainedConfig):
    """The dual encoder (``model_type = "clip"``): ``text_config`` and ``vision_config`` (objects, or
    tower configs), both projected to ``projection_dim`` and compared with a learned temperature
    starting at ``logit_scale_init_value``. ``num_labels`` / ``id2label`` are those of
    ``CLIPForImageClassification``.

    The legacy ``text_config_dict`` / ``vision_config_dict`` keys update the towers, as in transformers.
    """

    model_type = "clip"
    config_rules: ClassVar[dict[str, Rule]] = {
        "projection_dim": positive_int(),
        "logit_scale_init_value": number(),
        "initializer_factor": number(0),
    }

    def __init__(
        self,
        text_config: dict[str, Any] | CLIPTextConfig | None = None,
        vision_config: dict[str, Any] | CLIPVisionConfig | None = None,
        projection_dim: int = 512,
        logit_scale_init_value: float = 2.6592,
        initializer_factor: float = 1.0,
        **kwargs: Any,
    ) -> None:
        given = {"text_config": text_config, "vision_config": vision_config}
        for key, tower_class in _TOWERS.items():
            legacy = kwargs.pop(f"{key}_dict", None)
            setattr(self, key, _tower(tower_class, key, given[key], legacy))
        self.projection_dim = projection_dim
        self.logit_scale_init_value = logit_scale_init_value
        self.initializer_factor = initializer_factor
        super().__init__(**kwargs)

    def validate(self, source: str | os.PathLike | None = None) -> None:
        """The rules of this config and of both towers."""
        super().validate(source)
        for key in _TOWERS:
            tower = getattr(self, key)
            if not isinstance(tower, _TOWERS[key]):
                raise ConfigError(
                    f"config key {key!r} must be a {_TOWERS[key].__name__} or an object of its keys, "
                    f"got {type(tower).__name__}"
                )
            try:
                tower.validate()
            except ConfigError as error:
                where = f"{source}: " if source else ""
                raise type(error)(f"{where}in {key!r}: {error}") from error

    @classmethod
    def from_text_vision_configs(
        cls, text_config: CLIPTextConfig, vision_config: CLIPVisionConfig, **kwargs: Any
    ) -> CLIPConfig:
        """A CLIP config from the two tower configs."""
        return cls(text_config=text_config, vision_config=vision_config, **kwargs)


def _tower(
    tower_class: type[_TowerConfig],
    key: str,
    value: dict[str, Any] | _TowerConfig | None,
    legacy: dict[str, Any] | None,
) -> _TowerConfig:
    """The tower config for ``key``: built from an object (or defaults), updated by the legacy dict."""
    if value is not None and not isinstance(value, dict | tower_class):
        raise ConfigError(
            f"config key {key!r} must be an object of {tower_class.__name__} keys, got {type(value).__name__}"
        )
    if legacy is not None and not isinstance(legacy, dict):
        raise ConfigError(f"config key '{key}_dict' must be an object, got {type(legacy).__name__}")
    if isinstance(value, tower_class) and legacy is None:
        return value
    values = value.to_dict() if isinstance(value, tower_class) else dict(value or {})
    values.update(legacy or {})
    values.pop("model_type", None)
    try:
        built = tower_class.from_dict(values)
    except ConfigError as error:
        raise type(error)(f"in {key!r}: {error}") from error
    assert isinstance(built, tower_class)
    return built
