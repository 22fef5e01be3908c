"""Wav2Vec2's feature extractor (raw audio, optionally normalised per utterance) and processor
(feature extractor + CTC tokenizer), with the files and numbers of transformers'."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from autohub_core.configuration import Rule, boolean
from autohub_core.errors import ProcessorError
from autohub_core.processing import BatchFeature, FeatureExtractor, Processor

__all__ = ["Wav2Vec2FeatureExtractor", "Wav2Vec2Processor"]

#: The keyword arguments of :meth:`Wav2Vec2Processor.__call__` the feature extractor takes (the
#: tokenizer takes all but ``sampling_rate``), as transformers routes them.
_AUDIO_KWARGS = frozenset(
    {
        "sampling_rate",
        "padding",
        "max_length",
        "truncation",
        "pad_to_multiple_of",
        "return_attention_mask",
        "return_tensors",
    }
)


class Wav2Vec2FeatureExtractor(FeatureExtractor):
    """Raw 16 kHz mono audio -> ``input_values`` (batch, samples), as transformers computes them.

    ``do_normalize``: each utterance is scaled to zero mean and unit variance (over its real
    samples when the batch is padded and an attention mask is made; over the whole padded row
    otherwise, as transformers does). ``return_attention_mask``: True for checkpoints whose
    model was trained with padding masks (large-lv60 style), False for the base models, which
    expect zero padding without a mask.
    """

    defaults: ClassVar[dict[str, Any]] = {"return_attention_mask": False, "do_normalize": True}
    config_rules: ClassVar[dict[str, Rule]] = {"do_normalize": boolean()}
    model_input_names: ClassVar[list[str]] = ["input_values", "attention_mask"]

    def __call__(
        self,
        raw_speech: Any,
        padding: bool | str = False,
        max_length: int | None = None,
        truncation: bool = False,
        pad_to_multiple_of: int | None = None,
        return_attention_mask: bool | None = None,
        return_tensors: str | None = None,
        sampling_rate: int | None = None,
    ) -> BatchFeature:
        """Featurize one audio (a 1-D array or list of floats) or a batch (a list of them, or a 2-D
        array). ``sampling_rate`` must equal the extractor's (16000); the output is always a batch."""
        self.check_sampling_rate(sampling_rate)
        arrays, _ = self.audio_batch(raw_speech)
        input_values, attention_mask = self.pad_arrays(
            arrays,
            padding=padding,
            max_length=max_length,
            truncation=truncation,
            pad_to_multiple_of=pad_to_multiple_of,
            return_attention_mask=return_attention_mask,
        )
        if self.do_normalize:  # a list of rows, as transformers returns (else the padded array)
            padded = padding is not False and padding != "do_not_pad"
            lengths = (
                [int(mask.sum()) for mask in attention_mask]
                if padded and attention_mask is not None
                else [len(row) for row in input_values]
            )
            input_values = [
                self._normalize(row, length) for row, length in zip(input_values, lengths, strict=True)
            ]
        features: dict[str, Any] = {"input_values": input_values}
        if attention_mask is not None:
            features["attention_mask"] = [np.asarray(mask, dtype=np.int32) for mask in attention_mask]
        return BatchFeature(features, tensor_type=return_tensors)

    def _normalize(self, row: np.ndarray, length: int) -> np.ndarray:
        """Zero mean, unit variance over the first ``length`` samples; the rest set to ``padding_value``."""
        real = row[:length]
        normed = (row - real.mean()) / np.sqrt(real.var() + 1e-7)
        normed[length:] = self.padding_value
        return normed


class Wav2Vec2Processor(Processor):
    """A :class:`Wav2Vec2FeatureExtractor` and a ``Wav2Vec2CTCTokenizer`` under one object:
    ``processor(audio=..., sampling_rate=16000)`` gives ``input_values``, ``processor(text=...)``
    the label ids, both together ``input_values`` plus ``labels``; ``batch_decode`` CTC-decodes."""

    attributes: ClassVar[tuple[str, ...]] = ("feature_extractor", "tokenizer")

    def __call__(self, audio: Any = None, text: Any = None, **kwargs: Any) -> BatchFeature | Any:
        """``sampling_rate`` goes to the feature extractor; ``padding``, ``max_length``, ``truncation``,
        ``pad_to_multiple_of``, ``return_attention_mask`` and ``return_tensors`` to both; the other
        keyword arguments to the tokenizer."""
        if audio is None and text is None:
            raise ProcessorError("You need to specify either an `audio` or `text` input to process.")
        audio_kwargs = {key: value for key, value in kwargs.items() if key in _AUDIO_KWARGS}
        text_kwargs = {key: value for key, value in kwargs.items() if key != "sampling_rate"}
        inputs = self.feature_extractor(audio, **audio_kwargs) if audio is not None else None
        encodings = self.tokenizer(text, **text_kwargs) if text is not None else None
        if inputs is None:
            return encodings
        if encodings is not None:
            inputs["labels"] = encodings["input_ids"]
        return inputs

    def pad(self, input_features: Any = None, labels: Any = None, **kwargs: Any) -> BatchFeature | Any:
        """What CTC data collators call: ``input_features`` (a list of ``{"input_values": ...}``)
        through the feature extractor's ``pad``, ``labels`` (a list of ``{"input_ids": ...}``) through
        the tokenizer's; with both, the label ids come back under ``labels``."""
        if input_features is None and labels is None:
            raise ProcessorError("pad needs input_features, labels, or both")
        features = (
            self.feature_extractor.pad(input_features, **kwargs) if input_features is not None else None
        )
        encodings = self.tokenizer.pad(labels, **kwargs) if labels is not None else None
        if features is None:
            return encodings
        if encodings is not None:
            features["labels"] = encodings["input_ids"]
        return features

    @property
    def model_input_names(self) -> list[str]:
        """The feature extractor's inputs and ``labels``."""
        return [*self.feature_extractor.model_input_names, "labels"]
