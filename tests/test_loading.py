"""The loading engine: formats, shards, dtypes, tied weights, mismatches, atomic saves."""

from __future__ import annotations

import json
import pathlib

import pytest
import torch
import transformers
from safetensors import safe_open

import autohub_core as ah
from autohub_core.errors import CheckpointNotFoundError, WeightsError


def _forward(model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        return model(**inputs).last_hidden_state


def test_sharded_checkpoint_from_transformers(tmp_path: pathlib.Path, inputs) -> None:
    config = transformers.BertConfig(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37
    )
    reference = transformers.BertModel(config).eval()
    reference.save_pretrained(tmp_path, max_shard_size="20KB")
    assert (tmp_path / "model.safetensors.index.json").exists()
    model = ah.AutoModel.from_pretrained(tmp_path)
    assert torch.allclose(_forward(model, inputs), _forward(reference, inputs), atol=1e-5)


def test_sharded_save_loads_in_transformers(tmp_path: pathlib.Path, save_hf_bert, inputs) -> None:
    model = ah.AutoModelForMaskedLM.from_pretrained(save_hf_bert("BertForMaskedLM"))
    model.save_pretrained(tmp_path, max_shard_size="10KB")
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 2 and all((tmp_path / name).exists() for name in shards)
    assert not (tmp_path / "model.safetensors").exists()
    state = model.state_dict()
    assert index["metadata"]["total_size"] == sum(
        state[k].numel() * state[k].element_size() for k in index["weight_map"]
    )
    assert "cls.predictions.decoder.weight" not in index["weight_map"]  # tied: stored once
    theirs = transformers.BertForMaskedLM.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.allclose(model(**inputs).logits, theirs(**inputs).logits, atol=1e-5)
    ours = ah.AutoModelForMaskedLM.from_pretrained(tmp_path)
    with torch.no_grad():
        assert torch.equal(model(**inputs).logits, ours(**inputs).logits)
    # Saving unsharded afterwards removes the stale shards and index.
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    assert not (tmp_path / "model.safetensors.index.json").exists()
    assert not any((tmp_path / name).exists() for name in shards)


def test_tied_weights_stay_tied_and_are_saved_once(tmp_path: pathlib.Path, save_hf_bert) -> None:
    model = ah.AutoModelForMaskedLM.from_pretrained(save_hf_bert("BertForMaskedLM"))
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    assert model.cls.predictions.decoder.bias is model.cls.predictions.bias
    model.save_pretrained(tmp_path)
    with safe_open(str(tmp_path / "model.safetensors"), "pt") as handle:
        keys = set(handle.keys())
        assert handle.metadata() == {"format": "pt"}
    assert "bert.embeddings.word_embeddings.weight" in keys and "cls.predictions.bias" in keys
    assert "cls.predictions.decoder.weight" not in keys and "cls.predictions.decoder.bias" not in keys
    reloaded = ah.AutoModelForMaskedLM.from_pretrained(tmp_path)
    assert reloaded.cls.predictions.decoder.weight is reloaded.bert.embeddings.word_embeddings.weight


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, "float16", "bfloat16", torch.float32])
def test_dtype_on_load(save_hf_bert, dtype, inputs) -> None:
    model = ah.AutoModel.from_pretrained(save_hf_bert("BertModel"), dtype=dtype)
    expected = dtype if isinstance(dtype, torch.dtype) else getattr(torch, dtype)
    assert model.dtype == expected
    assert all(p.dtype == expected for p in model.parameters())
    assert model.config.dtype == str(expected).removeprefix("torch.")
    assert _forward(model, inputs).dtype == expected


def test_auto_dtype_follows_the_checkpoint(tmp_path: pathlib.Path, save_hf_bert) -> None:
    half = ah.AutoModel.from_pretrained(save_hf_bert("BertModel"), torch_dtype=torch.bfloat16)
    half.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["dtype"] == "bfloat16"
    assert ah.AutoModel.from_pretrained(tmp_path).dtype == torch.bfloat16  # default is "auto"
    assert ah.AutoModel.from_pretrained(tmp_path, dtype="auto").dtype == torch.bfloat16
    assert ah.AutoModel.from_pretrained(tmp_path, dtype=torch.float32).dtype == torch.float32
    assert transformers.AutoModel.from_pretrained(tmp_path).dtype == torch.bfloat16


def test_device_cpu_and_device_map(save_hf_bert) -> None:
    directory = save_hf_bert("BertModel")
    assert ah.AutoModel.from_pretrained(directory, device="cpu").device.type == "cpu"
    assert ah.AutoModel.from_pretrained(directory, device_map="cpu").device.type == "cpu"
    assert ah.AutoModel.from_pretrained(directory, device_map={"": "cpu"}).device.type == "cpu"


def test_pytorch_bin_is_loaded_with_weights_only(tmp_path: pathlib.Path, save_hf_bert, inputs) -> None:
    reference = ah.AutoModel.from_pretrained(save_hf_bert("BertModel"))
    reference.config.save_pretrained(tmp_path)
    torch.save(reference.state_dict(), tmp_path / "pytorch_model.bin")
    model = ah.AutoModel.from_pretrained(tmp_path)
    assert torch.equal(_forward(model, inputs), _forward(reference, inputs))
    with pytest.raises(CheckpointNotFoundError, match=r"model\.safetensors"):
        ah.AutoModel.from_pretrained(tmp_path, use_safetensors=True)


def test_state_dict_argument(save_hf_bert, inputs) -> None:
    reference = ah.AutoModel.from_pretrained(save_hf_bert("BertModel"))
    state = {k: v.clone() for k, v in reference.state_dict().items()}
    model = ah.AutoModel.from_pretrained(None, config=reference.config, state_dict=state)
    assert torch.equal(_forward(model, inputs), _forward(reference, inputs))


def test_size_mismatch_raises_or_reinitialises(save_hf_bert) -> None:
    directory = save_hf_bert("BertForSequenceClassification", num_labels=3)
    with pytest.raises(WeightsError, match=r"classifier\.bias.*classifier\.weight.*ignore_mismatched_sizes"):
        ah.AutoModelForSequenceClassification.from_pretrained(directory, num_labels=7)
    model, info = ah.AutoModelForSequenceClassification.from_pretrained(
        directory, num_labels=7, ignore_mismatched_sizes=True, output_loading_info=True
    )
    assert model.classifier.weight.shape == (7, 32)
    assert sorted(k for k, _, _ in info["mismatched_keys"]) == ["classifier.bias", "classifier.weight"]
    assert not any(p.is_meta for p in model.parameters())


def test_missing_and_corrupt_weights_name_the_file(tmp_path: pathlib.Path, save_hf_bert) -> None:
    ah.AutoConfig.from_pretrained(save_hf_bert("BertModel")).save_pretrained(tmp_path)
    with pytest.raises(CheckpointNotFoundError, match=r"model\.safetensors"):
        ah.AutoModel.from_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{broken}")
    with pytest.raises(WeightsError, match=r"model\.safetensors"):
        ah.AutoModel.from_pretrained(tmp_path)
    original = (save_hf_bert("BertModel") / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(original[: len(original) // 2])
    with pytest.raises(WeightsError, match=r"model\.safetensors"):
        ah.AutoModel.from_pretrained(tmp_path)


def test_index_pointing_at_a_missing_or_escaping_shard(tmp_path: pathlib.Path, save_hf_bert) -> None:
    ah.AutoConfig.from_pretrained(save_hf_bert("BertModel")).save_pretrained(tmp_path)
    for shard in ("model-00001-of-00002.safetensors", "../outside.safetensors", "/etc/passwd"):
        index = {"metadata": {}, "weight_map": {"embeddings.word_embeddings.weight": shard}}
        (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
        with pytest.raises(CheckpointNotFoundError):
            ah.AutoModel.from_pretrained(tmp_path)


def test_interrupted_save_leaves_the_previous_checkpoint(
    tmp_path: pathlib.Path, save_hf_bert, monkeypatch
) -> None:
    model = ah.AutoModel.from_pretrained(save_hf_bert("BertModel"))
    model.save_pretrained(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    import safetensors.torch

    def crash(tensors, filename, metadata=None):
        pathlib.Path(filename).write_bytes(b"partial")
        raise KeyboardInterrupt("simulated crash mid-save")

    monkeypatch.setattr(safetensors.torch, "save_file", crash)
    with torch.no_grad():
        model.embeddings.word_embeddings.weight.add_(1.0)
    with pytest.raises(KeyboardInterrupt):
        model.save_pretrained(tmp_path)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after.keys() == before.keys()  # no temporary files left behind
    assert after["model.safetensors"] == before["model.safetensors"]
    monkeypatch.undo()
    reloaded = ah.AutoModel.from_pretrained(tmp_path)
    assert not torch.equal(
        reloaded.embeddings.word_embeddings.weight, model.embeddings.word_embeddings.weight
    )


def test_legacy_gamma_beta_names_load(tmp_path: pathlib.Path, save_hf_bert, inputs) -> None:
    from safetensors.torch import load_file, save_file

    directory = save_hf_bert("BertModel")
    state = load_file(directory / "model.safetensors")
    renamed = {
        k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
        for k, v in state.items()
    }
    ah.AutoConfig.from_pretrained(directory).save_pretrained(tmp_path)
    save_file(renamed, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    model, info = ah.AutoModel.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    assert torch.equal(_forward(model, inputs), _forward(ah.AutoModel.from_pretrained(directory), inputs))


def test_from_config_is_random_and_trainable(save_hf_bert, inputs) -> None:
    config = ah.AutoConfig.from_pretrained(save_hf_bert("BertModel"))
    model = ah.AutoModelForSequenceClassification.from_config(config)
    assert model.training and not any(p.is_meta for p in model.parameters())
    output = model(**inputs, labels=torch.tensor([0, 1]))
    output.loss.backward()
    assert model.classifier.weight.grad is not None
    half = ah.AutoModel.from_config(config, dtype=torch.float16)
    assert half.dtype == torch.float16 and torch.get_default_dtype() == torch.float32


def test_checkpoint_with_distinct_tied_weights_loads_untied_like_transformers(
    tmp_path: pathlib.Path, save_hf_bert, inputs, caplog: pytest.LogCaptureFixture
) -> None:
    from safetensors.torch import load_file, save_file

    directory = save_hf_bert("BertForMaskedLM")
    state = load_file(directory / "model.safetensors")
    state["cls.predictions.decoder.weight"] = torch.randn_like(
        state["bert.embeddings.word_embeddings.weight"]
    )
    ah.AutoConfig.from_pretrained(directory).save_pretrained(tmp_path)
    save_file(state, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    with caplog.at_level("WARNING", logger="autohub"):
        model = ah.AutoModelForMaskedLM.from_pretrained(tmp_path)
    assert "different values" in caplog.text
    assert model.cls.predictions.decoder.weight is not model.bert.embeddings.word_embeddings.weight
    assert torch.equal(model.cls.predictions.decoder.weight, state["cls.predictions.decoder.weight"])
    assert model.config.tie_word_embeddings is False
    theirs = transformers.BertForMaskedLM.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.allclose(model(**inputs).logits, theirs(**inputs).logits, atol=1e-5)


def test_unknown_keyword_arguments_are_named(save_hf_bert) -> None:
    from autohub_core.errors import ConfigError

    directory = save_hf_bert("BertModel")
    with pytest.raises(ConfigError, match=r"unexpected keyword arguments \['not_an_option'\].*BertConfig"):
        ah.AutoModel.from_pretrained(directory, not_an_option=1)
    model = ah.AutoModel.from_pretrained(directory, add_pooling_layer=False)  # an __init__ argument
    assert model.pooler is None


@pytest.mark.parametrize("tie", [True, False])
def test_resize_token_embeddings_keeps_rows_and_ties(
    tmp_path: pathlib.Path, save_hf_bert, inputs, tie: bool
) -> None:
    model = ah.AutoModelForMaskedLM.from_pretrained(save_hf_bert("BertForMaskedLM", tie_word_embeddings=tie))
    before = model.bert.embeddings.word_embeddings.weight.detach().clone()
    decoder_before = model.cls.predictions.decoder.weight.detach().clone()
    with torch.no_grad():
        logits_before = model(**inputs).logits
    returned = model.resize_token_embeddings(103, pad_to_multiple_of=8)
    embeddings = model.bert.embeddings.word_embeddings
    assert (
        returned is embeddings and embeddings.weight.shape == (104, 32) and embeddings.num_embeddings == 104
    )
    assert model.config.vocab_size == 104
    assert torch.equal(embeddings.weight[:99], before)
    assert torch.allclose(embeddings.weight[99:], before.mean(0).expand(5, -1))
    decoder = model.cls.predictions.decoder
    assert decoder.weight.shape == (104, 32) and decoder.bias.shape == (104,)
    assert (decoder.weight is embeddings.weight) == tie
    assert torch.equal(decoder.weight[:99], decoder_before)
    assert decoder.bias is model.cls.predictions.bias  # the bias alias survives
    with torch.no_grad():
        logits_after = model(**inputs).logits
    assert logits_after.shape == (2, 9, 104)
    assert torch.allclose(logits_after[..., :99], logits_before, atol=1e-6)
    model.save_pretrained(tmp_path)
    theirs = transformers.BertForMaskedLM.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.allclose(theirs(**inputs).logits, logits_after, atol=1e-5)


def test_resize_token_embeddings_of_a_seq2seq_model_shares_the_new_matrix() -> None:
    config = ah.AutoConfig.for_model(
        "t5", vocab_size=50, d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2
    )
    model = ah.AutoModelForSeq2SeqLM.from_config(config)
    model.resize_token_embeddings(60)
    assert model.shared.weight.shape == (60, 16)
    assert model.encoder.embed_tokens.weight is model.shared.weight is model.decoder.embed_tokens.weight
    ids = torch.tensor([[59, 3, 1]])
    assert model(input_ids=ids, decoder_input_ids=ids).logits.shape == (1, 3, 60)
