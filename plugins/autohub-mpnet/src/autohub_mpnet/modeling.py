"""MPNet: embeddings, a post-LayerNorm encoder with a shared relative-position bias, and the task heads.

Attribute names follow the checkpoint keys of transformers' MPNet (``mpnet.encoder.layer.0.
attention.attn.q.weight`` ...), so Hub checkpoints load without renaming.

What sets MPNet apart from BERT:

- positions as RoBERTa's (fairseq): non-padding tokens count from ``padding_idx + 1`` and padding
  keeps ``padding_idx``; the padding index is always 1, as in transformers, whatever the config's
  ``pad_token_id``; there are no token type embeddings;
- one relative-position bias, ``encoder.relative_attention_bias`` (a bucket x head table), is
  computed once from the bidirectional T5-style buckets of the query-key offsets (32 buckets, up
  to distance 128: transformers never reads ``relative_attention_num_buckets`` there, it only sizes
  the table) and added to the attention scores of every layer.

Attention runs through the core's ``attention`` with the implementation ``config._attn_implementation``
names (``"sdpa"`` unless set), the bias going in as an additive mask; transformers runs MPNet eagerly
only, so ``"eager"`` is what gives transformers' dropout masks when training with attention dropout.
``MPNetLayer`` is recomputed under gradient checkpointing. Every head takes ``num_items_in_batch``
and, as transformers, averages its loss without it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from autohub_core.layers import (
    attention,
    check_model_inputs,
    get_activation,
    masked_lm_loss,
    multiple_choice_loss,
    padding_mask,
    question_answering_loss,
    relative_position_bucket,
    sequence_classification_loss,
    token_classification_loss,
)
from autohub_core.modeling import GradientCheckpointingLayer, PreTrainedModel
from autohub_core.outputs import (
    BaseModelOutputWithPooling,
    MaskedLMOutput,
    MultipleChoiceModelOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from autohub_mpnet.config import RELATIVE_ATTENTION_BUCKETS, MPNetConfig

__all__ = [
    "MPNetForMaskedLM",
    "MPNetForMultipleChoice",
    "MPNetForQuestionAnswering",
    "MPNetForSequenceClassification",
    "MPNetForTokenClassification",
    "MPNetModel",
    "MPNetPreTrainedModel",
    "position_ids_from_input_ids",
]

#: The index of ``<pad>`` in MPNet's vocabulary: the padding row of both embedding tables.
PADDING_IDX = 1
#: The farthest query-key offset with a bucket of its own; farther offsets share the last one.
RELATIVE_ATTENTION_MAX_DISTANCE = 128


def _implementation(config: MPNetConfig) -> str:
    """The attention implementation the config asks for (``from_pretrained(attn_implementation=)``)."""
    return getattr(config, "_attn_implementation", None) or "sdpa"


def position_ids_from_input_ids(input_ids: torch.Tensor, padding_idx: int = PADDING_IDX) -> torch.Tensor:
    """fairseq positions: ``padding_idx + 1, padding_idx + 2, ...`` over the non-pad tokens; pads
    get ``padding_idx``."""
    not_pad = input_ids.ne(padding_idx).int()
    return (torch.cumsum(not_pad, dim=1).type_as(not_pad) * not_pad).long() + padding_idx


class MPNetEmbeddings(nn.Module):
    """Word + position embeddings, then LayerNorm and dropout.

    Positions come from the input ids (:func:`position_ids_from_input_ids`); from ``inputs_embeds``,
    where padding cannot be seen, they run from ``padding_idx + 1``.
    """

    def __init__(self, config: MPNetConfig) -> None:
        super().__init__()
        self.padding_idx = PADDING_IDX
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=PADDING_IDX)
        self.position_embeddings = nn.Embedding(
            config.max_position_embeddings, config.hidden_size, padding_idx=PADDING_IDX
        )
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        positions = torch.arange(config.max_position_embeddings).expand((1, -1))
        self.register_buffer("position_ids", positions, persistent=False)

    def forward(
        self,
        input_ids: torch.Tensor | None,
        position_ids: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
    ) -> torch.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        if position_ids is None and input_ids is not None:
            position_ids = position_ids_from_input_ids(input_ids, self.padding_idx)
        elif position_ids is None:
            batch_size, seq_length = inputs_embeds.shape[:2]
            start = self.padding_idx + 1
            positions = torch.arange(start, start + seq_length, dtype=torch.long, device=inputs_embeds.device)
            position_ids = positions.expand(batch_size, -1)
        embeddings = inputs_embeds + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class MPNetSelfAttention(nn.Module):
    """Multi-head self-attention: query / key / value projections ``q``, ``k``, ``v`` and the output
    projection ``o``. Head counts are read from the tensors, so the projections may be sharded by
    heads under tensor parallelism."""

    def __init__(self, config: MPNetConfig) -> None:
        super().__init__()
        self.config = config
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.q = nn.Linear(config.hidden_size, config.hidden_size)
        self.k = nn.Linear(config.hidden_size, config.hidden_size)
        self.v = nn.Linear(config.hidden_size, config.hidden_size)
        self.o = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout_prob = config.attention_probs_dropout_prob

    def _split_heads(self, states: torch.Tensor) -> torch.Tensor:
        batch_size, seq_length, _ = states.shape
        return states.view(batch_size, seq_length, -1, self.head_dim).transpose(1, 2)

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.Tensor, output_attentions: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The projected attention output and, when requested, the attention weights; ``mask`` is
        the position bias plus the padding mask (additive)."""
        context, weights = attention(
            self._split_heads(self.q(hidden_states)),
            self._split_heads(self.k(hidden_states)),
            self._split_heads(self.v(hidden_states)),
            mask,
            dropout=self.dropout_prob if self.training else 0.0,
            scale=self.head_dim**-0.5,
            output_attentions=output_attentions,
            implementation=_implementation(self.config),
        )
        batch_size, _, seq_length, _ = context.shape
        return self.o(context.transpose(1, 2).reshape(batch_size, seq_length, -1)), weights


class MPNetAttention(nn.Module):
    """Self-attention, dropout, residual, LayerNorm."""

    def __init__(self, config: MPNetConfig) -> None:
        super().__init__()
        self.attn = MPNetSelfAttention(config)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.Tensor, output_attentions: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.attn(hidden_states, mask, output_attentions)
        return self.LayerNorm(self.dropout(attended) + hidden_states), weights


class MPNetIntermediate(nn.Module):
    def __init__(self, config: MPNetConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = get_activation(config.hidden_act)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden_states))


class MPNetOutput(nn.Module):
    def __init__(self, config: MPNetConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + residual)


class MPNetLayer(GradientCheckpointingLayer):
    """Self-attention then feed-forward; recomputed in the backward pass under gradient checkpointing."""

    def __init__(self, config: MPNetConfig) -> None:
        super().__init__()
        self.attention = MPNetAttention(config)
        self.intermediate = MPNetIntermediate(config)
        self.output = MPNetOutput(config)

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.Tensor, output_attentions: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.attention(hidden_states, mask, output_attentions)
        return self.output(self.intermediate(attended), attended), weights


class MPNetEncoder(nn.Module):
    """The layers and the relative-position bias they share."""

    def __init__(self, config: MPNetConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList([MPNetLayer(config) for _ in range(config.num_hidden_layers)])
        self.relative_attention_bias = nn.Embedding(
            config.relative_attention_num_buckets, config.num_attention_heads
        )

    def position_bias(self, length: int) -> torch.Tensor:
        """The (1, heads, length, length) bias of each query-key offset, from its bucket."""
        device = self.relative_attention_bias.weight.device
        positions = torch.arange(length, dtype=torch.long, device=device)
        buckets = relative_position_bucket(
            positions[None, :] - positions[:, None],
            bidirectional=True,
            num_buckets=RELATIVE_ATTENTION_BUCKETS,
            max_distance=RELATIVE_ATTENTION_MAX_DISTANCE,
        )
        return self.relative_attention_bias(buckets).permute(2, 0, 1).unsqueeze(0)


class MPNetPooler(nn.Module):
    """Dense + tanh over the first (``<s>``) token."""

    def __init__(self, config: MPNetConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(hidden_states[:, 0]))


class MPNetLMHead(nn.Module):
    """Dense, GELU, LayerNorm, then the vocabulary projection (weight tied to the word embeddings).

    ``decoder.bias`` is ``bias`` itself when the embeddings are tied, as in transformers.
    """

    def __init__(self, config: MPNetConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.layer_norm(F.gelu(self.dense(features))))


class MPNetClassificationHead(nn.Module):
    """Sentence classification over the ``<s>`` token: dropout, dense, tanh, dropout, out_proj."""

    def __init__(self, config: MPNetConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        first_token = self.dropout(features[:, 0, :])
        return self.out_proj(self.dropout(torch.tanh(self.dense(first_token))))


class MPNetPreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions shared by every MPNet class.

    Tensor-parallel plan: ``q`` / ``k`` / ``v``, the intermediate dense and the bias table (by
    heads) are sharded colwise, ``o`` and the output dense rowwise; embeddings, norms and heads
    replicated.
    """

    config_class = MPNetConfig
    base_model_prefix = "mpnet"
    supports_gradient_checkpointing = True
    _supports_flash_attn = False  # the position bias is an additive mask, which flash_attn cannot add
    _no_split_modules = ["MPNetEmbeddings", "MPNetLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = {
        "encoder.relative_attention_bias": "colwise",
        "encoder.layer.*.attention.attn.q": "colwise",
        "encoder.layer.*.attention.attn.k": "colwise",
        "encoder.layer.*.attention.attn.v": "colwise",
        "encoder.layer.*.attention.attn.o": "rowwise",
        "encoder.layer.*.intermediate.dense": "colwise",
        "encoder.layer.*.output.dense": "rowwise",
    }
    _keys_to_ignore_on_load_unexpected = [r"position_ids$"]

    def __init__(self, config: MPNetConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        get_activation(config.hidden_act)

    def _init_weights(self, module: nn.Module) -> None:
        """The core's default, plus the output bias and the position index buffer."""
        super()._init_weights(module)
        if isinstance(module, MPNetLMHead):
            nn.init.zeros_(module.bias)
        elif isinstance(module, MPNetEmbeddings):
            module.position_ids.copy_(torch.arange(module.position_ids.shape[-1]).expand((1, -1)))


class MPNetModel(MPNetPreTrainedModel):
    """The bare MPNet encoder: the last hidden states and the pooled ``<s>`` output."""

    def __init__(self, config: MPNetConfig, add_pooling_layer: bool = True) -> None:
        super().__init__(config)
        self.embeddings = MPNetEmbeddings(config)
        self.encoder = MPNetEncoder(config)
        self.pooler = MPNetPooler(config) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPooling | tuple[Any, ...]:
        check_model_inputs(input_ids, inputs_embeds)
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        hidden_states = self.embeddings(input_ids, position_ids, inputs_embeds)
        mask = self.encoder.position_bias(hidden_states.shape[1]).to(hidden_states.dtype)
        padding = padding_mask(attention_mask, hidden_states.dtype)
        if padding is not None:
            mask = mask + padding.to(mask.device)
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
        outputs = BaseModelOutputWithPooling(
            last_hidden_state=hidden_states,
            pooler_output=self.pooler(hidden_states) if self.pooler is not None else None,
            hidden_states=all_hidden_states if output_hidden_states else None,
            attentions=all_attentions if output_attentions else None,
        )
        return self._output(outputs, return_dict)


class MPNetForMaskedLM(MPNetPreTrainedModel):
    """MPNet with the masked language modelling head."""

    def __init__(self, config: MPNetConfig) -> None:
        super().__init__(config)
        self.mpnet = MPNetModel(config, add_pooling_layer=False)
        self.lm_head = MPNetLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.lm_head.decoder = new_embeddings
        self.lm_head.bias = new_embeddings.bias

    def tie_weights(self) -> None:
        """Tie the decoder weight to the word embeddings and its bias to ``lm_head.bias`` (when configured)."""
        super().tie_weights()
        if self.config.tie_word_embeddings:
            self.lm_head.decoder.bias = self.lm_head.bias

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        outputs = self.mpnet(
            input_ids,
            attention_mask,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.lm_head(outputs.last_hidden_state)
        loss = masked_lm_loss(logits, labels, upcast=False) if labels is not None else None
        output = MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class MPNetForSequenceClassification(MPNetPreTrainedModel):
    """MPNet with a classification / regression head over the ``<s>`` token (all three problem types)."""

    def __init__(self, config: MPNetConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.mpnet = MPNetModel(config, add_pooling_layer=False)
        self.classifier = MPNetClassificationHead(config)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        outputs = self.mpnet(
            input_ids,
            attention_mask,
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


class MPNetForMultipleChoice(MPNetPreTrainedModel):
    """MPNet scoring each of several choices from its pooled output; inputs are (batch, num_choices, seq)."""

    def __init__(self, config: MPNetConfig) -> None:
        super().__init__(config)
        self.mpnet = MPNetModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, 1)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
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

        outputs = self.mpnet(
            flat(input_ids),
            flat(attention_mask),
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


class MPNetForTokenClassification(MPNetPreTrainedModel):
    """MPNet with a per-token classification head (NER, POS tagging)."""

    def __init__(self, config: MPNetConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.mpnet = MPNetModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        outputs = self.mpnet(
            input_ids,
            attention_mask,
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


class MPNetForQuestionAnswering(MPNetPreTrainedModel):
    """MPNet with a span-extraction head (start and end logits)."""

    def __init__(self, config: MPNetConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.mpnet = MPNetModel(config, add_pooling_layer=False)
        self.qa_outputs = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        outputs = self.mpnet(
            input_ids,
            attention_mask,
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
