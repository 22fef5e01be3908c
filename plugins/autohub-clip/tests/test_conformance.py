"""The autohub conformance kit applied to the CLIP plugin: the dual encoder (base, zero-shot image
classification, image classification) with token ids and pixel values, and each tower alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from tokenizers import pre_tokenizers

from autohub_core.configuration import PretrainedConfig
from autohub_core.testing import ConformanceSuite

IMAGE, PATCH = 32, 8
PATCHES = (IMAGE // PATCH) ** 2
VOCAB, EOS = 99, 98
#: Sizes the 2-rank tensor-parallel run divides (heads and MLP widths even).
TEXT = {
    "vocab_size": VOCAB,
    "hidden_size": 32,
    "intermediate_size": 36,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "max_position_embeddings": 16,
    "bos_token_id": 97,
    "eos_token_id": EOS,
    "projection_dim": 16,
}
VISION = {
    "hidden_size": 24,
    "intermediate_size": 36,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "image_size": IMAGE,
    "patch_size": PATCH,
    "projection_dim": 16,
}


def _text_inputs(suite: ConformanceSuite) -> dict[str, torch.Tensor]:
    """Random ids ending in the eos token, the last row right-padded (with the eos id, as OpenAI's)."""
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(5, 90, (suite.batch_size, suite.seq_length), generator=generator)
    input_ids[:, -1] = EOS
    attention_mask = torch.ones_like(input_ids)
    input_ids[-1, -3:] = EOS
    attention_mask[-1, -2:] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def _pixel_values(suite: ConformanceSuite) -> torch.Tensor:
    return torch.randn(suite.batch_size, 3, IMAGE, IMAGE, generator=torch.Generator().manual_seed(3))


class TestCLIPConformance(ConformanceSuite):
    plugin_name = "clip"
    model_type = "clip"
    config_kwargs = {"text_config": TEXT, "vision_config": VISION, "projection_dim": 16, "num_labels": 3}
    tasks = ("base", "zero-shot-image-classification", "image-classification")
    loss_tasks = ("image-classification",)
    # The kit's tensor-parallel loss squares the similarity logits (scaled by exp(2.6592) ~ 14):
    # gradients reach ~1e3, where float32 reductions summed in another order differ by ~1e-4
    # (a relative 1e-7); the outputs themselves agree to ~1e-6.
    tensor_parallel_atol = 5e-4

    def inputs_for(self, task: str, config: PretrainedConfig) -> dict[str, torch.Tensor]:
        if task == "image-classification":
            return {"pixel_values": _pixel_values(self)}
        return {**_text_inputs(self), "pixel_values": _pixel_values(self)}

    def labels_for(
        self, task: str, config: PretrainedConfig, inputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(2)
        return {"labels": torch.randint(0, config.num_labels, (self.batch_size,), generator=generator)}

    def expected_shapes(self, task: str, config: PretrainedConfig) -> dict[str, tuple[int, ...]]:
        batch = self.batch_size
        if task == "image-classification":
            return {"logits": (batch, config.num_labels)}
        return {
            "logits_per_image": (batch, batch),
            "logits_per_text": (batch, batch),
            "text_embeds": (batch, config.projection_dim),
            "image_embeds": (batch, config.projection_dim),
        }

    def make_tokenizer_files(self, directory: Path) -> None:
        """A byte-level vocabulary (each byte symbol alone and word-final), a few merges, the specials."""
        alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
        merges = [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o</w>"), ("t", "h")]
        tokens = [*alphabet, *(symbol + "</w>" for symbol in alphabet), *("".join(m) for m in merges)]
        tokens += ["<|startoftext|>", "<|endoftext|>"]
        vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
        (directory / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
        lines = ["#version: 0.2", *(" ".join(merge) for merge in merges)]
        (directory / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


class TestCLIPTextConformance(ConformanceSuite):
    plugin_name = "clip"
    model_type = "clip_text_model"
    config_kwargs: dict[str, Any] = TEXT
    tasks = ("base", "text-encoding")
    loss_tasks = ()

    def inputs_for(self, task: str, config: PretrainedConfig) -> dict[str, torch.Tensor]:
        return _text_inputs(self)

    def expected_shapes(self, task: str, config: PretrainedConfig) -> dict[str, tuple[int, ...]]:
        batch, length, hidden = self.batch_size, self.seq_length, config.hidden_size
        return {"last_hidden_state": (batch, length, hidden), "pooler_output": (batch, hidden)}


class TestCLIPVisionConformance(ConformanceSuite):
    plugin_name = "clip"
    model_type = "clip_vision_model"
    config_kwargs: dict[str, Any] = VISION
    tasks = ("base",)
    loss_tasks = ()

    def inputs_for(self, task: str, config: PretrainedConfig) -> dict[str, torch.Tensor]:
        return {"pixel_values": _pixel_values(self)}

    def expected_shapes(self, task: str, config: PretrainedConfig) -> dict[str, tuple[int, ...]]:
        batch, hidden = self.batch_size, config.hidden_size
        return {"last_hidden_state": (batch, PATCHES + 1, hidden), "pooler_output": (batch, hidden)}
