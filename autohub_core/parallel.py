"""Tensor parallelism: the plan a family declares, applied with torch.distributed's DTensor.

A family declares, as data, how its modules split across ranks (transformers' vocabulary):
``base_model_tp_plan`` on its ``PreTrainedModel`` base, with module paths relative to the base
model, and ``_tp_plan`` on a head for the head's own modules (``lm_head``). ``*`` stands for one
path component (a layer index). The styles:

- ``colwise``: an ``nn.Linear`` / :class:`~autohub_core.layers.Conv1D` keeps this rank's slice
  of its output features (an ``nn.Embedding``: of its embedding dim); the input is replicated.
- ``rowwise``: keeps this rank's slice of its input features; the partial outputs are summed
  (all-reduce), then the bias is added once.
- ``rowwise_split_input``: ``rowwise`` whose input arrives whole (replicated) and is split here.
- ``colwise_gather_output`` (alias ``colwise_rep``): ``colwise`` whose output is gathered whole.
- ``packed_colwise:N`` (``packed_colwise`` is ``:2``): a fused projection whose output is N equal
  parts (GPT-2's ``c_attn`` is q|k|v): each part is sharded separately, so a rank's output is
  ``[part1_local | part2_local | ...]``.
- ``replicate``: every rank keeps the whole module.
- ``replicated_with_grad_allreduce``: every rank keeps the whole module, which acts on this rank's
  share of a sharded activation (Qwen3's per-head ``q_norm`` after a colwise ``q_proj``): its
  gradients are summed over the ranks in backward.

Each rank reads only its slices of the checkpoint tensors, and the parameters become DTensors;
forward hooks redistribute inputs and outputs (torch's collectives). :meth:`PreTrainedModel.
save_pretrained` gathers them into one ordinary checkpoint.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist
from torch import nn

from autohub_core.errors import PlacementError
from autohub_core.layers import Conv1D

if TYPE_CHECKING:
    from torch.distributed.device_mesh import DeviceMesh

    from autohub_core.modeling import PreTrainedModel

__all__ = ["STYLES", "Sharding", "TensorParallel", "declared_plan", "matching_modules"]

logger = logging.getLogger("autohub")

#: The plan vocabulary (``packed_colwise`` also takes a part count: ``packed_colwise:3``).
STYLES = (
    "colwise",
    "rowwise",
    "rowwise_split_input",
    "colwise_gather_output",
    "colwise_rep",
    "packed_colwise",
    "replicate",
    "replicated_with_grad_allreduce",
)


@dataclass(frozen=True)
class Sharding:
    """How one tensor is split over the ranks: along ``dim``, in ``parts`` equal sections each
    split separately (a packed projection); ``dim`` None means replicated whole."""

    dim: int | None
    parts: int = 1


def declared_plan(model: PreTrainedModel) -> dict[str, str]:
    """The plan ``model`` declares, with paths relative to ``model``: the base model's plan
    under ``base_model_prefix`` (when the model wraps a base model) plus the head's ``_tp_plan``."""
    base_plan = dict(type(model).base_model_tp_plan or {})
    base = getattr(model, model.base_model_prefix, None) if model.base_model_prefix else None
    plan = (
        {f"{model.base_model_prefix}.{path}": style for path, style in base_plan.items()}
        if isinstance(base, nn.Module) and base is not model
        else base_plan
    )
    plan.update(type(model)._tp_plan or {})
    return plan


def matching_modules(model: nn.Module, pattern: str) -> list[str]:
    """The names of ``model``'s modules that a plan path (``*`` = one component) names."""
    regex = re.compile(
        "^" + r"\.".join("[^.]+" if part == "*" else re.escape(part) for part in pattern.split(".")) + "$"
    )
    return [name for name, _ in model.named_modules() if name and regex.match(name)]


def _parse_style(path: str, style: object, owner: str) -> tuple[str, int]:
    if isinstance(style, str):
        name, _, count = style.partition(":")
        if name in STYLES and (
            not count or (name == "packed_colwise" and count.isdigit() and int(count) > 0)
        ):
            parts = int(count) if count else (2 if name == "packed_colwise" else 1)
            return ("colwise_gather_output" if name == "colwise_rep" else name), parts
    raise PlacementError(
        f"{owner}: tensor-parallel plan entry {path!r} has style {style!r}; use one of "
        f"{', '.join(STYLES)} (packed_colwise:N for N fused parts)"
    )


def _weight_dims(module: nn.Module) -> tuple[int, int] | None:
    """(output-features dim, input-features dim) of a module's weight."""
    if isinstance(module, nn.Linear):
        return 0, 1
    if isinstance(module, Conv1D):
        return 1, 0
    return None


class TensorParallel:
    """A model's tensor-parallel layout over a 1-D device mesh: which tensors are split how,
    and the forward hooks that keep activations consistent across ranks."""

    def __init__(self, mesh: DeviceMesh, plan: Mapping[str, str] | None) -> None:
        self.mesh = mesh
        self.size = mesh.size()
        self.rank = mesh.get_local_rank()
        self._requested_plan = dict(plan) if plan is not None else None
        self.plan: dict[str, str] = {}  # module name -> style, resolved against a model
        self.shardings: dict[str, Sharding] = {}  # tensor name -> sharding
        self.grad_allreduce: list[str] = []  # replicated modules whose gradients are summed over ranks

    @classmethod
    def launch(
        cls, tp_plan: str | Mapping[str, str], tp_size: int | None, device_mesh: DeviceMesh | None
    ) -> TensorParallel:
        """The layout for ``from_pretrained(tp_plan=, tp_size=, device_mesh=)``: the process group
        of the ``torchrun`` launch (NCCL on GPUs, gloo on CPU), initialised when needed."""
        if not (tp_plan == "auto" or isinstance(tp_plan, Mapping)):
            raise PlacementError(
                f"tp_plan must be 'auto' or a dict of module pattern -> style, got {tp_plan!r}"
            )
        plan = None if tp_plan == "auto" else dict(tp_plan)
        if device_mesh is None:
            device_mesh = _launch_mesh(tp_size)
        elif device_mesh.ndim > 1:
            if "tp" not in (device_mesh.mesh_dim_names or ()):
                raise PlacementError("device_mesh has several dimensions: name one 'tp' (mesh_dim_names)")
            device_mesh = device_mesh["tp"]
        if tp_size is not None and tp_size != device_mesh.size():
            raise PlacementError(
                f"tp_size={tp_size} differs from the device mesh's size {device_mesh.size()}"
            )
        return cls(device_mesh, plan)

    @property
    def device(self) -> torch.device:
        """Where this rank's tensors live."""
        if self.mesh.device_type == "cuda":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device(self.mesh.device_type)

    # -- planning ------------------------------------------------------------------------------

    def resolve(self, model: PreTrainedModel) -> None:
        """Match the plan against ``model``'s modules and decide each tensor's sharding.

        Raises :class:`PlacementError` for a plan entry naming no module, a module type no style
        applies to, or a size (or head count) the tensor-parallel size does not divide.
        """
        owner = type(model).__name__
        declared = self._requested_plan is None
        plan = declared_plan(model) if declared else dict(self._requested_plan or {})
        if not plan:
            raise PlacementError(
                f"{owner} declares no tensor-parallel plan (base_model_tp_plan / _tp_plan); "
                "pass tp_plan={module pattern: style} or load it without tp_plan"
            )
        self._check_heads(model)
        tied = _tied_names(model)
        for pattern, style in plan.items():
            name, parts = _parse_style(pattern, style, owner)
            modules = matching_modules(model, pattern)
            # A declared entry may name modules only some configs build (T5's gated wi_0 / wi_1).
            if not modules and not declared:
                raise PlacementError(
                    f"{owner}: tensor-parallel plan entry {pattern!r} names no module of the model"
                )
            for module_name in modules:
                if name == "replicate":
                    continue
                if name == "replicated_with_grad_allreduce":
                    self.grad_allreduce.append(module_name)
                    continue
                module = model.get_submodule(module_name)
                own = [f"{module_name}.{local}" for local, _ in module.named_parameters(recurse=False)]
                if any(tensor in tied for tensor in own):
                    logger.info("%s stays replicated: it is tied to another module", module_name)
                    continue
                self.plan[module_name] = name
                self.shardings.update(self._module_shardings(module_name, module, name, parts, owner))
        if not self.plan:
            raise PlacementError(f"{owner}: its tensor-parallel plan shards none of its modules")

    def _module_shardings(
        self, module_name: str, module: nn.Module, style: str, parts: int, owner: str
    ) -> dict[str, Sharding]:
        dims = _weight_dims(module)
        if isinstance(module, nn.Embedding) and style == "colwise":
            dims = (1, 0)
        elif dims is None or (isinstance(module, nn.Embedding) and style != "colwise"):
            raise PlacementError(
                f"{owner}: {module_name} is a {type(module).__name__}, which style {style!r} cannot shard; "
                "tensor-parallel styles apply to nn.Linear and autohub_core.layers.Conv1D "
                "(and 'colwise' to nn.Embedding)"
            )
        output_dim, input_dim = dims
        if style in ("rowwise", "rowwise_split_input"):
            result = {"weight": Sharding(input_dim)}
            if getattr(module, "bias", None) is not None:
                result["bias"] = Sharding(None)
        else:
            result = {"weight": Sharding(output_dim, parts)}
            if getattr(module, "bias", None) is not None:
                result["bias"] = Sharding(0, parts)
        for local, sharding in result.items():
            if sharding.dim is None:
                continue
            size = getattr(module, local).shape[sharding.dim]
            if size % (sharding.parts * self.size):
                raise PlacementError(
                    f"{owner}: cannot split {module_name}.{local} {tuple(getattr(module, local).shape)} "
                    f"{'in ' + str(sharding.parts) + ' parts ' if sharding.parts > 1 else ''}along dim "
                    f"{sharding.dim} ({size}) over tensor-parallel size {self.size}; use a size that divides it"
                )
        return {f"{module_name}.{local}": sharding for local, sharding in result.items()}

    def _check_heads(self, model: PreTrainedModel) -> None:
        config = model.config
        for key in ("num_attention_heads", "num_key_value_heads"):
            heads = getattr(config, key, None)
            if isinstance(heads, int) and heads % self.size:
                raise PlacementError(
                    f"{type(model).__name__}: config {key}={heads} is not divisible by the tensor-parallel "
                    f"size {self.size}; each rank must hold whole attention heads"
                )

    # -- loading -------------------------------------------------------------------------------

    def local_slices(self, full_shape: tuple[int, ...], sharding: Sharding) -> list[tuple[slice, ...]]:
        """The index tuples selecting this rank's pieces of a tensor of ``full_shape``."""
        assert sharding.dim is not None
        section = full_shape[sharding.dim] // sharding.parts
        piece = section // self.size
        pieces = []
        for part in range(sharding.parts):
            start = part * section + self.rank * piece
            index = [slice(None)] * len(full_shape)
            index[sharding.dim] = slice(start, start + piece)
            pieces.append(tuple(index))
        return pieces

    def distribute(
        self, local: torch.Tensor, full_shape: tuple[int, ...], sharding: Sharding
    ) -> torch.Tensor:
        """This rank's ``local`` piece (or the whole tensor, replicated) as a DTensor."""
        from torch.distributed.tensor import DTensor, Replicate, Shard

        if sharding.dim is None:
            return DTensor.from_local(local, self.mesh, [Replicate()], run_check=False)
        stride = torch.empty(full_shape, device="meta").stride()
        return DTensor.from_local(
            local,
            self.mesh,
            [Shard(sharding.dim)],
            run_check=False,
            shape=torch.Size(full_shape),
            stride=stride,
        )

    def scatter(self, tensor: torch.Tensor, sharding: Sharding | None) -> torch.Tensor:
        """A tensor initialised on every rank (a weight the checkpoint lacks), made identical to
        rank 0's and, when ``sharding`` is given, split like a loaded one."""
        dist.broadcast(
            tensor, src=dist.get_global_rank(self.mesh.get_group(), 0), group=self.mesh.get_group()
        )
        if sharding is None:
            return tensor
        full_shape = tuple(tensor.shape)
        local = torch.cat(
            [tensor[index] for index in self.local_slices(full_shape, sharding)], dim=sharding.dim or 0
        )
        return self.distribute(local.contiguous(), full_shape, sharding)

    # -- running -------------------------------------------------------------------------------

    def install(self, model: nn.Module) -> None:
        """Register the forward hooks that turn each sharded module's inputs into DTensors and its
        outputs back into local tensors (all-reduced or gathered where the style says)."""
        for module_name, style in self.plan.items():
            module = model.get_submodule(module_name)
            module.register_forward_pre_hook(self._input_hook(style))
            module.register_forward_hook(self._output_hook(style))
        for module_name in self.grad_allreduce:
            for parameter in model.get_submodule(module_name).parameters():
                parameter.register_hook(self._sum_over_ranks)

    def _sum_over_ranks(self, gradient: torch.Tensor) -> torch.Tensor:
        """A replicated parameter's gradient from this rank's share of the activations, summed over
        the mesh: the whole model's gradient, on every rank."""
        gradient = gradient.clone()
        dist.all_reduce(gradient, group=self.mesh.get_group())
        return gradient

    def _input_hook(self, style: str) -> Callable[[nn.Module, tuple[Any, ...]], tuple[Any, ...]]:
        from torch.distributed.tensor import DTensor, Replicate, Shard

        placement = Shard(-1) if style == "rowwise" else Replicate()

        def to_dtensor(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
            first = args[0]
            if not isinstance(first, DTensor):
                first = DTensor.from_local(first, self.mesh, [placement], run_check=False)
                if style == "rowwise_split_input":
                    first = first.redistribute(self.mesh, [Shard(-1)])
            return (first, *args[1:])

        return to_dtensor

    def _output_hook(self, style: str) -> Callable[[nn.Module, Any, Any], torch.Tensor]:
        from torch.distributed.tensor import Replicate

        def to_local(module: nn.Module, args: Any, output: Any) -> torch.Tensor:
            if style in ("rowwise", "rowwise_split_input", "colwise_gather_output"):
                output = output.redistribute(self.mesh, [Replicate()])
            return output.to_local()

        return to_local

    # -- saving --------------------------------------------------------------------------------

    def gather(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Every DTensor of ``state`` as the whole tensor, in checkpoint order (packed parts
        regrouped). A collective: every rank of the mesh must call it."""
        from torch.distributed.tensor import DTensor

        gathered = {}
        for name, tensor in state.items():
            if isinstance(tensor, DTensor):
                tensor = tensor.full_tensor()
                sharding = self.shardings.get(name)
                if sharding is not None and sharding.dim is not None and sharding.parts > 1:
                    tensor = _regroup_parts(tensor, sharding, self.size)
            gathered[name] = tensor
        return gathered


def _regroup_parts(tensor: torch.Tensor, sharding: Sharding, size: int) -> torch.Tensor:
    """From ``[rank0: p1 p2 .. | rank1: p1 p2 ..]`` along ``sharding.dim`` back to ``[p1 | p2 | ..]``."""
    assert sharding.dim is not None
    moved = tensor.movedim(sharding.dim, 0)
    piece = moved.shape[0] // (size * sharding.parts)
    regrouped = moved.reshape(size, sharding.parts, piece, *moved.shape[1:]).transpose(0, 1)
    return regrouped.reshape(moved.shape).movedim(0, sharding.dim).contiguous()


def _tied_names(model: nn.Module) -> set[str]:
    """Names of parameters shared by several modules (tied weights)."""
    seen: dict[int, list[str]] = {}
    for name, parameter in model.named_parameters(remove_duplicate=False):
        seen.setdefault(id(parameter), []).append(name)
    return {name for names in seen.values() if len(names) > 1 for name in names}


def _launch_mesh(tp_size: int | None) -> DeviceMesh:
    from torch.distributed.device_mesh import init_device_mesh

    if not dist.is_available():
        raise PlacementError("tp_plan needs torch.distributed, which this torch build lacks")
    if not dist.is_initialized():
        if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
            raise PlacementError(
                "tp_plan needs a distributed launch: run the script with "
                "`torchrun --nproc_per_node=N script.py` (or pass device_mesh=)"
            )
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    world = dist.get_world_size()
    size = world if tp_size is None else tp_size
    if not isinstance(size, int) or size < 1 or world % size:
        raise PlacementError(f"tp_size={tp_size} must divide the number of processes ({world})")
    device_type = "cuda" if torch.cuda.is_available() else "cpu"
    if size == world:
        return init_device_mesh(device_type, (world,))
    return init_device_mesh(device_type, (world // size, size), mesh_dim_names=("dp", "tp"))["tp"]
