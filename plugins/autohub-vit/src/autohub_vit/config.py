"""ViT configuration: the keys of a ViT config.json, with transformers' defaults."""

from __future__ import annotations

from typing import Any, ClassVar

from autohub_core.configuration import (
    Constraint,
    PretrainedConfig,
    Rule,
    boolean,
    number,
    optional,
    positive_int,
    probability,
    string,
)

__all__ = ["ViTConfig", "pair"]


def pair(value: int | list[int] | tuple[int, int]) -> tuple[int, int]:
    """``image_size`` / ``patch_size`` as (height, width): a bare int is a square."""
    if isinstance(value, int):
        return value, value
    height, width = value
    return height, width


def _size_rule() -> Rule:
    """An int >= 1, or [height, width] of two of them (transformers accepts both)."""
    one = positive_int()
    return Rule(
        f"{one.expected}, or a list [height, width] of two of them",
        lambda value: (
            one.accepts(value)
            or (isinstance(value, list | tuple) and len(value) == 2 and all(one.accepts(v) for v in value))
        ),
    )


def _patch_fits(image_size: Any, patch_size: Any) -> bool:
    if not (_size_rule().accepts(image_size) and _size_rule().accepts(patch_size)):
        return True  # the rules of each key report it
    return all(patch <= image for patch, image in zip(pair(patch_size), pair(image_size), strict=True))


class ViTConfig(PretrainedConfig):
    """Configuration of a Vision Transformer (``model_type = "vit"``), e.g. google/vit-base-patch16-224.

    ``image_size`` and ``patch_size`` are an int (a square) or ``[height, width]``;
    ``pooler_output_size`` defaults to ``hidden_size``; ``head_dim`` (not written by transformers,
    but read when present) defaults to ``hidden_size // num_attention_heads``.
    """

    model_type = "vit"
    config_rules: ClassVar[dict[str, Rule]] = {
        "hidden_size": positive_int(),
        "num_hidden_layers": positive_int(),
        "num_attention_heads": positive_int(),
        "intermediate_size": positive_int(),
        "hidden_act": string(),
        "hidden_dropout_prob": probability(),
        "attention_probs_dropout_prob": probability(),
        "initializer_range": number(0),
        "layer_norm_eps": number(0),
        "image_size": _size_rule(),
        "patch_size": _size_rule(),
        "num_channels": positive_int(),
        "qkv_bias": boolean(),
        "encoder_stride": positive_int(),
        "pooler_output_size": optional(positive_int()),
        "pooler_act": string(),
        "head_dim": optional(positive_int()),
    }
    config_constraints: ClassVar[tuple[Constraint, ...]] = (
        Constraint(
            ("image_size", "patch_size"),
            "'patch_size' must not be larger than 'image_size' (the image holds no whole patch)",
            _patch_fits,
        ),
    )

    def __init__(
        self,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.0,
        attention_probs_dropout_prob: float = 0.0,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        image_size: int | list[int] = 224,
        patch_size: int | list[int] = 16,
        num_channels: int = 3,
        qkv_bias: bool = True,
        encoder_stride: int = 16,
        pooler_output_size: int | None = None,
        pooler_act: str = "tanh",
        **kwargs: Any,
    ) -> None:
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.image_size = image_size
        self.patch_size = patch_size
        self.num_channels = num_channels
        self.qkv_bias = qkv_bias
        self.encoder_stride = encoder_stride
        self.pooler_output_size = pooler_output_size if pooler_output_size else hidden_size
        self.pooler_act = pooler_act
        super().__init__(**kwargs)
