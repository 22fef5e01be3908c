"""T5: an encoder-decoder transformer with RMS layer norms and relative position buckets.

Attribute names follow the checkpoint keys of transformers' T5 (``encoder.block.0.layer.0.
SelfAttention.q.weight``, ``decoder.block.0.layer.1.EncDecAttention.k.weight`` ...), so Hub
checkpoints load without renaming. Attention runs through the core's ``attention`` with the
implementation ``config._attn_implementation`` names (``"sdpa"`` by default; ``"eager"`` and
``"flex_attention"`` too, not ``"flash_attention_2"``, which cannot add a bias), ``scale=1.0``
(T5 folds the scaling into its initialisation) and the relative position bias as an additive mask.

Cache format (autohub's contract): ``past_key_values`` holds one tuple per decoder layer,
``(self_key, self_value, cross_key, cross_value)``, each (batch, heads, length, d_kv).

Training follows transformers: each ``T5Block`` is recomputed under gradient checkpointing (the
position bias is computed once per stack, outside the blocks, and passed to each of them, so its
gradient reaches ``relative_attention_bias``); the decoder cache is off while checkpointing in
training. ``wo`` stays float32 in a float16 model (``_keep_in_fp32_modules``). Every head takes
``num_items_in_batch`` and, like transformers' T5 heads (plain mean cross-entropy), ignores it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from autohub_core.errors import UnsupportedFeatureError
from autohub_core.layers import (
    additive_mask,
    check_model_inputs,
    get_activation,
    masked_lm_loss,
    question_answering_loss,
    relative_position_bucket,
    sequence_classification_loss,
    token_classification_loss,
)
from autohub_core.modeling import GradientCheckpointingLayer, PreTrainedModel
from autohub_core.outputs import (
    BaseModelOutput,
    BaseModelOutputWithPast,
    Seq2SeqLMOutput,
    Seq2SeqModelOutput,
    Seq2SeqQuestionAnsweringModelOutput,
    Seq2SeqSequenceClassifierOutput,
    TokenClassifierOutput,
)
from autohub_core.seq2seq import (
    LayerCache,
    Seq2SeqAttention,
    Seq2SeqLMGenerationMixin,
    as_encoder_output,
    last_eos_states,
    run_decoder_layers,
    shift_tokens_right,
    split_layer_cache,
)
from autohub_t5.config import T5Config

__all__ = [
    "T5EncoderModel",
    "T5ForConditionalGeneration",
    "T5ForQuestionAnswering",
    "T5ForSequenceClassification",
    "T5ForTokenClassification",
    "T5Model",
    "T5PreTrainedModel",
]


def _check_supported(config: T5Config) -> None:
    """What T5Config's value rules (checked when the model is built) do not say."""
    get_activation(config.dense_act_fn, "feed_forward_proj")


def _clamp_fp16(hidden_states: torch.Tensor) -> torch.Tensor:
    """Keep float16 activations finite, as transformers' T5 does."""
    if hidden_states.dtype != torch.float16:
        return hidden_states
    largest = torch.finfo(torch.float16).max
    clamp_value = torch.where(torch.isinf(hidden_states).any(), largest - 1000, largest)
    return torch.clamp(hidden_states, min=-clamp_value, max=clamp_value)


class T5LayerNorm(nn.Module):
    """RMS norm: scale only, no mean subtraction and no bias; the variance is computed in fp32."""

    def __init__(self, hidden_size: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        variance = hidden_states.to(torch.float32).pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        if self.weight.dtype in (torch.float16, torch.bfloat16):
            hidden_states = hidden_states.to(self.weight.dtype)
        return self.weight * hidden_states


class T5DenseActDense(nn.Module):
    """``wo(dropout(act(wi(x))))`` — the original T5 feed-forward (``feed_forward_proj="relu"``)."""

    def __init__(self, config: T5Config) -> None:
        super().__init__()
        self.wi = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wo = nn.Linear(config.d_ff, config.d_model, bias=False)
        self.dropout = nn.Dropout(config.dropout_rate)
        self.act = get_activation(config.dense_act_fn, "feed_forward_proj")

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.dropout(self.act(self.wi(hidden_states)))
        return self.wo(hidden_states.to(self.wo.weight.dtype))


class T5DenseGatedActDense(nn.Module):
    """``wo(dropout(act(wi_0(x)) * wi_1(x)))`` — T5 v1.1's gated feed-forward (``"gated-gelu"``)."""

    def __init__(self, config: T5Config) -> None:
        super().__init__()
        self.wi_0 = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wi_1 = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wo = nn.Linear(config.d_ff, config.d_model, bias=False)
        self.dropout = nn.Dropout(config.dropout_rate)
        self.act = get_activation(config.dense_act_fn, "feed_forward_proj")

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.act(self.wi_0(hidden_states)) * self.wi_1(hidden_states)
        hidden_states = self.dropout(hidden_states)
        return self.wo(hidden_states.to(self.wo.weight.dtype))


class T5LayerFF(nn.Module):
    """Pre-norm feed-forward sub-layer with a residual connection."""

    def __init__(self, config: T5Config) -> None:
        super().__init__()
        if config.is_gated_act:
            self.DenseReluDense: nn.Module = T5DenseGatedActDense(config)
        else:
            self.DenseReluDense = T5DenseActDense(config)
        self.layer_norm = T5LayerNorm(config.d_model, eps=config.layer_norm_epsilon)
        self.dropout = nn.Dropout(config.dropout_rate)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return hidden_states + self.dropout(self.DenseReluDense(self.layer_norm(hidden_states)))


class T5Attention(Seq2SeqAttention):
    """The core's encoder-decoder attention with T5's projections (``q``, ``k``, ``v``, ``o``, no
    biases, ``d_kv`` per head) and no score scaling; the first self-attention layer of each stack
    also owns the relative position bias table shared by all its layers (sharded by heads under
    tensor parallelism, like ``q`` / ``k`` / ``v``)."""

    projection_names = ("q", "k", "v", "o")

    def __init__(self, config: T5Config, has_relative_attention_bias: bool, bidirectional: bool) -> None:
        super().__init__(
            config,
            config.d_model,
            config.num_heads,
            head_dim=config.d_kv,
            bias=False,
            scaling=1.0,
            dropout=config.dropout_rate,
        )
        self.bidirectional = bidirectional
        self.num_buckets = config.relative_attention_num_buckets
        self.max_distance = config.relative_attention_max_distance
        self.has_relative_attention_bias = has_relative_attention_bias
        if has_relative_attention_bias:
            self.relative_attention_bias = nn.Embedding(
                config.relative_attention_num_buckets, config.num_heads
            )

    def compute_bias(
        self, query_length: int, key_length: int, past_length: int, device: torch.device | None = None
    ) -> torch.Tensor:
        """The (1, heads, query_length, key_length) relative position bias (this rank's heads under
        tensor parallelism); queries start at ``past_length``."""
        device = device if device is not None else self.relative_attention_bias.weight.device
        query_position = torch.arange(query_length, dtype=torch.long, device=device)[:, None] + past_length
        key_position = torch.arange(key_length, dtype=torch.long, device=device)[None, :]
        buckets = relative_position_bucket(
            key_position - query_position, self.bidirectional, self.num_buckets, self.max_distance
        )
        return self.relative_attention_bias(buckets).permute(2, 0, 1).unsqueeze(0)


class T5LayerSelfAttention(nn.Module):
    def __init__(self, config: T5Config, has_relative_attention_bias: bool, is_decoder: bool) -> None:
        super().__init__()
        self.SelfAttention = T5Attention(config, has_relative_attention_bias, bidirectional=not is_decoder)
        self.layer_norm = T5LayerNorm(config.d_model, eps=config.layer_norm_epsilon)
        self.dropout = nn.Dropout(config.dropout_rate)

    def forward(
        self,
        hidden_states: torch.Tensor,
        bias: torch.Tensor | None,
        past_key_value: tuple[torch.Tensor, torch.Tensor] | None,
        output_attentions: bool,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], torch.Tensor | None]:
        attended, present, weights = self.SelfAttention(
            self.layer_norm(hidden_states), None, past_key_value, bias, output_attentions
        )
        return hidden_states + self.dropout(attended), present, weights


class T5LayerCrossAttention(nn.Module):
    def __init__(self, config: T5Config) -> None:
        super().__init__()
        self.EncDecAttention = T5Attention(config, has_relative_attention_bias=False, bidirectional=True)
        self.layer_norm = T5LayerNorm(config.d_model, eps=config.layer_norm_epsilon)
        self.dropout = nn.Dropout(config.dropout_rate)

    def forward(
        self,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        bias: torch.Tensor | None,
        past_key_value: tuple[torch.Tensor, torch.Tensor] | None,
        output_attentions: bool,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], torch.Tensor | None]:
        attended, present, weights = self.EncDecAttention(
            self.layer_norm(hidden_states), encoder_hidden_states, past_key_value, bias, output_attentions
        )
        return hidden_states + self.dropout(attended), present, weights


class T5Block(GradientCheckpointingLayer):
    """Self-attention, cross-attention (decoder only), then feed-forward: ``layer.0/1/2``;
    recomputed in the backward pass under gradient checkpointing."""

    def __init__(self, config: T5Config, has_relative_attention_bias: bool, is_decoder: bool) -> None:
        super().__init__()
        self.is_decoder = is_decoder
        self.layer = nn.ModuleList([T5LayerSelfAttention(config, has_relative_attention_bias, is_decoder)])
        if is_decoder:
            self.layer.append(T5LayerCrossAttention(config))
        self.layer.append(T5LayerFF(config))

    def forward(
        self,
        hidden_states: torch.Tensor,
        self_bias: torch.Tensor | None,
        encoder_hidden_states: torch.Tensor | None,
        cross_bias: torch.Tensor | None,
        past_key_value: LayerCache | None,
        output_attentions: bool,
    ) -> tuple[torch.Tensor, LayerCache, torch.Tensor | None, torch.Tensor | None]:
        self_past, cross_past = split_layer_cache(past_key_value)
        hidden_states, present, self_weights = self.layer[0](
            hidden_states, self_bias, self_past, output_attentions
        )
        hidden_states = _clamp_fp16(hidden_states)
        cross_weights = None
        if self.is_decoder and encoder_hidden_states is not None:
            hidden_states, cross_present, cross_weights = self.layer[1](
                hidden_states, encoder_hidden_states, cross_bias, cross_past, output_attentions
            )
            hidden_states = _clamp_fp16(hidden_states)
            present = present + cross_present
        hidden_states = _clamp_fp16(self.layer[-1](hidden_states))
        return hidden_states, present, self_weights, cross_weights


class T5Stack(nn.Module):
    """The encoder or the decoder: shared embeddings, blocks, a final RMS norm."""

    def __init__(self, config: T5Config, embed_tokens: nn.Embedding, is_decoder: bool) -> None:
        super().__init__()
        self.config = config
        self.is_decoder = is_decoder
        self.embed_tokens = embed_tokens
        num_layers = config.num_decoder_layers if is_decoder else config.num_layers
        self.block = nn.ModuleList(
            [
                T5Block(config, has_relative_attention_bias=index == 0, is_decoder=is_decoder)
                for index in range(num_layers)
            ]
        )
        self.final_layer_norm = T5LayerNorm(config.d_model, eps=config.layer_norm_epsilon)
        self.dropout = nn.Dropout(config.dropout_rate)

    def _self_attention_bias(
        self, attention_mask: torch.Tensor | None, query_length: int, past_length: int, dtype: torch.dtype
    ) -> torch.Tensor | None:
        """Relative position bias plus the padding mask (and the causal mask in the decoder)."""
        key_length = past_length + query_length
        device = self.embed_tokens.weight.device
        allowed = None
        if attention_mask is not None:
            allowed = attention_mask[:, None, None, :].to(device=device, dtype=torch.bool)
        if self.is_decoder:
            causal = torch.ones(query_length, key_length, dtype=torch.bool, device=device).tril(past_length)
            allowed = causal[None, None] if allowed is None else allowed & causal
        if not self.block:
            return None
        bias = (
            self.block[0]
            .layer[0]
            .SelfAttention.compute_bias(query_length, key_length, past_length, device)
            .to(dtype)
        )
        return bias if allowed is None else bias + additive_mask(allowed, dtype)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        past_key_values: tuple[LayerCache, ...] | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> Any:
        """Run the stack; the encoder returns :class:`BaseModelOutput`, the decoder
        :class:`BaseModelOutputWithPast`. ``attention_mask`` covers past + current tokens."""
        check_model_inputs(input_ids, inputs_embeds)
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        use_cache = self.is_decoder and (self.config.use_cache if use_cache is None else use_cache)
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        query_length = inputs_embeds.shape[1]
        past_length = past_key_values[0][0].shape[2] if past_key_values is not None else 0
        dtype = inputs_embeds.dtype

        self_bias = self._self_attention_bias(attention_mask, query_length, past_length, dtype)
        cross_bias = None
        if self.is_decoder and encoder_hidden_states is not None and encoder_attention_mask is not None:
            allowed = encoder_attention_mask[:, None, None, :].to(
                device=inputs_embeds.device, dtype=torch.bool
            )
            cross_bias = additive_mask(allowed, dtype)

        hidden_states, presents, (all_hidden_states, all_attentions, all_cross_attentions) = (
            run_decoder_layers(
                self.block,
                self.dropout(inputs_embeds),
                self_bias,
                encoder_hidden_states,
                cross_bias,
                past_key_values,
                use_cache,
                output_attentions,
                output_hidden_states,
            )
        )
        hidden_states = self.dropout(self.final_layer_norm(hidden_states))
        if output_hidden_states:
            # Like transformers: the last entry is the normalised output, not the last block's.
            all_hidden_states += (hidden_states,)

        if self.is_decoder:
            output: Any = BaseModelOutputWithPast(
                last_hidden_state=hidden_states,
                past_key_values=presents,
                hidden_states=all_hidden_states or None,
                attentions=all_attentions or None,
                cross_attentions=all_cross_attentions or None,
            )
        else:
            output = BaseModelOutput(
                last_hidden_state=hidden_states,
                hidden_states=all_hidden_states or None,
                attentions=all_attentions or None,
            )
        return_dict = self.config.use_return_dict if return_dict is None else return_dict
        return output if return_dict else output.to_tuple()


#: Tensor-parallel entries of the encoder stack: attention sharded by heads (the relative position
#: bias table too: one column per head), feed-forward by ``d_ff``. ``wi`` (plain) and ``wi_0`` /
#: ``wi_1`` (gated, ``is_gated_act``) are all listed; a model has one kind or the other.
_ENCODER_TP_PLAN: dict[str, str] = {
    "encoder.block.*.layer.0.SelfAttention.relative_attention_bias": "colwise",
    "encoder.block.*.layer.0.SelfAttention.q": "colwise",
    "encoder.block.*.layer.0.SelfAttention.k": "colwise",
    "encoder.block.*.layer.0.SelfAttention.v": "colwise",
    "encoder.block.*.layer.0.SelfAttention.o": "rowwise",
    "encoder.block.*.layer.1.DenseReluDense.wi": "colwise",
    "encoder.block.*.layer.1.DenseReluDense.wi_0": "colwise",
    "encoder.block.*.layer.1.DenseReluDense.wi_1": "colwise",
    "encoder.block.*.layer.1.DenseReluDense.wo": "rowwise",
}
#: The decoder stack's entries: self-attention (with its bias table), cross-attention, feed-forward.
_DECODER_TP_PLAN: dict[str, str] = {
    "decoder.block.*.layer.0.SelfAttention.relative_attention_bias": "colwise",
    "decoder.block.*.layer.0.SelfAttention.q": "colwise",
    "decoder.block.*.layer.0.SelfAttention.k": "colwise",
    "decoder.block.*.layer.0.SelfAttention.v": "colwise",
    "decoder.block.*.layer.0.SelfAttention.o": "rowwise",
    "decoder.block.*.layer.1.EncDecAttention.q": "colwise",
    "decoder.block.*.layer.1.EncDecAttention.k": "colwise",
    "decoder.block.*.layer.1.EncDecAttention.v": "colwise",
    "decoder.block.*.layer.1.EncDecAttention.o": "rowwise",
    "decoder.block.*.layer.2.DenseReluDense.wi": "colwise",
    "decoder.block.*.layer.2.DenseReluDense.wi_0": "colwise",
    "decoder.block.*.layer.2.DenseReluDense.wi_1": "colwise",
    "decoder.block.*.layer.2.DenseReluDense.wo": "rowwise",
}


class T5ClassificationHead(nn.Module):
    """dropout, dense, tanh, dropout, out_proj over the pooled (last ``</s>``) decoder state."""

    def __init__(self, config: T5Config) -> None:
        super().__init__()
        self.dense = nn.Linear(config.d_model, config.d_model)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.out_proj = nn.Linear(config.d_model, config.num_labels)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = torch.tanh(self.dense(self.dropout(hidden_states)))
        return self.out_proj(self.dropout(hidden_states))


class T5PreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions shared by every T5 class.

    Tensor-parallel plan (encoder and decoder alike): ``q`` / ``k`` / ``v``, the relative
    position bias table (one column per head) and ``wi`` / ``wi_0`` / ``wi_1`` colwise, ``o`` and
    ``wo`` rowwise; the encoder-only classes declare the encoder's entries alone.
    """

    config_class = T5Config
    base_model_prefix = "transformer"
    supports_gradient_checkpointing = True
    _no_split_modules = ["T5Block"]
    base_model_tp_plan: ClassVar[dict[str, str]] = {**_ENCODER_TP_PLAN, **_DECODER_TP_PLAN}
    _keep_in_fp32_modules = ["wo"]
    _supports_flash_attn = False
    _keys_to_ignore_on_load_unexpected = [
        r"decoder\.block\.0\.layer\.1\.EncDecAttention\.relative_attention_bias"
    ]

    def __init__(self, config: T5Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        _check_supported(config)

    def _init_weights(self, module: nn.Module) -> None:
        """transformers' T5 scheme: normal with std ``initializer_factor * fan_in ** -0.5``;
        embeddings, an untied lm_head and the token classifier use std ``initializer_factor``."""
        factor = self.config.initializer_factor
        if isinstance(module, T5LayerNorm):
            nn.init.constant_(module.weight, factor)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=factor)
        elif isinstance(module, nn.Linear):
            full_scale = module is getattr(self, "lm_head", None) or module is getattr(
                self, "classifier", None
            )
            std = factor if full_scale else factor * module.in_features**-0.5
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, T5Attention):
            d_model = self.config.d_model
            nn.init.normal_(module.q.weight, mean=0.0, std=factor * (d_model * self.config.d_kv) ** -0.5)
            if module.has_relative_attention_bias:
                nn.init.normal_(module.relative_attention_bias.weight, mean=0.0, std=factor * d_model**-0.5)

    def _shift_right(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Decoder inputs from labels: prepend ``decoder_start_token_id``, drop the last token,
        and replace -100 by ``pad_token_id``."""
        return shift_tokens_right(input_ids, self.config.pad_token_id, self.config.decoder_start_token_id)

    def _return(self, output: Any, return_dict: bool | None) -> Any:
        return_dict = self.config.use_return_dict if return_dict is None else return_dict
        return output if return_dict else output.to_tuple()


class _T5EncoderDecoder(T5PreTrainedModel):
    """The shared embedding, the encoder and the decoder, and the pass through both."""

    def __init__(self, config: T5Config) -> None:
        super().__init__(config)
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        self.encoder = T5Stack(config, self.shared, is_decoder=False)
        self.decoder = T5Stack(config, self.shared, is_decoder=True)

    def get_input_embeddings(self) -> nn.Module:
        return self.shared

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.shared = value
        self.encoder.embed_tokens = value
        self.decoder.embed_tokens = value

    def get_encoder(self) -> T5Stack:
        return self.encoder

    def get_decoder(self) -> T5Stack:
        return self.decoder

    def _encode_decode(
        self,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        decoder_input_ids: torch.Tensor | None,
        decoder_attention_mask: torch.Tensor | None,
        encoder_outputs: Any,
        past_key_values: tuple[LayerCache, ...] | None,
        inputs_embeds: torch.Tensor | None,
        decoder_inputs_embeds: torch.Tensor | None,
        use_cache: bool | None,
        output_attentions: bool | None,
        output_hidden_states: bool | None,
    ) -> tuple[BaseModelOutput, BaseModelOutputWithPast]:
        use_cache = self._use_cache(use_cache)
        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                inputs_embeds=inputs_embeds,
                output_attentions=output_attentions,
                output_hidden_states=output_hidden_states,
                return_dict=True,
            )
        encoder_outputs = as_encoder_output(encoder_outputs)
        decoder_outputs = self.decoder(
            input_ids=decoder_input_ids,
            attention_mask=decoder_attention_mask,
            inputs_embeds=decoder_inputs_embeds,
            past_key_values=past_key_values,
            encoder_hidden_states=encoder_outputs.last_hidden_state,
            encoder_attention_mask=attention_mask,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        return encoder_outputs, decoder_outputs


class T5Model(_T5EncoderDecoder):
    """The bare T5 encoder-decoder; returns the decoder's last hidden states."""

    def __init__(self, config: T5Config) -> None:
        super().__init__(config)
        self.post_init()

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
        encoder_outputs, decoder_outputs = self._encode_decode(
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
        return self._return(output, return_dict)


class T5ForConditionalGeneration(_T5EncoderDecoder, Seq2SeqLMGenerationMixin):
    """T5 with the language modelling head (``lm_head``), for generation and seq2seq training.

    With ``scale_decoder_outputs`` (the default when the embeddings are tied) the decoder
    output is multiplied by ``d_model ** -0.5`` before ``lm_head``. Tensor-parallel plan:
    ``lm_head`` colwise with gathered logits (left replicated while tied).
    """

    _tp_plan: ClassVar[dict[str, str]] = {"lm_head": "colwise_gather_output"}

    def __init__(self, config: T5Config) -> None:
        super().__init__(config)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.lm_head = new_embeddings

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
        encoder_outputs, decoder_outputs = self._encode_decode(
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
        )
        sequence_output = decoder_outputs.last_hidden_state
        if self.config.scale_decoder_outputs:
            sequence_output = sequence_output * (self.config.d_model**-0.5)
        logits = self.lm_head(sequence_output)
        loss = None
        if labels is not None:
            loss = masked_lm_loss(logits, labels, upcast=False)
        output = Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            past_key_values=decoder_outputs.past_key_values,
            decoder_hidden_states=decoder_outputs.hidden_states,
            decoder_attentions=decoder_outputs.attentions,
            cross_attentions=decoder_outputs.cross_attentions,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states,
            encoder_attentions=encoder_outputs.attentions,
        )
        return self._return(output, return_dict)


class T5EncoderModel(T5PreTrainedModel):
    """The T5 encoder alone (``shared`` + ``encoder``), for embeddings and text encoding."""

    _keys_to_ignore_on_load_unexpected = [r"^(transformer\.)?decoder\.", r"^lm_head\."]
    base_model_tp_plan: ClassVar[dict[str, str]] = _ENCODER_TP_PLAN

    def __init__(self, config: T5Config) -> None:
        super().__init__(config)
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        self.encoder = T5Stack(config, self.shared, is_decoder=False)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.shared

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.shared = value
        self.encoder.embed_tokens = value

    def get_encoder(self) -> T5Stack:
        return self.encoder

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> Any:
        output = self.encoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        return self._return(output, return_dict)


class T5ForSequenceClassification(T5PreTrainedModel):
    """T5 classifying from the decoder state at the last ``</s>`` of ``input_ids``
    (decoder inputs default to ``input_ids`` shifted right). Every row needs the same
    number of ``</s>`` tokens."""

    def __init__(self, config: T5Config) -> None:
        super().__init__(config)
        self.transformer = T5Model(config)
        self.classification_head = T5ClassificationHead(config)
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
                "T5ForSequenceClassification needs input_ids (it pools at their </s> tokens); "
                "inputs_embeds alone is not supported, as in transformers"
            )
        if labels is not None:
            use_cache = False
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            decoder_input_ids = self._shift_right(input_ids)
        outputs = self.transformer(
            input_ids,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            encoder_outputs=encoder_outputs,
            inputs_embeds=inputs_embeds,
            decoder_inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        sequence_output = outputs.last_hidden_state
        pooled = last_eos_states(sequence_output, input_ids, self.config.eos_token_id)
        logits = self.classification_head(pooled)
        loss = None
        if labels is not None:
            loss = sequence_classification_loss(
                logits, labels.to(logits.device), self.config, self.config.num_labels
            )
        output = Seq2SeqSequenceClassifierOutput(
            loss=loss,
            logits=logits,
            past_key_values=outputs.past_key_values,
            decoder_hidden_states=outputs.decoder_hidden_states,
            decoder_attentions=outputs.decoder_attentions,
            cross_attentions=outputs.cross_attentions,
            encoder_last_hidden_state=outputs.encoder_last_hidden_state,
            encoder_hidden_states=outputs.encoder_hidden_states,
            encoder_attentions=outputs.encoder_attentions,
        )
        return self._return(output, return_dict)


class T5ForTokenClassification(T5PreTrainedModel):
    """The T5 encoder with a per-token classification head."""

    _keys_to_ignore_on_load_unexpected = [r"^(transformer\.)?decoder\.", r"^lm_head\."]
    base_model_tp_plan: ClassVar[dict[str, str]] = _ENCODER_TP_PLAN

    def __init__(self, config: T5Config) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.transformer = T5EncoderModel(config)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.d_model, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        outputs = self.transformer(
            input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.classifier(self.dropout(outputs.last_hidden_state))
        loss = token_classification_loss(logits, labels, self.num_labels) if labels is not None else None
        output = TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._return(output, return_dict)


class T5ForQuestionAnswering(_T5EncoderDecoder):
    """T5 with a span-extraction head on the decoder output (decoder inputs default to
    ``input_ids`` shifted right)."""

    def __init__(self, config: T5Config) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.qa_outputs = nn.Linear(config.d_model, config.num_labels)
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
        if start_positions is not None and end_positions is not None:
            use_cache = False
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            if input_ids is None:
                raise ValueError(
                    "pass decoder_input_ids or decoder_inputs_embeds, or input_ids to derive them from"
                )
            decoder_input_ids = self._shift_right(input_ids)
        encoder_outputs, decoder_outputs = self._encode_decode(
            input_ids,
            attention_mask,
            decoder_input_ids,
            decoder_attention_mask,
            encoder_outputs,
            None,
            inputs_embeds,
            decoder_inputs_embeds,
            use_cache,
            output_attentions,
            output_hidden_states,
        )
        logits = self.qa_outputs(decoder_outputs.last_hidden_state)
        start_logits, end_logits = logits.split(1, dim=-1)
        start_logits = start_logits.squeeze(-1).contiguous()
        end_logits = end_logits.squeeze(-1).contiguous()
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = question_answering_loss(start_logits, end_logits, start_positions, end_positions)
        output = Seq2SeqQuestionAnsweringModelOutput(
            loss=loss,
            start_logits=start_logits,
            end_logits=end_logits,
            past_key_values=decoder_outputs.past_key_values,
            decoder_hidden_states=decoder_outputs.hidden_states,
            decoder_attentions=decoder_outputs.attentions,
            cross_attentions=decoder_outputs.cross_attentions,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states,
            encoder_attentions=encoder_outputs.attentions,
        )
        return self._return(output, return_dict)
