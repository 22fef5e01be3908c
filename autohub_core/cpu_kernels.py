"""Faster bf16 inference on CPU: linear layers through oneDNN with their weights prepacked.

One-token decoding is a chain of matrix-vector products whose speed is how fast the weights stream
from memory. torch's bf16 ``F.linear`` on CPU streams about half of what a memory copy reaches;
oneDNN's linear over a weight reordered once into its blocked layout streams ~1.4x more on the same
weights, with bit-identical outputs (both run oneDNN's bf16 kernels; only the weight layout
differs). torch.compile's CPU backend (``freezing``) does the same reorder; this module gives it
without compiling::

    from autohub_core.cpu_kernels import prepack_linear_weights

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
    prepack_linear_weights(model)  # opt-in: one packed copy of every linear weight

The packed copy is extra memory (the size of the linear weights). A packed layer uses it only for
bf16 CPU inputs when no gradient is needed and the weight is unchanged since packing; anything else
(training, another dtype or device, a weight changed in place) runs the ordinary ``F.linear``.
:func:`unpack_linear_weights` frees the copies.
"""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F
from torch import nn

from autohub_core.errors import UnsupportedFeatureError

__all__ = ["prepack_linear_weights", "unpack_linear_weights"]

_PACKED = "_autohub_packed_weight"


def _supported() -> bool:
    return bool(
        torch.backends.mkldnn.is_available()
        and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")
        and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    )


def _packable(module: nn.Module) -> bool:
    weight = getattr(module, "weight", None)
    return (
        isinstance(module, nn.Linear)
        and type(weight.data) is torch.Tensor  # not a DTensor (tensor parallelism) or a meta placeholder
        and weight.device.type == "cpu"
        and weight.dtype == torch.bfloat16
        and not hasattr(module, "_hf_hook")  # accelerate's offloading owns this module's forward
    )


def _packed_forward(self: nn.Linear, input: torch.Tensor) -> torch.Tensor:
    """oneDNN's linear over the packed weight when it applies, else ``F.linear``."""
    packed, pointer, version = getattr(self, _PACKED)
    weight = self.weight
    if (
        input.dtype != torch.bfloat16
        or input.device.type != "cpu"
        or not input.is_contiguous()
        or (torch.is_grad_enabled() and (weight.requires_grad or input.requires_grad))
        or weight.data_ptr() != pointer
        or weight._version != version
    ):
        return F.linear(input, weight, self.bias)
    return torch.ops.mkldnn._linear_pointwise(input, packed, self.bias, "none", [], "")


def prepack_linear_weights(model: nn.Module) -> int:
    """Route every bf16 ``nn.Linear`` of ``model`` on the CPU through oneDNN with a prepacked copy of
    its weight (see the module docstring); returns how many layers were packed. Packing again
    refreshes the copies. Raises ``UnsupportedFeatureError`` when this torch build has no oneDNN bf16
    kernels (the CPU lacks AVX-512 BF16 / AMX, or torch was built without oneDNN)."""
    if not _supported():
        raise UnsupportedFeatureError(
            "prepack_linear_weights needs torch's oneDNN bf16 kernels, which this CPU or torch build "
            "lacks; run the model as it is"
        )
    count = 0
    with torch.no_grad():
        for module in model.modules():
            if not _packable(module):
                continue
            weight = module.weight
            packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach(), 1)
            setattr(module, _PACKED, (packed, weight.data_ptr(), weight._version))
            module.forward = types.MethodType(_packed_forward, module)
            count += 1
    return count


def unpack_linear_weights(model: nn.Module) -> int:
    """Undo :func:`prepack_linear_weights`: free the packed copies and restore ``nn.Linear.forward``;
    returns how many layers were unpacked."""
    count = 0
    for module in model.modules():
        if hasattr(module, _PACKED):
            delattr(module, _PACKED)
            del module.forward  # the instance attribute: the class's forward applies again
            count += 1
    return count
