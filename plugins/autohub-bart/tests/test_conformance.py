"""The autohub conformance kit applied to the bart plugin (base model and every registered head).

BART is an encoder-decoder: the kit's inputs are adapted where it assumes a decoder-only model. The
sequence classifier pools at the last ``</s>`` of each row, so every row gets one. The base model
and the seq2seq head get decoder inputs (the kit's encoder-decoder convention); the causal LM is
BART's decoder alone and takes the kit's decoder-only inputs.
"""

from __future__ import annotations

from typing import Any

import torch

from autohub_core.testing import ConformanceSuite


class TestBartConformance(ConformanceSuite):
    plugin_name = "bart"
    model_type = "bart"
    config_kwargs = {
        "vocab_size": 99,
        "d_model": 16,
        "encoder_layers": 2,
        "decoder_layers": 2,
        "encoder_attention_heads": 2,
        "decoder_attention_heads": 2,
        "encoder_ffn_dim": 24,
        "decoder_ffn_dim": 24,
        "max_position_embeddings": 32,
    }
    tensor_parallel_overrides = {"vocab_size": 98}

    def inputs_for(self, task: str, config: Any) -> dict[str, torch.Tensor]:
        inputs = super().inputs_for(task, config)
        if task == "sequence-classification":
            inputs["input_ids"][:, 4] = config.eos_token_id
        return inputs
