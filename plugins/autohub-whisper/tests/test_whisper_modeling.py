"""Whisper models against transformers (the oracle) on tiny random checkpoints shaped like
openai/whisper-tiny: outputs, losses, gradients, both save directions, generate() token for token,
and the typed errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers
from whisper_files import generation_config, ids, tiny_config_kwargs, write_tokenizer

from autohub_core import (
    AutoConfig,
    AutoModel,
    AutoModelForAudioClassification,
    AutoModelForCausalLM,
    AutoModelForSpeechSeq2Seq,
)
from autohub_core.errors import GenerationError, ModelInputError, UnsupportedFeatureError
from autohub_core.generation import GenerationConfig, _suppress_tokens
from autohub_whisper.languages import UnknownLanguageError
from autohub_whisper.modeling import WhisperForConditionalGeneration
from autohub_whisper.processing import WhisperFeatureExtractor

VOCAB = 2008  # the test tokenizer: 400 BPE tokens, 107 special tokens, 1501 timestamps
TOKENS = ids()
EOS = TOKENS["<|endoftext|>"]
FIRST_TIMESTAMP = TOKENS["<|notimestamps|>"] + 1
ATOL = 1e-5

HEADS = {
    "base": (transformers.WhisperModel, AutoModel),
    "speech-seq2seq": (transformers.WhisperForConditionalGeneration, AutoModelForSpeechSeq2Seq),
    "audio-classification": (transformers.WhisperForAudioClassification, AutoModelForAudioClassification),
    "causal-lm": (transformers.WhisperForCausalLM, AutoModelForCausalLM),
}


def _config(**overrides: object) -> transformers.WhisperConfig:
    kwargs = {**tiny_config_kwargs(VOCAB), "num_labels": 3, **overrides}
    return transformers.WhisperConfig(**kwargs)


def _features(batch: int = 2, seed: int = 0) -> torch.Tensor:
    """Log-mel features of random audio of different lengths (1 s, 4 s, ...), padded to 30 s."""
    rng = np.random.default_rng(seed)
    audio = [rng.standard_normal(16000 * (1 + 3 * i)).astype(np.float32) * 0.1 for i in range(batch)]
    return WhisperFeatureExtractor()(audio, sampling_rate=16000, return_tensors="pt")["input_features"]


def _inputs(task: str) -> dict[str, torch.Tensor]:
    decoder_ids = torch.tensor([[TOKENS["<|startoftranscript|>"], TOKENS["<|en|>"], 57, 454, 334]] * 2)
    mask = torch.ones_like(decoder_ids)
    mask[1, -2:] = 0
    if task == "causal-lm":
        return {"input_ids": decoder_ids, "attention_mask": mask}
    if task == "audio-classification":
        return {"input_features": _features()}
    return {"input_features": _features(), "decoder_input_ids": decoder_ids, "decoder_attention_mask": mask}


def _tensors(output: object) -> dict[str, torch.Tensor]:
    """Every tensor of a model output, nested tuples flattened (``hidden_states.1`` ...)."""
    found = {}
    for key, value in output.items():
        if isinstance(value, torch.Tensor):
            found[key] = value
        elif isinstance(value, tuple) and key != "past_key_values":
            for index, item in enumerate(value):
                if isinstance(item, torch.Tensor):
                    found[f"{key}.{index}"] = item
    return found


def _assert_outputs_match(expected: object, actual: object) -> None:
    expected, actual = _tensors(expected), _tensors(actual)
    assert expected.keys() == actual.keys()
    for key, value in expected.items():
        assert actual[key].shape == value.shape, key
        assert (actual[key] - value).abs().max().item() <= ATOL, key


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One transformers checkpoint per head (eager attention, so attentions are comparable)."""
    root = tmp_path_factory.mktemp("whisper")
    folders = {}
    for task, (hf_class, _) in HEADS.items():
        torch.manual_seed(0)
        model = hf_class(_config(attn_implementation="eager")).eval()
        folders[task] = root / task
        model.save_pretrained(folders[task])
    return folders


@pytest.mark.parametrize("task", list(HEADS))
def test_forward_matches_transformers(task: str, checkpoints: dict[str, Path]) -> None:
    hf_class, auto_class = HEADS[task]
    theirs = hf_class.from_pretrained(checkpoints[task], attn_implementation="eager").eval()
    ours = auto_class.from_pretrained(checkpoints[task])
    assert type(ours).__name__ == hf_class.__name__
    inputs = _inputs(task)
    with torch.no_grad():
        expected = theirs(**inputs, output_hidden_states=True, output_attentions=True)
        actual = ours(**inputs, output_hidden_states=True, output_attentions=True)
    _assert_outputs_match(expected, actual)
    # sdpa (autohub's default attention) gives the same logits
    with torch.no_grad():
        plain = ours(**inputs)
    first = "last_hidden_state" if task == "base" else "logits"
    assert (plain[first] - expected[first]).abs().max().item() <= ATOL


@pytest.mark.parametrize("task", ["speech-seq2seq", "audio-classification", "causal-lm"])
def test_loss_and_gradients_match_transformers(task: str, checkpoints: dict[str, Path]) -> None:
    hf_class, auto_class = HEADS[task]
    theirs = hf_class.from_pretrained(checkpoints[task]).train()
    ours = auto_class.from_pretrained(checkpoints[task]).train()
    inputs = _inputs(task)
    if task == "audio-classification":
        inputs["labels"] = torch.tensor([2, 0])
    else:
        labels = torch.randint(0, VOCAB, (2, 5), generator=torch.Generator().manual_seed(3))
        labels[1, -2:] = -100
        inputs["labels"] = labels
    expected, actual = theirs(**inputs).loss, ours(**inputs).loss
    assert abs(expected.item() - actual.item()) <= ATOL
    expected.backward()
    actual.backward()
    their_grads = dict(theirs.named_parameters())
    compared = 0
    for name, parameter in ours.named_parameters():
        if parameter.grad is None:
            continue
        assert (parameter.grad - their_grads[name].grad).abs().max().item() <= ATOL, name
        compared += 1
    assert compared > 10


def test_weighted_layer_sum_classifier_matches(tmp_path: Path) -> None:
    torch.manual_seed(1)
    theirs = transformers.WhisperForAudioClassification(_config(use_weighted_layer_sum=True)).eval()
    with torch.no_grad():
        theirs.layer_weights.copy_(torch.tensor([0.5, -1.0, 2.0]))
    theirs.save_pretrained(tmp_path)
    ours = AutoModelForAudioClassification.from_pretrained(tmp_path)
    features = _features()
    with torch.no_grad():
        _assert_outputs_match(theirs(features), ours(features))


@pytest.mark.parametrize("task", list(HEADS))
def test_autohub_checkpoint_loads_in_transformers(task: str, tmp_path: Path) -> None:
    hf_class, auto_class = HEADS[task]
    config = AutoConfig.for_model("whisper", **tiny_config_kwargs(VOCAB), num_labels=3)
    torch.manual_seed(2)
    ours = auto_class.from_config(config).eval()
    ours.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == "whisper" and saved["architectures"] == [hf_class.__name__]
    theirs, info = hf_class.from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    inputs = _inputs(task)
    with torch.no_grad():
        expected, actual = theirs.eval()(**inputs), ours(**inputs)
    first = "last_hidden_state" if task == "base" else "logits"
    assert (actual[first] - expected[first]).abs().max().item() <= ATOL


def test_encoder_positions_are_transformers_sinusoids() -> None:
    config = AutoConfig.for_model("whisper", **tiny_config_kwargs(VOCAB))
    ours = AutoModel.from_config(config)
    theirs = transformers.WhisperModel(_config())
    assert torch.allclose(ours.encoder.embed_positions.weight, theirs.encoder.embed_positions.weight)
    assert not ours.encoder.embed_positions.weight.requires_grad


# -- generate() ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def asr_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A speech-seq2seq checkpoint with the Hub's generation_config.json keys. Larger random weights
    make the tokens depend on the audio; timestamp rows are zeroed (no timestamp tokens: see
    WhisperForConditionalGeneration.generate) and <|endoftext|> copies a frequent token's row so
    that some beams end early."""
    folder = tmp_path_factory.mktemp("asr")
    torch.manual_seed(0)
    model = transformers.WhisperForConditionalGeneration(_config(init_std=0.5)).eval()
    with torch.no_grad():
        embeddings = model.model.decoder.embed_tokens.weight
        embeddings[FIRST_TIMESTAMP:] = 0.0
        embeddings[EOS] = embeddings[382]
    model.save_pretrained(folder)
    (folder / "generation_config.json").write_text(json.dumps(generation_config(VOCAB)), encoding="utf-8")
    write_tokenizer(folder)
    return folder


GENERATE_CASES = {
    "greedy-en": {"language": "en"},
    "greedy-translate-fr": {"language": "french", "task": "translate"},
    "greedy-detected-language": {},
    "greedy-language-per-row": {"language": ["en", "<|de|>", "fr"]},
    "beam-en": {"language": "en", "num_beams": 3},
    "beam-detected-two-returned": {"num_beams": 3, "num_return_sequences": 2},
}


@pytest.mark.parametrize("case", list(GENERATE_CASES))
def test_generate_matches_transformers(case: str, asr_checkpoint: Path) -> None:
    theirs = transformers.WhisperForConditionalGeneration.from_pretrained(asr_checkpoint).eval()
    ours = AutoModelForSpeechSeq2Seq.from_pretrained(asr_checkpoint)
    features = _features(batch=3, seed=1)
    options = GENERATE_CASES[case]
    expected = theirs.generate(features, max_new_tokens=10, **options)
    actual = ours.generate(features, max_new_tokens=10, **options)
    assert actual.dtype == torch.long
    assert torch.equal(actual, expected), (actual, expected)


def test_generate_strips_prompt_and_end_token_like_transformers(asr_checkpoint: Path) -> None:
    """Beam rows that end early come back without <|endoftext|>, padded with the pad id."""
    theirs = transformers.WhisperForConditionalGeneration.from_pretrained(asr_checkpoint).eval()
    ours = AutoModelForSpeechSeq2Seq.from_pretrained(asr_checkpoint)
    features = _features(batch=3, seed=1)
    expected = theirs.generate(features, max_new_tokens=12, language="en", num_beams=3)
    actual = ours.generate(features, max_new_tokens=12, language="en", num_beams=3)
    assert torch.equal(actual, expected)
    assert actual.shape[1] < 12, "every beam search should end with <|endoftext|> here"
    assert any(row[-1] == EOS for row in actual.tolist()), "shorter rows are padded with the pad id"
    assert all(TOKENS["<|startoftranscript|>"] not in row for row in actual.tolist())


def test_generate_pads_short_features_and_uses_encoder_outputs(asr_checkpoint: Path) -> None:
    theirs = transformers.WhisperForConditionalGeneration.from_pretrained(asr_checkpoint).eval()
    ours = AutoModelForSpeechSeq2Seq.from_pretrained(asr_checkpoint)
    short = _features(batch=2)[..., :1000]
    expected = theirs.generate(short, max_new_tokens=6, language="en")
    assert torch.equal(ours.generate(short, max_new_tokens=6, language="en"), expected)
    encoded = ours.get_encoder()(torch.nn.functional.pad(short, (0, 2000)))
    assert torch.equal(ours.generate(encoder_outputs=encoded, max_new_tokens=6, language="en"), expected)


def test_detect_language_matches_transformers(asr_checkpoint: Path) -> None:
    theirs = transformers.WhisperForConditionalGeneration.from_pretrained(asr_checkpoint).eval()
    ours = AutoModelForSpeechSeq2Seq.from_pretrained(asr_checkpoint)
    features = _features(batch=3, seed=4)
    assert torch.equal(ours.detect_language(features), theirs.detect_language(features))


def test_generation_config_round_trips_to_transformers(asr_checkpoint: Path, tmp_path: Path) -> None:
    ours = AutoModelForSpeechSeq2Seq.from_pretrained(asr_checkpoint)
    ours.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "generation_config.json").read_text())
    for key in (
        "lang_to_id",
        "task_to_id",
        "no_timestamps_token_id",
        "suppress_tokens",
        "begin_suppress_tokens",
    ):
        assert saved[key] == generation_config(VOCAB)[key], key
    theirs = transformers.WhisperForConditionalGeneration.from_pretrained(tmp_path).eval()
    features = _features(batch=2)
    assert torch.equal(
        theirs.generate(features, max_new_tokens=5, language="de"),
        ours.generate(features, max_new_tokens=5, language="de"),
    )


def test_suppress_processors_match_transformers() -> None:
    """The core's suppress_tokens / begin_suppress_tokens processors are transformers'."""
    from transformers.generation.logits_process import (
        SuppressTokensAtBeginLogitsProcessor,
        SuppressTokensLogitsProcessor,
    )

    scores = torch.randn(2, 50)
    sequence = torch.zeros(2, 4, dtype=torch.long)
    expected = SuppressTokensLogitsProcessor([3, 7, 49, 80])(sequence, scores.clone())
    assert torch.equal(_suppress_tokens([3, 7, 49, 80])(sequence, scores.clone()), expected)
    for begin_index in (4, 5):
        theirs = SuppressTokensAtBeginLogitsProcessor([1, 2], begin_index)
        ours = _suppress_tokens([1, 2], at_length=begin_index)
        assert torch.equal(ours(sequence, scores.clone()), theirs(sequence, scores.clone()))


# -- bad input ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model() -> WhisperForConditionalGeneration:
    config = AutoConfig.for_model("whisper", **tiny_config_kwargs(VOCAB))
    return AutoModelForSpeechSeq2Seq.from_config(config).eval()


def test_input_features_of_wrong_shape_are_refused(model: WhisperForConditionalGeneration) -> None:
    decoder = torch.tensor([[TOKENS["<|startoftranscript|>"]]])
    with pytest.raises(ModelInputError, match="Whisper expects the mel input features to be of length 3000"):
        model(torch.zeros(1, 80, 2999), decoder_input_ids=decoder)
    with pytest.raises(ModelInputError, match="num_mel_bins"):
        model(torch.zeros(1, 128, 3000), decoder_input_ids=decoder)
    with pytest.raises(ModelInputError, match="floating-point"):
        model(torch.zeros(1, 80, 3000, dtype=torch.long), decoder_input_ids=decoder)
    with pytest.raises(ModelInputError, match="max_target_positions"):
        model(torch.zeros(1, 80, 3000), labels=torch.zeros(1, 449, dtype=torch.long))


def test_generate_refuses_what_it_does_not_implement(model: WhisperForConditionalGeneration) -> None:
    model.generation_config = transformers_free_generation_config()
    features = torch.zeros(1, 80, 3000)
    with pytest.raises(UnknownLanguageError, match="Unsupported language: xx"):
        model.generate(features, language="xx", max_new_tokens=2)
    with pytest.raises(GenerationError, match=r"not in the `generation_config\.lang_to_id`"):
        model.generate(features, language="cantonese", max_new_tokens=2)
    with pytest.raises(GenerationError, match="task"):
        model.generate(features, language="en", task="summarize", max_new_tokens=2)
    with pytest.raises(UnsupportedFeatureError, match="return_timestamps"):
        model.generate(features, return_timestamps=True)
    with pytest.raises(UnsupportedFeatureError, match="long-form"):
        model.generate(torch.zeros(1, 80, 3200))
    with pytest.raises(GenerationError, match="max_target_positions"):
        model.generate(features, language="en", max_new_tokens=446)
    with pytest.raises(GenerationError, match="input_features"):
        model.generate()


def test_english_only_generation_config_refuses_a_language(model: WhisperForConditionalGeneration) -> None:
    model.generation_config = transformers_free_generation_config(is_multilingual=False)
    with pytest.raises(GenerationError, match="English-only"):
        model.generate(torch.zeros(1, 80, 3000), language="en")


def test_spec_augment_is_refused_in_training_only() -> None:
    config = AutoConfig.for_model(
        "whisper", **{**tiny_config_kwargs(VOCAB), "apply_spec_augment": True, "mask_time_prob": 0.05}
    )
    model = AutoModel.from_config(config)
    inputs = {"input_features": torch.zeros(1, 80, 3000), "decoder_input_ids": torch.tensor([[1]])}
    with torch.no_grad():
        model.eval()(**inputs)
        with pytest.raises(UnsupportedFeatureError, match="apply_spec_augment"):
            model.train()(**inputs)


def transformers_free_generation_config(**overrides: object) -> GenerationConfig:
    """The test generation_config.json as autohub's GenerationConfig, with ``overrides``."""
    return GenerationConfig.from_dict({**generation_config(VOCAB), **overrides})
