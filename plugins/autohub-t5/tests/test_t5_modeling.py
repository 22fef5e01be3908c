"""T5 models against transformers (the oracle): every head, both directions, losses, config
options, output_hidden_states / output_attentions, and incremental decoding with the cache."""

from __future__ import annotations

import json

import pytest
import torch
import transformers
from safetensors import safe_open

from autohub_core import (
    AutoConfig,
    AutoModel,
    AutoModelForQuestionAnswering,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTextEncoding,
    AutoModelForTokenClassification,
)
from autohub_core.errors import UnsupportedConfigError

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()

VOCAB = 99
EOS = 1
TOL = 1e-5

# d_kv (12) differs from d_model / num_heads (32 / 4); the decoder is deeper than the encoder.
BASE_CONFIG = dict(
    vocab_size=VOCAB,
    d_model=32,
    d_kv=12,
    d_ff=48,
    num_layers=2,
    num_decoder_layers=3,
    num_heads=4,
    relative_attention_num_buckets=8,
    relative_attention_max_distance=20,
    decoder_start_token_id=0,
    num_labels=3,
)
VARIANTS = {
    "relu-tied": dict(feed_forward_proj="relu"),
    "gated-gelu-untied": dict(feed_forward_proj="gated-gelu", tie_word_embeddings=False),
    "gated-silu": dict(feed_forward_proj="gated-silu"),
}
HEADS = {
    "base": (transformers.T5Model, AutoModel),
    "seq2seq-lm": (transformers.T5ForConditionalGeneration, AutoModelForSeq2SeqLM),
    "text-encoding": (transformers.T5EncoderModel, AutoModelForTextEncoding),
    "sequence-classification": (transformers.T5ForSequenceClassification, AutoModelForSequenceClassification),
    "token-classification": (transformers.T5ForTokenClassification, AutoModelForTokenClassification),
    "question-answering": (transformers.T5ForQuestionAnswering, AutoModelForQuestionAnswering),
}
ENCODER_ONLY = {"text-encoding", "token-classification"}
OUTPUT_FIELDS = (
    "loss",
    "logits",
    "start_logits",
    "end_logits",
    "last_hidden_state",
    "encoder_last_hidden_state",
    "hidden_states",
    "attentions",
    "encoder_hidden_states",
    "encoder_attentions",
    "decoder_hidden_states",
    "decoder_attentions",
    "cross_attentions",
)


def _config_kwargs(variant: str, head: str) -> dict:
    """The tiny config; the span head needs exactly two labels (start, end)."""
    return {**BASE_CONFIG, **VARIANTS[variant], "num_labels": 2 if head == "question-answering" else 3}


def _reference_config(variant: str, head: str = "seq2seq-lm") -> transformers.T5Config:
    return transformers.T5Config(**_config_kwargs(variant, head))


def _inputs(head: str, with_labels: bool) -> dict[str, torch.Tensor]:
    """A padded batch: every row ends with one </s>; row 1 is right-padded, row 2 left-padded."""
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(2, VOCAB, (3, 11), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    input_ids[:, -1] = EOS
    input_ids[1, 7] = EOS
    input_ids[1, 8:] = 0
    attention_mask[1, 8:] = 0
    attention_mask[2, :3] = 0
    input_ids[2, :3] = 0
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    if head in ("base", "seq2seq-lm", "question-answering"):
        decoder_input_ids = torch.randint(2, VOCAB, (3, 6), generator=generator)
        decoder_attention_mask = torch.ones_like(decoder_input_ids)
        decoder_attention_mask[0, 4:] = 0
        inputs |= {"decoder_input_ids": decoder_input_ids, "decoder_attention_mask": decoder_attention_mask}
    if not with_labels:
        return inputs
    if head == "seq2seq-lm":
        labels = torch.randint(2, VOCAB, (3, 7), generator=generator)
        labels[0, 5:] = -100
        inputs.pop("decoder_input_ids")
        inputs.pop("decoder_attention_mask")
        inputs["labels"] = labels
    elif head == "sequence-classification":
        inputs["labels"] = torch.tensor([0, 2, 1])
    elif head == "token-classification":
        labels = torch.randint(0, 3, (3, 11), generator=generator)
        labels[1, 8:] = -100
        inputs["labels"] = labels
    elif head == "question-answering":
        inputs["start_positions"] = torch.tensor([1, 3, 20])
        inputs["end_positions"] = torch.tensor([2, 4, 5])
    return inputs


def _assert_same(expected, actual, fields=OUTPUT_FIELDS) -> None:
    compared = 0
    for name in fields:
        reference = getattr(expected, name, None)
        if reference is None or (isinstance(reference, tuple) and not reference):
            continue
        ours = getattr(actual, name)
        if isinstance(reference, tuple):
            assert len(ours) == len(reference), name
            for index, (a, b) in enumerate(zip(reference, ours, strict=True)):
                assert (a - b).abs().max().item() <= TOL, f"{name}[{index}]"
        else:
            assert (reference - ours).abs().max().item() <= TOL, name
        compared += 1
    assert compared >= 2


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """(variant, head) -> directory of a tiny random transformers model saved with save_pretrained."""
    saved = {}
    for variant in VARIANTS:
        for head, (reference_class, _) in HEADS.items():
            torch.manual_seed(0)
            model = reference_class(_reference_config(variant, head))
            directory = tmp_path_factory.mktemp(f"{variant}-{head}")
            model.save_pretrained(directory)
            saved[variant, head] = directory
    return saved


def _reference(directory, head: str, eager: bool = False):
    reference_class = HEADS[head][0]
    kwargs = {"attn_implementation": "eager"} if eager else {}
    return reference_class.from_pretrained(directory, **kwargs).eval()


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("head", HEADS)
def test_transformers_checkpoint_loads_with_same_outputs(checkpoints, variant, head):
    directory = checkpoints[variant, head]
    reference = _reference(directory, head)
    model, info = HEADS[head][1].from_pretrained(directory, output_loading_info=True)
    assert type(model).__name__ == type(reference).__name__
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    assert set(model.state_dict()) == set(reference.state_dict())
    with torch.no_grad():
        for with_labels in (False, True):
            inputs = _inputs(head, with_labels)
            expected = reference(**inputs, output_hidden_states=True)
            actual = model(**inputs, output_hidden_states=True)
            _assert_same(expected, actual)
            if with_labels and head not in ("base", "text-encoding"):
                assert actual.loss is not None and abs(actual.loss.item() - expected.loss.item()) <= TOL


@pytest.mark.parametrize("head", HEADS)
def test_attentions_match_eager_transformers(checkpoints, head):
    directory = checkpoints["relu-tied", head]
    reference = _reference(directory, head, eager=True)
    model = HEADS[head][1].from_pretrained(directory)
    inputs = _inputs(head, with_labels=False)
    with torch.no_grad():
        expected = reference(**inputs, output_attentions=True)
        actual = model(**inputs, output_attentions=True)
    names = (
        ("attentions",)
        if head in ENCODER_ONLY
        else ("encoder_attentions", "decoder_attentions", "cross_attentions")
    )
    for name in names:
        assert len(getattr(actual, name)) == len(getattr(expected, name)) > 0
    _assert_same(expected, actual)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("head", HEADS)
def test_autohub_checkpoint_loads_in_transformers(tmp_path, variant, head):
    config = AutoConfig.for_model("t5", **_config_kwargs(variant, head))
    torch.manual_seed(0)
    model = HEADS[head][1].from_config(config).eval()
    model.save_pretrained(tmp_path)
    reference = _reference(tmp_path, head)
    assert set(reference.state_dict()) == set(model.state_dict())
    with torch.no_grad():
        for with_labels in (False, True):
            inputs = _inputs(head, with_labels)
            _assert_same(
                reference(**inputs, output_hidden_states=True), model(**inputs, output_hidden_states=True)
            )


@pytest.mark.parametrize("variant", ["relu-tied", "gated-gelu-untied"])
def test_saved_keys_match_transformers(checkpoints, tmp_path, variant):
    """Tied embeddings are written once, as shared.weight; an untied lm_head is written too."""
    directory = checkpoints[variant, "seq2seq-lm"]
    model = AutoModelForSeq2SeqLM.from_pretrained(directory)
    model.save_pretrained(tmp_path)
    with (
        safe_open(directory / "model.safetensors", "pt") as theirs,
        safe_open(tmp_path / "model.safetensors", "pt") as ours,
    ):
        assert set(ours.keys()) == set(theirs.keys())
        assert "encoder.embed_tokens.weight" not in set(ours.keys())
    assert model.encoder.embed_tokens.weight is model.shared.weight
    assert model.decoder.embed_tokens.weight is model.shared.weight
    # transformers 5 always ties lm_head when the checkpoint has no lm_head.weight of its own.
    assert model.lm_head.weight is model.shared.weight


def test_untied_flags_follow_transformers_5(tmp_path):
    """A v1.1-style config (tie_word_embeddings=False) means: no output scaling, separate lm_head."""
    config = AutoConfig.for_model(
        "t5", **BASE_CONFIG, feed_forward_proj="gated-gelu", tie_word_embeddings=False
    )
    assert config.scale_decoder_outputs is False and config.is_gated_act and config.dense_act_fn == "gelu_new"
    torch.manual_seed(0)
    model = AutoModelForSeq2SeqLM.from_config(config).eval()
    assert model.lm_head.weight is not model.shared.weight
    model.save_pretrained(tmp_path)
    with safe_open(tmp_path / "model.safetensors", "pt") as saved:
        assert "lm_head.weight" in set(saved.keys())
    reference = transformers.T5ForConditionalGeneration.from_pretrained(tmp_path).eval()
    assert reference.config.scale_decoder_outputs is False
    assert reference.lm_head.weight is not reference.shared.weight
    inputs = _inputs("seq2seq-lm", with_labels=True)
    with torch.no_grad():
        _assert_same(reference(**inputs), model(**inputs))


def test_checkpoint_with_its_own_lm_head_stays_untied(tmp_path):
    """transformers 5 writes tie_word_embeddings=True even for Flan-T5; a distinct lm_head.weight
    in the checkpoint must still be used (not replaced by the embeddings)."""
    torch.manual_seed(0)
    reference = transformers.T5ForConditionalGeneration(_reference_config("relu-tied"))
    reference.lm_head.weight = torch.nn.Parameter(torch.randn(VOCAB, 32))
    reference.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["tie_word_embeddings"] is True
    reference = transformers.T5ForConditionalGeneration.from_pretrained(tmp_path).eval()
    model = AutoModelForSeq2SeqLM.from_pretrained(tmp_path)
    assert model.lm_head.weight is not model.shared.weight
    inputs = _inputs("seq2seq-lm", with_labels=True)
    with torch.no_grad():
        _assert_same(reference(**inputs), model(**inputs))


def test_base_checkpoint_loads_into_heads(checkpoints):
    directory = checkpoints["relu-tied", "base"]
    base = transformers.T5Model.from_pretrained(directory).eval()
    classifier = AutoModelForSequenceClassification.from_pretrained(directory)
    encoder = AutoModelForTextEncoding.from_pretrained(directory)
    inputs = _inputs("sequence-classification", with_labels=False)
    decoder_input_ids = classifier._shift_right(inputs["input_ids"])
    with torch.no_grad():
        expected = base(**inputs, decoder_input_ids=decoder_input_ids)
        assert torch.allclose(
            classifier.transformer(**inputs, decoder_input_ids=decoder_input_ids).last_hidden_state,
            expected.last_hidden_state,
            atol=TOL,
        )
        assert torch.allclose(
            encoder(**inputs).last_hidden_state, expected.encoder_last_hidden_state, atol=TOL
        )


def test_labels_are_shifted_into_decoder_inputs(checkpoints):
    model = AutoModelForSeq2SeqLM.from_pretrained(checkpoints["relu-tied", "seq2seq-lm"])
    labels = torch.tensor([[5, 6, -100, -100], [7, 8, 9, 1]])
    shifted = model._shift_right(labels)
    assert shifted.tolist() == [[0, 5, 6, 0], [0, 7, 8, 9]]
    inputs = _inputs("seq2seq-lm", with_labels=False)
    with torch.no_grad():
        with_labels = model(
            input_ids=inputs["input_ids"][:2], attention_mask=inputs["attention_mask"][:2], labels=labels
        )
        explicit = model(
            input_ids=inputs["input_ids"][:2],
            attention_mask=inputs["attention_mask"][:2],
            decoder_input_ids=shifted,
        )
    assert with_labels.past_key_values is None
    assert torch.equal(with_labels.logits, explicit.logits)


@pytest.mark.parametrize("variant", ["relu-tied", "gated-gelu-untied"])
def test_incremental_decoding_with_cache_equals_full_forward(checkpoints, variant):
    directory = checkpoints[variant, "seq2seq-lm"]
    model = AutoModelForSeq2SeqLM.from_pretrained(directory)
    reference = _reference(directory, "seq2seq-lm")
    inputs = _inputs("seq2seq-lm", with_labels=False)
    decoder_input_ids = torch.cat([torch.zeros(3, 1, dtype=torch.long), inputs["decoder_input_ids"]], dim=1)
    with torch.no_grad():
        full = model(
            input_ids=inputs["input_ids"],
            attention_mask=inputs["attention_mask"],
            decoder_input_ids=decoder_input_ids,
        )
        expected = reference(
            input_ids=inputs["input_ids"],
            attention_mask=inputs["attention_mask"],
            decoder_input_ids=decoder_input_ids,
        )
        assert (full.logits - expected.logits).abs().max().item() <= TOL

        encoder_outputs = model.get_encoder()(
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]
        )
        step = model(
            encoder_outputs=encoder_outputs,
            attention_mask=inputs["attention_mask"],
            decoder_input_ids=decoder_input_ids[:, :3],
            use_cache=True,
        )
        assert (step.logits - full.logits[:, :3]).abs().max().item() <= TOL
        past = step.past_key_values
        assert len(past) == 3 and all(len(layer) == 4 for layer in past)
        assert past[0][0].shape == (3, 4, 3, 12) and past[0][2].shape == (3, 4, 11, 12)
        for position in range(3, decoder_input_ids.shape[1]):
            step_inputs = model.prepare_inputs_for_generation(
                decoder_input_ids[:, : position + 1],
                past_key_values=past,
                attention_mask=inputs["attention_mask"],
                encoder_outputs=encoder_outputs,
                use_cache=True,
            )
            assert step_inputs["decoder_input_ids"].shape == (3, 1)
            step = model(**step_inputs)
            past = step.past_key_values
            assert past[0][0].shape[2] == position + 1
            assert (step.logits[:, 0] - full.logits[:, position]).abs().max().item() <= TOL


def test_return_dict_false_gives_tuples(checkpoints):
    model = AutoModelForSeq2SeqLM.from_pretrained(checkpoints["relu-tied", "seq2seq-lm"])
    inputs = _inputs("seq2seq-lm", with_labels=True)
    with torch.no_grad():
        as_tuple = model(**inputs, return_dict=False)
        as_output = model(**inputs)
    assert torch.equal(as_tuple[0], as_output.loss) and torch.equal(as_tuple[1], as_output.logits)


def test_config_keys_and_aliases():
    config = AutoConfig.for_model("t5", d_model=64, num_heads=2, num_layers=3, d_kv=7)
    assert (config.hidden_size, config.num_attention_heads, config.num_hidden_layers, config.head_dim) == (
        64,
        2,
        3,
        7,
    )
    assert config.num_decoder_layers == 3
    assert config.is_encoder_decoder and config.decoder_start_token_id == 0
    assert (config.pad_token_id, config.eos_token_id) == (0, 1)
    assert config.scale_decoder_outputs is True and config.dense_act_fn == "relu" and not config.is_gated_act
    reference = transformers.T5Config(
        **BASE_CONFIG, feed_forward_proj="gated-gelu", tie_word_embeddings=False
    )
    values = json.loads(reference.to_json_string())
    loaded = AutoConfig.for_model(values.pop("model_type"), **values)
    assert loaded.scale_decoder_outputs is False and loaded.dense_act_fn == "gelu_new" and loaded.is_gated_act


@pytest.mark.parametrize("value", ["gated-gelu-fast", "fancy-relu", "", "gated-"])
def test_malformed_feed_forward_proj_is_refused(value):
    with pytest.raises(UnsupportedConfigError, match="feed_forward_proj"):
        AutoConfig.for_model("t5", feed_forward_proj=value)


def test_unknown_activation_is_refused_naming_the_key():
    config = AutoConfig.for_model("t5", **BASE_CONFIG, feed_forward_proj="gated-nope")
    with pytest.raises(UnsupportedConfigError, match="feed_forward_proj"):
        AutoModelForSeq2SeqLM.from_config(config)


def test_sequence_classification_needs_equal_eos_counts(checkpoints):
    model = AutoModelForSequenceClassification.from_pretrained(
        checkpoints["relu-tied", "sequence-classification"]
    )
    input_ids = torch.tensor([[5, 6, 1, 1], [5, 6, 7, 1]])
    with pytest.raises(ValueError, match="same number of <eos>"):
        model(input_ids=input_ids)


def _training_step(model, inputs: dict, checkpointing: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Loss (``num_items_in_batch=7``) and parameter gradients of one training-mode step, dropout on."""
    model.train()
    model.zero_grad()
    if checkpointing:
        model.gradient_checkpointing_enable()
    else:
        model.gradient_checkpointing_disable()
    assert model.is_gradient_checkpointing == checkpointing
    torch.manual_seed(11)
    loss = model(**inputs, num_items_in_batch=torch.tensor(7)).loss
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), grads


@pytest.mark.parametrize("head", [head for head in HEADS if head not in ("base", "text-encoding")])
def test_training_step_matches_transformers(checkpoints, head):
    """Dropout on, ``num_items_in_batch`` given: loss and gradients (``relative_attention_bias``
    included) equal transformers', with and without gradient checkpointing."""
    directory = checkpoints["gated-gelu-untied", head]
    model = HEADS[head][1].from_pretrained(directory)
    reference = HEADS[head][0].from_pretrained(directory)
    assert model.config.dropout_rate > 0
    inputs = _inputs(head, with_labels=True)
    plain_loss, plain_grads = _training_step(model, inputs, checkpointing=False)
    assert any("relative_attention_bias" in name for name in plain_grads)
    for checkpointing in (False, True):
        loss, grads = _training_step(model, inputs, checkpointing)
        expected_loss, expected_grads = _training_step(reference, inputs, checkpointing)
        torch.testing.assert_close(loss, expected_loss, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(loss, plain_loss, atol=1e-5, rtol=1e-4)
        assert grads.keys() == expected_grads.keys()
        for name, grad in grads.items():
            torch.testing.assert_close(grad, expected_grads[name], atol=1e-5, rtol=1e-4, msg=name)
            torch.testing.assert_close(grad, plain_grads[name], atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize("variant", ["relu-tied", "gated-gelu-untied"])
def test_float16_load_keeps_wo_in_float32(checkpoints, variant):
    directory = checkpoints[variant, "seq2seq-lm"]
    model = AutoModelForSeq2SeqLM.from_pretrained(directory, dtype=torch.float16)
    reference = HEADS["seq2seq-lm"][0].from_pretrained(directory, dtype=torch.float16).eval()
    for name, parameter in model.named_parameters():
        expected = torch.float32 if name.endswith(".wo.weight") else torch.float16
        assert parameter.dtype == expected, name
    inputs = _inputs("seq2seq-lm", with_labels=True)
    with torch.no_grad():
        actual, expected = model(**inputs), reference(**inputs)
    assert actual.logits.dtype == expected.logits.dtype
    torch.testing.assert_close(actual.logits, expected.logits, atol=2e-3, rtol=2e-3)
    torch.testing.assert_close(actual.loss, expected.loss, atol=2e-3, rtol=2e-3)
