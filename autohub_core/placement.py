"""Device maps through accelerate: where each module of a model goes (GPUs, ``"cpu"``, ``"disk"``).

accelerate computes the map (``infer_auto_device_map`` over the family's ``_no_split_modules``)
and installs the hooks that run offloaded modules (``dispatch_model``); this module validates
what the user asked for, tells the loader where each tensor goes, and keeps disk-offloaded
weights where they are: a safetensors tensor is referenced in place (memory-mapped at run time),
only other sources are written to ``offload_folder``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autohub_core.errors import MissingExtraError, PlacementError

__all__ = ["STRATEGIES", "DeviceMap", "available_device", "check_covers", "is_multi_device"]

#: The ``device_map`` strings accelerate plans ("auto" is "balanced").
STRATEGIES = ("auto", "balanced", "balanced_low_0", "sequential")

Device = int | str | torch.device


def is_multi_device(device_map: object, max_memory: object, offload_folder: object) -> bool:
    """Whether a ``from_pretrained`` request needs accelerate (a strategy, several devices, disk)."""
    if max_memory is not None or offload_folder is not None or device_map in STRATEGIES:
        return device_map is not None
    if isinstance(device_map, Mapping):
        values = {str(_normalise(value)) for value in device_map.values()}
        return len(values) > 1 or "disk" in values
    return False


def available_device(device: Device) -> torch.device:
    """``device`` as a ``torch.device``, or :class:`PlacementError` when it is malformed or this
    machine lacks it (no such backend, or an index past its device count)."""
    if isinstance(device, int) and not isinstance(device, bool):
        device = f"cuda:{device}"
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError, TypeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise PlacementError(f"unknown device {device!r}: {reason}") from None
    if parsed.type in ("cpu", "meta"):
        return parsed
    if parsed.type == "mps":
        backend, probe = torch.backends.mps, "torch.backends.mps.is_available()"
    else:
        backend, probe = getattr(torch, parsed.type, None), f"torch.{parsed.type}.is_available()"
    is_available = getattr(backend, "is_available", None)
    if not callable(is_available) or not is_available():
        raise PlacementError(f"device {str(parsed)!r} is not available: {probe} is False (use 'cpu')")
    count = getattr(backend, "device_count", None)
    if parsed.index is not None and callable(count) and parsed.index >= count():
        raise PlacementError(
            f"device {str(parsed)!r} is not available: torch.{parsed.type}.device_count() is {count()}"
        )
    return parsed


def _normalise(device: Device) -> str:
    if isinstance(device, int) and not isinstance(device, bool):
        return f"cuda:{device}"
    if isinstance(device, torch.device):
        return str(device)
    if isinstance(device, str):
        if device in ("disk", "cpu"):
            return device
        try:
            return str(torch.device(device))
        except RuntimeError as error:
            raise PlacementError(f"device_map value {device!r} is not a device: {error}") from None
    raise PlacementError(f"device_map values must be a device (int, 'cpu', 'cuda:N', 'disk'), got {device!r}")


def _accelerate() -> Any:
    try:
        import accelerate
    except ImportError as error:
        raise MissingExtraError(
            "device_map with several devices, a strategy ('auto', 'balanced', ...), max_memory or disk "
            "offload needs accelerate: pip install 'autohub-core[accelerate]'"
        ) from error
    return accelerate


class DeviceMap:
    """A model's placement: module name -> device (``"disk"`` for offloaded), as accelerate uses it."""

    def __init__(
        self,
        model: nn.Module,
        device_map: str | Mapping[str, Device],
        *,
        max_memory: Mapping[Device, int | str] | None,
        dtype: torch.dtype,
        float32_kept: list[str],
        offload_folder: str | os.PathLike | None,
        offload_buffers: bool,
    ) -> None:
        accelerate = _accelerate()
        owner = type(model).__name__
        self.offload_buffers = offload_buffers
        # accelerate never offloads non-persistent buffers: they stay on the execution device
        self.non_persistent = {
            f"{prefix}.{name}" if prefix else name
            for prefix, module in model.named_modules(remove_duplicate=False)
            for name in module._non_persistent_buffers_set
        }
        if not isinstance(device_map, (str, Mapping)):
            raise PlacementError(f"device_map must be a device, a strategy or a dict, got {device_map!r}")
        no_split = list(getattr(model, "_no_split_modules", None) or [])
        if isinstance(device_map, str):
            if device_map not in STRATEGIES:
                raise PlacementError(
                    f"device_map={device_map!r} is not a device or strategy; use one of {', '.join(STRATEGIES)}, "
                    "a device, or a dict of module name -> device"
                )
            special = dict.fromkeys(float32_kept, torch.float32)
            memory = _check_max_memory(max_memory)
            if device_map != "sequential":
                memory = accelerate.utils.get_balanced_memory(
                    model, max_memory=memory, no_split_module_classes=no_split, dtype=dtype,
                    special_dtypes=special, low_zero=device_map == "balanced_low_0",
                )  # fmt: skip
            planned = accelerate.infer_auto_device_map(
                model, max_memory=memory, no_split_module_classes=no_split, dtype=dtype,
                special_dtypes=special, offload_buffers=offload_buffers,
            )  # fmt: skip
            if set(planned.values()) <= {"disk"}:
                raise PlacementError(
                    f"{owner}: max_memory={max_memory!r} is too small for even one unit of the model "
                    f"(a {' / '.join(no_split) or 'module'}) on any device; raise it"
                )
            self.map = {name: _normalise(device) for name, device in planned.items()}
        else:
            self.map = {name: _normalise(device) for name, device in device_map.items()}
            check_covers(model, self.map, owner)
        for device in set(self.map.values()) - {"disk"}:
            available_device(device)
        self.folder: Path | None = None
        if "disk" in self.map.values():
            self.folder = _writable_folder(offload_folder, owner)
        self.index: dict[str, dict[str, Any]] = {}

    @property
    def main_device(self) -> torch.device:
        """Where computation runs: the first accelerator in the map, else the CPU."""
        accelerators = [device for device in self.map.values() if device not in ("cpu", "disk")]
        return torch.device(accelerators[0] if accelerators else "cpu")

    def device_of(self, tensor_name: str, is_buffer: bool = False) -> torch.device | None:
        """Where ``tensor_name`` goes; None when it stays on disk."""
        module = tensor_name
        while module not in self.map:
            if not module:
                raise PlacementError(f"device_map does not place {tensor_name!r}")
            module = module.rpartition(".")[0]
        device = self.map[module]
        if device == "disk":
            if not is_buffer:
                return None
            offloaded = self.offload_buffers and tensor_name not in self.non_persistent
            return None if offloaded else self.main_device
        return torch.device(device)

    def refer(self, name: str, file: Path, key: str, dtype: torch.dtype) -> None:
        """Leave ``name`` on disk in the checkpoint's own safetensors file."""
        self.index[name] = {"safetensors_file": str(file), "weight_name": key, "dtype": _dtype_name(dtype)}

    def write(self, name: str, tensor: torch.Tensor) -> None:
        """Put ``name`` on disk in ``offload_folder`` (a tensor the checkpoint cannot serve mapped)."""
        from accelerate.utils import offload_weight

        assert self.folder is not None
        offload_weight(tensor, name, str(self.folder), index=self.index)

    def dispatch(self, model: nn.Module) -> None:
        """Install accelerate's hooks and record ``model.hf_device_map``."""
        accelerate = _accelerate()
        device_map = {name: device for name, device in self.map.items()}
        if self.folder is not None:
            accelerate.utils.save_offload_index(
                {k: v for k, v in self.index.items() if "safetensors_file" not in v}, str(self.folder)
            )
        accelerate.dispatch_model(
            model,
            device_map=device_map,
            main_device=str(self.main_device),  # safetensors opens offloaded files on it
            offload_dir=str(self.folder) if self.folder is not None else None,
            offload_index=self.index or None,
            offload_buffers=self.offload_buffers,
        )
        model.hf_device_map = device_map


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _check_max_memory(max_memory: Mapping[Device, int | str] | None) -> dict[Device, int] | None:
    if max_memory is None:
        return None
    from accelerate.utils import get_max_memory

    if not isinstance(max_memory, Mapping):
        raise PlacementError(
            f"max_memory must be a dict of device -> bytes or size ('2GiB'), got {max_memory!r}"
        )
    for device in max_memory:
        if device not in ("cpu", "disk"):
            available_device(device)
    try:
        return get_max_memory(dict(max_memory))
    except (ValueError, TypeError, KeyError) as error:
        raise PlacementError(f"max_memory={dict(max_memory)!r} is not valid: {error}") from error


def check_covers(model: nn.Module, device_map: Mapping[str, Device], owner: str) -> None:
    """Every key names a module; every parameter and buffer falls under exactly one key."""
    modules = {name for name, _ in model.named_modules(remove_duplicate=False)}
    unknown = sorted(name for name in device_map if name not in modules)
    if unknown:
        raise PlacementError(f"device_map names modules {owner} does not have: {unknown}")
    tensors = [name for name, _ in model.named_parameters(remove_duplicate=False)] + [
        name for name, _ in model.named_buffers(remove_duplicate=False)
    ]
    uncovered = []
    for tensor in tensors:
        owners = [key for key in device_map if key == "" or tensor == key or tensor.startswith(key + ".")]
        if not owners:
            uncovered.append(tensor)
        elif len(owners) > 1:
            raise PlacementError(
                f"device_map places {tensor!r} twice (under {owners}); give each module one device"
            )
    if uncovered:
        shown = ", ".join(uncovered[:5]) + (" ..." if len(uncovered) > 5 else "")
        raise PlacementError(f"device_map leaves out {len(uncovered)} tensor(s) of {owner}: {shown}")


def _writable_folder(folder: str | os.PathLike | None, owner: str) -> Path:
    if folder is None:
        raise PlacementError(
            f"the device map puts part of {owner} on disk: pass offload_folder= (a writable directory)"
        )
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise PlacementError(f"offload_folder {path} is not a writable directory: {error}") from error
    return path
