"""BART: a post-norm transformer encoder-decoder with learned positions (offset 2).

Attribute names follow the checkpoint keys of transformers' BART (``model.shared.weight``,
``model.encoder.layers.0.self_attn.k_proj.weight``, ``model.decoder.layers.0.encoder_attn.q_proj.bias``,
``final_logits_bias`` ...), so Hub checkpoints load without renaming. The layers, their attention and
self / cross KV cache are the core's :mod:`autohub_core.seq2seq` blocks; BART declares its embeddings
(token embeddings scaled by ``sqrt(d_model)`` with ``scale_embedding``, positions offset by 2, then
``layernorm_embedding``) and its heads. With ``tie_word_embeddings`` (the default) the encoder and the
decoder read ``shared`` and ``lm_head`` is tied to it; without, as in transformers, each has its own.

Cache format (autohub's contract): ``past_key_values`` holds one tuple per decoder layer,
``(self_key, self_value, cross_key, cross_value)`` (the first two without encoder states).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from autohub_bart.config import BartConfig
from autohub_core.errors import ModelInputError, UnsupportedFeatureError
from autohub_core.layers import (
    check_model_inputs,
    masked_lm_loss,
    question_answering_loss,
    sequence_classification_loss,
)
from autohub_core.modeling import PreTrainedModel
from autohub_core.outputs import (
    BaseModelOutput,
    BaseModelOutputWithPast,
    Seq2SeqLMOutput,
    Seq2SeqModelOutput,
    Seq2SeqQuestionAnsweringModelOutput,
    Seq2SeqSequenceClassifierOutput,
)
from autohub_core.seq2seq import (
    DecoderOnlyLMMixin,
    LayerCache,
    Seq2SeqDecoderLayer,
    Seq2SeqEncoderLayer,
    Seq2SeqLMGenerationMixin,
    as_encoder_output,
    decoder_attention_allowed,
    last_eos_states,
    run_decoder_layers,
    run_encoder_layers,
    shift_tokens_right,
    stack_tp_plan,
)

__all__ = [
    "BartDecoder",
    "BartEncoder",
    "BartForCausalLM",
    "BartForConditionalGeneration",
    "BartForQuestionAnswering",
    "BartForSequenceClassification",
    "BartModel",
    "BartPreTrainedModel",
]


class BartScaledWordEmbedding(nn.Embedding):
    """Token embeddings multiplied by ``embed_scale`` (``sqrt(d_model)`` with ``scale_embedding``)."""

    def __init__(self, config: BartConfig) -> None:
        super().__init__(config.vocab_size, config.d_model, config.pad_token_id)
        self.embed_scale = math.sqrt(config.d_model) if config.scale_embedding else 1.0

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return super().forward(input_ids) * self.embed_scale


class BartLearnedPositionalEmbedding(nn.Embedding):
    """``max_position_embeddings + 2`` learned positions; position ``i`` reads row ``i + 2`` (fairseq)."""

    offset = 2

    def __init__(self, config: BartConfig) -> None:
        super().__init__(config.max_position_embeddings + self.offset, config.d_model)

    def forward(self, start: int, length: int) -> torch.Tensor:  # type: ignore[override]
        """The (length, d_model) embeddings of positions ``start .. start + length - 1``."""
        positions = torch.arange(start, start + length, device=self.weight.device)
        return super().forward(positions + self.offset)


class BartEncoderLayer(Seq2SeqEncoderLayer):
    """Post-norm self-attention then feed-forward."""


class BartDecoderLayer(Seq2SeqDecoderLayer):
    """Post-norm causal self-attention, cross-attention over the encoder states, then feed-forward."""


class BartPreTrainedModel(PreTrainedModel):
    """Weight initialisation (normal(0, ``init_std``), zero biases, unit LayerNorms, zero
    ``final_logits_bias``) and loading conventions shared by every BART class.

    Tensor-parallel plan: ``q_proj`` / ``k_proj`` / ``v_proj`` and ``fc1`` colwise, ``out_proj``
    and ``fc2`` rowwise, in the encoder and the decoder.
    """

    config_class = BartConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["BartEncoderLayer", "BartDecoderLayer"]
    _keys_to_ignore_on_load_unexpected = [r"encoder\.version", r"decoder\.version"]
    base_model_tp_plan: ClassVar[dict[str, str]] = {
        **stack_tp_plan("encoder", cross_attention=False),
        **stack_tp_plan("decoder", cross_attention=True),
    }

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)  # std: config.initializer_range, an alias of init_std
        if isinstance(module, BartForConditionalGeneration):
            module.final_logits_bias.zero_()

    def _shift_right(self, input_ids: torch.Tensor) -> torch.Tensor:
        return shift_tokens_right(input_ids, self.config.pad_token_id, self.config.decoder_start_token_id)


class _BartStack(BartPreTrainedModel):
    """The encoder or the decoder: scaled token embeddings plus learned positions,
    ``layernorm_embedding``, then ``num_layers`` layers of ``layer_class``."""

    layer_class: ClassVar[type[nn.Module]]

    def __init__(self, config: BartConfig, num_layers: int) -> None:
        super().__init__(config)
        self.embed_tokens = BartScaledWordEmbedding(config)
        self.embed_positions = BartLearnedPositionalEmbedding(config)
        self.layers = nn.ModuleList([self.layer_class(config) for _ in range(num_layers)])
        self.layernorm_embedding = nn.LayerNorm(config.d_model)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.embed_tokens = value

    def _embed(
        self, input_ids: torch.Tensor | None, inputs_embeds: torch.Tensor | None, past_length: int
    ) -> torch.Tensor:
        check_model_inputs(input_ids, inputs_embeds)
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        length = inputs_embeds.shape[1]
        if past_length + length > self.config.max_position_embeddings:
            raise ModelInputError(
                f"BART reads at most {self.config.max_position_embeddings} positions (config key "
                f"'max_position_embeddings'), got {past_length + length}"
            )
        positions = self.embed_positions(past_length, length).to(inputs_embeds.device)
        hidden_states = self.layernorm_embedding(inputs_embeds + positions)
        return nn.functional.dropout(hidden_states, p=self.config.dropout, training=self.training)


class BartEncoder(_BartStack):
    """The encoder: post-norm self-attention layers over the embedded tokens."""

    layer_class = BartEncoderLayer

    def __init__(self, config: BartConfig) -> None:
        super().__init__(config, config.encoder_layers)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> Any:
        """Encode ``input_ids`` (batch, length); ``attention_mask`` masks padding (1 = token)."""
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        hidden = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        hidden_states = self._embed(input_ids, inputs_embeds, 0)
        mask = _padding(attention_mask, hidden_states.device)
        hidden_states, all_hidden, attentions = run_encoder_layers(
            self.layers, hidden_states, mask, output_attentions, hidden, config.encoder_layerdrop
        )
        output = BaseModelOutput(
            last_hidden_state=hidden_states,
            hidden_states=(*all_hidden, hidden_states) if hidden else None,
            attentions=attentions or None,
        )
        return self._output(output, return_dict)


class BartDecoder(_BartStack):
    """The decoder: post-norm layers with a causal self-attention (positions continue after the
    cached ones) and a cross-attention over ``encoder_hidden_states``."""

    layer_class = BartDecoderLayer

    def __init__(self, config: BartConfig) -> None:
        super().__init__(config, config.decoder_layers)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        past_key_values: tuple[LayerCache, ...] | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> Any:
        """Decode; ``attention_mask`` (batch, past + current) masks padding on top of the causal mask,
        ``encoder_attention_mask`` the encoder's padding."""
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        hidden = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        use_cache = self._use_cache(use_cache)
        past_length = past_key_values[0][0].shape[2] if past_key_values else 0
        hidden_states = self._embed(input_ids, inputs_embeds, past_length)
        length = hidden_states.shape[1]
        device = hidden_states.device
        self_mask = decoder_attention_allowed(attention_mask, length, past_length, device)
        hidden_states, presents, (all_hidden, attentions, cross_attentions) = run_decoder_layers(
            self.layers,
            hidden_states,
            self_mask,
            encoder_hidden_states,
            _padding(encoder_attention_mask, device),
            past_key_values,
            use_cache,
            output_attentions,
            hidden,
            config.decoder_layerdrop,
        )
        output = BaseModelOutputWithPast(
            last_hidden_state=hidden_states,
            past_key_values=presents,
            hidden_states=(*all_hidden, hidden_states) if hidden else None,
            attentions=attentions or None,
            cross_attentions=cross_attentions or None,
        )
        return self._output(output, return_dict)


def _padding(attention_mask: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    """(batch, length) 1/0 mask -> boolean (batch, 1, 1, length) "may attend" mask."""
    if attention_mask is None:
        return None
    return attention_mask[:, None, None, :].to(device=device, dtype=torch.bool)


class BartModel(BartPreTrainedModel):
    """The bare encoder-decoder; returns the decoder's last hidden states. Without decoder inputs,
    ``input_ids`` shifted right are decoded (BART's denoising setup), as in transformers."""

    def __init__(self, config: BartConfig) -> None:
        super().__init__(config)
        self.shared = BartScaledWordEmbedding(config)
        self.encoder = BartEncoder(config)
        self.decoder = BartDecoder(config)
        if config.tie_word_embeddings:
            self.encoder.embed_tokens = self.decoder.embed_tokens = self.shared
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.shared

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.shared = self.encoder.embed_tokens = self.decoder.embed_tokens = value

    def get_encoder(self) -> BartEncoder:
        return self.encoder

    def get_decoder(self) -> BartDecoder:
        return self.decoder

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: Any = None,
        past_key_values: tuple[LayerCache, ...] | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> Any:
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            if input_ids is None:
                raise ModelInputError(
                    "If no `decoder_input_ids` or `decoder_inputs_embeds` are passed, `input_ids` cannot be "
                    "`None`. Please pass either `input_ids` or `decoder_input_ids` or `decoder_inputs_embeds`."
                )
            decoder_input_ids = self._shift_right(input_ids)
        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                input_ids,
                attention_mask,
                inputs_embeds,
                output_attentions=output_attentions,
                output_hidden_states=output_hidden_states,
                return_dict=True,
            )
        encoder_outputs = as_encoder_output(encoder_outputs)
        decoder_outputs = self.decoder(
            decoder_input_ids,
            decoder_attention_mask,
            encoder_outputs.last_hidden_state,
            attention_mask,
            past_key_values,
            decoder_inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        output = Seq2SeqModelOutput(
            last_hidden_state=decoder_outputs.last_hidden_state,
            past_key_values=decoder_outputs.past_key_values,
            decoder_hidden_states=decoder_outputs.hidden_states,
            decoder_attentions=decoder_outputs.attentions,
            cross_attentions=decoder_outputs.cross_attentions,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states,
            encoder_attentions=encoder_outputs.attentions,
        )
        return self._output(output, return_dict)


class _BartHead(BartPreTrainedModel):
    """A head over :class:`BartModel` (``model``): runs it and wraps its outputs with the head's."""

    def __init__(self, config: BartConfig) -> None:
        super().__init__(config)
        self.model = BartModel(config)

    def get_encoder(self) -> BartEncoder:
        return self.model.encoder

    def get_decoder(self) -> BartDecoder:
        return self.model.decoder

    def _seq2seq_output(self, output_class: type, outputs: Seq2SeqModelOutput, **fields: Any) -> Any:
        return output_class(
            **fields,
            past_key_values=outputs.past_key_values,
            decoder_hidden_states=outputs.decoder_hidden_states,
            decoder_attentions=outputs.decoder_attentions,
            cross_attentions=outputs.cross_attentions,
            encoder_last_hidden_state=outputs.encoder_last_hidden_state,
            encoder_hidden_states=outputs.encoder_hidden_states,
            encoder_attentions=outputs.encoder_attentions,
        )


class BartForConditionalGeneration(_BartHead, Seq2SeqLMGenerationMixin):
    """BART with its language-modelling head (``lm_head`` tied to ``shared``, plus the
    ``final_logits_bias`` buffer): summarisation, translation, mask filling (``AutoModelForSeq2SeqLM``).
    Labels are shifted right into decoder inputs; the loss is the mean cross-entropy
    (``num_items_in_batch`` is accepted and, as in transformers, ignored)."""

    _keys_to_ignore_on_load_missing = ["final_logits_bias"]
    _tp_plan: ClassVar[dict[str, str]] = {"lm_head": "colwise_gather_output"}

    def __init__(self, config: BartConfig) -> None:
        super().__init__(config)
        self.register_buffer("final_logits_bias", torch.zeros((1, config.vocab_size)))
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.lm_head = new_embeddings

    def resize_token_embeddings(
        self, new_num_tokens: int | None = None, pad_to_multiple_of: int | None = None
    ) -> nn.Module | None:
        """Resize the vocabulary (see the core's), ``final_logits_bias`` too (new entries zero)."""
        embeddings = super().resize_token_embeddings(new_num_tokens, pad_to_multiple_of)
        bias, size = self.final_logits_bias, self.config.vocab_size
        extra = bias.new_zeros((1, max(0, size - bias.shape[1])))
        self.final_logits_bias = torch.cat([bias[:, :size], extra], dim=1)
        return embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: Any = None,
        past_key_values: tuple[LayerCache, ...] | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        if labels is not None:
            use_cache = False
            if decoder_input_ids is None and decoder_inputs_embeds is None:
                decoder_input_ids = self._shift_right(labels)
        outputs = self.model(
            input_ids,
            attention_mask,
            decoder_input_ids,
            decoder_attention_mask,
            encoder_outputs,
            past_key_values,
            inputs_embeds,
            decoder_inputs_embeds,
            use_cache,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.lm_head(outputs.last_hidden_state) + self.final_logits_bias.to(
            self.lm_head.weight.device
        )
        loss = masked_lm_loss(logits, labels, upcast=False) if labels is not None else None
        return self._output(
            self._seq2seq_output(Seq2SeqLMOutput, outputs, loss=loss, logits=logits), return_dict
        )


class BartClassificationHead(nn.Module):
    """dropout, dense, tanh, dropout, out_proj over the pooled (last ``</s>``) decoder state."""

    def __init__(self, config: BartConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.d_model, config.d_model)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.out_proj = nn.Linear(config.d_model, config.num_labels)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = torch.tanh(self.dense(self.dropout(hidden_states)))
        return self.out_proj(self.dropout(hidden_states))


class BartForSequenceClassification(_BartHead):
    """BART classifying from the decoder state at the last ``</s>`` (``eos_token_id``) of each row of
    ``input_ids``; every row needs the same number of them, as in transformers."""

    def __init__(self, config: BartConfig) -> None:
        super().__init__(config)
        self.classification_head = BartClassificationHead(config)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: Any = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        if input_ids is None:
            raise UnsupportedFeatureError(
                "BartForSequenceClassification needs input_ids (it pools at their </s> tokens); "
                "inputs_embeds alone is not supported, as in transformers"
            )
        outputs = self.model(
            input_ids,
            attention_mask,
            decoder_input_ids,
            decoder_attention_mask,
            encoder_outputs,
            None,
            inputs_embeds,
            decoder_inputs_embeds,
            False if labels is not None else use_cache,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        pooled = last_eos_states(outputs.last_hidden_state, input_ids, self.config.eos_token_id)
        logits = self.classification_head(pooled)
        loss = None
        if labels is not None:
            loss = sequence_classification_loss(
                logits, labels.to(logits.device), self.config, self.config.num_labels
            )
        output = self._seq2seq_output(Seq2SeqSequenceClassifierOutput, outputs, loss=loss, logits=logits)
        return self._output(output, return_dict)


class BartForQuestionAnswering(_BartHead):
    """BART with a span-extraction head (``qa_outputs``) on the decoder states; building it sets
    ``config.num_labels`` to 2, as in transformers."""

    def __init__(self, config: BartConfig) -> None:
        config.num_labels = 2
        super().__init__(config)
        self.qa_outputs = nn.Linear(config.d_model, 2)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: Any = None,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        labelled = start_positions is not None and end_positions is not None
        outputs = self.model(
            input_ids,
            attention_mask,
            decoder_input_ids,
            decoder_attention_mask,
            encoder_outputs,
            None,
            inputs_embeds,
            decoder_inputs_embeds,
            False if labelled else use_cache,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        start_logits, end_logits = self.qa_outputs(outputs.last_hidden_state).split(1, dim=-1)
        start_logits = start_logits.squeeze(-1).contiguous()
        end_logits = end_logits.squeeze(-1).contiguous()
        loss = (
            question_answering_loss(start_logits, end_logits, start_positions, end_positions)
            if labelled
            else None
        )
        output = self._seq2seq_output(
            Seq2SeqQuestionAnsweringModelOutput,
            outputs,
            loss=loss,
            start_logits=start_logits,
            end_logits=end_logits,
        )
        return self._output(output, return_dict)


class _BartDecoderWrapper(BartPreTrainedModel):
    """Holds the decoder under ``model.decoder`` so BartForCausalLM's keys match transformers'."""

    def __init__(self, config: BartConfig) -> None:
        super().__init__(config)
        self.decoder = BartDecoder(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.decoder.embed_tokens

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.decoder.embed_tokens = value

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.decoder(*args, **kwargs)


class BartForCausalLM(BartPreTrainedModel, DecoderOnlyLMMixin):
    """The BART decoder alone with ``lm_head`` (``AutoModelForCausalLM``), cross-attending to
    ``encoder_hidden_states`` when given. As in transformers, building it sets ``config.is_decoder``
    and clears ``config.is_encoder_decoder``; its labels are not shifted (``labels[..., i]`` is the
    target of position ``i``) and the loss is the mean cross-entropy."""

    cross_inputs = ("encoder_hidden_states", "encoder_attention_mask")

    base_model_tp_plan: ClassVar[dict[str, str]] = stack_tp_plan("decoder", cross_attention=True)
    _no_split_modules = ["BartDecoderLayer"]
    _tp_plan: ClassVar[dict[str, str]] = {"lm_head": "colwise_gather_output"}

    def __init__(self, config: BartConfig) -> None:
        config.is_decoder = True
        config.is_encoder_decoder = False
        super().__init__(config)
        self.model = _BartDecoderWrapper(config)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.lm_head = new_embeddings

    def get_decoder(self) -> BartDecoder:
        return self.model.decoder

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        past_key_values: tuple[LayerCache, ...] | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        outputs = self.model.decoder(
            input_ids,
            attention_mask,
            encoder_hidden_states,
            encoder_attention_mask,
            past_key_values,
            inputs_embeds,
            use_cache,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        output = self._causal_lm_output(self.lm_head(outputs.last_hidden_state), outputs, labels)
        return self._output(output, return_dict)
