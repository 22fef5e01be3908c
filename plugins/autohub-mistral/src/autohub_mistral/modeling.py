"""Mistral: Llama's architecture (pre-RMSNorm decoder, rotary GQA attention, SiLU-gated MLP)
without biases, with sliding-window attention (``sliding_window``).

Attribute names follow transformers' Mistral checkpoint keys (``model.layers.0.self_attn.q_proj.
weight`` ...), so Hub checkpoints load without renaming. Attention runs through
``torch.nn.functional.scaled_dot_product_attention`` with grouped-query attention
(``num_key_value_heads``). The KV cache is a tuple with one ``(key, value)`` pair per layer,
each ``(batch, num_key_value_heads, past_length, head_dim)``. It is never updated in place, so a layer
recomputed under gradient checkpointing reads the same past as its first run.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

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
from autohub_core.rotary import (
    DECODER_TP_PLAN,
    GatedMLP,
    KeyValue,
    RMSNorm,
    RotaryAttention,
    RotaryEmbedding,
    causal_mask,
    check_rotary_decoder_config,
)
from autohub_mistral.config import MistralConfig

__all__ = [
    "MistralForCausalLM",
    "MistralForQuestionAnswering",
    "MistralForSequenceClassification",
    "MistralForTokenClassification",
    "MistralModel",
    "MistralPreTrainedModel",
]


def _check_supported(config: MistralConfig) -> None:
    check_rotary_decoder_config(config, "autohub-mistral")


# -- layers ----------------------------------------------------------------------------------


class MistralAttention(RotaryAttention):
    """Grouped-query rotary self-attention without biases (the window is in the mask)."""

    def __init__(self, config: MistralConfig) -> None:
        super().__init__(config, qkv_bias=False, output_bias=False)


class MistralDecoderLayer(GradientCheckpointingLayer):
    """Pre-norm residual block: RMSNorm -> attention, RMSNorm -> MLP; recomputed in the backward pass
    under gradient checkpointing (its arguments are positional)."""

    def __init__(self, config: MistralConfig) -> None:
        super().__init__()
        self.self_attn = MistralAttention(config)
        self.mlp = GatedMLP(config.hidden_size, config.intermediate_size, config.hidden_act)
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor | None,
        past_key_value: KeyValue | None,
        output_attentions: bool,
    ) -> tuple[torch.Tensor, KeyValue, torch.Tensor | None]:
        attended, present, weights = self.self_attn(
            self.input_layernorm(hidden_states), position_embeddings, mask, past_key_value, output_attentions
        )
        hidden_states = hidden_states + attended
        hidden_states = hidden_states + self.mlp(self.post_attention_layernorm(hidden_states))
        return hidden_states, present, weights


# -- models ----------------------------------------------------------------------------------


class MistralPreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions shared by every Mistral class.

    Tensor-parallel plan (transformers'): ``q_proj`` / ``k_proj`` / ``v_proj`` and ``gate_proj`` /
    ``up_proj`` colwise, ``o_proj`` and ``down_proj`` rowwise; embeddings and norms replicated.
    """

    config_class = MistralConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["MistralDecoderLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = DECODER_TP_PLAN

    def __init__(self, config: MistralConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        _check_supported(config)


class MistralModel(MistralPreTrainedModel):
    """The bare Mistral decoder: returns the final (normed) hidden states and the KV cache."""

    def __init__(self, config: MistralConfig) -> None:
        super().__init__(config)
        self.padding_idx = config.pad_token_id
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, self.padding_idx)
        self.layers = nn.ModuleList([MistralDecoderLayer(config) for _ in range(config.num_hidden_layers)])
        self.norm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.rotary_emb = RotaryEmbedding(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embed_tokens = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: tuple[KeyValue, ...] | None = None,
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
            inputs_embeds = self.embed_tokens(input_ids)
        length = inputs_embeds.shape[1]
        past_length = past_key_values[0][0].shape[2] if past_key_values else 0
        if position_ids is None:
            position_ids = torch.arange(past_length, past_length + length, device=inputs_embeds.device)[None]
        mask = causal_mask(attention_mask, length, past_length, inputs_embeds.device, config.sliding_window)
        position_embeddings = self.rotary_emb(inputs_embeds, position_ids)

        hidden_states = inputs_embeds
        all_hidden_states: tuple[torch.Tensor, ...] = ()
        all_attentions: tuple[torch.Tensor, ...] = ()
        presents: tuple[KeyValue, ...] = ()
        for index, layer in enumerate(self.layers):
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            past = past_key_values[index] if past_key_values else None
            hidden_states, present, weights = layer(
                hidden_states, position_embeddings, mask, past, output_attentions
            )
            if use_cache:
                presents += (present,)
            if output_attentions:
                all_attentions += (weights,)
        hidden_states = self.norm(hidden_states)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)
        outputs = BaseModelOutputWithPast(
            last_hidden_state=hidden_states,
            past_key_values=presents if use_cache else None,
            hidden_states=all_hidden_states if output_hidden_states else None,
            attentions=all_attentions if output_attentions else None,
        )
        return self._output(outputs, return_dict)


class MistralForCausalLM(MistralPreTrainedModel, GenerationMixin):
    """Mistral with the language-modelling head (``lm_head``, tied to the embeddings when configured).

    Tensor-parallel plan: ``lm_head`` colwise with gathered logits (left replicated while tied).
    """

    _tp_plan: ClassVar[dict[str, str]] = {"lm_head": "colwise_gather_output"}

    def __init__(self, config: MistralConfig) -> None:
        super().__init__(config)
        self.model = MistralModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.lm_head = new_embeddings

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
        logits_to_keep: int = 0,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        """``logits_to_keep=n`` computes the logits of the last ``n`` positions only (0: all). ``labels``
        are shifted inside (-100 ignored); the loss is averaged over the labelled tokens, or summed and
        divided by ``num_items_in_batch`` when given."""
        outputs = self.model(
            input_ids,
            attention_mask,
            position_ids,
            past_key_values,
            inputs_embeds,
            use_cache,
            output_attentions,
            output_hidden_states,
            return_dict=True,
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
        )
        return self._output(output, return_dict)

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.Tensor,
        past_key_values: tuple[KeyValue, ...] | None = None,
        attention_mask: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Forward kwargs for the next step: only the new tokens once a cache exists, and
        position ids counted over the attention mask (left padding)."""
        past_length = past_key_values[0][0].shape[2] if past_key_values else 0
        input_ids = input_ids[:, past_length:]
        position_ids = None
        if attention_mask is not None:
            position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, past_length:]
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "position_ids": position_ids,
            "past_key_values": past_key_values,
            **kwargs,
        }


class MistralForSequenceClassification(MistralPreTrainedModel):
    """Mistral with a classification / regression head (``score``) over the last non-pad token."""

    def __init__(self, config: MistralConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = MistralModel(config)
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
        outputs = self.model(
            input_ids,
            attention_mask,
            position_ids,
            past_key_values,
            inputs_embeds,
            use_cache,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.score(outputs.last_hidden_state)
        pooled_logits = last_non_pad_token(logits, input_ids, self.config.pad_token_id)
        loss = None
        if labels is not None:
            loss = sequence_classification_loss(
                pooled_logits, labels.to(logits.device), self.config, self.num_labels
            )
        output = SequenceClassifierOutput(
            loss=loss,
            logits=pooled_logits,
            past_key_values=outputs.past_key_values,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return self._output(output, return_dict)


class MistralForTokenClassification(MistralPreTrainedModel):
    """Mistral with a per-token classification head (``score``)."""

    def __init__(self, config: MistralConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = MistralModel(config)
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
        outputs = self.model(
            input_ids,
            attention_mask,
            position_ids,
            past_key_values,
            inputs_embeds,
            use_cache,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.score(self.dropout(outputs.last_hidden_state))
        loss = None
        if labels is not None:
            loss = token_classification_loss(logits.float(), labels, self.num_labels)
        output = TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class MistralForQuestionAnswering(MistralPreTrainedModel):
    """Mistral with a span-extraction head (start and end logits)."""

    def __init__(self, config: MistralConfig) -> None:
        super().__init__(config)
        self.model = MistralModel(config)
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
        outputs = self.model(
            input_ids,
            attention_mask,
            position_ids,
            past_key_values,
            inputs_embeds,
            False,
            output_attentions,
            output_hidden_states,
            return_dict=True,
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
