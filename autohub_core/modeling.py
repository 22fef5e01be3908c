"""``PreTrainedModel``: build a family's module and load / save its weights.

Loading never initialises weights the checkpoint then overwrites: the module is built on
the ``meta`` device, each checkpoint tensor is read from the memory-mapped safetensors
file, cast and placed on the target device once, and assigned in place of its meta
placeholder. Only what the checkpoint lacks (a new head) is materialised and initialised
with the family's ``_init_weights``.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import json
import logging
import os
import re
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from autohub_core import limits
from autohub_core._io import CheckpointTransaction, checkpoint_transaction
from autohub_core.adapters import AdapterMixin
from autohub_core.configuration import PretrainedConfig
from autohub_core.errors import (
    AutohubError,
    CheckpointNotFoundError,
    ConfigError,
    PlacementError,
    UnsupportedFeatureError,
    WeightsError,
)
from autohub_core.hub import HubOptions, cache_only, is_local, not_cached_error, resolve_file
from autohub_core.layers import check_attention_implementation
from autohub_core.placement import DeviceMap, available_device, check_covers, is_multi_device

if TYPE_CHECKING:
    from autohub_core.parallel import TensorParallel

__all__ = ["SAFE_WEIGHTS_INDEX_NAME", "SAFE_WEIGHTS_NAME", "LoadingInfo", "PreTrainedModel"]

logger = logging.getLogger("autohub")

SAFE_WEIGHTS_NAME = "model.safetensors"
SAFE_WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
PICKLE_WEIGHTS_NAME = "pytorch_model.bin"
PICKLE_WEIGHTS_INDEX_NAME = "pytorch_model.bin.index.json"
_LEGACY_SUFFIXES = ((".gamma", ".weight"), (".beta", ".bias"))
_DTYPES = {
    "float32": torch.float32,
    "float": torch.float32,
    "float16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "float64": torch.float64,
}
_SAFETENSORS_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
}


_LOSS_TYPES = re.compile(  # transformers' generic LOSS_MAPPING names (not its per-model detection losses)
    "ForSemanticSegmentation|ForCausalLM|ForMaskedLM|ForQuestionAnswering|ForSequenceClassification"
    "|ForImageClassification|ForVideoClassification|ForAudioClassification|ForTokenClassification"
    "|ForSegmentation|ForObjectDetection|ForCTC|ForConditionalGeneration"
)
_NORMS = (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        logger.warning(message)


def _checkpoint_offloaded(checkpoint: Callable[..., Any], device_type: str, *args: Any, **kwargs: Any) -> Any:
    """``checkpoint`` with the tensors it saves kept in (pinned, off-CPU) host memory."""
    from torch.autograd.graph import save_on_cpu

    with save_on_cpu(pin_memory=device_type != "cpu", device_type=device_type):
        return checkpoint(*args, **kwargs)


@dataclass
class LoadingInfo:
    """What ``from_pretrained`` found when matching checkpoint keys to the model."""

    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)
    mismatched_keys: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    error_msgs: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[Any]]:
        """The dict transformers returns as ``loading_info`` (``output_loading_info=True``)."""
        return {
            "missing_keys": self.missing_keys,
            "unexpected_keys": self.unexpected_keys,
            "mismatched_keys": self.mismatched_keys,
            "error_msgs": self.error_msgs,
        }


class GradientCheckpointingLayer(nn.Module):
    """Base class of the blocks a family recomputes in the backward pass under gradient checkpointing.

    A family's repeated block (``BertLayer``, ``LlamaDecoderLayer`` ...) subclasses it instead of
    ``nn.Module``; nothing else is needed. While ``gradient_checkpointing_enable()`` is on and the
    model is in training mode, the block's ``forward`` runs inside ``torch.utils.checkpoint``:
    its activations are dropped after the forward pass and recomputed (with the same dropout
    masks) during backward. Pass tensors that need gradients positionally: with
    ``use_reentrant=True`` keyword tensors get none.
    """

    gradient_checkpointing: bool = False
    _gradient_checkpointing_func: Callable[..., Any] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "forward" not in cls.__dict__:
            return
        forward = cls.forward

        @functools.wraps(forward)
        def checkpointed_forward(self: GradientCheckpointingLayer, *args: Any, **kwargs: Any) -> Any:
            # Only the outermost wrapper checkpoints (a subclass of a block wraps forward again).
            outermost = type(self).forward is checkpointed_forward
            if self.gradient_checkpointing and self.training and outermost:
                assert self._gradient_checkpointing_func is not None
                return self._gradient_checkpointing_func(functools.partial(forward, self, **kwargs), *args)
            return forward(self, *args, **kwargs)

        cls.forward = checkpointed_forward  # type: ignore[method-assign]


class PreTrainedModel(AdapterMixin, nn.Module):
    """Base class of every family's models and heads.

    A subclass sets ``config_class`` and ``base_model_prefix`` (the attribute holding the
    base model inside a head, e.g. ``"bert"``), builds its layers in ``__init__`` with the
    same attribute names as the checkpoint keys and calls :meth:`post_init` last. It may
    override ``_init_weights(module)`` (the default covers the standard torch layers).

    What training and placement libraries read is declared as class attributes, with
    transformers' names: ``supports_gradient_checkpointing`` (its repeated blocks subclass
    :class:`GradientCheckpointingLayer`), ``_no_split_modules`` (class names accelerate keeps
    on one device), ``_keep_in_fp32_modules`` (module names kept in float32 when loading in
    float16), ``_keep_in_fp32_modules_strict`` (float16 and bfloat16), and the tensor-parallel
    plan: ``base_model_tp_plan`` (module pattern -> style, relative to the base model) and a
    head's ``_tp_plan`` for its own modules (see :mod:`autohub_core.parallel`).

    The attention implementation (``"eager"``, ``"sdpa"``, ``"flex_attention"``,
    ``"flash_attention_2"``) is ``config._attn_implementation``, which attention layers read at
    each forward; it is not saved in config.json. ``config._attn_implementation_autoset`` says
    whether it was left to its default (True) or asked for: rotary decoders take their fast
    one-token path only in the first case (see :func:`autohub_core.rotary.exact_sdpa`). A family whose attention cannot run through
    flash_attn sets ``_supports_flash_attn = False``; one that cannot run through sdpa (attention
    logit soft-capping) sets ``_supports_sdpa = False`` and defaults to ``"eager"``.
    """

    config_class: ClassVar[type[PretrainedConfig]] = PretrainedConfig
    base_model_prefix: ClassVar[str] = ""
    main_input_name: ClassVar[str] = "input_ids"
    supports_gradient_checkpointing: ClassVar[bool] = False
    accepts_loss_kwargs: ClassVar[bool] = True
    """Every head's ``forward`` takes ``num_items_in_batch`` (``Trainer`` then passes it)."""
    _no_split_modules: ClassVar[list[str] | None] = None
    _keep_in_fp32_modules: ClassVar[list[str] | None] = None
    _keep_in_fp32_modules_strict: ClassVar[list[str] | None] = None
    _supports_flash_attn: ClassVar[bool] = True
    _supports_sdpa: ClassVar[bool] = True
    base_model_tp_plan: ClassVar[dict[str, str] | None] = None
    _tp_plan: ClassVar[dict[str, str] | None] = None
    _keys_to_ignore_on_load_missing: ClassVar[list[str]] = []
    _keys_to_ignore_on_load_unexpected: ClassVar[list[str]] = []

    def __init__(self, config: PretrainedConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        if not isinstance(config, PretrainedConfig):
            raise ConfigError(
                f"{type(self).__name__} needs a PretrainedConfig, got {type(config).__name__}; "
                f"build it with {type(self).__name__}.from_config(config) or from_pretrained(path)"
            )
        config.validate()  # the family's rules of type and range, however the config was changed
        requested = getattr(config, "_attn_implementation", None)
        config._attn_implementation = self._check_attn_implementation(
            requested or ("sdpa" if self._supports_sdpa else "eager")
        )
        # Chosen by default rather than asked for: decoders may take their fast paths (rotary.exact_sdpa).
        config._attn_implementation_autoset = requested is None or getattr(
            config, "_attn_implementation_autoset", False
        )
        self.config = config
        self.name_or_path = config.name_or_path
        self._tensor_parallel: TensorParallel | None = None

    # -- hooks for families ------------------------------------------------------------

    def _init_weights(self, module: nn.Module) -> None:
        """Initialise the parameters and buffers owned directly by ``module`` (transformers' default).

        Linear, convolution and embedding weights ~ N(0, ``config.initializer_range`` or 0.02)
        with zero biases and a zero padding row; LayerNorm / RMSNorm / GroupNorm / BatchNorm
        weights one (or the norm class's ``initial_weight``) and biases zero. Modules of other types are left as constructed. A family
        with other rules overrides this.
        """
        std = getattr(self.config, "initializer_range", None) or 0.02
        if isinstance(
            module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d)
        ):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
        elif isinstance(module, _NORMS) or any(
            name in type(module).__name__ for name in ("LayerNorm", "RMSNorm")
        ):
            if getattr(module, "weight", None) is not None:
                nn.init.constant_(module.weight, getattr(module, "initial_weight", 1.0))
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)
            if getattr(module, "running_mean", None) is not None:
                module.reset_running_stats()

    def get_input_embeddings(self) -> nn.Module | None:
        """The token embedding module; a head asks its base model. A base model overrides this."""
        base = getattr(self, self.base_model_prefix, self) if self.base_model_prefix else self
        if base is not self and isinstance(base, PreTrainedModel):
            return base.get_input_embeddings()
        return None

    def set_input_embeddings(self, value: nn.Module) -> None:
        """Replace the input embeddings; a head hands this to its base model."""
        base = getattr(self, self.base_model_prefix, self) if self.base_model_prefix else self
        if base is self or not isinstance(base, PreTrainedModel):
            raise NotImplementedError(f"{type(self).__name__} does not define set_input_embeddings")
        base.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module | None:
        """The output projection tied to the input embeddings (LM heads), or None."""
        return None

    def tie_weights(self) -> None:
        """Share the input embedding matrix with the output projection when configured."""
        output_embeddings = self.get_output_embeddings()
        input_embeddings = self.get_input_embeddings()
        if output_embeddings is None or input_embeddings is None:
            return
        if getattr(self.config, "tie_word_embeddings", True):
            output_embeddings.weight = input_embeddings.weight

    def resize_token_embeddings(
        self, new_num_tokens: int | None = None, pad_to_multiple_of: int | None = None
    ) -> nn.Module | None:
        """Grow or shrink the vocabulary (after ``tokenizer.add_tokens``), as transformers does.

        Existing rows are kept; new rows of the input and output embeddings (and of an output
        bias) start at the mean of the old rows. Tied weights stay tied; ``config.vocab_size``
        is updated. Returns the input embedding module.
        """
        embeddings = self.get_input_embeddings()
        if embeddings is None or (new_num_tokens is None and pad_to_multiple_of is None):
            return embeddings
        old_weight = embeddings.weight
        size = old_weight.shape[0] if new_num_tokens is None else new_num_tokens
        if pad_to_multiple_of is not None:
            size = -(-size // pad_to_multiple_of) * pad_to_multiple_of
        if size <= 0:
            raise ConfigError(f"resize_token_embeddings needs a positive size, got {size}")
        output = self.get_output_embeddings()
        with torch.no_grad():
            self._replace_everywhere(old_weight, _resized_rows(old_weight, size))
            if output is not None and output.weight.shape[0] != size:
                self._replace_everywhere(output.weight, _resized_rows(output.weight, size))
            if output is not None and getattr(output, "bias", None) is not None:
                self._replace_everywhere(output.bias, _resized_rows(output.bias, size))
        embeddings.num_embeddings = size
        if output is not None and hasattr(output, "out_features"):
            output.out_features = size
        self.config.vocab_size = size
        self.tie_weights()
        return embeddings

    def _replace_everywhere(self, old: nn.Parameter, new: nn.Parameter) -> None:
        """Point every module attribute holding ``old`` (tied aliases included) at ``new``."""
        for module in self.modules():
            for name, parameter in module._parameters.items():
                if parameter is old:
                    module._parameters[name] = new

    def post_init(self) -> None:
        """Initialise all weights (skipped on the meta device) and tie them; call at the end of ``__init__``."""
        if not any(t.is_meta for t in self._tensors()):
            self.apply(self._init_weights)
        self.tie_weights()

    # -- properties -----------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        """The device of the first parameter; for a model dispatched over several devices
        (``device_map``), the device its inputs go to."""
        hook = getattr(self, "_hf_hook", None)
        if getattr(hook, "execution_device", None) is not None:
            return torch.device(hook.execution_device)
        return next(self.parameters()).device

    @property
    def tp_size(self) -> int | None:
        """The tensor-parallel size of a model loaded with ``tp_plan=``, else None."""
        return self._tensor_parallel.size if self._tensor_parallel is not None else None

    @property
    def device_mesh(self) -> Any:
        """The ``DeviceMesh`` of a model loaded with ``tp_plan=``, else None."""
        return self._tensor_parallel.mesh if self._tensor_parallel is not None else None

    @property
    def tp_plan(self) -> dict[str, str]:
        """The tensor-parallel plan applied to this model (module name -> style); empty unless
        loaded with ``tp_plan=``. :func:`autohub_core.parallel.declared_plan` gives the declared one."""
        return dict(self._tensor_parallel.plan) if self._tensor_parallel is not None else {}

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the first floating-point parameter (float32 when there is none)."""
        for parameter in self.parameters():
            if parameter.is_floating_point():
                return parameter.dtype
        return torch.float32

    @property
    def loss_type(self) -> str | None:
        """transformers' name of this head's loss ("ForCausalLM", "ForTokenClassification" ...), read
        off the class name as transformers does; ``Trainer`` counts a causal LM's labels shifted."""
        match = _LOSS_TYPES.search(type(self).__name__)
        return match.group(0) if match else None

    @property
    def base_model(self) -> nn.Module:
        """The base model inside a head (the attribute named by ``base_model_prefix``), else ``self``."""
        return getattr(self, self.base_model_prefix, self)

    def num_parameters(self, only_trainable: bool = False, exclude_embeddings: bool = False) -> int:
        """Number of (distinct) parameters; only those with ``requires_grad``, or without the
        weights of ``nn.Embedding`` modules, on request."""
        embeddings = (
            {f"{name}.weight" for name, module in self.named_modules() if isinstance(module, nn.Embedding)}
            if exclude_embeddings
            else set()
        )
        return sum(
            parameter.numel()
            for name, parameter in self.named_parameters()
            if name not in embeddings and (parameter.requires_grad or not only_trainable)
        )

    def get_memory_footprint(self, return_buffers: bool = True) -> int:
        """Bytes taken by the parameters (and buffers, by default)."""
        tensors = [*self.parameters(), *(self.buffers() if return_buffers else ())]
        return sum(tensor.nelement() * tensor.element_size() for tensor in tensors)

    def estimate_tokens(self, input_dict: dict[str, Any]) -> int:
        """Tokens in a batch: the number of elements of its ``main_input_name`` entry (0 without it)."""
        value = input_dict.get(self.main_input_name)
        return value.numel() if isinstance(value, torch.Tensor) else 0

    def floating_point_ops(self, input_dict: dict[str, Any], exclude_embeddings: bool = True) -> int:
        """Approximate forward + backward FLOPs of a batch: 6 x tokens x (non-embedding) parameters."""
        return (
            6 * self.estimate_tokens(input_dict) * self.num_parameters(exclude_embeddings=exclude_embeddings)
        )

    # -- gradient checkpointing ----------------------------------------------------------------

    def gradient_checkpointing_enable(
        self,
        gradient_checkpointing_kwargs: dict[str, Any] | None = None,
        every_n_layers: int = 1,
        offload: bool = False,
    ) -> None:
        """Recompute the activations of every ``every_n_layers``-th block in the backward pass.

        ``gradient_checkpointing_kwargs`` go to ``torch.utils.checkpoint.checkpoint`` (default
        ``{"use_reentrant": False}``, as transformers 5); ``offload=True`` keeps the saved
        inputs in host memory. Gradients equal those of the run without it. Takes effect in
        training mode only; ``use_cache`` is turned off while it does.
        """
        blocks = [module for module in self.modules() if isinstance(module, GradientCheckpointingLayer)]
        if not self.supports_gradient_checkpointing or not blocks:
            raise UnsupportedFeatureError(
                f"{type(self).__name__} does not support gradient checkpointing: its family declares no "
                "GradientCheckpointingLayer blocks (set supports_gradient_checkpointing and subclass them)"
            )
        if not isinstance(every_n_layers, int) or every_n_layers < 1:
            raise ConfigError(f"every_n_layers must be a positive integer, got {every_n_layers!r}")
        from torch.utils.checkpoint import checkpoint

        run = functools.partial(
            checkpoint, **{"use_reentrant": False, **(gradient_checkpointing_kwargs or {})}
        )
        if offload:
            run = functools.partial(_checkpoint_offloaded, run, self.device.type)
        for index, block in enumerate(blocks):
            block._gradient_checkpointing_func = run
            block.gradient_checkpointing = index % every_n_layers == 0
        if self.main_input_name == "input_ids" or getattr(self, "_hf_peft_config_loaded", False):
            # Frozen embeddings (adapters) would leave a reentrant checkpoint's inputs without grad.
            self.enable_input_require_grads()

    def gradient_checkpointing_disable(self) -> None:
        """Turn gradient checkpointing off again."""
        for module in self.modules():
            if isinstance(module, GradientCheckpointingLayer):
                module.gradient_checkpointing = False
        if getattr(self, "_hf_peft_config_loaded", False):
            self.disable_input_require_grads()

    def activation_checkpointing_enable(
        self,
        activation_checkpointing_kwargs: dict[str, Any] | None = None,
        every_n_layers: int = 1,
        offload: bool = False,
    ) -> None:
        """transformers 5's name of :meth:`gradient_checkpointing_enable` (what ``Trainer`` calls)."""
        self.gradient_checkpointing_enable(activation_checkpointing_kwargs, every_n_layers, offload)

    def activation_checkpointing_disable(self) -> None:
        """transformers 5's name of :meth:`gradient_checkpointing_disable`."""
        self.gradient_checkpointing_disable()

    @property
    def is_gradient_checkpointing(self) -> bool:
        """Whether gradient checkpointing is on for some block."""
        return any(
            isinstance(module, GradientCheckpointingLayer) and module.gradient_checkpointing
            for module in self.modules()
        )

    is_activation_checkpointing = is_gradient_checkpointing

    def enable_input_require_grads(self) -> None:
        """Make the input embeddings' output require grad, so that gradients reach checkpointed
        blocks and adapters when the embedding weights are frozen."""
        self.disable_input_require_grads()
        embeddings = self.get_input_embeddings()
        if embeddings is None:
            logger.warning("%s has no input embeddings to make require grad", type(self).__name__)
            return

        def output_requires_grad(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            output.requires_grad_(True)

        self._require_grads_hook = embeddings.register_forward_hook(output_requires_grad)

    def disable_input_require_grads(self) -> None:
        """Remove the hook :meth:`enable_input_require_grads` installed."""
        hook = self.__dict__.pop("_require_grads_hook", None)
        if hook is not None:
            hook.remove()

    def set_attn_implementation(self, attn_implementation: str) -> None:
        """Switch the attention implementation (validated as in :meth:`from_pretrained`) of this
        model and of every submodule holding a config."""
        attn_implementation = self._check_attn_implementation(attn_implementation)
        for module in self.modules():
            config = getattr(module, "config", None)
            if isinstance(config, PretrainedConfig):
                config._attn_implementation = attn_implementation
                config._attn_implementation_autoset = False

    @classmethod
    def _check_attn_implementation(cls, attn_implementation: object) -> str:
        """``attn_implementation`` if this process can run it for this class, else a typed error."""
        if attn_implementation == "flash_attention_2" and not cls._supports_flash_attn:
            raise UnsupportedFeatureError(
                f"{cls.__name__} does not support attn_implementation='flash_attention_2' (its attention "
                "cannot run through flash_attn); use 'sdpa', 'eager' or 'flex_attention'"
            )
        if attn_implementation == "sdpa" and not cls._supports_sdpa:
            raise UnsupportedFeatureError(
                f"{cls.__name__} does not support attn_implementation='sdpa' (torch's sdpa cannot "
                "soft-cap attention logits); use 'eager', its default"
            )
        return check_attention_implementation(attn_implementation)

    def _use_cache(self, use_cache: bool | None) -> bool:
        """``use_cache`` (default ``config.use_cache``), off while training with gradient checkpointing."""
        use_cache = getattr(self.config, "use_cache", False) if use_cache is None else use_cache
        if use_cache and self.training and self.is_gradient_checkpointing:
            _warn_once(
                "use_cache=True is incompatible with gradient checkpointing while training; using use_cache=False"
            )
            return False
        return bool(use_cache)

    @classmethod
    def can_generate(cls) -> bool:
        """Whether this class supports ``generate()``."""
        return callable(getattr(cls, "prepare_inputs_for_generation", None))

    def _output(self, output: Any, return_dict: bool | None) -> Any:
        """``output`` as ``forward`` returns it: the output object, or its tuple when
        ``return_dict`` (default ``config.use_return_dict``) is false."""
        return_dict = self.config.use_return_dict if return_dict is None else return_dict
        return output if return_dict else output.to_tuple()

    def _tensors(self) -> Iterator[torch.Tensor]:
        yield from self.parameters()
        yield from self.buffers()

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_config(
        cls, config: PretrainedConfig, *args: Any, attn_implementation: str | None = None, **kwargs: Any
    ) -> PreTrainedModel:
        """A randomly initialised model for ``config`` (``dtype=`` optional). ``attn_implementation``
        (None: the config's ``_attn_implementation``, else ``"sdpa"`` where supported, else
        ``"eager"``) is validated and stored as
        ``model.config._attn_implementation``."""
        dtype = _resolve_dtype(kwargs.pop("dtype", kwargs.pop("torch_dtype", None)), config, None)
        config = copy.deepcopy(config)
        if attn_implementation is not None:
            config._attn_implementation = cls._check_attn_implementation(attn_implementation)
            config._attn_implementation_autoset = False
        # Measure first: an absurd config is refused before allocating.
        with torch.device("meta"), _no_init_on_meta():
            probe = _construct(cls, config, args, kwargs)
        _check_fits_in_memory(probe._tensors(), dtype, torch.get_default_device(), cls.__name__)
        model = _construct(cls, config, args, kwargs)
        if dtype is None:
            return model
        # Cast after building: torch.set_default_dtype is process-wide and would leak into
        # models other threads build at the same time.
        model.to(dtype)
        named = dict(_named_tensors(model))
        for name in model._float32_kept(iter(named), dtype):
            if named[name].is_floating_point():
                module_path, _, local = name.rpartition(".")
                _set_local(
                    model.get_submodule(module_path), local, _wrap_like(named[name], named[name].float())
                )
        model.config.dtype = str(dtype).removeprefix("torch.")
        return model

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike | None,
        *model_args: Any,
        config: PretrainedConfig | str | os.PathLike | None = None,
        state_dict: dict[str, torch.Tensor] | None = None,
        output_loading_info: bool = False,
        dtype: str | torch.dtype | None = None,
        torch_dtype: str | torch.dtype | None = None,
        device_map: str | int | torch.device | dict | None = None,
        device: str | torch.device | None = None,
        max_memory: dict | None = None,
        offload_folder: str | os.PathLike | None = None,
        offload_buffers: bool = False,
        tp_plan: str | dict[str, str] | None = None,
        tp_size: int | None = None,
        device_mesh: Any = None,
        ignore_mismatched_sizes: bool = False,
        use_safetensors: bool | None = None,
        weights_only: bool = True,
        attn_implementation: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Load a model from a directory or Hub repo id (transformers' signature).

        kwargs naming config attributes (``num_labels``, ``id2label``, ``output_attentions``
        ...) update the config; download options are passed to huggingface_hub. Returns the
        model in eval mode, or ``(model, loading_info)`` with ``output_loading_info=True``.

        Placement: ``device`` / a one-device ``device_map`` put the whole model there. A strategy
        (``"auto"``, ``"balanced"``, ``"balanced_low_0"``, ``"sequential"``), a map over several
        devices or ``"disk"``, ``max_memory``, ``offload_folder`` and ``offload_buffers`` go through
        accelerate (extra ``autohub-core[accelerate]``). ``tp_plan="auto"`` (with ``tp_size`` /
        ``device_mesh``) shards the model over the ranks of a ``torchrun`` launch.

        ``attn_implementation``: ``"eager"``, ``"sdpa"``, ``"flex_attention"`` or
        ``"flash_attention_2"`` (None: the config's ``_attn_implementation``, else ``"sdpa"``);
        stored as ``model.config._attn_implementation``, changed later by :meth:`set_attn_implementation`.
        """
        _refuse_unsupported(kwargs)
        for ignored in ("low_cpu_mem_usage", "_fast_init", "offload_state_dict"):
            kwargs.pop(ignored, None)
        if attn_implementation is not None:
            cls._check_attn_implementation(attn_implementation)
        options = HubOptions.pop_from(kwargs)
        config, model_kwargs = cls._config_for_loading(pretrained_model_name_or_path, config, options, kwargs)
        if attn_implementation is not None:
            config._attn_implementation = attn_implementation
            config._attn_implementation_autoset = False
        tensor_parallel = None
        if tp_plan is not None:
            if device_map is not None or max_memory is not None or offload_folder is not None:
                raise PlacementError(
                    "tp_plan cannot be combined with device_map / max_memory / offload_folder"
                )
            from autohub_core.parallel import TensorParallel

            tensor_parallel = TensorParallel.launch(tp_plan, tp_size, device_mesh)
            target_device = tensor_parallel.device
        elif tp_size is not None or device_mesh is not None:
            raise PlacementError("tp_size= and device_mesh= need tp_plan= (e.g. tp_plan='auto')")
        elif device_map is None and (max_memory is not None or offload_folder is not None):
            raise PlacementError("max_memory= and offload_folder= need device_map= (e.g. device_map='auto')")
        elif is_multi_device(device_map, max_memory, offload_folder):
            target_device = torch.device("cpu")  # decided per module below
        else:
            target_device = _resolve_device(device, device_map)

        if state_dict is None:
            if pretrained_model_name_or_path is None:
                raise CheckpointNotFoundError("from_pretrained needs a model name or path, or state_dict=")
            source = _WeightsSource.locate(
                pretrained_model_name_or_path, options, use_safetensors, weights_only
            )
        else:
            source = _WeightsSource.from_state_dict(state_dict)
        source.device = target_device
        target_dtype = _resolve_dtype(dtype if dtype is not None else torch_dtype, config, source)
        config.dtype = str(target_dtype).removeprefix("torch.")

        with torch.device("meta"), _no_init_on_meta():
            model = _construct(cls, config, model_args, model_kwargs)
        placement = None
        if tensor_parallel is None and is_multi_device(device_map, max_memory, offload_folder):
            placement = DeviceMap(
                model,
                device_map if device_map is not None else "auto",
                max_memory=max_memory,
                dtype=target_dtype,
                float32_kept=model._float32_kept(iter(dict(_named_tensors(model))), target_dtype),
                offload_folder=offload_folder,
                offload_buffers=offload_buffers,
            )
        elif isinstance(device_map, dict):  # one device: still only the model's modules, all of them
            check_covers(model, device_map, cls.__name__)
        info = model._load_weights(
            source, target_dtype, target_device, ignore_mismatched_sizes, placement, tensor_parallel
        )
        if placement is not None:
            placement.dispatch(model)
        elif device_map is not None:
            model.hf_device_map = {"": str(target_device)}
        model.name_or_path = str(pretrained_model_name_or_path or "")
        model.config.name_or_path = model.name_or_path
        model.eval()
        _report(model, info, pretrained_model_name_or_path)
        if pretrained_model_name_or_path is not None and hasattr(model, "_load_generation_config"):
            model._load_generation_config(pretrained_model_name_or_path, options)
        if output_loading_info:
            return model, info.as_dict()
        return model

    @classmethod
    def _config_for_loading(
        cls,
        name: str | os.PathLike | None,
        config: PretrainedConfig | str | os.PathLike | None,
        options: HubOptions,
        kwargs: dict[str, Any],
    ) -> tuple[PretrainedConfig, dict[str, Any]]:
        hub_kwargs = {k: v for k, v in vars(options).items()}
        if config is None or isinstance(config, (str, os.PathLike)):
            source = config if config is not None else name
            if source is None:
                raise CheckpointNotFoundError("from_pretrained needs a model name or path, or config=")
            loaded, unused = cls.config_class.from_pretrained(
                source, return_unused_kwargs=True, **hub_kwargs, **kwargs
            )
            return loaded, unused
        if not isinstance(config, PretrainedConfig):
            raise ConfigError(f"config= must be a PretrainedConfig or a path, got {type(config).__name__}")
        config = copy.deepcopy(config)
        unused = {}
        for key, value in kwargs.items():
            if hasattr(config, key):
                setattr(config, key, value)
            else:
                unused[key] = value
        return config, unused

    # -- weights loading -------------------------------------------------------------

    def _load_weights(
        self,
        source: _WeightsSource,
        dtype: torch.dtype,
        device: torch.device,
        ignore_mismatched_sizes: bool,
        placement: DeviceMap | None = None,
        tensor_parallel: TensorParallel | None = None,
    ) -> LoadingInfo:
        """Assign the checkpoint's tensors in place of the meta placeholders: on ``device``, on
        each module's device of ``placement`` (left on disk where it says so), or as this rank's
        slices under ``tensor_parallel``."""
        info = LoadingInfo()
        expected = dict(_named_tensors(self))
        rename = _key_mapper(self.base_model_prefix, set(expected), source.names())
        aliases = _alias_groups(self)  # name -> all names sharing that tensor (tied weights)
        if self._untie_where_checkpoint_differs(source, rename, aliases):
            expected = dict(_named_tensors(self))
            aliases = _alias_groups(self)
        modules = dict(self.named_modules(remove_duplicate=False))
        buffers = {name for name, _ in self.named_buffers(remove_duplicate=False)}
        if tensor_parallel is not None:
            tensor_parallel.resolve(self)
        shardings = tensor_parallel.shardings if tensor_parallel is not None else {}
        float32_kept = dict.fromkeys(self._float32_kept(expected, dtype), torch.float32)
        loaded: set[str] = set()
        for checkpoint_key in source.names():
            key = rename(checkpoint_key)
            if key is None or key not in expected:
                info.unexpected_keys.append(checkpoint_key)
                continue
            if key in loaded:
                continue  # a tied alias already provided this tensor
            placeholder = expected[key]
            shape = source.shape_of(checkpoint_key)
            if shape != tuple(placeholder.shape):
                info.mismatched_keys.append((key, shape, tuple(placeholder.shape)))
                continue
            target_dtype = placeholder.dtype
            if placeholder.is_floating_point() and source.dtype_of(checkpoint_key).is_floating_point:
                target_dtype = float32_kept.get(key, dtype)
            target = placement.device_of(key, key in buffers) if placement is not None else device
            if target is None:  # offloaded: stays on disk, the placeholder stays on meta
                file = source.file_of(checkpoint_key)
                for name in aliases.get(key, (key,)):  # every tied name must be in the index
                    if file is not None and file.suffix == ".safetensors":
                        placement.refer(name, file, checkpoint_key, target_dtype)
                    else:
                        placement.write(name, source.get(checkpoint_key).to(target_dtype))
                loaded.update(aliases.get(key, (key,)))
                continue
            sharding = shardings.get(key)
            if sharding is not None and sharding.dim is not None:
                pieces = [
                    source.get(checkpoint_key, index)
                    for index in tensor_parallel.local_slices(shape, sharding)
                ]
                local = torch.cat(pieces, dim=sharding.dim) if len(pieces) > 1 else pieces[0]
                tensor = tensor_parallel.distribute(
                    local.to(device=target, dtype=target_dtype), shape, sharding
                )
            else:
                tensor = source.get(checkpoint_key).to(device=target, dtype=target_dtype)
                if sharding is not None:
                    tensor = tensor_parallel.distribute(tensor, shape, sharding)
            new_value = _wrap_like(placeholder, tensor)
            for name in aliases.get(key, (key,)):
                module_path, _, local = name.rpartition(".")
                _set_local(modules[module_path], local, new_value)
                loaded.add(name)
        if (
            not loaded
            and not info.mismatched_keys
            and source.is_files()
            and any(_is_persistent(modules, name) for name in expected)
        ):
            raise WeightsError(
                f"{source.describe_all()}: none of its {len(info.unexpected_keys)} tensors matches a "
                f"weight of {type(self).__name__} (it expects names like {next(iter(expected))!r}); "
                "it is empty or belongs to another model, so loading it would give random weights"
            )
        if info.mismatched_keys and not ignore_mismatched_sizes:
            details = "; ".join(
                f"{key}: checkpoint {found} vs model {wanted}" for key, found, wanted in info.mismatched_keys
            )
            raise WeightsError(
                f"{source.describe(info.mismatched_keys[0][0])}: tensor shapes differ from what "
                f"{type(self).__name__} expects ({details}); check the config, or pass "
                "ignore_mismatched_sizes=True to re-initialise them"
            )
        still_meta = [name for name, tensor in _named_tensors(self) if tensor.is_meta and name not in loaded]
        offloaded = {name for name, tensor in expected.items() if tensor.is_meta and name in loaded}
        self._materialize_missing(dtype, device, float32_kept, placement, buffers, offloaded)
        if tensor_parallel is not None:
            for name in still_meta:
                module_path, _, local = name.rpartition(".")
                value = tensor_parallel.scatter(getattr(modules[module_path], local), shardings.get(name))
                _set_local(modules[module_path], local, _wrap_like(expected[name], value))
            tensor_parallel.install(self)
            self._tensor_parallel = tensor_parallel
        if placement is not None:  # weights the checkpoint lacks, on a module left on disk
            for name in still_meta:
                if placement.device_of(name, name in buffers) is None:
                    module_path, _, local = name.rpartition(".")
                    placement.write(name, getattr(modules[module_path], local).detach())
                    _set_local(modules[module_path], local, expected[name])
        self.tie_weights()
        mismatched = {key for key, _, _ in info.mismatched_keys}
        persistent = [name for name in expected if _is_persistent(modules, name)]
        ignore = [re.compile(pattern) for pattern in self._keys_to_ignore_on_load_missing]
        info.missing_keys = sorted(
            key
            for key in persistent
            if key not in loaded and key not in mismatched and not any(p.search(key) for p in ignore)
        )
        ignore = [re.compile(pattern) for pattern in self._keys_to_ignore_on_load_unexpected]
        info.unexpected_keys = [k for k in info.unexpected_keys if not any(p.search(k) for p in ignore)]
        return info

    def _untie_where_checkpoint_differs(
        self, source: _WeightsSource, rename: Any, aliases: dict[str, tuple[str, ...]]
    ) -> bool:
        """Keep tied weights apart when the checkpoint stores them with different values.

        As transformers does: the checkpoint wins over ``tie_word_embeddings`` (which is set to
        False so that the config describes the loaded model), with a warning. Returns whether
        anything was untied.
        """
        present = {}
        for checkpoint_key in source.names():
            key = rename(checkpoint_key)
            if key is not None:
                present.setdefault(key, checkpoint_key)
        untied = False
        groups = {names for names in aliases.values() if len(names) > 1}
        for names in sorted(groups):
            stored = [name for name in names if name in present]
            if len(stored) < 2:
                continue
            first = source.get(present[stored[0]])
            if all(torch.equal(first, source.get(present[name])) for name in stored[1:]):
                continue
            logger.warning(
                "%s ties %s, but the checkpoint stores them with different values: loading them untied "
                "(set tie_word_embeddings=False in config.json to silence this)",
                type(self).__name__,
                list(names),
            )
            self.config.tie_word_embeddings = False
            placeholder = dict(_named_tensors(self))[names[0]]
            for name in names[1:]:
                module_path, _, local = name.rpartition(".")
                _set_local(
                    self.get_submodule(module_path),
                    local,
                    _wrap_like(placeholder, torch.empty_like(placeholder)),
                )
            untied = True
        return untied

    def _float32_kept(self, names: Iterator[str], dtype: torch.dtype | None) -> list[str]:
        """The tensor names ``_keep_in_fp32_modules`` (float16 only) or ``_keep_in_fp32_modules_strict``
        (float16 and bfloat16) keep in float32 when the model is loaded or built in ``dtype``."""
        patterns = list(self._keep_in_fp32_modules or []) if dtype == torch.float16 else []
        if dtype in (torch.float16, torch.bfloat16):
            patterns += self._keep_in_fp32_modules_strict or []
        if not patterns:
            return []
        components = "|".join(re.escape(pattern).replace(r"\*", "[^.]*") for pattern in patterns)
        matcher = re.compile(rf"(^|\.)({components})(\.|$)")
        return [name for name in names if matcher.search(name.rpartition(".")[0])]

    def _materialize_missing(
        self,
        dtype: torch.dtype,
        device: torch.device,
        float32_kept: dict[str, torch.dtype],
        placement: DeviceMap | None = None,
        buffers: set[str] | frozenset[str] = frozenset(),
        offloaded: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        """Allocate and initialise every tensor still on the meta device but the ``offloaded``
        ones (their data stays on disk); a tensor ``placement`` puts on disk is initialised on the
        CPU, for the caller to offload."""
        still_meta = (tensor for tensor in self._tensors() if tensor.is_meta)
        _check_fits_in_memory(still_meta, dtype, device, type(self).__name__)
        for module_name, module in self.named_modules():
            pending = [
                name
                for name, tensor in [*module._parameters.items(), *module._buffers.items()]
                if tensor is not None
                and tensor.is_meta
                and (f"{module_name}.{name}" if module_name else name) not in offloaded
            ]
            if not pending:
                continue
            # Hide the already loaded tensors of this module behind scratch copies so that
            # _init_weights(module) cannot overwrite them, then put them back.
            kept: dict[str, torch.Tensor] = {}
            for name, tensor in [*module._parameters.items(), *module._buffers.items()]:
                if tensor is None:
                    continue
                full_name = f"{module_name}.{name}" if module_name else name
                target_dtype = (
                    float32_kept.get(full_name, dtype) if tensor.is_floating_point() else tensor.dtype
                )
                if tensor.is_meta and full_name not in offloaded:
                    target = device
                    if placement is not None:
                        target = placement.device_of(full_name, full_name in buffers) or torch.device("cpu")
                    fresh = torch.empty(tensor.shape, dtype=target_dtype, device=target)
                    _set_local(module, name, _wrap_like(tensor, fresh))
                else:
                    kept[name] = tensor
                    scratch = torch.empty(
                        tensor.shape, dtype=tensor.dtype, device="cpu" if tensor.is_meta else tensor.device
                    )
                    _set_local(module, name, _wrap_like(tensor, scratch))
            with torch.no_grad():
                if callable(getattr(module, "reset_parameters", None)):
                    module.reset_parameters()  # the values it had when constructed, for modules _init_weights skips
                self._init_weights(module)
            for name, tensor in kept.items():
                _set_local(module, name, tensor)

    # -- saving ---------------------------------------------------------------------------

    def save_pretrained(
        self,
        save_directory: str | os.PathLike,
        *,
        state_dict: dict[str, torch.Tensor] | None = None,
        safe_serialization: bool = True,
        max_shard_size: int | str = "5GB",
        is_main_process: bool = True,
        save_peft_format: bool = True,
        **kwargs: Any,
    ) -> None:
        """Write config.json and the weights in transformers' format (safetensors, sharded if large).

        Tied weights are written once. A tensor-parallel model is gathered by every rank (call it
        on all of them) and written by rank 0; a disk-offloaded one is read back module by module.
        With adapters loaded, only the active adapter is written
        (adapter_config.json + adapter_model.safetensors), as transformers does.

        The save is one transaction on the folder (user guide: "Saving is atomic"): killed or
        failing at any moment, the folder holds the previous checkpoint or the new one, whole. A
        failure raises ``CheckpointWriteError``.
        """
        if kwargs.pop("push_to_hub", False):
            raise UnsupportedFeatureError("push_to_hub is not supported; use huggingface_hub.upload_folder")
        if kwargs:
            raise TypeError(f"save_pretrained got unexpected arguments: {sorted(kwargs)}")
        if not safe_serialization:
            raise UnsupportedFeatureError("autohub only writes safetensors (safe_serialization=True)")
        if self._tensor_parallel is not None:  # every rank gathers, global rank 0 writes
            import torch.distributed as dist

            state_dict = self._tensor_parallel.gather(
                state_dict if state_dict is not None else self.state_dict()
            )
            is_main_process = is_main_process and dist.get_rank() == 0
        elif (
            state_dict is None
            and getattr(self, "hf_device_map", None)
            and any(t.is_meta for t in self._tensors())
        ):
            from accelerate.utils.modeling import get_state_dict_offloaded_model

            aliases = _alias_groups(self)  # read back per module, tied tensors come back as copies
            state_dict = {
                name: tensor
                for name, tensor in get_state_dict_offloaded_model(self).items()
                if aliases.get(name, (name,))[0] == name
            }
        if not is_main_process:
            return
        directory = Path(save_directory)
        if directory.is_file():
            raise WeightsError(f"save_pretrained needs a directory, but {directory} is a file")
        if self._hf_peft_config_loaded:  # as transformers: only the active adapter is written
            self._save_active_adapter(directory, state_dict=state_dict, save_peft_format=save_peft_format)
            return
        tensors = _unique_tensors(self, state_dict)
        shards = _split_shards(tensors, _parse_size(max_shard_size))
        config = copy.deepcopy(self.config)
        config.architectures = [type(self).__name__]
        config.dtype = str(self.dtype).removeprefix("torch.")
        with checkpoint_transaction(directory) as transaction:  # one commit for every file below
            config.save_pretrained(directory)
            if hasattr(self, "_load_generation_config"):
                self.generation_config.save_pretrained(directory)
            if len(shards) == 1:
                transaction.write_safetensors(SAFE_WEIGHTS_NAME, shards[0])
                written = {SAFE_WEIGHTS_NAME}
            else:
                weight_map: dict[str, str] = {}
                written = set()
                for index, shard in enumerate(shards, start=1):
                    name = f"model-{index:05d}-of-{len(shards):05d}.safetensors"
                    transaction.write_safetensors(name, shard)
                    weight_map.update(dict.fromkeys(shard, name))
                    written.add(name)
                total = sum(t.numel() * t.element_size() for t in tensors.values())
                index_doc = {
                    "metadata": {"total_size": total},
                    "weight_map": dict(sorted(weight_map.items())),
                }
                transaction.write_text(SAFE_WEIGHTS_INDEX_NAME, json.dumps(index_doc, indent=2) + "\n")
                written.add(SAFE_WEIGHTS_INDEX_NAME)
            _remove_stale_weights(transaction, keep=written)


# -- weight sources -------------------------------------------------------------------------


class _WeightsSource:
    """Checkpoint tensors by name, read lazily file by file (safetensors mmap or .bin)."""

    def __init__(self) -> None:
        self._files: dict[str, Path] = {}  # key -> file
        self._state_dict: dict[str, torch.Tensor] | None = None
        self._location = "state_dict"  # the weights file or index found, for error messages
        self._open: tuple[Path, Any] | None = None
        self._weights_only = True
        self.device = torch.device("cpu")  # safetensors files are read straight onto it

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, torch.Tensor]) -> _WeightsSource:
        source = cls()
        source._state_dict = state_dict
        return source

    @classmethod
    def locate(
        cls, name: str | os.PathLike, options: HubOptions, use_safetensors: bool | None, weights_only: bool
    ) -> _WeightsSource:
        source = cls()
        source._weights_only = weights_only
        candidates = [(SAFE_WEIGHTS_NAME, False), (SAFE_WEIGHTS_INDEX_NAME, True)]
        if use_safetensors is not True:
            candidates += [(PICKLE_WEIGHTS_NAME, False), (PICKLE_WEIGHTS_INDEX_NAME, True)]
        if use_safetensors is False:
            candidates = candidates[2:]
        for filename, is_index in candidates:
            path = resolve_file(name, filename, options, required=False)
            if path is None:
                continue
            source._location = str(path)
            if is_index:
                shard_paths: dict[str, Path] = {}  # resolve each shard once, not once per tensor
                for key, shard in _read_index(path).items():
                    if shard not in shard_paths:
                        shard_path = resolve_file(name, shard, options, required=True)
                        assert shard_path is not None
                        if filename == SAFE_WEIGHTS_INDEX_NAME and shard_path.suffix != ".safetensors":
                            raise WeightsError(  # never unpickle what a safetensors index names
                                f"{path} is a safetensors index but names {shard!r}: its shards must be "
                                ".safetensors files; fix the index or convert the shard to safetensors"
                            )
                        shard_paths[shard] = shard_path
                    source._files[key] = shard_paths[shard]
            else:
                for key in _file_keys(path, weights_only):
                    source._files[key] = path
            return source
        tried = ", ".join(filename for filename, _ in candidates)
        if cache_only(name, options):
            raise not_cached_error(str(name), f"a weights file ({tried})")
        pickles = (
            [PICKLE_WEIGHTS_NAME, PICKLE_WEIGHTS_INDEX_NAME] if use_safetensors and is_local(name) else []
        )
        pickles = [f for f in pickles if resolve_file(name, f, options, required=False)]
        if pickles:  # never opened: use_safetensors=True is the promise that no pickle is read
            raise CheckpointNotFoundError(
                f"{name} has no safetensors weights (looked for {tried}), only pickle weights "
                f"({', '.join(pickles)}), which use_safetensors=True never opens; convert them to "
                "safetensors, or drop use_safetensors=True to read them with torch.load(weights_only=True)"
            )
        raise CheckpointNotFoundError(f"{name} has no weights file: looked for {tried}")

    def names(self) -> list[str]:
        if self._state_dict is not None:
            return list(self._state_dict)
        return list(self._files)

    def is_files(self) -> bool:
        """True when the tensors come from checkpoint files (not a ``state_dict=``)."""
        return self._state_dict is None

    def describe_all(self) -> str:
        """The checkpoint's weight files, for error messages."""
        files = sorted({str(path) for path in self._files.values()})
        return ", ".join(files) if files else self._location

    def describe(self, key: str) -> str:
        """The file holding ``key`` (or the first file, or "state_dict") for error messages."""
        if self._state_dict is not None:
            return "state_dict"
        return str(self._files.get(key) or next(iter(self._files.values())))

    def dtype_of(self, key: str) -> torch.dtype:
        """The stored dtype of ``key`` without reading the tensor's data."""
        if self._state_dict is not None:
            return self._state_dict[key].dtype
        handle = self._handle(self._files[key])
        if isinstance(handle, dict):
            return handle[key].dtype
        name = handle.get_slice(key).get_dtype()
        return _SAFETENSORS_DTYPES.get(name, torch.int64)

    def shape_of(self, key: str) -> tuple[int, ...]:
        """The stored shape of ``key`` without reading the tensor's data."""
        if self._state_dict is not None:
            return tuple(self._state_dict[key].shape)
        handle = self._handle(self._files[key])
        if isinstance(handle, dict):
            return tuple(handle[key].shape)
        return tuple(handle.get_slice(key).get_shape())

    def file_of(self, key: str) -> Path | None:
        """The file holding ``key`` (None for a state dict)."""
        return self._files.get(key)

    def _handle(self, path: Path) -> Any:
        if self._open is None or self._open[0] != path:
            self._open = (path, _open_weights(path, self._weights_only, self.device))
        return self._open[1]

    def get(self, key: str, index: tuple[slice, ...] | None = None) -> torch.Tensor:
        """The tensor ``key``, or only its ``index`` part (read without reading the rest)."""
        if self._state_dict is not None:
            tensor = self._state_dict[key]
            return tensor if index is None else tensor[index]
        path = self._files[key]
        handle = self._handle(path)
        try:
            if isinstance(handle, dict):
                return handle[key] if index is None else handle[key][index]
            if index is not None:
                return handle.get_slice(key)[index]
            return handle.get_tensor(key)
        except Exception as error:
            raise WeightsError(f"{path}: cannot read tensor {key!r}: {error}") from error


def _read_index(path: Path) -> dict[str, str]:
    try:
        weight_map = limits.read_json(path, WeightsError).get("weight_map")
    except OSError as error:
        if isinstance(error, WeightsError):
            raise
        raise WeightsError(f"cannot read the weights index {path}: {error}") from error
    if not isinstance(weight_map, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in weight_map.items()
    ):
        raise WeightsError(
            f"{path} is not a valid weights index: 'weight_map' must map tensor names to shard file names"
        )
    return weight_map


def _file_keys(path: Path, weights_only: bool) -> list[str]:
    handle = _open_weights(path, weights_only)
    return list(handle.keys())


def _open_weights(path: Path, weights_only: bool, device: torch.device | None = None) -> Any:
    if path.suffix == ".bin":
        if not weights_only:
            raise UnsupportedFeatureError(
                f"{path}: loading pickle files with weights_only=False would execute code from the "
                "checkpoint; autohub refuses it"
            )
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception as error:
            raise WeightsError(
                f"{path} cannot be loaded safely (weights_only=True refused it or it is corrupt): {error}; "
                "convert it to safetensors"
            ) from error
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise WeightsError(f"{path} does not hold a flat state dict of tensors")
        return state
    from safetensors import SafetensorError, safe_open

    try:
        if device is not None and device.type != "cpu":
            return safe_open(str(path), framework="pt", device=str(device))
        return safe_open(str(path), framework="pt")
    except (SafetensorError, OSError, ValueError) as error:
        raise WeightsError(f"{path} is not a valid safetensors file: {error}") from error


# -- helpers ----------------------------------------------------------------------------


def _refuse_unsupported(kwargs: dict[str, Any]) -> None:
    if kwargs.pop("from_tf", False):
        raise UnsupportedFeatureError(
            "from_tf=True is not supported: autohub loads PyTorch/safetensors weights only"
        )
    if kwargs.pop("from_flax", False):
        raise UnsupportedFeatureError(
            "from_flax=True is not supported: autohub loads PyTorch/safetensors weights only"
        )
    if kwargs.pop("trust_remote_code", False):
        raise UnsupportedFeatureError(
            "trust_remote_code=True is not supported: autohub never runs code from a checkpoint; "
            "model code comes only from installed plugins (pip install the family's plugin)"
        )
    kwargs.pop("trust_remote_code", None)
    for quantization in ("quantization_config", "load_in_8bit", "load_in_4bit"):
        if kwargs.pop(quantization, None):
            raise UnsupportedFeatureError(
                f"{quantization} is not supported: autohub loads float32 / float16 / bfloat16 weights only "
                "(quantised training with bitsandbytes is not available)"
            )


# What torch and family code raise for a config that cannot build a module (torch asserts some sizes).
_CONFIG_BUILD_ERRORS = (
    TypeError,
    ValueError,
    RuntimeError,
    OverflowError,
    ZeroDivisionError,
    IndexError,
    AssertionError,
)
# Transformers' names for layer counts: building even meta layers takes time, so bound them first.
_LAYER_COUNT_KEYS = ("num_hidden_layers", "num_layers", "num_decoder_layers", "n_layer", "n_layers")
MAX_LAYERS = 1024


def _construct(cls: type[PreTrainedModel], config: PretrainedConfig, args: Any, kwargs: Any) -> Any:
    """``cls(config)``; a config that cannot build the module (negative sizes, wrong types) is a ConfigError."""
    for key in _LAYER_COUNT_KEYS:
        count = getattr(config, key, None)
        if isinstance(count, int) and count > MAX_LAYERS:
            raise ConfigError(
                f"config key {key!r} = {count} is more layers than autohub builds ({MAX_LAYERS})"
            )
    _check_model_kwargs(cls, kwargs)
    try:
        return cls(config, *args, **kwargs)
    except AutohubError:
        raise
    except _CONFIG_BUILD_ERRORS as error:
        reason = (str(error).splitlines() or [""])[0]
        raise ConfigError(
            f"cannot build {cls.__name__} from this config: {type(error).__name__}: {reason} "
            f"(raised at {_where(error)}); if a config value has a wrong size or type, fix that key "
            f"of {config.model_type or 'the'} config, otherwise the error is in that code"
        ) from error


def _where(error: BaseException) -> str:
    """``file:line in function`` of the innermost frame outside torch that raised ``error``."""
    frames = traceback.extract_tb(error.__traceback__)
    own = [frame for frame in frames if f"{os.sep}torch{os.sep}" not in frame.filename] or frames
    frame = own[-1]
    return f"{frame.filename}:{frame.lineno} in {frame.name}"


def _check_model_kwargs(cls: type[PreTrainedModel], kwargs: dict[str, Any]) -> None:
    """Keyword arguments left after the config took its own must be arguments of ``cls.__init__``."""
    if not kwargs:
        return
    parameters = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    unknown = sorted(key for key in kwargs if key not in parameters)
    if unknown:
        raise ConfigError(
            f"unexpected keyword arguments {unknown}: they are neither attributes of "
            f"{cls.config_class.__name__} nor arguments of "
            f"{cls.__name__}.__init__"
        )


def _memory_of(device: torch.device) -> int | None:
    """Memory of ``device`` in bytes this process can use, when it can be known: a GPU's total
    memory; on the host, what is available under the cgroup and rlimit limits (see
    :func:`autohub_core.limits.available_host_memory`), else the total RAM."""
    if device.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_properties(device).total_memory
    if device.type == "cpu":
        from autohub_core.limits import available_host_memory

        available = available_host_memory()
        if available is not None or not hasattr(os, "sysconf"):
            return available
        try:
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            return None
    return None


def _check_fits_in_memory(
    tensors: Iterator[torch.Tensor], dtype: torch.dtype | None, device: torch.device, owner: str
) -> None:
    """Refuse, before allocating, tensors larger than the memory the process can use on ``device``
    (absurd config sizes, or a model too big for the cgroup / rlimit the process runs under)."""
    limit = _memory_of(device)
    if limit is None:
        return
    unique = {id(tensor): tensor for tensor in tensors}.values()
    total = sum(
        t.numel() * (dtype.itemsize if dtype is not None and t.is_floating_point() else t.element_size())
        for t in unique
    )
    if total > limit:
        raise ConfigError(
            f"{owner} with this config needs {total / 2**30:,.1f} GiB for its weights, more than the "
            f"{limit / 2**30:,.1f} GiB this process can still use on {device} (free memory, cgroup and "
            "rlimit limits); check the size keys of config.json (hidden_size, vocab_size, "
            "num_hidden_layers ...)"
        )


_TORCH_INIT_NAMES = (
    *("uniform_", "normal_", "trunc_normal_", "constant_", "zeros_", "ones_", "eye_", "dirac_"),
    *("xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_"),
)
_INIT_LOCK = threading.Lock()
_init_originals: dict[str, Callable[..., torch.Tensor]] = {}
_init_skip_depth = 0


@contextlib.contextmanager
def _no_init_on_meta() -> Iterator[None]:
    """Make ``torch.nn.init`` functions skip meta tensors while a model is built on ``meta``.

    Layer constructors (``nn.Embedding``, ``nn.Linear``) initialise their weights; on meta that
    is pointless, and ``normal_`` has no C++ meta kernel, so torch imports its Python meta
    registrations on first use (~800 modules, ~70 MB RSS, about a second). Real tensors (other
    threads) are initialised as usual.
    """
    global _init_skip_depth
    with _INIT_LOCK:
        if _init_skip_depth == 0:
            for name in _TORCH_INIT_NAMES:
                if hasattr(torch.nn.init, name):
                    _init_originals[name] = getattr(torch.nn.init, name)
                    setattr(torch.nn.init, name, _skipping_meta(_init_originals[name]))
        _init_skip_depth += 1
    try:
        yield
    finally:
        with _INIT_LOCK:
            _init_skip_depth -= 1
            if _init_skip_depth == 0:
                for name, original in _init_originals.items():
                    setattr(torch.nn.init, name, original)
                _init_originals.clear()


def _skipping_meta(init: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    def skip_meta(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return tensor if tensor.is_meta else init(tensor, *args, **kwargs)

    return skip_meta


def _resolve_device(device: str | torch.device | None, device_map: Any) -> torch.device:
    """The one device of a ``device=`` / one-device ``device_map=`` request, checked to exist."""
    if isinstance(device_map, dict):
        if not device_map:
            raise PlacementError("device_map is empty: give each module a device, or pass device_map='auto'")
        device_map = next(iter(device_map.values()))
    return available_device(device if device is not None else device_map if device_map is not None else "cpu")


def _resolve_dtype(
    requested: Any, config: PretrainedConfig, source: _WeightsSource | None
) -> torch.dtype | None:
    """None -> float32 ("auto" when loading, as transformers 5); "auto" -> config or file dtype."""
    if requested is None:
        if source is None:
            return None
        requested = "auto"
    if isinstance(requested, torch.dtype):
        return requested
    if requested == "auto":
        declared = getattr(config, "dtype", None)
        if declared in _DTYPES:
            return _DTYPES[declared]
        if source is not None:
            for key in source.names():
                tensor_dtype = source.dtype_of(key)
                if tensor_dtype.is_floating_point:
                    return tensor_dtype
        return torch.float32
    name = str(requested).removeprefix("torch.")
    if name not in _DTYPES:
        raise ConfigError(f"dtype {requested!r} is not supported; use one of {sorted(_DTYPES)} or 'auto'")
    return _DTYPES[name]


def _named_tensors(model: nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    yield from model.named_parameters(remove_duplicate=False)
    yield from model.named_buffers(remove_duplicate=False)


def _alias_groups(model: nn.Module) -> dict[str, tuple[str, ...]]:
    """For tied tensors: each name -> every name of the same tensor object."""
    by_identity: dict[int, list[str]] = {}
    for name, tensor in _named_tensors(model):
        by_identity.setdefault(id(tensor), []).append(name)
    return {name: tuple(names) for names in by_identity.values() for name in names}


def _key_mapper(prefix: str, model_keys: set[str], checkpoint_keys: list[str]) -> Any:
    """Map checkpoint key -> model key: legacy gamma/beta names and the base-model prefix."""
    model_has_prefix = bool(prefix) and any(k.startswith(prefix + ".") for k in model_keys)
    checkpoint_has_prefix = bool(prefix) and any(k.startswith(prefix + ".") for k in checkpoint_keys)
    present = set(checkpoint_keys)

    def rename(key: str) -> str | None:
        for old, new in _LEGACY_SUFFIXES:
            if key.endswith(old) and key.removesuffix(old) + new not in present:
                key = key.removesuffix(old) + new
        if model_has_prefix and not checkpoint_has_prefix:
            candidate = f"{prefix}.{key}"
            return candidate if candidate in model_keys else key
        if checkpoint_has_prefix and not model_has_prefix:
            return key.removeprefix(prefix + ".") if key.startswith(prefix + ".") else None
        return key

    return rename


def _resized_rows(parameter: nn.Parameter, size: int) -> nn.Parameter:
    """``parameter`` with ``size`` rows: the old rows kept, new rows set to their mean."""
    kept = min(size, parameter.shape[0])
    resized = parameter.new_empty((size, *parameter.shape[1:]))
    resized[:kept] = parameter[:kept]
    if size > kept:
        resized[kept:] = parameter.float().mean(dim=0).to(parameter.dtype)
    return nn.Parameter(resized, requires_grad=parameter.requires_grad)


def _wrap_like(placeholder: torch.Tensor, tensor: torch.Tensor) -> torch.Tensor:
    if isinstance(placeholder, nn.Parameter):
        return nn.Parameter(tensor, requires_grad=placeholder.requires_grad)
    return tensor


def _is_persistent(modules: dict[str, nn.Module], name: str) -> bool:
    """Whether ``name`` (a parameter or buffer) belongs in the state dict."""
    module_path, _, local = name.rpartition(".")
    return local not in modules[module_path]._non_persistent_buffers_set


def _set_local(module: nn.Module, name: str, value: torch.Tensor) -> None:
    if name in module._parameters:
        module._parameters[name] = value  # type: ignore[assignment]
    else:
        module._buffers[name] = value


def _report(model: PreTrainedModel, info: LoadingInfo, name: Any) -> None:
    if info.missing_keys:
        logger.warning(
            "Some weights of %s were not initialized from the checkpoint at %s and are newly initialized: "
            "%s. You should probably train this model on a downstream task before using it.",
            type(model).__name__,
            name,
            info.missing_keys,
        )
    if info.mismatched_keys:
        logger.warning(
            "Some weights of %s were re-initialized because their shapes differ from the checkpoint at %s: %s",
            type(model).__name__,
            name,
            [f"{k}: checkpoint {a} vs model {b}" for k, a, b in info.mismatched_keys],
        )
    if info.unexpected_keys:
        logger.info(
            "Some weights of the checkpoint at %s were not used by %s: %s",
            name,
            type(model).__name__,
            info.unexpected_keys,
        )


def _unique_tensors(model: nn.Module, state_dict: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    """The state dict with tied tensors kept once and each tensor contiguous.

    A tied tensor keeps the name of the input embeddings when it has it (as transformers
    writes it), else its first name.
    """
    source = state_dict if state_dict is not None else model.state_dict(keep_vars=False)
    embeddings = model.get_input_embeddings() if isinstance(model, PreTrainedModel) else None
    if embeddings is not None:
        names = {
            f"{name}.weight"
            for name, module in model.named_modules(remove_duplicate=False)
            if module is embeddings
        }
        source = dict(sorted(source.items(), key=lambda item: item[0] not in names))
    seen: dict[tuple[int, int, tuple[int, ...]], str] = {}
    unique: dict[str, torch.Tensor] = {}
    for name, tensor in source.items():
        if tensor.device.type == "meta":
            raise WeightsError(f"cannot save {name!r}: it has no data (meta device)")
        identity = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if tensor.numel() and identity in seen:
            continue
        seen[identity] = name
        unique[name] = tensor.detach().contiguous()
    # safetensors refuses tensors that share memory: copy any remaining overlapping views.
    storages: set[int] = set()
    for name, tensor in unique.items():
        pointer = tensor.untyped_storage().data_ptr()
        if tensor.numel() and pointer in storages:
            unique[name] = tensor.clone()
        storages.add(pointer)
    return unique


def _split_shards(tensors: dict[str, torch.Tensor], max_bytes: int) -> list[dict[str, torch.Tensor]]:
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, tensor in tensors.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > max_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = tensor
        size += nbytes
    return shards


def _parse_size(size: int | str) -> int:
    """``"5GB"`` -> 5_000_000_000, ``"10MiB"`` -> 10 * 2**20, ints pass through."""
    if isinstance(size, int):
        return size
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(I?)B?\s*", size.upper())
    if not match:
        raise ValueError(f"max_shard_size {size!r} is not a size like '5GB' or '200MiB'")
    number, unit, binary = match.groups()
    base = 1024 if binary else 1000
    return int(float(number) * base ** " KMGT".index(unit or " "))


def _remove_stale_weights(transaction: CheckpointTransaction, keep: set[str]) -> None:
    """Drop the weight files of the folder's previous checkpoint that this save does not rewrite."""
    pattern = re.compile(r"^(model(-\d{5}-of-\d{5})?\.safetensors|model\.safetensors\.index\.json)$")
    for path in transaction.directory.iterdir():
        if path.name not in keep and pattern.match(path.name):
            transaction.remove(path.name)
