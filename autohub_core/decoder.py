"""A decoder-only transformer with rotary positions, assembled from a family's parts, and its heads.

Llama, Mistral, Qwen2 and the families after them differ in their blocks (biases, norms, fused
projections, soft-capping) but share everything around the blocks: the embedding lookup, the layer
loop with its KV cache and hidden-state / attention collection, the causal, padding and
sliding-window masks, the final norm and the task heads. That shared part lives here once.

A family declares its base model and heads by combining these classes with its own
``PreTrainedModel`` subclass (head first, so the family's config checks run before any module is
built)::

    class LlamaModel(RotaryDecoderModel, LlamaPreTrainedModel):
        layer_class = LlamaDecoderLayer

    class LlamaForCausalLM(DecoderForCausalLM, LlamaPreTrainedModel):
        base_model_class = LlamaModel

Attribute names are transformers' (``model.embed_tokens``, ``model.layers.N``, ``model.norm``,
``lm_head``, ``score``, ``transformer`` + ``qa_outputs``), so Hub checkpoints load unchanged.
The KV cache is a :mod:`autohub_core.cache` object: ``use_cache=True`` without ``past_key_values``
returns a :class:`~autohub_core.cache.DynamicCache` (as transformers 5), a
:class:`~autohub_core.cache.StaticCache` passed in is written at ``cache_position``, and the legacy
tuple (one ``(key, value)`` pair per layer, each ``(batch, num_key_value_heads, past_length,
head_dim)``) is accepted and answered with a tuple. Each layer's attention receives a
:class:`~autohub_core.cache.LayerCache` as ``past_key_value`` and calls its ``update``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from autohub_core.cache import Cache, DynamicCache, LayerCache, StaticCache, cache_length
from autohub_core.errors import ConfigError, UnsupportedConfigError
from autohub_core.generation import GenerationMixin
from autohub_core.layers import (
    causal_lm_loss,
    check_model_inputs,
    last_non_pad_token,
    question_answering_loss,
    sequence_classification_loss,
    token_classification_loss,
)
from autohub_core.modeling import GradientCheckpointingLayer, PreTrainedModel
from autohub_core.outputs import (
    BaseModelOutputWithPast,
    CausalLMOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from autohub_core.rotary import KeyValue, RMSNorm, RotaryEmbedding, causal_mask

__all__ = [
    "LAYER_TYPES",
    "DecoderForCausalLM",
    "DecoderForQuestionAnswering",
    "DecoderForSequenceClassification",
    "DecoderForTokenClassification",
    "DecoderLayer",
    "RotaryDecoderModel",
    "SandwichNormDecoderLayer",
    "ScaledWordEmbedding",
    "check_layer_types",
    "last_token_classification",
]

#: The ``layer_types`` entries a :class:`RotaryDecoderModel` builds masks for.
LAYER_TYPES = ("full_attention", "sliding_attention")


def check_layer_types(config: Any, distribution: str) -> None:
    """Raise unless ``config.layer_types`` lists one known type per layer and a sliding layer has a
    positive ``sliding_window`` (``ConfigError``; an unknown type is ``UnsupportedConfigError``
    naming ``distribution``)."""
    layer_types = config.layer_types
    if not isinstance(layer_types, list) or len(layer_types) != config.num_hidden_layers:
        raise ConfigError(
            f"config key 'layer_types' must list one type per layer ({config.num_hidden_layers}), "
            f"got {layer_types!r}"
        )
    for layer_type in layer_types:
        if layer_type not in LAYER_TYPES:
            raise UnsupportedConfigError(
                f"config key 'layer_types' has {layer_type!r}; {distribution} supports {list(LAYER_TYPES)}"
            )
    window = config.sliding_window
    if "sliding_attention" in layer_types and (
        isinstance(window, bool) or not isinstance(window, int) or window <= 0
    ):
        raise ConfigError(f"config key 'sliding_window' must be a positive integer, got {window!r}")


class DecoderLayer(GradientCheckpointingLayer):
    """Pre-norm block: ``h + self_attn(input_layernorm(h))``, then ``h + mlp(post_attention_layernorm(h))``.

    A family's subclass builds the four modules in ``__init__(config, layer_index)`` under these
    names (its checkpoint keys); a block that differs (more norms, another residual order) overrides
    :meth:`forward` with the same signature.
    """

    self_attn: nn.Module
    mlp: nn.Module
    input_layernorm: nn.Module
    post_attention_layernorm: nn.Module

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor | None,
        past_key_value: LayerCache | KeyValue | None,
        output_attentions: bool,
    ) -> tuple[torch.Tensor, KeyValue, torch.Tensor | None]:
        """Returns the new hidden states, the layer's ``(key, value)`` cache and the attention weights
        (None unless ``output_attentions``). ``past_key_value`` goes to the attention unchanged."""
        attended, present, weights = self.self_attn(
            self.input_layernorm(hidden_states), position_embeddings, mask, past_key_value, output_attentions
        )
        hidden_states = hidden_states + attended
        hidden_states = hidden_states + self.mlp(self.post_attention_layernorm(hidden_states))
        return hidden_states, present, weights


class SandwichNormDecoderLayer(DecoderLayer):
    """Norms on both sides of each sub-block (Gemma 2 and 3):
    ``h + post_attention_layernorm(self_attn(input_layernorm(h)))``, then
    ``h + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(h)))``. A family's subclass
    builds ``pre_feedforward_layernorm`` and ``post_feedforward_layernorm`` beside the four modules
    of :class:`DecoderLayer`."""

    pre_feedforward_layernorm: nn.Module
    post_feedforward_layernorm: nn.Module

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor | None,
        past_key_value: LayerCache | KeyValue | None,
        output_attentions: bool,
    ) -> tuple[torch.Tensor, KeyValue, torch.Tensor | None]:
        """Returns the new hidden states, the layer's ``(key, value)`` cache and the attention weights
        (None unless ``output_attentions``)."""
        attended, present, weights = self.self_attn(
            self.input_layernorm(hidden_states), position_embeddings, mask, past_key_value, output_attentions
        )
        hidden_states = hidden_states + self.post_attention_layernorm(attended)
        fed_forward = self.mlp(self.pre_feedforward_layernorm(hidden_states))
        return hidden_states + self.post_feedforward_layernorm(fed_forward), present, weights


class ScaledWordEmbedding(nn.Embedding):
    """Token embeddings times ``sqrt(embedding_dim)``, the factor rounded to the weights' dtype (as
    transformers' Gemma embeddings do); ``inputs_embeds`` given to a model bypass it, unscaled."""

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """The looked-up rows, scaled."""
        scale = torch.tensor(self.embedding_dim**0.5, device=self.weight.device).to(self.weight.dtype)
        return super().forward(input_ids) * scale


class RotaryDecoderModel(PreTrainedModel):
    """The bare decoder: ``embed_tokens``, ``layers`` of ``layer_class``, the final ``norm`` and the
    rotary tables; returns the final (normed) hidden states and the KV cache.

    What a family may declare or override: ``layer_class`` (required), ``norm_class`` (built as
    ``norm_class(hidden_size, eps=rms_norm_eps)``), ``embedding_class`` (an ``nn.Embedding``
    subclass built as ``embedding_class(vocab_size, hidden_size, pad_token_id)``), ``rotary_class``
    (built as ``rotary_class(config)``), :meth:`scale_embeddings`, :meth:`layer_types` and
    :meth:`rotary_embedding`.
    """

    layer_class: ClassVar[type[DecoderLayer]]
    norm_class: ClassVar[type[nn.Module]] = RMSNorm
    embedding_class: ClassVar[type[nn.Embedding]] = nn.Embedding
    rotary_class: ClassVar[type[nn.Module]] = RotaryEmbedding

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.padding_idx = config.pad_token_id
        self.embed_tokens = self.embedding_class(config.vocab_size, config.hidden_size, self.padding_idx)
        self.layers = nn.ModuleList(
            [self.layer_class(config, index) for index in range(config.num_hidden_layers)]
        )
        self.norm = self.norm_class(config.hidden_size, eps=config.rms_norm_eps)
        self.rotary_emb = self.rotary_class(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        """The token embedding table, ``embed_tokens``."""
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        """Replace ``embed_tokens``."""
        self.embed_tokens = value

    def scale_embeddings(self, inputs_embeds: torch.Tensor) -> torch.Tensor:
        """The first layer's input from the (looked-up or given) embeddings; unchanged by default."""
        return inputs_embeds

    def layer_types(self) -> list[str]:
        """Each layer's attention type (:data:`LAYER_TYPES`): ``config.layer_types`` when the config
        has one, else full attention everywhere. A ``sliding_attention`` layer sees the last
        ``config.sliding_window`` positions."""
        return getattr(self.config, "layer_types", None) or ["full_attention"] * self.config.num_hidden_layers

    def rotary_embedding(self, layer_type: str) -> nn.Module:
        """The rotary tables a layer of ``layer_type`` uses: the one ``rotary_emb`` by default."""
        return self.rotary_emb

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Cache | tuple[KeyValue, ...] | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        cache_position: torch.Tensor | None = None,
    ) -> BaseModelOutputWithPast | tuple[Any, ...]:
        """Run the layers over ``input_ids`` (or ``inputs_embeds``) after ``past_key_values``; the
        ``attention_mask`` covers past and new positions (0: padding; with a
        :class:`~autohub_core.cache.StaticCache` it may be padded to ``max_cache_len``).
        ``cache_position``: the new tokens' indices in the sequence (default: after the cache's);
        give it when the forward is compiled, so the cache's length is not read on the host."""
        check_model_inputs(input_ids, inputs_embeds)
        config = self.config
        use_cache = self._use_cache(use_cache)
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        batch_size, length = inputs_embeds.shape[:2]
        device = inputs_embeds.device
        legacy = isinstance(past_key_values, tuple | list)
        cache = self._cache(past_key_values, use_cache)
        if isinstance(cache, StaticCache):
            cache.check_batch(batch_size)
        if cache_position is None:
            past_length = cache.get_seq_length() if cache is not None else 0
            cache_position = torch.arange(past_length, past_length + length, device=device)
        if position_ids is None:
            position_ids = cache_position[None]
        layer_types = self.layer_types()
        masks, position_embeddings = {}, {}
        for layer_type in set(layer_types):
            masks[layer_type] = self._mask(
                cache, layer_types.index(layer_type), attention_mask, cache_position
            )
            position_embeddings[layer_type] = self.rotary_embedding(layer_type)(inputs_embeds, position_ids)

        hidden_states = self.scale_embeddings(inputs_embeds)
        all_hidden_states: tuple[torch.Tensor, ...] = ()
        all_attentions: tuple[torch.Tensor, ...] = ()
        for index, (layer, layer_type) in enumerate(zip(self.layers, layer_types, strict=True)):
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            past = LayerCache(cache, index, cache_position) if cache is not None else None
            hidden_states, _, weights = layer(
                hidden_states, position_embeddings[layer_type], masks[layer_type], past, output_attentions
            )
            if output_attentions:
                all_attentions += (weights,)
        hidden_states = self.norm(hidden_states)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)
        if use_cache and cache is not None:
            next_cache: Cache | tuple[KeyValue, ...] | None = cache.to_legacy_cache() if legacy else cache
        else:
            next_cache = None
        outputs = BaseModelOutputWithPast(
            last_hidden_state=hidden_states,
            past_key_values=next_cache,
            hidden_states=all_hidden_states if output_hidden_states else None,
            attentions=all_attentions if output_attentions else None,
        )
        return self._output(outputs, return_dict)

    def _cache(self, past_key_values: Cache | tuple[KeyValue, ...] | None, use_cache: bool) -> Cache | None:
        """The cache this step reads and writes: the one given, a legacy tuple's contents (every
        layer full, as before caches were objects), or a new :class:`DynamicCache` when caching."""
        if isinstance(past_key_values, Cache):
            return past_key_values
        if past_key_values:
            return DynamicCache.from_legacy_cache(past_key_values)
        return DynamicCache(self.config) if use_cache else None

    def _mask(
        self,
        cache: Cache | None,
        layer_index: int,
        attention_mask: torch.Tensor | None,
        cache_position: torch.Tensor,
    ) -> torch.Tensor | None:
        """Layer ``layer_index``'s boolean mask over the keys its attention will see (None: plain
        causal attention). A static cache's comes from tensors only (no host reads: compilable)."""
        if isinstance(cache, StaticCache):
            return cache.attention_mask(layer_index, attention_mask, cache_position)
        layer_type = self.layer_types()[layer_index]
        window = self.config.sliding_window if layer_type == "sliding_attention" else None
        past_length = cache.get_seq_length(layer_index) if cache is not None else 0
        length = cache_position.shape[0]
        mask = causal_mask(attention_mask, length, past_length, cache_position.device, window)
        stored = cache.stored_length(layer_index) if isinstance(cache, DynamicCache) else past_length
        if mask is not None and stored < past_length:  # a sliding layer dropped keys out of its window
            mask = mask[..., past_length - stored :]
        return mask


class _DecoderHead(PreTrainedModel):
    """A head holding ``base_model_class`` under ``base_model_prefix``."""

    base_model_class: ClassVar[type[RotaryDecoderModel]]
    base_model_prefix = "model"

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        setattr(self, self.base_model_prefix, self.base_model_class(config))

    def _base_outputs(self, **inputs: Any) -> BaseModelOutputWithPast:
        return self.base_model(**inputs, return_dict=True)


class DecoderForCausalLM(_DecoderHead, GenerationMixin):
    """The language-modelling head ``lm_head`` (tied to the embeddings when configured). A config
    with ``final_logit_softcapping`` gets ``tanh(logits / cap) * cap``, as Gemma declares.

    Tensor-parallel plan: ``lm_head`` colwise with gathered logits (left replicated while tied).
    """

    _tp_plan: ClassVar[dict[str, str]] = {"lm_head": "colwise_gather_output"}

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Module:
        """The output projection, ``lm_head``."""
        return self.lm_head

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        """Replace ``lm_head``."""
        self.lm_head = new_embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Cache | tuple[KeyValue, ...] | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        logits_to_keep: int = 0,
        num_items_in_batch: torch.Tensor | int | None = None,
        cache_position: torch.Tensor | None = None,
    ) -> Any:
        """``logits_to_keep=n`` computes the logits of the last ``n`` positions only (0: all). ``labels``
        are shifted inside (-100 ignored); the loss is averaged over the labelled tokens, or summed and
        divided by ``num_items_in_batch`` when given. ``past_key_values`` and ``cache_position``: see
        :meth:`RotaryDecoderModel.forward`."""
        outputs = self._base_outputs(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            cache_position=cache_position,
        )
        hidden_states = outputs.last_hidden_state
        logits = self.lm_head(hidden_states[:, -logits_to_keep:] if logits_to_keep else hidden_states)
        cap = getattr(self.config, "final_logit_softcapping", None)
        if cap is not None:
            logits = torch.tanh(logits / cap) * cap
        loss = None
        if labels is not None:
            loss = causal_lm_loss(logits, labels, num_items_in_batch)
        output = CausalLMOutput(
            loss=loss,
            logits=logits,
            past_key_values=outputs.past_key_values,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return self._output(output, return_dict)

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.Tensor,
        past_key_values: Cache | tuple[KeyValue, ...] | None = None,
        attention_mask: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Forward kwargs for the next step: only the new tokens once a cache exists, their
        ``cache_position``, and position ids counted over the attention mask (left padding). With a
        :class:`~autohub_core.cache.StaticCache` the mask is padded to ``max_cache_len``, so every
        decoding step has the same shapes."""
        past_length = cache_length(past_key_values)
        input_ids = input_ids[:, past_length:]
        position_ids = None
        if attention_mask is not None:
            position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, past_length:]
            if isinstance(past_key_values, StaticCache):
                room = past_key_values.max_cache_len - attention_mask.shape[-1]
                attention_mask = torch.nn.functional.pad(attention_mask, (0, max(room, 0)))
        cache_position = torch.arange(past_length, past_length + input_ids.shape[1], device=input_ids.device)
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "position_ids": position_ids,
            "past_key_values": past_key_values,
            "cache_position": cache_position,
            **kwargs,
        }

    def _static_cache(self, batch_size: int, max_cache_len: int) -> StaticCache:
        """An empty :class:`~autohub_core.cache.StaticCache` for ``generate(cache_implementation="static")``,
        in the dtype and on the device of the model's parameters."""
        parameter = next(self.parameters())
        return StaticCache(self.config, max_cache_len, batch_size, parameter.dtype, parameter.device)


def last_token_classification(
    model: PreTrainedModel,
    logits: torch.Tensor,
    outputs: Any,
    input_ids: torch.Tensor | None,
    labels: torch.Tensor | None,
) -> SequenceClassifierOutput:
    """A decoder classifier's output: the per-token ``logits`` pooled at each row's last non-pad
    token, the loss against ``labels`` (regression, single- or multi-label as the config's
    ``problem_type`` says), and the base ``outputs``' cache, hidden states and attentions."""
    pooled_logits = last_non_pad_token(logits, input_ids, model.config.pad_token_id)
    loss = None
    if labels is not None:
        loss = sequence_classification_loss(
            pooled_logits, labels.to(logits.device), model.config, model.num_labels
        )
    return SequenceClassifierOutput(
        loss=loss,
        logits=pooled_logits,
        past_key_values=outputs.past_key_values,
        hidden_states=outputs.hidden_states,
        attentions=outputs.attentions,
    )


class DecoderForSequenceClassification(_DecoderHead):
    """A classification / regression head (``score``, no bias) over the last non-pad token."""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
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
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        """The loss is a mean: ``num_items_in_batch`` is accepted and ignored, as in transformers."""
        outputs = self._base_outputs(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        output = last_token_classification(
            self, self.score(outputs.last_hidden_state), outputs, input_ids, labels
        )
        return self._output(output, return_dict)


class DecoderForTokenClassification(_DecoderHead):
    """A per-token classification head (``score``) behind dropout (``classifier_dropout``, else
    ``hidden_dropout``, else 0.1)."""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
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
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        """The loss (in float32) is a mean over labelled tokens: ``num_items_in_batch`` is accepted and
        ignored, as in transformers."""
        outputs = self._base_outputs(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.score(self.dropout(outputs.last_hidden_state))
        loss = None
        if labels is not None:
            loss = token_classification_loss(logits.float(), labels, self.num_labels)
        output = TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class DecoderForQuestionAnswering(_DecoderHead):
    """A span-extraction head (``qa_outputs``); the base model is ``transformer`` as in transformers."""

    base_model_prefix = "transformer"

    def __init__(self, config: Any) -> None:
        super().__init__(config)
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
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        """The loss is the mean of the start and end cross-entropies, each averaged over the batch or
        summed and divided by ``num_items_in_batch`` when given."""
        outputs = self._base_outputs(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            use_cache=False,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.qa_outputs(outputs.last_hidden_state)
        start_logits, end_logits = (part.squeeze(-1).contiguous() for part in logits.split(1, dim=-1))
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = question_answering_loss(
                start_logits, end_logits, start_positions, end_positions, num_items_in_batch
            )
        output = QuestionAnsweringModelOutput(
            loss=loss,
            start_logits=start_logits,
            end_logits=end_logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return self._output(output, return_dict)
