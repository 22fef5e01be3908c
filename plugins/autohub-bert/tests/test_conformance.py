"""The autohub conformance kit applied to the BERT plugin (every head, tokenizer round trip)."""

from __future__ import annotations

from pathlib import Path

from autohub_core.testing import ConformanceSuite

_WORDS = [
    "hello",
    "world",
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "new",
    "lines",
    "and",
    "tabs",
    "accents",
    "cafe",
    "naive",
]


class TestBertConformance(ConformanceSuite):
    plugin_name = "bert"
    model_type = "bert"
    config_kwargs = {
        "vocab_size": 99,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 37,
        "max_position_embeddings": 64,
    }
    # The 2-rank tensor-parallel run needs sizes 2 divides (config_kwargs has odd ones).
    tensor_parallel_overrides = {"intermediate_size": 36}
    tasks = (
        "base",
        "text-encoding",
        "pretraining",
        "masked-lm",
        "causal-lm",
        "sequence-classification",
        "token-classification",
        "question-answering",
        "multiple-choice",
        "next-sentence-prediction",
    )

    def make_tokenizer_files(self, directory: Path) -> None:
        special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        pieces = [f"##{letter}" for letter in "abcdefghijklmnopqrstuvwxyz"]
        vocab = [*special, *_WORDS, *"abcdefghijklmnopqrstuvwxyz!:", *pieces]
        (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
