"""DistilBERT: word + position embeddings, a post-LayerNorm transformer encoder, and the task heads.

Attribute names follow the checkpoint keys of transformers' DistilBERT
(``distilbert.transformer.layer.0.attention.q_lin.weight`` ...), so Hub checkpoints load
without renaming. Attention runs through the core's ``attention`` with the implementation
``config._attn_implementation`` names (``"sdpa"`` unless set).
There are no token type ids and no pooler: the classification heads read the first token.

Training follows transformers: each ``DistilBertTransformerBlock`` is recomputed under gradient
checkpointing, and every head takes ``num_items_in_batch`` and, like transformers' DistilBERT heads
(plain mean cross-entropy), ignores it. ``token_type_ids`` is accepted and ignored by every class (DistilBERT
has no segment embeddings; transformers' AutoTokenizer returns them for DistilBERT checkpoints whose
tokenizer_config.json does not name DistilBertTokenizer, and transformers' classes take them too).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from autohub_core.errors import ConfigError
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
    BaseModelOutput,
    MaskedLMOutput,
    MultipleChoiceModelOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from autohub_distilbert.config import DistilBertConfig

__all__ = [
    "DistilBertForMaskedLM",
    "DistilBertForMultipleChoice",
    "DistilBertForQuestionAnswering",
    "DistilBertForSequenceClassification",
    "DistilBertForTokenClassification",
    "DistilBertModel",
    "DistilBertPreTrainedModel",
    "sinusoidal_position_embeddings",
]

_LAYER_NORM_EPS = 1e-12


def _check_supported(config: DistilBertConfig) -> None:
    """What DistilBertConfig's value rules (checked when the model is built) do not say."""
    get_activation(config.activation, "activation")


def sinusoidal_position_embeddings(n_positions: int, dim: int) -> torch.Tensor:
    """The fixed (n_positions, dim) float32 table: sin on even columns, cos on odd ones.

    Computed in float64 and rounded once, as transformers does with numpy.
    """
    divisors = torch.tensor([10000.0 ** (2 * (j // 2) / dim) for j in range(dim)], dtype=torch.float64)
    angles = torch.arange(n_positions, dtype=torch.float64)[:, None] / divisors
    table = torch.empty(n_positions, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angles[:, 0::2])
    table[:, 1::2] = torch.cos(angles[:, 1::2])
    return table.float()


class DistilBertEmbeddings(nn.Module):
    """Word + position embeddings, then LayerNorm and dropout.

    With ``sinusoidal_pos_embds`` the position table is initialised with fixed sinusoids
    when the checkpoint does not provide it (a provided table is used as is). The default
    position ids come from a non-persistent buffer, as in transformers.
    """

    def __init__(self, config: DistilBertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.dim, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.dim)
        self.LayerNorm = nn.LayerNorm(config.dim, eps=_LAYER_NORM_EPS)
        self.dropout = nn.Dropout(config.dropout)
        positions = torch.arange(config.max_position_embeddings).expand((1, -1))
        self.register_buffer("position_ids", positions, persistent=False)

    def forward(
        self,
        input_ids: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
        position_ids: torch.Tensor | None,
    ) -> torch.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        if position_ids is None:
            position_ids = self.position_ids[:, : inputs_embeds.shape[1]]
        embeddings = inputs_embeds + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class DistilBertSelfAttention(nn.Module):
    """Multi-head self-attention: q/k/v projections, attention, output projection.

    Head counts are read from the tensors (``-1``), so the projections may be sharded by heads
    under tensor parallelism and each rank attends over its own heads.
    """

    def __init__(self, config: DistilBertConfig) -> None:
        super().__init__()
        self.config = config
        self.head_dim = config.dim // config.n_heads
        self.scaling = self.head_dim**-0.5
        self.q_lin = nn.Linear(config.dim, config.dim)
        self.k_lin = nn.Linear(config.dim, config.dim)
        self.v_lin = nn.Linear(config.dim, config.dim)
        self.out_lin = nn.Linear(config.dim, config.dim)
        self.dropout_prob = config.attention_dropout

    def _split_heads(self, states: torch.Tensor) -> torch.Tensor:
        batch_size, seq_length, _ = states.shape
        return states.view(batch_size, seq_length, -1, self.head_dim).transpose(1, 2)

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.Tensor | None, output_attentions: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        context, weights = attention(
            self._split_heads(self.q_lin(hidden_states)),
            self._split_heads(self.k_lin(hidden_states)),
            self._split_heads(self.v_lin(hidden_states)),
            mask,
            dropout=self.dropout_prob if self.training else 0.0,
            scale=self.scaling,
            output_attentions=output_attentions,
            implementation=getattr(self.config, "_attn_implementation", None) or "sdpa",
        )
        batch_size, _, seq_length, _ = context.shape
        context = context.transpose(1, 2).reshape(batch_size, seq_length, -1)
        return self.out_lin(context), weights


class DistilBertFFN(nn.Module):
    """Position-wise feed-forward: lin1, activation, lin2, dropout."""

    def __init__(self, config: DistilBertConfig) -> None:
        super().__init__()
        self.lin1 = nn.Linear(config.dim, config.hidden_dim)
        self.lin2 = nn.Linear(config.hidden_dim, config.dim)
        self.activation = get_activation(config.activation, "activation")
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.lin2(self.activation(self.lin1(hidden_states))))


class DistilBertTransformerBlock(GradientCheckpointingLayer):
    """Attention and feed-forward, each followed by a residual add and LayerNorm (transformers'
    ``TransformerBlock``); recomputed in the backward pass under gradient checkpointing."""

    def __init__(self, config: DistilBertConfig) -> None:
        super().__init__()
        self.attention = DistilBertSelfAttention(config)
        self.sa_layer_norm = nn.LayerNorm(config.dim, eps=_LAYER_NORM_EPS)
        self.ffn = DistilBertFFN(config)
        self.output_layer_norm = nn.LayerNorm(config.dim, eps=_LAYER_NORM_EPS)

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.Tensor | None, output_attentions: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.attention(hidden_states, mask, output_attentions)
        attended = self.sa_layer_norm(attended + hidden_states)
        return self.output_layer_norm(self.ffn(attended) + attended), weights


class DistilBertTransformer(nn.Module):
    def __init__(self, config: DistilBertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList([DistilBertTransformerBlock(config) for _ in range(config.n_layers)])


class DistilBertPreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions shared by every DistilBERT class.

    Tensor-parallel plan: ``q_lin`` / ``k_lin`` / ``v_lin`` and ``ffn.lin1`` are sharded colwise,
    ``out_lin`` and ``ffn.lin2`` rowwise; embeddings, norms and heads replicated.
    """

    config_class = DistilBertConfig
    base_model_prefix = "distilbert"
    supports_gradient_checkpointing = True
    # transformers declares none; accelerate keeps each block on one device.
    _no_split_modules: ClassVar[list[str]] = ["DistilBertTransformerBlock"]
    base_model_tp_plan: ClassVar[dict[str, str]] = {
        "transformer.layer.*.attention.q_lin": "colwise",
        "transformer.layer.*.attention.k_lin": "colwise",
        "transformer.layer.*.attention.v_lin": "colwise",
        "transformer.layer.*.attention.out_lin": "rowwise",
        "transformer.layer.*.ffn.lin1": "colwise",
        "transformer.layer.*.ffn.lin2": "rowwise",
    }
    _keys_to_ignore_on_load_unexpected = [r"position_ids$"]

    def __init__(self, config: DistilBertConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        _check_supported(config)

    def _init_weights(self, module: nn.Module) -> None:
        """The core's default, plus sinusoidal positions (``sinusoidal_pos_embds``) and the index buffer."""
        super()._init_weights(module)
        if self.config.sinusoidal_pos_embds and module is self.base_model.embeddings.position_embeddings:
            with torch.no_grad():
                module.weight.copy_(sinusoidal_position_embeddings(*module.weight.shape))
        elif isinstance(module, DistilBertEmbeddings):
            module.position_ids.copy_(torch.arange(module.position_ids.shape[-1]).expand((1, -1)))


class DistilBertModel(DistilBertPreTrainedModel):
    """The bare DistilBERT encoder: returns the last hidden states."""

    def __init__(self, config: DistilBertConfig) -> None:
        super().__init__(config)
        self.embeddings = DistilBertEmbeddings(config)
        self.transformer = DistilBertTransformer(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def get_position_embeddings(self) -> nn.Embedding:
        return self.embeddings.position_embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> BaseModelOutput | tuple[torch.Tensor, ...]:
        check_model_inputs(input_ids, inputs_embeds)
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )

        hidden_states = self.embeddings(input_ids, inputs_embeds, position_ids)
        mask = padding_mask(attention_mask, hidden_states.dtype)
        all_hidden_states: tuple[torch.Tensor, ...] = ()
        all_attentions: tuple[torch.Tensor, ...] = ()
        for layer in self.transformer.layer:
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            hidden_states, weights = layer(hidden_states, mask, output_attentions)
            if output_attentions:
                all_attentions += (weights,)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)
        output = BaseModelOutput(
            last_hidden_state=hidden_states,
            hidden_states=all_hidden_states if output_hidden_states else None,
            attentions=all_attentions if output_attentions else None,
        )
        return self._output(output, return_dict)


class DistilBertForMaskedLM(DistilBertPreTrainedModel):
    """DistilBERT with the masked language modelling head (projection tied to the word embeddings)."""

    def __init__(self, config: DistilBertConfig) -> None:
        super().__init__(config)
        self.activation = get_activation(config.activation, "activation")
        self.distilbert = DistilBertModel(config)
        self.vocab_transform = nn.Linear(config.dim, config.dim)
        self.vocab_layer_norm = nn.LayerNorm(config.dim, eps=_LAYER_NORM_EPS)
        self.vocab_projector = nn.Linear(config.dim, config.vocab_size)
        self.post_init()

    def get_output_embeddings(self) -> nn.Module:
        return self.vocab_projector

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.vocab_projector = new_embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> Any:
        outputs = self.distilbert(
            input_ids,
            attention_mask,
            inputs_embeds,
            position_ids,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        transformed = self.vocab_layer_norm(self.activation(self.vocab_transform(outputs.last_hidden_state)))
        logits = self.vocab_projector(transformed)
        loss = None
        if labels is not None:
            loss = masked_lm_loss(logits, labels, upcast=False)
        output = MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class DistilBertForSequenceClassification(DistilBertPreTrainedModel):
    """DistilBERT with a classification / regression head over the first token."""

    def __init__(self, config: DistilBertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.distilbert = DistilBertModel(config)
        self.pre_classifier = nn.Linear(config.dim, config.dim)
        self.classifier = nn.Linear(config.dim, config.num_labels)
        self.dropout = nn.Dropout(config.seq_classif_dropout)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> Any:
        outputs = self.distilbert(
            input_ids,
            attention_mask,
            inputs_embeds,
            position_ids,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        pooled = F.relu(self.pre_classifier(outputs.last_hidden_state[:, 0]))
        logits = self.classifier(self.dropout(pooled))
        loss = None
        if labels is not None:
            loss = sequence_classification_loss(
                logits, labels.to(logits.device), self.config, self.num_labels
            )
        output = SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class DistilBertForQuestionAnswering(DistilBertPreTrainedModel):
    """DistilBERT with a span-extraction head (start and end logits)."""

    def __init__(self, config: DistilBertConfig) -> None:
        super().__init__(config)
        if config.num_labels != 2:
            raise ConfigError(
                f"config key 'num_labels' must be 2 for question answering, got {config.num_labels}"
            )
        self.distilbert = DistilBertModel(config)
        self.qa_outputs = nn.Linear(config.dim, config.num_labels)
        self.dropout = nn.Dropout(config.qa_dropout)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> Any:
        outputs = self.distilbert(
            input_ids,
            attention_mask,
            inputs_embeds,
            position_ids,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.qa_outputs(self.dropout(outputs.last_hidden_state))
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


class DistilBertForTokenClassification(DistilBertPreTrainedModel):
    """DistilBERT with a per-token classification head (NER, POS tagging)."""

    def __init__(self, config: DistilBertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.distilbert = DistilBertModel(config)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.dim, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> Any:
        outputs = self.distilbert(
            input_ids,
            attention_mask,
            inputs_embeds,
            position_ids,
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


class DistilBertForMultipleChoice(DistilBertPreTrainedModel):
    """DistilBERT scoring each of several choices; inputs are (batch, num_choices, seq)."""

    def __init__(self, config: DistilBertConfig) -> None:
        super().__init__(config)
        self.distilbert = DistilBertModel(config)
        self.pre_classifier = nn.Linear(config.dim, config.dim)
        self.classifier = nn.Linear(config.dim, 1)
        self.dropout = nn.Dropout(config.seq_classif_dropout)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> Any:
        num_choices = input_ids.shape[1] if input_ids is not None else inputs_embeds.shape[1]

        def flat(tensor: torch.Tensor | None) -> torch.Tensor | None:
            return tensor.view(-1, *tensor.shape[2:]) if tensor is not None and tensor.dim() > 2 else tensor

        outputs = self.distilbert(
            flat(input_ids),
            flat(attention_mask),
            inputs_embeds.view(-1, *inputs_embeds.shape[2:]) if inputs_embeds is not None else None,
            flat(position_ids),
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        pooled = F.relu(self.pre_classifier(outputs.last_hidden_state[:, 0]))
        logits = self.classifier(self.dropout(pooled)).view(-1, num_choices)
        loss = multiple_choice_loss(logits, labels) if labels is not None else None
        output = MultipleChoiceModelOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)
