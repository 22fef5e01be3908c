"""The autohub conformance kit applied to the whisper plugin (base model and every registered head).

Whisper's encoder reads ``input_features`` (log-mel frames), not token ids: the inputs, labels and
expected shapes are overridden for that. The kit's tensor-parallel run is left out: its generate()
check prompts with ``input_ids`` only, and Whisper's generate() needs ``input_features``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from whisper_files import write_tokenizer

from autohub_core.testing import ConformanceSuite

FRAMES = 2 * 8  # 2 * max_source_positions


class TestWhisperConformance(ConformanceSuite):
    plugin_name = "whisper"
    model_type = "whisper"
    config_kwargs = {
        "vocab_size": 99,
        "num_mel_bins": 8,
        "d_model": 16,
        "encoder_layers": 2,
        "decoder_layers": 2,
        "encoder_attention_heads": 2,
        "decoder_attention_heads": 2,
        "encoder_ffn_dim": 24,
        "decoder_ffn_dim": 24,
        "max_source_positions": FRAMES // 2,
        "max_target_positions": 20,
        "decoder_start_token_id": 3,
        "pad_token_id": 1,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "begin_suppress_tokens": None,
        "classifier_proj_size": 12,
    }
    tensor_parallel_overrides = {}
    test_tensor_parallel_matches_single_process = None  # type: ignore[assignment]

    def make_tokenizer_files(self, directory: Path) -> None:
        write_tokenizer(directory)

    def inputs_for(self, task: str, config: Any) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(1)
        if task == "causal-lm":
            return super().inputs_for(task, config)
        inputs = {
            "input_features": torch.randn(self.batch_size, config.num_mel_bins, FRAMES, generator=generator)
        }
        if task in ("base", "speech-seq2seq"):
            inputs["decoder_input_ids"] = torch.randint(
                5, config.vocab_size, (self.batch_size, self.decoder_length), generator=generator
            )
        return inputs

    def labels_for(self, task: str, config: Any, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(2)
        if task == "speech-seq2seq":
            return {
                "labels": torch.randint(
                    0, config.vocab_size, (self.batch_size, self.decoder_length), generator=generator
                )
            }
        if task == "audio-classification":
            return {"labels": torch.randint(0, config.num_labels, (self.batch_size,), generator=generator)}
        return super().labels_for(task, config, inputs)

    def expected_shapes(self, task: str, config: Any) -> dict[str, tuple[int, ...]]:
        batch, decoded = self.batch_size, self.decoder_length
        return {
            "base": {"last_hidden_state": (batch, decoded, config.d_model)},
            "speech-seq2seq": {"logits": (batch, decoded, config.vocab_size)},
            "audio-classification": {"logits": (batch, config.num_labels)},
            "causal-lm": {"logits": (batch, self.seq_length, config.vocab_size)},
        }[task]
