"""WhisperFeatureExtractor, WhisperTokenizer and WhisperProcessor against transformers' (the
oracle): log-mel features (<= 1e-4), token ids and decoded text (identical), files saved by each
library loading in the other, the Auto classes resolving them, and typed errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import transformers
from whisper_files import SENTENCES, generation_config, ids, tiny_config_kwargs, write_tokenizer

from autohub_core import AutoConfig, AutoFeatureExtractor, AutoProcessor, AutoTokenizer
from autohub_core.errors import ProcessorError, TokenizerError, UnsupportedFeatureError
from autohub_whisper.languages import UnknownLanguageError
from autohub_whisper.processing import WhisperFeatureExtractor, WhisperProcessor
from autohub_whisper.tokenization import WhisperTokenizer

FEATURE_ATOL = 1e-4
TOKENS = ids()


def _audio() -> list[np.ndarray]:
    """Random noise and a sine of several lengths (0.3 s to 31 s: padded and truncated)."""
    rng = np.random.default_rng(0)
    noise = [rng.standard_normal(n).astype(np.float32) * 0.1 for n in (4800, 40000, 480000, 496000)]
    time = np.arange(64000) / 16000
    sine = (0.5 * np.sin(2 * np.pi * 440 * time)).astype(np.float32)
    return [*noise, sine]


# -- feature extractor --------------------------------------------------------------------------


@pytest.mark.parametrize("feature_size", [80, 128])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"return_attention_mask": True},
        {"do_normalize": True},
        {"padding": "longest", "return_attention_mask": True},
    ],
    ids=["default", "attention-mask", "normalize", "longest"],
)
def test_features_match_transformers(feature_size: int, options: dict) -> None:
    theirs = transformers.WhisperFeatureExtractor(feature_size=feature_size)
    ours = WhisperFeatureExtractor(feature_size=feature_size)
    audio = _audio()
    batches = [audio, audio[-1], list(audio[-1])] if not options else [audio[:2]]
    for batch in batches:
        expected = theirs(batch, sampling_rate=16000, return_tensors="np", **options)
        actual = ours(batch, sampling_rate=16000, return_tensors="np", **options)
        assert sorted(actual) == sorted(expected)
        assert actual["input_features"].shape == expected["input_features"].shape
        assert actual["input_features"].dtype == np.float32
        assert np.abs(actual["input_features"] - expected["input_features"]).max() <= FEATURE_ATOL
        if "attention_mask" in expected:
            assert np.array_equal(actual["attention_mask"], expected["attention_mask"])


def test_features_as_torch_tensors() -> None:
    features = WhisperFeatureExtractor()(_audio()[:2], sampling_rate=16000, return_tensors="pt")
    assert tuple(features.input_features.shape) == (2, 80, 3000)
    assert str(features.input_features.dtype) == "torch.float32"


def test_feature_extractor_files_load_in_both_libraries(tmp_path: Path) -> None:
    ours = WhisperFeatureExtractor(feature_size=128, return_attention_mask=True)
    ours.save_pretrained(tmp_path / "ours")
    theirs = transformers.WhisperFeatureExtractor.from_pretrained(tmp_path / "ours")
    assert theirs.feature_size == 128 and theirs.return_attention_mask is True
    transformers.WhisperFeatureExtractor(feature_size=128, chunk_length=10).save_pretrained(
        tmp_path / "theirs"
    )
    AutoConfig.for_model("whisper").save_pretrained(tmp_path / "theirs")
    loaded = AutoFeatureExtractor.from_pretrained(tmp_path / "theirs")
    assert isinstance(loaded, WhisperFeatureExtractor)
    assert (loaded.feature_size, loaded.chunk_length, loaded.n_samples, loaded.nb_max_frames) == (
        128,
        10,
        160000,
        1000,
    )
    audio = _audio()[1]
    expected = transformers.WhisperFeatureExtractor.from_pretrained(tmp_path / "theirs")(
        audio, sampling_rate=16000, return_tensors="np"
    )
    actual = loaded(audio, sampling_rate=16000, return_tensors="np")
    assert np.abs(actual["input_features"] - expected["input_features"]).max() <= FEATURE_ATOL


def test_hub_file_with_computed_mel_filters_loads(tmp_path: Path) -> None:
    """Old Hub files (whisper-tiny's) list mel_filters: recomputed, not kept."""
    values = {**WhisperFeatureExtractor().to_dict(), "mel_filters": [[0.0] * 80] * 201}
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(values), encoding="utf-8")
    loaded = WhisperFeatureExtractor.from_pretrained(tmp_path)
    assert loaded.mel_filters.shape == (201, 80) and loaded.mel_filters.max() > 0
    assert "mel_filters" not in loaded.to_dict()


def test_bad_audio_is_refused() -> None:
    extractor = WhisperFeatureExtractor()
    with pytest.raises(ProcessorError, match="was trained using a sampling rate of 16000") as error:
        extractor(np.zeros(16000, dtype=np.float32), sampling_rate=8000)
    assert isinstance(error.value, ValueError)
    with pytest.raises(ProcessorError, match="empty"):
        extractor(np.zeros(0, dtype=np.float32), sampling_rate=16000)
    with pytest.raises(ProcessorError, match="NaN"):
        extractor(np.array([0.0, np.nan, 0.1], dtype=np.float32), sampling_rate=16000)
    with pytest.raises(ProcessorError, match="mono"):
        extractor(np.zeros((2, 2, 100), dtype=np.float32), sampling_rate=16000)
    with pytest.raises(ProcessorError, match="hop_length"):
        WhisperFeatureExtractor(hop_length="160")


# -- tokenizer ----------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["tokenizer.json", "vocab.json+merges.txt"])
def tokenizer_folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tokenizer")
    write_tokenizer(folder, legacy=request.param != "tokenizer.json")
    AutoConfig.for_model("whisper", **tiny_config_kwargs(2008)).save_pretrained(folder)
    return folder


TEXTS = [*SENTENCES, " leading space", "Hello  world <|en|> <|0.50|>", "ünïcödé ✓ 😀", ""]


def test_tokenizer_ids_and_text_match_transformers(tokenizer_folder: Path) -> None:
    theirs = transformers.AutoTokenizer.from_pretrained(tokenizer_folder)
    ours = AutoTokenizer.from_pretrained(tokenizer_folder)
    assert isinstance(ours, WhisperTokenizer)
    assert ours.get_vocab() == theirs.get_vocab()
    assert ours.all_special_ids == theirs.all_special_ids
    for text in TEXTS:
        expected = theirs(text)["input_ids"]
        assert ours(text)["input_ids"] == expected, text
        assert (
            ours(text, add_special_tokens=False)["input_ids"]
            == theirs(text, add_special_tokens=False)["input_ids"]
        )
        for skip in (False, True):
            assert ours.decode(expected, skip_special_tokens=skip) == theirs.decode(
                expected, skip_special_tokens=skip
            )
    batch = ours(TEXTS[:3], padding=True, return_tensors="np")
    assert (
        batch["input_ids"].tolist()
        == theirs(TEXTS[:3], padding=True, return_tensors="np")["input_ids"].tolist()
    )


@pytest.mark.parametrize(
    ("language", "task", "predict_timestamps"),
    [
        ("en", "transcribe", False),
        ("French", "translate", True),
        ("<|de|>", None, False),
        (None, "translate", False),
    ],
)
def test_prefix_tokens_match_transformers(
    tokenizer_folder: Path, language: str | None, task: str | None, predict_timestamps: bool
) -> None:
    theirs = transformers.AutoTokenizer.from_pretrained(tokenizer_folder)
    ours = AutoTokenizer.from_pretrained(tokenizer_folder)
    plain_language = language.strip("<|>") if language and language.startswith("<|") else language
    theirs.set_prefix_tokens(language=plain_language, task=task, predict_timestamps=predict_timestamps)
    ours.set_prefix_tokens(language=language, task=task, predict_timestamps=predict_timestamps)
    assert ours.prefix_tokens == theirs.prefix_tokens
    assert ours("hi there")["input_ids"] == theirs("hi there")["input_ids"]
    assert ours.get_decoder_prompt_ids(language="es", task="transcribe") == theirs.get_decoder_prompt_ids(
        language="es", task="transcribe"
    )
    loaded = WhisperTokenizer.from_pretrained(tokenizer_folder, language="japanese", task="transcribe")
    theirs_loaded = transformers.AutoTokenizer.from_pretrained(
        tokenizer_folder, language="japanese", task="transcribe"
    )
    assert loaded("x")["input_ids"] == theirs_loaded("x")["input_ids"]


def _timestamped(tokenizer: WhisperTokenizer) -> list[int]:
    first = TOKENS["<|notimestamps|>"] + 1
    words = [
        tokenizer(text, add_special_tokens=False)["input_ids"]
        for text in (" Mr. Quilter", " the dog", " glad")
    ]
    return [
        TOKENS["<|startofprev|>"],
        *words[2],
        TOKENS["<|startoftranscript|>"],
        TOKENS["<|en|>"],
        TOKENS["<|transcribe|>"],
        first,
        *words[0],
        first + 50,
        first + 50,
        *words[1],
        first + 120,
        first + 10,
        *words[2],
        first + 40,
        TOKENS["<|endoftext|>"],
    ]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"skip_special_tokens": True},
        {"decode_with_timestamps": True},
        {"decode_with_timestamps": True, "skip_special_tokens": True, "time_precision": 0.04},
        {"output_offsets": True},
        {"output_offsets": True, "skip_special_tokens": True},
    ],
)
def test_timestamps_decode_like_transformers(tokenizer_folder: Path, options: dict) -> None:
    theirs = transformers.AutoTokenizer.from_pretrained(tokenizer_folder)
    ours = AutoTokenizer.from_pretrained(tokenizer_folder)
    sequence = _timestamped(ours)
    assert ours.decode(sequence, **options) == theirs.decode(sequence, **options)
    batch = [sequence, sequence[:8]]
    if options.get("output_offsets"):
        with pytest.raises(TokenizerError, match="one sequence at a time"):
            ours.batch_decode(batch, **options)
    else:
        assert ours.batch_decode(batch, **options) == theirs.batch_decode(batch, **options)
        assert ours.decode(batch, **options) == theirs.decode(batch, **options)


def test_prompt_ids_match_transformers(tokenizer_folder: Path) -> None:
    theirs = transformers.AutoTokenizer.from_pretrained(tokenizer_folder)
    ours = AutoTokenizer.from_pretrained(tokenizer_folder)
    assert (
        ours.get_prompt_ids(" Quilter, glad.").tolist() == theirs.get_prompt_ids(" Quilter, glad.").tolist()
    )
    with pytest.raises(TokenizerError, match="disallowed special token"):
        ours.get_prompt_ids("hello <|en|>")


def test_tokenizer_files_load_in_both_libraries(tokenizer_folder: Path, tmp_path: Path) -> None:
    ours = AutoTokenizer.from_pretrained(tokenizer_folder, language="en", task="transcribe")
    ours.save_pretrained(tmp_path / "ours")
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path / "ours")
    assert type(theirs).__name__ == "WhisperTokenizer"
    reference = transformers.AutoTokenizer.from_pretrained(tokenizer_folder, language="en", task="transcribe")
    for text in TEXTS:
        assert theirs(text)["input_ids"] == reference(text)["input_ids"] == ours(text)["input_ids"]
    reference.save_pretrained(tmp_path / "theirs")
    reloaded = AutoTokenizer.from_pretrained(tmp_path / "theirs")
    assert isinstance(reloaded, WhisperTokenizer) and reloaded.language == "en"
    for text in TEXTS:
        assert reloaded(text)["input_ids"] == reference(text)["input_ids"]


def test_tokenizer_refuses_unknown_options(tokenizer_folder: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder)
    with pytest.raises(UnknownLanguageError, match="Unsupported language: klingon"):
        tokenizer.set_prefix_tokens(language="klingon")
    with pytest.raises(TokenizerError, match="Unsupported task"):
        WhisperTokenizer.from_pretrained(tokenizer_folder, task="summarize")
    with pytest.raises(UnsupportedFeatureError, match="normalize"):
        tokenizer.decode([1, 2], normalize=True)


# -- processor ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def processor_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A whisper-tiny-like folder saved by transformers: config, generation config, processor files."""
    folder = tmp_path_factory.mktemp("processor")
    write_tokenizer(folder / "source")
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder / "source")
    processor = transformers.WhisperProcessor(transformers.WhisperFeatureExtractor(), tokenizer)
    processor.save_pretrained(folder)
    AutoConfig.for_model("whisper", **tiny_config_kwargs(2008)).save_pretrained(folder)
    (folder / "generation_config.json").write_text(json.dumps(generation_config(2008)), encoding="utf-8")
    return folder


def test_processor_matches_transformers(processor_folder: Path) -> None:
    theirs = transformers.AutoProcessor.from_pretrained(processor_folder)
    ours = AutoProcessor.from_pretrained(processor_folder)
    assert isinstance(ours, WhisperProcessor)
    assert isinstance(ours.feature_extractor, WhisperFeatureExtractor)
    assert isinstance(ours.tokenizer, WhisperTokenizer)
    audio = _audio()[:3]
    text = SENTENCES[:3]
    for arguments in ({"audio": audio}, {"text": text}, {"audio": audio, "text": text}):
        expected = theirs(**arguments, sampling_rate=16000)
        actual = ours(**arguments, sampling_rate=16000)
        assert sorted(actual) == sorted(expected)
        for key, value in expected.items():
            if key == "input_features":
                assert np.abs(np.asarray(actual[key]) - np.asarray(value)).max() <= FEATURE_ATOL
            else:
                assert actual[key] == value, key
    ids_ = expected["labels"]
    assert ours.batch_decode(ids_, skip_special_tokens=True) == theirs.batch_decode(
        ids_, skip_special_tokens=True
    )
    assert ours.get_decoder_prompt_ids(language="fr", task="translate") == theirs.get_decoder_prompt_ids(
        language="fr", task="translate"
    )


def test_processor_files_load_in_transformers(processor_folder: Path, tmp_path: Path) -> None:
    ours = AutoProcessor.from_pretrained(processor_folder)
    ours.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "processor_config.json").read_text())
    assert saved["processor_class"] == "WhisperProcessor"
    assert saved["feature_extractor"]["feature_extractor_type"] == "WhisperFeatureExtractor"
    theirs = transformers.AutoProcessor.from_pretrained(tmp_path)
    assert type(theirs).__name__ == "WhisperProcessor"
    audio = _audio()[1]
    expected = theirs(audio=audio, text=SENTENCES[0], sampling_rate=16000)
    actual = ours(audio=audio, text=SENTENCES[0], sampling_rate=16000)
    assert actual["labels"] == expected["labels"]
    assert np.abs(actual["input_features"] - expected["input_features"]).max() <= FEATURE_ATOL


def test_processor_bad_input(processor_folder: Path) -> None:
    processor = AutoProcessor.from_pretrained(processor_folder)
    with pytest.raises(ProcessorError, match="either an `audio` or `text`"):
        processor()
    with pytest.raises(ProcessorError, match="sampling rate"):
        processor(audio=_audio()[0], sampling_rate=44100)


def test_auto_classes_resolve_a_hub_layout_folder(tmp_path: Path) -> None:
    """whisper-tiny's layout: config.json, preprocessor_config.json and tokenizer files, no
    processor_config.json; AutoProcessor builds the WhisperProcessor from the model type."""
    write_tokenizer(tmp_path)
    AutoConfig.for_model("whisper", **tiny_config_kwargs(2008)).save_pretrained(tmp_path)
    transformers.WhisperFeatureExtractor().save_pretrained(tmp_path)
    processor = AutoProcessor.from_pretrained(tmp_path)
    assert isinstance(processor, WhisperProcessor)
    assert isinstance(AutoFeatureExtractor.from_pretrained(tmp_path), WhisperFeatureExtractor)
    assert isinstance(AutoTokenizer.from_pretrained(tmp_path), WhisperTokenizer)
    theirs = transformers.AutoProcessor.from_pretrained(tmp_path)
    text = SENTENCES[1]
    assert processor(text=text)["input_ids"] == theirs(text=text)["input_ids"]
