"""Wav2Vec2: a convolutional feature encoder over raw audio, a transformer encoder, and the heads.

Attribute names follow the checkpoint keys of transformers' Wav2Vec2 (``wav2vec2.feature_extractor.
conv_layers.0.conv.weight``, ``wav2vec2.encoder.layers.0.attention.q_proj.weight`` ...), so Hub
checkpoints load without renaming. The positional convolution is weight-normalised with torch's
parametrization (``encoder.pos_conv_embed.conv.parametrizations.weight.original0`` / ``original1``);
older checkpoints store the same two tensors as ``weight_g`` / ``weight_v`` and load too. As
transformers 5 does, a model loaded from such a checkpoint saves them under the old names again.

Two layouts, chosen by the config: ``feat_extract_norm="group"`` + ``do_stable_layer_norm=False``
(wav2vec2-base: GroupNorm after the first convolution only, post-norm transformer layers) and
``"layer"`` + ``do_stable_layer_norm=True`` (large-lv60: LayerNorm after every convolution,
pre-norm layers with a final LayerNorm).

``attention_mask`` is over the audio samples (1 = real, 0 = padding); it becomes a mask over the
output frames by the convolutions' length formula, as in transformers. Training follows
transformers: SpecAugment (``apply_spec_augment`` with ``mask_time_prob`` / ``mask_feature_prob``)
masks spans drawn with numpy's global random state (so ``numpy.random.seed`` reproduces
transformers' masks), and ``layerdrop`` skips whole layers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrize import ParametrizationList

from autohub_core.errors import ConfigError, LabelError, ModelInputError, UnsupportedFeatureError
from autohub_core.layers import attention, get_activation, padding_mask, token_classification_loss
from autohub_core.modeling import GradientCheckpointingLayer, PreTrainedModel
from autohub_core.outputs import CausalLMOutput, ModelOutput, SequenceClassifierOutput, TokenClassifierOutput
from autohub_wav2vec2.config import Wav2Vec2Config

__all__ = [
    "Wav2Vec2BaseModelOutput",
    "Wav2Vec2ForAudioFrameClassification",
    "Wav2Vec2ForCTC",
    "Wav2Vec2ForPreTraining",
    "Wav2Vec2ForPreTrainingOutput",
    "Wav2Vec2ForSequenceClassification",
    "Wav2Vec2ForXVector",
    "Wav2Vec2Model",
    "Wav2Vec2PreTrainedModel",
    "XVectorOutput",
    "compute_mask_indices",
    "sample_negative_indices",
]

logger = logging.getLogger("autohub")

Tensors = tuple[torch.Tensor, ...]

#: Old (``torch.nn.utils.weight_norm``) and new (parametrization) names of the weight-norm tensors.
_WEIGHT_NORM_NAMES = (
    (".weight_g", ".parametrizations.weight.original0"),
    (".weight_v", ".parametrizations.weight.original1"),
)


@dataclass
class Wav2Vec2BaseModelOutput(ModelOutput):
    """What :class:`Wav2Vec2Model` returns: the last hidden states and ``extract_features``, the
    (layer-normalised) output of the convolutional feature encoder."""

    last_hidden_state: torch.Tensor | None = None
    extract_features: torch.Tensor | None = None
    hidden_states: Tensors | None = None
    attentions: Tensors | None = None


@dataclass
class XVectorOutput(ModelOutput):
    """What :class:`Wav2Vec2ForXVector` returns: ``logits`` (before the AM-softmax) and the
    utterance ``embeddings`` (batch, ``xvector_output_dim``)."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    embeddings: torch.Tensor | None = None
    hidden_states: Tensors | None = None
    attentions: Tensors | None = None


@dataclass
class Wav2Vec2ForPreTrainingOutput(ModelOutput):
    """What :class:`Wav2Vec2ForPreTraining` returns: the transformer's and the quantizer's features
    projected to ``proj_codevector_dim``, the codebook perplexity and, with negatives, the
    contrastive + diversity loss."""

    loss: torch.Tensor | None = None
    projected_states: torch.Tensor | None = None
    projected_quantized_states: torch.Tensor | None = None
    codevector_perplexity: torch.Tensor | None = None
    hidden_states: Tensors | None = None
    attentions: Tensors | None = None
    contrastive_loss: torch.Tensor | None = None
    diversity_loss: torch.Tensor | None = None


def _check_supported(config: Wav2Vec2Config) -> None:
    """What Wav2Vec2Config's value rules (checked when the model is built) do not say."""
    get_activation(config.hidden_act)
    get_activation(config.feat_extract_activation, "feat_extract_activation")
    if not config.conv_dim:
        raise ConfigError(
            "config key 'conv_dim' is empty: the feature encoder needs at least one convolution"
        )


def _implementation(config: Wav2Vec2Config) -> str:
    return getattr(config, "_attn_implementation", None) or "sdpa"


# -- SpecAugment ------------------------------------------------------------------------------


def compute_mask_indices(
    shape: tuple[int, int],
    mask_prob: float,
    mask_length: int,
    attention_mask: torch.Tensor | None = None,
    min_masks: int = 0,
) -> np.ndarray:
    """SpecAugment's random spans (batch, length) of booleans, drawn exactly as transformers'
    ``_compute_mask_indices`` draws them (numpy's global random state)."""
    batch_size, sequence_length = shape
    if mask_length < 1:
        raise ConfigError(
            "SpecAugment: the mask length ('mask_time_length' / 'mask_feature_length') must be >= 1"
        )
    if mask_length > sequence_length:
        raise ModelInputError(
            f"SpecAugment: the mask length {mask_length} ('mask_time_length' / 'mask_feature_length') is longer "
            f"than the sequence ({sequence_length} frames); give longer audio or lower the mask length"
        )
    epsilon = np.random.rand(1).item()

    def spans_for(input_length: int) -> int:
        count = max(int(mask_prob * input_length / mask_length + epsilon), min_masks)
        if count * mask_length > sequence_length:
            count = sequence_length // mask_length
        if input_length - (mask_length - 1) < count:
            count = max(input_length - (mask_length - 1), 0)
        return count

    input_lengths = (
        attention_mask.detach().sum(-1).tolist()
        if attention_mask is not None
        else [sequence_length] * batch_size
    )
    mask = np.zeros((batch_size, sequence_length), dtype=bool)
    max_spans = spans_for(sequence_length)
    if max_spans == 0:
        return mask
    starts = []
    for input_length in input_lengths:
        count = spans_for(input_length)
        chosen = np.random.choice(np.arange(input_length - (mask_length - 1)), count, replace=False)
        filler = chosen[0] if len(chosen) else sequence_length - 1
        starts.append(np.concatenate([chosen, np.ones(max_spans - count, dtype=np.int32) * filler]))
    indices = np.broadcast_to(np.array(starts)[:, :, None], (batch_size, max_spans, mask_length))
    indices = indices.reshape(batch_size, max_spans * mask_length)
    offsets = np.broadcast_to(np.arange(mask_length)[None, None, :], (batch_size, max_spans, mask_length))
    indices = indices + offsets.reshape(batch_size, max_spans * mask_length)
    indices[indices > sequence_length - 1] = sequence_length - 1
    np.put_along_axis(mask, indices, 1, -1)
    return mask


def sample_negative_indices(
    features_shape: tuple[int, int], num_negatives: int, mask_time_indices: np.ndarray | None = None
) -> np.ndarray:
    """For each masked frame, ``num_negatives`` other masked frames of the same utterance (flat indices
    into the batch), drawn exactly as transformers' ``_sample_negative_indices`` draws them."""
    batch_size, sequence_length = features_shape
    positions = np.arange(sequence_length)
    sampled = np.zeros((batch_size, sequence_length, num_negatives), dtype=np.int32)
    masked = (
        mask_time_indices.astype(bool) if mask_time_indices is not None else np.ones(features_shape, bool)
    )
    for row in range(batch_size):
        high = masked[row].sum() - 1
        masked_positions = positions[masked[row]]
        own = np.broadcast_to(np.arange(high + 1)[:, None], (high + 1, num_negatives))
        drawn = np.random.randint(0, high, size=(high + 1, num_negatives))
        drawn[drawn >= own] += 1  # never the frame itself
        sampled[row][masked[row]] = masked_positions[drawn]
        sampled[row] += row * sequence_length
    return sampled


# -- feature encoder ------------------------------------------------------------------------------


class Wav2Vec2ConvLayer(GradientCheckpointingLayer):
    """One convolution of the feature encoder, then (``norm``) GroupNorm / LayerNorm, then the activation."""

    def __init__(self, config: Wav2Vec2Config, layer_id: int, norm: str | None) -> None:
        super().__init__()
        in_dim = config.conv_dim[layer_id - 1] if layer_id > 0 else 1
        out_dim = config.conv_dim[layer_id]
        self.conv = nn.Conv1d(
            in_dim,
            out_dim,
            kernel_size=config.conv_kernel[layer_id],
            stride=config.conv_stride[layer_id],
            bias=config.conv_bias,
        )
        self.norm = norm
        if norm == "group":
            self.layer_norm: nn.Module = nn.GroupNorm(num_groups=out_dim, num_channels=out_dim, affine=True)
        elif norm == "layer":
            self.layer_norm = nn.LayerNorm(out_dim, elementwise_affine=True)
        self.activation = get_activation(config.feat_extract_activation, "feat_extract_activation")

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.conv(hidden_states)
        if self.norm == "group":
            hidden_states = self.layer_norm(hidden_states)
        elif self.norm == "layer":
            hidden_states = self.layer_norm(hidden_states.transpose(-2, -1)).transpose(-2, -1)
        return self.activation(hidden_states)


class Wav2Vec2FeatureEncoder(nn.Module):
    """The stack of 1-D convolutions turning (batch, samples) audio into (batch, channels, frames)."""

    def __init__(self, config: Wav2Vec2Config) -> None:
        super().__init__()
        if config.feat_extract_norm == "group":
            norms = ["group"] + [None] * (len(config.conv_dim) - 1)
        else:
            norms = ["layer"] * len(config.conv_dim)
        self.conv_layers = nn.ModuleList(Wav2Vec2ConvLayer(config, i, norm) for i, norm in enumerate(norms))
        self._requires_grad = True

    def _freeze_parameters(self) -> None:
        for param in self.parameters():
            param.requires_grad = False
        self._requires_grad = False

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        hidden_states = input_values[:, None]
        if self._requires_grad and self.training:
            hidden_states.requires_grad = True
        for conv_layer in self.conv_layers:
            hidden_states = conv_layer(hidden_states)
        return hidden_states


class Wav2Vec2FeatureProjection(nn.Module):
    """LayerNorm over the conv features, then a projection to ``hidden_size``."""

    def __init__(self, config: Wav2Vec2Config) -> None:
        super().__init__()
        self.layer_norm = nn.LayerNorm(config.conv_dim[-1], eps=config.layer_norm_eps)
        self.projection = nn.Linear(config.conv_dim[-1], config.hidden_size)
        self.dropout = nn.Dropout(config.feat_proj_dropout)

    def forward(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        normed = self.layer_norm(hidden_states)
        return self.dropout(self.projection(normed)), normed


# -- transformer encoder ------------------------------------------------------------------------------


class Wav2Vec2PositionalConvEmbedding(nn.Module):
    """A grouped, weight-normalised convolution over time: the relative position signal."""

    def __init__(self, config: Wav2Vec2Config) -> None:
        super().__init__()
        conv = nn.Conv1d(
            config.hidden_size,
            config.hidden_size,
            kernel_size=config.num_conv_pos_embeddings,
            padding=config.num_conv_pos_embeddings // 2,
            groups=config.num_conv_pos_embedding_groups,
        )
        self.conv = nn.utils.parametrizations.weight_norm(conv, name="weight", dim=2)
        self.num_pad_remove = 1 if config.num_conv_pos_embeddings % 2 == 0 else 0
        self.activation = get_activation(config.feat_extract_activation, "feat_extract_activation")

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.conv(hidden_states.transpose(1, 2))
        if self.num_pad_remove:
            hidden_states = hidden_states[:, :, : -self.num_pad_remove]
        return self.activation(hidden_states).transpose(1, 2)


class Wav2Vec2Attention(nn.Module):
    """Multi-head self-attention (q / k / v / out projections with biases)."""

    def __init__(self, config: Wav2Vec2Config) -> None:
        super().__init__()
        self.config = config
        embed_dim = config.hidden_size
        self.head_dim = embed_dim // config.num_attention_heads
        self.scaling = self.head_dim**-0.5
        self.dropout = config.attention_dropout
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.Tensor | None, output_attentions: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch_size, length, _ = hidden_states.shape

        def heads(states: torch.Tensor) -> torch.Tensor:
            return states.view(batch_size, length, -1, self.head_dim).transpose(1, 2)

        context, weights = attention(
            heads(self.q_proj(hidden_states)),
            heads(self.k_proj(hidden_states)),
            heads(self.v_proj(hidden_states)),
            mask,
            dropout=self.dropout if self.training else 0.0,
            scale=self.scaling,
            output_attentions=output_attentions,
            implementation=_implementation(self.config),
        )
        context = context.transpose(1, 2).reshape(batch_size, length, -1)
        return self.out_proj(context), weights


class Wav2Vec2FeedForward(nn.Module):
    def __init__(self, config: Wav2Vec2Config) -> None:
        super().__init__()
        self.intermediate_dropout = nn.Dropout(config.activation_dropout)
        self.intermediate_dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = get_activation(config.hidden_act)
        self.output_dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.output_dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.intermediate_dropout(
            self.intermediate_act_fn(self.intermediate_dense(hidden_states))
        )
        return self.output_dropout(self.output_dense(hidden_states))


class Wav2Vec2AttnAdapterLayer(nn.Module):
    """The per-language attention adapter of MMS checkpoints (``adapter_attn_dim``): LayerNorm, down
    projection, ReLU, up projection, added residually after each pre-norm layer."""

    def __init__(self, config: Wav2Vec2Config) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(config.hidden_size)
        self.linear_1 = nn.Linear(config.hidden_size, config.adapter_attn_dim)
        self.linear_2 = nn.Linear(config.adapter_attn_dim, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.relu(self.linear_1(self.norm(hidden_states))))


class Wav2Vec2EncoderLayer(GradientCheckpointingLayer):
    """Attention and feed-forward with residuals: post-norm (base) or, with ``stable``, pre-norm
    (large-lv60, where an attention adapter may follow)."""

    def __init__(self, config: Wav2Vec2Config, stable: bool) -> None:
        super().__init__()
        self.stable = stable
        self.attention = Wav2Vec2Attention(config)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = Wav2Vec2FeedForward(config)
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        if stable and config.adapter_attn_dim is not None:
            self.adapter_layer = Wav2Vec2AttnAdapterLayer(config)
        else:
            self.adapter_layer = None

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.Tensor | None, output_attentions: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        residual = hidden_states
        if self.stable:
            hidden_states = self.layer_norm(hidden_states)
        hidden_states, weights = self.attention(hidden_states, mask, output_attentions)
        hidden_states = residual + self.dropout(hidden_states)
        if self.stable:
            hidden_states = hidden_states + self.feed_forward(self.final_layer_norm(hidden_states))
            if self.adapter_layer is not None:
                hidden_states = hidden_states + self.adapter_layer(hidden_states)
        else:
            hidden_states = self.layer_norm(hidden_states)
            hidden_states = self.final_layer_norm(hidden_states + self.feed_forward(hidden_states))
        return hidden_states, weights


class Wav2Vec2Encoder(nn.Module):
    """Positional convolution, LayerNorm (first for base, last for the stable layout) and the layers."""

    def __init__(self, config: Wav2Vec2Config) -> None:
        super().__init__()
        self.config = config
        self.stable = config.do_stable_layer_norm
        self.pos_conv_embed = Wav2Vec2PositionalConvEmbedding(config)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.layers = nn.ModuleList(
            Wav2Vec2EncoderLayer(config, config.do_stable_layer_norm) for _ in range(config.num_hidden_layers)
        )

    def forward(
        self,
        hidden_states: torch.Tensor,
        frame_mask: torch.Tensor | None,
        output_attentions: bool,
        output_hidden_states: bool,
    ) -> tuple[torch.Tensor, Tensors, Tensors]:
        """The last hidden states, every layer's input plus the last output (when asked), and the
        attention weights (when asked)."""
        mask = None
        if frame_mask is not None:
            hidden_states = hidden_states.masked_fill(~frame_mask[..., None], 0.0)
            mask = padding_mask(frame_mask, hidden_states.dtype)
        hidden_states = hidden_states + self.pos_conv_embed(hidden_states)
        if not self.stable:
            hidden_states = self.layer_norm(hidden_states)
        hidden_states = self.dropout(hidden_states)
        all_hidden_states: Tensors = ()
        all_attentions: Tensors = ()
        for layer in self.layers:
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            if self.training and self.config.layerdrop > 0.0 and torch.rand([]) < self.config.layerdrop:
                continue  # LayerDrop
            hidden_states, weights = layer(hidden_states, mask, output_attentions)
            if output_attentions:
                all_attentions += (weights,)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)
        if self.stable:
            hidden_states = self.layer_norm(hidden_states)
        return hidden_states, all_hidden_states, all_attentions


class Wav2Vec2AdapterLayer(nn.Module):
    def __init__(self, config: Wav2Vec2Config) -> None:
        super().__init__()
        self.conv = nn.Conv1d(
            config.output_hidden_size,
            2 * config.output_hidden_size,
            config.adapter_kernel_size,
            stride=config.adapter_stride,
            padding=1,
        )

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return F.glu(self.conv(hidden_states), dim=1)


class Wav2Vec2Adapter(nn.Module):
    """``add_adapter``: an optional projection to ``output_hidden_size``, then strided GLU
    convolutions that shorten the sequence (for speech encoder-decoder models)."""

    def __init__(self, config: Wav2Vec2Config) -> None:
        super().__init__()
        if config.output_hidden_size != config.hidden_size:
            self.proj: nn.Module | None = nn.Linear(config.hidden_size, config.output_hidden_size)
            self.proj_layer_norm: nn.Module | None = nn.LayerNorm(config.output_hidden_size)
        else:
            self.proj = self.proj_layer_norm = None
        self.layers = nn.ModuleList(Wav2Vec2AdapterLayer(config) for _ in range(config.num_adapter_layers))
        self.layerdrop = config.layerdrop

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if self.proj is not None and self.proj_layer_norm is not None:
            hidden_states = self.proj_layer_norm(self.proj(hidden_states))
        hidden_states = hidden_states.transpose(1, 2)
        for layer in self.layers:
            if not self.training or np.random.random() > self.layerdrop:
                hidden_states = layer(hidden_states)
        return hidden_states.transpose(1, 2)


# -- models ------------------------------------------------------------------------------------------


class Wav2Vec2PreTrainedModel(PreTrainedModel):
    """Weight initialisation, input checks and the length formulas shared by every Wav2Vec2 class.

    Tensor-parallel plan: q / k / v and the intermediate dense colwise, out_proj and the output dense
    rowwise; the convolutions, norms and heads are replicated.
    """

    config_class = Wav2Vec2Config
    base_model_prefix = "wav2vec2"
    main_input_name = "input_values"
    supports_gradient_checkpointing = True
    _no_split_modules: ClassVar[list[str]] = ["Wav2Vec2FeatureEncoder", "Wav2Vec2EncoderLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = {
        "encoder.layers.*.attention.q_proj": "colwise",
        "encoder.layers.*.attention.k_proj": "colwise",
        "encoder.layers.*.attention.v_proj": "colwise",
        "encoder.layers.*.attention.out_proj": "rowwise",
        "encoder.layers.*.feed_forward.intermediate_dense": "colwise",
        "encoder.layers.*.feed_forward.output_dense": "rowwise",
    }

    def __init__(self, config: Wav2Vec2Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        _check_supported(config)
        #: Whether the weights came with the old ``weight_g`` / ``weight_v`` names (saved back so).
        self._legacy_weight_norm = False

    def _init_weights(self, module: nn.Module) -> None:
        """transformers' initialisation of the modules it treats specially, else the core's default."""
        if isinstance(module, ParametrizationList):  # the positional convolution's weight norm
            direction, magnitude = module.original1, module.original0
            channels, _, kernel_size = direction.shape
            nn.init.normal_(direction, mean=0, std=2 * (1 / (kernel_size * channels)) ** 0.5)
            with torch.no_grad():  # the weight starts as the direction drawn
                magnitude.copy_(torch.linalg.vector_norm(direction, dim=(0, 1), keepdim=True))
        elif isinstance(module, Wav2Vec2PositionalConvEmbedding):
            nn.init.zeros_(module.conv.bias)
        elif isinstance(module, Wav2Vec2FeatureProjection):
            bound = (1 / module.projection.in_features) ** 0.5
            nn.init.uniform_(module.projection.weight, a=-bound, b=bound)
            nn.init.uniform_(module.projection.bias, a=-bound, b=bound)
        elif isinstance(module, nn.Conv1d):
            if hasattr(module, "parametrizations"):
                return  # the positional convolution: initialised with its embedding module
            nn.init.kaiming_normal_(module.weight)
            if module.bias is not None:
                bound = (module.groups / (module.in_channels * module.kernel_size[0])) ** 0.5
                nn.init.uniform_(module.bias, a=-bound, b=bound)
        elif isinstance(module, Wav2Vec2Model) and getattr(module, "masked_spec_embed", None) is not None:
            nn.init.uniform_(module.masked_spec_embed)
        elif isinstance(module, AMSoftmaxLoss):
            nn.init.normal_(module.weight)
        elif isinstance(module, Wav2Vec2GumbelVectorQuantizer):
            nn.init.normal_(module.weight_proj.weight, mean=0.0, std=1.0)
            nn.init.zeros_(module.weight_proj.bias)
            nn.init.uniform_(module.codevectors)
        elif isinstance(module, Wav2Vec2ForPreTraining):
            module.project_hid.reset_parameters()
            module.project_q.reset_parameters()
        else:
            super()._init_weights(module)

    # -- weight-norm names on load and save ------------------------------------------------------

    def _load_weights(self, source: Any, *args: Any, **kwargs: Any) -> Any:
        """Load as the core does, reading ``weight_g`` / ``weight_v`` as the parametrization's tensors."""
        names = source.names()
        if any(name.endswith(old) for name in names for old, _ in _WEIGHT_NORM_NAMES):
            self._legacy_weight_norm = True
            self._rename_parametrizations(to_legacy=True)
            try:
                return super()._load_weights(source, *args, **kwargs)
            finally:
                self._rename_parametrizations(to_legacy=False)
        return super()._load_weights(source, *args, **kwargs)

    def _rename_parametrizations(self, to_legacy: bool) -> None:
        """Expose the weight-norm tensors under their old names (``weight_g`` / ``weight_v``) while a
        legacy checkpoint loads, and move them back after."""
        for module in self.modules():
            if not isinstance(module, Wav2Vec2PositionalConvEmbedding):
                continue
            conv = module.conv
            weight = conv.parametrizations.weight
            if to_legacy:
                conv.register_parameter("weight_g", weight.original0)
                conv.register_parameter("weight_v", weight.original1)
                del weight._parameters["original0"], weight._parameters["original1"]
            else:
                weight._parameters["original0"] = conv._parameters.pop("weight_g")
                weight._parameters["original1"] = conv._parameters.pop("weight_v")

    def save_pretrained(
        self, save_directory: Any, *, state_dict: dict[str, torch.Tensor] | None = None, **kwargs: Any
    ) -> None:
        """Save as the core does; a model loaded from ``weight_g`` / ``weight_v`` keeps those names."""
        if self._legacy_weight_norm:
            state_dict = dict(state_dict if state_dict is not None else self.state_dict())
            for key in list(state_dict):
                for old, new in _WEIGHT_NORM_NAMES:
                    if key.endswith(new):
                        state_dict[key.removesuffix(new) + old] = state_dict.pop(key)
        super().save_pretrained(save_directory, state_dict=state_dict, **kwargs)

    # -- lengths and masks -------------------------------------------------------------------------

    def _get_feat_extract_output_lengths(
        self, input_lengths: torch.Tensor | int, add_adapter: bool | None = None
    ) -> torch.Tensor | int:
        """Frames the feature encoder (and, with ``add_adapter``, the adapter) makes of that many samples."""
        add_adapter = self.config.add_adapter if add_adapter is None else add_adapter
        for kernel_size, stride in zip(self.config.conv_kernel, self.config.conv_stride, strict=True):
            input_lengths = (input_lengths - kernel_size) // stride + 1
        if add_adapter:
            for _ in range(self.config.num_adapter_layers):
                input_lengths = (input_lengths - 1) // self.config.adapter_stride + 1
        return input_lengths

    def _get_feature_vector_attention_mask(
        self, feature_vector_length: int, attention_mask: torch.Tensor, add_adapter: bool | None = None
    ) -> torch.Tensor:
        """The boolean (batch, frames) mask of the frames made from real samples; as transformers, a
        row's length is the sum of its sample mask (right padding)."""
        lengths = self._get_feat_extract_output_lengths(attention_mask.cumsum(dim=-1)[:, -1], add_adapter)
        positions = torch.arange(feature_vector_length, device=attention_mask.device)
        return positions[None, :] < lengths.to(torch.long)[:, None]

    def _check_input_values(self, input_values: Any, attention_mask: torch.Tensor | None) -> None:
        """Refuse what the convolutions cannot take, with a message naming the argument."""
        if not isinstance(input_values, torch.Tensor):
            raise ModelInputError(
                f"input_values must be a torch.Tensor of audio samples (batch, samples), got {type(input_values).__name__}"
            )
        if input_values.dim() != 2 or not input_values.is_floating_point():
            raise ModelInputError(
                f"input_values must be a 2-D float tensor (batch, samples), got shape {tuple(input_values.shape)} "
                f"and dtype {input_values.dtype}; the feature extractor makes one"
            )
        receptive = self._receptive_field()
        if input_values.shape[1] < receptive:
            raise ModelInputError(
                f"input_values has {input_values.shape[1]} samples per row, fewer than the {receptive} the "
                "convolutional feature encoder needs for one frame (config keys 'conv_kernel' / 'conv_stride'); "
                "give longer audio or pad it"
            )
        if attention_mask is not None and tuple(attention_mask.shape) != tuple(input_values.shape):
            raise ModelInputError(
                f"attention_mask has shape {tuple(attention_mask.shape)}, but input_values has "
                f"{tuple(input_values.shape)}: give one 1/0 value per sample"
            )

    def _receptive_field(self) -> int:
        """The fewest samples that make one frame."""
        samples = 1
        for kernel_size, stride in reversed(
            list(zip(self.config.conv_kernel, self.config.conv_stride, strict=True))
        ):
            samples = (samples - 1) * stride + kernel_size
        return samples

    def _layer_sum_or_last(self, outputs: Wav2Vec2BaseModelOutput) -> torch.Tensor:
        """``use_weighted_layer_sum``: the softmax-weighted sum of every layer's hidden states; else the last."""
        if not self.config.use_weighted_layer_sum:
            return outputs.last_hidden_state
        stacked = torch.stack(outputs.hidden_states, dim=1)
        weights = F.softmax(self.layer_weights, dim=-1)
        return (stacked * weights.view(-1, 1, 1)).sum(dim=1)

    def _refuse_adapter(self) -> None:
        if self.config.add_adapter:
            raise ConfigError(
                f"{type(self).__name__} does not support the Wav2Vec2 adapter: set config key 'add_adapter' = False"
            )

    def get_input_embeddings(self) -> nn.Module:
        """The convolutional feature encoder: what turns raw audio into the first hidden states
        (there is no token embedding; ``enable_input_require_grads`` hooks its output)."""
        return self.base_model.feature_extractor

    def freeze_feature_encoder(self) -> None:
        """Stop gradients through the convolutional feature encoder (its weights stay fixed)."""
        self.base_model.feature_extractor._freeze_parameters()

    def freeze_base_model(self) -> None:
        """Stop gradients through the whole base model: only the head trains."""
        for param in self.base_model.parameters():
            param.requires_grad = False


class Wav2Vec2Model(Wav2Vec2PreTrainedModel):
    """The bare Wav2Vec2 encoder: audio samples in, one hidden state per frame (about 20 ms) out."""

    def __init__(self, config: Wav2Vec2Config) -> None:
        super().__init__(config)
        self.feature_extractor = Wav2Vec2FeatureEncoder(config)
        self.feature_projection = Wav2Vec2FeatureProjection(config)
        if config.mask_time_prob > 0.0 or config.mask_feature_prob > 0.0:
            self.masked_spec_embed = nn.Parameter(torch.empty(config.hidden_size).uniform_())
        self.encoder = Wav2Vec2Encoder(config)
        self.adapter = Wav2Vec2Adapter(config) if config.add_adapter else None
        self.post_init()

    def _mask_hidden_states(
        self,
        hidden_states: torch.Tensor,
        mask_time_indices: torch.Tensor | None,
        frame_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """SpecAugment: given ``mask_time_indices`` or, while training, random time spans replaced
        by ``masked_spec_embed``, and random feature spans zeroed."""
        config = self.config
        if not config.apply_spec_augment:
            return hidden_states
        batch_size, length, hidden_size = hidden_states.shape
        if mask_time_indices is None and config.mask_time_prob > 0 and self.training:
            mask_time_indices = torch.tensor(
                compute_mask_indices(
                    (batch_size, length),
                    config.mask_time_prob,
                    config.mask_time_length,
                    frame_mask,
                    config.mask_time_min_masks,
                ),
                device=hidden_states.device,
                dtype=torch.bool,
            )
        if mask_time_indices is not None:
            if getattr(self, "masked_spec_embed", None) is None:
                raise ConfigError(
                    "mask_time_indices needs the learned mask embedding, which exists only with config key "
                    "'mask_time_prob' or 'mask_feature_prob' > 0"
                )
            embed = self.masked_spec_embed.to(hidden_states.dtype)
            hidden_states = torch.where(mask_time_indices.to(torch.bool)[..., None], embed, hidden_states)
        if config.mask_feature_prob > 0 and self.training:
            feature_mask = torch.tensor(
                compute_mask_indices(
                    (batch_size, hidden_size),
                    config.mask_feature_prob,
                    config.mask_feature_length,
                    min_masks=config.mask_feature_min_masks,
                ),
                device=hidden_states.device,
                dtype=torch.bool,
            )
            hidden_states = hidden_states.masked_fill(feature_mask[:, None, :], 0.0)
        return hidden_states

    def forward(
        self,
        input_values: torch.Tensor | None,
        attention_mask: torch.Tensor | None = None,
        mask_time_indices: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> Wav2Vec2BaseModelOutput | tuple[Any, ...]:
        """``input_values`` (batch, samples) float audio, normalised as the feature extractor does;
        ``attention_mask`` (batch, samples) 1 for real samples, 0 for padding."""
        self._check_input_values(input_values, attention_mask)
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        dtype = self.feature_extractor.conv_layers[0].conv.weight.dtype  # float32 audio into a half model
        extract_features = self.feature_extractor(input_values.to(dtype)).transpose(1, 2)
        frame_mask = None
        if attention_mask is not None:
            frame_mask = self._get_feature_vector_attention_mask(
                extract_features.shape[1], attention_mask, add_adapter=False
            )
        hidden_states, extract_features = self.feature_projection(extract_features)
        hidden_states = self._mask_hidden_states(hidden_states, mask_time_indices, frame_mask)
        hidden_states, all_hidden_states, all_attentions = self.encoder(
            hidden_states, frame_mask, output_attentions, output_hidden_states
        )
        if self.adapter is not None:
            hidden_states = self.adapter(hidden_states)
        outputs = Wav2Vec2BaseModelOutput(
            last_hidden_state=hidden_states,
            extract_features=extract_features,
            hidden_states=all_hidden_states if output_hidden_states else None,
            attentions=all_attentions if output_attentions else None,
        )
        return self._output(outputs, return_dict)


class Wav2Vec2GumbelVectorQuantizer(nn.Module):
    """Product quantization of the conv features: per group, one of ``num_codevectors_per_group``
    codevectors, chosen by a hard Gumbel softmax while training and by argmax otherwise."""

    def __init__(self, config: Wav2Vec2Config) -> None:
        super().__init__()
        self.num_groups = config.num_codevector_groups
        self.num_vars = config.num_codevectors_per_group
        if config.codevector_dim % self.num_groups:
            raise ConfigError(
                f"config key 'codevector_dim' = {config.codevector_dim} must be a multiple of "
                f"'num_codevector_groups' = {self.num_groups}"
            )
        self.codevectors = nn.Parameter(
            torch.empty(1, self.num_groups * self.num_vars, config.codevector_dim // self.num_groups)
        )
        self.weight_proj = nn.Linear(config.conv_dim[-1], self.num_groups * self.num_vars)
        self.temperature = 2.0

    @staticmethod
    def _compute_perplexity(probs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is not None:
            probs = torch.where(
                mask.flatten()[:, None, None].expand(probs.shape), probs, torch.zeros_like(probs)
            )
            marginal = probs.sum(dim=0) / mask.sum()
        else:
            marginal = probs.mean(dim=0)
        return torch.exp(-torch.sum(torch.xlogy(marginal, marginal), dim=-1)).sum()

    def forward(
        self, hidden_states: torch.Tensor, mask_time_indices: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch_size, length, _ = hidden_states.shape
        hidden_states = self.weight_proj(hidden_states).view(batch_size * length * self.num_groups, -1)
        if self.training:
            probs = F.gumbel_softmax(hidden_states.float(), tau=self.temperature, hard=True).type_as(
                hidden_states
            )
            soft = torch.softmax(hidden_states.view(batch_size * length, self.num_groups, -1).float(), dim=-1)
            perplexity = self._compute_perplexity(soft, mask_time_indices)
        else:
            chosen = hidden_states.argmax(dim=-1)
            probs = hidden_states.new_zeros(hidden_states.shape).scatter_(-1, chosen.view(-1, 1), 1.0)
            probs = probs.view(batch_size * length, self.num_groups, -1)
            perplexity = self._compute_perplexity(probs, mask_time_indices)
        probs = probs.view(batch_size * length, -1)
        codevectors = (probs.unsqueeze(-1) * self.codevectors).view(
            batch_size * length, self.num_groups, self.num_vars, -1
        )
        return codevectors.sum(-2).view(batch_size, length, -1), perplexity


class Wav2Vec2ForPreTraining(Wav2Vec2PreTrainedModel):
    """Wav2Vec2 with the quantizer and projections of self-supervised pre-training: given
    ``mask_time_indices`` (:func:`compute_mask_indices`) and ``sampled_negative_indices``
    (:func:`sample_negative_indices`), the contrastive loss over the masked frames plus the
    codebook diversity loss, as transformers computes them."""

    def __init__(self, config: Wav2Vec2Config) -> None:
        super().__init__(config)
        self.wav2vec2 = Wav2Vec2Model(config)
        self.dropout_features = nn.Dropout(config.feat_quantizer_dropout)
        self.quantizer = Wav2Vec2GumbelVectorQuantizer(config)
        self.project_hid = nn.Linear(config.hidden_size, config.proj_codevector_dim)
        self.project_q = nn.Linear(config.codevector_dim, config.proj_codevector_dim)
        self.post_init()

    def set_gumbel_temperature(self, temperature: float) -> None:
        """The Gumbel softmax temperature (annealed during pre-training)."""
        self.quantizer.temperature = temperature

    def forward(
        self,
        input_values: torch.Tensor | None,
        attention_mask: torch.Tensor | None = None,
        mask_time_indices: torch.Tensor | None = None,
        sampled_negative_indices: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        """``mask_time_indices`` (batch, frames) marks the frames to predict; ``sampled_negative_indices``
        (batch, frames, num_negatives) their distractors. The loss needs both."""
        if sampled_negative_indices is not None and mask_time_indices is None:
            raise ModelInputError(
                "sampled_negative_indices needs mask_time_indices (the frames they belong to)"
            )
        outputs = self.wav2vec2(
            input_values,
            attention_mask,
            mask_time_indices=mask_time_indices,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        transformer_features = self.project_hid(outputs.last_hidden_state)
        extract_features = self.dropout_features(outputs.extract_features)
        quantized, perplexity = self.quantizer(extract_features, mask_time_indices=mask_time_indices)
        quantized = self.project_q(quantized.to(self.project_q.weight.dtype))
        loss = contrastive_loss = diversity_loss = None
        if sampled_negative_indices is not None:
            batch_size, length, size = quantized.shape
            negatives = quantized.view(-1, size)[sampled_negative_indices.long().view(-1)]
            negatives = negatives.view(batch_size, length, -1, size).permute(2, 0, 1, 3)
            targets = torch.cat([quantized[None, :], negatives], dim=0)
            logits = torch.cosine_similarity(transformer_features.float(), targets.float(), dim=-1).type_as(
                targets
            )
            logits = logits / self.config.contrastive_logits_temperature
            negative_is_positive = (quantized == negatives).all(-1)
            if negative_is_positive.any():
                logits[1:][negative_is_positive] = float("-inf")
            logits = logits.transpose(0, 2).reshape(-1, logits.size(0))
            mask = mask_time_indices.long()
            target = ((1 - mask) * -100).transpose(0, 1).flatten()
            contrastive_loss = F.cross_entropy(logits.float(), target, reduction="sum")
            num_codevectors = self.config.num_codevectors_per_group * self.config.num_codevector_groups
            diversity_loss = ((num_codevectors - perplexity) / num_codevectors) * mask.sum()
            loss = contrastive_loss + self.config.diversity_loss_weight * diversity_loss
        output = Wav2Vec2ForPreTrainingOutput(
            loss=loss,
            projected_states=transformer_features,
            projected_quantized_states=quantized,
            codevector_perplexity=perplexity,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            contrastive_loss=contrastive_loss,
            diversity_loss=diversity_loss,
        )
        return self._output(output, return_dict)


class Wav2Vec2ForCTC(Wav2Vec2PreTrainedModel):
    """Wav2Vec2 with a linear head over the vocabulary, trained with CTC (speech recognition).

    The loss is transformers': ``log_softmax`` in float32, frame lengths from the sample mask by the
    convolutions' formula, labels padded with -100 (or the blank), blank = ``pad_token_id``,
    ``ctc_loss_reduction`` and ``ctc_zero_infinity`` from the config.
    """

    def __init__(self, config: Wav2Vec2Config, target_lang: str | None = None) -> None:
        super().__init__(config)
        if target_lang is not None:
            raise UnsupportedFeatureError(
                f"target_lang={target_lang!r}: loading per-language adapter files (adapter.<lang>.safetensors) "
                "is not implemented; load a checkpoint whose model.safetensors holds the adapter weights"
            )
        if config.vocab_size is None:
            raise ConfigError(
                "Wav2Vec2ForCTC needs config key 'vocab_size' (the CTC head's size): set it in config.json or "
                "pass vocab_size= to from_pretrained"
            )
        self.wav2vec2 = Wav2Vec2Model(config)
        self.dropout = nn.Dropout(config.final_dropout)
        output_size = config.output_hidden_size if config.add_adapter else config.hidden_size
        self.lm_head = nn.Linear(output_size, config.vocab_size)
        self.post_init()

    def forward(
        self,
        input_values: torch.Tensor | None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        """``labels`` (batch, target_length): character ids, padded with -100."""
        if labels is not None:
            _check_ctc_labels(labels, self.config.vocab_size)
        outputs = self.wav2vec2(
            input_values,
            attention_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.lm_head(self.dropout(outputs.last_hidden_state))
        loss = None
        if labels is not None:
            sample_mask = (
                attention_mask
                if attention_mask is not None
                else torch.ones_like(input_values, dtype=torch.long)
            )
            frame_lengths = self._get_feat_extract_output_lengths(sample_mask.sum(-1)).to(torch.long)
            loss = ctc_loss(
                logits,
                labels,
                frame_lengths,
                blank=self.config.pad_token_id,
                reduction=self.config.ctc_loss_reduction,
                zero_infinity=self.config.ctc_zero_infinity,
            )
        output = CausalLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


def _check_ctc_labels(labels: Any, vocab_size: int) -> None:
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.dim() != 2:
        raise LabelError(
            "labels must be a 2-D integer tensor (batch, target_length) of token ids padded with -100"
        )
    if labels.numel() and int(labels.max()) >= vocab_size:
        raise LabelError(f"labels hold {int(labels.max())}; label values must be < vocab_size ({vocab_size})")


def ctc_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    frame_lengths: torch.Tensor,
    blank: int,
    reduction: str = "mean",
    zero_infinity: bool = False,
    ignore_index: int = -100,
) -> torch.Tensor:
    """transformers' ``ForCTCLoss``: labels equal to ``ignore_index`` or the blank are padding."""
    labels = labels.to(logits.device)
    labels_mask = (labels != ignore_index) & (labels != blank)
    log_probs = F.log_softmax(logits, dim=-1, dtype=torch.float32).transpose(0, 1)
    with torch.backends.cudnn.flags(enabled=False):
        return F.ctc_loss(
            log_probs,
            labels.masked_select(labels_mask),
            frame_lengths,
            labels_mask.sum(-1),
            blank=blank,
            reduction=reduction,
            zero_infinity=zero_infinity,
        )


class Wav2Vec2ForSequenceClassification(Wav2Vec2PreTrainedModel):
    """Wav2Vec2 with a projection, mean pooling over the real frames and a classifier (keyword
    spotting, speaker / emotion / language identification)."""

    def __init__(self, config: Wav2Vec2Config) -> None:
        super().__init__(config)
        self._refuse_adapter()
        self.wav2vec2 = Wav2Vec2Model(config)
        if config.use_weighted_layer_sum:
            layers = config.num_hidden_layers + 1
            self.layer_weights = nn.Parameter(torch.ones(layers) / layers)
        self.projector = nn.Linear(config.hidden_size, config.classifier_proj_size)
        self.classifier = nn.Linear(config.classifier_proj_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_values: torch.Tensor | None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        """``labels`` (batch,): class ids; the loss is cross-entropy, as transformers computes it."""
        outputs = self.wav2vec2(
            input_values,
            attention_mask,
            output_attentions=output_attentions,
            output_hidden_states=True if self.config.use_weighted_layer_sum else output_hidden_states,
            return_dict=True,
        )
        hidden_states = self.projector(self._layer_sum_or_last(outputs))
        if attention_mask is None:
            pooled = hidden_states.mean(dim=1)
        else:
            frame_mask = self._get_feature_vector_attention_mask(hidden_states.shape[1], attention_mask)
            hidden_states = hidden_states.masked_fill(~frame_mask[..., None], 0.0)
            pooled = hidden_states.sum(dim=1) / frame_mask.sum(dim=1).view(-1, 1)
        logits = self.classifier(pooled)
        loss = None
        if labels is not None:
            loss = token_classification_loss(logits, labels.view(-1), self.config.num_labels)
        output = SequenceClassifierOutput(
            loss=loss,
            logits=logits,
            hidden_states=outputs.hidden_states if _wants_hidden(self.config, output_hidden_states) else None,
            attentions=outputs.attentions,
        )
        return self._output(output, return_dict)


def _wants_hidden(config: Wav2Vec2Config, output_hidden_states: bool | None) -> bool:
    return bool(config.output_hidden_states if output_hidden_states is None else output_hidden_states)


class Wav2Vec2ForAudioFrameClassification(Wav2Vec2PreTrainedModel):
    """Wav2Vec2 with a classifier on every frame (speaker diarization)."""

    def __init__(self, config: Wav2Vec2Config) -> None:
        super().__init__(config)
        self._refuse_adapter()
        self.wav2vec2 = Wav2Vec2Model(config)
        if config.use_weighted_layer_sum:
            layers = config.num_hidden_layers + 1
            self.layer_weights = nn.Parameter(torch.ones(layers) / layers)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.num_labels = config.num_labels
        self.post_init()

    def forward(
        self,
        input_values: torch.Tensor | None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        """``labels`` (batch, frames, num_labels): one-hot (or scores) per frame; as transformers, the
        loss is cross-entropy against each frame's argmax."""
        outputs = self.wav2vec2(
            input_values,
            attention_mask,
            output_attentions=output_attentions,
            output_hidden_states=True if self.config.use_weighted_layer_sum else output_hidden_states,
            return_dict=True,
        )
        logits = self.classifier(self._layer_sum_or_last(outputs))
        loss = None
        if labels is not None:
            if labels.numel() != logits.numel():
                raise LabelError(
                    f"labels has shape {tuple(labels.shape)}; this head expects one score per frame and label, "
                    f"shape {tuple(logits.shape)}"
                )
            targets = torch.argmax(labels.view(-1, self.num_labels), dim=1).to(logits.device)
            loss = F.cross_entropy(logits.view(-1, self.num_labels), targets)
        output = TokenClassifierOutput(
            loss=loss,
            logits=logits,
            hidden_states=outputs.hidden_states if _wants_hidden(self.config, output_hidden_states) else None,
            attentions=outputs.attentions,
        )
        return self._output(output, return_dict)


def _check_class_ids(labels: Any, batch_size: int, num_labels: int) -> None:
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.numel() != batch_size:
        raise LabelError(f"labels must be an integer tensor of {batch_size} class ids (batch,)")
    if bool(((labels < 0) | (labels >= num_labels)).any()):
        raise LabelError(
            f"labels hold ids outside 0..{num_labels - 1}; check num_labels (config: {num_labels})"
        )


class AMSoftmaxLoss(nn.Module):
    """Additive-margin softmax loss over cosine similarities (``weight``: input_dim x num_labels)."""

    def __init__(self, input_dim: int, num_labels: int, scale: float = 30.0, margin: float = 0.4) -> None:
        super().__init__()
        self.scale = scale
        self.margin = margin
        self.num_labels = num_labels
        self.weight = nn.Parameter(torch.randn(input_dim, num_labels), requires_grad=True)

    def forward(self, hidden_states: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        labels = labels.flatten()
        cos_theta = torch.mm(F.normalize(hidden_states, dim=1), F.normalize(self.weight, dim=0))
        onehot = F.one_hot(labels, self.num_labels).bool()
        logits = self.scale * torch.where(onehot, cos_theta - self.margin, cos_theta)
        return F.cross_entropy(logits, labels)


class TDNNLayer(nn.Module):
    """A time-delay layer: a dilated 1-D convolution stored as a Linear ``kernel`` (transformers'
    layout: in_dim * kernel_size inputs), then ReLU."""

    def __init__(self, config: Wav2Vec2Config, layer_id: int = 0) -> None:
        super().__init__()
        self.in_conv_dim = config.tdnn_dim[layer_id - 1] if layer_id > 0 else config.tdnn_dim[layer_id]
        self.out_conv_dim = config.tdnn_dim[layer_id]
        self.kernel_size = config.tdnn_kernel[layer_id]
        self.dilation = config.tdnn_dilation[layer_id]
        self.kernel = nn.Linear(self.in_conv_dim * self.kernel_size, self.out_conv_dim)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        weight = self.kernel.weight.view(self.out_conv_dim, self.kernel_size, self.in_conv_dim).transpose(
            1, 2
        )
        hidden_states = F.conv1d(
            hidden_states.transpose(1, 2), weight, self.kernel.bias, dilation=self.dilation
        )
        return F.relu(hidden_states.transpose(1, 2))


class Wav2Vec2ForXVector(Wav2Vec2PreTrainedModel):
    """Wav2Vec2 with TDNN layers, statistics pooling (mean and std over the real frames) and an
    x-vector embedding (speaker verification); trained with the AM-softmax loss."""

    def __init__(self, config: Wav2Vec2Config) -> None:
        super().__init__(config)
        if not config.tdnn_dim:
            raise ConfigError(
                "config key 'tdnn_dim' is empty: Wav2Vec2ForXVector needs at least one TDNN layer"
            )
        self.wav2vec2 = Wav2Vec2Model(config)
        if config.use_weighted_layer_sum:
            layers = config.num_hidden_layers + 1
            self.layer_weights = nn.Parameter(torch.ones(layers) / layers)
        self.projector = nn.Linear(config.hidden_size, config.tdnn_dim[0])
        self.tdnn = nn.ModuleList(TDNNLayer(config, i) for i in range(len(config.tdnn_dim)))
        self.feature_extractor = nn.Linear(config.tdnn_dim[-1] * 2, config.xvector_output_dim)
        self.classifier = nn.Linear(config.xvector_output_dim, config.xvector_output_dim)
        self.objective = AMSoftmaxLoss(config.xvector_output_dim, config.num_labels)
        self.post_init()

    def _get_tdnn_output_lengths(self, input_lengths: torch.Tensor | int) -> torch.Tensor | int:
        for kernel_size in self.config.tdnn_kernel:
            input_lengths = input_lengths - kernel_size + 1
        return input_lengths

    def forward(
        self,
        input_values: torch.Tensor | None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        """``labels`` (batch,): speaker ids for the AM-softmax loss."""
        outputs = self.wav2vec2(
            input_values,
            attention_mask,
            output_attentions=output_attentions,
            output_hidden_states=True if self.config.use_weighted_layer_sum else output_hidden_states,
            return_dict=True,
        )
        hidden_states = self.projector(self._layer_sum_or_last(outputs))
        config = self.config
        consumed = sum(d * (k - 1) for k, d in zip(config.tdnn_kernel, config.tdnn_dilation, strict=True))
        if hidden_states.shape[1] - consumed < 2:
            raise ModelInputError(
                f"input_values is too short for Wav2Vec2ForXVector: {hidden_states.shape[1]} frames, but the TDNN "
                f"layers (config keys 'tdnn_kernel', 'tdnn_dilation') consume {consumed} and the statistics "
                "pooling needs 2 more; give longer audio"
            )
        for layer in self.tdnn:
            hidden_states = layer(hidden_states)
        if attention_mask is None:
            lengths = [hidden_states.shape[1]] * hidden_states.shape[0]
        else:  # transformers' formula (it leaves the dilation out)
            frames = self._get_feat_extract_output_lengths(attention_mask.sum(dim=1))
            lengths = self._get_tdnn_output_lengths(frames).tolist()
        if min(lengths) < 2:
            raise ModelInputError(
                "attention_mask leaves a row too short for Wav2Vec2ForXVector: fewer than 2 frames to pool "
                "after the TDNN layers; give longer audio"
            )
        mean = torch.stack([hidden_states[i, :length].mean(dim=0) for i, length in enumerate(lengths)])
        std = torch.stack([hidden_states[i, :length].std(dim=0) for i, length in enumerate(lengths)])
        embeddings = self.feature_extractor(torch.cat([mean, std], dim=-1))
        logits = self.classifier(embeddings)
        loss = None
        if labels is not None:
            _check_class_ids(labels, logits.shape[0], self.config.num_labels)
            loss = self.objective(logits, labels)
        output = XVectorOutput(
            loss=loss,
            logits=logits,
            embeddings=embeddings,
            hidden_states=outputs.hidden_states if _wants_hidden(self.config, output_hidden_states) else None,
            attentions=outputs.attentions,
        )
        return self._output(output, return_dict)
