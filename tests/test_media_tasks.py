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


# -- the tasks end to end, against transformers' pipelines -----------------------------------------


def _run_cli(*arguments: str) -> tuple[int, str, str]:
    import contextlib
    import io

    from autohub_core.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(arguments))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import sys

    from PIL import Image

    sys.path.insert(0, str(Path(__file__).parent))
    import tiny_media

    root = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(0)
    images = []
    for index, (size, mode) in enumerate(
        [((50, 40), "RGB"), ((32, 32), "RGB"), ((64, 20), "L"), ((40, 40), "RGBA")]
    ):
        pixels = rng.integers(0, 256, (size[1], size[0], 4), dtype=np.uint8)
        path = root / f"image{index}.{'png' if index % 2 else 'jpg'}"
        Image.fromarray(pixels, "RGBA").convert(mode).convert("RGB" if path.suffix == ".jpg" else mode).save(
            path
        )
        images.append(path)
    audios = []
    for index, (seconds, rate, subtype) in enumerate(
        [(1.0, 16000, "PCM_16"), (0.6, 16000, "PCM_24"), (0.3, 8000, "PCM_16")]
    ):
        path = root / f"audio{index}.{'wav' if index != 1 else 'flac'}"
        samples = (0.3 * rng.standard_normal(int(seconds * rate))).astype(np.float32)
        soundfile.write(path, samples, rate, subtype=subtype)
        audios.append(path)
    return {
        "vit": tiny_media.save_tiny_vit_classifier(root / "vit"),
        "clip": tiny_media.save_tiny_clip(root / "clip"),
        "ctc": tiny_media.save_tiny_wav2vec2_ctc(root / "ctc"),
        "keywords": tiny_media.save_tiny_wav2vec2_classifier(root / "keywords"),
        "whisper": tiny_media.save_tiny_whisper(root / "whisper"),
        **{f"image{i}": path for i, path in enumerate(images)},
        **{f"audio{i}": path for i, path in enumerate(audios)},
    }


def _pipeline(task: str, model: Path) -> object:
    import transformers

    transformers.logging.set_verbosity_error()
    return transformers.pipeline(task, model=str(model), device="cpu")


def test_image_classification_equals_transformers_pipeline(media: dict[str, Path]) -> None:
    import json as json_module

    paths = [str(media[f"image{i}"]) for i in range(4)]
    code, out, err = _run_cli(
        "run", str(media["vit"]), "--task", "image-classification", "--json", "--top-k", "2", *paths
    )
    assert code == 0, err
    ours = json_module.loads(out)
    theirs = _pipeline("image-classification", media["vit"])(paths, top_k=2)
    for record, expected in zip(ours, theirs, strict=True):
        assert [item["label"] for item in record["result"]] == [item["label"] for item in expected]
        np.testing.assert_allclose(
            [i["score"] for i in record["result"]], [i["score"] for i in expected], atol=1e-5
        )


def test_zero_shot_image_classification_equals_transformers_pipeline(media: dict[str, Path]) -> None:
    import json as json_module

    paths = [str(media["image0"]), str(media["image3"])]
    labels = ["cat", "dog", "a red car"]
    code, out, err = _run_cli(
        "run",
        str(media["clip"]),
        "--task",
        "zero-shot-image-classification",
        "--labels",
        ",".join(labels),
        "--json",
        *paths,
    )
    assert code == 0, err
    ours = json_module.loads(out)
    theirs = _pipeline("zero-shot-image-classification", media["clip"])(paths, candidate_labels=labels)
    for record, expected in zip(ours, theirs, strict=True):
        assert [item["label"] for item in record["result"]] == [item["label"] for item in expected]
        np.testing.assert_allclose(
            [i["score"] for i in record["result"]], [i["score"] for i in expected], atol=1e-5
        )


def test_image_task_errors_are_one_line(media: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(media["image1"].read_bytes()[:40])
    code, out, err = _run_cli("run", str(media["vit"]), "--task", "image-classification", str(broken))
    assert code == 2 and out == "" and "broken.png" in err and len(err.splitlines()) == 1
    code, _, err = _run_cli(
        "run", str(media["clip"]), "--task", "zero-shot-image-classification", str(media["image0"])
    )
    assert code == 2 and "--labels" in err
    code, _, err = _run_cli(
        "run", str(media["vit"]), "--task", "image-classification", "--labels", "a", "x.png"
    )
    assert code == 2 and "--labels only applies" in err
    with pytest.raises(SystemExit) as exit_info:
        _run_cli("run", "--task", "zero-shot-image-classification", "--help")
    assert exit_info.value.code == 0


def test_each_task_has_its_own_help(capsys: pytest.CaptureFixture[str]) -> None:
    from autohub_core.cli import main
    from autohub_core.tasks import TASK_NAMES

    for task in TASK_NAMES:
        with pytest.raises(SystemExit):
            main(["run", "--task", task, "--help"])
        assert f"--task {task}:" in capsys.readouterr().out


def test_audio_classification_equals_transformers_pipeline(media: dict[str, Path]) -> None:
    import json as json_module

    paths = [str(media["audio0"]), str(media["audio1"])]
    code, out, err = _run_cli(
        "run", str(media["keywords"]), "--task", "audio-classification", "--json", *paths
    )
    assert code == 0, err
    pipeline = _pipeline("audio-classification", media["keywords"])
    for path, record in zip(paths, json_module.loads(out), strict=True):
        expected = pipeline({"raw": read_audio(path)[0], "sampling_rate": 16000}, top_k=5)
        assert [item["label"] for item in record["result"]] == [item["label"] for item in expected]
        np.testing.assert_allclose(
            [i["score"] for i in record["result"]], [i["score"] for i in expected], atol=1e-5
        )


def test_ctc_speech_recognition_equals_transformers_pipeline(media: dict[str, Path]) -> None:
    import json as json_module

    paths = [str(media["audio0"]), str(media["audio1"])]
    code, out, err = _run_cli(
        "run", str(media["ctc"]), "--task", "automatic-speech-recognition", "--json", *paths
    )
    assert code == 0, err
    pipeline = _pipeline("automatic-speech-recognition", media["ctc"])
    ours = [record["result"]["text"] for record in json_module.loads(out)]
    theirs = [pipeline({"raw": read_audio(path)[0], "sampling_rate": 16000})["text"] for path in paths]
    assert ours == theirs


def test_whisper_speech_recognition_equals_transformers_pipeline(media: dict[str, Path]) -> None:
    """Both decode with the pipeline's default of 5 beams (the tiny checkpoint's generation config
    sets none); 12 new tokens keep the random model's beam search short."""
    from autohub_core.tasks import load_task

    paths = [str(media["audio0"]), str(media["audio1"])]
    task = load_task(media["whisper"], "automatic-speech-recognition")
    ours = [item["text"] for item in task.run(paths, generate_kwargs={"max_new_tokens": 12})]
    pipeline = _pipeline("automatic-speech-recognition", media["whisper"])
    audio = [{"raw": read_audio(path)[0], "sampling_rate": 16000} for path in paths]
    theirs = [pipeline(item, generate_kwargs={"max_new_tokens": 12})["text"] for item in audio]
    assert ours == theirs and all(ours)
    code, out, err = _run_cli(
        "run", str(media["whisper"]), "--task", "automatic-speech-recognition", paths[0]
    )
    assert code == 0 and out.startswith("  ") and not err, err


def test_audio_task_errors_are_one_line(media: dict[str, Path], tmp_path: Path) -> None:
    code, out, err = _run_cli(
        "run", str(media["ctc"]), "--task", "automatic-speech-recognition", str(media["audio2"])
    )
    assert code == 2 and out == "" and "8000 Hz" in err and "16000 Hz" in err and len(err.splitlines()) == 1
    long_audio = tmp_path / "long.wav"
    soundfile.write(long_audio, np.zeros(16000 * 31, dtype=np.float32), 16000, subtype="PCM_16")
    code, _, err = _run_cli(
        "run", str(media["whisper"]), "--task", "automatic-speech-recognition", str(long_audio)
    )
    assert code == 2 and "longer than the 30 s" in err
    code, _, err = _run_cli(
        "run", str(media["keywords"]), "--task", "audio-classification", str(tmp_path / "none.wav")
    )
    assert code == 2 and "none.wav" in err


def test_auto_processor_on_a_checkpoint_with_one_component_returns_it(media: dict[str, Path]) -> None:
    """wav2vec2 has a processor class, but a keyword-spotting checkpoint ships only the feature
    extractor (no vocab.json): AutoProcessor returns that (transformers fails with a TypeError)."""
    from autohub_core import AutoProcessor, FeatureExtractor, Processor

    assert isinstance(AutoProcessor.from_pretrained(media["keywords"]), FeatureExtractor)
    assert isinstance(AutoProcessor.from_pretrained(media["ctc"]), Processor)


def test_plugins_command_lists_preprocessors() -> None:
    import json as json_module

    code, out, _ = _run_cli("plugins", "--json")
    assert code == 0
    plugins = {plugin["name"]: plugin for plugin in json_module.loads(out)["plugins"]}
    assert plugins["vit"]["preprocessors"] == {
        "image-processor": {"vit": "autohub_vit.processing:ViTImageProcessor"}
    }
    assert set(plugins["whisper"]["preprocessors"]) == {"feature-extractor", "processor"}
    assert plugins["bert"]["preprocessors"] == {}
    code, out, _ = _run_cli("plugins")
    assert code == 0 and "image-processor vit: autohub_vit.processing:ViTImageProcessor" in out
    assert "processor clip: autohub_clip.processing:CLIPProcessor" in out
