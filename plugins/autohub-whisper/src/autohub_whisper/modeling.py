"""Whisper: a log-mel convolutional front end and transformer encoder, and a text decoder.

Attribute names follow the checkpoint keys of transformers' Whisper (``model.encoder.conv1.weight``,
``model.encoder.embed_positions.weight``, ``model.decoder.layers.0.encoder_attn.k_proj.weight``,
``proj_out.weight`` ...), so Hub checkpoints load without renaming. The encoder reads
``input_features`` of shape ``(batch, num_mel_bins, 2 * max_source_positions)`` (3000 frames,
30 s, for the Hub models), adds fixed sinusoidal positions (stored in the checkpoint as
``embed_positions.weight``) and runs pre-norm layers without a mask, as transformers does; the
decoder has learned positions and a causal self-attention plus cross-attention.

Cache format (autohub's contract): ``past_key_values`` holds one tuple per decoder layer,
``(self_key, self_value, cross_key, cross_value)`` (just the first two without encoder states),
each ``(batch, heads, length, head_dim)``.

``generate()`` on :class:`WhisperForConditionalGeneration` is transformers' short-form Whisper
decoding (audio of at most 30 s): the prompt ``<|startoftranscript|> <|lang|> <|task|>
<|notimestamps|>`` from ``language`` / ``task`` and generation_config.json (``lang_to_id``,
``task_to_id``, ``no_timestamps_token_id``, legacy ``forced_decoder_ids``), language detection
when no language is given, ``suppress_tokens`` / ``begin_suppress_tokens``, and the returned
tokens without the prompt and the final end-of-text token, as transformers returns them.
"""

from __future__ import annotations

import copy
import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from autohub_core.errors import GenerationError, ModelInputError, UnsupportedFeatureError
from autohub_core.generation import GenerationConfig, GenerationMixin
from autohub_core.layers import (
    additive_mask,
    check_model_inputs,
    masked_lm_loss,
    token_classification_loss,
)
from autohub_core.modeling import PreTrainedModel
from autohub_core.outputs import (
    BaseModelOutput,
    BaseModelOutputWithPast,
    Seq2SeqLMOutput,
    Seq2SeqModelOutput,
    SequenceClassifierOutput,
)
from autohub_core.seq2seq import (
    DecoderOnlyLMMixin,
    LayerCache,
    Seq2SeqAttention,
    Seq2SeqDecoderLayer,
    Seq2SeqEncoderLayer,
    as_encoder_output,
    decoder_attention_allowed,
    run_decoder_layers,
    run_encoder_layers,
    shift_tokens_right,
    stack_tp_plan,
)
from autohub_whisper.config import WhisperConfig
from autohub_whisper.languages import TASKS, language_token

__all__ = [
    "WhisperDecoder",
    "WhisperEncoder",
    "WhisperForAudioClassification",
    "WhisperForCausalLM",
    "WhisperForConditionalGeneration",
    "WhisperModel",
    "WhisperPreTrainedModel",
]


def sinusoids(length: int, channels: int, max_timescale: float = 10000) -> torch.Tensor:
    """The encoder's fixed positions: ``length`` rows of ``channels // 2`` sines then cosines."""
    log_timescale_increment = math.log(max_timescale) / (channels // 2 - 1)
    inv_timescales = torch.exp(-log_timescale_increment * torch.arange(channels // 2))
    scaled_time = torch.arange(length).view(-1, 1) * inv_timescales.view(1, -1)
    return torch.cat([scaled_time.sin(), scaled_time.cos()], dim=1)


class WhisperSinusoidalPositions(nn.Embedding):
    """The encoder's position table: an embedding (``embed_positions.weight`` in checkpoints) holding
    :func:`sinusoids`, not trained."""


class WhisperAttention(Seq2SeqAttention):
    """The core's encoder-decoder attention with the query scaled by ``head_dim ** -0.5`` before the
    product, as the original Whisper (and transformers) do."""

    def __init__(self, config: WhisperConfig, embed_dim: int, num_heads: int, **options: Any) -> None:
        super().__init__(config, embed_dim, num_heads, **options)
        self.query_scaling, self.scaling = self.scaling, 1.0

    def project_query(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.split_heads(self.q_proj(hidden_states) * self.query_scaling)


class WhisperEncoderLayer(Seq2SeqEncoderLayer):
    """Pre-norm self-attention then feed-forward; ``k_proj`` has no bias."""

    normalize_before = True
    key_bias = False
    attention_class = WhisperAttention

    def clamp(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """Every float16 output is clamped within the largest value - 1000, as transformers' Whisper."""
        if hidden_states.dtype == torch.float16:
            clamp_value = torch.finfo(hidden_states.dtype).max - 1000
            hidden_states = torch.clamp(hidden_states, min=-clamp_value, max=clamp_value)
        return hidden_states


class WhisperDecoderLayer(Seq2SeqDecoderLayer):
    """Pre-norm causal self-attention, cross-attention over the encoder states (when given), then
    feed-forward; ``k_proj`` has no bias."""

    normalize_before = True
    key_bias = False
    attention_class = WhisperAttention


#: Tensor-parallel entries: attention sharded by heads, feed-forward by ``*_ffn_dim``.
_ENCODER_TP_PLAN: dict[str, str] = stack_tp_plan("encoder", cross_attention=False)
_DECODER_TP_PLAN: dict[str, str] = stack_tp_plan("decoder", cross_attention=True)


class WhisperPreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions shared by every Whisper class.

    Tensor-parallel plan: ``q_proj`` / ``k_proj`` / ``v_proj`` and ``fc1`` colwise, ``out_proj`` and
    ``fc2`` rowwise, in the encoder and the decoder (the convolutions stay replicated).
    """

    config_class = WhisperConfig
    base_model_prefix = "model"
    main_input_name = "input_features"
    supports_gradient_checkpointing = True
    _no_split_modules = ["WhisperEncoderLayer", "WhisperDecoderLayer"]
    base_model_tp_plan: ClassVar[dict[str, str]] = {**_ENCODER_TP_PLAN, **_DECODER_TP_PLAN}

    def _init_weights(self, module: nn.Module) -> None:
        """Normal(0, ``init_std``) weights, zero biases, unit norms; the encoder positions are
        :func:`sinusoids` and the layer-sum weights ``1 / (layers + 1)``, as transformers."""
        if isinstance(module, WhisperSinusoidalPositions):
            module.weight.copy_(sinusoids(*module.weight.shape))
            return
        std = self.config.init_std
        if isinstance(module, (nn.Linear, nn.Conv1d)):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, WhisperForAudioClassification) and self.config.use_weighted_layer_sum:
            nn.init.constant_(module.layer_weights, 1.0 / (self.config.num_hidden_layers + 1))

    def _get_feat_extract_output_lengths(self, input_lengths: torch.Tensor) -> torch.Tensor:
        """Encoder positions for ``input_lengths`` mel frames (the stride-2 convolution halves them)."""
        return (input_lengths - 1) // 2 + 1


class WhisperEncoder(WhisperPreTrainedModel):
    """``conv1`` (kernel 3) and ``conv2`` (kernel 3, stride 2) with GELU, sinusoidal positions, the
    layers and a final LayerNorm. ``attention_mask`` is accepted and ignored, as in transformers."""

    def __init__(self, config: WhisperConfig) -> None:
        super().__init__(config)
        embed_dim = config.d_model
        self.conv1 = nn.Conv1d(config.num_mel_bins, embed_dim, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(embed_dim, embed_dim, kernel_size=3, stride=2, padding=1)
        self.embed_positions = WhisperSinusoidalPositions(config.max_source_positions, embed_dim)
        self.embed_positions.requires_grad_(False)
        self.layers = nn.ModuleList([WhisperEncoderLayer(config) for _ in range(config.encoder_layers)])
        self.layer_norm = nn.LayerNorm(embed_dim)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.conv1

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.conv1 = value

    def _freeze_parameters(self) -> None:
        for parameter in self.parameters():
            parameter.requires_grad = False

    def expected_frames(self) -> int:
        """The mel frames the encoder reads: ``max_source_positions`` times the convolutions' stride."""
        return self.config.max_source_positions * self.conv1.stride[0] * self.conv2.stride[0]

    def check_input_features(self, input_features: Any) -> None:
        """Refuse ``input_features`` that are not a float (batch, num_mel_bins, frames) tensor with the
        frames the model reads (:class:`ModelInputError`, a ValueError as in transformers)."""
        if not isinstance(input_features, torch.Tensor) or not input_features.is_floating_point():
            kind = (
                input_features.dtype
                if isinstance(input_features, torch.Tensor)
                else type(input_features).__name__
            )
            raise ModelInputError(f"input_features must be a floating-point tensor, got {kind}")
        if input_features.dim() != 3 or input_features.shape[1] != self.config.num_mel_bins:
            raise ModelInputError(
                f"input_features must have shape (batch, {self.config.num_mel_bins}, frames) (config key "
                f"'num_mel_bins' = {self.config.num_mel_bins}), got {tuple(input_features.shape)}; compute "
                "them with the model's WhisperFeatureExtractor"
            )
        expected = self.expected_frames()
        if input_features.shape[-1] != expected:
            raise ModelInputError(
                f"Whisper expects the mel input features to be of length {expected}, but found "
                f"{input_features.shape[-1]}. Make sure to pad the input mel features to {expected}."
            )

    def forward(
        self,
        input_features: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> Any:
        """Encode log-mel features (batch, num_mel_bins, 2 * max_source_positions)."""
        self.check_input_features(input_features)
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        # Features from the extractor are float32: cast them to the weights' dtype (float16 / bfloat16 models).
        inputs_embeds = F.gelu(self.conv1(input_features.to(self.conv1.weight.dtype)))
        inputs_embeds = F.gelu(self.conv2(inputs_embeds)).permute(0, 2, 1)
        hidden_states = inputs_embeds + self.embed_positions.weight
        hidden_states = F.dropout(hidden_states, p=self.config.dropout, training=self.training)

        hidden_states, all_hidden_states, all_attentions = run_encoder_layers(
            self.layers,
            hidden_states,
            None,
            output_attentions,
            output_hidden_states,
            self.config.encoder_layerdrop,
        )
        hidden_states = self.layer_norm(hidden_states)
        if output_hidden_states:
            # As transformers: the last entry is the normalised output, not the last layer's.
            all_hidden_states += (hidden_states,)
        output = BaseModelOutput(
            last_hidden_state=hidden_states,
            hidden_states=all_hidden_states or None,
            attentions=all_attentions or None,
        )
        return self._output(output, return_dict)


class WhisperDecoder(WhisperPreTrainedModel):
    """Token embeddings plus learned positions, the layers and a final LayerNorm."""

    main_input_name = "input_ids"

    def __init__(self, config: WhisperConfig) -> None:
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model, config.pad_token_id)
        self.embed_positions = nn.Embedding(config.max_target_positions, config.d_model)
        self.layers = nn.ModuleList([WhisperDecoderLayer(config) for _ in range(config.decoder_layers)])
        self.layer_norm = nn.LayerNorm(config.d_model)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.embed_tokens = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        past_key_values: tuple[LayerCache, ...] | None = None,
        inputs_embeds: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> Any:
        """Decode; ``attention_mask`` (batch, past + current) masks padding on top of the causal mask."""
        check_model_inputs(input_ids, inputs_embeds)
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        use_cache = self._use_cache(use_cache)
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        length = inputs_embeds.shape[1]
        past_length = past_key_values[0][0].shape[2] if past_key_values else 0
        if past_length + length > self.config.max_target_positions and position_ids is None:
            raise ModelInputError(
                f"the decoder reads at most {self.config.max_target_positions} positions (config key "
                f"'max_target_positions'), got {past_length + length}"
            )
        if position_ids is None:
            positions = self.embed_positions.weight[past_length : past_length + length]
        else:
            positions = self.embed_positions.weight[position_ids]
        hidden_states = inputs_embeds + positions.to(inputs_embeds.device)
        hidden_states = F.dropout(hidden_states, p=self.config.dropout, training=self.training)

        allowed = decoder_attention_allowed(attention_mask, length, past_length, hidden_states.device)
        hidden_states, presents, (all_hidden_states, all_attentions, all_cross_attentions) = (
            run_decoder_layers(
                self.layers,
                hidden_states,
                additive_mask(allowed, hidden_states.dtype),
                encoder_hidden_states,
                None,
                past_key_values,
                use_cache,
                output_attentions,
                output_hidden_states,
                self.config.decoder_layerdrop,
            )
        )
        hidden_states = self.layer_norm(hidden_states)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)
        output = BaseModelOutputWithPast(
            last_hidden_state=hidden_states,
            past_key_values=presents,
            hidden_states=all_hidden_states or None,
            attentions=all_attentions or None,
            cross_attentions=all_cross_attentions or None,
        )
        return self._output(output, return_dict)


def _refuse_spec_augment(model: PreTrainedModel) -> None:
    """SpecAugment masks features only in training; autohub does not implement it."""
    config = model.config
    if (
        model.training
        and config.apply_spec_augment
        and (config.mask_time_prob > 0 or config.mask_feature_prob > 0)
    ):
        raise UnsupportedFeatureError(
            "config key 'apply_spec_augment' = true (with mask_time_prob / mask_feature_prob > 0) asks for "
            "SpecAugment in training, which autohub does not implement; set apply_spec_augment to false "
            "(it has no effect in eval mode)"
        )


class WhisperModel(WhisperPreTrainedModel):
    """The bare encoder-decoder; returns the decoder's last hidden states."""

    def __init__(self, config: WhisperConfig) -> None:
        super().__init__(config)
        self.encoder = WhisperEncoder(config)
        self.decoder = WhisperDecoder(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.decoder.embed_tokens

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.decoder.embed_tokens = value

    def get_encoder(self) -> WhisperEncoder:
        return self.encoder

    def get_decoder(self) -> WhisperDecoder:
        return self.decoder

    def freeze_encoder(self) -> None:
        """Stop gradients to the encoder's parameters (fine-tune the decoder only)."""
        self.encoder._freeze_parameters()

    def forward(
        self,
        input_features: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: Any = None,
        past_key_values: tuple[LayerCache, ...] | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        decoder_position_ids: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> Any:
        if encoder_outputs is None:
            _refuse_spec_augment(self)
            encoder_outputs = self.encoder(
                input_features,
                output_attentions=output_attentions,
                output_hidden_states=output_hidden_states,
                return_dict=True,
            )
        encoder_outputs = as_encoder_output(encoder_outputs)
        decoder_outputs = self.decoder(
            input_ids=decoder_input_ids,
            attention_mask=decoder_attention_mask,
            encoder_hidden_states=encoder_outputs.last_hidden_state,
            past_key_values=past_key_values,
            inputs_embeds=decoder_inputs_embeds,
            position_ids=decoder_position_ids,
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


class WhisperForConditionalGeneration(WhisperPreTrainedModel, GenerationMixin):
    """Whisper with its language-modelling head (``proj_out``, tied to the decoder's embeddings):
    speech recognition and translation (``AutoModelForSpeechSeq2Seq``)."""

    _tp_plan: ClassVar[dict[str, str]] = {"proj_out": "colwise_gather_output"}

    def __init__(self, config: WhisperConfig) -> None:
        super().__init__(config)
        self.model = WhisperModel(config)
        self.proj_out = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Module:
        return self.proj_out

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.proj_out = new_embeddings

    def get_encoder(self) -> WhisperEncoder:
        return self.model.encoder

    def get_decoder(self) -> WhisperDecoder:
        return self.model.decoder

    def freeze_encoder(self) -> None:
        """Stop gradients to the encoder's parameters (fine-tune the decoder only)."""
        self.model.encoder._freeze_parameters()

    def forward(
        self,
        input_features: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: Any = None,
        past_key_values: tuple[LayerCache, ...] | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        decoder_position_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        """Next-token logits; with ``labels`` (at most ``max_target_positions`` long) the mean
        cross-entropy, as transformers (``num_items_in_batch`` is accepted and, as there, ignored)."""
        if labels is not None:
            if labels.shape[1] > self.config.max_target_positions:
                raise ModelInputError(
                    f"Labels' sequence length {labels.shape[1]} cannot exceed the maximum allowed length of "
                    f"{self.config.max_target_positions} tokens (config key 'max_target_positions')."
                )
            if decoder_input_ids is None and decoder_inputs_embeds is None:
                decoder_input_ids = shift_tokens_right(
                    labels, self.config.pad_token_id, self.config.decoder_start_token_id
                )
        outputs = self.model(
            input_features,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            encoder_outputs=encoder_outputs,
            past_key_values=past_key_values,
            decoder_inputs_embeds=decoder_inputs_embeds,
            decoder_position_ids=decoder_position_ids,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.proj_out(outputs.last_hidden_state)
        loss = masked_lm_loss(logits, labels, upcast=False) if labels is not None else None
        output = Seq2SeqLMOutput(
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
        return self._output(output, return_dict)

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        return shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.Tensor,
        past_key_values: tuple[LayerCache, ...] | None = None,
        attention_mask: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """``input_ids`` are the decoder tokens so far; with a past only the last one is fed."""
        return {
            "decoder_input_ids": input_ids[:, -1:] if past_key_values is not None else input_ids,
            "past_key_values": past_key_values,
            "encoder_outputs": kwargs.get("encoder_outputs"),
            "use_cache": kwargs.get("use_cache"),
        }

    # -- generation ---------------------------------------------------------------------------

    @torch.no_grad()
    def detect_language(
        self,
        input_features: torch.Tensor | None = None,
        encoder_outputs: Any = None,
        generation_config: GenerationConfig | None = None,
    ) -> torch.Tensor:
        """The most likely language token of each row: the decoder's first prediction after
        ``<|startoftranscript|>``, restricted to generation_config.json's ``lang_to_id`` tokens."""
        config = generation_config if generation_config is not None else self.generation_config
        lang_to_id = getattr(config, "lang_to_id", None)
        if not lang_to_id:
            raise GenerationError(
                "language detection needs 'lang_to_id' in generation_config.json (the Hub's Whisper "
                "generation config has it); pass language= instead"
            )
        if encoder_outputs is None:
            encoder_outputs = self.model.encoder(input_features, return_dict=True)
        encoder_outputs = as_encoder_output(encoder_outputs)
        batch_size = encoder_outputs.last_hidden_state.shape[0]
        start = torch.full(
            (batch_size, 1), config.decoder_start_token_id, dtype=torch.long, device=self.device
        )
        logits = self(encoder_outputs=encoder_outputs, decoder_input_ids=start, use_cache=False).logits[:, -1]
        is_language = torch.zeros(logits.shape[-1], dtype=torch.bool, device=logits.device)
        is_language[list(lang_to_id.values())] = True
        return logits.masked_fill(~is_language, -float("inf")).argmax(-1)

    @torch.no_grad()
    def generate(  # type: ignore[override]
        self,
        input_features: torch.Tensor | None = None,
        generation_config: GenerationConfig | None = None,
        *,
        language: str | list[str] | None = None,
        task: str | None = None,
        return_timestamps: bool | None = None,
        is_multilingual: bool | None = None,
        attention_mask: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        """Transcribe or translate log-mel ``input_features`` of at most 30 s (short-form).

        ``language`` (a code such as ``"en"``, a name such as ``"english"``, a token ``"<|en|>"``, or
        one per row) and ``task`` (``"transcribe"`` / ``"translate"``) choose the prompt tokens;
        without a language a multilingual model detects it per row. Other ``kwargs`` are the core
        ``generate()`` options (``num_beams``, ``max_new_tokens`` ...); as in transformers,
        ``num_return_sequences`` decodes each row that many times independently. Returns, like transformers,
        the generated tokens without the prompt and without the final end-of-text token, right-padded
        with ``pad_token_id``. Features shorter than 3000 frames are zero-padded and ``attention_mask`` is
        ignored, as transformers does for short-form audio. Timestamp prediction
        (``return_timestamps=True``) and long-form audio are not implemented
        (:class:`UnsupportedFeatureError`). Should the model emit two consecutive timestamp tokens
        anyway, the tokens are returned as decoded, where transformers would re-decode the rest of
        the window as another segment.
        """
        inputs = kwargs.pop("inputs", None)
        if input_features is None:
            input_features = inputs
        config = copy.deepcopy(generation_config if generation_config is not None else self.generation_config)
        encoder_outputs = kwargs.pop("encoder_outputs", None)
        if return_timestamps is None:
            return_timestamps = getattr(config, "return_timestamps", None)
        if return_timestamps:
            raise UnsupportedFeatureError(
                "generate(return_timestamps=True) (timestamp prediction) is not implemented by autohub-whisper; "
                "use return_timestamps=False"
            )
        if "decoder_input_ids" in kwargs:
            raise GenerationError(
                "Whisper's generate() builds decoder_input_ids from language= and task=; do not pass them"
            )
        encoder = self.model.encoder
        if encoder_outputs is None:
            if input_features is None:
                raise GenerationError(
                    "Make sure to provide either `input_features` or `encoder_outputs` to `generate`."
                )
            frames = input_features.shape[-1] if isinstance(input_features, torch.Tensor) else None
            expected = encoder.expected_frames()
            if frames is not None and frames > expected:
                raise UnsupportedFeatureError(
                    f"input_features have {frames} frames, more than the {expected} of one 30 s window: "
                    "long-form transcription is not implemented by autohub-whisper; split the audio"
                )
            if frames is not None and 0 < frames < expected and input_features.dim() == 3:
                input_features = F.pad(input_features, (0, expected - frames))  # as transformers: pad to 30 s
            encoder_outputs = encoder(input_features.to(self.device), return_dict=True)
        encoder_outputs = as_encoder_output(encoder_outputs)
        batch_size = encoder_outputs.last_hidden_state.shape[0]

        init_tokens = self._init_tokens(config, batch_size, encoder_outputs, language, task, is_multilingual)
        copies = kwargs.get("num_return_sequences", config.num_return_sequences) or 1
        if copies > 1:
            # As transformers: each row is repeated and decoded on its own (beam search then returns
            # the same best sequence num_return_sequences times; sampling draws different ones).
            encoder_outputs = BaseModelOutput(
                last_hidden_state=encoder_outputs.last_hidden_state.repeat_interleave(copies, dim=0)
            )
            init_tokens = init_tokens.repeat_interleave(copies, dim=0)
            kwargs["num_return_sequences"] = 1
        prompt_length = init_tokens.shape[1]
        max_new_tokens = kwargs.get("max_new_tokens", config.max_new_tokens)
        if max_new_tokens is not None and max_new_tokens + prompt_length > self.config.max_target_positions:
            raise GenerationError(
                f"The length of `decoder_input_ids`, including special start tokens, prompt tokens, and previous "
                f"tokens, is {prompt_length},  and `max_new_tokens` is {max_new_tokens}. Thus, the combined length "
                f"of `decoder_input_ids` and `max_new_tokens` is: {max_new_tokens + prompt_length}. This exceeds "
                f"the `max_target_positions` of the Whisper model: {self.config.max_target_positions}. You should "
                "either reduce the length of your prompt, or reduce the value of `max_new_tokens`, so that their "
                f"combined length is less than {self.config.max_target_positions}."
            )
        max_length = kwargs.get("max_length", config.max_length)
        if max_new_tokens is None and max_length is not None:
            kwargs["max_length"] = min(max_length + prompt_length, self.config.max_target_positions)
        sequences = super().generate(
            generation_config=config,
            encoder_outputs=encoder_outputs,
            decoder_input_ids=init_tokens,
            **kwargs,
        )
        return self._strip_outputs(sequences, prompt_length, config)

    def _init_tokens(
        self,
        config: GenerationConfig,
        batch_size: int,
        encoder_outputs: BaseModelOutput,
        language: str | list[str] | None,
        task: str | None,
        is_multilingual: bool | None,
    ) -> torch.Tensor:
        """The decoder prompt of each row, as transformers' ``_retrieve_init_tokens``."""
        if is_multilingual is not None:
            config.is_multilingual = is_multilingual
        if getattr(config, "is_multilingual", None) is False and (task is not None or language is not None):
            raise GenerationError(
                "Cannot specify `task` or `language` for an English-only model. If the model is intended to be "
                "multilingual, pass `is_multilingual=True` to generate, or update the generation config."
            )
        for name, value, key in (("language", language, "lang_to_id"), ("task", task, "task_to_id")):
            if value is not None and not getattr(config, key, None):
                raise GenerationError(
                    f"generate({name}=...) needs '{key}' in generation_config.json, as the Hub's Whisper "
                    "generation config has it"
                )
        language = language if language is not None else getattr(config, "language", None)
        task = task if task is not None else getattr(config, "task", None)
        if config.decoder_start_token_id is None:
            raise GenerationError(
                "generation_config.json needs 'decoder_start_token_id' (<|startoftranscript|>)"
            )
        tokens: list[int | None] = [config.decoder_start_token_id]
        if task is None and language is None:
            forced = getattr(config, "forced_decoder_ids", None)
            if forced is None:
                forced = getattr(self.config, "forced_decoder_ids", None)
            if forced:
                position = 1
                while forced and forced[0][0] == position:  # the legacy (position, token) pairs
                    tokens.append(forced[0][1])
                    forced = forced[1:]
                    position += 1
                if forced:
                    raise GenerationError(
                        f"forced_decoder_ids {forced} do not follow Whisper's prompt pattern (positions 1, 2, ...)"
                    )
        language_undefined = len(tokens) <= 1 or tokens[1] is None

        if isinstance(language, (list, tuple)):
            if any(item is None for item in language) or len(language) != batch_size:
                raise GenerationError(
                    f"language= must be one language or a list of {batch_size} (the batch size), got {language!r}"
                )
            languages: list[str | None] = list(language)
        else:
            languages = [language] * batch_size
        rows = [list(tokens) for _ in range(batch_size)]
        language_ids: list[int] | None = None
        lang_to_id = getattr(config, "lang_to_id", None)
        if language is not None:
            language_ids = [_language_id(str(item), lang_to_id or {}) for item in languages]
        elif lang_to_id and language_undefined:
            language_ids = self.detect_language(
                encoder_outputs=encoder_outputs, generation_config=config
            ).tolist()
        if language_ids is not None:
            for row, language_id in zip(rows, language_ids, strict=True):
                if len(row) > 1:
                    row[1] = language_id
                else:
                    row.append(language_id)

        task_to_id = getattr(config, "task_to_id", None) or {}
        no_timestamps = getattr(config, "no_timestamps_token_id", None)
        for index, row in enumerate(rows):
            if task is not None:
                if task not in TASKS:
                    raise GenerationError(
                        f"The `{task}` task is not supported. The task should be one of `{list(TASKS)}`"
                    )
                row.append(task_to_id[task])
            elif (
                language is not None and task_to_id and not any(token in row for token in task_to_id.values())
            ):
                row.append(task_to_id["transcribe"])
            if no_timestamps is not None and row[-1] != no_timestamps:
                row.append(no_timestamps)
            rows[index] = [token for token in row if token is not None]
        return torch.tensor(rows, dtype=torch.long, device=self.device)

    @staticmethod
    def _strip_outputs(sequences: torch.Tensor, prompt_length: int, config: GenerationConfig) -> torch.Tensor:
        """transformers' short-form result: each row without the prompt, its padding and its final
        end-of-text token, right-padded with ``pad_token_id`` to the longest row."""
        pad, eos = config.pad_token_id, config.eos_token_id
        eos = eos[0] if isinstance(eos, list) and len(eos) == 1 else eos
        rows = []
        for row in sequences[:, prompt_length:]:
            if row.numel() and pad is not None and int(row[-1]) == pad:
                paddings = int((row == pad).sum()) - (1 if pad == eos else 0)
                if paddings:
                    row = row[:-paddings]
            if row.numel() and isinstance(eos, int) and int(row[-1]) == eos:
                row = row[:-1]
            rows.append(row)
        longest = max(len(row) for row in rows)
        fill = pad if pad is not None else 0
        return torch.stack([F.pad(row, (0, longest - len(row)), value=fill) for row in rows])


def _language_id(language: str, lang_to_id: dict[str, int]) -> int:
    """The token id of a language code, name or token (transformers' ``language_to_id``)."""
    token = language_token(language)
    if token not in lang_to_id:
        raise GenerationError(
            f"{token} is not supported by this specific model as it is not in the "
            "`generation_config.lang_to_id`. (You should just add it to the generation config)"
        )
    return lang_to_id[token]


class WhisperForAudioClassification(WhisperPreTrainedModel):
    """The encoder, a projection to ``classifier_proj_size``, mean pooling over time and a linear
    classifier (``AutoModelForAudioClassification``). With ``use_weighted_layer_sum`` the encoder's
    hidden states are mixed with softmax-normalised learned weights. The loss is a plain
    cross-entropy, as transformers' (no ``problem_type``)."""

    _keys_to_ignore_on_load_unexpected = [r"^(model\.)?decoder\.", r"^proj_out\."]
    base_model_tp_plan: ClassVar[dict[str, str]] = _ENCODER_TP_PLAN
    _no_split_modules = ["WhisperEncoderLayer"]

    def __init__(self, config: WhisperConfig) -> None:
        super().__init__(config)
        self.encoder = WhisperEncoder(config)
        num_layers = config.num_hidden_layers + 1  # the layers and the input embeddings
        if config.use_weighted_layer_sum:
            self.layer_weights = nn.Parameter(torch.ones(num_layers) / num_layers)
        self.projector = nn.Linear(config.hidden_size, config.classifier_proj_size)
        self.classifier = nn.Linear(config.classifier_proj_size, config.num_labels)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.encoder.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.encoder.set_input_embeddings(value)

    def get_encoder(self) -> WhisperEncoder:
        return self.encoder

    def freeze_encoder(self) -> None:
        """Stop gradients to the encoder (train the projector and classifier only)."""
        self.encoder._freeze_parameters()

    def forward(
        self,
        input_features: torch.Tensor | None = None,
        encoder_outputs: Any = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        if self.config.use_weighted_layer_sum:
            output_hidden_states = True
        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                input_features,
                output_attentions=output_attentions,
                output_hidden_states=output_hidden_states,
                return_dict=True,
            )
        encoder_outputs = as_encoder_output(encoder_outputs)
        if self.config.use_weighted_layer_sum:
            stacked = torch.stack(encoder_outputs.hidden_states, dim=1)
            weights = F.softmax(self.layer_weights, dim=-1)
            hidden_states = (stacked * weights.view(-1, 1, 1)).sum(dim=1)
        else:
            hidden_states = encoder_outputs.last_hidden_state
        pooled = self.projector(hidden_states).mean(dim=1)
        logits = self.classifier(pooled)
        loss = None
        if labels is not None:
            # transformers' Whisper classifier always uses cross-entropy (no problem_type).
            loss = token_classification_loss(logits, labels, self.config.num_labels)
        output = SequenceClassifierOutput(
            loss=loss,
            logits=logits,
            hidden_states=encoder_outputs.hidden_states,
            attentions=encoder_outputs.attentions,
        )
        return self._output(output, return_dict)


class WhisperForCausalLM(WhisperPreTrainedModel, DecoderOnlyLMMixin):
    """The Whisper decoder alone with ``proj_out`` (``AutoModelForCausalLM``; an assistant model for
    speculative decoding in transformers). ``encoder_outputs`` (encoder states) feed its
    cross-attention when given. As in transformers, building it sets ``config.is_encoder_decoder``
    to false; its labels are not shifted (``labels[..., i]`` is the target of position ``i``)."""

    cross_inputs = ("encoder_outputs",)

    main_input_name = "input_ids"
    base_model_tp_plan: ClassVar[dict[str, str]] = _DECODER_TP_PLAN
    _no_split_modules = ["WhisperDecoderLayer"]
    _tp_plan: ClassVar[dict[str, str]] = {"proj_out": "colwise_gather_output"}

    def __init__(self, config: WhisperConfig) -> None:
        config.is_encoder_decoder = False
        super().__init__(config)
        self.model = _WhisperDecoderWrapper(config)
        self.proj_out = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.model.decoder.embed_tokens

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.model.decoder.embed_tokens = value

    def get_output_embeddings(self) -> nn.Module:
        return self.proj_out

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.proj_out = new_embeddings

    def get_decoder(self) -> WhisperDecoder:
        return self.model.decoder

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        encoder_outputs: Any = None,
        past_key_values: tuple[LayerCache, ...] | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        if isinstance(encoder_outputs, (BaseModelOutput, tuple, list)):
            encoder_outputs = encoder_outputs[0]
        outputs = self.model.decoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            encoder_hidden_states=encoder_outputs,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        output = self._causal_lm_output(self.proj_out(outputs.last_hidden_state), outputs, labels)
        return self._output(output, return_dict)


class _WhisperDecoderWrapper(WhisperPreTrainedModel):
    """Holds the decoder under ``model.decoder`` so WhisperForCausalLM's keys match transformers'."""

    main_input_name = "input_ids"

    def __init__(self, config: WhisperConfig) -> None:
        super().__init__(config)
        self.decoder = WhisperDecoder(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.decoder.embed_tokens

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.decoder.embed_tokens = value

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.decoder(*args, **kwargs)
