"""Key/value caches behind ``past_key_values``: :class:`DynamicCache` and :class:`StaticCache`.

They follow transformers 5's cache classes. A decoder called with ``use_cache=True`` and no
``past_key_values`` returns a :class:`DynamicCache`, which grows by concatenation; pass it back
as ``past_key_values`` for the next step (it is updated in place). A :class:`StaticCache`
preallocates ``max_cache_len`` positions per layer and writes each step at ``cache_position``:
its tensors keep their shapes, so a ``torch.compile``'d forward decodes without recompiling
(``generate(cache_implementation="static")`` builds one).

Sliding-window layers (``layer_types`` entries ``"sliding_attention"``) keep only their window:
the last ``sliding_window - 1`` positions in a :class:`DynamicCache` (the window minus the new
token), a ring buffer of ``min(sliding_window, max_cache_len)`` slots in a :class:`StaticCache`.

The legacy form, a tuple with one ``(key, value)`` pair per layer, each
``(batch, num_key_value_heads, length, head_dim)``, is still accepted: a model given a tuple
returns a tuple. A cache reads like one too (``len(cache)``, ``cache[i]`` is layer ``i``'s
``(key, value)``, iteration), and :meth:`Cache.to_legacy_cache` /
:meth:`DynamicCache.from_legacy_cache` convert.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import torch

from autohub_core.errors import ConfigError, ModelInputError

__all__ = ["Cache", "DynamicCache", "LayerCache", "StaticCache", "cache_length"]

KeyValue = tuple[torch.Tensor, torch.Tensor]


def _sliding_windows(config: Any) -> list[int | None]:
    """Each layer's window (None: full attention), as transformers reads a config: its
    ``layer_types``, else ``sliding_window`` on every layer when set (Mistral)."""
    window = getattr(config, "sliding_window", None)
    layer_types = getattr(config, "layer_types", None)
    if layer_types is None:
        kind = "full_attention" if window is None else "sliding_attention"
        layer_types = [kind] * config.num_hidden_layers
    return [window if kind == "sliding_attention" else None for kind in layer_types]


def cache_length(past_key_values: Cache | Sequence[KeyValue] | None) -> int:
    """How many positions ``past_key_values`` has seen: a :class:`Cache`'s ``get_seq_length()``, a
    legacy tuple's key length, 0 for None or an empty tuple."""
    if isinstance(past_key_values, Cache):
        return past_key_values.get_seq_length()
    return past_key_values[0][0].shape[2] if past_key_values else 0


def _mark_static(*tensors: torch.Tensor) -> None:
    """Tell torch.compile these buffers keep their address (CUDA graphs then write them in place)."""
    if not torch.compiler.is_compiling():
        for tensor in tensors:
            torch._dynamo.mark_static_address(tensor)


class _Layer:
    """One layer's keys and values (None until the first update)."""

    keys: torch.Tensor | None = None
    values: torch.Tensor | None = None

    def __init__(self, sliding_window: int | None) -> None:
        self.sliding_window = sliding_window


class _DynamicLayer(_Layer):
    def __init__(self, sliding_window: int | None = None) -> None:
        super().__init__(sliding_window)
        self.seen = 0

    def update(self, key: torch.Tensor, value: torch.Tensor) -> KeyValue:
        if self.keys is not None and self.values is not None:
            key = torch.cat([self.keys, key], dim=2)
            value = torch.cat([self.values, value], dim=2)
        self.seen += key.shape[2] - self.stored_length
        kept = key.shape[2] if self.sliding_window is None else min(key.shape[2], self.sliding_window - 1)
        self.keys, self.values = key[:, :, key.shape[2] - kept :], value[:, :, value.shape[2] - kept :]
        return key, value

    @property
    def stored_length(self) -> int:
        return 0 if self.keys is None else self.keys.shape[2]


class _StaticLayer(_Layer):
    """``slots`` preallocated positions; a sliding layer uses them as a ring (``slot_positions``
    says which position each slot holds, -1: empty)."""

    def __init__(
        self,
        sliding_window: int | None,
        shape: tuple[int, int, int, int],
        dtype: torch.dtype,
        device: torch.device | str | None,
    ) -> None:
        super().__init__(sliding_window)
        self.keys = torch.zeros(shape, dtype=dtype, device=device)
        self.values = torch.zeros(shape, dtype=dtype, device=device)
        self.slot_positions = (
            torch.arange(shape[2], device=device)
            if sliding_window is None
            else torch.full((shape[2],), -1, dtype=torch.long, device=device)
        )
        _mark_static(self.keys, self.values, self.slot_positions)

    def key_positions(self, cache_position: torch.Tensor) -> torch.Tensor:
        """The positions of the keys :meth:`update` returns for new tokens at ``cache_position``."""
        if self.sliding_window is None:
            return self.slot_positions
        if cache_position.shape[0] > 1:  # attend over the ring and every new token, then keep the last
            return torch.cat([self.slot_positions, cache_position])
        slot = cache_position % self.slot_positions.shape[0]
        return self.slot_positions.index_copy(0, slot, cache_position)

    def update(self, key: torch.Tensor, value: torch.Tensor, cache_position: torch.Tensor) -> KeyValue:
        assert self.keys is not None and self.values is not None
        if self.sliding_window is None:
            self.keys.index_copy_(2, cache_position, key)
            self.values.index_copy_(2, cache_position, value)
            return self.keys, self.values
        slots = self.slot_positions.shape[0]
        if cache_position.shape[0] == 1:
            slot = cache_position % slots
            self.keys.index_copy_(2, slot, key)
            self.values.index_copy_(2, slot, value)
            self.slot_positions.index_copy_(0, slot, cache_position)
            return self.keys, self.values
        attended = torch.cat([self.keys, key], dim=2), torch.cat([self.values, value], dim=2)
        kept = min(slots, cache_position.shape[0])
        slot = cache_position[-kept:] % slots
        self.keys.index_copy_(2, slot, key[:, :, -kept:])
        self.values.index_copy_(2, slot, value[:, :, -kept:])
        self.slot_positions.index_copy_(0, slot, cache_position[-kept:])
        return attended


class LayerCache:
    """What a decoder layer receives as ``past_key_value`` when the model holds a :class:`Cache`:
    layer ``layer_idx`` of ``cache`` at this step's ``cache_position``. Attention calls
    :meth:`update` with the new keys and values and attends over what it returns."""

    __slots__ = ("cache", "cache_position", "layer_idx")

    def __init__(self, cache: Cache, layer_idx: int, cache_position: torch.Tensor) -> None:
        self.cache = cache
        self.layer_idx = layer_idx
        self.cache_position = cache_position

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor) -> KeyValue:
        """Store the new ``(batch, kv_heads, new, head_dim)`` keys and values; returns the keys and
        values to attend over (the past ones and the new ones)."""
        return self.cache.update(
            key_states, value_states, self.layer_idx, {"cache_position": self.cache_position}
        )


class Cache:
    """Per-layer keys and values of the positions seen so far (transformers' ``Cache`` API)."""

    #: Whether tensor shapes stay fixed across steps (``torch.compile`` without recompiling).
    is_compileable: ClassVar[bool] = False
    layers: list[Any]

    def update(
        self,
        key_states: torch.Tensor,
        value_states: torch.Tensor,
        layer_idx: int,
        cache_kwargs: dict[str, Any] | None = None,
    ) -> KeyValue:
        """Store layer ``layer_idx``'s new keys and values (``cache_kwargs["cache_position"]``: their
        positions, needed by :class:`StaticCache`); returns the keys and values to attend over."""
        raise NotImplementedError

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """How many positions the cache has seen (the past length of the next step)."""
        raise NotImplementedError

    def get_max_cache_shape(self) -> int | None:
        """The most positions the cache can hold (None: unbounded)."""
        return None

    def reorder_cache(self, beam_idx: torch.Tensor) -> None:
        """Keep batch rows ``beam_idx`` (in that order) in every layer, in place (beam search)."""
        for layer in self.layers:
            if layer.keys is not None:
                rows = beam_idx.to(layer.keys.device)
                layer.keys = layer.keys.index_select(0, rows)
                layer.values = layer.values.index_select(0, rows)

    def to_legacy_cache(self) -> tuple[KeyValue, ...]:
        """One ``(key, value)`` pair per layer (the positions each layer holds)."""
        return tuple(self)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, layer_idx: int) -> KeyValue:
        layer = self.layers[layer_idx]
        if layer.keys is None:
            raise IndexError(f"layer {layer_idx} of the cache holds nothing yet")
        return layer.keys, layer.values

    def __iter__(self) -> Iterator[KeyValue]:
        for index in range(len(self)):
            yield self[index]


class DynamicCache(Cache):
    """A cache that grows by one concatenation per step. Built empty (``config``: the model config,
    for its sliding-window layers; None: every layer keeps everything) or from the legacy tuple
    form (:meth:`from_legacy_cache`)."""

    def __init__(self, config: Any = None) -> None:
        windows = _sliding_windows(config) if config is not None else []
        self.layers: list[_DynamicLayer] = [_DynamicLayer(window) for window in windows]

    @classmethod
    def from_legacy_cache(cls, past_key_values: Sequence[KeyValue] | None) -> DynamicCache:
        """A cache holding ``past_key_values`` (one ``(key, value)`` pair per layer), every layer full."""
        cache = cls()
        for key, value in past_key_values or ():
            layer = _DynamicLayer()
            layer.update(key, value)
            cache.layers.append(layer)
        return cache

    def update(
        self,
        key_states: torch.Tensor,
        value_states: torch.Tensor,
        layer_idx: int,
        cache_kwargs: dict[str, Any] | None = None,
    ) -> KeyValue:
        """Concatenate the new keys and values after the past ones; returns both."""
        while len(self.layers) <= layer_idx:
            self.layers.append(_DynamicLayer())
        return self.layers[layer_idx].update(key_states, value_states)

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """How many positions layer ``layer_idx`` has seen."""
        return self.layers[layer_idx].seen if layer_idx < len(self.layers) else 0

    def stored_length(self, layer_idx: int) -> int:
        """How many positions layer ``layer_idx`` holds (fewer than seen when its window slid)."""
        return self.layers[layer_idx].stored_length if layer_idx < len(self.layers) else 0


class StaticCache(Cache):
    """``max_cache_len`` preallocated positions per layer for ``batch_size`` rows (``dtype`` and
    ``device``: the model's). Each step writes at ``cache_position``; attention reads the whole
    buffer behind a mask, so shapes never change and a compiled forward reuses one graph per
    query length. A sliding-window layer holds ``min(sliding_window, max_cache_len)`` slots."""

    is_compileable: ClassVar[bool] = True

    def __init__(
        self,
        config: Any,
        max_cache_len: int,
        batch_size: int = 1,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        for name, value in (("max_cache_len", max_cache_len), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"StaticCache({name}=...) must be a positive integer, got {value!r}")
        max_positions = getattr(config, "max_position_embeddings", None)
        if isinstance(max_positions, int) and max_cache_len > max_positions:
            raise ConfigError(
                f"StaticCache(max_cache_len={max_cache_len}) exceeds the model's max_position_embeddings "
                f"({max_positions}); use at most {max_positions} positions"
            )
        self.max_cache_len = max_cache_len
        self.batch_size = batch_size
        heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.layers: list[_StaticLayer] = [
            _StaticLayer(
                window,
                (
                    batch_size,
                    heads,
                    max_cache_len if window is None else min(window, max_cache_len),
                    head_dim,
                ),
                dtype,
                device,
            )
            for window in _sliding_windows(config)
        ]
        # Positions seen, as a tensor: updated inside the (compiled) forward without a graph break.
        self._seen = torch.zeros((), dtype=torch.long, device=device)
        _mark_static(self._seen)

    def update(
        self,
        key_states: torch.Tensor,
        value_states: torch.Tensor,
        layer_idx: int,
        cache_kwargs: dict[str, Any] | None = None,
    ) -> KeyValue:
        """Write the new keys and values at ``cache_kwargs["cache_position"]``; returns the layer's
        buffers (with the new tokens appended for a multi-token step of a sliding layer)."""
        cache_position = (cache_kwargs or {}).get("cache_position")
        if cache_position is None:
            raise ModelInputError("StaticCache.update needs cache_kwargs={'cache_position': positions}")
        if layer_idx == 0:
            self._seen.copy_(cache_position[-1] + 1)
        return self.layers[layer_idx].update(key_states, value_states, cache_position)

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """How many positions have been written (reads a device tensor: call it outside compiled code)."""
        return int(self._seen)

    def get_max_cache_shape(self) -> int:
        """``max_cache_len``."""
        return self.max_cache_len

    def reorder_cache(self, beam_idx: torch.Tensor) -> None:
        """Keep batch rows ``beam_idx`` in every layer, copied into the same buffers."""
        for layer in self.layers:
            rows = beam_idx.to(layer.keys.device)
            layer.keys.copy_(layer.keys.index_select(0, rows))
            layer.values.copy_(layer.values.index_select(0, rows))

    def check_batch(self, batch_size: int) -> None:
        """Raise :class:`ModelInputError` unless ``batch_size`` is the batch the cache was built for."""
        if batch_size != self.batch_size:
            raise ModelInputError(
                f"a StaticCache built for batch_size={self.batch_size} cannot take a batch of {batch_size} "
                f"rows; build it with StaticCache(config, max_cache_len, batch_size={batch_size})"
            )

    def attention_mask(
        self,
        layer_idx: int,
        attention_mask: torch.Tensor | None,
        cache_position: torch.Tensor,
    ) -> torch.Tensor:
        """Boolean (batch, 1, query, key) mask over the keys :meth:`update` returns for layer
        ``layer_idx``: written, causal, inside the window, not padding (``attention_mask``: the
        (batch, positions) padding mask, 0 = padding, covering at least the positions seen)."""
        layer = self.layers[layer_idx]
        keys = layer.key_positions(cache_position)[None, :]
        queries = cache_position[:, None]
        allowed = (keys >= 0) & (keys <= queries)
        if layer.sliding_window is not None:
            allowed = allowed & (keys > queries - layer.sliding_window)
        allowed = allowed[None, None]
        if attention_mask is not None:
            padding = attention_mask.to(device=keys.device, dtype=torch.bool)
            columns = keys[0].clamp(0, padding.shape[-1] - 1)
            allowed = allowed & padding[:, columns][:, None, None, :]
        return allowed
