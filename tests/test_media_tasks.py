"""Reading audio files for ``autohub run``: PCM WAV through the standard library, equal to what
soundfile decodes, other formats through soundfile, and typed errors for bad files."""

from __future__ import annotations

import builtins
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile

from autohub_core.errors import MissingExtraError
from autohub_core.media_tasks import read_audio
from autohub_core.tasks import InputError

SUBTYPES = {1: "PCM_U8", 2: "PCM_16", 3: "PCM_24", 4: "PCM_32"}


def _signal(frames: int, channels: int) -> np.ndarray:
    time = np.arange(frames) / 16000
    tones = [0.6 * np.sin(2 * np.pi * (220 + 110 * c) * time) for c in range(channels)]
    return np.stack(tones, axis=1).astype(np.float32)


@pytest.mark.parametrize("width", sorted(SUBTYPES))
@pytest.mark.parametrize("channels", [1, 2])
def test_pcm_wav_read_with_the_standard_library_equals_soundfile(
    tmp_path: Path, width: int, channels: int
) -> None:
    path = tmp_path / "tone.wav"
    soundfile.write(path, _signal(1234, channels), 16000, subtype=SUBTYPES[width])
    audio, rate = read_audio(path)
    expected, expected_rate = soundfile.read(path, dtype="float32", always_2d=True)
    assert rate == expected_rate == 16000
    assert audio.dtype == np.float32 and audio.shape == (1234,)
    np.testing.assert_allclose(audio, expected.mean(axis=1), rtol=0, atol=1e-7)


@pytest.mark.parametrize(("extension", "subtype"), [("flac", "PCM_16"), ("wav", "FLOAT"), ("ogg", "VORBIS")])
def test_other_formats_go_through_soundfile(tmp_path: Path, extension: str, subtype: str) -> None:
    path = tmp_path / f"tone.{extension}"
    soundfile.write(path, _signal(4000, 2), 16000, subtype=subtype)
    audio, rate = read_audio(path)
    assert rate == 16000 and audio.shape == (4000,) and audio.dtype == np.float32


def test_without_soundfile_a_flac_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "tone.flac"
    soundfile.write(path, _signal(400, 1), 16000)
    real_import = builtins.__import__

    def no_soundfile(name: str, *args: object, **kwargs: object) -> object:
        if name == "soundfile":
            raise ImportError("No module named 'soundfile'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_soundfile)
    with pytest.raises(MissingExtraError, match=r"autohub-core\[audio\]"):
        read_audio(path)


def test_bad_audio_files_are_input_errors_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.wav"):
        read_audio(tmp_path / "missing.wav")
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF....WAVEfmt " + b"\x00" * 10)
    with pytest.raises(InputError, match=r"garbage\.wav"):
        read_audio(garbage)
    empty = tmp_path / "empty.wav"
    with wave.open(str(empty), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16000)
    with pytest.raises(InputError, match="no samples"):
        read_audio(empty)
    truncated = tmp_path / "truncated.wav"
    soundfile.write(truncated, _signal(1000, 1), 16000, subtype="PCM_16")
    truncated.write_bytes(truncated.read_bytes()[:-501])  # half a frame missing at the end
    audio, _ = read_audio(truncated)
    assert audio.shape == (749,)
