"""Building blocks of encoder-decoder transformers (BART, T5, Whisper ...).

Multi-head attention that serves as encoder self-attention, causal decoder self-attention and
cross-attention, with autohub's cache contract for one decoder layer: ``(self_key, self_value,
cross_key, cross_value)`` (just the first two without encoder states), each ``(batch, heads,
length, head_dim)``. A self-attention past is extended by the new keys and values; a cross-attention
past is reused as it is (the encoder states do not change while decoding).

Also the fairseq-style encoder and decoder layers (``self_attn``, ``encoder_attn``, ``fc1`` /
``fc2`` and their LayerNorms, the key names of BART, Whisper and their relatives) with pre- or
post-norm residuals, the decoder's causal + padding mask, the decoder inputs built from labels, and
the tensor-parallel plan of those layers. Imported by modeling code only (it imports torch).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from autohub_core.errors import ConfigError, ModelInputError
from autohub_core.generation import GenerationMixin
from autohub_core.layers import attention, get_activation, masked_lm_loss
from autohub_core.modeling import GradientCheckpointingLayer
from autohub_core.outputs import BaseModelOutput, CausalLMOutput

__all__ = [
    "DecoderOnlyLMMixin",
    "KeyValue",
    "LayerCache",
    "Seq2SeqAttention",
    "Seq2SeqDecoderLayer",
    "Seq2SeqEncoderLayer",
    "Seq2SeqLMGenerationMixin",
    "as_encoder_output",
    "attention_tp_plan",
    "decoder_attention_allowed",
    "last_eos_states",
    "run_decoder_layers",
    "run_encoder_layers",
    "shift_tokens_right",
    "split_layer_cache",
    "stack_tp_plan",
]

#: One attention's cache: ``(key, value)``, each ``(batch, heads, length, head_dim)``.
KeyValue = tuple[torch.Tensor, torch.Tensor]
#: One decoder layer's cache: the self-attention ``(key, value)`` followed, when the layer attends
#: over encoder states, by the cross-attention ``(key, value)``.
LayerCache = tuple[torch.Tensor, ...]


class Seq2SeqAttention(nn.Module):
    """Multi-head attention with a self / cross KV cache, through the core's
    :func:`~autohub_core.layers.attention` (``config._attn_implementation``, read at each forward).

    Four linear projections named by ``projection_names`` (query, key, value, output; transformers'
    BART / Whisper names by default, T5 declares ``("q", "k", "v", "o")``), each ``embed_dim`` ->
    ``num_heads * head_dim`` (the output one back), with biases ``bias`` (``key_bias`` for the key
    projection when it differs, as Whisper's). Scores are scaled by ``scaling`` (default
    ``head_dim ** -0.5``; T5 passes 1.0). Head counts are read from the tensors, so under tensor
    parallelism each rank attends over its own heads. A family whose query is scaled before the
    product (Whisper) overrides :meth:`project_query`.
    """

    projection_names: ClassVar[tuple[str, str, str, str]] = ("q_proj", "k_proj", "v_proj", "out_proj")

    def __init__(
        self,
        config: Any,
        embed_dim: int,
        num_heads: int,
        *,
        head_dim: int | None = None,
        bias: bool = True,
        key_bias: bool | None = None,
        scaling: float | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.config = config
        self.head_dim = embed_dim // num_heads if head_dim is None else head_dim
        self.scaling = self.head_dim**-0.5 if scaling is None else scaling
        self.dropout = dropout
        inner_dim = num_heads * self.head_dim
        query, key, value, output = self.projection_names
        setattr(self, query, nn.Linear(embed_dim, inner_dim, bias=bias))
        setattr(self, key, nn.Linear(embed_dim, inner_dim, bias=bias if key_bias is None else key_bias))
        setattr(self, value, nn.Linear(embed_dim, inner_dim, bias=bias))
        setattr(self, output, nn.Linear(inner_dim, embed_dim, bias=bias))

    def split_heads(self, states: torch.Tensor) -> torch.Tensor:
        """(batch, length, heads * head_dim) -> (batch, heads, length, head_dim)."""
        batch_size, length, _ = states.shape
        return states.view(batch_size, length, -1, self.head_dim).transpose(1, 2)

    def project_query(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """The queries, (batch, heads, length, head_dim)."""
        return self.split_heads(getattr(self, self.projection_names[0])(hidden_states))

    def forward(
        self,
        hidden_states: torch.Tensor,
        key_value_states: torch.Tensor | None = None,
        past_key_value: KeyValue | None = None,
        mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, KeyValue, torch.Tensor | None]:
        """Self-attention, or cross-attention over ``key_value_states`` (the encoder states).

        ``mask`` is boolean (True = attend) or additive (a padding / causal mask, or a position
        bias such as T5's), broadcast to (batch, heads, query, key). Returns the output, the
        ``(key, value)`` to cache and the attention weights (with ``output_attentions``).
        """
        _, key_projection, value_projection, output_projection = self.projection_names
        query = self.project_query(hidden_states)
        if key_value_states is not None and past_key_value is not None:
            key, value = past_key_value
        else:
            source = hidden_states if key_value_states is None else key_value_states
            key = self.split_heads(getattr(self, key_projection)(source))
            value = self.split_heads(getattr(self, value_projection)(source))
            if past_key_value is not None:
                key = torch.cat([past_key_value[0], key], dim=2)
                value = torch.cat([past_key_value[1], value], dim=2)
        context, weights = attention(
            query,
            key,
            value,
            mask,
            dropout=self.dropout if self.training else 0.0,
            scale=self.scaling,
            output_attentions=output_attentions,
            implementation=self.config._attn_implementation,
        )
        batch_size, _, length, _ = context.shape
        context = context.transpose(1, 2).reshape(batch_size, length, -1)
        return getattr(self, output_projection)(context), (key, value), weights


class _FeedForwardLayer(GradientCheckpointingLayer):
    """What both layers share: the residual sub-layer pattern and the feed-forward ``fc1``, activation, ``fc2``."""

    normalize_before: ClassVar[bool] = False
    """True: pre-norm (``x + f(norm(x))``, Whisper); False: post-norm (``norm(x + f(x))``, BART)."""

    def __init__(self, config: Any, ffn_dim: int) -> None:
        super().__init__()
        self.dropout = config.dropout
        self.activation_fn = get_activation(config.activation_function, "activation_function")
        self.activation_dropout = config.activation_dropout
        self.fc1 = nn.Linear(config.d_model, ffn_dim)
        self.fc2 = nn.Linear(ffn_dim, config.d_model)
        self.final_layer_norm = nn.LayerNorm(config.d_model)

    def _residual(
        self, hidden_states: torch.Tensor, norm: nn.Module, sublayer: Any
    ) -> tuple[torch.Tensor, Any]:
        """``sublayer`` (returning ``(output, *extras)``) in a residual branch with ``norm`` and dropout."""
        inputs = norm(hidden_states) if self.normalize_before else hidden_states
        output, *extras = sublayer(inputs)
        output = hidden_states + F.dropout(output, p=self.dropout, training=self.training)
        return (output if self.normalize_before else norm(output)), extras

    def _feed_forward(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor]:
        hidden_states = self.activation_fn(self.fc1(hidden_states))
        hidden_states = F.dropout(hidden_states, p=self.activation_dropout, training=self.training)
        return (self.fc2(hidden_states),)


class Seq2SeqEncoderLayer(_FeedForwardLayer):
    """Self-attention (``self_attn``, ``self_attn_layer_norm``) then feed-forward (``fc1``, ``fc2``,
    ``final_layer_norm``), each a residual branch, pre- or post-norm (``normalize_before``). Reads
    ``d_model``, ``encoder_attention_heads``, ``encoder_ffn_dim``, ``attention_dropout``,
    ``dropout``, ``activation_function`` and ``activation_dropout``. A family subclasses it (its
    class name is what ``_no_split_modules`` lists) and sets ``normalize_before``, ``key_bias`` and
    ``attention_class`` (a :class:`Seq2SeqAttention` subclass) where they differ."""

    key_bias: ClassVar[bool] = True
    attention_class: ClassVar[type[Seq2SeqAttention]] = Seq2SeqAttention

    def __init__(self, config: Any) -> None:
        super().__init__(config, config.encoder_ffn_dim)
        self.self_attn = self.attention_class(
            config,
            config.d_model,
            config.encoder_attention_heads,
            key_bias=self.key_bias,
            dropout=config.attention_dropout,
        )
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.Tensor | None, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Returns the layer's output and, with ``output_attentions``, the attention weights."""

        def attend(states: torch.Tensor) -> Any:
            output, _, weights = self.self_attn(states, mask=mask, output_attentions=output_attentions)
            return output, weights

        hidden_states, (weights,) = self._residual(hidden_states, self.self_attn_layer_norm, attend)
        hidden_states, _ = self._residual(hidden_states, self.final_layer_norm, self._feed_forward)
        return self.clamp(hidden_states), weights

    def clamp(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """Keep float16 outputs finite: when any is not, clamp all within the largest value - 1000
        (transformers' BART rule; Whisper's clamps every float16 output)."""
        if hidden_states.dtype == torch.float16 and not bool(torch.isfinite(hidden_states).all()):
            clamp_value = torch.finfo(hidden_states.dtype).max - 1000
            hidden_states = torch.clamp(hidden_states, min=-clamp_value, max=clamp_value)
        return hidden_states


class Seq2SeqDecoderLayer(_FeedForwardLayer):
    """Causal self-attention (``self_attn``), cross-attention over the encoder states
    (``encoder_attn``, when given) and feed-forward, each a residual branch with its LayerNorm,
    pre- or post-norm (``normalize_before``). Reads the ``decoder_*`` counterparts of
    :class:`Seq2SeqEncoderLayer`'s keys and has its class attributes. The cache is :data:`LayerCache`."""

    key_bias: ClassVar[bool] = True
    attention_class: ClassVar[type[Seq2SeqAttention]] = Seq2SeqAttention

    def __init__(self, config: Any) -> None:
        super().__init__(config, config.decoder_ffn_dim)
        heads = config.decoder_attention_heads
        options = {"key_bias": self.key_bias, "dropout": config.attention_dropout}
        self.self_attn = self.attention_class(config, config.d_model, heads, **options)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.encoder_attn = self.attention_class(config, config.d_model, heads, **options)
        self.encoder_attn_layer_norm = nn.LayerNorm(config.d_model)

    def forward(
        self,
        hidden_states: torch.Tensor,
        self_mask: torch.Tensor | None,
        encoder_hidden_states: torch.Tensor | None,
        cross_mask: torch.Tensor | None,
        past_key_value: LayerCache | None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, LayerCache, torch.Tensor | None, torch.Tensor | None]:
        """Returns the output, the layer's cache and the self- and cross-attention weights."""
        self_past, cross_past = split_layer_cache(past_key_value)

        def attend(states: torch.Tensor) -> Any:
            return self.self_attn(states, None, self_past, self_mask, output_attentions)

        hidden_states, (present, self_weights) = self._residual(
            hidden_states, self.self_attn_layer_norm, attend
        )
        cross_weights = None
        if encoder_hidden_states is not None:

            def cross_attend(states: torch.Tensor) -> Any:
                return self.encoder_attn(
                    states, encoder_hidden_states, cross_past, cross_mask, output_attentions
                )

            hidden_states, (cross_present, cross_weights) = self._residual(
                hidden_states, self.encoder_attn_layer_norm, cross_attend
            )
            present = present + cross_present
        hidden_states, _ = self._residual(hidden_states, self.final_layer_norm, self._feed_forward)
        return hidden_states, present, self_weights, cross_weights


def _layer_dropped(module: nn.Module, layerdrop: float) -> bool:
    """LayerDrop in training: skip the layer with probability ``layerdrop`` (torch's RNG, as transformers)."""
    return module.training and layerdrop > 0.0 and bool(torch.rand([]) < layerdrop)


def run_encoder_layers(
    layers: nn.ModuleList,
    hidden_states: torch.Tensor,
    mask: torch.Tensor | None,
    output_attentions: bool,
    output_hidden_states: bool,
    layerdrop: float = 0.0,
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """Run :class:`Seq2SeqEncoderLayer` s (with LayerDrop in training). Returns the last output, the
    hidden states entering each layer (with ``output_hidden_states``; the caller appends the final
    one) and the attention weights (with ``output_attentions``)."""
    all_hidden_states: tuple[torch.Tensor, ...] = ()
    all_attentions: tuple[torch.Tensor, ...] = ()
    for layer in layers:
        if _layer_dropped(layer, layerdrop):
            continue
        if output_hidden_states:
            all_hidden_states += (hidden_states,)
        hidden_states, weights = layer(hidden_states, mask, output_attentions)
        if output_attentions:
            all_attentions += (weights,)
    return hidden_states, all_hidden_states, all_attentions


def run_decoder_layers(
    layers: nn.ModuleList,
    hidden_states: torch.Tensor,
    self_mask: torch.Tensor | None,
    encoder_hidden_states: torch.Tensor | None,
    cross_mask: torch.Tensor | None,
    past_key_values: tuple[LayerCache, ...] | None,
    use_cache: bool,
    output_attentions: bool,
    output_hidden_states: bool,
    layerdrop: float = 0.0,
) -> tuple[torch.Tensor, tuple[LayerCache, ...] | None, tuple[tuple[torch.Tensor, ...], ...]]:
    """Run :class:`Seq2SeqDecoderLayer` s (with LayerDrop in training). Returns the last output, the
    cache (with ``use_cache``) and ``(hidden states entering each layer, self-attention weights,
    cross-attention weights)``, each filled only when asked for."""
    all_hidden_states: tuple[torch.Tensor, ...] = ()
    all_attentions: tuple[torch.Tensor, ...] = ()
    all_cross_attentions: tuple[torch.Tensor, ...] = ()
    presents: tuple[LayerCache, ...] = ()
    for index, layer in enumerate(layers):
        if _layer_dropped(layer, layerdrop):
            continue
        if output_hidden_states:
            all_hidden_states += (hidden_states,)
        past = past_key_values[index] if past_key_values else None
        hidden_states, present, self_weights, cross_weights = layer(
            hidden_states, self_mask, encoder_hidden_states, cross_mask, past, output_attentions
        )
        if use_cache:
            presents += (present,)
        if output_attentions:
            all_attentions += (self_weights,)
            if cross_weights is not None:
                all_cross_attentions += (cross_weights,)
    return (
        hidden_states,
        presents if use_cache else None,
        (all_hidden_states, all_attentions, all_cross_attentions),
    )


def split_layer_cache(past_key_value: LayerCache | None) -> tuple[KeyValue | None, KeyValue | None]:
    """A decoder layer's cache as ``(self-attention past, cross-attention past)``, each None when absent."""
    if past_key_value is None:
        return None, None
    self_past = (past_key_value[0], past_key_value[1])
    cross_past = (past_key_value[2], past_key_value[3]) if len(past_key_value) >= 4 else None
    return self_past, cross_past


def decoder_attention_allowed(
    attention_mask: torch.Tensor | None, query_length: int, past_length: int, device: torch.device
) -> torch.Tensor:
    """Boolean (batch or 1, 1, query, past + query) "may attend" mask of a decoder's self-attention:
    query ``i`` sees keys ``<= past_length + i`` that ``attention_mask`` (batch, past + query; 1 =
    token, 0 = padding) does not mask."""
    key_length = past_length + query_length
    allowed = torch.ones(query_length, key_length, dtype=torch.bool, device=device).tril(past_length)[
        None, None
    ]
    if attention_mask is not None:
        allowed = allowed & attention_mask[:, None, None, :].to(device=device, dtype=torch.bool)
    return allowed


def shift_tokens_right(
    input_ids: torch.Tensor, pad_token_id: int | None, decoder_start_token_id: int | None
) -> torch.Tensor:
    """Decoder inputs from labels (or from ``input_ids``): ``decoder_start_token_id`` first, the last
    token dropped, -100 replaced by ``pad_token_id``, as transformers' ``shift_tokens_right``."""
    for key, value in (("decoder_start_token_id", decoder_start_token_id), ("pad_token_id", pad_token_id)):
        if value is None:
            raise ConfigError(f"config key {key!r} must be set to build decoder inputs from labels")
    shifted = input_ids.new_zeros(input_ids.shape)
    shifted[..., 1:] = input_ids[..., :-1].clone()
    shifted[..., 0] = decoder_start_token_id
    return shifted.masked_fill(shifted == -100, pad_token_id)


def as_encoder_output(encoder_outputs: Any) -> BaseModelOutput:
    """``encoder_outputs`` given to a forward (an output, a tuple ``(last_hidden_state, hidden_states,
    attentions)`` or a tensor) as a :class:`~autohub_core.outputs.BaseModelOutput`."""
    if isinstance(encoder_outputs, BaseModelOutput):
        return encoder_outputs
    if isinstance(encoder_outputs, torch.Tensor):
        return BaseModelOutput(last_hidden_state=encoder_outputs)
    return BaseModelOutput(
        last_hidden_state=encoder_outputs[0],
        hidden_states=encoder_outputs[1] if len(encoder_outputs) > 1 else None,
        attentions=encoder_outputs[2] if len(encoder_outputs) > 2 else None,
    )


def last_eos_states(hidden_states: torch.Tensor, input_ids: torch.Tensor, eos_token_id: int) -> torch.Tensor:
    """(batch, hidden) states at the last ``eos_token_id`` of each row of ``input_ids`` (the pooling
    of BART's and T5's sequence classifiers). Rows with different eos counts, or without one, raise
    :class:`~autohub_core.errors.ModelInputError` (a ValueError, transformers' message)."""
    eos_mask = input_ids.eq(eos_token_id).to(hidden_states.device)
    eos_counts = eos_mask.sum(1)
    if torch.unique_consecutive(eos_counts).numel() != 1:
        raise ModelInputError("All examples must have the same number of <eos> tokens.")
    if int(eos_counts[0]) < 1:
        raise ModelInputError("Each example must contain at least one <eos> token.")
    batch_size, _, hidden_size = hidden_states.shape
    return hidden_states[eos_mask, :].view(batch_size, -1, hidden_size)[:, -1, :]


class Seq2SeqLMGenerationMixin(GenerationMixin):
    """``generate()`` for an encoder-decoder LM head whose forward takes ``decoder_input_ids``,
    ``encoder_outputs``, ``attention_mask`` (the encoder's), ``decoder_attention_mask`` and
    ``past_key_values`` (:data:`LayerCache` per layer), and labels shifted with
    :func:`shift_tokens_right` (``config.pad_token_id`` / ``config.decoder_start_token_id``)."""

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """The decoder inputs the forward pass derives from ``labels`` (what data collators ask for)."""
        config = self.config  # type: ignore[attr-defined]
        return shift_tokens_right(labels, config.pad_token_id, config.decoder_start_token_id)

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.Tensor,
        past_key_values: tuple[LayerCache, ...] | None = None,
        attention_mask: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """``input_ids`` are the decoder tokens so far; with a past only the last one is fed."""
        return {
            "decoder_input_ids": input_ids[:, -1:] if past_key_values is not None else input_ids,
            "past_key_values": past_key_values,
            "encoder_outputs": kwargs.get("encoder_outputs"),
            "attention_mask": attention_mask,
            "decoder_attention_mask": kwargs.get("decoder_attention_mask"),
            "use_cache": kwargs.get("use_cache"),
        }


class DecoderOnlyLMMixin(GenerationMixin):
    """An encoder-decoder's decoder used alone as a causal LM (``BartForCausalLM``,
    ``WhisperForCausalLM``): its output and ``generate()`` inputs. ``cross_inputs`` names the
    encoder inputs the forward takes, passed on unchanged while decoding."""

    cross_inputs: ClassVar[tuple[str, ...]] = ()

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.Tensor,
        past_key_values: tuple[LayerCache, ...] | None = None,
        attention_mask: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The tokens so far (only the last one with a past) and the mask over all of them."""
        return {
            "input_ids": input_ids[:, -1:] if past_key_values is not None else input_ids,
            "past_key_values": past_key_values,
            "attention_mask": attention_mask,
            **{name: kwargs.get(name) for name in self.cross_inputs},
            "use_cache": kwargs.get("use_cache"),
        }

    @staticmethod
    def _causal_lm_output(logits: torch.Tensor, outputs: Any, labels: torch.Tensor | None) -> CausalLMOutput:
        """``logits`` with the decoder ``outputs``' cache, states and attentions, and the next-token
        loss against ``labels`` (computed in the logits' dtype, as transformers does here)."""
        return CausalLMOutput(
            loss=masked_lm_loss(logits, labels, upcast=False) if labels is not None else None,
            logits=logits,
            past_key_values=outputs.past_key_values,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            cross_attentions=outputs.cross_attentions,
        )


def stack_tp_plan(prefix: str, cross_attention: bool) -> dict[str, str]:
    """Tensor-parallel entries of the :class:`Seq2SeqEncoderLayer` / :class:`Seq2SeqDecoderLayer`
    stack ``<prefix>.layers``: attention sharded by heads, feed-forward by ``*_ffn_dim``."""
    plan = attention_tp_plan(prefix, "self_attn")
    if cross_attention:
        plan.update(attention_tp_plan(prefix, "encoder_attn"))
    plan.update({f"{prefix}.layers.*.fc1": "colwise", f"{prefix}.layers.*.fc2": "rowwise"})
    return plan


def attention_tp_plan(prefix: str, attention_name: str) -> dict[str, str]:
    """Tensor-parallel entries of the :class:`Seq2SeqAttention` ``<prefix>.layers.*.<attention_name>``
    (default projection names): query / key / value colwise (by heads), the output rowwise."""
    return {
        f"{prefix}.layers.*.{attention_name}.q_proj": "colwise",
        f"{prefix}.layers.*.{attention_name}.k_proj": "colwise",
        f"{prefix}.layers.*.{attention_name}.v_proj": "colwise",
        f"{prefix}.layers.*.{attention_name}.out_proj": "rowwise",
    }
