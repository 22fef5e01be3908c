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

:func:`refresh` reads the entry points again (a plugin installed into the running process
is then seen); a lookup of an unknown model_type does so by itself when a directory on
``sys.path`` changed since the last discovery.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
import threading
import warnings
from dataclasses import dataclass, field
from types import ModuleType

import pluggy

from autohub_core import hookspecs
from autohub_core.errors import PluginError
from autohub_core.registry import Declaration, Registry, SkippedPlugin

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "configure",
    "get_registry",
    "list_plugins",
    "refresh",
    "reset",
]

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
        """Whether the plugin imported and registered without error."""
        return self.error is None


@dataclass
class _Selection:
    allow: list[str] | None
    block: set[str]
    source: str  # where the selection comes from, for error messages

    def skips(self, name: str) -> str | None:
        """Why the entry point ``name`` is not loaded (None: it loads)."""
        if name in self.block or (self.allow is not None and name not in self.allow):
            return f"blocked by {self.source}"
        return None


_lock = threading.RLock()
_registry: Registry | None = None
_plugins: list[PluginInfo] = []
_selection_override: _Selection | None = None
_path_stamp: tuple[tuple[str, int], ...] | None = None  # sys.path directories' mtimes at the last discovery
_warned: set[str] = set()  # each failure or conflict is warned once per process


def configure(allow: list[str] | None = None, block: list[str] | None = None) -> None:
    """Choose which plugins load (overrides ``AUTOHUB_PLUGINS``) and re-run discovery lazily.

    ``allow`` lists entry-point names in order of preference (None: all); ``block`` names
    plugins never to load. Runtime ``register(...)`` calls made before are kept.
    """
    global _selection_override
    with _lock:
        source = f"plugins.configure(allow={allow!r}, block={block!r})"
        _selection_override = _Selection(list(allow) if allow is not None else None, set(block or ()), source)
        _discard_discovery()


def refresh() -> None:
    """Read the ``autohub`` entry points again, now: plugins installed (or removed) since the
    last discovery are seen, ``AUTOHUB_PLUGINS`` is read again.

    Runtime ``register(...)`` calls and a :func:`configure` selection are kept. Call it after
    installing a plugin into a running process (a notebook); a lookup of an unknown
    model_type calls it by itself when a directory on ``sys.path`` changed since discovery.
    """
    with _lock:
        importlib.invalidate_caches()  # import and metadata finders cache directory listings
        _discover(_ensure_registry())


def reset() -> None:
    """Forget discovery, runtime registrations and :func:`configure` (for tests)."""
    global _registry, _selection_override, _path_stamp
    with _lock:
        _registry = None
        _plugins.clear()
        _selection_override = None
        _path_stamp = None
        _warned.clear()


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
        _registry = Registry(on_miss=_refresh_if_path_changed)
    return _registry


def _sys_path_stamp() -> tuple[tuple[str, int], ...]:
    """The modification times of the directories on ``sys.path``: installing a distribution
    adds its ``.dist-info`` to one of them. A few ``stat`` calls."""
    stamps = []
    for entry in sys.path:
        try:
            stamps.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            stamps.append((entry, -1))
    return tuple(stamps)


def _refresh_if_path_changed() -> bool:
    """Rediscover when something may have been installed since the last discovery (True when it did)."""
    if _path_stamp is None or _sys_path_stamp() == _path_stamp:
        return False
    refresh()
    return True


def _discard_discovery() -> None:
    if _registry is not None:
        _registry.clear_declarations()
    _plugins.clear()


def _current_selection() -> _Selection:
    if _selection_override is not None:
        return _selection_override
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return _Selection(None, set(), ENV_VAR)
    names = [part.strip() for part in raw.split(",") if part.strip()]
    allow = [name for name in names if not name.startswith("-")]
    block = {name[1:] for name in names if name.startswith("-")}
    return _Selection(allow or None, block, f"{ENV_VAR} ({raw!r})")


def _discover(registry: Registry) -> None:
    global _path_stamp
    _path_stamp = _sys_path_stamp()  # before reading: a later install is seen by the next check
    selection = _current_selection()
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    entry_points = sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    seen: set[str] = set()
    infos: list[PluginInfo] = []
    skipped: list[SkippedPlugin] = []
    for entry_point in entry_points:
        if entry_point.name in seen:
            continue
        seen.add(entry_point.name)
        distribution = entry_point.dist
        reason = selection.skips(entry_point.name)
        if reason is not None:
            skipped.append(
                SkippedPlugin(entry_point.name, distribution.name if distribution else None, reason)
            )
            continue
        info = PluginInfo(
            name=entry_point.name,
            module=entry_point.value,
            distribution=distribution.name if distribution else None,
            version=distribution.version if distribution else None,
        )
        infos.append(info)
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
            _warn_once(
                f"autohub plugin {entry_point.name!r} ({entry_point.value}) failed to load and is "
                f"skipped: {info.error}"
            )
    registry.set_declarations(
        (declaration for info in infos for declaration in info.declarations),
        preference=selection.allow or [],
        env_var=ENV_VAR,
        skipped=skipped,
    )
    _plugins[:] = infos
    for message in registry.conflicts:
        _warn_once(message)


def _warn_once(message: str) -> None:
    """Warn about a plugin failure or conflict the first time a discovery in this process finds it."""
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, stacklevel=4)


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
