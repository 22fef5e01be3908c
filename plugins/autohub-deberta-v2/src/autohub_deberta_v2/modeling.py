"""DeBERTa-v2 / v3: embeddings, an encoder with disentangled attention, and the task heads.

Attribute names follow the checkpoint keys of transformers' DeBERTa-v2 (``deberta.encoder.layer.0.
attention.self.query_proj.weight`` ...), so Hub checkpoints load without renaming.

Disentangled attention adds two relative-position terms to the content scores ``q_i · k_j``:
content-to-position ``q_i · pk_δ(i,j)`` (``"c2p"``) and position-to-content ``k_j · pq_δ(i,j)``
(``"p2c"``), where ``pk`` / ``pq`` are the key / query projections of the relative-position
embeddings (the content projections themselves with ``share_att_key``) and ``δ(i, j)`` is the
(log-bucketed, with ``position_buckets``) distance ``i - j`` shifted into the table. Everything is
divided by ``sqrt(head_dim x (1 + number of terms))``.

How it is computed (transformers computes the same numbers more slowly):

- the row index ``δ(i, j)`` is the same for both terms (the buckets are odd in ``i - j``); the
  bucket of each distance is computed once per sequence length on the CPU, with transformers'
  float32 arithmetic, and cached per device; the (length, length) index is built once per forward
  and shared by every layer;
- only the table rows some ``(i, j)`` uses are projected (``2 x length - 1`` rows when the
  sequence is shorter than the table), per head with one broadcast matmul (no ``repeat`` over the
  batch), the scaling applied to those rows; c2p is one ``gather`` along the rows of ``q · pkᵀ``,
  p2c one ``gather`` along the rows of ``pq · kᵀ`` (already in (query, key) layout: no transpose);
- the two terms and the padding mask (filled in place) form one additive bias for the core's
  ``attention``, so the softmax and the value product run in ``scaled_dot_product_attention``
  (``"sdpa"``, the default).

The padding mask is transformers': a padded query attends to nothing, which makes its softmax
uniform over every key; padded positions therefore give the same (meaningless) numbers as in
transformers. ``flash_attention_2`` cannot add a bias and is refused.

Training follows transformers: ``DebertaV2Layer`` is recomputed under gradient checkpointing;
every head takes ``num_items_in_batch`` and, as transformers' DeBERTa heads do, averages its loss.
"""

from __future__ import annotations

import functools
import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from autohub_core.errors import ConfigError, LabelError, ModelInputError
from autohub_core.layers import (
    additive_mask,
    attention,
    check_model_inputs,
    get_activation,
    masked_lm_loss,
    multiple_choice_loss,
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
from autohub_deberta_v2.config import DebertaV2Config

__all__ = [
    "DebertaV2ForMaskedLM",
    "DebertaV2ForMultipleChoice",
    "DebertaV2ForQuestionAnswering",
    "DebertaV2ForSequenceClassification",
    "DebertaV2ForTokenClassification",
    "DebertaV2Model",
    "DebertaV2PreTrainedModel",
]


def _check_supported(config: DebertaV2Config) -> None:
    """What DebertaV2Config's value rules (checked when the model is built) do not say."""
    get_activation(config.hidden_act)
    get_activation(config.pooler_hidden_act, "pooler_hidden_act")
    if config.option("conv_kernel_size") > 0:
        get_activation(config.option("conv_act"), "conv_act")


def _implementation(config: DebertaV2Config) -> str:
    """The attention implementation the config asks for (``from_pretrained(attn_implementation=)``)."""
    return getattr(config, "_attn_implementation", None) or "sdpa"


# -- relative positions ------------------------------------------------------------------------


def _log_buckets(distances: torch.Tensor, buckets: int, max_position: int) -> torch.Tensor:
    """transformers' ``make_log_bucket_position``: distances within ``buckets // 2`` kept, longer ones
    mapped logarithmically up to ``max_position`` (float32 arithmetic, as transformers)."""
    sign = torch.sign(distances)
    middle = buckets // 2
    inside = (distances < middle) & (distances > -middle)
    absolute = torch.where(inside, torch.tensor(middle - 1).type_as(distances), torch.abs(distances))
    scale = torch.log(torch.tensor((max_position - 1) / middle))
    logarithmic = torch.ceil(torch.log(absolute / middle) / scale * (middle - 1)) + middle
    return torch.where(absolute <= middle, distances.type_as(logarithmic), logarithmic * sign).long()


@functools.lru_cache(maxsize=64)
def _rows_by_distance(
    length: int, span: int, buckets: int, max_position: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """For a sequence of ``length``: the used row of the relative-position table for each distance
    ``i - j`` from ``-(length - 1)`` to ``length - 1``, counted from the first used row, and the
    ids of the used rows.

    Row ``δ(i, j) = clamp(bucket(i - j) + span, 0, 2 span - 1)``; the buckets are monotonic in
    ``i - j``, so the used rows are the contiguous range ``[first, last]``.
    """
    distances = torch.arange(-(length - 1), length)
    if buckets > 0 and max_position > 0:
        distances = _log_buckets(distances, buckets, max_position)
    rows = torch.clamp(distances + span, 0, 2 * span - 1)
    first, last = int(rows.min()), int(rows.max())
    return (rows - first).to(device), torch.arange(first, last + 1, device=device)


def _relative_index(rows_by_distance: torch.Tensor) -> torch.Tensor:
    """(length, length) ``δ(i, j)`` from the rows of each distance (built per forward, not cached:
    it is as large as an attention map)."""
    length = (rows_by_distance.shape[0] + 1) // 2
    positions = torch.arange(length, device=rows_by_distance.device)
    return rows_by_distance[positions[:, None] - positions[None, :] + length - 1]


# -- embeddings ----------------------------------------------------------------------------------


class DebertaV2Embeddings(nn.Module):
    """Word (+ absolute position, with ``position_biased_input``) (+ token type, when
    ``type_vocab_size > 0``) embeddings of ``embedding_size``, projected to ``hidden_size`` when it
    differs (``embed_proj``), then LayerNorm, zeroed at padded positions, and dropout."""

    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        embedding_size = config.option("embedding_size")
        self.word_embeddings = nn.Embedding(
            config.vocab_size, embedding_size, padding_idx=config.pad_token_id
        )
        self.position_biased_input = config.position_biased_input
        self.position_embeddings = (
            nn.Embedding(config.max_position_embeddings, embedding_size)
            if config.position_biased_input
            else None
        )
        self.token_type_embeddings = (
            nn.Embedding(config.type_vocab_size, embedding_size) if config.type_vocab_size > 0 else None
        )
        self.embed_proj = (
            nn.Linear(embedding_size, config.hidden_size, bias=False)
            if embedding_size != config.hidden_size
            else None
        )
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        positions = torch.arange(config.max_position_embeddings).expand((1, -1))
        self.register_buffer("position_ids", positions, persistent=False)

    def forward(
        self,
        input_ids: torch.Tensor | None,
        token_type_ids: torch.Tensor | None,
        position_ids: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        embeddings = inputs_embeds
        if self.position_embeddings is not None:
            if position_ids is None:
                position_ids = self.position_ids[:, : inputs_embeds.shape[1]]
            embeddings = embeddings + self.position_embeddings(position_ids.long())
        if self.token_type_embeddings is not None:
            if token_type_ids is None:
                token_type_ids = torch.zeros(
                    inputs_embeds.shape[:2], dtype=torch.long, device=inputs_embeds.device
                )
            embeddings = embeddings + self.token_type_embeddings(token_type_ids)
        if self.embed_proj is not None:
            embeddings = self.embed_proj(embeddings)
        embeddings = self.LayerNorm(embeddings)
        if mask is not None:
            embeddings = embeddings * mask.unsqueeze(-1).to(embeddings.dtype)
        return self.dropout(embeddings)


# -- attention ------------------------------------------------------------------------------------


class DisentangledSelfAttention(nn.Module):
    """Multi-head self-attention with the c2p / p2c relative-position terms (module docstring).

    Head counts are read from the tensors (``-1``), so the projections may be sharded by heads under
    tensor parallelism and each rank attends over its own heads.
    """

    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        self.config = config
        self.head_dim = config.option("attention_head_size")
        all_head_size = config.num_attention_heads * self.head_dim
        self.query_proj = nn.Linear(config.hidden_size, all_head_size)
        self.key_proj = nn.Linear(config.hidden_size, all_head_size)
        self.value_proj = nn.Linear(config.hidden_size, all_head_size)
        self.share_att_key = config.option("share_att_key")
        self.pos_att_type = list(config.pos_att_type or [])
        self.relative_attention = config.relative_attention
        self.scaling = 1.0 / math.sqrt(self.head_dim * (1 + len(set(self.pos_att_type))))
        if self.relative_attention:
            self.pos_dropout = nn.Dropout(config.hidden_dropout_prob)
            if not self.share_att_key:
                if "c2p" in self.pos_att_type:
                    self.pos_key_proj = nn.Linear(config.hidden_size, all_head_size)
                if "p2c" in self.pos_att_type:
                    self.pos_query_proj = nn.Linear(config.hidden_size, all_head_size)
        self.dropout_prob = config.attention_probs_dropout_prob

    def _heads(self, states: torch.Tensor) -> torch.Tensor:
        """(batch, length, heads x head_dim) -> (batch, heads, length, head_dim)."""
        return states.unflatten(-1, (-1, self.head_dim)).transpose(-3, -2)

    def _position_terms(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        rows: torch.Tensor,
        index: torch.Tensor,
    ) -> torch.Tensor | None:
        """``(c2p + p2c) x scaling``, (batch, heads, length, length), from the used ``rows`` of the
        (normalised) relative-position table; the scaling is applied to the (few) projected rows.

        c2p ``[i, j] = (q · pk)[i, δ(i, j)]`` gathers along the rows of ``q · pkᵀ``;
        p2c ``[i, j] = (pq · k)[δ(i, j), j]`` gathers along the rows of ``pq · kᵀ``, which gives
        the (query, key) layout directly.
        """
        rows = self.pos_dropout(rows)
        bias = None
        batch, heads, length, _ = query.shape
        if "c2p" in self.pos_att_type:
            projection = self.key_proj if self.share_att_key else self.pos_key_proj
            position_keys = (
                projection(rows).unflatten(-1, (-1, self.head_dim)).permute(1, 2, 0) * self.scaling
            )
            scores = torch.matmul(query, position_keys)  # (batch, heads, query, rows)
            bias = torch.gather(scores, -1, index.expand(batch, heads, length, length))
        if "p2c" in self.pos_att_type:
            projection = self.query_proj if self.share_att_key else self.pos_query_proj
            position_queries = (
                projection(rows).unflatten(-1, (-1, self.head_dim)).transpose(0, 1) * self.scaling
            )
            scores = torch.matmul(position_queries, key.transpose(-1, -2))  # (batch, heads, rows, key)
            p2c = torch.gather(scores, -2, index.expand(batch, heads, length, length))
            bias = p2c if bias is None else bias.add_(p2c)
        return bias

    def forward(
        self,
        hidden_states: torch.Tensor,
        blocked: torch.Tensor | None,
        queries_kept: torch.Tensor | None,
        rows: torch.Tensor | None,
        index: torch.Tensor | None,
        output_attentions: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attention output (batch, length, heads x head_dim) and, when requested, the weights.

        ``blocked`` (batch, 1, length, length) says which key each query may not attend to; a padded
        query attends to none, and ``queries_kept`` (batch, 1, length, 1) zeroes its query so that, as in
        transformers, its uniform attention passes no gradient to the queries and keys.
        """
        query = self._heads(self.query_proj(hidden_states))
        if queries_kept is not None:
            query = query * queries_kept
        key = self._heads(self.key_proj(hidden_states))
        value = self._heads(self.value_proj(hidden_states))
        bias = None
        if rows is not None:
            bias = self._position_terms(query, key, rows, index)
        if blocked is not None:
            bias = (
                additive_mask(~blocked, query.dtype)
                if bias is None
                else bias.masked_fill_(blocked, torch.finfo(bias.dtype).min)
            )
        context, weights = attention(
            query,
            key,
            value,
            bias,
            dropout=self.dropout_prob if self.training else 0.0,
            scale=self.scaling,
            output_attentions=output_attentions,
            implementation=_implementation(self.config),
        )
        return context.transpose(1, 2).flatten(2), weights


class DebertaV2SelfOutput(nn.Module):
    """Projection after attention, dropout, residual, LayerNorm."""

    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + residual)


class DebertaV2Attention(nn.Module):
    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        self.self = DisentangledSelfAttention(config)
        self.output = DebertaV2SelfOutput(config)


class DebertaV2Intermediate(nn.Module):
    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = get_activation(config.hidden_act)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden_states))


class DebertaV2Output(nn.Module):
    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + residual)


class DebertaV2Layer(GradientCheckpointingLayer):
    """Disentangled self-attention then feed-forward, each with a post-LayerNorm residual;
    recomputed in the backward pass under gradient checkpointing."""

    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        self.attention = DebertaV2Attention(config)
        self.intermediate = DebertaV2Intermediate(config)
        self.output = DebertaV2Output(config)

    def forward(
        self,
        hidden_states: torch.Tensor,
        blocked: torch.Tensor | None,
        queries_kept: torch.Tensor | None,
        rows: torch.Tensor | None,
        index: torch.Tensor | None,
        output_attentions: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        context, weights = self.attention.self(
            hidden_states, blocked, queries_kept, rows, index, output_attentions
        )
        attended = self.attention.output(context, hidden_states)
        return self.output(self.intermediate(attended), attended), weights


class ConvLayer(nn.Module):
    """DeBERTa-v2's convolution beside the first layer (``conv_kernel_size > 0``): a 1-D convolution
    of the embeddings, zeroed at padding, activated and added to the first layer's output, then
    LayerNorm and the padding zeroed again."""

    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        kernel_size = config.option("conv_kernel_size")
        self.conv = nn.Conv1d(
            config.hidden_size,
            config.hidden_size,
            kernel_size,
            padding=(kernel_size - 1) // 2,
            groups=config.option("conv_groups"),
        )
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.activation = get_activation(config.option("conv_act"), "conv_act")

    def forward(
        self, embeddings: torch.Tensor, layer_output: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        convolved = self.conv(embeddings.transpose(1, 2)).transpose(1, 2)
        if mask is not None:
            convolved = convolved.masked_fill(~mask.bool().unsqueeze(-1), 0)
        output = self.LayerNorm(layer_output + self.activation(self.dropout(convolved)))
        return output if mask is None else output * mask.unsqueeze(-1).to(output.dtype)


class DebertaV2Encoder(nn.Module):
    """The layers, the shared relative-position table (``rel_embeddings``, normalised by ``LayerNorm``
    with ``norm_rel_ebd="layer_norm"``) and the optional ``conv`` beside the first layer."""

    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        self.config = config
        self.layer = nn.ModuleList([DebertaV2Layer(config) for _ in range(config.num_hidden_layers)])
        self.relative_attention = config.relative_attention
        if self.relative_attention:
            self.rel_embeddings = nn.Embedding(2 * config.relative_position_span, config.hidden_size)
        if config.normalises_relative_embeddings:
            self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.conv = ConvLayer(config) if config.option("conv_kernel_size") > 0 else None

    def relative_positions(
        self, length: int, device: torch.device
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The used (normalised) rows of the relative-position table and the index into them, or
        Nones without relative attention terms."""
        config = self.config
        if not self.relative_attention or not config.pos_att_type:
            return None, None
        span = config.relative_position_span
        max_position = (
            config.max_relative_positions
            if config.max_relative_positions >= 1
            else config.max_position_embeddings
        )
        by_distance, row_ids = _rows_by_distance(
            length, span, config.option("position_buckets"), max_position, device
        )
        rows = self.rel_embeddings(row_ids)  # through the module: device-map hooks see it
        if hasattr(self, "LayerNorm"):
            rows = self.LayerNorm(rows)
        return rows, _relative_index(by_distance)


class ContextPooler(nn.Module):
    """The classification heads' pooler: dropout, dense and activation over the first token."""

    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        if config.pooler_hidden_size != config.hidden_size:
            raise ConfigError(
                f"config key 'pooler_hidden_size' = {config.pooler_hidden_size} must equal 'hidden_size' "
                f"({config.hidden_size}) for the classification heads, which read the pooler's output"
            )
        self.dense = nn.Linear(config.pooler_hidden_size, config.pooler_hidden_size)
        self.dropout = nn.Dropout(config.pooler_dropout)
        self.activation = get_activation(config.pooler_hidden_act, "pooler_hidden_act")

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(self.dropout(hidden_states[:, 0])))


# -- models ---------------------------------------------------------------------------------------


class DebertaV2PreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions shared by every DeBERTa-v2 class.

    Tensor-parallel plan: the content and relative-position query / key / value projections and the
    intermediate dense are sharded colwise (by heads / features), the two output denses rowwise;
    embeddings, the relative-position table, norms and heads replicated.
    """

    config_class = DebertaV2Config
    base_model_prefix = "deberta"
    supports_gradient_checkpointing = True
    _supports_flash_attn = False  # the relative-position terms are an additive bias
    _no_split_modules = ["DebertaV2Embeddings", "DebertaV2Layer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = {
        "encoder.layer.*.attention.self.query_proj": "colwise",
        "encoder.layer.*.attention.self.key_proj": "colwise",
        "encoder.layer.*.attention.self.value_proj": "colwise",
        "encoder.layer.*.attention.self.pos_key_proj": "colwise",
        "encoder.layer.*.attention.self.pos_query_proj": "colwise",
        "encoder.layer.*.attention.output.dense": "rowwise",
        "encoder.layer.*.intermediate.dense": "colwise",
        "encoder.layer.*.output.dense": "rowwise",
    }
    _keys_to_ignore_on_load_unexpected: ClassVar[list[str]] = [r"position_ids$", r"position_embeddings"]

    def __init__(self, config: DebertaV2Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        _check_supported(config)

    def _init_weights(self, module: nn.Module) -> None:
        """The core's default, plus the output biases and the position index buffer."""
        super()._init_weights(module)
        if isinstance(module, (LegacyDebertaV2LMPredictionHead, DebertaV2LMPredictionHead)):
            nn.init.zeros_(module.bias)
        elif isinstance(module, DebertaV2Embeddings):
            module.position_ids.copy_(torch.arange(module.position_ids.shape[-1]).expand((1, -1)))


class DebertaV2Model(DebertaV2PreTrainedModel):
    """The bare DeBERTa-v2 encoder: returns the last hidden states (no pooler)."""

    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__(config)
        self.embeddings = DebertaV2Embeddings(config)
        self.encoder = DebertaV2Encoder(config)
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
    ) -> BaseModelOutput | tuple[Any, ...]:
        """``attention_mask`` (batch, length) of 1 / 0; ``token_type_ids`` are read only when
        ``type_vocab_size > 0`` and ``position_ids`` only with ``position_biased_input``."""
        check_model_inputs(input_ids, inputs_embeds)
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        if attention_mask is not None and attention_mask.dim() != 2:
            raise ModelInputError(
                f"attention_mask must be (batch, length) of 1 / 0, got shape {tuple(attention_mask.shape)}"
            )
        hidden_states = self.embeddings(
            input_ids, token_type_ids, position_ids, inputs_embeds, attention_mask
        )
        blocked = queries_kept = None
        if attention_mask is not None:
            # transformers' mask: query i may attend key j when both are tokens.
            keep = attention_mask.to(device=hidden_states.device).bool()
            blocked = ~(keep[:, None, :, None] & keep[:, None, None, :])
            queries_kept = keep[:, None, :, None].to(hidden_states.dtype)
        rows, index = self.encoder.relative_positions(hidden_states.shape[1], hidden_states.device)
        embeddings = hidden_states
        all_hidden_states: tuple[torch.Tensor, ...] = (hidden_states,)
        all_attentions: tuple[torch.Tensor, ...] = ()
        for number, layer in enumerate(self.encoder.layer):
            hidden_states, weights = layer(
                hidden_states, blocked, queries_kept, rows, index, output_attentions
            )
            if number == 0 and self.encoder.conv is not None:
                hidden_states = self.encoder.conv(embeddings, hidden_states, attention_mask)
            all_hidden_states += (hidden_states,)
            if output_attentions:
                all_attentions += (weights,)
        outputs = BaseModelOutput(
            last_hidden_state=hidden_states,
            hidden_states=all_hidden_states if output_hidden_states else None,
            attentions=all_attentions if output_attentions else None,
        )
        return self._output(outputs, return_dict)


class LegacyDebertaV2PredictionHeadTransform(nn.Module):
    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        embedding_size = config.option("embedding_size")
        self.dense = nn.Linear(config.hidden_size, embedding_size)
        self.activation = get_activation(config.hidden_act)
        self.LayerNorm = nn.LayerNorm(embedding_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.activation(self.dense(hidden_states)))


class LegacyDebertaV2LMPredictionHead(nn.Module):
    """``legacy=True``: transform, then a projection to the vocabulary whose weight is tied to the word
    embeddings and whose bias is ``bias`` (both with ``tie_word_embeddings``)."""

    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        self.transform = LegacyDebertaV2PredictionHeadTransform(config)
        self.decoder = nn.Linear(config.option("embedding_size"), config.vocab_size)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(hidden_states))


class LegacyDebertaV2OnlyMLMHead(nn.Module):
    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        self.predictions = LegacyDebertaV2LMPredictionHead(config)


class DebertaV2LMPredictionHead(nn.Module):
    """``legacy=False`` (the original DeBERTa head): dense, activation, LayerNorm, then the product
    with the word embeddings themselves plus ``bias``."""

    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = get_activation(config.hidden_act)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden_states: torch.Tensor, word_embeddings: nn.Embedding) -> torch.Tensor:
        hidden_states = self.LayerNorm(self.activation(self.dense(hidden_states)))
        return torch.matmul(hidden_states, word_embeddings.weight.t()) + self.bias


class DebertaV2OnlyMLMHead(nn.Module):
    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        self.lm_head = DebertaV2LMPredictionHead(config)


class DebertaV2ForMaskedLM(DebertaV2PreTrainedModel):
    """DeBERTa-v2 with a masked language modelling head, in the layout ``config.legacy`` names, as
    transformers 5 builds it: ``cls.predictions`` (``legacy=True``, the default, also for the Hub's
    DeBERTa-v3 configs, which do not set it) or ``lm_predictions.lm_head`` (``legacy=False``, the
    layout of the original DeBERTa checkpoints' MLM weights). The other layout's keys of a
    checkpoint are unexpected and that head is newly initialised, as in transformers."""

    _keys_to_ignore_on_load_unexpected: ClassVar[list[str]] = [
        *DebertaV2PreTrainedModel._keys_to_ignore_on_load_unexpected,
        r"mask_predictions\.",
    ]

    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__(config)
        if not config.legacy and config.option("embedding_size") != config.hidden_size:
            raise ConfigError(
                "config key 'legacy' = False projects onto the word embeddings, which needs 'embedding_size' "
                f"({config.option('embedding_size')}) = 'hidden_size' ({config.hidden_size})"
            )
        self.legacy = config.legacy
        self.deberta = DebertaV2Model(config)
        if self.legacy:
            self.cls = LegacyDebertaV2OnlyMLMHead(config)
        else:
            self.lm_predictions = DebertaV2OnlyMLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Module | None:
        """The legacy head's vocabulary projection; None with ``legacy=False``, whose head multiplies by
        the input embeddings themselves."""
        return self.cls.predictions.decoder if self.legacy else None

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        if not self.legacy:
            raise ConfigError("with legacy=False the MLM head projects onto the input embeddings: set those")
        self.cls.predictions.decoder = new_embeddings
        self.cls.predictions.bias = new_embeddings.bias

    def tie_weights(self) -> None:
        """With ``tie_word_embeddings``, the legacy projection shares the word embeddings and its bias is
        ``cls.predictions.bias``, as transformers ties them."""
        super().tie_weights()
        if self.legacy and self.config.tie_word_embeddings:
            self.cls.predictions.decoder.bias = self.cls.predictions.bias

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
        outputs = self.deberta(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        sequence_output = outputs.last_hidden_state
        if self.legacy:
            logits = self.cls.predictions(sequence_output)
        else:
            logits = self.lm_predictions.lm_head(sequence_output, self.deberta.embeddings.word_embeddings)
        loss = masked_lm_loss(logits, labels, upcast=False) if labels is not None else None
        output = MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


def _classifier_dropout(config: DebertaV2Config) -> float:
    dropout = config.option("cls_dropout")
    return config.hidden_dropout_prob if dropout is None else dropout


def _sequence_classification_loss(
    logits: torch.Tensor, labels: torch.Tensor, config: DebertaV2Config, num_labels: int
) -> torch.Tensor:
    """transformers' DeBERTa loss: by ``problem_type`` when set; otherwise (and without setting it) mean
    squared error for one label, cross-entropy over the rows whose label is >= 0 for class indices
    (0 when there are none), and cross-entropy against the distributions for soft labels."""
    if config.problem_type is not None:
        return sequence_classification_loss(logits, labels, config, num_labels)
    if not isinstance(labels, torch.Tensor):
        raise LabelError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    labels = labels.to(logits.device)
    if num_labels == 1:
        if labels.numel() != logits.shape[0]:
            raise LabelError(f"labels has shape {tuple(labels.shape)}; regression expects one value per row")
        return F.mse_loss(logits.view(-1), labels.view(-1).to(logits.dtype))
    if labels.dim() == 1 or labels.shape[-1] == 1:
        labels = labels.view(-1).long()
        if labels.numel() != logits.shape[0] or bool((labels >= num_labels).any()):
            raise LabelError(
                f"labels must hold one class index in 0..{num_labels - 1} (negative: ignored) per row, "
                f"got {labels.tolist()}"
            )
        labelled = labels >= 0
        if not bool(labelled.any()):
            return logits.new_zeros(())
        return F.cross_entropy(logits[labelled].float(), labels[labelled])
    if tuple(labels.shape) != tuple(logits.shape):
        raise LabelError(
            f"labels has shape {tuple(labels.shape)}; soft labels need one value per label, {tuple(logits.shape)}"
        )
    return -(torch.log_softmax(logits, -1) * labels).sum(-1).mean()


class DebertaV2ForSequenceClassification(DebertaV2PreTrainedModel):
    """DeBERTa-v2 with a classification / regression head over the pooled first token."""

    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.deberta = DebertaV2Model(config)
        self.pooler = ContextPooler(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.dropout = nn.Dropout(_classifier_dropout(config))
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
        outputs = self.deberta(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.classifier(self.dropout(self.pooler(outputs.last_hidden_state)))
        loss = None
        if labels is not None:
            loss = _sequence_classification_loss(logits, labels, self.config, self.num_labels)
        output = SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class DebertaV2ForTokenClassification(DebertaV2PreTrainedModel):
    """DeBERTa-v2 with a per-token classification head (NER, POS tagging)."""

    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.deberta = DebertaV2Model(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
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
        outputs = self.deberta(
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


class DebertaV2ForQuestionAnswering(DebertaV2PreTrainedModel):
    """DeBERTa-v2 with a span-extraction head (start and end logits)."""

    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.deberta = DebertaV2Model(config)
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
        outputs = self.deberta(
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


class DebertaV2ForMultipleChoice(DebertaV2PreTrainedModel):
    """DeBERTa-v2 scoring each of several choices; inputs are (batch, num_choices, length)."""

    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__(config)
        self.deberta = DebertaV2Model(config)
        self.pooler = ContextPooler(config)
        self.classifier = nn.Linear(config.hidden_size, 1)
        self.dropout = nn.Dropout(_classifier_dropout(config))
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
            return tensor.flatten(0, 1) if tensor is not None else None

        outputs = self.deberta(
            flat(input_ids),
            flat(attention_mask),
            flat(token_type_ids),
            flat(position_ids),
            flat(inputs_embeds),
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.classifier(self.dropout(self.pooler(outputs.last_hidden_state))).view(-1, num_choices)
        loss = multiple_choice_loss(logits, labels) if labels is not None else None
        output = MultipleChoiceModelOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)
