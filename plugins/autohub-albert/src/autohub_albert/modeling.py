"""ALBERT: factorised embeddings, a parameter-shared post-LayerNorm encoder, a pooler, and the task heads.

Attribute names follow the checkpoint keys of transformers' ALBERT (``albert.encoder.
albert_layer_groups.0.albert_layers.0.attention.query.weight`` ...), so Hub checkpoints load
without renaming.

The embeddings have ``embedding_size`` features; ``encoder.embedding_hidden_mapping_in`` projects
them to ``hidden_size``. The encoder runs ``num_hidden_layers`` steps over ``num_hidden_groups``
groups of weights: step ``i`` runs every layer (``inner_group_num`` of them) of group
``int(i / (num_hidden_layers / num_hidden_groups))``, as transformers computes it, so one set of
weights serves several steps. ``output_hidden_states`` returns the projected embeddings and the
output of every layer run (``num_hidden_layers * inner_group_num`` of them), ``output_attentions``
the weights of every layer run, as transformers 5 records them.

Attention runs through the core's ``attention`` with the implementation
``config._attn_implementation`` names (``"sdpa"`` unless set). ``AlbertLayer`` is recomputed in
the backward pass under gradient checkpointing; every head takes ``num_items_in_batch`` and, as
transformers' ALBERT heads, averages its loss without it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from autohub_albert.config import AlbertConfig
from autohub_core.encoder import EncoderEmbeddings
from autohub_core.layers import (
    attention,
    check_model_inputs,
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
    AlbertForPreTrainingOutput,
    BaseModelOutputWithPooling,
    MaskedLMOutput,
    MultipleChoiceModelOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)

__all__ = [
    "AlbertForMaskedLM",
    "AlbertForMultipleChoice",
    "AlbertForPreTraining",
    "AlbertForPreTrainingOutput",
    "AlbertForQuestionAnswering",
    "AlbertForSequenceClassification",
    "AlbertForTokenClassification",
    "AlbertModel",
    "AlbertPreTrainedModel",
]


class AlbertEmbeddings(EncoderEmbeddings):
    """Word + position + token-type embeddings of ``embedding_size`` features, LayerNorm, dropout
    (the core's block)."""

    def __init__(self, config: AlbertConfig) -> None:
        super().__init__(config, config.embedding_size)


class AlbertAttention(nn.Module):
    """Multi-head self-attention, its output projection (``dense``), dropout, residual and LayerNorm.

    Head counts are read from the tensors (``-1``), so the projections may be sharded by heads
    under tensor parallelism and each rank attends over its own heads.
    """

    def __init__(self, config: AlbertConfig) -> None:
        super().__init__()
        self.config = config
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.scaling = self.head_dim**-0.5
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout_prob = config.attention_probs_dropout_prob
        self.output_dropout = nn.Dropout(config.hidden_dropout_prob)

    def _split_heads(self, states: torch.Tensor) -> torch.Tensor:
        batch_size, seq_length, _ = states.shape
        return states.view(batch_size, seq_length, -1, self.head_dim).transpose(1, 2)

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.Tensor | None, output_attentions: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        query = self._split_heads(self.query(hidden_states))
        key = self._split_heads(self.key(hidden_states))
        value = self._split_heads(self.value(hidden_states))
        context, weights = attention(
            query,
            key,
            value,
            mask,
            dropout=self.dropout_prob if self.training else 0.0,
            scale=self.scaling,
            output_attentions=output_attentions,
            implementation=getattr(self.config, "_attn_implementation", None) or "sdpa",
        )
        batch_size, _, seq_length, _ = context.shape
        context = context.transpose(1, 2).reshape(batch_size, seq_length, -1)
        output = self.LayerNorm(hidden_states + self.output_dropout(self.dense(context)))
        return output, weights


class AlbertLayer(GradientCheckpointingLayer):
    """Attention, then the feed-forward ``ffn`` -> activation -> ``ffn_output``, residual and
    ``full_layer_layer_norm``; recomputed in the backward pass under gradient checkpointing."""

    def __init__(self, config: AlbertConfig) -> None:
        super().__init__()
        self.full_layer_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.attention = AlbertAttention(config)
        self.ffn = nn.Linear(config.hidden_size, config.intermediate_size)
        self.ffn_output = nn.Linear(config.intermediate_size, config.hidden_size)
        self.activation = get_activation(config.hidden_act)

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.Tensor | None, output_attentions: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attention_output, weights = self.attention(hidden_states, mask, output_attentions)
        feed_forward = self.ffn_output(self.activation(self.ffn(attention_output)))
        return self.full_layer_layer_norm(feed_forward + attention_output), weights


class AlbertLayerGroup(nn.Module):
    """One group of shared weights: ``inner_group_num`` layers run in turn."""

    def __init__(self, config: AlbertConfig) -> None:
        super().__init__()
        self.albert_layers = nn.ModuleList([AlbertLayer(config) for _ in range(config.inner_group_num)])


class AlbertTransformer(nn.Module):
    """The projection of the embeddings to ``hidden_size`` and the ``num_hidden_groups`` layer groups."""

    def __init__(self, config: AlbertConfig) -> None:
        super().__init__()
        self.embedding_hidden_mapping_in = nn.Linear(config.embedding_size, config.hidden_size)
        self.albert_layer_groups = nn.ModuleList(
            [AlbertLayerGroup(config) for _ in range(config.num_hidden_groups)]
        )

    @staticmethod
    def group_of(layer: int, config: AlbertConfig) -> int:
        """The group whose weights step ``layer`` runs (transformers' formula, float division included)."""
        return int(layer / (config.num_hidden_layers / config.num_hidden_groups))


class AlbertPreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions shared by every ALBERT class.

    Tensor-parallel plan: query / key / value and ``ffn`` are sharded colwise (by heads /
    features), the attention's ``dense`` and ``ffn_output`` rowwise; embeddings, norms and heads
    replicated.
    """

    config_class = AlbertConfig
    base_model_prefix = "albert"
    supports_gradient_checkpointing = True
    _no_split_modules: ClassVar[list[str]] = ["AlbertEmbeddings", "AlbertLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = {
        "encoder.albert_layer_groups.*.albert_layers.*.attention.query": "colwise",
        "encoder.albert_layer_groups.*.albert_layers.*.attention.key": "colwise",
        "encoder.albert_layer_groups.*.albert_layers.*.attention.value": "colwise",
        "encoder.albert_layer_groups.*.albert_layers.*.attention.dense": "rowwise",
        "encoder.albert_layer_groups.*.albert_layers.*.ffn": "colwise",
        "encoder.albert_layer_groups.*.albert_layers.*.ffn_output": "rowwise",
    }
    _keys_to_ignore_on_load_unexpected: ClassVar[list[str]] = [
        r"position_ids$",
        r"embeddings\.token_type_ids$",
    ]

    def __init__(self, config: AlbertConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        get_activation(config.hidden_act)

    def _init_weights(self, module: nn.Module) -> None:
        """The core's default, plus the masked-LM bias and the index buffers."""
        super()._init_weights(module)
        if isinstance(module, AlbertMLMHead):
            nn.init.zeros_(module.bias)
        elif isinstance(module, EncoderEmbeddings):
            module.reset_buffers()


class AlbertModel(AlbertPreTrainedModel):
    """The bare ALBERT encoder: the last hidden states and the pooled first token (dense + tanh)."""

    def __init__(self, config: AlbertConfig, add_pooling_layer: bool = True) -> None:
        super().__init__(config)
        self.embeddings = AlbertEmbeddings(config)
        self.encoder = AlbertTransformer(config)
        self.pooler = nn.Linear(config.hidden_size, config.hidden_size) if add_pooling_layer else None
        self.pooler_activation = nn.Tanh() if add_pooling_layer else None
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
    ) -> BaseModelOutputWithPooling | tuple[Any, ...]:
        """``inputs_embeds`` has ``embedding_size`` features (what ``embeddings.word_embeddings`` gives)."""
        check_model_inputs(input_ids, inputs_embeds)
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        embeddings = self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds)
        hidden_states = self.encoder.embedding_hidden_mapping_in(embeddings)
        mask = padding_mask(attention_mask, hidden_states.dtype)
        all_hidden_states: tuple[torch.Tensor, ...] = ()
        all_attentions: tuple[torch.Tensor, ...] = ()
        for step in range(config.num_hidden_layers):
            group = self.encoder.albert_layer_groups[AlbertTransformer.group_of(step, config)]
            for layer in group.albert_layers:
                if output_hidden_states:
                    all_hidden_states += (hidden_states,)
                hidden_states, weights = layer(hidden_states, mask, output_attentions)
                if output_attentions:
                    all_attentions += (weights,)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)
        pooled = None
        if self.pooler is not None:
            pooled = self.pooler_activation(self.pooler(hidden_states[:, 0]))
        outputs = BaseModelOutputWithPooling(
            last_hidden_state=hidden_states,
            pooler_output=pooled,
            hidden_states=all_hidden_states if output_hidden_states else None,
            attentions=all_attentions if output_attentions else None,
        )
        return self._output(outputs, return_dict)


class AlbertMLMHead(nn.Module):
    """dense (hidden -> embedding size), activation, LayerNorm, then ``decoder`` to the vocabulary.

    With ``tie_word_embeddings`` the decoder's weight is the word embeddings and its bias is
    ``bias`` (the checkpoint's ``predictions.bias``), as transformers ties them.
    """

    def __init__(self, config: AlbertConfig) -> None:
        super().__init__()
        self.LayerNorm = nn.LayerNorm(config.embedding_size, eps=config.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.dense = nn.Linear(config.hidden_size, config.embedding_size)
        self.decoder = nn.Linear(config.embedding_size, config.vocab_size)
        self.activation = get_activation(config.hidden_act)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.LayerNorm(self.activation(self.dense(hidden_states))))


class AlbertSOPHead(nn.Module):
    """Sentence-order prediction over the pooled output: dropout, then ``classifier``."""

    def __init__(self, config: AlbertConfig) -> None:
        super().__init__()
        self.dropout = nn.Dropout(config.classifier_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, pooled_output: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(pooled_output))


class _AlbertWithMLMHead(AlbertPreTrainedModel):
    """What the two heads with ``predictions`` share: output embeddings and tying the decoder's bias."""

    predictions: AlbertMLMHead

    def get_output_embeddings(self) -> nn.Module:
        return self.predictions.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.predictions.decoder = new_embeddings

    def tie_weights(self) -> None:
        """The decoder's weight to the word embeddings and its bias to ``predictions.bias``."""
        super().tie_weights()
        if getattr(self.config, "tie_word_embeddings", True):
            self.predictions.decoder.bias = self.predictions.bias


class AlbertForPreTraining(_AlbertWithMLMHead):
    """ALBERT with the masked-LM and sentence-order-prediction heads of pre-training; the loss (with
    ``labels`` and ``sentence_order_label``) is the sum of both cross-entropies."""

    def __init__(self, config: AlbertConfig) -> None:
        super().__init__(config)
        self.albert = AlbertModel(config)
        self.predictions = AlbertMLMHead(config)
        self.sop_classifier = AlbertSOPHead(config)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        sentence_order_label: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        """``sentence_order_label``: 0 for sentences A then B in their order, 1 for swapped."""
        outputs = self.albert(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        prediction_logits = self.predictions(outputs.last_hidden_state)
        sop_logits = self.sop_classifier(outputs.pooler_output)
        loss = None
        if labels is not None and sentence_order_label is not None:
            loss = masked_lm_loss(prediction_logits, labels, upcast=False) + token_classification_loss(
                sop_logits, sentence_order_label, 2
            )
        output = AlbertForPreTrainingOutput(
            loss=loss,
            prediction_logits=prediction_logits,
            sop_logits=sop_logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return self._output(output, return_dict)


class AlbertForMaskedLM(_AlbertWithMLMHead):
    """ALBERT with the masked language modelling head."""

    def __init__(self, config: AlbertConfig) -> None:
        super().__init__(config)
        self.albert = AlbertModel(config, add_pooling_layer=False)
        self.predictions = AlbertMLMHead(config)
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
        outputs = self.albert(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.predictions(outputs.last_hidden_state)
        loss = masked_lm_loss(logits, labels, upcast=False) if labels is not None else None
        output = MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class AlbertForSequenceClassification(AlbertPreTrainedModel):
    """ALBERT with a classification / regression head over the pooled output (``problem_type``
    regression, single- or multi-label classification, inferred from the labels when unset)."""

    def __init__(self, config: AlbertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.albert = AlbertModel(config)
        self.dropout = nn.Dropout(config.classifier_dropout_prob)
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
        outputs = self.albert(
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
            loss = sequence_classification_loss(logits, labels, self.config, self.num_labels)
        output = SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class AlbertForTokenClassification(AlbertPreTrainedModel):
    """ALBERT with a per-token classification head (NER, POS tagging)."""

    def __init__(self, config: AlbertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.albert = AlbertModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(config.classifier_dropout_prob)
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
        outputs = self.albert(
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


class AlbertForQuestionAnswering(AlbertPreTrainedModel):
    """ALBERT with a span-extraction head (start and end logits)."""

    def __init__(self, config: AlbertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.albert = AlbertModel(config, add_pooling_layer=False)
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
        outputs = self.albert(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        start_logits, end_logits = self.qa_outputs(outputs.last_hidden_state).split(1, dim=-1)
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


class AlbertForMultipleChoice(AlbertPreTrainedModel):
    """ALBERT scoring each of several choices; inputs are (batch, num_choices, seq)."""

    def __init__(self, config: AlbertConfig) -> None:
        super().__init__(config)
        self.albert = AlbertModel(config)
        self.dropout = nn.Dropout(config.classifier_dropout_prob)
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
            return tensor.reshape(-1, *tensor.shape[2:]) if tensor is not None else None

        outputs = self.albert(
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
