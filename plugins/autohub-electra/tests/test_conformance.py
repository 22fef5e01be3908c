"""The autohub conformance kit applied to the ELECTRA plugin (every head, tokenizer round trip)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from autohub_core.configuration import PretrainedConfig
from autohub_core.testing import ConformanceSuite

_WORDS = ["hello", "world", "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "new", "cafe"]


class TestElectraConformance(ConformanceSuite):
    plugin_name = "electra"
    model_type = "electra"
    # electra-small-discriminator's shape, shrunk: embeddings narrower than the hidden states.
    config_kwargs = {
        "vocab_size": 99,
        "embedding_size": 16,
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
    )

    def labels_for(
        self, task: str, config: PretrainedConfig, inputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        if task == "pretraining":  # the discriminator's labels: 1 for a replaced token
            generator = torch.Generator().manual_seed(2)
            return {"labels": torch.randint(0, 2, inputs["input_ids"].shape, generator=generator)}
        return super().labels_for(task, config, inputs)

    def expected_shapes(self, task: str, config: PretrainedConfig) -> dict[str, Any]:
        if task == "pretraining":
            return {"logits": (self.batch_size, self.seq_length)}
        return super().expected_shapes(task, config)

    def make_tokenizer_files(self, directory: Path) -> None:
        special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        pieces = [f"##{letter}" for letter in "abcdefghijklmnopqrstuvwxyz"]
        vocab = [*special, *_WORDS, *"abcdefghijklmnopqrstuvwxyz!:", *pieces]
        (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
