"""Llama: token embeddings, pre-RMSNorm decoder layers with rotary attention and a SiLU-gated MLP.

Attribute names follow transformers' Llama checkpoint keys (``model.layers.0.self_attn.q_proj.
weight`` ...), so Hub checkpoints load without renaming. Attention runs through
``torch.nn.functional.scaled_dot_product_attention`` with grouped-query attention
(``num_key_value_heads``). The KV cache is a tuple with one ``(key, value)`` pair per layer,
each ``(batch, num_key_value_heads, past_length, head_dim)``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from autohub_core.errors import ConfigError, UnsupportedConfigError
from autohub_core.generation import GenerationMixin
from autohub_core.layers import (
    attention,
    get_activation,
    question_answering_loss,
    sequence_classification_loss,
    token_classification_loss,
)
from autohub_core.modeling import PreTrainedModel
from autohub_core.outputs import (
    BaseModelOutputWithPast,
    CausalLMOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from autohub_llama.config import LlamaConfig

__all__ = [
    "LlamaForCausalLM",
    "LlamaForQuestionAnswering",
    "LlamaForSequenceClassification",
    "LlamaForTokenClassification",
    "LlamaModel",
    "LlamaPreTrainedModel",
]

KeyValue = tuple[torch.Tensor, torch.Tensor]
SUPPORTED_ROPE_TYPES = ("default", "linear", "dynamic", "llama3", "yarn")


def _check_supported(config: LlamaConfig) -> None:
    for key in (
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
        "vocab_size",
    ):
        value = getattr(config, key)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"config key {key!r} must be a positive integer, got {value!r}")
    if config.num_attention_heads % config.num_key_value_heads:
        raise ConfigError(
            f"config key 'num_attention_heads' ({config.num_attention_heads}) must be a multiple of "
            f"'num_key_value_heads' ({config.num_key_value_heads})"
        )
    get_activation(config.hidden_act)
    rope = config.rope_parameters
    if not isinstance(rope, dict) or rope.get("rope_type") not in SUPPORTED_ROPE_TYPES:
        rope_type = rope.get("rope_type") if isinstance(rope, dict) else rope
        raise UnsupportedConfigError(
            f"config key 'rope_parameters' (rope_type {rope_type!r}) is not supported by autohub-llama; "
            f"supported rope types: {SUPPORTED_ROPE_TYPES}"
        )
    if rope.get("partial_rotary_factor", 1.0) != 1.0:
        raise UnsupportedConfigError(
            "config key 'partial_rotary_factor' != 1.0 is not supported by autohub-llama (Llama rotates all dims)"
        )


# -- rotary position embeddings ----------------------------------------------------------------


def rope_inverse_frequencies(config: LlamaConfig, seq_len: int | None = None) -> tuple[torch.Tensor, float]:
    """RoPE inverse frequencies and cos/sin scaling for ``config.rope_parameters`` (as transformers).

    ``seq_len`` matters only for ``dynamic`` (NTK) scaling, which grows the base past
    ``max_position_embeddings``.
    """
    rope = config.rope_parameters
    rope_type = rope["rope_type"]
    base = rope["rope_theta"]
    dim = config.head_dim
    exponents = torch.arange(0, dim, 2, dtype=torch.int64).float() / dim
    if rope_type == "dynamic":
        factor = rope["factor"]
        max_positions = config.max_position_embeddings
        if seq_len is None:
            base = base * ((factor * max_positions / max_positions) - (factor - 1)) ** (dim / (dim - 2))
        else:
            length = torch.maximum(torch.tensor(seq_len), torch.tensor(max_positions))
            base = base * ((factor * length / max_positions) - (factor - 1)) ** (dim / (dim - 2))
    inv_freq = 1.0 / (base**exponents)
    if rope_type == "linear":
        return inv_freq / rope["factor"], 1.0
    if rope_type == "llama3":
        return _llama3_frequencies(inv_freq, rope), 1.0
    if rope_type == "yarn":
        return _yarn_frequencies(config, rope, dim, base)
    return inv_freq, 1.0


def _llama3_frequencies(inv_freq: torch.Tensor, rope: dict[str, Any]) -> torch.Tensor:
    factor = rope["factor"]
    low_freq_factor = rope["low_freq_factor"]
    high_freq_factor = rope["high_freq_factor"]
    old_context_len = rope["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    is_medium = (wavelen >= high_freq_wavelen) & (wavelen <= low_freq_wavelen)
    return torch.where(is_medium, smoothed, scaled)


def _yarn_frequencies(
    config: LlamaConfig, rope: dict[str, Any], dim: int, base: float
) -> tuple[torch.Tensor, float]:
    original_length = rope["original_max_position_embeddings"]
    factor = rope.get("factor")
    if factor is None:
        factor = config.max_position_embeddings / original_length

    def mscale(scale: float, weight: float = 1.0) -> float:
        return 1.0 if scale <= 1 else 0.1 * weight * math.log(scale) + 1.0

    attention_factor = rope.get("attention_factor")
    if attention_factor is None:
        if rope.get("mscale") and rope.get("mscale_all_dim"):
            attention_factor = float(mscale(factor, rope["mscale"]) / mscale(factor, rope["mscale_all_dim"]))
        else:
            attention_factor = mscale(factor)
    beta_fast = rope.get("beta_fast") or 32
    beta_slow = rope.get("beta_slow") or 1

    def correction_dim(rotations: float) -> float:
        return (dim * math.log(original_length / (rotations * 2 * math.pi))) / (2 * math.log(base))

    low, high = correction_dim(beta_fast), correction_dim(beta_slow)
    if rope.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
    extrapolation_weight = 1 - ramp
    position_freqs = base ** (torch.arange(0, dim, 2).float() / dim)
    extrapolated = 1.0 / position_freqs
    interpolated = 1.0 / (factor * position_freqs)
    inv_freq = interpolated * (1 - extrapolation_weight) + extrapolated * extrapolation_weight
    return inv_freq, attention_factor


class LlamaRotaryEmbedding(nn.Module):
    """cos / sin tables for the positions. Holds no buffers: the inverse frequencies are
    computed on first use, and recomputed for ``dynamic`` scaling when a sequence grows past
    the longest one seen (and reset below ``max_position_embeddings``), like transformers."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.config = config
        self.rope_type = config.rope_parameters["rope_type"]
        self.attention_scaling = 1.0
        self._inv_freq: torch.Tensor | None = None
        self._original_inv_freq: torch.Tensor | None = None
        self._max_seq_len_cached = config.max_position_embeddings

    def _inverse_frequencies(self, position_ids: torch.Tensor) -> torch.Tensor:
        if self._inv_freq is None:
            self._inv_freq, self.attention_scaling = rope_inverse_frequencies(self.config)
            self._original_inv_freq = self._inv_freq
        if self.rope_type == "dynamic":
            seq_len = int(position_ids.max()) + 1
            original_length = self.config.max_position_embeddings
            if seq_len > self._max_seq_len_cached:
                self._inv_freq, self.attention_scaling = rope_inverse_frequencies(self.config, seq_len)
                self._max_seq_len_cached = seq_len
            if seq_len < original_length and self._max_seq_len_cached > original_length:
                self._inv_freq = self._original_inv_freq
                self._max_seq_len_cached = original_length
        return self._inv_freq.to(position_ids.device)

    @torch.no_grad()
    def forward(self, x: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        inv_freq = self._inverse_frequencies(position_ids)
        freqs = position_ids[..., None].float() * inv_freq
        angles = torch.cat((freqs, freqs), dim=-1)
        cos = angles.cos() * self.attention_scaling
        sin = angles.sin() * self.attention_scaling
        return cos.to(x.dtype), sin.to(x.dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _apply_rotary(
    query: torch.Tensor, key: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    return query * cos + _rotate_half(query) * sin, key * cos + _rotate_half(key) * sin


def _repeat_kv(states: torch.Tensor, groups: int) -> torch.Tensor:
    """(batch, kv_heads, seq, dim) -> (batch, kv_heads * groups, seq, dim) for grouped-query attention."""
    if groups == 1:
        return states
    batch, kv_heads, length, dim = states.shape
    return states[:, :, None].expand(batch, kv_heads, groups, length, dim).reshape(batch, -1, length, dim)


def causal_attention_mask(
    attention_mask: torch.Tensor | None,
    query_length: int,
    past_length: int,
    device: torch.device,
    sliding_window: int | None = None,
) -> torch.Tensor | None:
    """Boolean (batch, 1, query, key) mask (True = attend), or None when plain causal attention will do.

    Query ``i`` sees keys ``<= past_length + i`` that are not padding (and, with a sliding
    window, fewer than ``sliding_window`` positions back). Like transformers, no mask is
    built when there is no padding and ``is_causal`` alone describes the pattern.
    """
    key_length = past_length + query_length
    if attention_mask is not None:
        if attention_mask.dim() != 2 or attention_mask.shape[-1] != key_length:
            raise ValueError(
                f"attention_mask must have shape (batch, past_length + sequence_length) = (*, {key_length}), "
                f"got {tuple(attention_mask.shape)}"
            )
        padding = attention_mask.to(device=device, dtype=torch.bool)
        if bool(padding.all()):
            padding = None
    else:
        padding = None
    window_applies = sliding_window is not None and key_length >= sliding_window
    if padding is None and not window_applies and (query_length == 1 or key_length == query_length):
        return None
    query_positions = torch.arange(past_length, key_length, device=device)[:, None]
    key_positions = torch.arange(key_length, device=device)[None, :]
    allowed = key_positions <= query_positions
    if sliding_window is not None:
        allowed = allowed & (key_positions > query_positions - sliding_window)
    allowed = allowed[None, None]
    if padding is not None:
        allowed = allowed & padding[:, None, None, :]
    return allowed


def _additive(mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """Boolean mask -> 0 / most-negative additive mask (transformers' eager attention)."""
    if mask is None:
        return None
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, torch.finfo(dtype).min)


# -- layers ----------------------------------------------------------------------------------


class LlamaRMSNorm(nn.Module):
    """Root-mean-square LayerNorm without bias or mean subtraction, computed in float32."""

    def __init__(self, hidden_size: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


class LlamaMLP(nn.Module):
    """``down(act(gate(x)) * up(x))``."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=config.mlp_bias)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=config.mlp_bias)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=config.mlp_bias)
        self.act_fn = get_activation(config.hidden_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class LlamaAttention(nn.Module):
    """Grouped-query self-attention with rotary position embeddings and a KV cache."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.head_dim = config.head_dim
        self.num_key_value_groups = config.num_attention_heads // config.num_key_value_heads
        self.scaling = self.head_dim**-0.5
        self.attention_dropout = config.attention_dropout
        bias = config.attention_bias
        self.q_proj = nn.Linear(config.hidden_size, config.num_attention_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(config.hidden_size, config.num_key_value_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(config.hidden_size, config.num_key_value_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(config.num_attention_heads * self.head_dim, config.hidden_size, bias=bias)

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor | None,
        past_key_value: KeyValue | None,
        output_attentions: bool,
    ) -> tuple[torch.Tensor, KeyValue, torch.Tensor | None]:
        batch_size, length, _ = hidden_states.shape
        shape = (batch_size, length, -1, self.head_dim)
        query = self.q_proj(hidden_states).view(shape).transpose(1, 2)
        key = self.k_proj(hidden_states).view(shape).transpose(1, 2)
        value = self.v_proj(hidden_states).view(shape).transpose(1, 2)
        query, key = _apply_rotary(query, key, *position_embeddings)
        if past_key_value is not None:
            key = torch.cat([past_key_value[0], key], dim=2)
            value = torch.cat([past_key_value[1], value], dim=2)
        groups = self.num_key_value_groups
        if length == 1 and groups > 1 and not output_attentions:
            # One new token: its query heads of each KV group attend as one group, no KV copy.
            packed = query.reshape(batch_size, -1, groups, self.head_dim)
            dropout = self.attention_dropout if self.training else 0.0
            context, weights = attention(packed, key, value, mask, dropout=dropout, scale=self.scaling)
            context = context.reshape(batch_size, -1, 1, self.head_dim)
        else:
            context, weights = attention(
                query,
                _repeat_kv(key, groups),
                _repeat_kv(value, groups),
                _additive(mask, query.dtype) if output_attentions else mask,
                dropout=self.attention_dropout if self.training else 0.0,
                scale=self.scaling,
                is_causal=mask is None and length > 1,
                output_attentions=output_attentions,
            )
        context = context.transpose(1, 2).reshape(batch_size, length, -1)
        return self.o_proj(context), (key, value), weights


class LlamaDecoderLayer(nn.Module):
    """Pre-norm residual block: RMSNorm -> attention, RMSNorm -> MLP."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.self_attn = LlamaAttention(config)
        self.mlp = LlamaMLP(config)
        self.input_layernorm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor | None,
        past_key_value: KeyValue | None,
        output_attentions: bool,
    ) -> tuple[torch.Tensor, KeyValue, torch.Tensor | None]:
        attended, present, weights = self.self_attn(
            self.input_layernorm(hidden_states), position_embeddings, mask, past_key_value, output_attentions
        )
        hidden_states = hidden_states + attended
        hidden_states = hidden_states + self.mlp(self.post_attention_layernorm(hidden_states))
        return hidden_states, present, weights


# -- models ----------------------------------------------------------------------------------


class LlamaPreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions shared by every Llama class."""

    config_class = LlamaConfig
    base_model_prefix = "model"

    def __init__(self, config: LlamaConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        _check_supported(config)

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
        elif isinstance(module, LlamaRMSNorm):
            nn.init.ones_(module.weight)


class LlamaModel(LlamaPreTrainedModel):
    """The bare Llama decoder: returns the final (normed) hidden states and the KV cache."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__(config)
        self.padding_idx = config.pad_token_id
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, self.padding_idx)
        self.layers = nn.ModuleList([LlamaDecoderLayer(config) for _ in range(config.num_hidden_layers)])
        self.norm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.rotary_emb = LlamaRotaryEmbedding(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embed_tokens = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: tuple[KeyValue, ...] | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPast | tuple[Any, ...]:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("You must specify exactly one of input_ids or inputs_embeds")
        config = self.config
        use_cache = config.use_cache if use_cache is None else use_cache
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        length = inputs_embeds.shape[1]
        past_length = past_key_values[0][0].shape[2] if past_key_values else 0
        if position_ids is None:
            position_ids = torch.arange(past_length, past_length + length, device=inputs_embeds.device)[None]
        mask = causal_attention_mask(attention_mask, length, past_length, inputs_embeds.device)
        position_embeddings = self.rotary_emb(inputs_embeds, position_ids)

        hidden_states = inputs_embeds
        all_hidden_states: tuple[torch.Tensor, ...] = ()
        all_attentions: tuple[torch.Tensor, ...] = ()
        presents: tuple[KeyValue, ...] = ()
        for index, layer in enumerate(self.layers):
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            past = past_key_values[index] if past_key_values else None
            hidden_states, present, weights = layer(
                hidden_states, position_embeddings, mask, past, output_attentions
            )
            presents += (present,)
            if output_attentions:
                all_attentions += (weights,)
        hidden_states = self.norm(hidden_states)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)
        outputs = BaseModelOutputWithPast(
            last_hidden_state=hidden_states,
            past_key_values=presents if use_cache else None,
            hidden_states=all_hidden_states if output_hidden_states else None,
            attentions=all_attentions if output_attentions else None,
        )
        return _finish(outputs, return_dict, config)


def _finish(output: Any, return_dict: bool | None, config: LlamaConfig) -> Any:
    return_dict = config.use_return_dict if return_dict is None else return_dict
    return output if return_dict else output.to_tuple()


class LlamaForCausalLM(LlamaPreTrainedModel, GenerationMixin):
    """Llama with the language-modelling head (``lm_head``, tied to the embeddings when configured)."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__(config)
        self.model = LlamaModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: tuple[KeyValue, ...] | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        logits_to_keep: int = 0,
    ) -> Any:
        """``logits_to_keep=n`` computes the logits of the last ``n`` positions only (0: all)."""
        outputs = self.model(
            input_ids,
            attention_mask,
            position_ids,
            past_key_values,
            inputs_embeds,
            use_cache,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        hidden_states = outputs.last_hidden_state
        logits = self.lm_head(hidden_states[:, -logits_to_keep:] if logits_to_keep else hidden_states)
        loss = None
        if labels is not None:
            shifted = F.pad(labels, (0, 1), value=-100)[..., 1:].to(logits.device)
            loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), shifted.reshape(-1))
        output = CausalLMOutput(
            loss=loss,
            logits=logits,
            past_key_values=outputs.past_key_values,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return _finish(output, return_dict, self.config)

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.Tensor,
        past_key_values: tuple[KeyValue, ...] | None = None,
        attention_mask: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Forward kwargs for the next step: only the new tokens once a cache exists, and
        position ids counted over the attention mask (left padding)."""
        past_length = past_key_values[0][0].shape[2] if past_key_values else 0
        input_ids = input_ids[:, past_length:]
        position_ids = None
        if attention_mask is not None:
            position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, past_length:]
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "position_ids": position_ids,
            "past_key_values": past_key_values,
            **kwargs,
        }


def _last_token_indices(input_ids: torch.Tensor | None, pad_token_id: int | None, batch_size: int) -> Any:
    """Index of the rightmost non-pad token of each row (transformers' rule for left and right padding)."""
    if pad_token_id is None:
        if batch_size != 1:
            raise ValueError("Cannot handle batch sizes > 1 if no padding token is defined.")
        return -1
    if input_ids is None:
        return -1
    non_pad = (input_ids != pad_token_id).int()
    positions = torch.arange(input_ids.shape[-1], device=input_ids.device, dtype=torch.int32)
    return (positions * non_pad).argmax(-1)


class LlamaForSequenceClassification(LlamaPreTrainedModel):
    """Llama with a classification / regression head (``score``) over the last non-pad token."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = LlamaModel(config)
        self.score = nn.Linear(config.hidden_size, self.num_labels, bias=False)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: tuple[KeyValue, ...] | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> Any:
        outputs = self.model(
            input_ids,
            attention_mask,
            position_ids,
            past_key_values,
            inputs_embeds,
            use_cache,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.score(outputs.last_hidden_state)
        batch_size = logits.shape[0]
        last = _last_token_indices(input_ids, self.config.pad_token_id, batch_size)
        pooled_logits = logits[torch.arange(batch_size, device=logits.device), last]
        loss = None
        if labels is not None:
            loss = sequence_classification_loss(
                pooled_logits, labels.to(logits.device), self.config, self.num_labels
            )
        output = SequenceClassifierOutput(
            loss=loss,
            logits=pooled_logits,
            past_key_values=outputs.past_key_values,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return _finish(output, return_dict, self.config)


class LlamaForTokenClassification(LlamaPreTrainedModel):
    """Llama with a per-token classification head (``score``)."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = LlamaModel(config)
        dropout = getattr(config, "classifier_dropout", None)
        if dropout is None:
            dropout = getattr(config, "hidden_dropout", None)
        self.dropout = nn.Dropout(0.1 if dropout is None else dropout)
        self.score = nn.Linear(
            config.hidden_size, config.num_labels, bias=getattr(config, "token_classification_bias", True)
        )
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: tuple[KeyValue, ...] | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> Any:
        outputs = self.model(
            input_ids,
            attention_mask,
            position_ids,
            past_key_values,
            inputs_embeds,
            use_cache,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.score(self.dropout(outputs.last_hidden_state))
        loss = None
        if labels is not None:
            loss = token_classification_loss(logits.float(), labels, self.num_labels)
        output = TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return _finish(output, return_dict, self.config)


class LlamaForQuestionAnswering(LlamaPreTrainedModel):
    """Llama with a span-extraction head; the base model is ``transformer`` as in transformers."""

    base_model_prefix = "transformer"

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__(config)
        self.transformer = LlamaModel(config)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: tuple[KeyValue, ...] | None = None,
        inputs_embeds: torch.Tensor | None = None,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> Any:
        outputs = self.transformer(
            input_ids,
            attention_mask,
            position_ids,
            past_key_values,
            inputs_embeds,
            False,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.qa_outputs(outputs.last_hidden_state)
        start_logits, end_logits = (part.squeeze(-1).contiguous() for part in logits.split(1, dim=-1))
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = question_answering_loss(start_logits, end_logits, start_positions, end_positions)
        output = QuestionAnsweringModelOutput(
            loss=loss,
            start_logits=start_logits,
            end_logits=end_logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return _finish(output, return_dict, self.config)
