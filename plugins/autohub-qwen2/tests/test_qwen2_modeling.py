"""Parity of autohub-qwen2 with transformers' Qwen2: every head, config options, RoPE scaling, KV cache."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import transformers

from autohub_core import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    UnsupportedConfigError,
)
from autohub_core.testing.parity import (
    assert_gradients_equal,
    assert_outputs_close,
    head_labels,
    left_padded_inputs,
    train_step,
)

FAMILY = "qwen2"
TINY = {
    "vocab_size": 99,
    "hidden_size": 32,
    "intermediate_size": 37,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
    "pad_token_id": 0,
}
HEADS = {
    "Qwen2Model": AutoModel,
    "Qwen2ForCausalLM": AutoModelForCausalLM,
    "Qwen2ForSequenceClassification": AutoModelForSequenceClassification,
    "Qwen2ForTokenClassification": AutoModelForTokenClassification,
    "Qwen2ForQuestionAnswering": AutoModelForQuestionAnswering,
}
WINDOWED = [{}, {"use_sliding_window": True, "sliding_window": 3, "max_window_layers": 1}]


@pytest.fixture(scope="module")
def save_hf(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Save a tiny random transformers model of ``class_name``; returns its directory."""
    cache: dict[tuple, Path] = {}

    def save(class_name: str = "Qwen2ForCausalLM", **overrides: object) -> Path:
        key = (class_name, json.dumps(overrides, sort_keys=True))
        if key not in cache:
            config = transformers.AutoConfig.for_model(FAMILY, **{**TINY, **overrides})
            torch.manual_seed(0)
            model = getattr(transformers, class_name)(config).eval()
            directory = tmp_path_factory.mktemp(class_name)
            model.save_pretrained(directory)
            cache[key] = directory
        return cache[key]

    return save


_inputs = functools.partial(left_padded_inputs, TINY["vocab_size"], TINY["pad_token_id"])


@pytest.mark.parametrize("class_name", sorted(HEADS))
def test_head_matches_transformers(save_hf: Callable[..., Path], class_name: str) -> None:
    directory = save_hf(class_name)
    ours = HEADS[class_name].from_pretrained(directory)
    assert type(ours).__name__ == class_name
    theirs = getattr(transformers, class_name).from_pretrained(directory).eval()
    inputs = _inputs()
    labels = head_labels(class_name, inputs)
    with torch.no_grad():
        assert_outputs_close(
            ours(**inputs, **labels, output_hidden_states=True),
            theirs(**inputs, **labels, output_hidden_states=True),
            hidden=True,
        )


@pytest.mark.parametrize("class_name", ["Qwen2ForCausalLM", "Qwen2ForSequenceClassification"])
def test_attentions_match_eager_transformers(save_hf: Callable[..., Path], class_name: str) -> None:
    directory = save_hf(class_name)
    ours = HEADS[class_name].from_pretrained(directory)
    theirs = getattr(transformers, class_name).from_pretrained(directory, attn_implementation="eager").eval()
    inputs = _inputs()
    with torch.no_grad():
        assert_outputs_close(
            ours(**inputs, output_attentions=True, output_hidden_states=True),
            theirs(**inputs, output_attentions=True, output_hidden_states=True),
            hidden=True,
            attentions=True,
        )


@pytest.mark.parametrize("checkpointing", [False, True], ids=["plain", "checkpointing"])
@pytest.mark.parametrize("class_name", [name for name in sorted(HEADS) if HEADS[name] is not AutoModel])
def test_training_step_matches_transformers(
    save_hf: Callable[..., Path], class_name: str, checkpointing: bool
) -> None:
    """Train mode, dropout 0.1 with the same seed, ``num_items_in_batch``, with or without gradient
    checkpointing: loss and gradients equal transformers'; checkpointing changes no gradient and drops
    the cache."""
    directory = save_hf(class_name, attention_dropout=0.1)
    inputs = _inputs()
    kwargs = {**inputs, **head_labels(class_name, inputs), "num_items_in_batch": torch.tensor(7)}
    if not class_name.endswith("QuestionAnswering"):
        kwargs["use_cache"] = True
    reference = getattr(transformers, class_name).from_pretrained(directory)
    expected, expected_gradients = train_step(reference, kwargs, checkpointing)
    actual, gradients = train_step(HEADS[class_name].from_pretrained(directory), kwargs, checkpointing)
    torch.testing.assert_close(actual.loss, expected.loss, atol=1e-5, rtol=1e-4)
    assert_gradients_equal(gradients, expected_gradients)
    if checkpointing:
        assert getattr(expected, "past_key_values", None) is None
        assert getattr(actual, "past_key_values", None) is None
        _, plain = train_step(HEADS[class_name].from_pretrained(directory), kwargs, checkpointing=False)
        assert_gradients_equal(gradients, plain)


CONFIG_OPTIONS = [
    {"tie_word_embeddings": True},
    {"hidden_act": "gelu_pytorch_tanh"},
    {"use_sliding_window": True, "sliding_window": 3, "max_window_layers": 1},
    {"num_key_value_heads": 1},
    {"num_key_value_heads": 4, "rms_norm_eps": 1e-5},
    {"rope_parameters": {"rope_type": "default", "rope_theta": 500000.0}},
    {"rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0}},
    {
        "rope_parameters": {
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8,
            "rope_theta": 10000.0,
        }
    },
    {"rope_parameters": {"rope_type": "yarn", "factor": 4.0, "rope_theta": 10000.0}},
]


@pytest.mark.parametrize("overrides", CONFIG_OPTIONS, ids=lambda o: json.dumps(o, sort_keys=True)[:60])
def test_config_options_match_transformers(save_hf: Callable[..., Path], overrides: dict) -> None:
    directory = save_hf("Qwen2ForCausalLM", **overrides)
    ours = AutoModelForCausalLM.from_pretrained(directory)
    theirs = transformers.Qwen2ForCausalLM.from_pretrained(directory).eval()
    if overrides.get("tie_word_embeddings"):
        assert ours.lm_head.weight is ours.model.embed_tokens.weight
    inputs = _inputs()
    with torch.no_grad():
        assert_outputs_close(ours(**inputs), theirs(**inputs))


def test_dynamic_rope_is_recomputed_past_max_positions(save_hf: Callable[..., Path]) -> None:
    rope = {"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0}
    directory = save_hf("Qwen2ForCausalLM", rope_parameters=rope, max_position_embeddings=8)
    ours = AutoModelForCausalLM.from_pretrained(directory)
    theirs = transformers.Qwen2ForCausalLM.from_pretrained(directory).eval()
    generator = torch.Generator().manual_seed(3)
    # Same call sequence on both: short, long (grows the base), mid-length (keeps it), short (resets).
    for length in (5, 20, 12, 4):
        input_ids = torch.randint(3, TINY["vocab_size"], (2, length), generator=generator)
        with torch.no_grad():
            assert_outputs_close(ours(input_ids), theirs(input_ids))


def test_legacy_rope_scaling_and_rope_theta_keys(tmp_path: Path, save_hf: Callable[..., Path]) -> None:
    directory = save_hf("Qwen2ForCausalLM")
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    document = json.loads((directory / "config.json").read_text())
    del document["rope_parameters"]
    document["rope_theta"] = 50000.0
    document["rope_scaling"] = {"type": "linear", "factor": 3.0}
    (legacy / "config.json").write_text(json.dumps(document))
    (legacy / "model.safetensors").write_bytes((directory / "model.safetensors").read_bytes())
    config = AutoConfig.from_pretrained(legacy)
    assert config.rope_parameters["rope_type"] == "linear"
    assert config.rope_parameters["rope_theta"] == 50000.0
    assert config.rope_scaling == config.rope_parameters
    ours = AutoModelForCausalLM.from_pretrained(legacy)
    theirs = transformers.Qwen2ForCausalLM.from_pretrained(legacy).eval()
    inputs = _inputs()
    with torch.no_grad():
        assert_outputs_close(ours(**inputs), theirs(**inputs))


@pytest.mark.parametrize("overrides", WINDOWED, ids=str)
def test_incremental_decoding_with_cache_equals_full_forward(
    save_hf: Callable[..., Path], overrides: dict
) -> None:
    directory = save_hf("Qwen2ForCausalLM", **overrides)
    model = AutoModelForCausalLM.from_pretrained(directory)
    inputs = _inputs(length=9)
    input_ids, attention_mask = inputs["input_ids"], inputs["attention_mask"]
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        full = model(input_ids, attention_mask=attention_mask, position_ids=position_ids).logits
        prefix = 5
        step = model(
            input_ids[:, :prefix],
            attention_mask=attention_mask[:, :prefix],
            position_ids=position_ids[:, :prefix],
            use_cache=True,
        )
        logits = [step.logits]
        past = step.past_key_values
        assert len(past) == TINY["num_hidden_layers"]
        assert past[0][0].shape == (3, TINY["num_key_value_heads"], prefix, 8)
        for index in range(prefix, input_ids.shape[1]):
            step = model(
                input_ids[:, index : index + 1],
                attention_mask=attention_mask[:, : index + 1],
                position_ids=position_ids[:, index : index + 1],
                past_key_values=past,
                use_cache=True,
            )
            past = step.past_key_values
            logits.append(step.logits)
    torch.testing.assert_close(torch.cat(logits, dim=1), full, atol=1e-5, rtol=0)
    reference = transformers.Qwen2ForCausalLM.from_pretrained(directory).eval()
    with torch.no_grad():
        expected = reference(input_ids, attention_mask=attention_mask, position_ids=position_ids).logits
    torch.testing.assert_close(full, expected, atol=1e-5, rtol=0)


def test_autohub_checkpoint_loads_in_transformers(tmp_path: Path, save_hf: Callable[..., Path]) -> None:
    for class_name in ("Qwen2ForCausalLM", "Qwen2ForQuestionAnswering", "Qwen2ForSequenceClassification"):
        ours = HEADS[class_name].from_pretrained(save_hf(class_name))
        target = tmp_path / class_name
        ours.save_pretrained(target)
        theirs = getattr(transformers, class_name).from_pretrained(target).eval()
        inputs = _inputs()
        with torch.no_grad():
            assert_outputs_close(ours(**inputs), theirs(**inputs))


def test_fresh_model_saves_and_reloads(tmp_path: Path) -> None:
    config = AutoConfig.for_model(FAMILY, **TINY)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(tmp_path)
    theirs = transformers.Qwen2ForCausalLM.from_pretrained(tmp_path).eval()
    inputs = _inputs()
    with torch.no_grad():
        assert_outputs_close(model.eval()(**inputs), theirs(**inputs))


def test_unsupported_rope_type_names_the_key(tmp_path: Path) -> None:
    config = AutoConfig.for_model(
        FAMILY,
        **TINY,
        rope_parameters={
            "rope_type": "proportional",
            "rope_theta": 1.0,
            "short_factor": [1.0],
            "long_factor": [1.0],
        },
    )
    with pytest.raises(UnsupportedConfigError, match="rope_parameters"):
        AutoModelForCausalLM.from_config(config)


def _byte_level_files(directory: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = ["The quick brown fox jumps over the lazy dog.", "Qwen says\nhéllo wörld! 😀", "数字 123"] * 20
    backend.train_from_iterator(corpus, trainer)
    backend.model.save(str(directory))  # vocab.json + merges.txt


@pytest.mark.parametrize("source", ["legacy-files", "tokenizer.json"])
def test_tokenizer_matches_transformers(tmp_path: Path, source: str) -> None:
    _byte_level_files(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": FAMILY}))
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "Qwen2Tokenizer"}))
    if source == "tokenizer.json":
        transformers.AutoTokenizer.from_pretrained(tmp_path).save_pretrained(tmp_path)
        (tmp_path / "vocab.json").unlink()
        (tmp_path / "merges.txt").unlink()
        assert (tmp_path / "tokenizer.json").is_file()
    ours = AutoTokenizer.from_pretrained(tmp_path)
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert type(ours).__name__ == "Qwen2Tokenizer"
    assert ours.padding_side == theirs.padding_side
    assert (ours.eos_token, ours.pad_token, ours.bos_token) == (theirs.eos_token, theirs.pad_token, None)
    texts = ["The lazy dog", " leading  spaces", "héllo\nwörld 数字 😀", "it's 12345", ""]
    mine, reference = ours(texts, padding=True), theirs(texts, padding=True)
    assert mine["input_ids"] == reference["input_ids"]
    assert mine["attention_mask"] == reference["attention_mask"]
    for ids in reference["input_ids"]:
        assert ours.decode(ids) == theirs.decode(ids)
    pairs = ours("a dog", "the fox")["input_ids"], theirs("a dog", "the fox")["input_ids"]
    assert pairs[0] == pairs[1]
