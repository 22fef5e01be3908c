"""Building blocks of BERT-style encoders: embeddings, a post-LayerNorm transformer stack, masks.

The families built on BERT's encoder (BERT itself, ELECTRA ...) compose these in their own
modeling file. The attribute names are the checkpoint keys transformers uses for all of them
(``embeddings.word_embeddings``, ``encoder.layer.0.attention.self.query``,
``attention.output.LayerNorm``, ``intermediate.dense``, ``output.dense`` ...), so a family that
names its base model's attributes ``embeddings`` and ``encoder`` loads Hub checkpoints unchanged.
Attention runs through :func:`autohub_core.layers.attention` with the implementation
``config._attn_implementation`` names (``"sdpa"`` unless set).

``position_embedding_type="relative_key"`` / ``"relative_key_query"`` (Shaw et al. / Huang et al.)
add a learned embedding of the query-key distance (``attention.self.distance_embedding``) to the
attention scores instead of adding absolute position embeddings, as transformers 4.x computed them;
transformers 5 dropped these types (it ignores the key). Their scores are explicit, so they always
run the eager implementation, as transformers did.

With ``is_decoder=True`` the self-attention is causal and ``past_key_values`` is a key/value cache
(:data:`KeyValueCache`): one tuple per layer, ``(key, value)`` of the self-attention, followed by the
cross-attention's ``(key, value)`` once it has run (``add_cross_attention=True`` with
``encoder_hidden_states``), each (batch, heads, length, head_dim). It is never updated in place.

The config keys read are :data:`autohub_core.configuration.ENCODER_RULES`' plus ``pad_token_id``,
``position_embedding_type`` (absent, as in transformers 5 configs: ``"absolute"``), ``is_decoder``
and ``add_cross_attention``. Imported by modeling code only (it imports torch).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from autohub_core.errors import ConfigError
from autohub_core.layers import (
    additive_mask,
    attention,
    get_activation,
    padding_mask,
    relative_distance_scores,
)
from autohub_core.modeling import GradientCheckpointingLayer
from autohub_core.outputs import BaseModelOutputWithPast

__all__ = [
    "ENCODER_TP_PLAN",
    "EncoderAttention",
    "EncoderEmbeddings",
    "EncoderIntermediate",
    "EncoderLayer",
    "EncoderOutput",
    "EncoderSelfAttention",
    "EncoderSelfOutput",
    "EncoderStack",
    "KeyValueCache",
    "check_encoder_config",
    "classifier_dropout",
    "decoder_self_attention_mask",
    "encoder_attention_masks",
    "next_step_inputs",
]

#: The tensor-parallel plan of a base model whose ``encoder`` is an :class:`EncoderStack`:
#: query / key / value and the intermediate dense are sharded colwise (by heads / features), the
#: two output denses rowwise; embeddings and norms are replicated.
ENCODER_TP_PLAN: dict[str, str] = {
    "encoder.layer.*.attention.self.query": "colwise",
    "encoder.layer.*.attention.self.key": "colwise",
    "encoder.layer.*.attention.self.value": "colwise",
    "encoder.layer.*.attention.output.dense": "rowwise",
    "encoder.layer.*.intermediate.dense": "colwise",
    "encoder.layer.*.output.dense": "rowwise",
}

#: One entry per layer: self-attention (key, value), then cross-attention (key, value) once computed.
KeyValueCache = tuple[tuple[torch.Tensor, ...], ...]


def check_encoder_config(config: Any) -> None:
    """What the config's value rules (checked when the model is built) do not say: cross-attention
    needs a decoder, and ``hidden_act`` must be an implemented activation."""
    if config.add_cross_attention and not config.is_decoder:
        raise ConfigError(
            "config key 'add_cross_attention' = True needs 'is_decoder' = True (cross-attention is a decoder's)"
        )
    get_activation(config.hidden_act)


def classifier_dropout(config: Any) -> float:
    """The dropout of a classification head: ``classifier_dropout``, or ``hidden_dropout_prob`` when unset."""
    return config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob


def _position_embedding_type(config: Any) -> str:
    """``position_embedding_type`` (a transformers 4 key; absent means ``"absolute"``)."""
    return getattr(config, "position_embedding_type", "absolute")


def _implementation(config: Any) -> str:
    """The attention implementation the config asks for (``from_pretrained(attn_implementation=)``)."""
    return getattr(config, "_attn_implementation", None) or "sdpa"


class EncoderEmbeddings(nn.Module):
    """Word + position + token-type embeddings of ``embedding_size`` features (default
    ``hidden_size``), then LayerNorm and dropout.

    The absolute position embeddings are added only with ``position_embedding_type="absolute"``.
    The default position and token type ids come from non-persistent buffers, as in transformers; a
    family numbering its positions differently overrides :meth:`default_position_ids`.
    ``position_padding_idx`` is the position embeddings' ``padding_idx`` (RoBERTa's, whose padding
    tokens sit at the padding position).
    """

    def __init__(
        self, config: Any, embedding_size: int | None = None, position_padding_idx: int | None = None
    ) -> None:
        super().__init__()
        size = embedding_size or config.hidden_size
        self.word_embeddings = nn.Embedding(config.vocab_size, size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(
            config.max_position_embeddings, size, padding_idx=position_padding_idx
        )
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, size)
        self.LayerNorm = nn.LayerNorm(size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.absolute_positions = _position_embedding_type(config) == "absolute"
        positions = torch.arange(config.max_position_embeddings).expand((1, -1))
        self.register_buffer("position_ids", positions, persistent=False)
        self.register_buffer(
            "token_type_ids", torch.zeros(positions.size(), dtype=torch.long), persistent=False
        )

    def reset_buffers(self) -> None:
        """Refill the position and token type id buffers (after a model is built on the meta device)."""
        self.position_ids.copy_(torch.arange(self.position_ids.shape[-1]).expand((1, -1)))
        self.token_type_ids.zero_()

    def default_position_ids(
        self, input_ids: torch.Tensor | None, inputs_embeds: torch.Tensor, past_length: int
    ) -> torch.Tensor:
        """The position ids used when none are given: ``past_length, past_length + 1, ...``."""
        seq_length = inputs_embeds.shape[1]
        return self.position_ids[:, past_length : past_length + seq_length]

    def forward(
        self,
        input_ids: torch.Tensor | None,
        token_type_ids: torch.Tensor | None,
        position_ids: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
        past_length: int = 0,
    ) -> torch.Tensor:
        """The embedded tokens (batch, length, embedding size); positions start after ``past_length``."""
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        batch_size, seq_length = inputs_embeds.shape[:2]
        if token_type_ids is None:
            token_type_ids = self.token_type_ids[:, :seq_length].expand(batch_size, seq_length)
        embeddings = inputs_embeds + self.token_type_embeddings(token_type_ids)
        if self.absolute_positions:
            if position_ids is None:
                position_ids = self.default_position_ids(input_ids, inputs_embeds, past_length)
            embeddings = embeddings + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class EncoderSelfAttention(nn.Module):
    """Multi-head attention (query / key / value projections): self-attention, or cross-attention over
    ``encoder_hidden_states`` (``is_cross_attention``).

    Head counts are read from the tensors (``-1``), so the projections may be sharded by heads
    under tensor parallelism and each rank attends over its own heads. With a relative
    ``position_embedding_type`` (self-attention only) ``distance_embedding`` holds one vector per
    query-key distance in ``(-max_position_embeddings, max_position_embeddings)``.
    """

    def __init__(self, config: Any, is_cross_attention: bool = False) -> None:
        super().__init__()
        self.config = config
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.scaling = self.head_dim**-0.5
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout_prob = config.attention_probs_dropout_prob
        self.is_cross_attention = is_cross_attention
        self.position_embedding_type = "absolute" if is_cross_attention else _position_embedding_type(config)
        if self.position_embedding_type != "absolute":
            self.distance_embedding = nn.Embedding(2 * config.max_position_embeddings - 1, self.head_dim)

    def _split_heads(self, states: torch.Tensor) -> torch.Tensor:
        batch_size, seq_length, _ = states.shape
        return states.view(batch_size, seq_length, -1, self.head_dim).transpose(1, 2)

    def forward(
        self,
        hidden_states: torch.Tensor,
        mask: torch.Tensor | None,
        output_attentions: bool,
        past_key_value: tuple[torch.Tensor, torch.Tensor] | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, tuple[torch.Tensor, torch.Tensor]]:
        """Attention output, weights (when requested) and this layer's (key, value) for the cache.

        Self-attention appends its new keys and values to ``past_key_value``; cross-attention reuses
        the cached encoder keys and values when there are some.
        """
        query = self._split_heads(self.query(hidden_states))
        if self.is_cross_attention and past_key_value is not None:
            key, value = past_key_value
        else:
            source = encoder_hidden_states if self.is_cross_attention else hidden_states
            key = self._split_heads(self.key(source))
            value = self._split_heads(self.value(source))
            if past_key_value is not None:
                key = torch.cat((past_key_value[0], key), dim=-2)
                value = torch.cat((past_key_value[1], value), dim=-2)
        implementation = _implementation(self.config)
        if self.position_embedding_type != "absolute":
            bias = (
                relative_distance_scores(
                    query, key, self.distance_embedding, self.position_embedding_type == "relative_key_query"
                )
                * self.scaling
            )
            mask = bias if mask is None else mask + bias
            implementation = "eager"
        context, weights = attention(
            query,
            key,
            value,
            mask,
            dropout=self.dropout_prob if self.training else 0.0,
            scale=self.scaling,
            output_attentions=output_attentions,
            implementation=implementation,
        )
        batch_size, _, seq_length, _ = context.shape
        context = context.transpose(1, 2).reshape(batch_size, seq_length, -1)
        return context, weights, (key, value)


class EncoderSelfOutput(nn.Module):
    """Projection after attention, dropout, residual, LayerNorm."""

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """``LayerNorm(dropout(dense(hidden_states)) + residual)``."""
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + residual)


class EncoderAttention(nn.Module):
    """Attention (``self``) followed by its output projection (``output``)."""

    def __init__(self, config: Any, is_cross_attention: bool = False) -> None:
        super().__init__()
        self.self = EncoderSelfAttention(config, is_cross_attention)
        self.output = EncoderSelfOutput(config)

    def forward(
        self,
        hidden_states: torch.Tensor,
        mask: torch.Tensor | None,
        output_attentions: bool,
        past_key_value: tuple[torch.Tensor, torch.Tensor] | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, tuple[torch.Tensor, torch.Tensor]]:
        """The attended states (residual added, normalised), the weights and the (key, value) pair."""
        context, weights, present = self.self(
            hidden_states, mask, output_attentions, past_key_value, encoder_hidden_states
        )
        return self.output(context, hidden_states), weights, present


class EncoderIntermediate(nn.Module):
    """The feed-forward expansion: dense to ``intermediate_size``, then ``hidden_act``."""

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = get_activation(config.hidden_act)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """``hidden_act(dense(hidden_states))``."""
        return self.activation(self.dense(hidden_states))


class EncoderOutput(nn.Module):
    """The feed-forward projection back to ``hidden_size``, dropout, residual, LayerNorm."""

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """``LayerNorm(dropout(dense(hidden_states)) + residual)``."""
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + residual)


class EncoderLayer(GradientCheckpointingLayer):
    """Self-attention, cross-attention (``add_cross_attention``, when ``encoder_hidden_states`` are
    given), then feed-forward; recomputed in the backward pass under gradient checkpointing."""

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.attention = EncoderAttention(config)
        if config.add_cross_attention:
            self.crossattention = EncoderAttention(config, is_cross_attention=True)
        self.intermediate = EncoderIntermediate(config)
        self.output = EncoderOutput(config)

    def forward(
        self,
        hidden_states: torch.Tensor,
        mask: torch.Tensor | None,
        encoder_hidden_states: torch.Tensor | None,
        encoder_mask: torch.Tensor | None,
        output_attentions: bool,
        past_key_value: tuple[torch.Tensor, ...] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None, tuple[torch.Tensor, ...]]:
        """The layer output, self- and cross-attention weights (when requested), and the cache entry."""
        self_past = past_key_value[:2] if past_key_value is not None else None
        attended, weights, present = self.attention(hidden_states, mask, output_attentions, self_past)
        cross_weights = None
        if encoder_hidden_states is not None:
            if not hasattr(self, "crossattention"):
                raise ConfigError(
                    "encoder_hidden_states were given, but the model has no cross-attention layers: "
                    "set 'add_cross_attention' = True (and 'is_decoder' = True) in the config"
                )
            cross_past = (
                past_key_value[2:] if past_key_value is not None and len(past_key_value) > 2 else None
            )
            attended, cross_weights, cross_present = self.crossattention(
                attended, encoder_mask, output_attentions, cross_past, encoder_hidden_states
            )
            present = present + cross_present
        return self.output(self.intermediate(attended), attended), weights, cross_weights, present


class EncoderStack(nn.Module):
    """``num_hidden_layers`` :class:`EncoderLayer` blocks (``layer``), run in turn.

    ``layer_class`` is the family's subclass of :class:`EncoderLayer`: a family names its blocks as
    transformers does (``BertLayer``), since ``_no_split_modules`` and the ``no_split_module_classes``
    users pass to accelerate name classes.
    """

    def __init__(self, config: Any, layer_class: type[EncoderLayer] = EncoderLayer) -> None:
        super().__init__()
        self.layer = nn.ModuleList([layer_class(config) for _ in range(config.num_hidden_layers)])

    def forward(
        self,
        hidden_states: torch.Tensor,
        mask: torch.Tensor | None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_mask: torch.Tensor | None = None,
        *,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        use_cache: bool = False,
        past_key_values: KeyValueCache | None = None,
    ) -> BaseModelOutputWithPast:
        """The last hidden states, the cache (``use_cache``), every layer's input and the final
        output (``output_hidden_states``), and the self- and cross-attention weights
        (``output_attentions``; cross-attention weights only where it ran).

        ``mask`` and ``encoder_mask`` are additive (:func:`encoder_attention_masks`).
        """
        all_hidden_states: tuple[torch.Tensor, ...] = ()
        all_attentions: tuple[torch.Tensor, ...] = ()
        all_cross_attentions: tuple[torch.Tensor, ...] = ()
        presents: KeyValueCache = ()
        for index, layer in enumerate(self.layer):
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            hidden_states, weights, cross_weights, present = layer(
                hidden_states,
                mask,
                encoder_hidden_states,
                encoder_mask,
                output_attentions,
                past_key_value=past_key_values[index] if past_key_values is not None else None,
            )
            if use_cache:
                presents += (present,)
            if output_attentions:
                all_attentions += (weights,)
                if cross_weights is not None:
                    all_cross_attentions += (cross_weights,)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)
        return BaseModelOutputWithPast(
            last_hidden_state=hidden_states,
            past_key_values=presents if use_cache else None,
            hidden_states=all_hidden_states if output_hidden_states else None,
            attentions=all_attentions if output_attentions else None,
            cross_attentions=all_cross_attentions or None,
        )


def encoder_attention_masks(
    config: Any,
    attention_mask: torch.Tensor | None,
    hidden_states: torch.Tensor,
    past_length: int = 0,
    encoder_hidden_states: torch.Tensor | None = None,
    encoder_attention_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """The additive self-attention mask (padding; causal too when ``config.is_decoder``) and the
    cross-attention mask over ``encoder_hidden_states`` (None without them)."""
    if config.is_decoder:
        mask = decoder_self_attention_mask(attention_mask, hidden_states, past_length)
    else:
        mask = padding_mask(attention_mask, hidden_states.dtype)
    encoder_mask = None
    if encoder_hidden_states is not None:
        encoder_mask = padding_mask(encoder_attention_mask, hidden_states.dtype)
    return mask, encoder_mask


def decoder_self_attention_mask(
    attention_mask: torch.Tensor | None, hidden_states: torch.Tensor, past_length: int
) -> torch.Tensor | None:
    """Additive decoder self-attention mask (batch or 1, 1, length, past_length + length): the future
    and the padding of the 1/0 ``attention_mask`` are masked. None for one new token without padding."""
    query_length = hidden_states.shape[1]
    if attention_mask is None and query_length == 1:
        return None
    key_length = past_length + query_length
    device = hidden_states.device
    allowed = torch.ones(query_length, key_length, dtype=torch.bool, device=device).tril(past_length)[
        None, None
    ]
    if attention_mask is not None:
        if attention_mask.shape[-1] != key_length:
            raise ValueError(
                f"attention_mask must cover the cached and the new positions ({key_length}), "
                f"got shape {tuple(attention_mask.shape)}"
            )
        allowed = allowed & attention_mask.to(device=device, dtype=torch.bool)[:, None, None, :]
    return additive_mask(allowed, hidden_states.dtype)


def next_step_inputs(
    input_ids: torch.Tensor,
    past_key_values: KeyValueCache | None,
    attention_mask: torch.Tensor | None,
    kwargs: dict[str, Any],
) -> dict[str, Any]:
    """transformers' generation inputs for an encoder used as a decoder: the tokens not in the cache,
    position ids counted over the attended tokens (padding at 0), ``token_type_ids`` extended with
    their last value; the other generation kwargs (``encoder_hidden_states`` ...) are passed on."""
    sequence_length = input_ids.shape[1]
    past_length = past_key_values[0][0].shape[-2] if past_key_values else 0
    input_ids = input_ids[:, past_length:]
    inputs = {
        **kwargs,
        "input_ids": input_ids,
        "past_key_values": past_key_values,
        "attention_mask": attention_mask,
    }
    if attention_mask is not None:
        position_ids = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)
        inputs["position_ids"] = position_ids[:, -input_ids.shape[1] :]
    token_type_ids = kwargs.get("token_type_ids")
    if token_type_ids is not None:
        grown = token_type_ids[:, -1:].expand(-1, sequence_length - token_type_ids.shape[1])
        inputs["token_type_ids"] = torch.cat((token_type_ids, grown), dim=1)[:, -input_ids.shape[1] :]
    return inputs
