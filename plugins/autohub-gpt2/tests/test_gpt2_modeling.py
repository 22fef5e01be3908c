"""Parity of the GPT-2 plugin with transformers (the oracle): every head, both directions, padding on
either side, losses, config options, the key/value cache and the tuple outputs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import transformers
from safetensors.torch import load_file, save_file

from autohub_core import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)
from autohub_core.errors import UnsupportedConfigError
from autohub_core.testing.parity import assert_gradients_equal, train_step

transformers.logging.set_verbosity_error()

TOLERANCE = 1e-5
VOCAB = 99
PAD = 0
TINY_GPT2 = {
    "vocab_size": VOCAB,
    "n_positions": 64,
    "n_embd": 32,
    "n_layer": 2,
    "n_head": 4,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "pad_token_id": PAD,
}

# head class name -> (autohub Auto class, name of the labels arguments)
HEADS: dict[str, Any] = {
    "GPT2Model": AutoModel,
    "GPT2LMHeadModel": AutoModelForCausalLM,
    "GPT2ForSequenceClassification": AutoModelForSequenceClassification,
    "GPT2ForTokenClassification": AutoModelForTokenClassification,
    "GPT2ForQuestionAnswering": AutoModelForQuestionAnswering,
}


@pytest.fixture(scope="module")
def save_hf(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Save a tiny random transformers GPT-2 of class ``class_name``; returns its directory."""
    cache: dict[tuple, Path] = {}

    def save(class_name: str = "GPT2Model", seed: int = 0, **overrides: Any) -> Path:
        key = (class_name, seed, tuple(sorted(overrides.items(), key=str)))
        if key not in cache:
            config = transformers.GPT2Config(**{**TINY_GPT2, **overrides})
            torch.manual_seed(seed)
            model = getattr(transformers, class_name)(config).eval()
            directory = tmp_path_factory.mktemp(class_name)
            model.save_pretrained(directory)
            cache[key] = directory
        return cache[key]

    return save


def _batch(padding_side: str, batch_size: int = 2, length: int = 9) -> dict[str, torch.Tensor]:
    """Random ids (never the pad id) with the second row padded by 3 on ``padding_side``."""
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(3, VOCAB, (batch_size, length), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    padded = slice(length - 3, None) if padding_side == "right" else slice(0, 3)
    attention_mask[1, padded] = 0
    input_ids[1, padded] = PAD
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def _labels(class_name: str, batch: dict[str, torch.Tensor], num_labels: int = 2) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    input_ids = batch["input_ids"]
    if class_name == "GPT2LMHeadModel":
        labels = input_ids.masked_fill(batch["attention_mask"] == 0, -100)
        return {"labels": labels}
    if class_name == "GPT2ForSequenceClassification":
        return {"labels": torch.randint(0, num_labels, (input_ids.shape[0],), generator=generator)}
    if class_name == "GPT2ForTokenClassification":
        labels = torch.randint(0, num_labels, input_ids.shape, generator=generator)
        return {"labels": labels.masked_fill(batch["attention_mask"] == 0, -100)}
    if class_name == "GPT2ForQuestionAnswering":
        return {"start_positions": torch.tensor([1, 3]), "end_positions": torch.tensor([4, 20])}
    return {}


def _assert_close(expected: torch.Tensor, actual: torch.Tensor, what: str) -> None:
    assert expected.shape == actual.shape, f"{what}: shape {tuple(expected.shape)} vs {tuple(actual.shape)}"
    difference = (expected.float() - actual.float()).abs().max().item() if expected.numel() else 0.0
    assert difference <= TOLERANCE, f"{what}: max abs difference {difference}"


def _cache_pairs(cache: Any) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(key, value) per layer from a transformers Cache or an autohub tuple cache."""
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    return [tuple(pair) for pair in cache]


def _assert_outputs_match(expected: Any, actual: Any) -> None:
    """Every field of transformers' output is in ours, with the same values.

    transformers reports ``cross_attentions=()`` for a model without cross-attention; autohub leaves it None.
    """
    for name, value in expected.items():
        if name == "cross_attentions" and value == ():
            continue
        assert name in actual, f"missing output field {name!r}"
        if name == "past_key_values":
            expected_pairs, actual_pairs = _cache_pairs(value), _cache_pairs(actual[name])
            assert len(expected_pairs) == len(actual_pairs)
            for index, (pair, ours) in enumerate(zip(expected_pairs, actual_pairs, strict=True)):
                _assert_close(pair[0], ours[0], f"past key {index}")
                _assert_close(pair[1], ours[1], f"past value {index}")
        elif isinstance(value, tuple):
            assert len(value) == len(actual[name]), f"{name}: {len(value)} vs {len(actual[name])} entries"
            for index, (item, ours) in enumerate(zip(value, actual[name], strict=True)):
                _assert_close(item, ours, f"{name}[{index}]")
        else:
            _assert_close(value, actual[name], name)
    assert set(actual.keys()) <= set(expected.keys()) | {"past_key_values"}


def _run(model: Any, **kwargs: Any) -> Any:
    with torch.no_grad():
        return model(**kwargs)


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("class_name", list(HEADS))
def test_head_matches_transformers(save_hf: Callable[..., Path], class_name: str, padding_side: str) -> None:
    directory = save_hf(class_name)
    reference = getattr(transformers, class_name).from_pretrained(directory).eval()
    model = HEADS[class_name].from_pretrained(directory)
    assert type(model).__name__ == class_name
    batch = _batch(padding_side)
    kwargs = {**batch, **_labels(class_name, batch), "output_hidden_states": True}
    expected, actual = _run(reference, **kwargs), _run(model, **kwargs)
    if class_name != "GPT2Model":
        assert actual.loss is not None
    _assert_outputs_match(expected, actual)


@pytest.mark.parametrize("class_name", list(HEADS))
def test_attentions_match_transformers_eager(save_hf: Callable[..., Path], class_name: str) -> None:
    directory = save_hf(class_name)
    reference = (
        getattr(transformers, class_name).from_pretrained(directory, attn_implementation="eager").eval()
    )
    model = HEADS[class_name].from_pretrained(directory)
    batch = _batch("left")
    expected = _run(reference, **batch, output_attentions=True, output_hidden_states=True)
    actual = _run(model, **batch, output_attentions=True, output_hidden_states=True)
    assert len(actual.attentions) == TINY_GPT2["n_layer"]
    assert actual.attentions[0].shape == (2, TINY_GPT2["n_head"], 9, 9)
    _assert_outputs_match(expected, actual)


@pytest.mark.parametrize("class_name", list(HEADS))
def test_autohub_checkpoint_loads_in_transformers(tmp_path: Path, class_name: str) -> None:
    config = AutoConfig.for_model("gpt2", **TINY_GPT2)
    torch.manual_seed(3)
    model = HEADS[class_name].from_config(config).eval()
    model.save_pretrained(tmp_path)
    reference, info = getattr(transformers, class_name).from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    batch = _batch("right")
    kwargs = {**batch, **_labels(class_name, batch)}
    _assert_outputs_match(_run(reference.eval(), **kwargs), _run(model, **kwargs))


@pytest.mark.parametrize("checkpointing", [False, True], ids=["plain", "checkpointing"])
@pytest.mark.parametrize("class_name", [name for name in HEADS if name != "GPT2Model"])
def test_training_step_matches_transformers(
    save_hf: Callable[..., Path], class_name: str, checkpointing: bool
) -> None:
    """Train mode, dropout 0.1 with the same seed, ``num_items_in_batch``, with or without gradient
    checkpointing: loss and gradients equal transformers'; checkpointing changes no gradient and drops
    the cache."""
    directory = save_hf(class_name)
    batch = _batch("left")
    kwargs = {**batch, **_labels(class_name, batch), "num_items_in_batch": torch.tensor(7)}
    if class_name != "GPT2ForQuestionAnswering":
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


def test_state_dict_keys_are_transformers(save_hf: Callable[..., Path]) -> None:
    directory = save_hf("GPT2LMHeadModel")
    model = AutoModelForCausalLM.from_pretrained(directory)
    reference = transformers.GPT2LMHeadModel.from_pretrained(directory)
    assert set(model.state_dict()) == set(reference.state_dict())
    conv_weight = model.state_dict()["transformer.h.0.attn.c_attn.weight"]
    assert tuple(conv_weight.shape) == (32, 96)  # Conv1D: (in, out)
    assert model.lm_head.weight is model.transformer.wte.weight


def test_untied_lm_head(save_hf: Callable[..., Path]) -> None:
    directory = save_hf("GPT2LMHeadModel", tie_word_embeddings=False)
    model = AutoModelForCausalLM.from_pretrained(directory)
    assert model.lm_head.weight is not model.transformer.wte.weight
    reference = transformers.GPT2LMHeadModel.from_pretrained(directory).eval()
    batch = _batch("right")
    _assert_outputs_match(_run(reference, **batch), _run(model, **batch))


CONFIG_OPTIONS = [
    {"activation_function": "relu"},
    {"activation_function": "gelu"},
    {"activation_function": "silu"},
    {"activation_function": "quick_gelu"},
    {"activation_function": "gelu_pytorch_tanh"},
    {"n_inner": 48},
    {"scale_attn_weights": False},
    {"scale_attn_by_inverse_layer_idx": True},
    {"scale_attn_weights": False, "scale_attn_by_inverse_layer_idx": True},
    {"layer_norm_epsilon": 1e-3},
]


@pytest.mark.parametrize("options", CONFIG_OPTIONS, ids=lambda options: ",".join(map(str, options.items())))
def test_config_options_match_transformers(save_hf: Callable[..., Path], options: dict[str, Any]) -> None:
    directory = save_hf("GPT2LMHeadModel", **options)
    model = AutoModelForCausalLM.from_pretrained(directory)
    for key, value in options.items():
        assert getattr(model.config, key) == value
    batch = _batch("left")
    reference = transformers.GPT2LMHeadModel.from_pretrained(directory).eval()
    _assert_outputs_match(_run(reference, **batch), _run(model, **batch))
    eager = transformers.GPT2LMHeadModel.from_pretrained(directory, attn_implementation="eager").eval()
    _assert_outputs_match(
        _run(eager, **batch, output_attentions=True), _run(model, **batch, output_attentions=True)
    )


def test_attention_scaling_options_change_the_numbers(save_hf: Callable[..., Path]) -> None:
    """scale_attn_weights / scale_attn_by_inverse_layer_idx are really applied (not ignored)."""
    batch = _batch("right")
    logits = {}
    for options in ({}, {"scale_attn_weights": False}, {"scale_attn_by_inverse_layer_idx": True}):
        model = AutoModelForCausalLM.from_pretrained(save_hf("GPT2LMHeadModel", seed=5), **options)
        logits[tuple(options)] = _run(model, **batch).logits
    assert not torch.allclose(logits[()], logits[("scale_attn_weights",)])
    assert not torch.allclose(logits[()], logits[("scale_attn_by_inverse_layer_idx",)])
    weights = _run(model, **batch, output_attentions=True).attentions
    assert weights[1].shape == (2, 4, 9, 9)


def test_reorder_and_upcast_attn_matches_transformers_eager(save_hf: Callable[..., Path]) -> None:
    directory = save_hf("GPT2LMHeadModel", reorder_and_upcast_attn=True)
    model = AutoModelForCausalLM.from_pretrained(directory)
    assert model.config.reorder_and_upcast_attn is True
    eager = transformers.GPT2LMHeadModel.from_pretrained(directory, attn_implementation="eager").eval()
    batch = _batch("left")
    _assert_outputs_match(
        _run(eager, **batch, output_attentions=True), _run(model, **batch, output_attentions=True)
    )
    # The upcast path gives the same logits as the plain one in float32 for every real token.
    plain = AutoModelForCausalLM.from_pretrained(directory, reorder_and_upcast_attn=False)
    real = batch["attention_mask"].bool()
    _assert_close(_run(plain, **batch).logits[real], _run(model, **batch).logits[real], "logits")


@pytest.mark.parametrize(
    ("num_labels", "problem_type", "labels"),
    [
        (3, None, torch.tensor([0, 2])),
        (1, None, torch.tensor([0.5, -1.0])),
        (3, "multi_label_classification", torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])),
    ],
)
def test_sequence_classification_losses(
    save_hf: Callable[..., Path], num_labels: int, problem_type: str | None, labels: torch.Tensor
) -> None:
    directory = save_hf("GPT2ForSequenceClassification", num_labels=num_labels, problem_type=problem_type)
    reference = transformers.GPT2ForSequenceClassification.from_pretrained(directory).eval()
    model = AutoModelForSequenceClassification.from_pretrained(directory)
    for padding_side in ("left", "right"):
        batch = _batch(padding_side)
        expected = _run(reference, **batch, labels=labels)
        actual = _run(model, **batch, labels=labels)
        assert actual.logits.shape == (2, num_labels)
        _assert_outputs_match(expected, actual)


def test_sequence_classification_pools_last_non_pad_token(save_hf: Callable[..., Path]) -> None:
    model = AutoModelForSequenceClassification.from_pretrained(save_hf("GPT2ForSequenceClassification"))
    batch = _batch("right")
    full = _run(model.transformer, **batch).last_hidden_state
    pooled = _run(model, **batch).logits
    _assert_close(model.score(full[0, -1]), pooled[0], "row 0 pools its last token")
    _assert_close(model.score(full[1, 5]), pooled[1], "row 1 pools its last real token")


def test_sequence_classification_without_pad_token(save_hf: Callable[..., Path]) -> None:
    directory = save_hf("GPT2ForSequenceClassification", pad_token_id=None)
    reference = transformers.GPT2ForSequenceClassification.from_pretrained(directory).eval()
    model = AutoModelForSequenceClassification.from_pretrained(directory)
    batch = _batch("right")
    with pytest.raises(ValueError, match="no padding token"):
        _run(reference, **batch)
    with pytest.raises(ValueError, match="no padding token"):
        _run(model, **batch)
    single = {key: value[:1] for key, value in batch.items()}
    _assert_outputs_match(_run(reference, **single), _run(model, **single))


def test_inputs_embeds_and_token_type_ids(save_hf: Callable[..., Path]) -> None:
    directory = save_hf("GPT2ForSequenceClassification")
    reference = transformers.GPT2ForSequenceClassification.from_pretrained(directory).eval()
    model = AutoModelForSequenceClassification.from_pretrained(directory)
    batch = _batch("right")
    embeds = model.transformer.wte(batch["input_ids"]).detach()
    kwargs = {"inputs_embeds": embeds, "attention_mask": batch["attention_mask"]}
    _assert_outputs_match(_run(reference, **kwargs), _run(model, **kwargs))
    token_type_ids = torch.zeros_like(batch["input_ids"])
    token_type_ids[:, 4:] = 1
    _assert_outputs_match(
        _run(reference, **batch, token_type_ids=token_type_ids),
        _run(model, **batch, token_type_ids=token_type_ids),
    )


def _tensors(value: Any) -> list[torch.Tensor]:
    """Flatten an output tuple (caches included) into its tensors, in order."""
    if isinstance(value, torch.Tensor):
        return [value]
    if hasattr(value, "layers"):
        return [tensor for pair in _cache_pairs(value) for tensor in pair]
    return [tensor for item in value for tensor in _tensors(item)]


@pytest.mark.parametrize("class_name", list(HEADS))
def test_return_dict_false_gives_transformers_tuples(save_hf: Callable[..., Path], class_name: str) -> None:
    directory = save_hf(class_name)
    reference = getattr(transformers, class_name).from_pretrained(directory).eval()
    model = HEADS[class_name].from_pretrained(directory)
    batch = _batch("right")
    kwargs = {**batch, **_labels(class_name, batch), "output_hidden_states": True, "return_dict": False}
    expected, actual = _run(reference, **kwargs), _run(model, **kwargs)
    assert isinstance(actual, tuple)
    assert len(expected) == len(actual)
    for index, (item, ours) in enumerate(zip(expected, actual, strict=True)):
        expected_tensors, actual_tensors = _tensors(item), _tensors(ours)
        assert len(expected_tensors) == len(actual_tensors), f"tuple item {index}"
        for tensor, our_tensor in zip(expected_tensors, actual_tensors, strict=True):
            _assert_close(tensor, our_tensor, f"tuple item {index}")


def test_use_cache_false_returns_no_cache(save_hf: Callable[..., Path]) -> None:
    model = AutoModelForCausalLM.from_pretrained(save_hf("GPT2LMHeadModel"))
    batch = _batch("right")
    assert _run(model, **batch, use_cache=False).past_key_values is None
    cache = _run(model, **batch).past_key_values
    assert len(cache) == TINY_GPT2["n_layer"]
    assert cache[0][0].shape == (2, TINY_GPT2["n_head"], 9, 8)
    model_no_cache = AutoModelForCausalLM.from_pretrained(save_hf("GPT2LMHeadModel"), use_cache=False)
    assert _run(model_no_cache, **batch).past_key_values is None


def _positions(attention_mask: torch.Tensor) -> torch.Tensor:
    return (attention_mask.cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)


@pytest.mark.parametrize("padding_side", ["none", "left"])
def test_incremental_decoding_with_cache_equals_full_recompute(
    save_hf: Callable[..., Path], padding_side: str
) -> None:
    directory = save_hf("GPT2LMHeadModel")
    model = AutoModelForCausalLM.from_pretrained(directory)
    reference = transformers.GPT2LMHeadModel.from_pretrained(directory).eval()
    batch = _batch("left")
    input_ids, attention_mask = batch["input_ids"], batch["attention_mask"]
    if padding_side == "none":
        input_ids, attention_mask = torch.randint(3, VOCAB, (2, 9)), torch.ones_like(attention_mask)
    use_positions = padding_side == "left"
    full_kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
    if use_positions:
        full_kwargs["position_ids"] = _positions(attention_mask)
    full = _run(model, **full_kwargs).logits
    _assert_close(_run(reference, **full_kwargs).logits, full, "full forward vs transformers")

    prefix = 4
    prefix_kwargs = {"input_ids": input_ids[:, :prefix], "attention_mask": attention_mask[:, :prefix]}
    if use_positions:
        prefix_kwargs["position_ids"] = _positions(attention_mask)[:, :prefix]
    step = _run(model, **prefix_kwargs, use_cache=True)
    _assert_close(full[:, :prefix], step.logits, "prefix logits")
    cache = step.past_key_values
    for position in range(prefix, input_ids.shape[1]):
        kwargs = {
            "input_ids": input_ids[:, position : position + 1],
            "attention_mask": attention_mask[:, : position + 1],
            "past_key_values": cache,
            "use_cache": True,
        }
        if use_positions:
            kwargs["position_ids"] = _positions(attention_mask)[:, position : position + 1]
        step = _run(model, **kwargs)
        assert step.past_key_values[0][0].shape[-2] == position + 1
        real = attention_mask[:, position].bool()
        _assert_close(full[real, position], step.logits[real, 0], f"logits at position {position}")
        cache = step.past_key_values


def test_cached_chunk_of_several_tokens_with_left_padding(save_hf: Callable[..., Path]) -> None:
    """A past plus several new tokens needs the offset causal mask combined with padding."""
    directory = save_hf("GPT2LMHeadModel")
    model = AutoModelForCausalLM.from_pretrained(directory)
    reference = transformers.GPT2LMHeadModel.from_pretrained(directory).eval()
    batch = _batch("left")
    positions = _positions(batch["attention_mask"])
    first = {key: value[:, :5] for key, value in batch.items()}
    ours = _run(model, **first, position_ids=positions[:, :5])
    theirs = _run(reference, **first, position_ids=positions[:, :5])
    rest = {"input_ids": batch["input_ids"][:, 5:], "attention_mask": batch["attention_mask"]}
    ours = _run(model, **rest, position_ids=positions[:, 5:], past_key_values=ours.past_key_values)
    theirs = _run(reference, **rest, position_ids=positions[:, 5:], past_key_values=theirs.past_key_values)
    _assert_outputs_match(theirs, ours)
    full = _run(model, **batch, position_ids=positions).logits
    _assert_close(full[:, 5:], ours.logits, "chunk vs full recompute")


def test_greedy_decoding_with_prepare_inputs_matches_transformers_generate(
    save_hf: Callable[..., Path],
) -> None:
    directory = save_hf("GPT2LMHeadModel")
    model = AutoModelForCausalLM.from_pretrained(directory)
    reference = transformers.GPT2LMHeadModel.from_pretrained(directory).eval()
    batch = _batch("left", length=6)
    new_tokens = 5
    with torch.no_grad():
        expected = reference.generate(
            **batch, max_new_tokens=new_tokens, do_sample=False, pad_token_id=PAD, eos_token_id=None
        )
    input_ids, attention_mask, cache = batch["input_ids"], batch["attention_mask"], None
    for _ in range(new_tokens):
        inputs = model.prepare_inputs_for_generation(
            input_ids, past_key_values=cache, attention_mask=attention_mask, use_cache=True
        )
        assert inputs["input_ids"].shape[1] == (input_ids.shape[1] if cache is None else 1)
        output = _run(model, **inputs)
        cache = output.past_key_values
        next_token = output.logits[:, -1].argmax(-1, keepdim=True)
        input_ids = torch.cat([input_ids, next_token], dim=-1)
        attention_mask = torch.cat([attention_mask, torch.ones_like(next_token)], dim=-1)
    assert torch.equal(expected, input_ids)


def test_legacy_attention_buffers_are_ignored(save_hf: Callable[..., Path], tmp_path: Path) -> None:
    """Old checkpoints (no ``transformer.`` prefix) carry ``attn.bias`` / ``attn.masked_bias`` buffers."""
    directory = save_hf("GPT2Model")
    state = load_file(directory / "model.safetensors")
    assert not any(key.startswith("transformer.") for key in state)
    for index in range(TINY_GPT2["n_layer"]):
        state[f"h.{index}.attn.bias"] = torch.tril(torch.ones(64, 64, dtype=torch.bool)).view(1, 1, 64, 64)
        state[f"h.{index}.attn.masked_bias"] = torch.tensor(-1e4)
    save_file(state, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    (tmp_path / "config.json").write_text((directory / "config.json").read_text())
    model, info = AutoModelForCausalLM.from_pretrained(tmp_path, output_loading_info=True)
    assert info["unexpected_keys"] == [] and info["missing_keys"] == []
    assert model.lm_head.weight is model.transformer.wte.weight
    reference = transformers.GPT2LMHeadModel.from_pretrained(directory).eval()
    batch = _batch("right")
    _assert_outputs_match(_run(reference, **batch), _run(model, **batch))


def test_base_checkpoint_into_classification_head_initialises_the_new_head(
    save_hf: Callable[..., Path],
) -> None:
    model, info = AutoModelForTokenClassification.from_pretrained(
        save_hf("GPT2Model"), output_loading_info=True
    )
    assert info["missing_keys"] == ["classifier.bias", "classifier.weight"]
    assert torch.all(model.classifier.bias == 0)
    assert 0 < model.classifier.weight.std().item() < 0.1


def test_config_aliases_and_defaults() -> None:
    config = AutoConfig.for_model("gpt2", hidden_size=48, num_attention_heads=6, num_hidden_layers=3)
    assert (config.n_embd, config.n_head, config.n_layer) == (48, 6, 3)
    assert config.max_position_embeddings == config.n_positions == 1024
    assert config.n_inner is None and config.activation_function == "gelu_new"
    reference = transformers.GPT2Config()
    ours = AutoConfig.for_model("gpt2")
    for key in (
        "vocab_size",
        "layer_norm_epsilon",
        "bos_token_id",
        "eos_token_id",
        "summary_type",
        "use_cache",
    ):
        assert getattr(ours, key) == getattr(reference, key)


def test_inner_size_defaults_to_four_times_hidden() -> None:
    config = AutoConfig.for_model("gpt2", **TINY_GPT2)
    model = AutoModel.from_config(config)
    assert tuple(model.h[0].mlp.c_fc.weight.shape) == (32, 128)


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"add_cross_attention": True}, "add_cross_attention"),
        ({"activation_function": "no_such_activation"}, "activation_function"),
    ],
)
def test_unsupported_options_raise_naming_the_key(options: dict[str, Any], key: str) -> None:
    config = AutoConfig.for_model("gpt2", **TINY_GPT2, **options)
    with pytest.raises(UnsupportedConfigError, match=key):
        AutoModelForCausalLM.from_config(config)
