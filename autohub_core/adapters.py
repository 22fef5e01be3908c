"""Adapters (LoRA and the other peft methods) on autohub models: transformers' PEFT integration API.

Filled in by the adapters work (issue 10, item 4).
"""

from __future__ import annotations

__all__ = ["AdapterMixin"]


class AdapterMixin:
    """``load_adapter`` / ``add_adapter`` / ``set_adapter`` ... mixed into :class:`PreTrainedModel`."""
