"""RoBERTa and XLM-RoBERTa: BERT's post-LayerNorm encoder with fairseq position ids, and the task heads.

Attribute names follow the checkpoint keys of transformers' RoBERTa (``roberta.encoder.layer.0.
attention.self.query.weight``, ``lm_head.dense.weight``, ``classifier.out_proj.weight`` ...), so
Hub checkpoints of both families load without renaming. Position ids start after the padding
index (``padding_idx + 1``) and padding tokens keep position ``padding_idx``, as in fairseq.
Attention runs through ``torch.nn.functional.scaled_dot_product_attention``.

With ``is_decoder=True`` the self-attention is causal (``RobertaForCausalLM``); there is no
key/value cache, each forward recomputes the whole sequence. Cross-attention
(``add_cross_attention``) is not implemented.

Training follows transformers: ``RobertaLayer`` is recomputed under gradient checkpointing, and every
head takes ``num_items_in_batch``; only the causal LM heads (transformers' ``loss_function``) divide
their summed loss by it, the other heads average their loss and ignore it, as transformers does. The
XLM-RoBERTa classes build ``XLMRobertaEmbeddings`` / ``XLMRobertaLayer``, the names their
``_no_split_modules`` lists.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from autohub_core.errors import ConfigError, UnsupportedConfigError
from autohub_core.layers import (
    attention,
    causal_lm_loss,
    get_activation,
    masked_lm_loss,
    multiple_choice_loss,
    padding_mask,
    question_answering_loss,
    sequence_classification_loss,
    token_classification_loss,
)
from autohub_core.modeling import GradientCheckpointingLayer, PreTrainedModel
from autohub_core.outputs import (
    BaseModelOutputWithPooling,
    CausalLMOutput,
    MaskedLMOutput,
    MultipleChoiceModelOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from autohub_roberta.config import RobertaConfig, XLMRobertaConfig

__all__ = [
    "RobertaForCausalLM",
    "RobertaForMaskedLM",
    "RobertaForMultipleChoice",
    "RobertaForQuestionAnswering",
    "RobertaForSequenceClassification",
    "RobertaForTokenClassification",
    "RobertaModel",
    "RobertaPreTrainedModel",
    "XLMRobertaForCausalLM",
    "XLMRobertaForMaskedLM",
    "XLMRobertaForMultipleChoice",
    "XLMRobertaForQuestionAnswering",
    "XLMRobertaForSequenceClassification",
    "XLMRobertaForTokenClassification",
    "XLMRobertaModel",
    "XLMRobertaPreTrainedModel",
]

logger = logging.getLogger("autohub")


def _check_supported(config: RobertaConfig) -> None:
    position_embedding_type = getattr(config, "position_embedding_type", "absolute")
    if position_embedding_type != "absolute":
        raise UnsupportedConfigError(
            f"config key 'position_embedding_type' = {position_embedding_type!r} is not supported "
            "by autohub-roberta (only 'absolute')"
        )
    if config.add_cross_attention:
        raise UnsupportedConfigError(
            "config key 'add_cross_attention' = True (RoBERTa as a seq2seq decoder) is not supported "
            "by autohub-roberta"
        )
    for key in ("hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size", "vocab_size"):
        value = getattr(config, key)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"config key {key!r} must be a positive integer, got {value!r}")
    if config.hidden_size % config.num_attention_heads:
        raise ConfigError(
            f"config key 'hidden_size' ({config.hidden_size}) must be a multiple of "
            f"'num_attention_heads' ({config.num_attention_heads})"
        )
    if isinstance(config.pad_token_id, bool) or not isinstance(config.pad_token_id, int):
        raise ConfigError(
            f"config key 'pad_token_id' must be an integer (RoBERTa's position ids start after it), "
            f"got {config.pad_token_id!r}"
        )
    get_activation(config.hidden_act)


def position_ids_from_input_ids(input_ids: torch.Tensor, padding_idx: int) -> torch.Tensor:
    """fairseq positions: ``padding_idx + 1, padding_idx + 2, ...`` over non-pad tokens; pads get ``padding_idx``."""
    not_pad = input_ids.ne(padding_idx).int()
    return (torch.cumsum(not_pad, dim=1).type_as(not_pad) * not_pad).long() + padding_idx


def position_ids_from_inputs_embeds(inputs_embeds: torch.Tensor, padding_idx: int) -> torch.Tensor:
    """Sequential positions from ``padding_idx + 1`` (padding cannot be seen in embeddings)."""
    batch_size, seq_length = inputs_embeds.shape[:2]
    positions = torch.arange(
        padding_idx + 1, seq_length + padding_idx + 1, dtype=torch.long, device=inputs_embeds.device
    )
    return positions.unsqueeze(0).expand(batch_size, seq_length)


class RobertaEmbeddings(nn.Module):
    """Word + token-type + position embeddings (fairseq position ids), then LayerNorm and dropout.

    The default token type ids come from a non-persistent buffer; ``position_ids`` (unused, the
    positions follow the padding) is registered too, so the module state is transformers'.
    """

    def __init__(self, config: RobertaConfig) -> None:
        super().__init__()
        self.padding_idx = config.pad_token_id
        self.word_embeddings = nn.Embedding(
            config.vocab_size, config.hidden_size, padding_idx=self.padding_idx
        )
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        positions = torch.arange(config.max_position_embeddings).expand((1, -1))
        self.register_buffer("position_ids", positions, persistent=False)
        self.register_buffer(
            "token_type_ids", torch.zeros(positions.size(), dtype=torch.long), persistent=False
        )
        self.position_embeddings = nn.Embedding(
            config.max_position_embeddings, config.hidden_size, padding_idx=self.padding_idx
        )

    def forward(
        self,
        input_ids: torch.Tensor | None,
        token_type_ids: torch.Tensor | None,
        position_ids: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
    ) -> torch.Tensor:
        if position_ids is None:
            if input_ids is not None:
                position_ids = position_ids_from_input_ids(input_ids, self.padding_idx)
            else:
                position_ids = position_ids_from_inputs_embeds(inputs_embeds, self.padding_idx)
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        if token_type_ids is None:
            batch_size, seq_length = inputs_embeds.shape[:2]
            token_type_ids = self.token_type_ids[:, :seq_length].expand(batch_size, seq_length)
        embeddings = (
            inputs_embeds
            + self.token_type_embeddings(token_type_ids)
            + self.position_embeddings(position_ids)
        )
        return self.dropout(self.LayerNorm(embeddings))


class RobertaSelfAttention(nn.Module):
    """Multi-head self-attention (query / key / value projections).

    Head counts are read from the tensors (``-1``), so the projections may be sharded by heads
    under tensor parallelism and each rank attends over its own heads.
    """

    def __init__(self, config: RobertaConfig) -> None:
        super().__init__()
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
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
            output_attentions=output_attentions,
        )
        batch_size, _, seq_length, _ = context.shape
        context = context.transpose(1, 2).reshape(batch_size, seq_length, -1)
        return context, weights


class RobertaSelfOutput(nn.Module):
    """Projection after attention, dropout, residual, LayerNorm."""

    def __init__(self, config: RobertaConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + residual)


class RobertaAttention(nn.Module):
    def __init__(self, config: RobertaConfig) -> None:
        super().__init__()
        self.self = RobertaSelfAttention(config)
        self.output = RobertaSelfOutput(config)

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.Tensor | None, output_attentions: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        context, weights = self.self(hidden_states, mask, output_attentions)
        return self.output(context, hidden_states), weights


class RobertaIntermediate(nn.Module):
    def __init__(self, config: RobertaConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = get_activation(config.hidden_act)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden_states))


class RobertaOutput(nn.Module):
    def __init__(self, config: RobertaConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + residual)


class RobertaLayer(GradientCheckpointingLayer):
    """Attention then feed-forward; recomputed in the backward pass under gradient checkpointing."""

    def __init__(self, config: RobertaConfig) -> None:
        super().__init__()
        self.attention = RobertaAttention(config)
        self.intermediate = RobertaIntermediate(config)
        self.output = RobertaOutput(config)

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.Tensor | None, output_attentions: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.attention(hidden_states, mask, output_attentions)
        return self.output(self.intermediate(attended), attended), weights


class RobertaEncoder(nn.Module):
    def __init__(self, config: RobertaConfig, layer_class: type[RobertaLayer]) -> None:
        super().__init__()
        self.layer = nn.ModuleList([layer_class(config) for _ in range(config.num_hidden_layers)])


class RobertaPooler(nn.Module):
    """Dense + tanh over the first (``<s>``) token."""

    def __init__(self, config: RobertaConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(hidden_states[:, 0]))


class RobertaLMHead(nn.Module):
    """Dense, GELU, LayerNorm, then the vocabulary projection (weight tied to the word embeddings).

    ``decoder.bias`` is ``bias`` itself when the embeddings are tied, as in transformers.
    """

    def __init__(self, config: RobertaConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.layer_norm(F.gelu(self.dense(features))))


class RobertaClassificationHead(nn.Module):
    """Sentence classification over the ``<s>`` token: dropout, dense, tanh, dropout, out_proj."""

    def __init__(self, config: RobertaConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(_classifier_dropout(config))
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        first_token = self.dropout(features[:, 0, :])
        return self.out_proj(self.dropout(torch.tanh(self.dense(first_token))))


class RobertaPreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions shared by every RoBERTa class.

    Tensor-parallel plan (XLM-RoBERTa inherits it): query / key / value and the intermediate
    dense are sharded colwise, the two output denses rowwise; embeddings, norms and heads replicated.
    """

    config_class = RobertaConfig
    base_model_prefix = "roberta"
    supports_gradient_checkpointing = True
    _no_split_modules = ["RobertaEmbeddings", "RobertaLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = {
        "encoder.layer.*.attention.self.query": "colwise",
        "encoder.layer.*.attention.self.key": "colwise",
        "encoder.layer.*.attention.self.value": "colwise",
        "encoder.layer.*.attention.output.dense": "rowwise",
        "encoder.layer.*.intermediate.dense": "colwise",
        "encoder.layer.*.output.dense": "rowwise",
    }
    _keys_to_ignore_on_load_unexpected = [r"position_ids$", r"embeddings\.token_type_ids$"]

    def __init__(self, config: RobertaConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        _check_supported(config)

    def _init_weights(self, module: nn.Module) -> None:
        """The core's default, plus the output bias and the index buffers."""
        super()._init_weights(module)
        if isinstance(module, RobertaLMHead):
            nn.init.zeros_(module.bias)
        elif isinstance(module, RobertaEmbeddings):
            module.position_ids.copy_(torch.arange(module.position_ids.shape[-1]).expand((1, -1)))
            module.token_type_ids.zero_()

    def _encoder_model(self, add_pooling_layer: bool) -> RobertaModel:
        """The base model a head wraps (``XLMRobertaModel`` in the XLM-RoBERTa classes)."""
        return _classes(self)[0](self.config, add_pooling_layer=add_pooling_layer)


class RobertaModel(RobertaPreTrainedModel):
    """The bare RoBERTa encoder (causal with ``is_decoder=True``): last hidden states and pooled ``<s>``."""

    def __init__(self, config: RobertaConfig, add_pooling_layer: bool = True) -> None:
        super().__init__(config)
        _, embeddings_class, layer_class = _classes(self)
        self.embeddings = embeddings_class(config)
        self.encoder = RobertaEncoder(config, layer_class)
        self.pooler = RobertaPooler(config) if add_pooling_layer else None
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
    ) -> BaseModelOutputWithPooling | tuple[torch.Tensor, ...]:
        """``use_cache`` is accepted for API compatibility; no key/value cache is returned."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("You have to specify exactly one of input_ids or inputs_embeds")
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        return_dict = self.config.use_return_dict if return_dict is None else return_dict

        hidden_states = self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds)
        mask = _self_attention_mask(attention_mask, hidden_states, causal=self.config.is_decoder)
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
        pooled = self.pooler(hidden_states) if self.pooler is not None else None
        outputs = BaseModelOutputWithPooling(
            last_hidden_state=hidden_states,
            pooler_output=pooled,
            hidden_states=all_hidden_states if output_hidden_states else None,
            attentions=all_attentions if output_attentions else None,
        )
        return outputs if return_dict else outputs.to_tuple()


def _self_attention_mask(
    attention_mask: torch.Tensor | None, hidden_states: torch.Tensor, causal: bool
) -> torch.Tensor | None:
    """Additive mask for self-attention: padding (from the 1/0 mask) and, for decoders, the future."""
    mask = padding_mask(attention_mask, hidden_states.dtype)
    if not causal:
        return mask
    seq_length = hidden_states.shape[1]
    future = torch.ones(seq_length, seq_length, dtype=torch.bool, device=hidden_states.device).triu(1)
    if mask is None:
        mask = torch.zeros(
            1, 1, seq_length, seq_length, dtype=hidden_states.dtype, device=hidden_states.device
        )
    else:
        mask = mask.expand(-1, -1, seq_length, -1)
    return mask.masked_fill(future, torch.finfo(hidden_states.dtype).min)


def _classifier_dropout(config: RobertaConfig) -> float:
    return config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob


class _RobertaWithLMHead(RobertaPreTrainedModel):
    """The encoder without pooler plus :class:`RobertaLMHead`, tied to the word embeddings.

    XLM-RoBERTa registers its ``lm_head`` first, as transformers does (the tied matrix then goes by
    ``lm_head.decoder.weight`` in ``named_parameters``, which ``num_parameters`` counts).
    """

    def __init__(self, config: RobertaConfig) -> None:
        super().__init__(config)
        if isinstance(self, XLMRobertaPreTrainedModel):
            self.lm_head = XLMRobertaLMHead(config)
            self.roberta = self._encoder_model(add_pooling_layer=False)
        else:
            self.roberta = self._encoder_model(add_pooling_layer=False)
            self.lm_head = RobertaLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.lm_head.decoder = new_embeddings

    def tie_weights(self) -> None:
        """Tie the decoder weight to the word embeddings and its bias to ``lm_head.bias`` (when configured)."""
        super().tie_weights()
        if self.config.tie_word_embeddings:
            self.lm_head.decoder.bias = self.lm_head.bias


class RobertaForCausalLM(_RobertaWithLMHead):
    """RoBERTa as a causal language model (set ``is_decoder=True`` for causal self-attention)."""

    def __init__(self, config: RobertaConfig) -> None:
        if not config.is_decoder:
            logger.warning(
                "If you want to use %s as a standalone, add `is_decoder=True.`", type(self).__name__
            )
        super().__init__(config)

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
    ) -> Any:
        """``labels`` are the inputs themselves (shifted inside); -100 is ignored."""
        outputs = self.roberta(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.lm_head(outputs.last_hidden_state)
        loss = None
        if labels is not None:
            loss = causal_lm_loss(logits, labels, num_items_in_batch)
        output = CausalLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class RobertaForMaskedLM(_RobertaWithLMHead):
    """RoBERTa with the masked language modelling head."""

    def __init__(self, config: RobertaConfig) -> None:
        if config.is_decoder:
            logger.warning(
                "If you want to use %s make sure `config.is_decoder=False` for bi-directional self-attention.",
                type(self).__name__,
            )
        super().__init__(config)

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
        outputs = self.roberta(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.lm_head(outputs.last_hidden_state)
        loss = None
        if labels is not None:
            loss = masked_lm_loss(logits, labels, upcast=False)
        output = MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class RobertaForSequenceClassification(RobertaPreTrainedModel):
    """RoBERTa with a classification / regression head over the ``<s>`` token (not the pooler)."""

    def __init__(self, config: RobertaConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.roberta = self._encoder_model(add_pooling_layer=False)
        self.classifier = RobertaClassificationHead(config)
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
        """The loss follows ``config.problem_type`` (inferred from the labels when unset)."""
        outputs = self.roberta(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.classifier(outputs.last_hidden_state)
        loss = None
        if labels is not None:
            loss = sequence_classification_loss(
                logits, labels.to(logits.device), self.config, self.num_labels
            )
        output = SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class RobertaForMultipleChoice(RobertaPreTrainedModel):
    """RoBERTa scoring each of several choices over the pooled output; inputs are (batch, num_choices, seq)."""

    def __init__(self, config: RobertaConfig) -> None:
        super().__init__(config)
        self.roberta = self._encoder_model(add_pooling_layer=True)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, 1)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        """Positional order as transformers' ``RobertaForMultipleChoice`` (token_type_ids second)."""
        num_choices = input_ids.shape[1] if input_ids is not None else inputs_embeds.shape[1]

        def flat(tensor: torch.Tensor | None) -> torch.Tensor | None:
            return tensor.view(-1, *tensor.shape[2:]) if tensor is not None else None

        outputs = self.roberta(
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


class RobertaForTokenClassification(RobertaPreTrainedModel):
    """RoBERTa with a per-token classification head (NER, POS tagging)."""

    def __init__(self, config: RobertaConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.roberta = self._encoder_model(add_pooling_layer=False)
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
        outputs = self.roberta(
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


class RobertaForQuestionAnswering(RobertaPreTrainedModel):
    """RoBERTa with a span-extraction head (start and end logits)."""

    def __init__(self, config: RobertaConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.roberta = self._encoder_model(add_pooling_layer=False)
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
        outputs = self.roberta(
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


# XLM-RoBERTa: the same architecture and checkpoint keys (prefix ``roberta.``), its own config class
# and module class names.


class XLMRobertaEmbeddings(RobertaEmbeddings):
    """RoBERTa's embeddings under XLM-RoBERTa's class name."""


class XLMRobertaLayer(RobertaLayer):
    """RoBERTa's layer under XLM-RoBERTa's class name."""


class XLMRobertaLMHead(RobertaLMHead):
    """RoBERTa's LM head under XLM-RoBERTa's class name."""


class XLMRobertaPreTrainedModel(RobertaPreTrainedModel):
    """Conventions shared by every XLM-RoBERTa class."""

    config_class = XLMRobertaConfig
    _no_split_modules = ["XLMRobertaEmbeddings", "XLMRobertaLayer"]


def _classes(
    model: RobertaPreTrainedModel,
) -> tuple[type[RobertaModel], type[RobertaEmbeddings], type[RobertaLayer]]:
    """The base model, embeddings and layer classes ``model`` builds (its family's names)."""
    if isinstance(model, XLMRobertaPreTrainedModel):
        return XLMRobertaModel, XLMRobertaEmbeddings, XLMRobertaLayer
    return RobertaModel, RobertaEmbeddings, RobertaLayer


class XLMRobertaModel(XLMRobertaPreTrainedModel, RobertaModel):
    """The bare XLM-RoBERTa encoder."""


class XLMRobertaForCausalLM(XLMRobertaPreTrainedModel, RobertaForCausalLM):
    """XLM-RoBERTa as a causal language model (``is_decoder=True``)."""


class XLMRobertaForMaskedLM(XLMRobertaPreTrainedModel, RobertaForMaskedLM):
    """XLM-RoBERTa with the masked language modelling head."""


class XLMRobertaForSequenceClassification(XLMRobertaPreTrainedModel, RobertaForSequenceClassification):
    """XLM-RoBERTa with a classification / regression head over the ``<s>`` token."""


class XLMRobertaForMultipleChoice(XLMRobertaPreTrainedModel, RobertaForMultipleChoice):
    """XLM-RoBERTa scoring each of several choices."""


class XLMRobertaForTokenClassification(XLMRobertaPreTrainedModel, RobertaForTokenClassification):
    """XLM-RoBERTa with a per-token classification head."""


class XLMRobertaForQuestionAnswering(XLMRobertaPreTrainedModel, RobertaForQuestionAnswering):
    """XLM-RoBERTa with a span-extraction head."""
