"""torchrun worker for ``tests/test_distributed_training.py``: one optimizer step, data-parallel.

Launched as ``python -m torch.distributed.run --nproc_per_node=2 --standalone
distributed_train_worker.py SPEC OUT_DIR`` on CPU with the gloo backend. ``SPEC`` is a JSON file
written by the test: the checkpoints (saved by transformers), the batch file (``torch.save``
of one full batch per model) and the cases to run. For every case each rank:

1. computes the single-process reference: the checkpoint loaded again, unwrapped, one step
   on the full batch (cached per model and optimizer, identical on every rank);
2. loads the checkpoint through the Auto class named in the spec (the plugin is found from
   its entry point, nothing is registered here), wraps it in DDP or FSDP2 (``fully_shard``
   on every block, then on the root), takes one step on its half of the batch;
3. averages the two ranks' losses (``all_reduce``), gathers the updated parameters
   (``full_tensor()`` for FSDP2's DTensors) and records the largest difference from the
   reference, plus what proves the setup was real (rank losses, sharding, recomputation).

Each rank writes ``OUT_DIR/rank<r>.json``; the test asserts on the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor
from torch.nn.parallel import DistributedDataParallel

import autohub_core
from autohub_core.modeling import GradientCheckpointingLayer
from autohub_core.plugins import list_plugins

Batch = dict[str, torch.Tensor]
Parameters = dict[str, torch.Tensor]


def load_model(spec: dict[str, Any]) -> nn.Module:
    """Load the case's checkpoint with its autohub Auto class, in training mode."""
    auto_class = getattr(autohub_core, spec["auto_class"])
    model = auto_class.from_pretrained(spec["checkpoint"])
    model.train()
    return model


def make_optimizer(name: str, lr: float, parameters: Any) -> torch.optim.Optimizer:
    """SGD (an update proportional to the gradient) or AdamW (decoupled weight decay)."""
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=lr)
    if name == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=0.01)
    raise ValueError(f"unknown optimizer {name!r}")


def one_step(model: nn.Module, optimizer: torch.optim.Optimizer, batch: Batch) -> torch.Tensor:
    """Forward, backward and one optimizer step; returns the detached loss."""
    optimizer.zero_grad(set_to_none=True)
    loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    return loss.detach()


def full_parameters(model: nn.Module) -> Parameters:
    """Every parameter as a full plain tensor (DTensor shards gathered on every rank)."""
    gathered = {}
    for name, parameter in model.named_parameters():
        tensor = parameter.detach()
        if isinstance(tensor, DTensor):
            tensor = tensor.full_tensor()
        gathered[name] = tensor.clone()
    return gathered


def rank_slice(batch: Batch, rank: int, world_size: int) -> Batch:
    """This rank's equal share of the batch rows."""
    rows = next(iter(batch.values())).shape[0]
    if rows % world_size:
        raise ValueError(f"batch of {rows} rows does not split over {world_size} ranks")
    share = rows // world_size
    return {key: value[rank * share : (rank + 1) * share] for key, value in batch.items()}


def count_block_linear_calls(model: nn.Module) -> list[int]:
    """Hook every Linear inside the first checkpointable block; the list's one item counts calls.

    Under gradient checkpointing the block's forward runs again in the backward pass, so the
    count doubles; that is what proves checkpointing was active in the distributed run.
    """
    counter = [0]
    block = next(module for module in model.modules() if isinstance(module, GradientCheckpointingLayer))

    def hook(*_: Any) -> None:
        counter[0] += 1

    for module in block.modules():
        if isinstance(module, nn.Linear):
            module.register_forward_hook(hook)
    return counter


def wrap_fsdp2(model: nn.Module, mesh: DeviceMesh) -> nn.Module:
    """Shard each repeated block (decoder / encoder layer), then the root, as users do."""
    for module in list(model.modules()):
        if isinstance(module, GradientCheckpointingLayer):
            fully_shard(module, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def max_abs_diff(left: Parameters, right: Parameters) -> float:
    """Largest absolute difference over all parameters of two same-named dicts."""
    return max((left[name] - right[name]).abs().max().item() for name in left)


def run_case(
    case: dict[str, Any],
    model_spec: dict[str, Any],
    batch: Batch,
    reference: dict[str, Any],
    mesh: DeviceMesh,
) -> dict[str, Any]:
    """Run one distributed case and compare it with the single-process reference."""
    rank, world_size = dist.get_rank(), dist.get_world_size()
    started = time.perf_counter()
    model = load_model(model_spec)
    model_class = type(model)
    if case["gradient_checkpointing"]:
        model.gradient_checkpointing_enable()
    linear_calls = count_block_linear_calls(model)
    local_numel = full_numel = sum(parameter.numel() for parameter in model.parameters())
    if case["wrapper"] == "ddp":
        wrapped: nn.Module = DistributedDataParallel(model)
    elif case["wrapper"] == "fsdp2":
        wrapped = wrap_fsdp2(model, mesh)
        local_numel = sum(
            parameter.to_local().numel() if isinstance(parameter, DTensor) else parameter.numel()
            for parameter in model.parameters()
        )
    else:
        raise ValueError(f"unknown wrapper {case['wrapper']!r}")
    dtensor_parameters = sum(isinstance(parameter, DTensor) for parameter in model.parameters())
    optimizer = make_optimizer(case["optimizer"], case["lr"], wrapped.parameters())
    rank_loss = one_step(wrapped, optimizer, rank_slice(batch, rank, world_size))
    rank_losses = [torch.zeros_like(rank_loss) for _ in range(world_size)]
    dist.all_gather(rank_losses, rank_loss)
    mean_loss = rank_loss.clone()
    dist.all_reduce(mean_loss, op=dist.ReduceOp.SUM)
    mean_loss /= world_size
    updated = full_parameters(model)
    output_embeddings = model.get_output_embeddings()
    return {
        "model_class": f"{model_class.__module__}.{model_class.__qualname__}",
        "rank_losses": [loss.item() for loss in rank_losses],
        "mean_loss": mean_loss.item(),
        "reference_loss": reference["loss"],
        "loss_diff": abs(mean_loss.item() - reference["loss"]),
        "parameter_names_match": sorted(updated) == sorted(reference["parameters"]),
        "parameter_count": len(updated),
        "max_param_diff": max_abs_diff(updated, reference["parameters"]),
        "max_reference_update": reference["max_update"],
        "dtensor_parameters": dtensor_parameters,
        "local_numel": local_numel,
        "full_numel": full_numel,
        "block_linear_calls": linear_calls[0],
        "tied_embeddings": output_embeddings is not None
        and output_embeddings.weight is model.get_input_embeddings().weight,
        "seconds": time.perf_counter() - started,
    }


def compute_reference(
    model_spec: dict[str, Any], batch: Batch, optimizer_name: str, lr: float
) -> dict[str, Any]:
    """One step of the unwrapped model on the full batch (the single-process run)."""
    model = load_model(model_spec)
    initial = full_parameters(model)
    loss = one_step(model, make_optimizer(optimizer_name, lr, model.parameters()), batch)
    updated = full_parameters(model)
    return {"loss": loss.item(), "parameters": updated, "max_update": max_abs_diff(updated, initial)}


def main() -> None:
    """Run every case of the spec on this rank and write ``rank<r>.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path, help="JSON file: models, batch file, cases")
    parser.add_argument("out_dir", type=Path, help="directory for rank<r>.json")
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text())
    batches: dict[str, Batch] = torch.load(spec["batches"])

    torch.manual_seed(0)
    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    mesh = init_device_mesh("cpu", (world_size,))
    references: dict[tuple[str, str, float], dict[str, Any]] = {}
    cases: dict[str, Any] = {}
    try:
        for case in spec["cases"]:
            model_name = case["model"]
            key = (model_name, case["optimizer"], case["lr"])
            if key not in references:
                references[key] = compute_reference(
                    spec["models"][model_name], batches[model_name], case["optimizer"], case["lr"]
                )
            cases[case["name"]] = run_case(
                case, spec["models"][model_name], batches[model_name], references[key], mesh
            )
            dist.barrier()
    finally:
        result = {
            "rank": rank,
            "world_size": world_size,
            "backend": dist.get_backend(),
            "local_world_size": int(os.environ["LOCAL_WORLD_SIZE"]),
            "plugins": {info.name: info.module for info in list_plugins() if info.loaded},
            "cases": cases,
        }
        args.out_dir.mkdir(parents=True, exist_ok=True)
        (args.out_dir / f"rank{rank}.json").write_text(json.dumps(result, indent=2))
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
