"""ELECTRA: BERT's encoder with embeddings of their own size, and ELECTRA's heads.

The embeddings and the encoder are the core's BERT-style blocks (:mod:`autohub_core.encoder`:
absolute or ``relative_key`` / ``relative_key_query`` positions, decoder mode with a key/value
cache and cross-attention). ELECTRA's embeddings have ``embedding_size`` features, projected to
``hidden_size`` by ``embeddings_project`` when the two differ; there is no pooler. The heads:
the discriminator (``ElectraForPreTraining``: is each token replaced?), the generator
(``ElectraForMaskedLM``, its output projection tied to the word embeddings), a causal LM, and the
fine-tuning heads (sequence classification with a GELU head over the first token, token
classification, question answering, multiple choice over a sequence summary). Attribute names
are transformers' checkpoint keys (``electra.embeddings_project.weight``,
``discriminator_predictions.dense_prediction.weight``, ``generator_lm_head.weight`` ...).

Training follows transformers: ``ElectraLayer`` is recomputed under gradient checkpointing, and
every head takes ``num_items_in_batch``; only ``ElectraForCausalLM`` (transformers'
``loss_function``) divides its summed loss by it, the other heads average their loss.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
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
from autohub_core.errors import ConfigError, LabelError
from autohub_core.generation import GenerationMixin
from autohub_core.layers import (
    causal_lm_loss,
    check_model_inputs,
    get_activation,
    masked_lm_loss,
    multiple_choice_loss,
    question_answering_loss,
    sequence_classification_loss,
    token_classification_loss,
)
from autohub_core.modeling import PreTrainedModel
from autohub_core.outputs import (
    BaseModelOutputWithPast,
    CausalLMOutput,
    MaskedLMOutput,
    ModelOutput,
    MultipleChoiceModelOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from autohub_electra.config import ElectraConfig

__all__ = [
    "ElectraForCausalLM",
    "ElectraForMaskedLM",
    "ElectraForMultipleChoice",
    "ElectraForPreTraining",
    "ElectraForPreTrainingOutput",
    "ElectraForQuestionAnswering",
    "ElectraForSequenceClassification",
    "ElectraForTokenClassification",
    "ElectraModel",
    "ElectraPreTrainedModel",
]

logger = logging.getLogger("autohub")


@dataclass
class ElectraForPreTrainingOutput(ModelOutput):
    """The discriminator's output: one ``logits`` value per token (batch, length), positive for a
    token it takes as replaced, and the binary cross-entropy ``loss`` over the attended tokens."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class ElectraEmbeddings(EncoderEmbeddings):
    """Word + position + token-type embeddings of ``embedding_size`` features, LayerNorm, dropout."""

    def __init__(self, config: ElectraConfig) -> None:
        super().__init__(config, config.embedding_size)


class ElectraLayer(EncoderLayer):
    """Self-attention, cross-attention when a decoder has it, feed-forward (the core's block)."""


class ElectraDiscriminatorPredictions(nn.Module):
    """The discriminator head: dense, ``hidden_act``, then one logit per token."""

    def __init__(self, config: ElectraConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = get_activation(config.hidden_act)
        self.dense_prediction = nn.Linear(config.hidden_size, 1)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.dense_prediction(self.activation(self.dense(hidden_states))).squeeze(-1)


class ElectraGeneratorPredictions(nn.Module):
    """The generator head's transform: dense to ``embedding_size``, GELU, LayerNorm."""

    def __init__(self, config: ElectraConfig) -> None:
        super().__init__()
        self.activation = get_activation("gelu")
        self.LayerNorm = nn.LayerNorm(config.embedding_size, eps=config.layer_norm_eps)
        self.dense = nn.Linear(config.hidden_size, config.embedding_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.activation(self.dense(hidden_states)))


class ElectraClassificationHead(nn.Module):
    """Sentence classification over the first token: dropout, dense, GELU, dropout, ``out_proj``."""

    def __init__(self, config: ElectraConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = get_activation("gelu")
        self.dropout = nn.Dropout(classifier_dropout(config))
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        features = self.dropout(hidden_states[:, 0])
        return self.out_proj(self.dropout(self.activation(self.dense(features))))


class ElectraSequenceSummary(nn.Module):
    """One vector per sequence (transformers' sequence summary, for multiple choice): the
    ``summary_type`` token (``first``, ``last``, ``cls_index``: the last one here) or the ``mean``,
    then ``summary_first_dropout``, the projection ``summary`` (``summary_use_proj``; to
    ``num_labels`` features with ``summary_proj_to_labels``), ``summary_activation`` and
    ``summary_last_dropout``."""

    def __init__(self, config: ElectraConfig) -> None:
        super().__init__()
        self.summary_type = config.summary_type
        self.summary: nn.Module = nn.Identity()
        if config.summary_use_proj:
            to_labels = getattr(config, "summary_proj_to_labels", False) and config.num_labels > 0
            features = config.num_labels if to_labels else config.hidden_size
            self.summary = nn.Linear(config.hidden_size, features)
        name = config.summary_activation
        self.activation = get_activation(name, "summary_activation") if name else nn.Identity()
        first_dropout = getattr(config, "summary_first_dropout", 0)
        last_dropout = config.summary_last_dropout
        self.first_dropout = nn.Dropout(first_dropout) if first_dropout > 0 else nn.Identity()
        self.last_dropout = nn.Dropout(last_dropout) if last_dropout > 0 else nn.Identity()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if self.summary_type == "first":
            output = hidden_states[:, 0]
        elif self.summary_type == "mean":
            output = hidden_states.mean(dim=1)
        else:  # "last", and "cls_index" without indices (transformers' multiple-choice head passes none)
            output = hidden_states[:, -1]
        return self.last_dropout(self.activation(self.summary(self.first_dropout(output))))


class ElectraPreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions shared by every ELECTRA class.

    Tensor-parallel plan: the core encoder's (:data:`~autohub_core.encoder.ENCODER_TP_PLAN`);
    embeddings, their projection, norms and heads replicated.
    """

    config_class = ElectraConfig
    base_model_prefix = "electra"
    supports_gradient_checkpointing = True
    _no_split_modules = ["ElectraEmbeddings", "ElectraLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = ENCODER_TP_PLAN
    _keys_to_ignore_on_load_unexpected = [r"position_ids$", r"embeddings\.token_type_ids$"]

    def __init__(self, config: ElectraConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        check_encoder_config(config)

    def _init_weights(self, module: nn.Module) -> None:
        """The core's default, plus the index buffers."""
        super()._init_weights(module)
        if isinstance(module, EncoderEmbeddings):
            module.reset_buffers()


class ElectraModel(ElectraPreTrainedModel):
    """The bare ELECTRA encoder: returns the last hidden states (no pooled output).

    With ``is_decoder=True`` the self-attention is causal, ``encoder_hidden_states`` feed the
    cross-attention layers (``add_cross_attention``) and ``past_key_values`` / ``use_cache`` carry the
    key/value cache (:mod:`autohub_core.encoder`).
    """

    def __init__(self, config: ElectraConfig) -> None:
        super().__init__(config)
        self.embeddings = ElectraEmbeddings(config)
        if config.embedding_size != config.hidden_size:
            self.embeddings_project = nn.Linear(config.embedding_size, config.hidden_size)
        self.encoder = EncoderStack(config, ElectraLayer)
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
    ) -> BaseModelOutputWithPast | tuple[Any, ...]:
        """``inputs_embeds`` have ``embedding_size`` features; ``attention_mask`` covers the cached
        positions too (batch, past_length + length); ``encoder_hidden_states`` are ignored unless the
        model is a decoder, as in transformers."""
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
        if hasattr(self, "embeddings_project"):
            hidden_states = self.embeddings_project(hidden_states)
        mask, encoder_mask = encoder_attention_masks(
            config, attention_mask, hidden_states, past_length, encoder_hidden_states, encoder_attention_mask
        )
        outputs = self.encoder(
            hidden_states,
            mask,
            encoder_hidden_states,
            encoder_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            use_cache=use_cache,
            past_key_values=past_key_values,
        )
        return self._output(outputs, return_dict)


def _discriminator_loss(
    logits: torch.Tensor, labels: torch.Tensor, attention_mask: torch.Tensor | None
) -> torch.Tensor:
    """Binary cross-entropy of the replaced-token logits, over the attended tokens only (as transformers)."""
    if not isinstance(labels, torch.Tensor) or labels.numel() != logits.numel():
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise LabelError(
            f"labels has shape {shape}; the discriminator expects one 0/1 value per token, "
            f"shape {tuple(logits.shape)}"
        )
    labels = labels.view_as(logits).to(logits.device)
    if attention_mask is not None:
        active = attention_mask.view_as(logits).to(logits.device) == 1
        return F.binary_cross_entropy_with_logits(logits[active], labels[active].float())
    return F.binary_cross_entropy_with_logits(logits, labels.float())


class ElectraForPreTraining(ElectraPreTrainedModel):
    """The ELECTRA discriminator: for each token, whether it was replaced (the checkpoints named
    ``*-discriminator``)."""

    def __init__(self, config: ElectraConfig) -> None:
        super().__init__(config)
        self.electra = ElectraModel(config)
        self.discriminator_predictions = ElectraDiscriminatorPredictions(config)
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
        """``labels`` (batch, length): 1 for a replaced token, 0 for an original one."""
        outputs = self.electra(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.discriminator_predictions(outputs.last_hidden_state)
        loss = _discriminator_loss(logits, labels, attention_mask) if labels is not None else None
        output = ElectraForPreTrainingOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class ElectraForMaskedLM(ElectraPreTrainedModel):
    """The ELECTRA generator: masked language modelling (the checkpoints named ``*-generator``)."""

    def __init__(self, config: ElectraConfig) -> None:
        super().__init__(config)
        self.electra = ElectraModel(config)
        self.generator_predictions = ElectraGeneratorPredictions(config)
        self.generator_lm_head = nn.Linear(config.embedding_size, config.vocab_size)
        self.post_init()

    def get_output_embeddings(self) -> nn.Module:
        return self.generator_lm_head

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.generator_lm_head = new_embeddings

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
        outputs = self.electra(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.generator_lm_head(self.generator_predictions(outputs.last_hidden_state))
        loss = masked_lm_loss(logits, labels, upcast=False) if labels is not None else None
        output = MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class ElectraForCausalLM(ElectraPreTrainedModel, GenerationMixin):
    """The generator as a causal language model (``is_decoder=True``: causal self-attention, a KV
    cache, ``generate()``), optionally cross-attending to ``encoder_hidden_states``
    (``add_cross_attention``)."""

    def __init__(self, config: ElectraConfig) -> None:
        super().__init__(config)
        if not config.is_decoder:
            logger.warning("If you want to use `ElectraForCausalLM` as a standalone, add `is_decoder=True.`")
        self.electra = ElectraModel(config)
        self.generator_predictions = ElectraGeneratorPredictions(config)
        self.generator_lm_head = nn.Linear(config.embedding_size, config.vocab_size)
        self.post_init()

    def get_output_embeddings(self) -> nn.Module:
        return self.generator_lm_head

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.generator_lm_head = new_embeddings

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
        outputs = self.electra(
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
        if logits_to_keep:
            hidden_states = hidden_states[:, -logits_to_keep:]
        logits = self.generator_lm_head(self.generator_predictions(hidden_states))
        loss = causal_lm_loss(logits, labels, num_items_in_batch) if labels is not None else None
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
        return next_step_inputs(input_ids, past_key_values, attention_mask, kwargs)


class ElectraForSequenceClassification(ElectraPreTrainedModel):
    """ELECTRA with a classification / regression head over the first token (GELU, not BERT's tanh)."""

    def __init__(self, config: ElectraConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.electra = ElectraModel(config)
        self.classifier = ElectraClassificationHead(config)
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
        outputs = self.electra(
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
            loss = sequence_classification_loss(logits, labels, self.config, self.num_labels)
        output = SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class ElectraForTokenClassification(ElectraPreTrainedModel):
    """ELECTRA with a per-token classification head (NER, POS tagging)."""

    def __init__(self, config: ElectraConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.electra = ElectraModel(config)
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
        outputs = self.electra(
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


class ElectraForQuestionAnswering(ElectraPreTrainedModel):
    """ELECTRA with a span-extraction head (start and end logits)."""

    def __init__(self, config: ElectraConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.electra = ElectraModel(config)
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
        outputs = self.electra(
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


class ElectraForMultipleChoice(ElectraPreTrainedModel):
    """ELECTRA scoring each of several choices over a sequence summary; inputs are (batch, num_choices, seq)."""

    def __init__(self, config: ElectraConfig) -> None:
        super().__init__(config)
        if (
            config.summary_use_proj
            and getattr(config, "summary_proj_to_labels", False)
            and config.num_labels not in (0, config.hidden_size)
        ):
            raise ConfigError(
                f"config key 'summary_proj_to_labels' = True projects the summary to num_labels = "
                f"{config.num_labels} features, but the multiple-choice classifier reads hidden_size = "
                f"{config.hidden_size}; set summary_proj_to_labels to false"
            )
        self.electra = ElectraModel(config)
        self.sequence_summary = ElectraSequenceSummary(config)
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

        outputs = self.electra(
            flat(input_ids),
            flat(attention_mask),
            flat(token_type_ids),
            flat(position_ids),
            flat(inputs_embeds),
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.classifier(self.sequence_summary(outputs.last_hidden_state)).view(-1, num_choices)
        loss = multiple_choice_loss(logits, labels) if labels is not None else None
        output = MultipleChoiceModelOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)
