"""Whisper's feature extractor (log-mel spectrogram) and processor (feature extractor + tokenizer).

The features are transformers' ``WhisperFeatureExtractor``'s, computed with numpy: the audio is
padded (or truncated) to ``chunk_length`` seconds (30 s: ``n_samples`` = 480000 samples at 16 kHz),
framed with ``n_fft`` = 400 and ``hop_length`` = 160 around each sample (reflect padding), windowed
with a periodic Hann window, turned into a power spectrum, projected on ``feature_size`` (80 or 128)
Slaney-style mel filters between 0 and 8 kHz, then ``log10(max(mel, 1e-10))``, the last frame
dropped, clamped to 8 below each example's maximum and scaled as ``(x + 4) / 4``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from autohub_core.configuration import Rule, number, positive_int
from autohub_core.errors import ProcessorError
from autohub_core.processing import BatchFeature, FeatureExtractor, Processor

__all__ = ["WhisperFeatureExtractor", "WhisperProcessor", "mel_filter_bank"]

#: Keys of old preprocessor_config.json files that hold computed values, not settings.
_COMPUTED_KEYS = ("mel_filters", "window")


def _hertz_to_mel(frequencies: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    frequencies = np.asarray(frequencies, dtype=np.float64)
    mels = 3.0 * frequencies / 200.0
    log_step = 27.0 / np.log(6.4)
    above = frequencies >= 1000.0
    mels[above] = 15.0 + np.log(frequencies[above] / 1000.0) * log_step
    return mels


def _mel_to_hertz(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    frequencies = 200.0 * mels / 3.0
    log_step = np.log(6.4) / 27.0
    above = mels >= 15.0
    frequencies[above] = 1000.0 * np.exp(log_step * (mels[above] - 15.0))
    return frequencies


def mel_filter_bank(
    num_frequency_bins: int,
    num_mel_filters: int,
    min_frequency: float,
    max_frequency: float,
    sampling_rate: int,
) -> np.ndarray:
    """Slaney-normalised triangular mel filters on the Slaney mel scale (librosa's and Whisper's),
    shape ``(num_frequency_bins, num_mel_filters)``, float64."""
    mel_points = np.linspace(
        _hertz_to_mel(np.array([min_frequency]))[0],
        _hertz_to_mel(np.array([max_frequency]))[0],
        num_mel_filters + 2,
    )
    filter_frequencies = _mel_to_hertz(mel_points)
    fft_frequencies = np.linspace(0, sampling_rate // 2, num_frequency_bins)
    filter_diff = np.diff(filter_frequencies)
    slopes = filter_frequencies[None, :] - fft_frequencies[:, None]
    down = -slopes[:, :-2] / filter_diff[:-1]
    up = slopes[:, 2:] / filter_diff[1:]
    filters = np.maximum(0.0, np.minimum(down, up))
    enorm = 2.0 / (filter_frequencies[2 : num_mel_filters + 2] - filter_frequencies[:num_mel_filters])
    return filters * enorm[None, :]


class WhisperFeatureExtractor(FeatureExtractor):
    """Log-mel features for Whisper: ``input_features`` of shape ``(batch, feature_size, frames)``
    (3000 frames for 30 s).

    ``__call__(raw_speech, sampling_rate=, padding="max_length", max_length=None, truncation=True,
    return_attention_mask=None, do_normalize=None, return_tensors=None)`` as transformers:
    ``raw_speech`` is one 1-D float array (or list) or a batch of them; a ``sampling_rate`` other
    than the extractor's raises :class:`~autohub_core.errors.ProcessorError` with transformers'
    wording; empty or NaN audio is refused the same way. ``do_normalize`` first scales each audio
    to zero mean and unit variance over its real samples. The attention mask (when asked for) is
    per frame.
    """

    model_input_names: ClassVar[list[str]] = ["input_features"]
    defaults: ClassVar[dict[str, Any]] = {
        "feature_size": 80,
        "sampling_rate": 16000,
        "hop_length": 160,
        "chunk_length": 30,
        "n_fft": 400,
        "padding_value": 0.0,
        "dither": 0.0,
        "return_attention_mask": False,
        "n_samples": 480000,
        "nb_max_frames": 3000,
    }
    config_rules: ClassVar[dict[str, Rule]] = {
        "hop_length": positive_int(),
        "chunk_length": positive_int(),
        "n_fft": Rule(
            "an even integer of at least 4", lambda v: isinstance(v, int) and v >= 4 and v % 2 == 0
        ),
        "dither": number(0),
    }

    def __init__(self, **kwargs: Any) -> None:
        for key in _COMPUTED_KEYS:  # recomputed, as transformers does
            kwargs.pop(key, None)
        super().__init__(**kwargs)
        # Derived, as transformers derives them (a file's values are overwritten).
        self.n_samples = self.chunk_length * self.sampling_rate
        self.nb_max_frames = self.n_samples // self.hop_length
        self.mel_filters = mel_filter_bank(
            num_frequency_bins=1 + self.n_fft // 2,
            num_mel_filters=self.feature_size,
            min_frequency=0.0,
            max_frequency=8000.0,
            sampling_rate=self.sampling_rate,
        )

    def __call__(
        self,
        raw_speech: Any,
        truncation: bool = True,
        pad_to_multiple_of: int | None = None,
        return_tensors: str | None = None,
        return_attention_mask: bool | None = None,
        padding: bool | str = "max_length",
        max_length: int | None = None,
        sampling_rate: int | None = None,
        do_normalize: bool | None = None,
        device: str | None = "cpu",
        **kwargs: Any,
    ) -> BatchFeature:
        """Featurize one audio or a batch (other keyword arguments are ignored, as transformers)."""
        self.check_sampling_rate(sampling_rate)
        if device not in (None, "cpu"):
            raise ProcessorError(
                f"device={device!r}: autohub's WhisperFeatureExtractor computes on the CPU only"
            )
        arrays, _ = self.audio_batch(raw_speech)
        padded, mask = self.pad_arrays(
            arrays,
            padding=padding,
            max_length=max_length if max_length else self.n_samples,
            truncation=truncation,
            pad_to_multiple_of=pad_to_multiple_of,
            return_attention_mask=return_attention_mask or do_normalize,
        )
        waveforms = list(padded)
        if do_normalize:
            lengths = mask.sum(-1) if mask is not None else [len(w) for w in waveforms]
            waveforms = [
                _zero_mean_unit_var(w, int(n), self.padding_value)
                for w, n in zip(waveforms, lengths, strict=True)
            ]
        features = [self._log_mel(waveform) for waveform in waveforms]
        data: dict[str, Any] = {
            "input_features": np.stack(features) if len({f.shape for f in features}) == 1 else features
        }
        if mask is not None:
            mask = np.asarray(mask)
            if (
                return_attention_mask
            ):  # per frame; as transformers, a mask asked for otherwise stays per sample
                frames = mask[:, :: self.hop_length]
                mask = (
                    frames[:, :-1] if mask.shape[1] % self.hop_length else frames
                )  # the last STFT frame is dropped
            data["attention_mask"] = mask
        return BatchFeature(data, tensor_type=return_tensors)

    def _log_mel(self, waveform: np.ndarray) -> np.ndarray:
        """(feature_size, len // hop_length) log-mel features of one padded waveform."""
        n_fft, hop = self.n_fft, self.hop_length
        padded = np.pad(waveform.astype(np.float64), (n_fft // 2, n_fft // 2), mode="reflect")
        num_frames = 1 + (len(padded) - n_fft) // hop
        frames = np.lib.stride_tricks.as_strided(
            padded, shape=(num_frames, n_fft), strides=(padded.strides[0] * hop, padded.strides[0])
        )
        if self.dither:
            frames = frames + self.dither * np.random.standard_normal(frames.shape)
        window = 0.5 - 0.5 * np.cos(2 * math.pi * np.arange(n_fft) / n_fft)  # periodic Hann
        power = np.abs(np.fft.rfft(frames * window, n=n_fft)) ** 2
        mel = np.maximum(self.mel_filters.T @ power.T, 1e-10)
        log_spec = np.log10(mel)[:, :-1]
        log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
        return ((log_spec + 4.0) / 4.0).astype(np.float32)


def _zero_mean_unit_var(values: np.ndarray, length: int, padding_value: float) -> np.ndarray:
    """Zero mean and unit variance over the first ``length`` samples; the padding set back to its value."""
    normed = (values - values[:length].mean()) / np.sqrt(values[:length].var() + 1e-7)
    if length < normed.shape[0]:
        normed[length:] = padding_value
    return normed


class WhisperProcessor(Processor):
    """A :class:`WhisperFeatureExtractor` and a :class:`~autohub_whisper.tokenization.WhisperTokenizer`.

    ``processor(audio=, sampling_rate=, text=)``: the audio's features, the text's ids, or both with
    the ids as ``labels`` (the tokenizer adds the decoder prompt and ``<|endoftext|>``); keyword
    arguments go to both, as transformers.
    """

    attributes: ClassVar[tuple[str, ...]] = ("feature_extractor", "tokenizer")

    def __call__(self, *args: Any, **kwargs: Any) -> BatchFeature:
        audio = kwargs.pop("audio", None)
        sampling_rate = kwargs.pop("sampling_rate", None)
        text = kwargs.pop("text", None)
        if args:
            audio, args = args[0], args[1:]
        if audio is None and text is None:
            raise ProcessorError("You need to specify either an `audio` or `text` input to process.")
        inputs = None
        if audio is not None:
            inputs = self.feature_extractor(audio, *args, sampling_rate=sampling_rate, **kwargs)
        if text is None:
            return inputs
        tokenizer_options = {key: value for key, value in kwargs.items() if key not in _FEATURE_ONLY_OPTIONS}
        encodings = self.tokenizer(text, **tokenizer_options)
        if inputs is None:
            return encodings
        inputs["labels"] = encodings["input_ids"]
        return inputs

    def get_decoder_prompt_ids(
        self, task: str | None = None, language: str | None = None, no_timestamps: bool = True
    ) -> list[tuple[int, int]]:
        """The tokenizer's :meth:`~autohub_whisper.tokenization.WhisperTokenizer.get_decoder_prompt_ids`."""
        return self.tokenizer.get_decoder_prompt_ids(
            task=task, language=language, no_timestamps=no_timestamps
        )

    def get_prompt_ids(self, text: str, return_tensors: str | None = "np") -> Any:
        """The tokenizer's :meth:`~autohub_whisper.tokenization.WhisperTokenizer.get_prompt_ids`."""
        return self.tokenizer.get_prompt_ids(text, return_tensors=return_tensors)


#: Feature-extractor options the tokenizer does not take.
_FEATURE_ONLY_OPTIONS = frozenset({"do_normalize", "device", "pad_to_multiple_of"})
