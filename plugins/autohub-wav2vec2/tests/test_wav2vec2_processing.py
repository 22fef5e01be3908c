"""Wav2Vec2's feature extractor, CTC tokenizer and processor against transformers (the test oracle):
``input_values`` <= 1e-5, identical ids and decoded strings (CTC grouping, offsets, special tokens),
the JSON files each library saves loading in the other, the Auto classes, and bad input."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import transformers

from autohub_core import AutoFeatureExtractor, AutoProcessor, AutoTokenizer
from autohub_core.auto import auto_class_for_task
from autohub_core.errors import ProcessorError, TokenizerError
from autohub_wav2vec2.processing import Wav2Vec2FeatureExtractor, Wav2Vec2Processor
from autohub_wav2vec2.tokenization import Wav2Vec2CTCTokenizer

#: wav2vec2-base-960h's vocab.json.
VOCAB = {
    token: index
    for index, token in enumerate(["<pad>", "<s>", "</s>", "<unk>", "|", *"ETAONIHSRDLUMWCFGYPBVK'XJQZ"])
}
#: wav2vec2-base-960h's tokenizer_config.json / special_tokens_map.json / preprocessor_config.json.
TOKENIZER_CONFIG = {
    "unk_token": "<unk>",
    "bos_token": "<s>",
    "eos_token": "</s>",
    "pad_token": "<pad>",
    "do_lower_case": False,
    "word_delimiter_token": "|",
}
SPECIAL_TOKENS_MAP = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
PREPROCESSOR_CONFIG = {
    "do_normalize": True,
    "feature_extractor_type": "Wav2Vec2FeatureExtractor",
    "feature_size": 1,
    "padding_side": "right",
    "padding_value": 0.0,
    "return_attention_mask": False,
    "sampling_rate": 16000,
}
TEXTS = [
    "HELLO WORLD",
    " LEADING AND TRAILING ",
    "DOUBLE  SPACES",
    "lower case",
    "<s>SPECIAL</s> TOKENS <unk>",
    "IT'S A TEST|WITH A BAR",
    "ÉTÉ 😀\tTAB\nNEWLINE",
    "",
]
ATOL = 1e-5


@pytest.fixture(scope="module")
def hub_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with wav2vec2-base-960h's preprocessing files and a tiny CTC model config."""
    folder = tmp_path_factory.mktemp("base-960h")
    files = {
        "vocab.json": VOCAB,
        "tokenizer_config.json": TOKENIZER_CONFIG,
        "special_tokens_map.json": SPECIAL_TOKENS_MAP,
        "preprocessor_config.json": PREPROCESSOR_CONFIG,
    }
    for name, content in files.items():
        (folder / name).write_text(json.dumps(content), encoding="utf-8")
    config = transformers.Wav2Vec2Config(
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=24,
        conv_dim=[8, 8],
        conv_kernel=[10, 3],
        conv_stride=[5, 2],
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        vocab_size=len(VOCAB),
    )
    torch.manual_seed(0)
    transformers.Wav2Vec2ForCTC(config).save_pretrained(folder)
    return folder


def _audio(*lengths: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=n) * 0.3 + 0.05).astype(np.float32) for n in lengths]


def _assert_features_close(actual: Any, expected: Any) -> None:
    assert sorted(actual) == sorted(expected)
    for key in expected:
        assert type(actual[key]) is type(expected[key]), key
        for mine, reference in zip(actual[key], expected[key], strict=True):
            mine, reference = np.asarray(mine), np.asarray(reference)
            assert mine.dtype == reference.dtype and mine.shape == reference.shape, key
            np.testing.assert_allclose(mine, reference, rtol=0, atol=ATOL)


CALLS = [
    {},
    {"padding": True},
    {"padding": "longest", "return_attention_mask": True},
    {"padding": True, "return_attention_mask": False},
    {"padding": "max_length", "max_length": 2000},
    {"padding": True, "pad_to_multiple_of": 512},
    {"padding": "max_length", "max_length": 1000, "truncation": True},
]


@pytest.mark.parametrize("return_attention_mask", [False, True], ids=["base-style", "lv60-style"])
@pytest.mark.parametrize(
    "call", CALLS, ids=lambda call: ",".join(f"{k}={v}" for k, v in call.items()) or "plain"
)
def test_input_values_match_transformers(return_attention_mask: bool, call: dict[str, Any]) -> None:
    """One utterance, a list of floats, a batch of different lengths, a float64 2-D batch: the same
    ``input_values`` (normalised over the real samples only when a mask is made) and masks."""
    ours = Wav2Vec2FeatureExtractor(return_attention_mask=return_attention_mask)
    theirs = transformers.Wav2Vec2FeatureExtractor(return_attention_mask=return_attention_mask)
    batch = _audio(1600, 900, 1234)
    inputs = [
        batch,
        batch[0],
        [float(x) for x in batch[1][:500]],
        np.stack([batch[1], batch[1] * 2]).astype(np.float64),
    ]
    for raw in inputs:
        _assert_features_close(
            ours(raw, sampling_rate=16000, **call), theirs(raw, sampling_rate=16000, **call)
        )
        if call.get("padding"):
            actual = ours(raw, sampling_rate=16000, return_tensors="pt", **call)
            expected = theirs(raw, sampling_rate=16000, return_tensors="pt", **call)
            for key in expected:
                assert actual[key].dtype == expected[key].dtype
                torch.testing.assert_close(actual[key], expected[key], rtol=0, atol=ATOL)


def test_unnormalised_and_padding_value_match() -> None:
    options = {"do_normalize": False, "padding_value": -1.0, "return_attention_mask": True}
    batch = _audio(800, 300)
    _assert_features_close(
        Wav2Vec2FeatureExtractor(**options)(batch, sampling_rate=16000, padding=True),
        transformers.Wav2Vec2FeatureExtractor(**options)(batch, sampling_rate=16000, padding=True),
    )


def _tokenizers(folder: Path) -> tuple[Any, Any]:
    return AutoTokenizer.from_pretrained(folder), transformers.AutoTokenizer.from_pretrained(folder)


def test_tokenizer_ids_match_transformers(hub_folder: Path) -> None:
    ours, theirs = _tokenizers(hub_folder)
    assert type(ours) is Wav2Vec2CTCTokenizer
    for text in TEXTS:
        assert ours(text)["input_ids"] == theirs(text)["input_ids"], text
    assert ours(TEXTS, padding=True).data == dict(theirs(TEXTS, padding=True))
    assert ours.get_vocab() == theirs.get_vocab()
    assert ours.word_delimiter_token_id == theirs.word_delimiter_token_id == 4


def _random_ids(count: int) -> list[list[int]]:
    """Frame-level id sequences: repeats, blanks between repeats, leading / trailing delimiters,
    special and out-of-vocabulary ids."""
    rng = random.Random(0)
    pool = [0, 0, 0, 1, 2, 3, 4, 4, 5, 6, 7, 8, 9, 26, 27, 31, 40]
    sequences = [[], [0, 0], [4, 4, 5, 5, 0, 5, 4], [5, 0, 5, 5, 4, 0, 4, 6], [1, 5, 2, 3]]
    sequences += [[rng.choice(pool) for _ in range(rng.randint(1, 16))] for _ in range(count)]
    return sequences


DECODE_OPTIONS = [
    {},
    {"skip_special_tokens": True},
    {"group_tokens": False},
    {"spaces_between_special_tokens": True},
    {"clean_up_tokenization_spaces": True},
]


@pytest.mark.parametrize("options", DECODE_OPTIONS, ids=lambda o: ",".join(o) or "plain")
def test_ctc_decode_matches_transformers(hub_folder: Path, options: dict[str, Any]) -> None:
    ours, theirs = _tokenizers(hub_folder)
    for ids in _random_ids(300):
        assert ours.decode(ids, **options) == theirs.decode(ids, **options), ids
    batch = [ids[:8] + [0] * (8 - len(ids[:8])) for ids in _random_ids(20)]
    assert ours.batch_decode(torch.tensor(batch), **options) == theirs.batch_decode(
        torch.tensor(batch), **options
    )


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=int))


def test_offsets_match_transformers(hub_folder: Path) -> None:
    ours, theirs = _tokenizers(hub_folder)
    for ids in _random_ids(150):
        for options in (
            {"output_char_offsets": True},
            {"output_word_offsets": True},
            {"output_char_offsets": True, "output_word_offsets": True},
        ):
            actual, expected = ours.decode(ids, **options), theirs.decode(ids, **options)
            assert actual.text == expected.text
            assert _plain(actual.char_offsets) == _plain(expected.char_offsets), ids
            assert _plain(actual.word_offsets) == _plain(expected.word_offsets), ids
    batch = [[5, 5, 0, 6, 4, 4, 7, 0], [4, 8, 8, 9, 0, 0, 4, 4]]
    actual = ours.batch_decode(batch, output_word_offsets=True)
    expected = theirs.batch_decode(batch, output_word_offsets=True)
    assert actual.text == expected.text and actual["word_offsets"] == _plain(expected.word_offsets)


def test_lower_case_option_matches_transformers(hub_folder: Path) -> None:
    ours = Wav2Vec2CTCTokenizer.from_pretrained(hub_folder, do_lower_case=True)
    theirs = transformers.Wav2Vec2CTCTokenizer.from_pretrained(hub_folder, do_lower_case=True)
    for text in TEXTS:
        assert ours(text)["input_ids"] == theirs(text)["input_ids"], text
    for ids in _random_ids(50):
        assert ours.decode(ids) == theirs.decode(ids)


def test_decoded_strings_match_from_model_logits(hub_folder: Path) -> None:
    """Greedy CTC transcription: the same logits argmax-decoded by both processors give the same strings."""
    model = auto_class_for_task("ctc").from_pretrained(hub_folder)
    ours, theirs = (
        AutoProcessor.from_pretrained(hub_folder),
        transformers.AutoProcessor.from_pretrained(hub_folder),
    )
    batch = _audio(4000, 2500, 3100, seed=1)
    inputs = ours(audio=batch, sampling_rate=16000, padding=True, return_tensors="pt")
    with torch.no_grad():
        ids = model(**inputs).logits.argmax(-1)
    assert len(set(ids.flatten().tolist())) > 3  # a real mix of characters, blanks and delimiters
    assert ours.batch_decode(ids) == theirs.batch_decode(ids)
    assert ours.decode(ids[0]) == theirs.decode(ids[0])


def test_processor_matches_transformers(hub_folder: Path) -> None:
    ours, theirs = (
        AutoProcessor.from_pretrained(hub_folder),
        transformers.AutoProcessor.from_pretrained(hub_folder),
    )
    assert type(ours) is Wav2Vec2Processor
    assert ours.model_input_names == theirs.model_input_names
    batch = _audio(1600, 900)
    texts = ["HELLO WORLD", "A TEST"]
    for call in (
        {},
        {"padding": True, "return_tensors": "pt"},
        {"padding": True, "return_attention_mask": True},
    ):
        actual = ours(audio=batch, text=texts, sampling_rate=16000, **call)
        expected = theirs(audio=batch, text=texts, sampling_rate=16000, **call)
        labels_actual, labels_expected = actual.pop("labels"), expected.pop("labels")
        _assert_features_close(actual, expected)
        assert [list(map(int, row)) for row in labels_actual] == [
            list(map(int, row)) for row in labels_expected
        ]
    assert ours(text=texts)["input_ids"] == theirs(text=texts)["input_ids"]
    _assert_features_close(ours(batch[0], sampling_rate=16000), theirs(batch[0], sampling_rate=16000))


def test_processor_pad_as_a_ctc_data_collator_calls_it(hub_folder: Path) -> None:
    """The fine-tuning collator pattern: pad the extracted features and the label ids separately,
    then put the label ids (pad -> -100) beside the padded input values."""
    ours, theirs = (
        AutoProcessor.from_pretrained(hub_folder),
        transformers.AutoProcessor.from_pretrained(hub_folder),
    )
    examples = [
        {"input_values": values, "labels": ours(text=text)["input_ids"]}
        for values, text in zip(_audio(1600, 900, 1200), ["HELLO WORLD", "A TEST", "HI"], strict=True)
    ]
    for processor in (ours, theirs):
        features = [{"input_values": example["input_values"]} for example in examples]
        labels = [{"input_ids": example["labels"]} for example in examples]
        batch = processor.pad(features, padding=True, return_tensors="pt")
        label_batch = processor.pad(labels=labels, padding=True, return_tensors="pt")
        batch["labels"] = label_batch["input_ids"].masked_fill(label_batch["attention_mask"].ne(1), -100)
        if processor is ours:
            actual = batch
        else:
            expected = batch
    assert sorted(actual) == sorted(expected)
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], rtol=0, atol=1e-6)
    both = ours.pad(features, labels=labels, padding=True, return_tensors="pt")
    assert both["labels"].shape == label_batch["input_ids"].shape


def test_files_load_in_both_directions(hub_folder: Path, tmp_path: Path) -> None:
    """What each library saves (feature extractor, tokenizer, processor) the other's Auto classes load,
    with the same numbers."""
    ours = AutoProcessor.from_pretrained(hub_folder)
    theirs = transformers.AutoProcessor.from_pretrained(hub_folder)
    ours.save_pretrained(tmp_path / "ours")
    theirs.save_pretrained(tmp_path / "theirs")
    assert sorted(p.name for p in (tmp_path / "ours").iterdir()) == sorted(
        p.name for p in (tmp_path / "theirs").iterdir()
    )
    saved_ours = json.loads((tmp_path / "ours" / "processor_config.json").read_text())
    saved_theirs = json.loads((tmp_path / "theirs" / "processor_config.json").read_text())
    assert saved_ours == saved_theirs
    assert json.loads((tmp_path / "ours" / "vocab.json").read_text()) == VOCAB
    batch = _audio(1200, 700)
    for folder in (tmp_path / "ours", tmp_path / "theirs"):
        mine, reference = (
            AutoProcessor.from_pretrained(folder),
            transformers.AutoProcessor.from_pretrained(folder),
        )
        assert type(mine) is Wav2Vec2Processor and type(reference).__name__ == "Wav2Vec2Processor"
        _assert_features_close(
            mine(audio=batch, sampling_rate=16000, padding=True),
            reference(audio=batch, sampling_rate=16000, padding=True),
        )
        assert mine(text=TEXTS)["input_ids"] == reference(text=TEXTS)["input_ids"]
        assert mine.batch_decode([[5, 5, 0, 5, 4, 6]]) == reference.batch_decode([[5, 5, 0, 5, 4, 6]])
    extractor = AutoFeatureExtractor.from_pretrained(hub_folder, return_attention_mask=True)
    assert type(extractor) is Wav2Vec2FeatureExtractor and extractor.return_attention_mask
    extractor.save_pretrained(tmp_path / "extractor")
    reloaded = transformers.AutoFeatureExtractor.from_pretrained(tmp_path / "extractor")
    assert reloaded.to_dict() | {"feature_extractor_type": None} == {
        **PREPROCESSOR_CONFIG,
        "return_attention_mask": True,
        "feature_extractor_type": None,
    }
    tokenizer = AutoTokenizer.from_pretrained(hub_folder)
    tokenizer.save_pretrained(tmp_path / "tokenizer")
    assert sorted(p.name for p in (tmp_path / "tokenizer").iterdir()) == [
        "tokenizer_config.json",
        "vocab.json",
    ]
    assert (
        transformers.AutoTokenizer.from_pretrained(tmp_path / "tokenizer")(TEXTS).input_ids
        == tokenizer(TEXTS)["input_ids"]
    )


def test_multilingual_vocab_needs_target_lang(tmp_path: Path) -> None:
    nested = {"eng": VOCAB, "fra": {**VOCAB, "É": len(VOCAB)}}
    (tmp_path / "vocab.json").write_text(json.dumps(nested), encoding="utf-8")
    with pytest.raises(TokenizerError, match="target_lang="):
        Wav2Vec2CTCTokenizer(vocab_file=tmp_path / "vocab.json")
    with pytest.raises(TokenizerError, match="'deu' is not in the vocabulary"):
        Wav2Vec2CTCTokenizer(vocab_file=tmp_path / "vocab.json", target_lang="deu")
    ours = Wav2Vec2CTCTokenizer(vocab_file=tmp_path / "vocab.json", target_lang="fra")
    theirs = transformers.Wav2Vec2CTCTokenizer(str(tmp_path / "vocab.json"), target_lang="fra")
    assert ours("ÉTÉ")["input_ids"] == theirs("ÉTÉ")["input_ids"] == [32, VOCAB["T"], 32]
    ours.save_pretrained(tmp_path / "saved")
    assert json.loads((tmp_path / "saved" / "vocab.json").read_text()) == nested


def test_bad_audio_is_a_typed_error() -> None:
    extractor = Wav2Vec2FeatureExtractor()
    audio = _audio(800)[0]
    with pytest.raises(ProcessorError, match="was trained using a sampling rate of 16000") as caught:
        extractor(audio, sampling_rate=8000)
    assert isinstance(caught.value, ValueError)  # what transformers raises
    with pytest.raises(ProcessorError, match="empty"):
        extractor(np.zeros(0, dtype=np.float32), sampling_rate=16000)
    with pytest.raises(ProcessorError, match=r"raw_speech\[1\].*NaN"):
        extractor([audio, np.array([0.1, np.nan, 0.2])], sampling_rate=16000)
    with pytest.raises(ProcessorError, match="1-D"):
        extractor([np.zeros((2, 100))], sampling_rate=16000)
    with pytest.raises(ProcessorError, match="max_length"):
        extractor(audio, sampling_rate=16000, padding="max_length")
    with pytest.warns(UserWarning, match="sampling_rate"):
        extractor(audio)
    with pytest.raises(ProcessorError, match="preprocessor key 'do_normalize'"):
        Wav2Vec2FeatureExtractor(do_normalize="yes")


def test_processor_needs_audio_or_text(hub_folder: Path) -> None:
    with pytest.raises(ProcessorError, match="either an `audio` or `text`"):
        AutoProcessor.from_pretrained(hub_folder)()
