"""The autohub conformance kit applied to the Wav2Vec2 plugin: the base model and the four audio heads,
with raw audio (``input_values``) instead of token ids."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from autohub_core.configuration import PretrainedConfig
from autohub_core.testing import ConformanceSuite

SAMPLES = 400
#: Frames the convolutions below make of SAMPLES samples: (400 - 8) // 4 + 1 = 99, (99 - 3) // 2 + 1 = 49.
FRAMES = 49


class TestWav2Vec2Conformance(ConformanceSuite):
    plugin_name = "wav2vec2"
    model_type = "wav2vec2"
    config_kwargs = {
        "vocab_size": 20,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 37,
        "conv_dim": [16, 16],
        "conv_stride": [4, 2],
        "conv_kernel": [8, 3],
        "num_conv_pos_embeddings": 8,
        "num_conv_pos_embedding_groups": 4,
        "tdnn_dim": [16, 16],
        "tdnn_kernel": [3, 1],
        "tdnn_dilation": [1, 2],
        "xvector_output_dim": 8,
        "classifier_proj_size": 12,
        "num_labels": 3,
        "num_codevectors_per_group": 8,
        "codevector_dim": 8,
        "proj_codevector_dim": 8,
        # The x-vector head L2-normalises its logits: with transformers' 0.02 they are tiny and the
        # gradients reach ~4e6, beyond any absolute tolerance of the tensor-parallel comparison.
        "initializer_range": 0.2,
        # A summed CTC loss (~180 here) scales every gradient; the mean keeps them comparable in absolute terms.
        "ctc_loss_reduction": "mean",
        # SpecAugment draws from numpy's random state, which the suite's torch seeds do not reset: off.
        # (mask_time_prob > 0 still creates masked_spec_embed, which pre-training's masks need.)
        "apply_spec_augment": False,
        "mask_time_prob": 0.05,
    }
    # The 2-rank tensor-parallel run needs sizes 2 divides (config_kwargs has odd ones).
    tensor_parallel_overrides = {"intermediate_size": 36}
    # Gradients of the summed outputs reach ~100 here (every frame adds to the feature encoder's), so
    # float32 rounding of the sharded sums is ~2e-5 in absolute terms (~2e-7 relative).
    tensor_parallel_atol = 1e-4
    tasks = (
        "base",
        "pretraining",
        "ctc",
        "audio-classification",
        "audio-frame-classification",
        "audio-xvector",
    )
    loss_tasks = ("pretraining", "ctc", "audio-classification", "audio-frame-classification", "audio-xvector")
    tokenizer_texts = ("HELLO WORLD", " LEADING  SPACES ", "<s>SPECIAL</s> TOKENS", "lower case", "")

    def inputs_for(self, task: str, config: PretrainedConfig) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(1)
        input_values = torch.randn((self.batch_size, SAMPLES), generator=generator)
        attention_mask = torch.ones((self.batch_size, SAMPLES), dtype=torch.long)
        attention_mask[-1, -100:] = 0
        return {"input_values": input_values * attention_mask, "attention_mask": attention_mask}

    def labels_for(
        self, task: str, config: PretrainedConfig, inputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(2)
        if task == "pretraining":  # what compute_mask_indices / sample_negative_indices draw
            mask_time_indices = torch.zeros((self.batch_size, FRAMES), dtype=torch.bool)
            mask_time_indices[:, 5:20] = True
            negatives = torch.randint(5, 20, (self.batch_size, FRAMES, 4), generator=generator)
            negatives += torch.arange(self.batch_size)[:, None, None] * FRAMES
            return {"mask_time_indices": mask_time_indices, "sampled_negative_indices": negatives}
        if task == "ctc":
            labels = torch.randint(1, config.vocab_size, (self.batch_size, 6), generator=generator)
            labels[-1, -2:] = -100
            return {"labels": labels}
        if task == "audio-frame-classification":
            classes = torch.randint(0, config.num_labels, (self.batch_size, FRAMES), generator=generator)
            return {"labels": torch.nn.functional.one_hot(classes, config.num_labels)}
        return {"labels": torch.randint(0, config.num_labels, (self.batch_size,), generator=generator)}

    def expected_shapes(self, task: str, config: PretrainedConfig) -> dict[str, tuple[int, ...]]:
        batch = self.batch_size
        return {
            "base": {
                "last_hidden_state": (batch, FRAMES, config.hidden_size),
                "extract_features": (batch, FRAMES, 16),
            },
            "pretraining": {
                "projected_states": (batch, FRAMES, 8),
                "projected_quantized_states": (batch, FRAMES, 8),
            },
            "ctc": {"logits": (batch, FRAMES, config.vocab_size)},
            "audio-classification": {"logits": (batch, config.num_labels)},
            "audio-frame-classification": {"logits": (batch, FRAMES, config.num_labels)},
            "audio-xvector": {"logits": (batch, 8), "embeddings": (batch, 8)},
        }[task]

    def make_tokenizer_files(self, directory: Path) -> None:
        vocab = ["<pad>", "<s>", "</s>", "<unk>", "|", *"ETAONIHSRDLUMWCFGYPBVK'XJQZ"]
        (directory / "vocab.json").write_text(
            json.dumps({token: i for i, token in enumerate(vocab)}), "utf-8"
        )
        config = {
            "tokenizer_class": "Wav2Vec2CTCTokenizer",
            "word_delimiter_token": "|",
            "do_lower_case": False,
        }
        (directory / "tokenizer_config.json").write_text(json.dumps(config), "utf-8")
