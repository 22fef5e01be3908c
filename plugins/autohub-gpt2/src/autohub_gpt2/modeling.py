"""GPT-2: token + position embeddings, pre-LayerNorm causal transformer blocks, and the task heads.

Attribute names follow the checkpoint keys of transformers' GPT-2 (``transformer.h.0.attn.c_attn.weight``
...), so Hub checkpoints load without renaming. The projections are the core's ``Conv1D`` layers: linear
layers whose weight is stored as (in_features, out_features). Attention runs through the core's
``attention`` with the implementation ``config._attn_implementation`` names (``"sdpa"`` by default);
the eager path (also taken when attention weights are requested) computes it explicitly, in float32
with ``reorder_and_upcast_attn``, as transformers' eager path does.

The key/value cache is a tuple with one ``(key, value)`` pair per layer, each of shape
(batch, n_head, past_length, head_dim). It is never updated in place, so a block recomputed under
gradient checkpointing reads the same past as its first run.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from autohub_core.decoder import last_token_classification
from autohub_core.errors import UnsupportedConfigError
from autohub_core.generation import GenerationMixin
from autohub_core.layers import (
    Conv1D,
    attention,
    causal_lm_loss,
    check_model_inputs,
    get_activation,
    question_answering_loss,
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
from autohub_gpt2.config import GPT2Config

__all__ = [
    "GPT2ForQuestionAnswering",
    "GPT2ForSequenceClassification",
    "GPT2ForTokenClassification",
    "GPT2LMHeadModel",
    "GPT2Model",
    "GPT2PreTrainedModel",
]

KeyValueCache = tuple[tuple[torch.Tensor, torch.Tensor], ...]


def _check_supported(config: GPT2Config) -> None:
    if config.add_cross_attention:
        raise UnsupportedConfigError(
            "config key 'add_cross_attention' = True (GPT-2 as a seq2seq decoder) is not supported by autohub-gpt2"
        )
    get_activation(config.activation_function, "activation_function")


class GPT2Attention(nn.Module):
    """Causal multi-head self-attention with a fused query/key/value projection (``c_attn``).

    ``c_attn``'s output is split into three equal chunks and head counts are read from the
    tensors (``-1``), so under tensor parallelism (``c_attn`` packed-colwise: each rank holds
    ``[q_local | k_local | v_local]``) each rank attends over its own heads.
    """

    def __init__(self, config: GPT2Config, layer_idx: int) -> None:
        super().__init__()
        self.config = config
        self.embed_dim = config.n_embd
        self.head_dim = self.embed_dim // config.n_head
        self.scaling = self.head_dim**-0.5 if config.scale_attn_weights else 1.0
        if config.scale_attn_by_inverse_layer_idx:
            self.scaling /= float(layer_idx + 1)
        self.reorder_and_upcast_attn = config.reorder_and_upcast_attn
        self.c_attn = Conv1D(3 * self.embed_dim, self.embed_dim)
        self.c_proj = Conv1D(self.embed_dim, self.embed_dim, residual_projection=True)
        self.attn_dropout = nn.Dropout(config.attn_pdrop)
        self.resid_dropout = nn.Dropout(config.resid_pdrop)

    def _split_heads(self, states: torch.Tensor) -> torch.Tensor:
        batch_size, seq_length, _ = states.shape
        return states.view(batch_size, seq_length, -1, self.head_dim).transpose(1, 2)

    def forward(
        self,
        hidden_states: torch.Tensor,
        layer_past: tuple[torch.Tensor, torch.Tensor] | None,
        mask: torch.Tensor | None,
        use_cache: bool,
        output_attentions: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None, tuple[torch.Tensor, torch.Tensor] | None]:
        query, key, value = self.c_attn(hidden_states).chunk(3, dim=-1)
        query, key, value = self._split_heads(query), self._split_heads(key), self._split_heads(value)
        if layer_past is not None:
            key = torch.cat((layer_past[0], key), dim=-2)
            value = torch.cat((layer_past[1], value), dim=-2)
        present = (key, value) if use_cache else None

        implementation = self.config._attn_implementation
        eager = output_attentions or implementation == "eager"
        if eager and self.reorder_and_upcast_attn:
            context, weights = self._upcast_and_reordered_attention(query, key, value, mask)
        else:
            context, weights = attention(
                query,
                key,
                value,
                mask,
                dropout=self.attn_dropout.p if self.training else 0.0,
                scale=self.scaling,
                is_causal=mask is None and query.shape[-2] > 1,
                output_attentions=output_attentions,
                implementation=implementation,
            )
        batch_size, _, seq_length, _ = context.shape
        context = context.transpose(1, 2).reshape(batch_size, seq_length, -1)
        return self.resid_dropout(self.c_proj(context)), weights, present

    def _upcast_and_reordered_attention(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Eager attention with the scores and the softmax in float32 (``reorder_and_upcast_attn``),
        returning the weights too."""
        query, key = query.float(), key.float()
        scores = torch.matmul(query, key.transpose(-1, -2)) * self.scaling
        if mask is None:
            mask = _causal_mask(None, scores.shape[0], scores.shape[-2], scores.shape[-1] - scores.shape[-2])
        scores = scores.masked_fill(~mask.to(scores.device), torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1).to(value.dtype)
        weights = self.attn_dropout(weights)
        return torch.matmul(weights, value), weights


class GPT2MLP(nn.Module):
    """Feed-forward block: ``c_fc`` -> activation -> ``c_proj`` -> dropout."""

    def __init__(self, inner_dim: int, config: GPT2Config) -> None:
        super().__init__()
        self.c_fc = Conv1D(inner_dim, config.n_embd)
        self.c_proj = Conv1D(config.n_embd, inner_dim, residual_projection=True)
        self.act = get_activation(config.activation_function, "activation_function")
        self.dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.act(self.c_fc(hidden_states))))


class GPT2Block(GradientCheckpointingLayer):
    """Pre-LayerNorm block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``; recomputed in the backward
    pass under gradient checkpointing (its arguments are positional)."""

    def __init__(self, config: GPT2Config, layer_idx: int) -> None:
        super().__init__()
        inner_dim = config.n_inner if config.n_inner is not None else 4 * config.n_embd
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = GPT2Attention(config, layer_idx)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.mlp = GPT2MLP(inner_dim, config)

    def forward(
        self,
        hidden_states: torch.Tensor,
        layer_past: tuple[torch.Tensor, torch.Tensor] | None,
        mask: torch.Tensor | None,
        use_cache: bool,
        output_attentions: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None, tuple[torch.Tensor, torch.Tensor] | None]:
        attended, weights, present = self.attn(
            self.ln_1(hidden_states), layer_past, mask, use_cache, output_attentions
        )
        hidden_states = attended + hidden_states
        hidden_states = hidden_states + self.mlp(self.ln_2(hidden_states))
        return hidden_states, weights, present


def _causal_mask(
    attention_mask: torch.Tensor | None,
    batch_size: int,
    query_length: int,
    past_length: int,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Boolean (batch, 1, query, key) mask: query ``i`` sees key ``j`` iff ``j <= past_length + i``
    and key ``j`` is not padding."""
    key_length = past_length + query_length
    query_positions = torch.arange(query_length, device=device)[:, None] + past_length
    key_positions = torch.arange(key_length, device=device)[None, :]
    mask = (key_positions <= query_positions)[None, None].expand(batch_size, 1, -1, -1)
    if attention_mask is not None:
        mask = mask & attention_mask.to(device=device, dtype=torch.bool)[:, None, None, :]
    return mask


def _attention_mask(
    attention_mask: torch.Tensor | None,
    batch_size: int,
    query_length: int,
    past_length: int,
    device: torch.device,
) -> torch.Tensor | None:
    """The mask for the attention layers, or None when plain causal attention is exact (no padding, and
    either no past or a single query), like transformers' SDPA mask."""
    key_length = past_length + query_length
    if attention_mask is not None and attention_mask.shape != (batch_size, key_length):
        raise ValueError(
            f"attention_mask must have shape (batch, past_length + length) = {(batch_size, key_length)}, "
            f"got {tuple(attention_mask.shape)}"
        )
    no_padding = attention_mask is None or bool(attention_mask.all())
    if no_padding and (past_length == 0 or query_length == 1):
        return None
    return _causal_mask(attention_mask, batch_size, query_length, past_length, device)


class GPT2PreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions shared by every GPT-2 class.

    Tensor-parallel plan: ``attn.c_attn`` packed-colwise (q, k and v sharded separately),
    ``mlp.c_fc`` colwise, both ``c_proj`` rowwise; embeddings, norms and heads replicated.
    """

    config_class = GPT2Config
    base_model_prefix = "transformer"
    supports_gradient_checkpointing = True
    _no_split_modules = ["GPT2Block"]
    base_model_tp_plan: ClassVar[dict[str, str]] = {
        "h.*.attn.c_attn": "packed_colwise:3",
        "h.*.attn.c_proj": "rowwise",
        "h.*.mlp.c_fc": "colwise",
        "h.*.mlp.c_proj": "rowwise",
    }
    # Old checkpoints stored the causal mask as buffers; the mask is now computed on the fly.
    _keys_to_ignore_on_load_unexpected = [r"attn\.bias$", r"attn\.masked_bias$"]

    def __init__(self, config: GPT2Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        _check_supported(config)

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, Conv1D):
            if module.residual_projection:
                # GPT-2's scaled init of the projections into the residual stream (2 per block).
                std = std / math.sqrt(2 * self.config.n_layer)
            nn.init.normal_(module.weight, mean=0.0, std=std)
            nn.init.zeros_(module.bias)
        else:
            super()._init_weights(module)


class GPT2Model(GPT2PreTrainedModel):
    """The bare GPT-2 decoder: returns the last hidden states (after ``ln_f``) and the key/value cache."""

    def __init__(self, config: GPT2Config) -> None:
        super().__init__(config)
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.n_positions, config.n_embd)
        self.drop = nn.Dropout(config.embd_pdrop)
        self.h = nn.ModuleList([GPT2Block(config, layer_idx=index) for index in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.wte

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.wte = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        past_key_values: KeyValueCache | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPast | tuple[Any, ...]:
        check_model_inputs(input_ids, inputs_embeds)
        config = self.config
        use_cache = self._use_cache(use_cache)
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )

        if inputs_embeds is None:
            inputs_embeds = self.wte(input_ids)
        batch_size, seq_length = inputs_embeds.shape[:2]
        device = inputs_embeds.device
        past_key_values = past_key_values or None
        past_length = past_key_values[0][0].shape[-2] if past_key_values is not None else 0
        if position_ids is None:
            position_ids = (torch.arange(seq_length, device=device) + past_length).unsqueeze(0)
        hidden_states = inputs_embeds + self.wpe(position_ids).to(device)
        if token_type_ids is not None:
            hidden_states = hidden_states + self.wte(token_type_ids)
        hidden_states = self.drop(hidden_states)
        mask = _attention_mask(attention_mask, batch_size, seq_length, past_length, device)

        all_hidden_states: tuple[torch.Tensor, ...] = ()
        all_attentions: tuple[torch.Tensor, ...] = ()
        presents: tuple[tuple[torch.Tensor, torch.Tensor], ...] = ()
        for index, block in enumerate(self.h):
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            layer_past = past_key_values[index] if past_key_values is not None else None
            hidden_states, weights, present = block(
                hidden_states, layer_past, mask, use_cache, output_attentions
            )
            if use_cache:
                presents += (present,)
            if output_attentions:
                all_attentions += (weights,)
        hidden_states = self.ln_f(hidden_states)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)

        outputs = BaseModelOutputWithPast(
            last_hidden_state=hidden_states,
            past_key_values=presents if use_cache else None,
            hidden_states=all_hidden_states if output_hidden_states else None,
            attentions=all_attentions if output_attentions else None,
        )
        return self._output(outputs, return_dict)


class GPT2LMHeadModel(GPT2PreTrainedModel, GenerationMixin):
    """GPT-2 with the language modelling head (``lm_head``, tied to ``transformer.wte``).

    Tensor-parallel plan: ``lm_head`` colwise with gathered logits (left replicated while tied).
    """

    _tp_plan: ClassVar[dict[str, str]] = {"lm_head": "colwise_gather_output"}

    def __init__(self, config: GPT2Config) -> None:
        super().__init__(config)
        self.transformer = GPT2Model(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.lm_head = new_embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        past_key_values: KeyValueCache | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> CausalLMOutput | tuple[Any, ...]:
        """``labels`` are the input ids themselves: they are shifted inside, -100 is ignored. The loss is
        averaged over the labelled tokens, or summed and divided by ``num_items_in_batch`` when given."""
        outputs = self.transformer(
            input_ids,
            past_key_values,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            use_cache,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.lm_head(outputs.last_hidden_state)
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
        past_key_values: KeyValueCache | None = None,
        attention_mask: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Forward kwargs for the next decoding step: the uncached tokens, positions from the mask."""
        past_length = past_key_values[0][0].shape[-2] if past_key_values else 0
        input_ids = input_ids[:, past_length:]
        position_ids = None
        if attention_mask is not None:
            position_ids = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)
            position_ids = position_ids[:, -input_ids.shape[1] :]
        return {
            "input_ids": input_ids,
            "past_key_values": past_key_values,
            "attention_mask": attention_mask,
            "position_ids": position_ids,
            "use_cache": kwargs.get("use_cache"),
        }


class GPT2ForSequenceClassification(GPT2PreTrainedModel):
    """GPT-2 classifying each sequence from its last non-padding token (``score``, no bias)."""

    def __init__(self, config: GPT2Config) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.transformer = GPT2Model(config)
        self.score = nn.Linear(config.n_embd, config.num_labels, bias=False)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        past_key_values: KeyValueCache | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> SequenceClassifierOutput | tuple[Any, ...]:
        """Pools the rightmost token that is not ``config.pad_token_id`` (any padding side); with
        ``inputs_embeds`` or no pad token, the last position. Without a pad token, batches must be of one.
        The loss is a mean: ``num_items_in_batch`` is accepted and ignored, as in transformers' GPT-2."""
        outputs = self.transformer(
            input_ids,
            past_key_values,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            use_cache,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        output = last_token_classification(
            self, self.score(outputs.last_hidden_state), outputs, input_ids, labels
        )
        return self._output(output, return_dict)


class GPT2ForTokenClassification(GPT2PreTrainedModel):
    """GPT-2 with a per-token classification head (``classifier``)."""

    def __init__(self, config: GPT2Config) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.transformer = GPT2Model(config)
        self.dropout = nn.Dropout(_classifier_dropout(config))
        self.classifier = nn.Linear(config.n_embd, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        past_key_values: KeyValueCache | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> TokenClassifierOutput | tuple[Any, ...]:
        """The loss is a mean over labelled tokens: ``num_items_in_batch`` is accepted and ignored, as in
        transformers' GPT-2."""
        outputs = self.transformer(
            input_ids,
            past_key_values,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            use_cache,
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


def _classifier_dropout(config: GPT2Config) -> float:
    """transformers' choice: ``classifier_dropout``, else ``hidden_dropout``, else 0.1."""
    for key in ("classifier_dropout", "hidden_dropout"):
        value = getattr(config, key, None)
        if value is not None:
            return value
    return 0.1


class GPT2ForQuestionAnswering(GPT2PreTrainedModel):
    """GPT-2 with a span-extraction head (``qa_outputs``: start and end logits)."""

    def __init__(self, config: GPT2Config) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.transformer = GPT2Model(config)
        self.qa_outputs = nn.Linear(config.n_embd, 2)
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
    ) -> QuestionAnsweringModelOutput | tuple[Any, ...]:
        """The loss is the mean of the start and end cross-entropies: ``num_items_in_batch`` is accepted and
        ignored, as in transformers' GPT-2."""
        outputs = self.transformer(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            use_cache=False,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
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
