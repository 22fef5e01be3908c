"""Image and audio tasks for ``autohub run``, and reading audio files.

Results follow transformers' pipelines: ``image-classification`` and ``audio-classification``
give ``{"label", "score"}`` lists (top 5 by default), ``zero-shot-image-classification``
``{"score", "label"}`` over the given labels, ``automatic-speech-recognition`` ``{"text"}``
through a CTC head (argmax, then the tokenizer's CTC decode) or a speech sequence-to-sequence
model's ``generate()``.

Inputs are what users have: image paths or PIL images / arrays; audio paths (WAV through the
standard library; FLAC, OGG and other formats through the optional ``soundfile`` decoder,
``pip install 'autohub-core[audio]'``) or 1-D float arrays at the model's sampling rate.
"""

from __future__ import annotations

import os
import wave
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from autohub_core.errors import MissingExtraError
from autohub_core.tasks import InputError, Progress, Task, batched, map_batches, score_function

__all__ = [
    "AudioClassification",
    "AutomaticSpeechRecognition",
    "ImageClassification",
    "ZeroShotImageClassification",
    "read_audio",
]

#: Scale of each WAV integer sample width (bytes) to [-1, 1), as soundfile reads them.
_PCM_SCALE = {1: 128.0, 2: 32768.0, 3: 8388608.0, 4: 2147483648.0}


def read_audio(path: str | os.PathLike) -> tuple[Any, int]:
    """A mono float32 array of ``path``'s samples in [-1, 1) and its sampling rate.

    PCM WAV files (8, 16, 24, 32-bit integers) are read with the standard library; other formats
    (float WAV, FLAC, OGG ...) need ``soundfile``. Channels are averaged to mono. A missing,
    truncated or unreadable file raises :class:`InputError` naming it.
    """
    import numpy as np

    path = Path(path)
    if not path.is_file():
        raise InputError(f"audio file {str(path)!r} does not exist")
    try:
        with wave.open(str(path), "rb") as reader:
            width, channels, rate = reader.getsampwidth(), reader.getnchannels(), reader.getframerate()
            frames = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError) as error:
        return _read_with_soundfile(path, error)
    except OSError as error:
        raise InputError(f"audio file {str(path)!r} cannot be read: {error}") from error
    if width not in _PCM_SCALE or channels < 1 or rate < 1:
        raise InputError(
            f"audio file {str(path)!r}: unsupported WAV layout ({width}-byte samples, {channels} channels)"
        )
    usable = len(frames) // (width * channels) * width * channels
    raw = np.frombuffer(frames[:usable], dtype=np.uint8).reshape(-1, width)
    if width == 1:
        samples = raw[:, 0].astype(np.float32) - 128.0
    else:  # little-endian signed integers: widen to 4 bytes keeping the sign
        padded = np.zeros((raw.shape[0], 4), dtype=np.uint8)
        padded[:, 4 - width :] = raw
        samples = (padded.view("<i4")[:, 0] >> (8 * (4 - width))).astype(np.float64)
    audio = (samples / _PCM_SCALE[width]).reshape(-1, channels).mean(axis=1).astype(np.float32)
    if audio.size == 0:
        raise InputError(f"audio file {str(path)!r} holds no samples")
    return audio, rate


def _read_with_soundfile(path: Path, wav_error: Exception) -> tuple[Any, int]:
    try:
        import soundfile
    except ImportError as error:
        raise MissingExtraError(
            f"audio file {str(path)!r} is not a PCM WAV file ({wav_error}); other formats are decoded by "
            "soundfile: pip install 'autohub-core[audio]' (or convert it: ffmpeg -i IN -ac 1 -ar 16000 OUT.wav)"
        ) from error
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, TypeError, ValueError) as error:
        raise InputError(f"audio file {str(path)!r} cannot be decoded: {error}") from error
    if data.size == 0:
        raise InputError(f"audio file {str(path)!r} holds no samples")
    return data.mean(axis=1), int(rate)


class _MediaTask(Task):
    """A model and its preprocessor (image processor, feature extractor or processor)."""

    @property
    def preprocessor(self) -> Any:
        """The image processor, feature extractor or processor (stored where text tasks keep the tokenizer)."""
        return self.tokenizer

    def _model_inputs(self, features: Any) -> dict[str, Any]:
        """The preprocessor's outputs the model's forward takes, on the model's device and dtype."""
        from autohub_core.tasks import _forward_accepts

        inputs = {}
        for key, value in features.items():
            if _forward_accepts(self.model, key) and hasattr(value, "to"):
                floating = value.is_floating_point()
                inputs[key] = value.to(self.model.device, dtype=self.model.dtype if floating else None)
        return inputs

    def _audio_batch_size(self, extractor: Any, batch_size: int) -> int:
        """``batch_size``, or 1 when the extractor gives no attention mask: the model would then read
        the zeros padding a shorter audio as sound (wav2vec2-base), so each audio runs alone."""
        return batch_size if getattr(extractor, "return_attention_mask", True) else 1

    def _classify(
        self,
        items: Sequence[Any],
        features_of: Callable[[list[Any]], Any],
        top_k: int | None,
        batch_size: int,
        progress: Progress | None,
        length: Callable[[Any], int] | None = None,
    ) -> list[list[dict[str, Any]]]:
        """The head's labels for each item, ``top_k`` best first, scored as transformers' pipelines;
        with ``length``, batches are formed longest first (:func:`~autohub_core.tasks.map_batches`)."""
        import torch

        _check_top_k(top_k)
        function = score_function(self.model.config)
        labels = [self.model.config.id2label[index] for index in range(len(self.model.config.id2label))]

        def run_batch(chunk: list[Any]) -> list[list[dict[str, Any]]]:
            with torch.inference_mode():
                logits = self.model(**self._model_inputs(features_of(chunk))).logits.float().cpu()
            return [self._ranked(row, labels, top_k) for row in _apply(function, logits)]

        return map_batches(items, batch_size, run_batch, length=length, progress=progress)

    def _ranked(self, scores: Any, labels: Sequence[str], top_k: int | None) -> list[dict[str, Any]]:
        ranked = sorted(
            ({"label": labels[i], "score": float(score)} for i, score in enumerate(scores.tolist())),
            key=lambda item: item["score"],
            reverse=True,
        )
        return ranked[:top_k] if top_k is not None else ranked


def _check_top_k(top_k: int | None) -> None:
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise InputError(f"top-k must be an integer of at least 1, got {top_k!r}")


class ImageClassification(_MediaTask):
    """Classify images (paths, PIL images or arrays) with an image-classification head."""

    name = "image-classification"
    auto_class = "AutoModelForImageClassification"
    preprocessor_auto_class = "AutoImageProcessor"

    def run(
        self,
        images: Sequence[Any],
        *,
        top_k: int | None = 5,
        batch_size: int = 8,
        progress: Progress | None = None,
    ) -> list[list[dict[str, Any]]]:
        """For each image, the ``top_k`` (None: all) ``{"label", "score"}`` sorted by score."""
        return self._classify(
            images, lambda chunk: self.preprocessor(chunk, return_tensors="pt"), top_k, batch_size, progress
        )


class ZeroShotImageClassification(_MediaTask):
    """Score images against labels given at run time (CLIP): softmax over the image-text logits."""

    name = "zero-shot-image-classification"
    auto_class = "AutoModelForZeroShotImageClassification"
    preprocessor_auto_class = "AutoProcessor"

    def run(
        self,
        images: Sequence[Any],
        *,
        candidate_labels: Sequence[str],
        hypothesis_template: str = "This is a photo of {}.",
        batch_size: int = 8,
        progress: Progress | None = None,
    ) -> list[list[dict[str, Any]]]:
        """For each image, every label with its score, best first (transformers' pipeline)."""
        import torch

        labels = [label.strip() for label in candidate_labels if label.strip()]
        if not labels:
            raise InputError("zero-shot image classification needs at least one label (--labels a,b,c)")
        if "{}" not in hypothesis_template:
            raise InputError(
                f"the hypothesis template must contain '{{}}' for the label, got {hypothesis_template!r}"
            )
        texts = [hypothesis_template.format(label) for label in labels]
        results = []
        for chunk in batched(images, batch_size, progress):
            features = self.preprocessor(text=texts, images=list(chunk), return_tensors="pt", padding=True)
            with torch.inference_mode():
                logits = self.model(**self._model_inputs(features)).logits_per_image.float().cpu()
            for row in logits.softmax(dim=-1):
                ranked = self._ranked(row, labels, None)
                results.append([{"score": item["score"], "label": item["label"]} for item in ranked])
        return results


class AudioClassification(_MediaTask):
    """Classify audio (paths or 1-D float arrays at the model's sampling rate)."""

    name = "audio-classification"
    auto_class = "AutoModelForAudioClassification"
    preprocessor_auto_class = "AutoFeatureExtractor"

    def run(
        self,
        audios: Sequence[Any],
        *,
        top_k: int | None = 5,
        batch_size: int = 8,
        progress: Progress | None = None,
    ) -> list[list[dict[str, Any]]]:
        """For each audio, the ``top_k`` (None: all) ``{"label", "score"}`` sorted by score; batches
        are formed longest audio first."""
        extractor = self.preprocessor
        arrays = [_load_audio(item, extractor.sampling_rate) for item in audios]

        def features_of(chunk: list[Any]) -> Any:
            return extractor(
                chunk, sampling_rate=extractor.sampling_rate, return_tensors="pt", **_padding(extractor)
            )

        size = self._audio_batch_size(extractor, batch_size)
        return self._classify(arrays, features_of, top_k, size, progress, length=len)


class AutomaticSpeechRecognition(_MediaTask):
    """Transcribe audio with a CTC head (Wav2Vec2) or a speech sequence-to-sequence model (Whisper)."""

    name = "automatic-speech-recognition"
    auto_class = "AutoModelForCTC"
    preprocessor_auto_class = "AutoProcessor"

    @classmethod
    def model_class(cls, name_or_path: str | os.PathLike, hub_options: dict[str, Any]) -> Any:
        """The checkpoint's speech seq2seq model when its family has one, else its CTC head."""
        import autohub_core
        from autohub_core.plugins import get_registry

        config = autohub_core.AutoConfig.from_pretrained(name_or_path, **hub_options)
        if get_registry().has("head", config.model_type, "speech-seq2seq"):
            return autohub_core.AutoModelForSpeechSeq2Seq
        return autohub_core.AutoModelForCTC

    def _generate_options(self, generate_kwargs: dict[str, Any] | None) -> dict[str, Any]:
        """``generate_kwargs`` plus the pipeline's defaults the model's generation config leaves unset."""
        config = self.model.generation_config
        default = type(config)()  # a key the model's config leaves at its default counts as unset
        unset = {
            key: value
            for key, value in _SPEECH_GENERATION_DEFAULTS.items()
            if getattr(config, key, None) == getattr(default, key, None)
        }
        return {**unset, **(generate_kwargs or {})}

    def run(
        self,
        audios: Sequence[Any],
        *,
        batch_size: int = 8,
        progress: Progress | None = None,
        generate_kwargs: dict[str, Any] | None = None,
    ) -> list[dict[str, str]]:
        """One ``{"text"}`` per audio; ``generate_kwargs`` go to a seq2seq model's ``generate()``
        (``language=``, ``task=``, ``num_beams=`` ...). As transformers' pipeline, a seq2seq model
        decodes with 5 beams (OpenAI's Whisper setting) unless its generation config sets
        ``num_beams`` or ``generate_kwargs`` does."""
        import torch

        extractor = getattr(self.preprocessor, "feature_extractor", self.preprocessor)
        seq2seq = bool(getattr(self.model.config, "is_encoder_decoder", False))
        if generate_kwargs and not seq2seq:
            raise InputError(f"{type(self.model).__name__} is a CTC model: it takes no generation options")
        results = []
        size = batch_size if seq2seq else self._audio_batch_size(extractor, batch_size)
        for chunk in batched(audios, size, progress):
            arrays = [_load_audio(item, extractor.sampling_rate) for item in chunk]
            limit = _window(extractor)
            for array in arrays:
                if isinstance(limit, int) and len(array) > limit:
                    raise InputError(
                        f"audio of {len(array) / extractor.sampling_rate:.1f} s is longer than the "
                        f"{limit / extractor.sampling_rate:.0f} s the model reads at once; split it into shorter clips"
                    )
            features = self.preprocessor(
                audio=arrays,
                sampling_rate=extractor.sampling_rate,
                return_tensors="pt",
                **_padding(extractor),
            )
            inputs = self._model_inputs(features)
            with torch.inference_mode():
                if seq2seq:
                    tokens = self.model.generate(**inputs, **self._generate_options(generate_kwargs))
                else:
                    tokens = self.model(**inputs).logits.argmax(dim=-1)
            # transformers' pipeline keeps special tokens in CTC text (only the blank is dropped)
            texts = self.preprocessor.batch_decode(tokens.cpu().tolist(), skip_special_tokens=seq2seq)
            results += [{"text": text} for text in texts]
        return results


#: What transformers' speech-recognition pipeline adds to ``generate()`` unless the model's
#: generation config or the call sets it.
_SPEECH_GENERATION_DEFAULTS = {"num_beams": 5}


def _window(extractor: Any) -> int | None:
    """The fixed number of samples an extractor reads (``n_samples``: Whisper's 30 s), else None."""
    window = getattr(extractor, "n_samples", None)
    return window if isinstance(window, int) and not isinstance(window, bool) else None


def _padding(extractor: Any) -> dict[str, Any]:
    """How to call an extractor on a batch: a fixed-window one pads to its window by default
    (Whisper), the others pad to the longest audio."""
    return {} if _window(extractor) is not None else {"padding": True}


def _apply(function: str, logits: Any) -> Any:
    if function == "softmax":
        return logits.softmax(dim=-1)
    if function == "sigmoid":
        return logits.sigmoid()
    return logits


def _load_audio(item: Any, sampling_rate: int) -> Any:
    """A path read with :func:`read_audio` (its rate must be the model's), else the array as given."""
    if isinstance(item, str | os.PathLike):
        audio, rate = read_audio(item)
        if rate != sampling_rate:
            raise InputError(
                f"audio file {str(item)!r} is sampled at {rate} Hz but the model needs {sampling_rate} Hz; "
                f"resample it first (e.g. ffmpeg -i IN -ac 1 -ar {sampling_rate} OUT.wav)"
            )
        return audio
    return item
