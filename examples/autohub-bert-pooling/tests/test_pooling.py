"""The sentence-embedding head plugin: a new task added to BERT from outside the BERT plugin."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from autohub_core import (
    AutoModel,
    AutoModelForMaskedLM,
    UnknownModelTypeError,
    auto_class_for_task,
    list_plugins,
)
from autohub_core.configuration import read_json_file
from autohub_core.plugins import get_registry

TINY = {
    "vocab_size": 99,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "max_position_embeddings": 64,
}


@pytest.fixture(scope="module")
def transformers_bert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    """A tiny BertModel saved by transformers (the oracle): config.json + model.safetensors."""
    import transformers

    torch.manual_seed(0)
    model = transformers.BertModel(transformers.BertConfig(**TINY)).eval()
    directory = tmp_path_factory.mktemp("hf-bert")
    model.save_pretrained(directory)
    return directory, model


def _batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    input_ids = torch.randint(5, TINY["vocab_size"], (3, 9), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, -3:] = 0
    attention_mask[2, -6:] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def test_plugin_adds_a_new_task_through_its_entry_point() -> None:
    plugins = {info.name: info for info in list_plugins()}
    assert plugins["bert-pooling"].loaded and plugins["bert-pooling"].distribution == "autohub-bert-pooling"
    registry = get_registry()
    assert registry.source("head", "bert", "sentence-embedding") == "bert-pooling"
    assert registry.source("config", "bert") == "bert"  # the family itself is untouched
    assert "sentence-embedding" in registry.tasks("bert")


def test_auto_class_for_task() -> None:
    assert auto_class_for_task("masked-lm") is AutoModelForMaskedLM
    assert auto_class_for_task("base") is AutoModel
    embedding_class = auto_class_for_task("sentence-embedding")
    assert embedding_class.__name__ == "AutoModelForSentenceEmbedding"
    assert auto_class_for_task("sentence-embedding") is embedding_class
    for bad in ("", "Sentence Embedding", "../x", 3):
        with pytest.raises(UnknownModelTypeError):
            auto_class_for_task(bad)  # type: ignore[arg-type]


def test_embeddings_are_normalised_masked_means_of_transformers_bert(transformers_bert) -> None:
    directory, reference = transformers_bert
    model = auto_class_for_task("sentence-embedding").from_pretrained(directory)  # config.json alone
    assert type(model).__name__ == "BertForSentenceEmbedding" and not model.training
    batch = _batch()
    with torch.no_grad():
        embeddings = model(**batch).embeddings
        hidden = reference(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    manual = F.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    assert embeddings.shape == (3, TINY["hidden_size"])
    assert (embeddings - manual).abs().max() <= 1e-5
    torch.testing.assert_close(embeddings.norm(dim=-1), torch.ones(3))
    # padding does not change a sentence's vector
    alone = model(input_ids=batch["input_ids"][2:, :3]).embeddings
    assert (alone[0] - embeddings[2]).abs().max() <= 1e-5


def test_head_checkpoint_round_trip(tmp_path: Path, transformers_bert) -> None:
    directory, _ = transformers_bert
    head_class = auto_class_for_task("sentence-embedding")
    model = head_class.from_pretrained(directory)
    model.save_pretrained(tmp_path)
    assert read_json_file(tmp_path / "config.json")["architectures"] == ["BertForSentenceEmbedding"]
    again, info = head_class.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    batch = _batch()
    with torch.no_grad():
        torch.testing.assert_close(again(**batch).embeddings, model(**batch).embeddings, rtol=0, atol=1e-6)
    base = AutoModel.from_pretrained(tmp_path)  # the head's checkpoint still loads as a plain BertModel
    assert type(base).__name__ == "BertModel"


def test_the_new_task_for_another_family_is_an_actionable_error(tmp_path: Path) -> None:
    from autohub_core import AutoConfig, PretrainedConfig

    class ToyConfig(PretrainedConfig):
        model_type = "toy-without-embedding-head"

    AutoConfig.register(ToyConfig.model_type, ToyConfig, exist_ok=True)
    with pytest.raises(UnknownModelTypeError, match="sentence-embedding"):
        auto_class_for_task("sentence-embedding").from_config(ToyConfig())
