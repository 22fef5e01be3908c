"""The autohub conformance kit applied to the t5 plugin (base model and every registered head)."""

from __future__ import annotations

from typing import Any

import torch

from autohub_core.auto import auto_class_for_task
from autohub_core.testing import ConformanceSuite


class TestT5Conformance(ConformanceSuite):
    plugin_name = "t5"
    model_type = "t5"
    config_kwargs = {
        "vocab_size": 99,
        "d_model": 32,
        "d_kv": 8,
        "d_ff": 37,
        "num_layers": 2,
        "num_heads": 4,
        "decoder_start_token_id": 0,
    }

    def inputs_for(self, task, config):
        """T5's sequence classifier reads the hidden state at the <eos> of each example."""
        inputs = super().inputs_for(task, config)
        if task == "sequence-classification":
            inputs["input_ids"][:, 4] = config.eos_token_id
        return inputs

    def test_dtype_and_eval_on_load(self, task: str, dtype_name: str, conformance_checkpoints: Any) -> None:
        """The kit's check, except that ``wo`` stays float32 in a float16 model (``_keep_in_fp32_modules``)."""
        _, directory = conformance_checkpoints.get(task)
        dtype = getattr(torch, dtype_name)
        loaded = auto_class_for_task(task).from_pretrained(directory, dtype=dtype)
        assert not loaded.training
        assert loaded.dtype == dtype and loaded.config.dtype == dtype_name
        for name, tensor in [*loaded.named_parameters(), *loaded.named_buffers()]:
            if tensor.is_floating_point():
                kept = dtype == torch.float16 and name.endswith(".wo.weight")
                assert tensor.dtype == (torch.float32 if kept else dtype), name
        with torch.no_grad():
            output = loaded(**self._accepted(loaded, self.inputs_for(task, loaded.config)))
        first = output.to_tuple()[0]
        assert first.dtype == dtype and torch.isfinite(first).all()
