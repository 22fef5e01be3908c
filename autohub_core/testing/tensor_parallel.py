"""The conformance kit's tensor-parallel run: one ``torchrun`` launch compares, for each checkpoint,
a model loaded with ``tp_plan="auto"`` against the same checkpoint loaded whole in the same process.

Run as ``torchrun --nproc_per_node=2 -m autohub_core.testing.tensor_parallel SPEC.json``. The spec
lists cases (``task``, ``checkpoint``, ``inputs``: a safetensors file of forward arguments,
``labels``: the names among them that are labels; optional ``device_mesh``: pass a mesh built by
the worker instead of ``tp_size``, ``save_outputs``: a file where rank 0 writes the sharded
model's outputs) and an ``output`` directory; each rank writes
``rank<N>.json`` there with, per case: the largest output and gradient differences, whether greedy
``generate()`` gave the same tokens, which sharded tensors were read whole from the checkpoint
(none should be: each rank reads only its slices), whether a tensor-parallel ``save_pretrained`` wrote the same
tensors as a whole-model save, and the share of the sharded weights this rank holds.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["main", "run_case"]


def _tensors(output: Any) -> dict[str, torch.Tensor]:
    return {key: value for key, value in output.items() if isinstance(value, torch.Tensor)}


def _saved_tensors(directory: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    tensors: dict[str, torch.Tensor] = {}
    for file in sorted(directory.glob("*.safetensors")):
        tensors.update(load_file(file))
    return tensors


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    """Compare one checkpoint loaded whole and with ``tp_plan="auto"`` (a collective: all ranks)."""
    import torch.distributed as dist
    from safetensors.torch import load_file
    from torch.distributed.tensor import DTensor

    from autohub_core.auto import auto_class_for_task
    from autohub_core.modeling import _WeightsSource

    auto_class = auto_class_for_task(case["task"])
    whole = auto_class.from_pretrained(case["checkpoint"])
    world_size = int(os.environ["WORLD_SIZE"])  # from torchrun; from_pretrained starts the process group
    placement: dict[str, Any] = {"tp_size": world_size}
    if case.get("device_mesh"):
        from torch.distributed.device_mesh import init_device_mesh

        placement = {"device_mesh": init_device_mesh("cpu", (world_size,))}
    reads: list[tuple[str, bool]] = []  # (checkpoint key, read whole)
    original_get = _WeightsSource.get

    def recording_get(source: _WeightsSource, key: str, index: Any = None) -> torch.Tensor:
        reads.append((key, index is None))
        return original_get(source, key, index)

    _WeightsSource.get = recording_get  # type: ignore[method-assign]
    try:
        sharded = auto_class.from_pretrained(case["checkpoint"], tp_plan="auto", **placement)
    finally:
        _WeightsSource.get = original_get  # type: ignore[method-assign]
    inputs = load_file(case["inputs"])
    labels = set(case.get("labels", []))
    result: dict[str, Any] = {"task": case["task"], "plan": sharded.tp_plan}
    split = {
        name for name, sharding in sharded._tensor_parallel.shardings.items() if sharding.dim is not None
    }
    result["sharded_tensors_read_whole"] = sorted(
        {key for key, whole_read in reads if whole_read and key in split}
    )
    result["sharded_tensors_read"] = len({key for key, _ in reads if key in split})

    with torch.no_grad():
        expected, found = _tensors(whole(**inputs)), _tensors(sharded(**inputs))
    result["outputs"] = sorted(expected)
    if case.get("save_outputs") and dist.get_rank() == 0:
        from safetensors.torch import save_file

        save_file({key: value.contiguous() for key, value in found.items()}, case["save_outputs"])
    result["output_max_diff"] = max(
        (expected[key] - found[key]).abs().max().item()
        if expected[key].shape == found[key].shape
        else float("inf")
        for key in expected
    )

    for model in (whole, sharded):  # gradients in eval mode: no dropout, so both runs compare
        output = model(**inputs)
        loss = output["loss"] if labels else sum(t.float().pow(2).mean() for t in _tensors(output).values())
        loss.backward()
    # Whole gradients in checkpoint order (packed projections regrouped), as a save gathers weights.
    sharded_grads = sharded._tensor_parallel.gather(
        {name: p.grad for name, p in sharded.named_parameters() if p.grad is not None}
    )
    result["grad_max_diff"] = max(
        (parameter.grad - sharded_grads[name]).abs().max().item()
        for name, parameter in whole.named_parameters()
        if parameter.grad is not None
    )

    if type(whole).can_generate():
        prompt = {key: value[:1] for key, value in inputs.items() if key in ("input_ids", "attention_mask")}
        expected_tokens = whole.generate(**prompt, max_new_tokens=6, do_sample=False)
        found_tokens = sharded.generate(**prompt, max_new_tokens=6, do_sample=False)
        result["generate_equal"] = torch.equal(expected_tokens, found_tokens)

    split = [
        p for p in sharded.parameters() if isinstance(p, DTensor) and any(x.is_shard() for x in p.placements)
    ]
    held, whole_size = sum(p.to_local().numel() for p in split), sum(p.numel() for p in split)
    result["sharded_share"] = held / whole_size if whole_size else None

    with tempfile.TemporaryDirectory() as scratch:
        # Every rank gathers, rank 0 writes; the path of rank 0 is the one compared.
        paths = [None] * dist.get_world_size()
        dist.all_gather_object(paths, scratch)
        sharded.save_pretrained(paths[0])
        dist.barrier()
        if dist.get_rank() == 0:
            whole_dir = Path(scratch) / "whole"
            whole.save_pretrained(whole_dir)
            saved, reference = _saved_tensors(Path(scratch)), _saved_tensors(whole_dir)
            result["save_equal"] = sorted(saved) == sorted(reference) and all(
                saved[name].dtype == reference[name].dtype and torch.equal(saved[name], reference[name])
                for name in reference
            )
        dist.barrier()
    return result


def main(argv: list[str] | None = None) -> int:
    """Run every case of the spec file named by ``argv[0]``; write this rank's results."""
    import torch.distributed as dist

    spec = json.loads(Path((argv or sys.argv[1:])[0]).read_text(encoding="utf-8"))
    torch.manual_seed(0)
    results = [run_case(case) for case in spec["cases"]]
    rank = dist.get_rank()
    Path(spec["output"], f"rank{rank}.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    dist.barrier()
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
