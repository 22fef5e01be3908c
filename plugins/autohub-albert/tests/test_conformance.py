"""The autohub conformance kit applied to the ALBERT plugin (every head, tokenizer round trip), on a
parameter-shared layout: three layers over two groups of two layers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import sentencepiece
import torch

from autohub_core.configuration import PretrainedConfig
from autohub_core.testing import ConformanceSuite

sys.path.insert(0, str(Path(__file__).parents[3] / "tests"))  # the repository's shared test helpers
from tokenizer_shapes import corpus


class TestAlbertConformance(ConformanceSuite):
    plugin_name = "albert"
    model_type = "albert"
    config_kwargs = {
        "vocab_size": 99,
        "embedding_size": 12,
        "hidden_size": 16,
        "num_hidden_layers": 3,
        "num_hidden_groups": 2,
        "inner_group_num": 2,
        "num_attention_heads": 4,
        "intermediate_size": 20,
        "max_position_embeddings": 64,
    }
    tasks = (
        "base",  # "text-encoding" is the same class
        "pretraining",
        "masked-lm",
        "sequence-classification",
        "token-classification",
        "question-answering",
        "multiple-choice",
    )

    def labels_for(
        self, task: str, config: PretrainedConfig, inputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """ALBERT's pre-training head takes ``sentence_order_label`` where BERT's takes ``next_sentence_label``."""
        labels = super().labels_for(task, config, inputs)
        if task == "pretraining":
            labels["sentence_order_label"] = labels.pop("next_sentence_label")
        return labels

    def make_tokenizer_files(self, directory: Path) -> None:
        (directory / "corpus.txt").write_text("\n".join(corpus()), encoding="utf-8")
        sentencepiece.SentencePieceTrainer.train(
            input=str(directory / "corpus.txt"),
            model_prefix=str(directory / "spiece"),
            vocab_size=99,
            hard_vocab_limit=False,
            model_type="unigram",
            character_coverage=1.0,
            pad_id=0,
            unk_id=1,
            bos_id=-1,
            eos_id=-1,
            control_symbols=["[CLS]", "[SEP]", "[MASK]"],
            minloglevel=2,
        )
        (directory / "spiece.vocab").unlink()

    def expected_shapes(self, task: str, config: Any) -> dict[str, tuple[int, ...]]:
        shapes = super().expected_shapes(task, config)
        if task == "pretraining":
            shapes["sop_logits"] = (self.batch_size, 2)
        return shapes
