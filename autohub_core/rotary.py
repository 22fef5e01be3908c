"""Building blocks of decoder-only transformers with rotary position embeddings (RoPE).

RoPE inverse frequencies for every ``rope_parameters["rope_type"]`` transformers 5 computes
the same way (``default``, ``linear``, ``dynamic``, ``llama3``, ``yarn``, ``longrope``), over the
first ``partial_rotary_factor`` of each head's dims (the rest pass through unrotated), the rotary
embedding module, grouped-query self-attention with a KV cache, the causal (+ padding,
+ sliding-window) mask, RMSNorm and the gated MLP. Families compose them in their own
modeling file and keep the attribute names of their checkpoints; each piece matches
transformers to float rounding. Imported by modeling code only (it imports torch).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from autohub_core.cache import LayerCache
from autohub_core.configuration import ROTARY_DECODER_CONSTRAINTS, ROTARY_DECODER_RULES, check_rules
from autohub_core.errors import ConfigError, UnsupportedConfigError
from autohub_core.layers import attention, get_activation

__all__ = [
    "DECODER_TP_PLAN",
    "SUPPORTED_ROPE_TYPES",
    "GatedMLP",
    "KeyValue",
    "RMSNorm",
    "RotaryAttention",
    "RotaryEmbedding",
    "UnitOffsetRMSNorm",
    "apply_rotary",
    "causal_mask",
    "check_rotary_decoder_config",
    "exact_sdpa",
    "repeat_kv",
    "rope_inverse_frequencies",
    "rotate_half",
]

#: The tensor-parallel plan (transformers') of a decoder whose ``layers.*`` hold a
#: :class:`RotaryAttention` ``self_attn`` and a :class:`GatedMLP` ``mlp``: a family built that
#: way sets ``base_model_tp_plan = DECODER_TP_PLAN``.
DECODER_TP_PLAN: dict[str, str] = {
    "layers.*.self_attn.q_proj": "colwise",
    "layers.*.self_attn.k_proj": "colwise",
    "layers.*.self_attn.v_proj": "colwise",
    "layers.*.self_attn.o_proj": "rowwise",
    "layers.*.mlp.gate_proj": "colwise",
    "layers.*.mlp.up_proj": "colwise",
    "layers.*.mlp.down_proj": "rowwise",
}

#: One layer's cache: ``(key, value)``, each ``(batch, num_key_value_heads, past_length, head_dim)``.
KeyValue = tuple[torch.Tensor, torch.Tensor]
SUPPORTED_ROPE_TYPES = ("default", "linear", "dynamic", "llama3", "yarn", "longrope")


def check_rotary_decoder_config(config: Any, distribution: str) -> None:
    """Raise on config values a rotary decoder cannot use: a rope type it does not implement or an
    unknown ``hidden_act`` (``UnsupportedConfigError``, naming ``distribution``,
    ``"autohub-<family>"``), ``longrope`` factors of another length than the rotated dims' half
    (``ConfigError``), and values :data:`ROTARY_DECODER_RULES` / :data:`ROTARY_DECODER_CONSTRAINTS`
    refuse (``ConfigError``: sizes, head grouping, RoPE keys per rope type ...), whatever rules the
    config's class declares."""
    rope = config.rope_parameters
    if not isinstance(rope, dict) or rope.get("rope_type") not in SUPPORTED_ROPE_TYPES:
        rope_type = rope.get("rope_type") if isinstance(rope, dict) else rope
        raise UnsupportedConfigError(
            f"config key 'rope_parameters' (rope_type {rope_type!r}) is not supported by {distribution}; "
            f"supported rope types: {SUPPORTED_ROPE_TYPES}"
        )
    present = {key: getattr(config, key) for key in ROTARY_DECODER_RULES if hasattr(config, key)}
    present.pop("rope_theta", None)  # a legacy key, read into rope_parameters
    check_rules(present, ROTARY_DECODER_RULES, ROTARY_DECODER_CONSTRAINTS)
    if rope["rope_type"] == "longrope":
        pairs = _rotary_dim(config) // 2
        for key in ("short_factor", "long_factor"):
            if len(rope[key]) != pairs:
                raise ConfigError(
                    f"config key 'rope_parameters' has {len(rope[key])} {key} values; longrope needs one per "
                    f"rotated dim pair: {pairs} (head_dim {config.head_dim} x partial_rotary_factor / 2)"
                )
    get_activation(config.hidden_act)


def exact_sdpa(config: Any) -> bool:
    """Whether :class:`RotaryAttention` makes transformers' sdpa calls exactly (bf16 / fp16 tokens
    identical to transformers): when ``attn_implementation="sdpa"`` was asked for explicitly
    (``from_pretrained`` / ``from_config`` / ``set_attn_implementation``). When it was left to its
    default, one-token decoding packs each KV group's query heads into one attention call over the
    un-expanded cache (the fast path: the same result up to bf16 / fp16 rounding).
    ``config._attn_implementation`` reads ``"sdpa"`` either way."""
    return not getattr(config, "_attn_implementation_autoset", False)


# -- rotary position embeddings ----------------------------------------------------------------


def _rotary_dim(config: Any) -> int:
    """How many leading dims of each head are rotated: ``head_dim * partial_rotary_factor``."""
    return int(config.head_dim * config.rope_parameters.get("partial_rotary_factor", 1.0))


def rope_inverse_frequencies(config: Any, seq_len: int | None = None) -> tuple[torch.Tensor, float]:
    """RoPE inverse frequencies and cos/sin scaling for ``config.rope_parameters`` (as transformers).

    Reads ``rope_parameters`` (its ``partial_rotary_factor``, default 1, gives the rotated share
    of ``head_dim``), ``head_dim`` and ``max_position_embeddings``. ``seq_len`` matters for
    ``dynamic`` (NTK) scaling, which grows the base past ``max_position_embeddings``, and for
    ``longrope``, whose ``long_factor`` applies past ``original_max_position_embeddings``
    (``short_factor`` otherwise).
    """
    rope = config.rope_parameters
    rope_type = rope["rope_type"]
    base = rope["rope_theta"]
    dim = _rotary_dim(config)
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
        return _wavelength_band_frequencies(inv_freq, rope), 1.0
    if rope_type == "yarn":
        return _yarn_frequencies(config, rope, dim, base)
    if rope_type == "longrope":
        return _longrope_frequencies(config, rope, base**exponents, seq_len)
    return inv_freq, 1.0


def _longrope_frequencies(
    config: Any, rope: dict[str, Any], wavelengths: torch.Tensor, seq_len: int | None
) -> tuple[torch.Tensor, float]:
    """rope_type ``longrope``: frequencies divided by ``long_factor`` past the original length
    (``seq_len > original_max_position_embeddings``), by ``short_factor`` otherwise; the attention
    factor defaults to ``sqrt(1 + log(factor) / log(original length))``, ``factor`` to
    ``max_position_embeddings / original_max_position_embeddings``."""
    original_length = rope["original_max_position_embeddings"]
    factor = rope.get("factor")
    if factor is None:
        factor = config.max_position_embeddings / original_length
    attention_factor = rope.get("attention_factor")
    if attention_factor is None:
        attention_factor = (
            1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(original_length))
        )
    long = bool(seq_len) and seq_len > original_length
    factors = torch.tensor(rope["long_factor" if long else "short_factor"], dtype=torch.float32)
    return 1.0 / (factors * wavelengths), attention_factor


def _wavelength_band_frequencies(inv_freq: torch.Tensor, rope: dict[str, Any]) -> torch.Tensor:
    """rope_type ``llama3``: long wavelengths divided by ``factor``, short ones kept, a smooth blend between."""
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


def _yarn_frequencies(config: Any, rope: dict[str, Any], dim: int, base: float) -> tuple[torch.Tensor, float]:
    """rope_type ``yarn``: interpolated / extrapolated frequencies blended by a linear ramp, and the
    attention factor that scales cos and sin."""
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


class RotaryEmbedding(nn.Module):
    """cos / sin tables for the positions. Holds no buffers: the inverse frequencies are computed
    on the CPU when the module is built (also under a meta-device context: nothing to load), moved
    to the positions' device per call, and recomputed for ``dynamic`` scaling when a sequence grows
    past the longest one seen (and reset below ``max_position_embeddings``), like transformers.
    ``longrope`` uses its long factors for every row of a call whose largest position is past
    ``original_max_position_embeddings``, its short ones otherwise (as transformers decides)."""

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config
        self.rope_type = config.rope_parameters["rope_type"]
        # Computed now, not on first use: a compiled forward would otherwise guard on the lazy
        # state and compile its first graph again on the next call.
        with torch.device("cpu"):
            self._inv_freq, self.attention_scaling = rope_inverse_frequencies(config)
        self._original_inv_freq = self._inv_freq
        self._long_inv_freq: torch.Tensor | None = None
        self._max_seq_len_cached = config.max_position_embeddings

    def _inverse_frequencies(self, position_ids: torch.Tensor) -> torch.Tensor:
        if self.rope_type == "dynamic":
            seq_len = int(position_ids.max()) + 1
            original_length = self.config.max_position_embeddings
            if seq_len > self._max_seq_len_cached:
                self._inv_freq, self.attention_scaling = rope_inverse_frequencies(self.config, seq_len)
                self._max_seq_len_cached = seq_len
            if seq_len < original_length and self._max_seq_len_cached > original_length:
                self._inv_freq = self._original_inv_freq
                self._max_seq_len_cached = original_length
        elif self.rope_type == "longrope":
            original_length = self.config.rope_parameters["original_max_position_embeddings"]
            if int(position_ids.max()) + 1 <= original_length:
                return self._original_inv_freq.to(position_ids.device)
            if self._long_inv_freq is None:
                self._long_inv_freq, _ = rope_inverse_frequencies(self.config, original_length + 1)
            return self._long_inv_freq.to(position_ids.device)
        return self._inv_freq.to(position_ids.device)

    @torch.no_grad()
    def forward(self, x: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(cos, sin)`` for ``position_ids``, scaled by the rope type's attention factor, in ``x``'s dtype."""
        inv_freq = self._inverse_frequencies(position_ids)
        freqs = position_ids[..., None].float() * inv_freq
        angles = torch.cat((freqs, freqs), dim=-1)
        cos = angles.cos() * self.attention_scaling
        sin = angles.sin() * self.attention_scaling
        return cos.to(x.dtype), sin.to(x.dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``[x1, x2] -> [-x2, x1]`` over the last dimension's two halves."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(
    query: torch.Tensor, key: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate (batch, heads, seq, head_dim) queries and keys by (batch, seq, rotary_dim) cos / sin: the
    first ``rotary_dim`` dims of each head (all of them unless the rotary is partial)."""
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    rotary_dim = cos.shape[-1]
    if rotary_dim == query.shape[-1]:
        return query * cos + rotate_half(query) * sin, key * cos + rotate_half(key) * sin
    rotated = []
    for states in (query, key):
        part, passed = states[..., :rotary_dim], states[..., rotary_dim:]
        rotated.append(torch.cat([part * cos + rotate_half(part) * sin, passed], dim=-1))
    return rotated[0], rotated[1]


def repeat_kv(states: torch.Tensor, groups: int) -> torch.Tensor:
    """(batch, kv_heads, seq, dim) -> (batch, kv_heads * groups, seq, dim) for grouped-query attention."""
    if groups == 1:
        return states
    batch, kv_heads, length, dim = states.shape
    return states[:, :, None].expand(batch, kv_heads, groups, length, dim).reshape(batch, -1, length, dim)


# -- masks -------------------------------------------------------------------------------------


def causal_mask(
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


# -- layers ------------------------------------------------------------------------------------


class RMSNorm(nn.Module):
    """Root-mean-square LayerNorm without bias or mean subtraction, computed in float32."""

    def __init__(self, hidden_size: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """Normalise in float32 by the root mean square, scale by ``weight``, return the input dtype."""
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


class UnitOffsetRMSNorm(nn.Module):
    """RMSNorm scaled by ``1 + weight`` (``weight`` starts at zero), all in float32 before casting
    back, as Gemma's norms compute."""

    initial_weight = 0.0

    def __init__(self, hidden_size: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(hidden_size))
        self.eps = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """Normalise in float32 by the root mean square, scale by ``1 + weight``, return the input dtype."""
        normed = hidden_states.float()
        normed = normed * torch.rsqrt(normed.pow(2).mean(-1, keepdim=True) + self.eps)
        return (normed * (1.0 + self.weight.float())).type_as(hidden_states)


class GatedMLP(nn.Module):
    """``down_proj(act(gate_proj(x)) * up_proj(x))``; ``activation`` is a ``hidden_act`` name."""

    def __init__(self, hidden_size: int, intermediate_size: int, activation: str, bias: bool = False) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=bias)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=bias)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=bias)
        self.act_fn = get_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``down_proj(act(gate_proj(x)) * up_proj(x))``."""
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class RotaryAttention(nn.Module):
    """Grouped-query self-attention with rotary position embeddings and a KV cache.

    Projections ``q_proj`` / ``k_proj`` / ``v_proj`` (bias: ``qkv_bias``) and ``o_proj``
    (bias: ``output_bias``); reads ``hidden_size``, ``num_attention_heads``,
    ``num_key_value_heads``, ``head_dim`` and ``attention_dropout`` from the config, and its
    ``_attn_implementation`` (set by :class:`~autohub_core.modeling.PreTrainedModel`) at each forward.

    A family's variant sets ``scaling`` (default ``head_dim ** -0.5``) or ``logit_softcapping``
    (None: off; see :func:`~autohub_core.layers.attention`) after ``__init__``, and overrides
    :meth:`project` when its projections differ (fused, or normed queries and keys), with
    :meth:`build_projections` when their modules differ (a fused ``qkv_proj``).
    """

    def __init__(self, config: Any, *, qkv_bias: bool, output_bias: bool) -> None:
        super().__init__()
        self.config = config
        self.head_dim = config.head_dim
        self.num_key_value_groups = config.num_attention_heads // config.num_key_value_heads
        self.scaling = self.head_dim**-0.5
        self.logit_softcapping: float | None = None
        self.attention_dropout = config.attention_dropout
        query_size = config.num_attention_heads * self.head_dim
        key_value_size = config.num_key_value_heads * self.head_dim
        self.build_projections(config.hidden_size, query_size, key_value_size, qkv_bias)
        self.o_proj = nn.Linear(query_size, config.hidden_size, bias=output_bias)

    def build_projections(self, hidden_size: int, query_size: int, key_value_size: int, bias: bool) -> None:
        """Build the modules :meth:`project` reads: ``q_proj`` (``hidden_size -> query_size``),
        ``k_proj`` and ``v_proj`` (``hidden_size -> key_value_size``), each with ``bias`` or not."""
        self.q_proj = nn.Linear(hidden_size, query_size, bias=bias)
        self.k_proj = nn.Linear(hidden_size, key_value_size, bias=bias)
        self.v_proj = nn.Linear(hidden_size, key_value_size, bias=bias)

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor | None,
        past_key_value: LayerCache | KeyValue | None,
        output_attentions: bool,
    ) -> tuple[torch.Tensor, KeyValue, torch.Tensor | None]:
        """``mask`` is a boolean :func:`causal_mask` (None: causal) over the keys attended;
        ``past_key_value`` a :class:`~autohub_core.cache.LayerCache` (updated with the new keys and
        values) or a legacy ``(key, value)`` pair. Returns the output, the keys and values attended
        and, with ``output_attentions``, the weights."""
        batch_size, length, _ = hidden_states.shape
        query, key, value = self.project(hidden_states)
        query, key = apply_rotary(query, key, *position_embeddings)
        if isinstance(past_key_value, LayerCache):
            key, value = past_key_value.update(key, value)
        elif past_key_value is not None:
            key = torch.cat([past_key_value[0], key], dim=2)
            value = torch.cat([past_key_value[1], value], dim=2)
        groups = self.num_key_value_groups
        dropout = self.attention_dropout if self.training else 0.0
        implementation = self.config._attn_implementation
        softcap = self.logit_softcapping
        sdpa = implementation == "sdpa" and not output_attentions and softcap is None
        weights = None
        if sdpa and groups > 1 and mask is None and exact_sdpa(self.config) and self.head_dim <= 256:
            # transformers' sdpa call when nothing is masked: grouped-query attention inside the kernel.
            context = F.scaled_dot_product_attention(
                query,
                key,
                value,
                dropout_p=dropout,
                scale=self.scaling,
                is_causal=length > 1,
                enable_gqa=True,
            )
        elif sdpa and groups > 1 and length == 1:
            # One new token: its query heads of each KV group attend as one group, no KV copy.
            packed = query.reshape(batch_size, -1, groups, self.head_dim)
            context, _ = attention(packed, key, value, mask, dropout=dropout, scale=self.scaling)
            context = context.reshape(batch_size, -1, 1, self.head_dim)
        else:
            context, weights = attention(
                query,
                repeat_kv(key, groups),
                repeat_kv(value, groups),
                mask,
                dropout=dropout,
                scale=self.scaling,
                is_causal=mask is None and length > 1,
                output_attentions=output_attentions,
                implementation=implementation,
                softcap=softcap,
            )
        context = context.transpose(1, 2).reshape(batch_size, length, -1)
        return self.o_proj(context), (key, value), weights

    def project(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys and values, each (batch, heads, seq, head_dim), before the rotation."""
        shape = (*hidden_states.shape[:2], -1, self.head_dim)
        query = self.q_proj(hidden_states).view(shape).transpose(1, 2)
        key = self.k_proj(hidden_states).view(shape).transpose(1, 2)
        value = self.v_proj(hidden_states).view(shape).transpose(1, 2)
        return query, key, value
