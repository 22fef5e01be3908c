"""The autohub conformance kit applied to the ViT plugin: the base model and both image heads, with
pixel values instead of token ids."""

from __future__ import annotations

import torch

from autohub_core.configuration import PretrainedConfig
from autohub_core.testing import ConformanceSuite

IMAGE, PATCH = 32, 8
PATCHES = (IMAGE // PATCH) ** 2


class TestViTConformance(ConformanceSuite):
    plugin_name = "vit"
    model_type = "vit"
    config_kwargs = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 37,
        "image_size": IMAGE,
        "patch_size": PATCH,
        "encoder_stride": PATCH,
        "num_labels": 3,
    }
    # The 2-rank tensor-parallel run needs sizes 2 divides (config_kwargs has odd ones).
    tensor_parallel_overrides = {"intermediate_size": 36}
    tasks = ("base", "image-classification", "masked-image-modeling")
    loss_tasks = ("image-classification", "masked-image-modeling")

    def inputs_for(self, task: str, config: PretrainedConfig) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(1)
        shape = (self.batch_size, config.num_channels, IMAGE, IMAGE)
        return {"pixel_values": torch.randn(shape, generator=generator)}

    def labels_for(
        self, task: str, config: PretrainedConfig, inputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(2)
        if task == "masked-image-modeling":
            return {
                "bool_masked_pos": torch.randint(0, 2, (self.batch_size, PATCHES), generator=generator).bool()
            }
        return {"labels": torch.randint(0, config.num_labels, (self.batch_size,), generator=generator)}

    def expected_shapes(self, task: str, config: PretrainedConfig) -> dict[str, tuple[int, ...]]:
        batch, hidden = self.batch_size, config.hidden_size
        return {
            "base": {"last_hidden_state": (batch, PATCHES + 1, hidden), "pooler_output": (batch, hidden)},
            "image-classification": {"logits": (batch, config.num_labels)},
            "masked-image-modeling": {"reconstruction": (batch, config.num_channels, IMAGE, IMAGE)},
        }[task]
