"""RoBERTa and XLM-RoBERTa: BERT's post-LayerNorm encoder with fairseq position ids, and the task heads.

The embeddings and the encoder are the core's BERT-style blocks (:mod:`autohub_core.encoder`:
absolute or ``relative_key`` / ``relative_key_query`` positions, decoder mode with a key/value
cache and cross-attention, as described there); this file adds RoBERTa's position ids, pooler and
heads. Position ids start after the padding index (``padding_idx + 1``) and padding tokens keep
position ``padding_idx``, as in fairseq. Attribute names follow the checkpoint keys of
transformers' RoBERTa (``roberta.encoder.layer.0.attention.self.query.weight``,
``lm_head.dense.weight``, ``classifier.out_proj.weight`` ...), so Hub checkpoints of both families
load without renaming.

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

from autohub_core.encoder import (
    ENCODER_TP_PLAN,
    EncoderEmbeddings,
    EncoderLayer,
    EncoderStack,
    KeyValueCache,
    check_encoder_config,
    classifier_dropout,
    encoder_attention_masks,
    next_step_inputs,
)
from autohub_core.generation import GenerationMixin
from autohub_core.layers import (
    causal_lm_loss,
    check_model_inputs,
    masked_lm_loss,
    multiple_choice_loss,
    question_answering_loss,
    sequence_classification_loss,
    token_classification_loss,
)
from autohub_core.modeling import PreTrainedModel
from autohub_core.outputs import (
    BaseModelOutputWithPoolingAndCrossAttentions,
    CausalLMOutput,
    MaskedLMOutput,
    MultipleChoiceModelOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from autohub_roberta.config import RobertaConfig, XLMRobertaConfig

__all__ = [
    "BaseModelOutputWithPoolingAndCrossAttentions",
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


def position_ids_from_input_ids(
    input_ids: torch.Tensor, padding_idx: int, past_length: int = 0
) -> torch.Tensor:
    """fairseq positions: ``padding_idx + 1, padding_idx + 2, ...`` over non-pad tokens (after
    ``past_length`` cached ones); pads get ``padding_idx``."""
    not_pad = input_ids.ne(padding_idx).int()
    return ((torch.cumsum(not_pad, dim=1).type_as(not_pad) + past_length) * not_pad).long() + padding_idx


def position_ids_from_inputs_embeds(inputs_embeds: torch.Tensor, padding_idx: int) -> torch.Tensor:
    """Sequential positions from ``padding_idx + 1`` (padding cannot be seen in embeddings)."""
    batch_size, seq_length = inputs_embeds.shape[:2]
    positions = torch.arange(
        padding_idx + 1, seq_length + padding_idx + 1, dtype=torch.long, device=inputs_embeds.device
    )
    return positions.unsqueeze(0).expand(batch_size, seq_length)


class RobertaEmbeddings(EncoderEmbeddings):
    """Word + token-type + position embeddings, then LayerNorm and dropout (the core's block), with
    fairseq position ids: they start after ``padding_idx``, which padding tokens keep."""

    def __init__(self, config: RobertaConfig) -> None:
        super().__init__(config, position_padding_idx=config.pad_token_id)
        self.padding_idx = config.pad_token_id

    def default_position_ids(
        self, input_ids: torch.Tensor | None, inputs_embeds: torch.Tensor, past_length: int
    ) -> torch.Tensor:
        """Positions from ``input_ids`` continue after ``past_length`` cached tokens; positions from
        ``inputs_embeds`` restart at ``padding_idx + 1``, as in transformers."""
        if input_ids is not None:
            return position_ids_from_input_ids(input_ids, self.padding_idx, past_length)
        return position_ids_from_inputs_embeds(inputs_embeds, self.padding_idx)


class RobertaLayer(EncoderLayer):
    """Self-attention, cross-attention when a decoder has it, feed-forward (the core's block)."""


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
        self.dropout = nn.Dropout(classifier_dropout(config))
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        first_token = self.dropout(features[:, 0, :])
        return self.out_proj(self.dropout(torch.tanh(self.dense(first_token))))


class RobertaPreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions shared by every RoBERTa class.

    Tensor-parallel plan (XLM-RoBERTa inherits it): the core encoder's
    (:data:`~autohub_core.encoder.ENCODER_TP_PLAN`); embeddings, norms and heads replicated.
    """

    config_class = RobertaConfig
    base_model_prefix = "roberta"
    supports_gradient_checkpointing = True
    _no_split_modules = ["RobertaEmbeddings", "RobertaLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = ENCODER_TP_PLAN
    _keys_to_ignore_on_load_unexpected = [r"position_ids$", r"embeddings\.token_type_ids$"]

    def __init__(self, config: RobertaConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        check_encoder_config(config)

    def _init_weights(self, module: nn.Module) -> None:
        """The core's default, plus the output bias and the index buffers."""
        super()._init_weights(module)
        if isinstance(module, RobertaLMHead):
            nn.init.zeros_(module.bias)
        elif isinstance(module, EncoderEmbeddings):
            module.reset_buffers()

    def _encoder_model(self, add_pooling_layer: bool) -> RobertaModel:
        """The base model a head wraps (``XLMRobertaModel`` in the XLM-RoBERTa classes)."""
        return _classes(self)[0](self.config, add_pooling_layer=add_pooling_layer)


class RobertaModel(RobertaPreTrainedModel):
    """The bare RoBERTa encoder: last hidden states and pooled ``<s>``.

    With ``is_decoder=True`` the self-attention is causal, ``encoder_hidden_states`` feed the
    cross-attention layers (``add_cross_attention``) and ``past_key_values`` / ``use_cache`` carry the
    key/value cache (see :mod:`autohub_core.encoder`).
    """

    def __init__(self, config: RobertaConfig, add_pooling_layer: bool = True) -> None:
        super().__init__(config)
        _, embeddings_class, layer_class = _classes(self)
        self.embeddings = embeddings_class(config)
        self.encoder = EncoderStack(config, layer_class)
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
        mask, encoder_mask = encoder_attention_masks(
            config, attention_mask, hidden_states, past_length, encoder_hidden_states, encoder_attention_mask
        )
        encoded = self.encoder(
            hidden_states,
            mask,
            encoder_hidden_states,
            encoder_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            use_cache=use_cache,
            past_key_values=past_key_values,
        )
        hidden_states = encoded.last_hidden_state
        pooled = self.pooler(hidden_states) if self.pooler is not None else None
        outputs = BaseModelOutputWithPoolingAndCrossAttentions(
            last_hidden_state=hidden_states,
            pooler_output=pooled,
            hidden_states=encoded.hidden_states,
            past_key_values=encoded.past_key_values,
            attentions=encoded.attentions,
            cross_attentions=encoded.cross_attentions,
        )
        return self._output(outputs, return_dict)


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


class RobertaForCausalLM(_RobertaWithLMHead, GenerationMixin):
    """RoBERTa as a causal language model (``is_decoder=True``: causal self-attention, a KV cache,
    ``generate()``), optionally cross-attending to ``encoder_hidden_states`` (``add_cross_attention``)."""

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
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        past_key_values: KeyValueCache | None = None,
        logits_to_keep: int = 0,
    ) -> Any:
        """``labels`` are the input ids themselves (shifted inside, -100 ignored; no cache is built
        then). ``logits_to_keep=n`` computes the logits of the last ``n`` positions only (0: all)."""
        outputs = self.roberta(
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
        logits = self.lm_head(hidden_states[:, -logits_to_keep:] if logits_to_keep else hidden_states)
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
        """Forward kwargs for the next decoding step: the uncached tokens, positions from the mask
        (0-based, as transformers' ``generate`` passes them, not fairseq's)."""
        return next_step_inputs(input_ids, past_key_values, attention_mask, kwargs)


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
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
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
            encoder_hidden_states=encoder_hidden_states,
            encoder_attention_mask=encoder_attention_mask,
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
        self.dropout = nn.Dropout(classifier_dropout(config))
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
