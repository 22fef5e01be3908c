"""CLIP: a causal text transformer and a ViT, each pooled and projected into one embedding space.

Module and attribute names are transformers 5's, so state-dict names are too: ``CLIPTextModel`` /
``CLIPVisionModel`` hold ``embeddings``, ``encoder`` and their norms directly (transformers 5 saves
them so); the classes that wrap a tower hold it as ``text_model`` / ``vision_model``, which is also
how every CLIP checkpoint names the towers. A tower loads from a whole CLIP checkpoint, or from an
older ``text_model.``-prefixed tower checkpoint, through ``base_model_prefix`` (the other tower's
weights are reported as unexpected), as transformers' prefix conversion does.

Both towers run the same pre-LayerNorm blocks (``CLIPEncoderLayer``); the text tower's attention is
causal and its pooled output is the final hidden state at the end-of-text token (see
:class:`~autohub_clip.config.CLIPTextConfig` for the legacy ``eos_token_id == 2`` rule), the vision
tower's is the post-LayerNorm class token. ``CLIPModel`` scores every image against every text
with the cosine similarity times ``logit_scale.exp()``; ``return_loss=True`` gives CLIP's
symmetric contrastive loss. Attention runs through the core's ``attention`` with the
implementation ``config._attn_implementation`` names (``"sdpa"`` unless set); the towers of a
``CLIPModel`` follow the implementation of the whole.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from autohub_clip.config import CLIPConfig, CLIPTextConfig, CLIPVisionConfig
from autohub_core.errors import ConfigError, ModelInputError
from autohub_core.layers import attention, get_activation, padding_mask, sequence_classification_loss
from autohub_core.modeling import GradientCheckpointingLayer, PreTrainedModel
from autohub_core.outputs import (
    BaseModelOutput,
    BaseModelOutputWithPooling,
    CLIPOutput,
    CLIPTextModelOutput,
    CLIPVisionModelOutput,
    ImageClassifierOutput,
)

__all__ = [
    "CLIPForImageClassification",
    "CLIPModel",
    "CLIPPreTrainedModel",
    "CLIPTextModel",
    "CLIPTextModelWithProjection",
    "CLIPVisionModel",
    "CLIPVisionModelWithProjection",
]

TowerConfig = CLIPTextConfig | CLIPVisionConfig

#: Tensor-parallel plan of one tower's encoder: projections into the heads / the MLP colwise,
#: the projections back rowwise; embeddings, norms and the output projections replicated.
_ENCODER_PLAN = {
    "encoder.layers.*.self_attn.q_proj": "colwise",
    "encoder.layers.*.self_attn.k_proj": "colwise",
    "encoder.layers.*.self_attn.v_proj": "colwise",
    "encoder.layers.*.self_attn.out_proj": "rowwise",
    "encoder.layers.*.mlp.fc1": "colwise",
    "encoder.layers.*.mlp.fc2": "rowwise",
}


def _under(prefix: str) -> dict[str, str]:
    return {f"{prefix}.{path}": style for path, style in _ENCODER_PLAN.items()}


def _implementation(config: TowerConfig) -> str:
    return getattr(config, "_attn_implementation", None) or "sdpa"


class CLIPVisionEmbeddings(nn.Module):
    """Class token + patch embeddings (a stride-``patch_size`` convolution) + position embeddings.

    ``interpolate_pos_encoding=True`` resizes the position grid bicubically for images of another
    size than ``image_size``, as transformers does.
    """

    def __init__(self, config: CLIPVisionConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_dim = config.hidden_size
        self.image_size = config.image_size
        self.patch_size = config.patch_size
        self.class_embedding = nn.Parameter(torch.empty(self.embed_dim))
        self.patch_embedding = nn.Conv2d(
            config.num_channels,
            self.embed_dim,
            kernel_size=self.patch_size,
            stride=self.patch_size,
            bias=False,
        )
        self.num_patches = (self.image_size // self.patch_size) ** 2
        self.num_positions = self.num_patches + 1
        self.position_embedding = nn.Embedding(self.num_positions, self.embed_dim)
        self.register_buffer(
            "position_ids", torch.arange(self.num_positions).expand((1, -1)), persistent=False
        )

    def interpolate_pos_encoding(self, embeddings: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Position embeddings for a ``height`` x ``width`` image (the class position unchanged)."""
        num_patches = embeddings.shape[1] - 1
        position_embedding = self.position_embedding.weight.unsqueeze(0)
        num_positions = position_embedding.shape[1] - 1
        if num_patches == num_positions and height == width:
            return self.position_embedding(self.position_ids)
        class_position = position_embedding[:, :1]
        patch_positions = position_embedding[:, 1:]
        dim = embeddings.shape[-1]
        side = int(num_positions**0.5)
        patch_positions = patch_positions.reshape(1, side, side, dim).permute(0, 3, 1, 2)
        patch_positions = F.interpolate(
            patch_positions,
            size=(height // self.patch_size, width // self.patch_size),
            mode="bicubic",
            align_corners=False,
        )
        patch_positions = patch_positions.permute(0, 2, 3, 1).view(1, -1, dim)
        return torch.cat((class_position, patch_positions), dim=1)

    def forward(self, pixel_values: torch.Tensor, interpolate_pos_encoding: bool = False) -> torch.Tensor:
        if not isinstance(pixel_values, torch.Tensor) or pixel_values.dim() != 4:
            shape = tuple(pixel_values.shape) if isinstance(pixel_values, torch.Tensor) else None
            raise ModelInputError(
                f"pixel_values must be a (batch, channels, height, width) tensor, got "
                f"{shape if shape is not None else type(pixel_values).__name__}; use the CLIP image processor"
            )
        batch_size, channels, height, width = pixel_values.shape
        if channels != self.config.num_channels:
            raise ModelInputError(
                f"pixel_values has {channels} channels; this model takes {self.config.num_channels} "
                "(config key 'num_channels')"
            )
        if not interpolate_pos_encoding and (height != self.image_size or width != self.image_size):
            raise ModelInputError(
                f"Input image size ({height}*{width}) doesn't match model ({self.image_size}*{self.image_size}); "
                "resize the images (the image processor does) or pass interpolate_pos_encoding=True"
            )
        if height < self.patch_size or width < self.patch_size:
            raise ModelInputError(
                f"pixel_values of {height}x{width} pixels are smaller than one {self.patch_size}-pixel patch"
            )
        patches = self.patch_embedding(pixel_values.to(dtype=self.patch_embedding.weight.dtype))
        patches = patches.flatten(2).transpose(1, 2)
        class_embeds = self.class_embedding.expand(batch_size, 1, -1)
        embeddings = torch.cat([class_embeds, patches], dim=1)
        if interpolate_pos_encoding:
            return embeddings + self.interpolate_pos_encoding(embeddings, height, width)
        return embeddings + self.position_embedding(self.position_ids)


class CLIPTextEmbeddings(nn.Module):
    """Token + learned position embeddings (no LayerNorm, no dropout)."""

    def __init__(self, config: CLIPTextConfig) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embedding = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.register_buffer(
            "position_ids", torch.arange(config.max_position_embeddings).expand((1, -1)), persistent=False
        )

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        seq_length = input_ids.shape[-1] if input_ids is not None else inputs_embeds.shape[-2]
        longest = self.position_embedding.weight.shape[0]
        if seq_length > longest:
            raise ModelInputError(
                f"Sequence length must be less than max_position_embeddings (got `sequence length`: "
                f"{seq_length} and max_position_embeddings: {longest}); tokenize with truncation=True, "
                f"max_length={longest}"
            )
        if position_ids is None:
            position_ids = self.position_ids[:, :seq_length]
        if inputs_embeds is None:
            inputs_embeds = self.token_embedding(input_ids)
        return inputs_embeds + self.position_embedding(position_ids)


class CLIPAttention(nn.Module):
    """Multi-head self-attention with separate q / k / v / out projections.

    Head counts are read from the tensors (``-1``), so the projections may be sharded by heads
    under tensor parallelism and each rank attends over its own heads.
    """

    def __init__(self, config: TowerConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_dim = config.hidden_size
        self.head_dim = self.embed_dim // config.num_attention_heads
        self.scale = self.head_dim**-0.5
        self.dropout = config.attention_dropout
        self.k_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.v_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.q_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.out_proj = nn.Linear(self.embed_dim, self.embed_dim)

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.Tensor | None, is_causal: bool, output_attentions: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch_size, seq_length, _ = hidden_states.shape
        shape = (batch_size, seq_length, -1, self.head_dim)
        query = self.q_proj(hidden_states).view(shape).transpose(1, 2)
        key = self.k_proj(hidden_states).view(shape).transpose(1, 2)
        value = self.v_proj(hidden_states).view(shape).transpose(1, 2)
        context, weights = attention(
            query,
            key,
            value,
            mask,
            dropout=self.dropout if self.training else 0.0,
            scale=self.scale,
            is_causal=is_causal,
            output_attentions=output_attentions,
            implementation=_implementation(self.config),
        )
        context = context.transpose(1, 2).reshape(batch_size, seq_length, -1)
        return self.out_proj(context), weights


class CLIPMLP(nn.Module):
    def __init__(self, config: TowerConfig) -> None:
        super().__init__()
        self.config = config
        self.activation_fn = get_activation(config.hidden_act)
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.activation_fn(self.fc1(hidden_states)))


class CLIPEncoderLayer(GradientCheckpointingLayer):
    """Pre-LayerNorm block: ``x + attn(ln1(x))``, then ``x + mlp(ln2(x))``; recomputed in the
    backward pass under gradient checkpointing."""

    def __init__(self, config: TowerConfig) -> None:
        super().__init__()
        self.embed_dim = config.hidden_size
        self.self_attn = CLIPAttention(config)
        self.layer_norm1 = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)
        self.mlp = CLIPMLP(config)
        self.layer_norm2 = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.Tensor | None, is_causal: bool, output_attentions: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.self_attn(
            self.layer_norm1(hidden_states), mask, is_causal, output_attentions
        )
        hidden_states = hidden_states + attended
        hidden_states = hidden_states + self.mlp(self.layer_norm2(hidden_states))
        return hidden_states, weights


class CLIPEncoder(nn.Module):
    """``num_hidden_layers`` :class:`CLIPEncoderLayer` blocks."""

    def __init__(self, config: TowerConfig) -> None:
        super().__init__()
        self.config = config
        self.layers = nn.ModuleList([CLIPEncoderLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(
        self,
        inputs_embeds: torch.Tensor,
        mask: torch.Tensor | None = None,
        is_causal: bool = False,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> BaseModelOutput:
        """Hidden states: the input, then each block's output (the last one before any final norm)."""
        hidden_states = inputs_embeds
        all_hidden_states: tuple[torch.Tensor, ...] = ()
        all_attentions: tuple[torch.Tensor, ...] = ()
        for layer in self.layers:
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            hidden_states, weights = layer(hidden_states, mask, is_causal, output_attentions)
            if output_attentions:
                all_attentions += (weights,)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)
        return BaseModelOutput(
            last_hidden_state=hidden_states,
            hidden_states=all_hidden_states or None,
            attentions=all_attentions or None,
        )


class CLIPPreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions of every CLIP class.

    A class holding a tower of a :class:`CLIPConfig` hands the whole's attention implementation to
    the tower configs, so that ``from_pretrained(attn_implementation=)`` reaches every layer.
    """

    config_class: ClassVar[type] = CLIPConfig
    base_model_prefix = "clip"
    supports_gradient_checkpointing = True
    _no_split_modules: ClassVar[list[str]] = [
        "CLIPTextEmbeddings",
        "CLIPEncoderLayer",
        "CLIPVisionEmbeddings",
    ]
    _keys_to_ignore_on_load_unexpected: ClassVar[list[str]] = [r"position_ids$"]

    def __init__(self, config: CLIPConfig | TowerConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        if isinstance(config, CLIPConfig):
            for tower in (config.text_config, config.vision_config):
                tower._attn_implementation = config._attn_implementation

    def _init_weights(self, module: nn.Module) -> None:
        """The core's default (normal(0.02) linear, convolution and embedding weights), plus what
        CLIP modules own directly: the class embedding (std ``hidden_size**-0.5 *
        initializer_factor``, as transformers), the position index buffers and ``logit_scale``."""
        super()._init_weights(module)
        if isinstance(module, CLIPTextEmbeddings):
            module.position_ids.copy_(torch.arange(module.position_ids.shape[-1]).expand((1, -1)))
        elif isinstance(module, CLIPVisionEmbeddings):
            factor = module.config.initializer_factor
            nn.init.normal_(module.class_embedding, mean=0.0, std=module.embed_dim**-0.5 * factor)
            module.position_ids.copy_(torch.arange(module.num_positions).expand((1, -1)))
        elif isinstance(module, CLIPModel):
            nn.init.constant_(module.logit_scale, self.config.logit_scale_init_value)


def _pick(value: bool | None, default: bool) -> bool:
    return default if value is None else value


class CLIPTextModel(CLIPPreTrainedModel):
    """The text tower: causal transformer, final LayerNorm, pooled at the end-of-text token."""

    config_class = CLIPTextConfig
    base_model_prefix = "text_model"
    _no_split_modules: ClassVar[list[str]] = ["CLIPTextEmbeddings", "CLIPEncoderLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = dict(_ENCODER_PLAN)

    def __init__(self, config: CLIPTextConfig) -> None:
        super().__init__(config)
        get_activation(config.hidden_act)
        self.embeddings = CLIPTextEmbeddings(config)
        self.encoder = CLIPEncoder(config)
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.eos_token_id = config.eos_token_id
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.token_embedding

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.token_embedding = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPooling | tuple[Any, ...]:
        """``pooler_output`` is the normed hidden state at each row's end-of-text token."""
        if input_ids is None:
            raise ModelInputError("You have to specify input_ids (CLIPTextModel takes no inputs_embeds)")
        if input_ids.dim() < 2 or input_ids.shape[-1] == 0:
            raise ModelInputError(
                f"input_ids must be (batch, length) with at least one token, got shape {tuple(input_ids.shape)}"
            )
        config = self.config
        input_ids = input_ids.view(-1, input_ids.shape[-1])
        hidden_states = self.embeddings(input_ids=input_ids, position_ids=position_ids)
        mask = padding_mask(attention_mask, hidden_states.dtype) if attention_mask is not None else None
        encoded = self.encoder(
            hidden_states,
            mask,
            is_causal=True,
            output_attentions=_pick(output_attentions, config.output_attentions),
            output_hidden_states=_pick(output_hidden_states, config.output_hidden_states),
        )
        last_hidden_state = self.final_layer_norm(encoded.last_hidden_state)
        rows = torch.arange(last_hidden_state.shape[0], device=last_hidden_state.device)
        ids = input_ids.to(dtype=torch.int, device=last_hidden_state.device)
        if self.eos_token_id == 2:  # configs before transformers PR #24773: the highest id is the eos
            positions = ids.argmax(dim=-1)
        else:  # the first eos (the padding may be the eos token too)
            positions = (ids == self.eos_token_id).int().argmax(dim=-1)
        output = BaseModelOutputWithPooling(
            last_hidden_state=last_hidden_state,
            pooler_output=last_hidden_state[rows, positions],
            hidden_states=encoded.hidden_states,
            attentions=encoded.attentions,
        )
        return self._output(output, return_dict)


class CLIPVisionModel(CLIPPreTrainedModel):
    """The vision tower: ViT with a LayerNorm before the blocks, pooled at the (normed) class token."""

    config_class = CLIPVisionConfig
    base_model_prefix = "vision_model"
    main_input_name = "pixel_values"
    _no_split_modules: ClassVar[list[str]] = ["CLIPVisionEmbeddings", "CLIPEncoderLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = dict(_ENCODER_PLAN)

    def __init__(self, config: CLIPVisionConfig) -> None:
        super().__init__(config)
        get_activation(config.hidden_act)
        self.embeddings = CLIPVisionEmbeddings(config)
        self.pre_layrnorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.encoder = CLIPEncoder(config)
        self.post_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embedding

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        interpolate_pos_encoding: bool = False,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPooling | tuple[Any, ...]:
        """``pooler_output`` is the post-LayerNorm class token."""
        if pixel_values is None:
            raise ModelInputError("You have to specify pixel_values")
        config = self.config
        hidden_states = self.pre_layrnorm(self.embeddings(pixel_values, interpolate_pos_encoding))
        encoded = self.encoder(
            hidden_states,
            output_attentions=_pick(output_attentions, config.output_attentions),
            output_hidden_states=_pick(output_hidden_states, config.output_hidden_states),
        )
        last_hidden_state = encoded.last_hidden_state
        output = BaseModelOutputWithPooling(
            last_hidden_state=last_hidden_state,
            pooler_output=self.post_layernorm(last_hidden_state[:, 0, :]),
            hidden_states=encoded.hidden_states,
            attentions=encoded.attentions,
        )
        return self._output(output, return_dict)


def _contrastive_loss(logits: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, torch.arange(len(logits), device=logits.device))


def _normalized(embeds: torch.Tensor) -> torch.Tensor:
    """``embeds`` divided by its L2 norm over the last dimension (computed as transformers does)."""
    return embeds / torch.pow(torch.sum(torch.pow(embeds, 2), dim=-1, keepdim=True), 0.5)


class CLIPModel(CLIPPreTrainedModel):
    """Both towers, their projections and the learned temperature ``logit_scale``: image-text
    similarity (zero-shot image classification), text and image embeddings, contrastive loss.

    ``get_input_embeddings`` is the text token embedding (transformers' CLIPModel has none).
    """

    config_class = CLIPConfig
    base_model_tp_plan: ClassVar[dict[str, str]] = {**_under("text_model"), **_under("vision_model")}

    def __init__(self, config: CLIPConfig) -> None:
        super().__init__(config)
        text_config, vision_config = config.text_config, config.vision_config
        self.projection_dim = config.projection_dim
        self.text_embed_dim = text_config.hidden_size
        self.vision_embed_dim = vision_config.hidden_size
        self.text_model = CLIPTextModel(text_config)
        self.vision_model = CLIPVisionModel(vision_config)
        self.visual_projection = nn.Linear(self.vision_embed_dim, self.projection_dim, bias=False)
        self.text_projection = nn.Linear(self.text_embed_dim, self.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(float(config.logit_scale_init_value)))
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.text_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.text_model.set_input_embeddings(value)

    def get_text_features(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPooling | tuple[Any, ...]:
        """The text tower's output with ``pooler_output`` projected: the (unnormalised) text
        embeddings, as transformers 5 returns them."""
        outputs = self.text_model(
            input_ids, attention_mask, position_ids, output_attentions, output_hidden_states, return_dict=True
        )
        outputs.pooler_output = self.text_projection(outputs.pooler_output)
        return self._output(outputs, return_dict)

    def get_image_features(
        self,
        pixel_values: torch.Tensor,
        interpolate_pos_encoding: bool = False,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPooling | tuple[Any, ...]:
        """The vision tower's output with ``pooler_output`` projected: the (unnormalised) image
        embeddings, as transformers 5 returns them."""
        outputs = self.vision_model(
            pixel_values, interpolate_pos_encoding, output_attentions, output_hidden_states, return_dict=True
        )
        outputs.pooler_output = self.visual_projection(outputs.pooler_output)
        return self._output(outputs, return_dict)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        return_loss: bool | None = None,
        interpolate_pos_encoding: bool = False,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> CLIPOutput | tuple[Any, ...]:
        """``logits_per_image`` (images x texts) and ``logits_per_text`` (its transpose): scaled cosine
        similarities; ``return_loss=True`` adds the contrastive loss (``num_items_in_batch`` is
        accepted and, as in transformers, not used)."""
        vision_outputs = self.get_image_features(
            pixel_values, interpolate_pos_encoding, output_attentions, output_hidden_states, return_dict=True
        )
        text_outputs = self.get_text_features(
            input_ids, attention_mask, position_ids, output_attentions, output_hidden_states, return_dict=True
        )
        image_embeds = _normalized(vision_outputs.pooler_output)
        text_embeds = _normalized(text_outputs.pooler_output)
        logits_per_text = torch.matmul(text_embeds, image_embeds.t().to(text_embeds.device))
        logits_per_text = logits_per_text * self.logit_scale.exp().to(text_embeds.device)
        logits_per_image = logits_per_text.t()
        loss = None
        if return_loss:
            if logits_per_text.shape[0] != logits_per_text.shape[1]:
                raise ModelInputError(
                    f"return_loss=True needs matching pairs: text i describes image i, but got "
                    f"{logits_per_text.shape[0]} texts and {logits_per_text.shape[1]} images"
                )
            loss = (_contrastive_loss(logits_per_text) + _contrastive_loss(logits_per_text.t())) / 2.0
        output = CLIPOutput(
            loss=loss,
            logits_per_image=logits_per_image,
            logits_per_text=logits_per_text,
            text_embeds=text_embeds,
            image_embeds=image_embeds,
            text_model_output=text_outputs,
            vision_model_output=vision_outputs,
        )
        return self._output(output, return_dict)


def _projection_dim(config: TowerConfig) -> int:
    if config.projection_dim is None:
        raise ConfigError("config key 'projection_dim' is null: a CLIP model with projection needs its size")
    return config.projection_dim


class CLIPTextModelWithProjection(CLIPPreTrainedModel):
    """The text tower and its projection: ``text_embeds`` (unnormalised) per text."""

    config_class = CLIPTextConfig
    base_model_prefix = "text_model"
    _no_split_modules: ClassVar[list[str]] = ["CLIPTextEmbeddings", "CLIPEncoderLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = dict(_ENCODER_PLAN)

    def __init__(self, config: CLIPTextConfig) -> None:
        super().__init__(config)
        self.text_model = CLIPTextModel(config)
        self.text_projection = nn.Linear(config.hidden_size, _projection_dim(config), bias=False)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.text_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.text_model.set_input_embeddings(value)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> CLIPTextModelOutput | tuple[Any, ...]:
        outputs = self.text_model(
            input_ids, attention_mask, position_ids, output_attentions, output_hidden_states, return_dict=True
        )
        output = CLIPTextModelOutput(
            text_embeds=self.text_projection(outputs.pooler_output),
            last_hidden_state=outputs.last_hidden_state,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return self._output(output, return_dict)


class CLIPVisionModelWithProjection(CLIPPreTrainedModel):
    """The vision tower and its projection: ``image_embeds`` (unnormalised) per image."""

    config_class = CLIPVisionConfig
    base_model_prefix = "vision_model"
    main_input_name = "pixel_values"
    _no_split_modules: ClassVar[list[str]] = ["CLIPVisionEmbeddings", "CLIPEncoderLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = dict(_ENCODER_PLAN)

    def __init__(self, config: CLIPVisionConfig) -> None:
        super().__init__(config)
        self.vision_model = CLIPVisionModel(config)
        self.visual_projection = nn.Linear(config.hidden_size, config.projection_dim, bias=False)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.vision_model.get_input_embeddings()

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        interpolate_pos_encoding: bool = False,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> CLIPVisionModelOutput | tuple[Any, ...]:
        outputs = self.vision_model(
            pixel_values, interpolate_pos_encoding, output_attentions, output_hidden_states, return_dict=True
        )
        output = CLIPVisionModelOutput(
            image_embeds=self.visual_projection(outputs.pooler_output),
            last_hidden_state=outputs.last_hidden_state,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return self._output(output, return_dict)


class CLIPForImageClassification(CLIPPreTrainedModel):
    """The vision tower with a linear classifier over the mean of its patch tokens (the class
    token left out); the loss follows ``config.problem_type`` as transformers' image classifiers."""

    config_class = CLIPConfig
    main_input_name = "pixel_values"
    _no_split_modules: ClassVar[list[str]] = ["CLIPVisionEmbeddings", "CLIPEncoderLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = _under("vision_model")

    def __init__(self, config: CLIPConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.vision_model = CLIPVisionModel(config.vision_config)
        hidden = config.vision_config.hidden_size
        self.classifier = nn.Linear(hidden, config.num_labels) if config.num_labels > 0 else nn.Identity()
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.vision_model.get_input_embeddings()

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        interpolate_pos_encoding: bool = False,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> ImageClassifierOutput | tuple[Any, ...]:
        """``num_items_in_batch`` is accepted and, as in transformers, not used."""
        outputs = self.vision_model(
            pixel_values, interpolate_pos_encoding, output_attentions, output_hidden_states, return_dict=True
        )
        logits = self.classifier(torch.mean(outputs.last_hidden_state[:, 1:, :], dim=1))
        loss = None
        if labels is not None:
            loss = sequence_classification_loss(logits, labels, self.config, self.num_labels)
        output = ImageClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)
