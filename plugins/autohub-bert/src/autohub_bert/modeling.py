"""BERT: embeddings, a post-LayerNorm transformer encoder, a pooler, and the task heads.

Attribute names follow the checkpoint keys of transformers' BERT (``bert.encoder.layer.0.
attention.self.query.weight`` ...), so Hub checkpoints load without renaming. Attention runs
through the core's ``attention`` with the implementation ``config._attn_implementation`` names
(``"sdpa"`` unless set).

``position_embedding_type="relative_key"`` / ``"relative_key_query"`` (Shaw et al. / Huang et al.)
add a learned embedding of the query-key distance (``attention.self.distance_embedding``) to the
attention scores instead of adding absolute position embeddings, as transformers 4.x computed them;
transformers 5 dropped these types (it ignores the key). Their scores are explicit, so they always
run the eager implementation, as transformers did.

With ``is_decoder=True`` the self-attention is causal and ``past_key_values`` is a key/value cache:
one tuple per layer, ``(key, value)`` of the self-attention, followed by the cross-attention's
``(key, value)`` once it has run (``add_cross_attention=True`` with ``encoder_hidden_states``), each
(batch, heads, length, head_dim). It is never updated in place.

Training follows transformers: ``BertLayer`` is recomputed under gradient checkpointing, and every
head takes ``num_items_in_batch``; only ``BertLMHeadModel`` (transformers' ``loss_function``) divides
its summed loss by it, the other heads average their loss and ignore it, as transformers does.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import torch
from torch import nn

from autohub_bert.config import BertConfig
from autohub_core.errors import ConfigError
from autohub_core.generation import GenerationMixin
from autohub_core.layers import (
    additive_mask,
    attention,
    causal_lm_loss,
    check_model_inputs,
    get_activation,
    masked_lm_loss,
    multiple_choice_loss,
    padding_mask,
    question_answering_loss,
    relative_distance_scores,
    sequence_classification_loss,
    token_classification_loss,
)
from autohub_core.modeling import GradientCheckpointingLayer, PreTrainedModel
from autohub_core.outputs import (
    BaseModelOutputWithPoolingAndCrossAttentions,
    CausalLMOutput,
    MaskedLMOutput,
    MultipleChoiceModelOutput,
    NextSentencePredictorOutput,
    PreTrainingOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)

__all__ = [
    "BaseModelOutputWithPoolingAndCrossAttentions",
    "BertForMaskedLM",
    "BertForMultipleChoice",
    "BertForNextSentencePrediction",
    "BertForPreTraining",
    "BertForQuestionAnswering",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertLMHeadModel",
    "BertModel",
    "BertPreTrainedModel",
]

#: One entry per layer: self-attention (key, value), then cross-attention (key, value) once computed.
KeyValueCache = tuple[tuple[torch.Tensor, ...], ...]

logger = logging.getLogger("autohub")


def _check_supported(config: BertConfig) -> None:
    """What BertConfig's value rules (checked when the model is built) do not say."""
    if config.add_cross_attention and not config.is_decoder:
        raise ConfigError(
            "config key 'add_cross_attention' = True needs 'is_decoder' = True (cross-attention is a decoder's)"
        )
    get_activation(config.hidden_act)


def _implementation(config: BertConfig) -> str:
    """The attention implementation the config asks for (``from_pretrained(attn_implementation=)``)."""
    return getattr(config, "_attn_implementation", None) or "sdpa"


class BertEmbeddings(nn.Module):
    """Word + position + token-type embeddings, then LayerNorm and dropout.

    The absolute position embeddings are added only with ``position_embedding_type="absolute"``.
    The default position and token type ids come from non-persistent buffers, as in transformers.
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(
            config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id
        )
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.absolute_positions = config.position_embedding_type == "absolute"
        positions = torch.arange(config.max_position_embeddings).expand((1, -1))
        self.register_buffer("position_ids", positions, persistent=False)
        self.register_buffer(
            "token_type_ids", torch.zeros(positions.size(), dtype=torch.long), persistent=False
        )

    def forward(
        self,
        input_ids: torch.Tensor | None,
        token_type_ids: torch.Tensor | None,
        position_ids: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
        past_length: int = 0,
    ) -> torch.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        batch_size, seq_length = inputs_embeds.shape[:2]
        if token_type_ids is None:
            token_type_ids = self.token_type_ids[:, :seq_length].expand(batch_size, seq_length)
        embeddings = inputs_embeds + self.token_type_embeddings(token_type_ids)
        if self.absolute_positions:
            if position_ids is None:
                position_ids = self.position_ids[:, past_length : past_length + seq_length]
            embeddings = embeddings + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class BertSelfAttention(nn.Module):
    """Multi-head attention (query / key / value projections): self-attention, or cross-attention over
    ``encoder_hidden_states`` (``is_cross_attention``).

    Head counts are read from the tensors (``-1``), so the projections may be sharded by heads
    under tensor parallelism and each rank attends over its own heads. With a relative
    ``position_embedding_type`` (self-attention only) ``distance_embedding`` holds one vector per
    query-key distance in ``(-max_position_embeddings, max_position_embeddings)``.
    """

    def __init__(self, config: BertConfig, is_cross_attention: bool = False) -> None:
        super().__init__()
        self.config = config
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.scaling = self.head_dim**-0.5
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout_prob = config.attention_probs_dropout_prob
        self.is_cross_attention = is_cross_attention
        self.position_embedding_type = "absolute" if is_cross_attention else config.position_embedding_type
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


class BertSelfOutput(nn.Module):
    """Projection after attention, dropout, residual, LayerNorm."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + residual)


class BertAttention(nn.Module):
    def __init__(self, config: BertConfig, is_cross_attention: bool = False) -> None:
        super().__init__()
        self.self = BertSelfAttention(config, is_cross_attention)
        self.output = BertSelfOutput(config)

    def forward(
        self,
        hidden_states: torch.Tensor,
        mask: torch.Tensor | None,
        output_attentions: bool,
        past_key_value: tuple[torch.Tensor, torch.Tensor] | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, tuple[torch.Tensor, torch.Tensor]]:
        context, weights, present = self.self(
            hidden_states, mask, output_attentions, past_key_value, encoder_hidden_states
        )
        return self.output(context, hidden_states), weights, present


class BertIntermediate(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = get_activation(config.hidden_act)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden_states))


class BertOutput(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + residual)


class BertLayer(GradientCheckpointingLayer):
    """Self-attention, cross-attention (``add_cross_attention``, when ``encoder_hidden_states`` are
    given), then feed-forward; recomputed in the backward pass under gradient checkpointing."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.attention = BertAttention(config)
        if config.add_cross_attention:
            self.crossattention = BertAttention(config, is_cross_attention=True)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

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


class BertEncoder(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])


class BertPooler(nn.Module):
    """Dense + tanh over the first ([CLS]) token."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(hidden_states[:, 0]))


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = get_activation(config.hidden_act)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.activation(self.dense(hidden_states)))


class BertLMPredictionHead(nn.Module):
    """Transform, then a projection to the vocabulary (weight tied to the word embeddings)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.transform = BertPredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.decoder.bias = self.bias

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(hidden_states))


class BertOnlyMLMHead(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.predictions = BertLMPredictionHead(config)


class BertOnlyNSPHead(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.seq_relationship = nn.Linear(config.hidden_size, 2)


class BertPreTrainingHeads(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.predictions = BertLMPredictionHead(config)
        self.seq_relationship = nn.Linear(config.hidden_size, 2)


class BertPreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions shared by every BERT class.

    Tensor-parallel plan: query / key / value and the intermediate dense are sharded colwise
    (by heads / features), the two output denses rowwise; embeddings, norms and heads replicated.
    """

    config_class = BertConfig
    base_model_prefix = "bert"
    supports_gradient_checkpointing = True
    _no_split_modules = ["BertEmbeddings", "BertLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = {
        "encoder.layer.*.attention.self.query": "colwise",
        "encoder.layer.*.attention.self.key": "colwise",
        "encoder.layer.*.attention.self.value": "colwise",
        "encoder.layer.*.attention.output.dense": "rowwise",
        "encoder.layer.*.intermediate.dense": "colwise",
        "encoder.layer.*.output.dense": "rowwise",
    }
    _keys_to_ignore_on_load_unexpected = [r"position_ids$", r"embeddings\.token_type_ids$"]

    def __init__(self, config: BertConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        _check_supported(config)

    def _init_weights(self, module: nn.Module) -> None:
        """The core's default, plus the output bias and the index buffers."""
        super()._init_weights(module)
        if isinstance(module, BertLMPredictionHead):
            nn.init.zeros_(module.bias)
        elif isinstance(module, BertEmbeddings):
            module.position_ids.copy_(torch.arange(module.position_ids.shape[-1]).expand((1, -1)))
            module.token_type_ids.zero_()


class BertModel(BertPreTrainedModel):
    """The bare BERT encoder: returns the last hidden states and the pooled [CLS] output.

    With ``is_decoder=True`` the self-attention is causal, ``encoder_hidden_states`` feed the
    cross-attention layers (``add_cross_attention``) and ``past_key_values`` / ``use_cache`` carry the
    key/value cache (see the module docstring).
    """

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True) -> None:
        super().__init__(config)
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        use_cache: bool | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        past_key_values: KeyValueCache | None = None,
    ) -> BaseModelOutputWithPoolingAndCrossAttentions | tuple[Any, ...]:
        """``attention_mask`` covers the cached positions too (batch, past_length + length);
        ``encoder_hidden_states`` are ignored unless the model is a decoder, as in transformers."""
        check_model_inputs(input_ids, inputs_embeds)
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        use_cache = self._use_cache(use_cache) if config.is_decoder else False
        if not config.is_decoder:
            encoder_hidden_states = None
        past_key_values = past_key_values or None
        past_length = past_key_values[0][0].shape[-2] if past_key_values is not None else 0

        hidden_states = self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds, past_length)
        if config.is_decoder:
            mask = _causal_mask(attention_mask, hidden_states, past_length)
        else:
            mask = padding_mask(attention_mask, hidden_states.dtype)
        encoder_mask = None
        if encoder_hidden_states is not None:
            encoder_mask = padding_mask(encoder_attention_mask, hidden_states.dtype)
        all_hidden_states: tuple[torch.Tensor, ...] = ()
        all_attentions: tuple[torch.Tensor, ...] = ()
        all_cross_attentions: tuple[torch.Tensor, ...] = ()
        presents: KeyValueCache = ()
        for index, layer in enumerate(self.encoder.layer):
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
        pooled = self.pooler(hidden_states) if self.pooler is not None else None
        outputs = BaseModelOutputWithPoolingAndCrossAttentions(
            last_hidden_state=hidden_states,
            pooler_output=pooled,
            hidden_states=all_hidden_states if output_hidden_states else None,
            past_key_values=presents if use_cache else None,
            attentions=all_attentions if output_attentions else None,
            cross_attentions=all_cross_attentions or None,
        )
        return self._output(outputs, return_dict)


def _causal_mask(
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


def _classifier_dropout(config: BertConfig) -> float:
    return config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob


class BertForPreTraining(BertPreTrainedModel):
    """BERT with the masked-LM and next-sentence-prediction heads of pre-training."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config)
        self.cls = BertPreTrainingHeads(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Module:
        return self.cls.predictions.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.cls.predictions.decoder = new_embeddings
        self.cls.predictions.bias = new_embeddings.bias

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        next_sentence_label: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        outputs = self.bert(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        prediction_logits = self.cls.predictions(outputs.last_hidden_state)
        seq_relationship_logits = self.cls.seq_relationship(outputs.pooler_output)
        loss = None
        if labels is not None and next_sentence_label is not None:
            loss = masked_lm_loss(prediction_logits, labels, upcast=False) + token_classification_loss(
                seq_relationship_logits, next_sentence_label, 2
            )
        output = PreTrainingOutput(
            loss=loss,
            prediction_logits=prediction_logits,
            seq_relationship_logits=seq_relationship_logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return self._output(output, return_dict)


class BertLMHeadModel(BertPreTrainedModel, GenerationMixin):
    """BERT as a causal language model (``is_decoder=True``: causal self-attention, a KV cache,
    ``generate()``), optionally cross-attending to ``encoder_hidden_states`` (``add_cross_attention``)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        if not config.is_decoder:
            logger.warning("If you want to use `BertLMHeadModel` as a standalone, add `is_decoder=True.`")
        self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Module:
        return self.cls.predictions.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.cls.predictions.decoder = new_embeddings
        self.cls.predictions.bias = new_embeddings.bias

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
        use_cache: bool | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        past_key_values: KeyValueCache | None = None,
        logits_to_keep: int = 0,
    ) -> Any:
        """``labels`` are the input ids themselves (shifted inside, -100 ignored; no cache is built
        then). ``logits_to_keep=n`` computes the logits of the last ``n`` positions only (0: all)."""
        outputs = self.bert(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
            use_cache=False if labels is not None else use_cache,
            encoder_hidden_states=encoder_hidden_states,
            encoder_attention_mask=encoder_attention_mask,
            past_key_values=past_key_values,
        )
        hidden_states = outputs.last_hidden_state
        logits = self.cls.predictions(hidden_states[:, -logits_to_keep:] if logits_to_keep else hidden_states)
        loss = None
        if labels is not None:
            loss = causal_lm_loss(logits, labels, num_items_in_batch)
        output = CausalLMOutput(
            loss=loss,
            logits=logits,
            past_key_values=outputs.past_key_values,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            cross_attentions=outputs.cross_attentions,
        )
        return self._output(output, return_dict)

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.Tensor,
        past_key_values: KeyValueCache | None = None,
        attention_mask: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Forward kwargs for the next decoding step: the uncached tokens, positions from the mask."""
        return _next_step_inputs(input_ids, past_key_values, attention_mask, kwargs)


def _next_step_inputs(
    input_ids: torch.Tensor,
    past_key_values: KeyValueCache | None,
    attention_mask: torch.Tensor | None,
    kwargs: dict[str, Any],
) -> dict[str, Any]:
    """transformers' generation inputs: the tokens not in the cache, position ids counted over the
    attended tokens (padding at 0), ``token_type_ids`` extended with their last value; the other
    generation kwargs (``encoder_hidden_states`` ...) are passed on."""
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


class BertForMaskedLM(BertPreTrainedModel):
    """BERT with the masked language modelling head."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Module:
        return self.cls.predictions.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.cls.predictions.decoder = new_embeddings
        self.cls.predictions.bias = new_embeddings.bias

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
    ) -> Any:
        outputs = self.bert(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
            encoder_hidden_states=encoder_hidden_states,
            encoder_attention_mask=encoder_attention_mask,
        )
        logits = self.cls.predictions(outputs.last_hidden_state)
        loss = None
        if labels is not None:
            loss = masked_lm_loss(logits, labels, upcast=False)
        output = MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class BertForNextSentencePrediction(BertPreTrainedModel):
    """BERT with the next-sentence-prediction head."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config)
        self.cls = BertOnlyNSPHead(config)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        outputs = self.bert(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.cls.seq_relationship(outputs.pooler_output)
        loss = token_classification_loss(logits, labels, 2) if labels is not None else None
        output = NextSentencePredictorOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class BertForSequenceClassification(BertPreTrainedModel):
    """BERT with a classification / regression head over the pooled output."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(_classifier_dropout(config))
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        outputs = self.bert(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.classifier(self.dropout(outputs.pooler_output))
        loss = None
        if labels is not None:
            loss = sequence_classification_loss(
                logits, labels.to(logits.device), self.config, self.num_labels
            )
        output = SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class BertForMultipleChoice(BertPreTrainedModel):
    """BERT scoring each of several choices; inputs are (batch, num_choices, seq)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(_classifier_dropout(config))
        self.classifier = nn.Linear(config.hidden_size, 1)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        num_choices = input_ids.shape[1] if input_ids is not None else inputs_embeds.shape[1]

        def flat(tensor: torch.Tensor | None) -> torch.Tensor | None:
            return tensor.view(-1, *tensor.shape[2:]) if tensor is not None else None

        outputs = self.bert(
            flat(input_ids),
            flat(attention_mask),
            flat(token_type_ids),
            flat(position_ids),
            flat(inputs_embeds),
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.classifier(self.dropout(outputs.pooler_output)).view(-1, num_choices)
        loss = multiple_choice_loss(logits, labels) if labels is not None else None
        output = MultipleChoiceModelOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class BertForTokenClassification(BertPreTrainedModel):
    """BERT with a per-token classification head (NER, POS tagging)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(_classifier_dropout(config))
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        outputs = self.bert(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.classifier(self.dropout(outputs.last_hidden_state))
        loss = token_classification_loss(logits, labels, self.num_labels) if labels is not None else None
        output = TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class BertForQuestionAnswering(BertPreTrainedModel):
    """BERT with a span-extraction head (start and end logits)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        self.qa_outputs = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        outputs = self.bert(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.qa_outputs(outputs.last_hidden_state)
        start_logits, end_logits = logits.split(1, dim=-1)
        start_logits = start_logits.squeeze(-1).contiguous()
        end_logits = end_logits.squeeze(-1).contiguous()
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
        return self._output(output, return_dict)
