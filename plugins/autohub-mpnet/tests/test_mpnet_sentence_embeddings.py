"""Feature extraction on MPNet checkpoints against sentence-transformers (the oracle).

One tiny random MPNetModel is saved by transformers with an MPNet vocab.txt, then laid out as
sentence-transformers checkpoints: all-mpnet-base-v2's (modules.json with Transformer, Pooling
over mean tokens and Normalize; sentence_bert_config.json with a ``max_seq_length`` shorter than
some texts), one with legacy ``pooling_mode_*`` flags for two concatenated modes and no Normalize,
and one in sentence-transformers 5's ``pooling_mode`` list form. autohub's ``feature-extraction``
task must give ``SentenceTransformer(path).encode``'s embeddings. Nothing is downloaded.
"""

from __future__ import annotations

import json
import pathlib
import shutil
from typing import Any

import pytest
import torch
import transformers
from sentence_transformers import SentenceTransformer

from autohub_core.tasks import FeatureExtraction, load_task

WORDS = ["hello", "world", "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "a", "man", "eats"]
TEXTS = [
    "Hello world!",
    "The quick brown fox jumps over the lazy dog.",
    "a",
    "A man eats the quick lazy fox and the brown dog jumps over the world " * 3,
]
TRANSFORMER = {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}
NORMALIZE = {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
LEGACY_FLAGS = {key: False for key in ("cls_token", "max_tokens", "mean_tokens", "mean_sqrt_len_tokens")}

#: name -> (Pooling config.json, whether Normalize follows, sentence_bert_config.json's max_seq_length)
LAYOUTS: dict[str, tuple[dict[str, Any], bool, int | None]] = {
    "all-mpnet-base-v2": (
        {
            **{f"pooling_mode_{key}": value for key, value in LEGACY_FLAGS.items()},
            "pooling_mode_mean_tokens": True,
        },
        True,
        24,
    ),
    "cls-max-unnormalized": (
        {"pooling_mode_cls_token": True, "pooling_mode_max_tokens": True, "pooling_mode_mean_tokens": False},
        False,
        None,
    ),
    "pooling-mode-list": (
        {"pooling_mode": ["weightedmean", "lasttoken", "mean_sqrt_len_tokens"], "include_prompt": True},
        True,
        None,
    ),
}


def _write_json(path: pathlib.Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value), encoding="utf-8")


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A tiny MPNetModel (all-mpnet-base-v2's config keys) with an MPNet vocab.txt and tokenizer config."""
    directory = tmp_path_factory.mktemp("mpnet-model")
    pieces = [f"##{letter}" for letter in "abcdefghijklmnopqrstuvwxyz"]
    bert = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *"abcdefghijklmnopqrstuvwxyz!.", *pieces]
    vocab = ["<s>", "<pad>", "</s>", "<unk>", *bert, "<mask>"]
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    _write_json(
        directory / "tokenizer_config.json", {"tokenizer_class": "MPNetTokenizer", "model_max_length": 512}
    )
    config = transformers.MPNetConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=66,
        layer_norm_eps=1e-5,
    )
    torch.manual_seed(0)
    transformers.MPNetModel(config).save_pretrained(directory)
    return directory


def _checkpoint(root: pathlib.Path, model_files: pathlib.Path, layout: str) -> pathlib.Path:
    pooling, normalize, max_seq_length = LAYOUTS[layout]
    directory = root / layout
    shutil.copytree(model_files, directory)
    pooling_module = {
        "idx": 1,
        "name": "1",
        "path": "1_Pooling",
        "type": "sentence_transformers.models.Pooling",
    }
    _write_json(
        directory / "modules.json", [TRANSFORMER, pooling_module, *([NORMALIZE] if normalize else [])]
    )
    _write_json(directory / "1_Pooling" / "config.json", {"word_embedding_dimension": 32, **pooling})
    if max_seq_length is not None:
        _write_json(
            directory / "sentence_bert_config.json",
            {"max_seq_length": max_seq_length, "do_lower_case": False},
        )
    return directory


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_embeddings_match_sentence_transformers(
    tmp_path: pathlib.Path, model_files: pathlib.Path, layout: str
) -> None:
    directory = _checkpoint(tmp_path, model_files, layout)
    expected = SentenceTransformer(str(directory), device="cpu").encode(TEXTS, convert_to_tensor=True)
    task = load_task(str(directory), "feature-extraction")
    assert isinstance(task, FeatureExtraction)
    actual = task.embed(TEXTS, batch_size=3)  # padded batches, and a text longer than max_seq_length
    assert actual.shape == expected.shape
    assert (actual - expected).abs().max().item() <= 1e-5
    norms = actual.norm(dim=-1)
    assert torch.allclose(norms, torch.ones_like(norms)) == LAYOUTS[layout][1]
