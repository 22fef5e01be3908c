"""Model output containers, compatible with transformers' ``ModelOutput`` behaviour.

An output is a dataclass whose fields are also reachable as dict keys and by position
(``outputs.logits``, ``outputs["logits"]``, ``outputs[0]``); fields that are ``None`` are
skipped in the dict and tuple views, exactly like transformers.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import torch

__all__ = [
    "BaseModelOutput",
    "BaseModelOutputWithPast",
    "BaseModelOutputWithPooling",
    "BaseModelOutputWithPoolingAndCrossAttentions",
    "CausalLMOutput",
    "MaskedLMOutput",
    "ModelOutput",
    "MultipleChoiceModelOutput",
    "NextSentencePredictorOutput",
    "PreTrainingOutput",
    "QuestionAnsweringModelOutput",
    "Seq2SeqLMOutput",
    "Seq2SeqModelOutput",
    "Seq2SeqQuestionAnsweringModelOutput",
    "Seq2SeqSequenceClassifierOutput",
    "SequenceClassifierOutput",
    "TokenClassifierOutput",
]

Tensors = tuple[torch.Tensor, ...]


class ModelOutput(OrderedDict):
    """Base of every output: attribute, key and index access over the non-None fields."""

    def __post_init__(self) -> None:
        all_fields = fields(self)  # type: ignore[arg-type]
        first = getattr(self, all_fields[0].name)
        if isinstance(first, Mapping) and all(getattr(self, f.name) is None for f in all_fields[1:]):
            # Rebuilt from its dict view (``type(output)(dict)``, as accelerate's hooks do).
            for field in all_fields:
                object.__setattr__(self, field.name, first.get(field.name))
        for field in all_fields:
            value = getattr(self, field.name)
            if value is not None:
                super().__setitem__(field.name, value)

    def __getitem__(self, key: str | int | slice) -> Any:
        if isinstance(key, str):
            return dict(self.items())[key]
        return self.to_tuple()[key]

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.keys() and value is not None:
            super().__setitem__(name, value)
        super().__setattr__(name, value)

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        super().__setattr__(key, value)

    def __reduce__(self) -> Any:
        return (type(self), tuple(getattr(self, f.name) for f in fields(self)))  # type: ignore[arg-type]

    def to_tuple(self) -> tuple[Any, ...]:
        """The non-None fields, in order."""
        return tuple(self[key] for key in self.keys())


@dataclass
class BaseModelOutput(ModelOutput):
    """What an encoder's base model returns: the last layer's hidden states (and, on request,
    every layer's hidden states and attentions)."""

    last_hidden_state: torch.Tensor | None = None
    hidden_states: Tensors | None = None
    attentions: Tensors | None = None


@dataclass
class BaseModelOutputWithPooling(ModelOutput):
    """A base model's output with ``pooler_output``, the pooled first-token representation (BERT's pooler)."""

    last_hidden_state: torch.Tensor | None = None
    pooler_output: torch.Tensor | None = None
    hidden_states: Tensors | None = None
    attentions: Tensors | None = None


@dataclass
class BaseModelOutputWithPoolingAndCrossAttentions(ModelOutput):
    """What an encoder that can also decode returns (BERT, RoBERTa): hidden states, the pooled first
    token, and as a decoder the KV cache and cross-attention weights."""

    last_hidden_state: torch.Tensor | None = None
    pooler_output: torch.Tensor | None = None
    hidden_states: Tensors | None = None
    past_key_values: Any = None
    attentions: Tensors | None = None
    cross_attentions: Tensors | None = None


@dataclass
class BaseModelOutputWithPast(ModelOutput):
    """A decoder base model's output; ``past_key_values`` is the KV cache to pass to the next step."""

    last_hidden_state: torch.Tensor | None = None
    past_key_values: Any = None
    hidden_states: Tensors | None = None
    attentions: Tensors | None = None
    cross_attentions: Tensors | None = None


@dataclass
class PreTrainingOutput(ModelOutput):
    """A pre-training head's output: masked-LM ``prediction_logits`` and next-sentence
    ``seq_relationship_logits``."""

    loss: torch.Tensor | None = None
    prediction_logits: torch.Tensor | None = None
    seq_relationship_logits: torch.Tensor | None = None
    hidden_states: Tensors | None = None
    attentions: Tensors | None = None


@dataclass
class MaskedLMOutput(ModelOutput):
    """A masked-LM head's output: ``logits`` over the vocabulary for every position."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    hidden_states: Tensors | None = None
    attentions: Tensors | None = None


@dataclass
class CausalLMOutput(ModelOutput):
    """A causal-LM head's output: next-token ``logits``, and the KV cache in ``past_key_values``."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    past_key_values: Any = None
    hidden_states: Tensors | None = None
    attentions: Tensors | None = None
    cross_attentions: Tensors | None = None


@dataclass
class NextSentencePredictorOutput(ModelOutput):
    """A next-sentence-prediction head's output: two ``logits`` per sequence pair (is next / is random)."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    hidden_states: Tensors | None = None
    attentions: Tensors | None = None


@dataclass
class SequenceClassifierOutput(ModelOutput):
    """A sequence-classification head's output: ``logits`` of shape ``(batch, num_labels)``."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    past_key_values: Any = None
    hidden_states: Tensors | None = None
    attentions: Tensors | None = None


@dataclass
class TokenClassifierOutput(ModelOutput):
    """A token-classification head's output: ``logits`` of shape ``(batch, seq_len, num_labels)``."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    hidden_states: Tensors | None = None
    attentions: Tensors | None = None


@dataclass
class QuestionAnsweringModelOutput(ModelOutput):
    """An extractive question-answering head's output: ``start_logits`` and ``end_logits`` of the
    answer span."""

    loss: torch.Tensor | None = None
    start_logits: torch.Tensor | None = None
    end_logits: torch.Tensor | None = None
    hidden_states: Tensors | None = None
    attentions: Tensors | None = None


@dataclass
class MultipleChoiceModelOutput(ModelOutput):
    """A multiple-choice head's output: ``logits`` of shape ``(batch, num_choices)``."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    hidden_states: Tensors | None = None
    attentions: Tensors | None = None


@dataclass
class Seq2SeqModelOutput(ModelOutput):
    """An encoder-decoder base model's output: the decoder's states, the KV cache and the encoder's states."""

    last_hidden_state: torch.Tensor | None = None
    past_key_values: Any = None
    decoder_hidden_states: Tensors | None = None
    decoder_attentions: Tensors | None = None
    cross_attentions: Tensors | None = None
    encoder_last_hidden_state: torch.Tensor | None = None
    encoder_hidden_states: Tensors | None = None
    encoder_attentions: Tensors | None = None


@dataclass
class Seq2SeqLMOutput(ModelOutput):
    """A sequence-to-sequence LM head's output: the decoder's next-token ``logits`` plus the encoder
    and decoder states."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    past_key_values: Any = None
    decoder_hidden_states: Tensors | None = None
    decoder_attentions: Tensors | None = None
    cross_attentions: Tensors | None = None
    encoder_last_hidden_state: torch.Tensor | None = None
    encoder_hidden_states: Tensors | None = None
    encoder_attentions: Tensors | None = None


@dataclass
class Seq2SeqSequenceClassifierOutput(ModelOutput):
    """An encoder-decoder sequence-classification head's output: ``logits`` of shape
    ``(batch, num_labels)``."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    past_key_values: Any = None
    decoder_hidden_states: Tensors | None = None
    decoder_attentions: Tensors | None = None
    cross_attentions: Tensors | None = None
    encoder_last_hidden_state: torch.Tensor | None = None
    encoder_hidden_states: Tensors | None = None
    encoder_attentions: Tensors | None = None


@dataclass
class Seq2SeqQuestionAnsweringModelOutput(ModelOutput):
    """An encoder-decoder question-answering head's output: ``start_logits`` and ``end_logits``."""

    loss: torch.Tensor | None = None
    start_logits: torch.Tensor | None = None
    end_logits: torch.Tensor | None = None
    past_key_values: Any = None
    decoder_hidden_states: Tensors | None = None
    decoder_attentions: Tensors | None = None
    cross_attentions: Tensors | None = None
    encoder_last_hidden_state: torch.Tensor | None = None
    encoder_hidden_states: Tensors | None = None
    encoder_attentions: Tensors | None = None


# -- image heads (autohub-vit) ----------------------------------------------------------------

__all__ += ["ImageClassifierOutput", "MaskedImageModelingOutput"]


@dataclass
class ImageClassifierOutput(ModelOutput):
    """An image-classification head's output: ``logits`` of shape ``(batch, num_labels)``."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    hidden_states: Tensors | None = None
    attentions: Tensors | None = None


@dataclass
class MaskedImageModelingOutput(ModelOutput):
    """A masked-image-modeling head's output: the ``reconstruction`` of the pixel values,
    (batch, channels, height, width), and the L1 loss over the masked patches."""

    loss: torch.Tensor | None = None
    reconstruction: torch.Tensor | None = None
    hidden_states: Tensors | None = None
    attentions: Tensors | None = None


# -- CLIP (autohub-clip) ------------------------------------------------------------------------

__all__ += ["CLIPOutput", "CLIPTextModelOutput", "CLIPVisionModelOutput"]


@dataclass
class CLIPOutput(ModelOutput):
    """A CLIP dual encoder's output: ``logits_per_image`` (images x texts) and ``logits_per_text``
    (texts x images), the normalised ``text_embeds`` / ``image_embeds``, each tower's own output,
    and the contrastive ``loss`` with ``return_loss=True``. Its tuple view holds the towers'
    outputs as tuples too, as transformers'."""

    loss: torch.Tensor | None = None
    logits_per_image: torch.Tensor | None = None
    logits_per_text: torch.Tensor | None = None
    text_embeds: torch.Tensor | None = None
    image_embeds: torch.Tensor | None = None
    text_model_output: BaseModelOutputWithPooling | None = None
    vision_model_output: BaseModelOutputWithPooling | None = None

    def to_tuple(self) -> tuple[Any, ...]:
        """The non-None fields, in order, the towers' outputs as tuples."""
        return tuple(value.to_tuple() if isinstance(value, ModelOutput) else value for value in self.values())


@dataclass
class CLIPTextModelOutput(ModelOutput):
    """A CLIP text tower with projection: ``text_embeds`` (batch, projection_dim), unnormalised."""

    text_embeds: torch.Tensor | None = None
    last_hidden_state: torch.Tensor | None = None
    hidden_states: Tensors | None = None
    attentions: Tensors | None = None


@dataclass
class CLIPVisionModelOutput(ModelOutput):
    """A CLIP vision tower with projection: ``image_embeds`` (batch, projection_dim), unnormalised."""

    image_embeds: torch.Tensor | None = None
    last_hidden_state: torch.Tensor | None = None
    hidden_states: Tensors | None = None
    attentions: Tensors | None = None


# -- ALBERT (autohub-albert) --------------------------------------------------------------------

__all__ += ["AlbertForPreTrainingOutput"]


@dataclass
class AlbertForPreTrainingOutput(ModelOutput):
    """ALBERT's pre-training head output: masked-LM ``prediction_logits`` and sentence-order
    ``sop_logits`` (batch, 2); ``loss`` is the sum of both cross-entropies."""

    loss: torch.Tensor | None = None
    prediction_logits: torch.Tensor | None = None
    sop_logits: torch.Tensor | None = None
    hidden_states: Tensors | None = None
    attentions: Tensors | None = None
