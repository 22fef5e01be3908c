"""ViT: patch embeddings, a pre-LayerNorm transformer encoder, a pooler, and the image heads.

Attribute names follow the checkpoint keys of transformers' ViT as the Hub stores them (and as
transformers 5 still saves them): ``vit.embeddings.patch_embeddings.projection.weight``,
``vit.encoder.layer.0.attention.attention.query.weight`` ... so Hub checkpoints load without
renaming. Attention runs through the core's ``attention`` with the implementation
``config._attn_implementation`` names (``"sdpa"`` unless set); asking for ``output_attentions``
computes that layer eagerly, so the weights are returned whatever the implementation.

``pixel_values`` must have the configured ``image_size`` unless ``interpolate_pos_encoding=True``,
which resizes the position embeddings (bicubic) to the image's grid of patches, as transformers.

Training follows transformers: ``ViTLayer`` is recomputed under gradient checkpointing; the
classification loss depends on ``config.problem_type`` (regression, single- or multi-label, inferred
from the labels when unset) and its single-label cross-entropy is divided by ``num_items_in_batch``
when given; masked image modeling is an L1 loss over the masked patches.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from autohub_core.errors import ModelInputError
from autohub_core.layers import attention, get_activation, padding_mask, sequence_classification_loss
from autohub_core.modeling import GradientCheckpointingLayer, PreTrainedModel
from autohub_core.outputs import (
    BaseModelOutputWithPooling,
    ImageClassifierOutput,
    MaskedImageModelingOutput,
)
from autohub_vit.config import ViTConfig, pair

__all__ = [
    "ViTForImageClassification",
    "ViTForMaskedImageModeling",
    "ViTModel",
    "ViTPreTrainedModel",
]


def _implementation(config: ViTConfig) -> str:
    """The attention implementation the config asks for (``from_pretrained(attn_implementation=)``)."""
    return getattr(config, "_attn_implementation", None) or "sdpa"


def _head_dim(config: ViTConfig) -> int:
    """``config.head_dim`` when set, else ``hidden_size // num_attention_heads`` (transformers 5)."""
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


class ViTPatchEmbeddings(nn.Module):
    """Cuts (batch, channels, height, width) pixels into patches and projects each to ``hidden_size``
    with one strided convolution: (batch, patches, hidden_size)."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.image_size = pair(config.image_size)
        self.patch_size = pair(config.patch_size)
        self.num_channels = config.num_channels
        self.num_patches = (self.image_size[0] // self.patch_size[0]) * (
            self.image_size[1] // self.patch_size[1]
        )
        self.projection = nn.Conv2d(
            config.num_channels, config.hidden_size, kernel_size=self.patch_size, stride=self.patch_size
        )

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.projection(pixel_values).flatten(2).transpose(1, 2)


class ViTEmbeddings(nn.Module):
    """The [CLS] token, then the patch embeddings (masked patches replaced by ``mask_token``), plus the
    position embeddings (interpolated on request), then dropout."""

    def __init__(self, config: ViTConfig, use_mask_token: bool = False) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.hidden_size))
        self.mask_token = nn.Parameter(torch.zeros(1, 1, config.hidden_size)) if use_mask_token else None
        self.patch_embeddings = ViTPatchEmbeddings(config)
        num_patches = self.patch_embeddings.num_patches
        self.position_embeddings = nn.Parameter(torch.zeros(1, num_patches + 1, config.hidden_size))
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.patch_size = self.patch_embeddings.patch_size
        self.image_size = self.patch_embeddings.image_size

    def interpolate_pos_encoding(self, embeddings: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """The position embeddings resized (bicubic) to the patch grid of a ``height`` x ``width``
        image; unchanged when it is the trained grid of a square image (DINO's recipe, as transformers)."""
        num_patches = embeddings.shape[1] - 1
        num_positions = self.position_embeddings.shape[1] - 1
        if not torch.jit.is_tracing() and num_patches == num_positions and height == width:
            return self.position_embeddings
        class_position = self.position_embeddings[:, :1]
        patch_positions = self.position_embeddings[:, 1:]
        dim = embeddings.shape[-1]
        side = int(num_positions**0.5)
        patch_positions = patch_positions.reshape(1, side, side, dim).permute(0, 3, 1, 2)
        patch_positions = nn.functional.interpolate(
            patch_positions,
            size=(height // self.patch_size[0], width // self.patch_size[1]),
            mode="bicubic",
            align_corners=False,
        )
        patch_positions = patch_positions.permute(0, 2, 3, 1).view(1, -1, dim)
        return torch.cat((class_position, patch_positions), dim=1)

    def forward(
        self,
        pixel_values: torch.Tensor,
        bool_masked_pos: torch.Tensor | None = None,
        interpolate_pos_encoding: bool = False,
    ) -> torch.Tensor:
        batch_size, _, height, width = pixel_values.shape
        embeddings = self.patch_embeddings(pixel_values)
        if bool_masked_pos is not None:
            if self.mask_token is None:
                raise ModelInputError(
                    "bool_masked_pos was given, but this model has no mask token: build ViTModel with "
                    "use_mask_token=True (ViTForMaskedImageModeling does)"
                )
            if tuple(bool_masked_pos.shape) != tuple(embeddings.shape[:2]):
                raise ModelInputError(
                    f"bool_masked_pos has shape {tuple(bool_masked_pos.shape)}; it needs one value per patch, "
                    f"(batch, patches) = {tuple(embeddings.shape[:2])}"
                )
            mask_tokens = self.mask_token.expand(batch_size, embeddings.shape[1], -1)
            mask = bool_masked_pos.unsqueeze(-1).type_as(mask_tokens)
            embeddings = embeddings * (1.0 - mask) + mask_tokens * mask
        embeddings = torch.cat((self.cls_token.expand(batch_size, -1, -1), embeddings), dim=1)
        if interpolate_pos_encoding:
            embeddings = embeddings + self.interpolate_pos_encoding(embeddings, height, width)
        else:
            embeddings = embeddings + self.position_embeddings
        return self.dropout(embeddings)


class ViTSelfAttention(nn.Module):
    """Multi-head self-attention (query / key / value projections, with ``qkv_bias``).

    Head counts are read from the tensors (``-1``), so the projections may be sharded by heads
    under tensor parallelism and each rank attends over its own heads.
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.config = config
        self.head_dim = _head_dim(config)
        projected = config.num_attention_heads * self.head_dim
        self.scaling = self.head_dim**-0.5
        self.query = nn.Linear(config.hidden_size, projected, bias=config.qkv_bias)
        self.key = nn.Linear(config.hidden_size, projected, bias=config.qkv_bias)
        self.value = nn.Linear(config.hidden_size, projected, bias=config.qkv_bias)
        self.dropout_prob = config.attention_probs_dropout_prob

    def _split_heads(self, states: torch.Tensor) -> torch.Tensor:
        batch_size, seq_length, _ = states.shape
        return states.view(batch_size, seq_length, -1, self.head_dim).transpose(1, 2)

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.Tensor | None, output_attentions: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        context, weights = attention(
            self._split_heads(self.query(hidden_states)),
            self._split_heads(self.key(hidden_states)),
            self._split_heads(self.value(hidden_states)),
            mask,
            dropout=self.dropout_prob if self.training else 0.0,
            scale=self.scaling,
            output_attentions=output_attentions,
            implementation=_implementation(self.config),
        )
        batch_size, _, seq_length, _ = context.shape
        return context.transpose(1, 2).reshape(batch_size, seq_length, -1), weights


class ViTSelfOutput(nn.Module):
    """Projection after attention, then dropout (the residual is added by the layer)."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.num_attention_heads * _head_dim(config), config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.dense(hidden_states))


class ViTAttention(nn.Module):
    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.attention = ViTSelfAttention(config)
        self.output = ViTSelfOutput(config)

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.Tensor | None, output_attentions: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        context, weights = self.attention(hidden_states, mask, output_attentions)
        return self.output(context), weights


class ViTIntermediate(nn.Module):
    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = get_activation(config.hidden_act)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden_states))


class ViTOutput(nn.Module):
    """Projection back to ``hidden_size``, dropout, then the residual."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.dense(hidden_states)) + residual


class ViTLayer(GradientCheckpointingLayer):
    """Pre-LayerNorm block: ``x + attention(LN(x))``, then ``x + MLP(LN(x))``; recomputed in the
    backward pass under gradient checkpointing."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.attention = ViTAttention(config)
        self.intermediate = ViTIntermediate(config)
        self.output = ViTOutput(config)
        self.layernorm_before = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.layernorm_after = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.Tensor | None, output_attentions: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.attention(self.layernorm_before(hidden_states), mask, output_attentions)
        hidden_states = attended + hidden_states
        return self.output(self.intermediate(self.layernorm_after(hidden_states)), hidden_states), weights


class ViTEncoder(nn.Module):
    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList([ViTLayer(config) for _ in range(config.num_hidden_layers)])


class ViTPooler(nn.Module):
    """Dense (to ``pooler_output_size``) + ``pooler_act`` over the first ([CLS]) token."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.pooler_output_size)
        self.activation = get_activation(config.pooler_act, "pooler_act")

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden_states[:, 0]))


class ViTPreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions shared by every ViT class.

    Tensor-parallel plan: query / key / value and the intermediate dense are sharded colwise
    (by heads / features), the two output denses rowwise; embeddings, norms and heads replicated.
    """

    config_class = ViTConfig
    base_model_prefix = "vit"
    main_input_name = "pixel_values"
    supports_gradient_checkpointing = True
    _no_split_modules: ClassVar[list[str]] = ["ViTEmbeddings", "ViTLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = {
        "encoder.layer.*.attention.attention.query": "colwise",
        "encoder.layer.*.attention.attention.key": "colwise",
        "encoder.layer.*.attention.attention.value": "colwise",
        "encoder.layer.*.attention.output.dense": "rowwise",
        "encoder.layer.*.intermediate.dense": "colwise",
        "encoder.layer.*.output.dense": "rowwise",
    }

    def _init_weights(self, module: nn.Module) -> None:
        """The core's default, plus truncated-normal position embeddings and [CLS] token, and a zero
        mask token, as transformers."""
        super()._init_weights(module)
        if isinstance(module, ViTEmbeddings):
            std = self.config.initializer_range
            nn.init.trunc_normal_(module.position_embeddings, mean=0.0, std=std)
            nn.init.trunc_normal_(module.cls_token, mean=0.0, std=std)
            if module.mask_token is not None:
                nn.init.zeros_(module.mask_token)


class ViTModel(ViTPreTrainedModel):
    """The bare ViT encoder: the last hidden states ([CLS] first, then one per patch) and, with
    ``add_pooling_layer``, the pooled [CLS] output. ``use_mask_token`` adds the learned token that
    replaces the patches ``bool_masked_pos`` marks."""

    def __init__(
        self, config: ViTConfig, add_pooling_layer: bool = True, use_mask_token: bool = False
    ) -> None:
        super().__init__(config)
        self.embeddings = ViTEmbeddings(config, use_mask_token=use_mask_token)
        self.encoder = ViTEncoder(config)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.pooler = ViTPooler(config) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embeddings

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        bool_masked_pos: torch.Tensor | None = None,
        interpolate_pos_encoding: bool | None = None,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPooling | tuple[Any, ...]:
        """``pixel_values`` (batch, num_channels, height, width); ``bool_masked_pos`` (batch, patches)
        marks the patches to replace by the mask token; ``attention_mask`` (batch, 1 + patches) of 1/0
        masks keys, as transformers 5 allows."""
        config = self.config
        self._check_pixel_values(pixel_values, bool(interpolate_pos_encoding))
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        weight = self.embeddings.patch_embeddings.projection.weight
        pixel_values = pixel_values.to(weight.dtype)  # images come as float32 whatever the model's dtype
        hidden_states = self.embeddings(
            pixel_values,
            bool_masked_pos=bool_masked_pos,
            interpolate_pos_encoding=bool(interpolate_pos_encoding),
        )
        mask = padding_mask(attention_mask, hidden_states.dtype)
        all_hidden_states: tuple[torch.Tensor, ...] = ()
        all_attentions: tuple[torch.Tensor, ...] = ()
        for layer in self.encoder.layer:
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            hidden_states, weights = layer(hidden_states, mask, output_attentions)
            if output_attentions:
                all_attentions += (weights,)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)
        sequence_output = self.layernorm(hidden_states)
        pooled = self.pooler(sequence_output) if self.pooler is not None else None
        outputs = BaseModelOutputWithPooling(
            last_hidden_state=sequence_output,
            pooler_output=pooled,
            hidden_states=all_hidden_states if output_hidden_states else None,
            attentions=all_attentions if output_attentions else None,
        )
        return self._output(outputs, return_dict)

    def _check_pixel_values(self, pixel_values: torch.Tensor | None, interpolate: bool) -> None:
        """Refuse pixel values the model cannot embed: the message names ``pixel_values``, the shape
        it got and the one the config expects."""
        if pixel_values is None:
            raise ModelInputError("pixel_values is required: pass the image processor's output")
        if not isinstance(pixel_values, torch.Tensor) or pixel_values.dim() != 4:
            shape = (
                tuple(pixel_values.shape) if isinstance(pixel_values, torch.Tensor) else type(pixel_values)
            )
            raise ModelInputError(
                f"pixel_values must be a 4-D tensor (batch, num_channels, height, width), got {shape}"
            )
        _, channels, height, width = pixel_values.shape
        expected_height, expected_width = self.embeddings.image_size
        patch_height, patch_width = self.embeddings.patch_size
        if channels != self.config.num_channels:
            raise ModelInputError(
                f"pixel_values has {channels} channels (shape {tuple(pixel_values.shape)}); the model "
                f"expects num_channels = {self.config.num_channels}"
            )
        if height < patch_height or width < patch_width:
            raise ModelInputError(
                f"pixel_values is {height}x{width} (height x width), smaller than one {patch_height}x"
                f"{patch_width} patch; the model expects {expected_height}x{expected_width} images "
                "(resize them with the image processor)"
            )
        if not interpolate and (height, width) != (expected_height, expected_width):
            raise ModelInputError(
                f"pixel_values is {height}x{width} (height x width), but the model expects "
                f"{expected_height}x{expected_width} (config image_size); resize the images with the "
                "image processor, or pass interpolate_pos_encoding=True"
            )


class ViTForMaskedImageModeling(ViTPreTrainedModel):
    """ViT with SimMIM's decoder: a 1x1 convolution to ``encoder_stride**2 * num_channels`` channels
    and a pixel shuffle reconstruct the image from the patch states; the loss is the L1 error over
    the masked patches."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__(config)
        self.vit = ViTModel(config, add_pooling_layer=False, use_mask_token=True)
        self.decoder = nn.Sequential(
            nn.Conv2d(config.hidden_size, config.encoder_stride**2 * config.num_channels, kernel_size=1),
            nn.PixelShuffle(config.encoder_stride),
        )
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        bool_masked_pos: torch.Tensor | None = None,
        interpolate_pos_encoding: bool | None = None,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        """``bool_masked_pos`` (batch, patches), True where a patch is masked, gives the loss; it
        needs ``patch_size == encoder_stride`` so that the reconstruction has the input's size.
        ``num_items_in_batch`` is accepted and ignored (the loss is a mean), as in transformers."""
        config = self.config
        if bool_masked_pos is not None and config.patch_size != config.encoder_stride:
            raise ModelInputError(
                "bool_masked_pos needs config 'patch_size' equal to 'encoder_stride' (so that the "
                f"reconstruction has the input's size); got patch_size = {config.patch_size} and "
                f"encoder_stride = {config.encoder_stride}"
            )
        outputs = self.vit(
            pixel_values,
            bool_masked_pos=bool_masked_pos,
            interpolate_pos_encoding=interpolate_pos_encoding,
            attention_mask=attention_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        patch_states = outputs.last_hidden_state[:, 1:]
        batch_size, sequence_length, channels = patch_states.shape
        side = math.floor(sequence_length**0.5)
        patch_states = patch_states.permute(0, 2, 1).reshape(batch_size, channels, side, side)
        reconstruction = self.decoder(patch_states)
        loss = None
        if bool_masked_pos is not None:
            patch = config.patch_size
            mask = (
                bool_masked_pos.reshape(-1, pixel_values.shape[-2] // patch, pixel_values.shape[-1] // patch)
                .repeat_interleave(patch, 1)
                .repeat_interleave(patch, 2)
                .unsqueeze(1)
                .contiguous()
            )
            error = nn.functional.l1_loss(
                pixel_values.to(reconstruction.dtype), reconstruction, reduction="none"
            )
            loss = (error * mask).sum() / (mask.sum() + 1e-5) / config.num_channels
        output = MaskedImageModelingOutput(
            loss=loss,
            reconstruction=reconstruction,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return self._output(output, return_dict)


class ViTForImageClassification(ViTPreTrainedModel):
    """ViT with a linear classifier over the final [CLS] state (no pooler), e.g. for ImageNet;
    ``num_labels = 0`` makes the classifier the identity."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.vit = ViTModel(config, add_pooling_layer=False)
        self.classifier = (
            nn.Linear(config.hidden_size, config.num_labels) if config.num_labels > 0 else nn.Identity()
        )
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        interpolate_pos_encoding: bool | None = None,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        """``labels``: class indices (batch,), floats (batch, num_labels) for multi-label, or values for
        regression, as ``config.problem_type`` says."""
        outputs = self.vit(
            pixel_values,
            interpolate_pos_encoding=interpolate_pos_encoding,
            attention_mask=attention_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.classifier(outputs.last_hidden_state[:, 0, :])
        loss = None
        if labels is not None:
            loss = sequence_classification_loss(
                logits, labels, self.config, self.config.num_labels, num_items_in_batch
            )
        output = ImageClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)
