"""Plugin discovery: the one place that reads the ``autohub`` entry-point group.

Discovery runs once per process, on first need (the first ``from_pretrained``,
``from_config`` or listing), never at ``import autohub_core``. Each plugin is imported and
its hooks called in isolation: a plugin that fails to import, raises in a hook, or
registers garbage is recorded with its error and contributes nothing, while the other
plugins keep working.

Which plugins load is controlled by the ``AUTOHUB_PLUGINS`` environment variable (or
:func:`configure`): a comma-separated list of entry-point names. Plain names form an
allow-list (only those load) and also give the preference order when two plugins claim
the same model_type; names prefixed with ``-`` are blocked. Unset means "all, no
preference" (ties are broken by entry-point name, with a warning).
"""

from __future__ import annotations

import importlib.metadata
import os
import threading
import warnings
from dataclasses import dataclass, field
from types import ModuleType

import pluggy

from autohub_core import hookspecs
from autohub_core.errors import PluginError
from autohub_core.registry import Declaration, Registry

__all__ = ["ENTRY_POINT_GROUP", "PluginInfo", "configure", "get_registry", "list_plugins", "reset"]

ENTRY_POINT_GROUP = "autohub"
ENV_VAR = "AUTOHUB_PLUGINS"

_HOOKS = {
    "config": "autohub_register_configs",
    "tokenizer": "autohub_register_tokenizers",
    "model": "autohub_register_models",
    "head": "autohub_register_heads",
}


@dataclass
class PluginInfo:
    """What discovery learned about one entry point."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    error: str | None = None
    declarations: list[Declaration] = field(default_factory=list)

    @property
    def loaded(self) -> bool:
        return self.error is None


@dataclass
class _Selection:
    allow: list[str] | None
    block: set[str]


_lock = threading.RLock()
_registry: Registry | None = None
_plugins: list[PluginInfo] = []
_selection_override: _Selection | None = None


def configure(allow: list[str] | None = None, block: list[str] | None = None) -> None:
    """Choose which plugins load (overrides ``AUTOHUB_PLUGINS``) and re-run discovery lazily.

    ``allow`` lists entry-point names in order of preference (None: all); ``block`` names
    plugins never to load. Runtime ``register(...)`` calls made before are kept.
    """
    global _selection_override
    with _lock:
        _selection_override = _Selection(list(allow) if allow is not None else None, set(block or ()))
        _discard_discovery()


def reset() -> None:
    """Forget discovery, runtime registrations and :func:`configure` (for tests)."""
    global _registry, _selection_override
    with _lock:
        _registry = None
        _plugins.clear()
        _selection_override = None


def get_registry() -> Registry:
    """The process-wide registry, discovering plugins on the first call (thread-safe)."""
    registry = _registry
    if registry is not None and registry.discovered:
        return registry
    with _lock:
        registry = _ensure_registry()
        if not registry.discovered:
            _discover(registry)
        return registry


def runtime_registry() -> Registry:
    """The registry without triggering discovery (runtime ``register`` calls land here)."""
    with _lock:
        return _ensure_registry()


def list_plugins() -> list[PluginInfo]:
    """Every entry point seen by discovery, loaded or failed (discovers if needed)."""
    get_registry()
    return list(_plugins)


def _ensure_registry() -> Registry:
    global _registry
    if _registry is None:
        _registry = Registry()
    return _registry


def _discard_discovery() -> None:
    if _registry is not None:
        _registry.clear_declarations()
    _plugins.clear()


def _current_selection() -> _Selection:
    if _selection_override is not None:
        return _selection_override
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return _Selection(None, set())
    names = [part.strip() for part in raw.split(",") if part.strip()]
    allow = [name for name in names if not name.startswith("-")]
    block = {name[1:] for name in names if name.startswith("-")}
    return _Selection(allow or None, block)


def _discover(registry: Registry) -> None:
    selection = _current_selection()
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    entry_points = sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    seen: set[str] = set()
    for entry_point in entry_points:
        if entry_point.name in seen or entry_point.name in selection.block:
            continue
        if selection.allow is not None and entry_point.name not in selection.allow:
            continue
        seen.add(entry_point.name)
        distribution = entry_point.dist
        info = PluginInfo(
            name=entry_point.name,
            module=entry_point.value,
            distribution=distribution.name if distribution else None,
            version=distribution.version if distribution else None,
        )
        _plugins.append(info)
        try:
            module = entry_point.load()
            if not isinstance(module, ModuleType):
                raise PluginError(f"entry point {entry_point.value!r} must name a module")
            manager.register(module, name=entry_point.name)
            info.declarations = _collect(manager, entry_point.name)
        except Exception as error:  # isolate every plugin fault, whatever it is
            info.error = f"{type(error).__name__}: {error}"
            info.declarations = []
            if manager.has_plugin(entry_point.name):
                manager.unregister(name=entry_point.name)
            warnings.warn(
                f"autohub plugin {entry_point.name!r} ({entry_point.value}) failed to load and is "
                f"skipped: {info.error}",
                stacklevel=3,
            )
    preference = selection.allow or []
    for info in _plugins:
        for declaration in info.declarations:
            registry.declare(declaration)
    registry.mark_discovered(preference=preference, env_var=ENV_VAR)


def _collect(manager: pluggy.PluginManager, plugin_name: str) -> list[Declaration]:
    """Call one plugin's hooks and validate what it registers (all or nothing)."""
    declarations: list[Declaration] = []
    for kind, hook_name in _HOOKS.items():
        caller = getattr(manager.hook, hook_name)
        for implementation in caller.get_hookimpls():
            if implementation.plugin_name != plugin_name:
                continue

            def register(*args: object, _kind: str = kind) -> None:
                declarations.append(Declaration.from_hook(_kind, args, plugin_name))

            implementation.function(register=register)
    return declarations
