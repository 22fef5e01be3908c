"""Parity of autohub-bart with transformers' BART: every head, padding, loss and gradients, cache,
generation (greedy, sampling, bart-large-cnn's beam search), bf16, both save directions, config keys.

The checkpoints are tiny random models saved by transformers with a config shaped like
facebook/bart-large-cnn (its keys and options, shrunk sizes) and its generation_config.json.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import transformers

from autohub_core import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForQuestionAnswering,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
)
from autohub_core.errors import ConfigError, ModelInputError, UnsupportedFeatureError

#: facebook/bart-large-cnn's config.json keys, sizes shrunk (legacy keys transformers ignores kept).
TINY: dict[str, Any] = {
    "vocab_size": 99,
    "d_model": 32,
    "encoder_layers": 2,
    "decoder_layers": 2,
    "encoder_attention_heads": 4,
    "decoder_attention_heads": 4,
    "encoder_ffn_dim": 37,
    "decoder_ffn_dim": 37,
    "max_position_embeddings": 64,
    "activation_function": "gelu",
    "dropout": 0.0,
    "attention_dropout": 0.0,
    "activation_dropout": 0.0,
    "classifier_dropout": 0.0,
    "scale_embedding": False,
    "pad_token_id": 1,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "decoder_start_token_id": 2,
    "forced_bos_token_id": 0,
    "forced_eos_token_id": 2,
    "normalize_before": False,
    "add_final_layer_norm": False,
    "num_labels": 3,
}
#: facebook/bart-large-cnn's generation_config.json (max / min lengths shrunk).
CNN_GENERATION = {
    "bos_token_id": 0,
    "decoder_start_token_id": 2,
    "early_stopping": True,
    "eos_token_id": 2,
    "forced_bos_token_id": 0,
    "forced_eos_token_id": 2,
    "length_penalty": 2.0,
    "max_length": 14,
    "min_length": 6,
    "no_repeat_ngram_size": 3,
    "num_beams": 4,
    "pad_token_id": 1,
}
HEADS = {
    "BartModel": AutoModel,
    "BartForConditionalGeneration": AutoModelForSeq2SeqLM,
    "BartForSequenceClassification": AutoModelForSequenceClassification,
    "BartForQuestionAnswering": AutoModelForQuestionAnswering,
    "BartForCausalLM": AutoModelForCausalLM,
}
OUTPUT_FIELDS = (
    "last_hidden_state",
    "logits",
    "start_logits",
    "end_logits",
    "encoder_last_hidden_state",
    "loss",
)


@pytest.fixture(scope="module")
def save_hf(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Save a tiny random transformers BART of ``class_name``; returns its directory."""
    cache: dict[tuple, Path] = {}

    def save(class_name: str = "BartForConditionalGeneration", **overrides: Any) -> Path:
        key = (class_name, json.dumps(overrides, sort_keys=True))
        if key not in cache:
            config = transformers.BartConfig(**{**TINY, **overrides})
            torch.manual_seed(0)
            model = getattr(transformers, class_name)(config).eval()
            with torch.no_grad():  # a non-zero final_logits_bias, so that it is checked
                if hasattr(model, "final_logits_bias"):
                    model.final_logits_bias.normal_()
            if model.can_generate():
                model.generation_config = transformers.GenerationConfig(**CNN_GENERATION)
            directory = tmp_path_factory.mktemp(class_name)
            model.save_pretrained(directory)
            cache[key] = directory
        return cache[key]

    return save


def _load_both(directory: Path, class_name: str, **kwargs: Any) -> tuple[Any, Any]:
    ours = HEADS[class_name].from_pretrained(directory, **kwargs)
    theirs = getattr(transformers, class_name).from_pretrained(directory, **kwargs).eval()
    return ours, theirs


def _inputs(class_name: str = "BartForConditionalGeneration") -> dict[str, torch.Tensor]:
    """Three rows, two left-padded, each ending with </s>; decoder inputs with padding too."""
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(3, TINY["vocab_size"], (3, 8), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, :3] = 0
    attention_mask[2, :1] = 0
    input_ids[attention_mask == 0] = TINY["pad_token_id"]
    input_ids[:, -1] = TINY["eos_token_id"]
    if class_name == "BartForCausalLM":
        return {"input_ids": input_ids, "attention_mask": attention_mask}
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    if class_name in ("BartModel", "BartForConditionalGeneration"):
        decoder_input_ids = torch.randint(3, TINY["vocab_size"], (3, 5), generator=generator)
        decoder_attention_mask = torch.ones_like(decoder_input_ids)
        decoder_attention_mask[1, -2:] = 0
        inputs.update(decoder_input_ids=decoder_input_ids, decoder_attention_mask=decoder_attention_mask)
    return inputs


def _labels(class_name: str, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    if class_name == "BartForConditionalGeneration":
        labels = torch.randint(0, TINY["vocab_size"], (3, 5), generator=generator)
        labels[0, -2:] = -100
        return {"labels": labels}
    if class_name == "BartForCausalLM":
        return {"labels": inputs["input_ids"].masked_fill(inputs["attention_mask"] == 0, -100)}
    if class_name == "BartForSequenceClassification":
        return {"labels": torch.tensor([0, 2, 1])}
    if class_name == "BartForQuestionAnswering":
        return {"start_positions": torch.tensor([1, 4, 6]), "end_positions": torch.tensor([3, 7, 9])}
    return {}


def _assert_outputs_close(ours: Any, theirs: Any, atol: float = 1e-5) -> None:
    compared = 0
    for name in OUTPUT_FIELDS:
        expected = getattr(theirs, name, None)
        if isinstance(expected, torch.Tensor):
            torch.testing.assert_close(getattr(ours, name), expected, rtol=0.0, atol=atol, msg=name)
            compared += 1
    assert compared


def _gradients(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.grad for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("class_name", list(HEADS))
def test_head_outputs_loss_and_gradients_match_transformers(
    save_hf: Callable[..., Path], class_name: str
) -> None:
    """fp32 outputs with padded encoder and decoder inputs (≤ 1e-5), the loss and every gradient."""
    ours, theirs = _load_both(save_hf(class_name), class_name)
    inputs = _inputs(class_name)
    with torch.no_grad():
        _assert_outputs_close(ours(**inputs), theirs(**inputs))
    labelled = {**inputs, **_labels(class_name, inputs)}
    if class_name == "BartModel":
        return
    ours.train(), theirs.train()
    ours(**labelled).loss.backward()
    mine, reference = ours(**labelled).loss, theirs(**labelled).loss
    torch.testing.assert_close(mine, reference, rtol=0.0, atol=1e-5)
    reference.backward()
    expected = _gradients(theirs)
    actual = _gradients(ours)
    assert actual.keys() == expected.keys()
    for name, grad in expected.items():
        torch.testing.assert_close(actual[name], grad, rtol=1e-4, atol=1e-5, msg=name)


def test_hidden_states_and_attentions_match_transformers(save_hf: Callable[..., Path]) -> None:
    """Every encoder / decoder hidden state and self / cross attention map (eager attention)."""
    directory = save_hf()
    ours = AutoModelForSeq2SeqLM.from_pretrained(directory)
    theirs = transformers.BartForConditionalGeneration.from_pretrained(directory, attn_implementation="eager")
    inputs = _inputs()
    with torch.no_grad():
        mine = ours(**inputs, output_hidden_states=True, output_attentions=True)
        reference = theirs.eval()(**inputs, output_hidden_states=True, output_attentions=True)
    for name in (
        "encoder_hidden_states",
        "decoder_hidden_states",
        "encoder_attentions",
        "decoder_attentions",
        "cross_attentions",
    ):
        expected = getattr(reference, name)
        assert len(getattr(mine, name)) == len(expected), name
        for index, (actual, wanted) in enumerate(zip(getattr(mine, name), expected, strict=True)):
            torch.testing.assert_close(actual, wanted, rtol=0.0, atol=1e-5, msg=f"{name}[{index}]")


def test_cache_logits_equal_full_recompute(save_hf: Callable[..., Path]) -> None:
    """Decoding token by token with past_key_values gives the logits of one full forward pass."""
    model = AutoModelForSeq2SeqLM.from_pretrained(save_hf())
    inputs = _inputs()
    decoder_input_ids = inputs["decoder_input_ids"]
    with torch.no_grad():
        full = model(**inputs, use_cache=False).logits
        encoder_outputs = model.get_encoder()(inputs["input_ids"], inputs["attention_mask"])
        past, steps = None, []
        for position in range(decoder_input_ids.shape[1]):
            step = model(
                attention_mask=inputs["attention_mask"],
                encoder_outputs=encoder_outputs,
                decoder_input_ids=decoder_input_ids[:, position : position + 1],
                decoder_attention_mask=inputs["decoder_attention_mask"][:, : position + 1],
                past_key_values=past,
                use_cache=True,
            )
            past = step.past_key_values
            steps.append(step.logits)
    assert len(past) == TINY["decoder_layers"] and len(past[0]) == 4
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=0.0, atol=1e-5)


def _prompts() -> dict[str, torch.Tensor]:
    inputs = _inputs("BartForSequenceClassification")
    inputs["input_ids"][:, 0] = torch.where(inputs["attention_mask"][:, 0] == 1, 0, TINY["pad_token_id"])
    return inputs


@pytest.mark.parametrize(
    "options",
    [
        {"max_new_tokens": 8, "num_beams": 1, "min_length": 0},  # greedy, forced BOS / EOS
        {"max_new_tokens": 8, "num_beams": 1, "do_sample": True, "top_k": 20, "min_length": 0},
        {},  # bart-large-cnn's beam search: 4 beams, length_penalty 2, no_repeat_ngram_size 3, min_length
        {"num_beams": 3, "num_return_sequences": 2, "early_stopping": False, "max_length": 10},
    ],
    ids=["greedy", "sampling", "cnn-beams", "beams-returned"],
)
def test_generate_matches_transformers(save_hf: Callable[..., Path], options: dict[str, Any]) -> None:
    """The same tokens as transformers' generate() from generation_config.json (seeded sampling)."""
    ours, theirs = _load_both(save_hf(), "BartForConditionalGeneration")
    prompts = _prompts()
    torch.manual_seed(3)
    mine = ours.generate(**prompts, **options)
    torch.manual_seed(3)
    reference = theirs.generate(**prompts, **options)
    assert torch.equal(mine, reference), (mine, reference)
    if "max_new_tokens" in options and not options.get("do_sample"):
        assert (mine[:, 1] == CNN_GENERATION["forced_bos_token_id"]).all()


def test_generate_without_generation_config_uses_the_model_config(
    save_hf: Callable[..., Path], tmp_path: Path
) -> None:
    """Without generation_config.json, config.json's forced_bos_token_id / forced_eos_token_id (as
    bart-large-cnn's has them) steer generate() as in transformers."""
    source = save_hf()
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    config.update(forced_bos_token_id=0, forced_eos_token_id=2)
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (tmp_path / "model.safetensors").write_bytes((source / "model.safetensors").read_bytes())
    ours, theirs = _load_both(tmp_path, "BartForConditionalGeneration")
    prompts = _prompts()
    mine = ours.generate(**prompts, max_new_tokens=6)
    assert torch.equal(mine, theirs.generate(**prompts, max_new_tokens=6))
    assert (mine[:, 1] == 0).all() and (mine[:, -1] == 2).all()


def test_causal_lm_generate_matches_transformers(save_hf: Callable[..., Path]) -> None:
    """BartForCausalLM (decoder only) greedy tokens from a left-padded batch."""
    ours, theirs = _load_both(save_hf("BartForCausalLM"), "BartForCausalLM")
    prompts = _inputs("BartForCausalLM")
    options = {"max_new_tokens": 6, "forced_bos_token_id": None, "forced_eos_token_id": None, "num_beams": 1}
    assert torch.equal(ours.generate(**prompts, **options), theirs.generate(**prompts, **options))


@pytest.mark.parametrize(
    "overrides",
    [{"scale_embedding": True, "activation_function": "relu"}, {"tie_word_embeddings": False}],
    ids=["scaled-relu", "untied"],
)
def test_config_options_match_transformers(save_hf: Callable[..., Path], overrides: dict[str, Any]) -> None:
    """scale_embedding, activation_function and untied embeddings (four matrices, as transformers)."""
    directory = save_hf(**overrides)
    ours, theirs = _load_both(directory, "BartForConditionalGeneration")
    inputs = _inputs()
    with torch.no_grad():
        _assert_outputs_close(ours(**inputs), theirs(**inputs))
    tied = ours.get_input_embeddings().weight is ours.lm_head.weight
    assert tied is overrides.get("tie_word_embeddings", True)
    assert (ours.model.encoder.embed_tokens is ours.model.shared) is tied


def test_bfloat16_loading_matches_transformers(save_hf: Callable[..., Path]) -> None:
    ours, theirs = _load_both(save_hf(), "BartForConditionalGeneration", dtype=torch.bfloat16)
    assert ours.dtype == torch.bfloat16 and ours.final_logits_bias.dtype == torch.bfloat16
    inputs = _inputs()
    with torch.no_grad():
        torch.testing.assert_close(ours(**inputs).logits, theirs(**inputs).logits, rtol=0.0, atol=2e-2)


@pytest.mark.parametrize("class_name", ["BartForConditionalGeneration", "BartForCausalLM"])
def test_autohub_checkpoint_loads_in_transformers(
    save_hf: Callable[..., Path], class_name: str, tmp_path: Path
) -> None:
    """autohub saves (weights, config, generation config); transformers loads the same model."""
    ours = HEADS[class_name].from_pretrained(save_hf(class_name))
    ours.save_pretrained(tmp_path)
    theirs, info = getattr(transformers, class_name).from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    inputs = _inputs(class_name)
    with torch.no_grad():
        _assert_outputs_close(ours(**inputs), theirs.eval()(**inputs))
    if class_name == "BartForConditionalGeneration":
        assert theirs.generation_config.num_beams == 4 and theirs.generation_config.forced_bos_token_id == 0


def test_resize_token_embeddings_resizes_final_logits_bias(save_hf: Callable[..., Path]) -> None:
    ours, theirs = _load_both(save_hf(), "BartForConditionalGeneration")
    ours.resize_token_embeddings(104)
    theirs.resize_token_embeddings(104, mean_resizing=False)
    assert ours.final_logits_bias.shape == (1, 104) and ours.config.vocab_size == 104
    torch.testing.assert_close(ours.final_logits_bias, theirs.final_logits_bias)
    ours.resize_token_embeddings(97)
    assert ours.final_logits_bias.shape == (1, 97) and ours.lm_head.weight.shape[0] == 97


def test_sequence_classification_needs_the_same_eos_count(save_hf: Callable[..., Path]) -> None:
    model = AutoModelForSequenceClassification.from_pretrained(save_hf("BartForSequenceClassification"))
    inputs = _inputs("BartForSequenceClassification")
    inputs["input_ids"][0, 3] = TINY["eos_token_id"]
    with pytest.raises(ModelInputError, match="same number of <eos> tokens"):
        model(**inputs)
    with pytest.raises(UnsupportedFeatureError, match="needs input_ids"):
        model(inputs_embeds=torch.zeros(1, 3, TINY["d_model"]))


def test_question_answering_has_two_labels_and_heads_default_to_three() -> None:
    config = AutoConfig.for_model("bart", **{k: v for k, v in TINY.items() if k != "num_labels"})
    assert config.num_labels == 3 and config.initializer_range == config.init_std
    model = AutoModelForQuestionAnswering.from_config(config)
    assert model.config.num_labels == 2 and model.qa_outputs.out_features == 2


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        ("activation_function", "swishy", ConfigError),
        ("d_model", 30, ConfigError),  # not a multiple of the 4 heads
        ("encoder_layerdrop", 1.5, ConfigError),
        ("forced_bos_token_id", -1, ConfigError),
        ("scale_embedding", "yes", ConfigError),
    ],
)
def test_bad_config_values_are_refused(key: str, value: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match=key):
        AutoModel.from_config(AutoConfig.for_model("bart", **{**TINY, key: value}))


def test_decoder_refuses_more_positions_than_it_has(save_hf: Callable[..., Path]) -> None:
    model = AutoModelForSeq2SeqLM.from_pretrained(save_hf())
    too_long = torch.full((1, TINY["max_position_embeddings"] + 1), 5)
    with pytest.raises(ModelInputError, match="max_position_embeddings"):
        model(input_ids=too_long[:, :4], decoder_input_ids=too_long)
