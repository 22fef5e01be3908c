"""Tensor parallelism: plans resolved against models (no launch needed), typed errors, and one
``torchrun --nproc_per_node=2`` launch (gloo, CPU) loading transformers-saved Llama, Mistral,
Qwen2 and GPT-2 checkpoints with ``tp_plan="auto"``: logits equal transformers' and the
single-process model's, gradients equal, greedy tokens identical, each rank holds half of the
sharded weights, and a tensor-parallel save writes the tensors of a whole-model save."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import transformers
from safetensors.torch import load_file, save_file

from autohub_core import AutoModel, AutoModelForCausalLM
from autohub_core.errors import PlacementError
from autohub_core.parallel import Sharding, TensorParallel, declared_plan, matching_modules

SIZES = {"vocab_size": 96, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4}


class _Mesh:
    """A stand-in for a 1-D DeviceMesh: plan resolution only reads its size and rank."""

    device_type = "cpu"

    def __init__(self, size: int, rank: int = 0) -> None:
        self._size, self._rank = size, rank

    def size(self) -> int:
        return self._size

    def get_local_rank(self) -> int:
        return self._rank


def _llama(**overrides: object) -> torch.nn.Module:
    config = transformers.LlamaConfig(
        **{
            **SIZES,
            "intermediate_size": 64,
            "num_key_value_heads": 2,
            "max_position_embeddings": 64,
            **overrides,
        }
    )
    model = transformers.LlamaForCausalLM(config)
    return model


def _autohub(hf_model: torch.nn.Module, tmp_path: Path, cls: type = AutoModelForCausalLM) -> torch.nn.Module:
    hf_model.save_pretrained(tmp_path)
    with torch.device("meta"):
        return cls.from_config(cls.from_pretrained(tmp_path).config)


def test_declared_plan_is_prefixed_for_heads_and_names_real_modules(tmp_path: Path) -> None:
    model = _autohub(_llama(), tmp_path)
    plan = declared_plan(model)
    assert plan["model.layers.*.self_attn.q_proj"] == "colwise"
    assert plan["model.layers.*.mlp.down_proj"] == "rowwise"
    assert plan["lm_head"] == "colwise_gather_output"
    assert matching_modules(model, "model.layers.*.self_attn.o_proj") == [
        "model.layers.0.self_attn.o_proj",
        "model.layers.1.self_attn.o_proj",
    ]
    base = AutoModel.from_config(model.config)
    assert "layers.*.self_attn.q_proj" in declared_plan(base) and "lm_head" not in declared_plan(base)


def test_resolve_shards_weights_and_keeps_rowwise_bias_whole(tmp_path: Path) -> None:
    model = _autohub(_llama(attention_bias=True), tmp_path)
    layout = TensorParallel(_Mesh(2), None)  # type: ignore[arg-type]
    layout.resolve(model)
    assert layout.shardings["model.layers.0.self_attn.q_proj.weight"] == Sharding(0)
    assert layout.shardings["model.layers.0.self_attn.q_proj.bias"] == Sharding(0)
    assert layout.shardings["model.layers.0.self_attn.o_proj.weight"] == Sharding(1)
    assert layout.shardings["model.layers.0.self_attn.o_proj.bias"] == Sharding(None)
    assert "model.embed_tokens.weight" not in layout.shardings
    assert layout.plan["lm_head"] == "colwise_gather_output"


def test_tied_output_projection_stays_replicated(tmp_path: Path) -> None:
    model = _autohub(_llama(tie_word_embeddings=True), tmp_path)
    layout = TensorParallel(_Mesh(2), None)  # type: ignore[arg-type]
    layout.resolve(model)
    assert "lm_head" not in layout.plan and "lm_head.weight" not in layout.shardings
    assert "model.layers.1.mlp.up_proj" in layout.plan


def test_local_slices_of_packed_projection() -> None:
    layout = TensorParallel(_Mesh(2, rank=1), None)  # type: ignore[arg-type]
    full = torch.arange(12).reshape(12, 1)  # three parts of four rows: rank 1 takes rows 2-3 of each
    pieces = [full[index] for index in layout.local_slices((12, 1), Sharding(0, parts=3))]
    assert torch.cat(pieces).flatten().tolist() == [2, 3, 6, 7, 10, 11]


@pytest.mark.parametrize(
    ("plan", "overrides", "message"),
    [
        (
            None,
            {"num_key_value_heads": 1},
            "num_key_value_heads=1 is not divisible by the tensor-parallel size 2",
        ),
        (None, {"intermediate_size": 37}, "cannot split model.layers.0.mlp.gate_proj.weight (37, 32)"),
        (
            {"model.layers.*.self_attn.qq_proj": "colwise"},
            {},
            "'model.layers.*.self_attn.qq_proj' names no module",
        ),
        ({"model.layers.*.self_attn.q_proj": "diagonal"}, {}, "has style 'diagonal'"),
        ({"model.norm": "colwise"}, {}, "model.norm is a RMSNorm, which style 'colwise' cannot shard"),
        ({"model.embed_tokens": "rowwise"}, {}, "model.embed_tokens is a Embedding"),
        ({"model.layers.*.mlp.up_proj": "packed_colwise:3"}, {}, "in 3 parts along dim 0 (64)"),
    ],
)
def test_plan_errors_name_the_cause(tmp_path: Path, plan: dict | None, overrides: dict, message: str) -> None:
    model = _autohub(_llama(**overrides), tmp_path)
    layout = TensorParallel(_Mesh(2), plan)  # type: ignore[arg-type]
    with pytest.raises(PlacementError) as raised:
        layout.resolve(model)
    assert message in str(raised.value)


def test_tp_plan_outside_a_distributed_launch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _llama().save_pretrained(tmp_path)
    for variable in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(PlacementError, match="torchrun --nproc_per_node=N"):
        AutoModelForCausalLM.from_pretrained(tmp_path, tp_plan="auto")
    with pytest.raises(PlacementError, match="cannot be combined with device_map"):
        AutoModelForCausalLM.from_pretrained(tmp_path, tp_plan="auto", device_map="auto")
    with pytest.raises(PlacementError, match="need tp_plan="):
        AutoModelForCausalLM.from_pretrained(tmp_path, tp_size=2)
    with pytest.raises(PlacementError, match="must be 'auto' or a dict"):
        AutoModelForCausalLM.from_pretrained(tmp_path, tp_plan="yes")


def test_inspect_prints_the_declared_plan(tmp_path: Path) -> None:
    _llama().save_pretrained(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "autohub_core.cli", "inspect", str(tmp_path)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert "placement (LlamaForCausalLM):" in run.stdout
    assert "no_split_modules: LlamaDecoderLayer" in run.stdout
    assert "model.layers.*.self_attn.o_proj: rowwise" in run.stdout
    assert "lm_head: colwise_gather_output" in run.stdout


# -- one torchrun launch ------------------------------------------------------------------------------


def _decoders() -> dict[str, transformers.PreTrainedModel]:
    common = {**SIZES, "intermediate_size": 64, "max_position_embeddings": 64}
    torch.manual_seed(0)
    return {
        "llama": transformers.LlamaForCausalLM(transformers.LlamaConfig(**common, num_key_value_heads=2)),
        "llama-tied": transformers.LlamaForCausalLM(
            transformers.LlamaConfig(
                **common, num_key_value_heads=2, tie_word_embeddings=True, attention_bias=True
            )
        ),
        "mistral": transformers.MistralForCausalLM(
            transformers.MistralConfig(**common, num_key_value_heads=2, sliding_window=4)
        ),
        "qwen2": transformers.Qwen2ForCausalLM(transformers.Qwen2Config(**common, num_key_value_heads=2)),
        "gpt2": transformers.GPT2LMHeadModel(
            transformers.GPT2Config(vocab_size=96, n_embd=32, n_layer=2, n_head=4, n_positions=64)
        ),
    }


def test_tensor_parallel_launch_matches_transformers(tmp_path: Path) -> None:
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(3, 96, (2, 9), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, :3] = 0  # left padding
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": input_ids.clone()}
    save_file(inputs, str(tmp_path / "inputs.safetensors"))
    expected, cases = {}, []
    for name, hf_model in _decoders().items():
        hf_model.eval().save_pretrained(tmp_path / name)
        with torch.no_grad():
            expected[name] = hf_model(**inputs).logits
        cases.append(
            {
                "task": "causal-lm",
                "checkpoint": str(tmp_path / name),
                "inputs": str(tmp_path / "inputs.safetensors"),
                "labels": ["labels"],
                "save_outputs": str(tmp_path / f"{name}-outputs.safetensors"),
                "device_mesh": name == "qwen2",
            }
        )
    (tmp_path / "results").mkdir()
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"cases": cases, "output": str(tmp_path / "results")}), encoding="utf-8")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command += ["-m", "autohub_core.testing.tensor_parallel", str(spec)]
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-6000:]}"
    for rank in range(2):
        results = json.loads((tmp_path / "results" / f"rank{rank}.json").read_text(encoding="utf-8"))
        for name, result in zip(expected, results, strict=True):
            assert result["output_max_diff"] <= 1e-5, (name, result)
            assert result["grad_max_diff"] <= 1e-5, (name, result)
            assert result["generate_equal"], name
            assert result["sharded_share"] == 0.5, name
            assert result["sharded_tensors_read"] and not result["sharded_tensors_read_whole"], (name, result)
            if rank == 0:
                assert result["save_equal"], name
            sharded_lm_head = "lm_head" in result["plan"]
            assert sharded_lm_head == (name in ("llama", "mistral", "qwen2")), (name, result["plan"])
    for name, logits in expected.items():
        found = load_file(tmp_path / f"{name}-outputs.safetensors")["logits"]
        torch.testing.assert_close(found, logits, rtol=0, atol=1e-5, msg=name)
