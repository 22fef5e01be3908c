"""Adapters (LoRA and the other injectable peft methods) on autohub models.

:class:`AdapterMixin` gives every :class:`~autohub_core.modeling.PreTrainedModel` transformers'
PEFT integration API (``load_adapter``, ``add_adapter``, ``set_adapter`` ...), built on peft's
public integration functions. peft is an optional extra, imported only inside the methods.

Every check runs before the model changes: a new adapter is first injected into a copy of the
model whose tensors live on the ``meta`` device (no data is copied), and the adapter's tensors
are compared with what that copy expects. Only when everything fits is the model itself touched.
"""

from __future__ import annotations

import copy
import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from autohub_core.errors import CheckpointNotFoundError, ConfigError, MissingExtraError, WeightsError
from autohub_core.hub import HubOptions, resolve_file

if TYPE_CHECKING:
    from peft import PeftConfig

__all__ = ["ADAPTER_CONFIG_NAME", "ADAPTER_SAFE_WEIGHTS_NAME", "DEFAULT_ADAPTER_NAME", "AdapterMixin"]

ADAPTER_CONFIG_NAME = "adapter_config.json"
ADAPTER_SAFE_WEIGHTS_NAME = "adapter_model.safetensors"
ADAPTER_PICKLE_WEIGHTS_NAME = "adapter_model.bin"
DEFAULT_ADAPTER_NAME = "default"
# peft saves a PeftModel's tensors under this prefix (PeftModel.base_model.model is the model).
PEFT_KEY_PREFIX = "base_model.model."
# The exceptions peft raises for a config that cannot be applied to a model.
_PEFT_CONFIG_ERRORS = (ValueError, TypeError, KeyError, NotImplementedError, RuntimeError)


class AdapterMixin:
    """transformers' ``PeftAdapterMixin`` API, mixed into :class:`PreTrainedModel`.

    ``_hf_peft_config_loaded`` (read by peft and transformers' Trainer) is true while at least one
    adapter is attached; ``peft_config`` (set by peft) maps each adapter name to its config.
    """

    _hf_peft_config_loaded: bool = False
    peft_config: dict[str, PeftConfig]

    def load_adapter(
        self,
        peft_model_id: str | os.PathLike | None = None,
        adapter_name: str | None = None,
        peft_config: PeftConfig | None = None,
        adapter_state_dict: dict[str, torch.Tensor] | None = None,
        low_cpu_mem_usage: bool = False,
        is_trainable: bool = False,
        **kwargs: Any,
    ) -> None:
        """Attach a saved adapter (``adapter_config.json`` + ``adapter_model.safetensors``) and activate it.

        ``peft_model_id`` is a directory or a Hub repo id (download options such as ``revision=``,
        ``token=``, ``subfolder=`` are accepted); ``peft_config`` and ``adapter_state_dict`` replace
        the files. The adapter is frozen and the model put in eval mode unless ``is_trainable``.
        """
        peft = _import_peft("load_adapter")
        adapter_name = adapter_name or DEFAULT_ADAPTER_NAME
        self._check_new_adapter_name(adapter_name)
        options = HubOptions.pop_from(kwargs)
        if kwargs:
            raise TypeError(f"load_adapter got unexpected arguments: {sorted(kwargs)}")
        if peft_model_id is None and (peft_config is None or adapter_state_dict is None):
            raise ConfigError(
                "load_adapter needs an adapter directory or Hub repo id, or both peft_config= and "
                "adapter_state_dict="
            )
        if peft_config is None:
            peft_config = _read_adapter_config(peft, peft_model_id, options)
        elif not isinstance(peft_config, peft.PeftConfig):
            raise ConfigError(f"peft_config= must be a peft.PeftConfig, got {type(peft_config).__name__}")
        if adapter_state_dict is None:
            adapter_state_dict = _read_adapter_weights(peft_model_id, options)
        adapter_state_dict = {
            key.removeprefix(PEFT_KEY_PREFIX): value for key, value in adapter_state_dict.items()
        }
        adapter_state_dict = self._check_adapter_fits(
            peft,
            peft_config,
            adapter_name,
            adapter_state_dict,
            source=str(peft_model_id or "adapter_state_dict"),
        )

        peft_config.inference_mode = not is_trainable
        peft.inject_adapter_in_model(peft_config, self, adapter_name, low_cpu_mem_usage=low_cpu_mem_usage)
        peft.set_peft_model_state_dict(
            self, adapter_state_dict, adapter_name=adapter_name, low_cpu_mem_usage=low_cpu_mem_usage
        )
        self._hf_peft_config_loaded = True
        if not is_trainable:
            self.eval()
            for layer in self._adapter_layers():
                layer.requires_grad_(False)

    def add_adapter(self, adapter_config: PeftConfig, adapter_name: str | None = None) -> None:
        """Attach a new, trainable adapter built from ``adapter_config`` and make it the active one."""
        peft = _import_peft("add_adapter")
        adapter_name = adapter_name or DEFAULT_ADAPTER_NAME
        self._check_new_adapter_name(adapter_name)
        if not isinstance(adapter_config, peft.PeftConfig):
            raise ConfigError(f"add_adapter needs a peft.PeftConfig, got {type(adapter_config).__name__}")
        self._check_adapter_fits(peft, adapter_config, adapter_name, None, source="adapter_config")
        adapter_config.base_model_name_or_path = getattr(self, "name_or_path", None) or None
        peft.inject_adapter_in_model(adapter_config, self, adapter_name)
        self._hf_peft_config_loaded = True
        self.set_adapter(adapter_name)

    def set_adapter(self, adapter_name: str | list[str]) -> None:
        """Make ``adapter_name`` (or each name of a list) the active adapter(s); the others stop acting."""
        _import_peft("set_adapter")
        self._check_known_adapters([adapter_name] if isinstance(adapter_name, str) else list(adapter_name))
        from peft.functional import set_adapter

        set_adapter(self, adapter_name)

    def disable_adapters(self) -> None:
        """Run the base model alone: every adapter stays attached but stops acting."""
        self._enable_adapter_layers(False, "disable_adapters")

    def enable_adapters(self) -> None:
        """Undo :meth:`disable_adapters`: the active adapters act again."""
        self._enable_adapter_layers(True, "enable_adapters")

    def active_adapters(self) -> list[str]:
        """The names of the active adapters."""
        _import_peft("active_adapters")
        self._require_adapters()
        for layer in self._adapter_layers():
            return list(layer.active_adapters)
        return []

    def get_adapter_state_dict(
        self, adapter_name: str | None = None, state_dict: dict[str, torch.Tensor] | None = None
    ) -> dict[str, torch.Tensor]:
        """The tensors of one adapter (default: the first active one), keyed as peft saves them."""
        peft = _import_peft("get_adapter_state_dict")
        adapter_name = adapter_name or self.active_adapters()[0]
        self._check_known_adapters([adapter_name])
        return peft.get_peft_model_state_dict(self, state_dict=state_dict, adapter_name=adapter_name)

    def delete_adapter(self, adapter_names: str | list[str]) -> None:
        """Remove adapter(s) from the model; with the last one gone the model is a plain model again."""
        _import_peft("delete_adapter")
        names = [adapter_names] if isinstance(adapter_names, str) else list(adapter_names)
        self._check_known_adapters(names)
        from peft.functional import delete_adapter
        from peft.mapping import PEFT_TYPE_TO_PREFIX_MAPPING

        for name in names:
            delete_adapter(
                self, adapter_name=name, prefix=PEFT_TYPE_TO_PREFIX_MAPPING[self.peft_config[name].peft_type]
            )
            del self.peft_config[name]
        if not self.peft_config:
            del self.peft_config
            self._hf_peft_config_loaded = False

    # -- saving (called by PreTrainedModel.save_pretrained while adapters are attached) ----------------

    def _save_active_adapter(
        self,
        save_directory: Path,
        state_dict: dict[str, torch.Tensor] | None = None,
        save_peft_format: bool = True,
    ) -> None:
        """Write the active adapter as peft does: ``adapter_config.json`` + ``adapter_model.safetensors``.

        As transformers: the keys get peft's ``base_model.model.`` prefix unless ``save_peft_format``
        is false, and saving several active adapters at once is refused.
        """
        from autohub_core._io import checkpoint_transaction

        active = self.active_adapters()
        if len(active) > 1:
            raise ConfigError(
                f"adapters {active} are active together and cannot be saved as one; call set_adapter(name) "
                "and save_pretrained once per adapter"
            )
        tensors = self.get_adapter_state_dict(active[0], state_dict=state_dict)
        prefix = PEFT_KEY_PREFIX if save_peft_format else ""
        tensors = {prefix + key: tensor.detach().contiguous() for key, tensor in tensors.items()}
        # peft writes its config file into a scratch folder; it joins the commit below.
        with tempfile.TemporaryDirectory() as scratch:
            self.peft_config[active[0]].save_pretrained(scratch)
            config_text = (Path(scratch) / ADAPTER_CONFIG_NAME).read_text(encoding="utf-8")
        with checkpoint_transaction(save_directory) as transaction:  # both files, or neither
            transaction.write_text(ADAPTER_CONFIG_NAME, config_text)
            transaction.write_safetensors(ADAPTER_SAFE_WEIGHTS_NAME, tensors)

    # -- checks -----------------------------------------------------------------------------------------

    def _adapter_layers(self) -> Iterator[nn.Module]:
        """Every peft layer of the model (modules wrapping a base layer with adapters)."""
        from peft.tuners.tuners_utils import BaseTunerLayer

        return (module for module in self.modules() if isinstance(module, BaseTunerLayer))

    def _enable_adapter_layers(self, enabled: bool, method: str) -> None:
        _import_peft(method)
        self._require_adapters()
        from peft.tuners.tuners_utils import BaseTunerLayer
        from peft.utils.other import AuxiliaryTrainingWrapper

        for module in self.modules():
            if isinstance(module, (BaseTunerLayer, AuxiliaryTrainingWrapper)):
                module.enable_adapters(enabled)

    def _check_new_adapter_name(self, adapter_name: str) -> None:
        if not isinstance(adapter_name, str):
            raise ConfigError(f"an adapter name must be a string, got {type(adapter_name).__name__}")
        if self._hf_peft_config_loaded and adapter_name in self.peft_config:
            raise ConfigError(
                f"an adapter named {adapter_name!r} is already attached to {type(self).__name__}; pass another "
                "adapter_name=, or delete_adapter it first"
            )

    def _require_adapters(self) -> None:
        if not self._hf_peft_config_loaded:
            raise ConfigError(f"{type(self).__name__} has no adapter: call load_adapter or add_adapter first")

    def _check_known_adapters(self, names: list[str]) -> None:
        self._require_adapters()
        unknown = [name for name in names if name not in self.peft_config]
        if unknown:
            raise ConfigError(
                f"no adapter named {unknown}; the attached adapters are {list(self.peft_config)}"
            )

    def _check_adapter_fits(
        self,
        peft: ModuleType,
        config: PeftConfig,
        adapter_name: str,
        tensors: dict[str, torch.Tensor] | None,
        source: str,
    ) -> dict[str, torch.Tensor]:
        """Refuse, before touching the model, a config or tensors that do not fit it.

        The adapter is injected into a meta copy of the model (peft's own matching of
        ``target_modules``); ``tensors`` (keys without peft's prefix) must then be exactly the
        adapter tensors that copy expects, with the same shapes. Adapter keys saved from the base
        model of a head (or the reverse) are moved under / out of ``base_model_prefix``, as
        transformers does. Returns the tensors with the keys the model uses.
        """
        skeleton = _meta_copy(self)
        try:
            peft.inject_adapter_in_model(
                copy.deepcopy(config), skeleton, adapter_name, low_cpu_mem_usage=True
            )
        except _PEFT_CONFIG_ERRORS as error:
            raise ConfigError(
                f"adapter {adapter_name!r} from {source} cannot be applied to {type(self).__name__}: {error}"
            ) from error
        if tensors is None:
            return {}
        expected = peft.get_peft_model_state_dict(
            skeleton, adapter_name=adapter_name, save_embedding_layers=False
        )
        tensors = _align_base_model_prefix(tensors, set(expected), getattr(self, "base_model_prefix", ""))
        unexpected = sorted(set(tensors) - set(expected))
        missing = sorted(set(expected) - set(tensors))
        mismatched = [
            f"{key}: adapter {tuple(tensors[key].shape)} vs model {tuple(expected[key].shape)}"
            for key in sorted(set(tensors) & set(expected))
            if tensors[key].shape != expected[key].shape
        ]
        problems = [
            f"{label} {_shorten(keys)}"
            for label, keys in (
                ("tensors that match no adapted module of this model:", unexpected),
                ("tensors the adapter lacks:", missing),
                ("shapes that differ:", mismatched),
            )
            if keys
        ]
        if problems:
            raise WeightsError(
                f"the adapter at {source} does not fit {type(self).__name__} (was it trained on another base "
                f"model?): {'; '.join(problems)}"
            )
        return tensors


def _import_peft(method: str) -> ModuleType:
    try:
        import peft
    except ImportError as error:
        raise MissingExtraError(f"{method} needs peft: pip install 'autohub-core[peft]'") from error
    return peft


def _read_adapter_config(peft: ModuleType, name: str | os.PathLike, options: HubOptions) -> PeftConfig:
    path = resolve_file(name, ADAPTER_CONFIG_NAME, options, required=False)
    if path is None:
        raise CheckpointNotFoundError(
            f"{name} has no {ADAPTER_CONFIG_NAME}: load_adapter needs an adapter saved by peft "
            "(PeftModel.save_pretrained) or by save_pretrained of a model with an adapter attached"
        )
    try:
        # A local directory: peft reads the file there, without network access.
        return peft.PeftConfig.from_pretrained(str(path.parent))
    except (*_PEFT_CONFIG_ERRORS, OSError) as error:
        raise ConfigError(f"{path} is not a valid peft adapter config: {error}") from error


def _read_adapter_weights(name: str | os.PathLike, options: HubOptions) -> dict[str, torch.Tensor]:
    """The tensors of ``adapter_model.safetensors``, or of ``adapter_model.bin`` if it loads with
    ``torch.load(weights_only=True)`` (pickles that need code execution are refused)."""
    from autohub_core.modeling import _open_weights

    for filename in (ADAPTER_SAFE_WEIGHTS_NAME, ADAPTER_PICKLE_WEIGHTS_NAME):
        path = resolve_file(name, filename, options, required=False)
        if path is None:
            continue
        handle = _open_weights(path, weights_only=True)
        if isinstance(handle, dict):  # adapter_model.bin, already checked to hold only tensors
            return handle
        names = handle.keys()  # a safetensors file
        try:
            return {key: handle.get_tensor(key) for key in names}
        except Exception as error:
            raise WeightsError(f"{path}: cannot read the adapter tensors: {error}") from error
    raise CheckpointNotFoundError(
        f"{name} has an {ADAPTER_CONFIG_NAME} but no adapter weights: looked for "
        f"{ADAPTER_SAFE_WEIGHTS_NAME}, {ADAPTER_PICKLE_WEIGHTS_NAME}"
    )


def _meta_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model``'s modules whose parameters and buffers are on the meta device (no data copied)."""
    memo: dict[int, Any] = {}
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        placeholder = torch.empty_like(tensor, device="meta")
        if isinstance(tensor, nn.Parameter):
            placeholder = nn.Parameter(placeholder, requires_grad=tensor.requires_grad)
        memo[id(tensor)] = placeholder
    return copy.deepcopy(model, memo)


def _align_base_model_prefix(
    tensors: dict[str, torch.Tensor], expected: set[str], prefix: str
) -> dict[str, torch.Tensor]:
    """``tensors`` with keys moved under or out of ``prefix`` when only that makes them match ``expected``."""
    if not prefix or set(tensors) <= expected:
        return tensors
    under = {f"{prefix}.{key}": value for key, value in tensors.items()}
    if set(under) <= expected:
        return under
    out = {key.removeprefix(f"{prefix}."): value for key, value in tensors.items()}
    if all(key.startswith(f"{prefix}.") for key in tensors) and set(out) <= expected:
        return out
    return tensors


def _shorten(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} ... ({len(items)} in all)"
