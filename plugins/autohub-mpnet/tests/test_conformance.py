"""The autohub conformance kit applied to the MPNet plugin (every head, tokenizer round trip)."""

from __future__ import annotations

from pathlib import Path

from autohub_core.testing import ConformanceSuite

_WORDS = ["hello", "world", "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "cafe", "naive"]


class TestMPNetConformance(ConformanceSuite):
    plugin_name = "mpnet"
    model_type = "mpnet"
    config_kwargs = {
        "vocab_size": 99,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 37,
        "max_position_embeddings": 64,
    }
    # Not "text-encoding": it is MPNetModel again (test_mpnet_modeling checks it resolves to it).
    tasks = (
        "base",
        "masked-lm",
        "sequence-classification",
        "token-classification",
        "question-answering",
        "multiple-choice",
    )
    # The 2-rank tensor-parallel run needs sizes 2 divides (config_kwargs has odd ones).
    tensor_parallel_overrides = {"intermediate_size": 36}

    def make_tokenizer_files(self, directory: Path) -> None:
        """MPNet's vocab.txt layout: fairseq's specials, a BERT WordPiece vocabulary, ``<mask>`` last."""
        pieces = [f"##{letter}" for letter in "abcdefghijklmnopqrstuvwxyz"]
        bert = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", *_WORDS, *"abcdefghijklmnopqrstuvwxyz!:", *pieces]
        vocab = ["<s>", "<pad>", "</s>", "<unk>", *bert, "<mask>"]
        (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
