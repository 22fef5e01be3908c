"""Plugin discovery: the one place that reads the ``autohub`` entry-point group.

Discovery runs once per process, on first need (the first ``from_pretrained``,
``from_config`` or listing), never at ``import autohub_core``. Each plugin is imported and
its hooks called in isolation: a plugin that fails to import, raises in a hook (anything,
``SystemExit`` and ``KeyboardInterrupt`` included), or registers garbage is recorded with
its error and contributes nothing, while the other plugins keep working. How long each
plugin took to import is recorded too.

Which plugins load is controlled by the ``AUTOHUB_PLUGINS`` environment variable (or
:func:`configure`): a comma-separated list of entry-point names. Plain names form an
allow-list (only those load) and also give the preference order when two plugins claim
the same model_type; names prefixed with ``-`` are blocked. ``name@distribution`` picks
one of several distributions that use the same entry-point name. Unset means "all, no
preference" (ties are broken by entry-point name, with a warning).

Two distributions may use the same entry-point name: both are loaded, the collision is
reported, and the second is registered as ``name@distribution``.

:func:`refresh` reads the entry points again (a plugin installed into the running process
is then seen); a lookup of an unknown model_type does so by itself when a directory on
``sys.path`` changed since the last discovery.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import itertools
import os
import re
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from types import ModuleType

import pluggy

from autohub_core import hookspecs
from autohub_core.errors import PluginError
from autohub_core.registry import Declaration, Registry, SkippedPlugin, _describe

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
    "preprocessor": "autohub_register_preprocessors",
}


@dataclass
class PluginInfo:
    """What discovery learned about one entry point.

    ``plugin_id`` is the name it is registered under: the entry-point ``name``, or
    ``name@distribution`` for a further distribution using the same entry-point name
    (``collision`` then says which). ``import_seconds`` is the time its module import and
    hooks took.
    """

    name: str
    module: str
    distribution: str | None
    version: str | None
    error: str | None = None
    declarations: list[Declaration] = field(default_factory=list)
    plugin_id: str = ""
    import_seconds: float = 0.0
    collision: str | None = None

    def __post_init__(self) -> None:
        self.plugin_id = self.plugin_id or self.name

    @property
    def loaded(self) -> bool:
        """Whether the plugin imported and registered without error."""
        return self.error is None


def _canonical(distribution: str) -> str:
    """A distribution name as pip compares them (PEP 503): ``Autohub_Bert`` -> ``autohub-bert``."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _selector(token: str) -> str:
    """An ``AUTOHUB_PLUGINS`` item with its ``@distribution`` part canonical."""
    name, at, distribution = token.partition("@")
    return f"{name}@{_canonical(distribution)}" if at else name


@dataclass
class _Selection:
    allow: list[str] | None
    block: set[str]
    source: str  # where the selection comes from, for error messages

    @classmethod
    def parse(cls, allow: list[str] | None, block: set[str] | list[str], source: str) -> _Selection:
        return cls(
            [_selector(token) for token in allow] if allow is not None else None,
            {_selector(token) for token in block},
            source,
        )

    def skips(self, selectors: tuple[str, ...]) -> str | None:
        """Why the entry point known by ``selectors`` (name, name@distribution) is not loaded."""
        if any(selector in self.block for selector in selectors) or (
            self.allow is not None and not any(selector in self.allow for selector in selectors)
        ):
            return f"blocked by {self.source}"
        return None

    def rank(self, selectors: tuple[str, ...]) -> int:
        """Position in the allow-list (``name@distribution`` before ``name``); unlisted: last."""
        allow = self.allow or []
        return next((allow.index(s) for s in reversed(selectors) if s in allow), len(allow))


_lock = threading.RLock()
_registry: Registry | None = None
_plugins: list[PluginInfo] = []
_selection_override: _Selection | None = None
_path_stamp: tuple[tuple[str, int], ...] | None = None  # sys.path directories' mtimes at the last discovery
_warned: set[str] = set()  # each failure or conflict is warned once per process


def configure(allow: list[str] | None = None, block: list[str] | None = None) -> None:
    """Choose which plugins load (overrides ``AUTOHUB_PLUGINS``) and re-run discovery lazily.

    ``allow`` lists entry-point names (or ``name@distribution``) in order of preference
    (None: all); ``block`` names plugins never to load. Runtime ``register(...)`` calls made
    before are kept.
    """
    global _selection_override
    with _lock:
        source = f"plugins.configure(allow={allow!r}, block={block!r})"
        _selection_override = _Selection.parse(allow, block or [], source)
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
        _registry = Registry(on_miss=_refresh_if_path_changed, warn=_warn_once)
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
    return _Selection.parse(allow or None, block, f"{ENV_VAR} ({raw!r})")


def _distribution_name(entry_point: importlib.metadata.EntryPoint) -> str | None:
    """The distribution declaring ``entry_point`` (None when its metadata names none)."""
    name = entry_point.dist.name if entry_point.dist else None
    return name if isinstance(name, str) else None


def _discovery_order(entry_point: importlib.metadata.EntryPoint) -> tuple[str, bool, str, str]:
    """Entry-point name; for one name used by several distributions, ``autohub-<name>``
    first, then distribution name (then module, for a distribution repeating a name)."""
    distribution = _canonical(_distribution_name(entry_point) or "")
    return (
        entry_point.name,
        distribution != _canonical(f"autohub-{entry_point.name}"),
        distribution,
        entry_point.value,
    )


def _discover(registry: Registry) -> None:
    global _path_stamp
    _path_stamp = _sys_path_stamp()  # before reading: a later install is seen by the next check
    selection = _current_selection()
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    entry_points = sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=_discovery_order)
    infos: list[PluginInfo] = []
    skipped: list[SkippedPlugin] = []
    selectors: dict[str, str] = {}  # plugin_id -> the AUTOHUB_PLUGINS item choosing just it
    ranks: dict[str, int] = {}
    for name, same_name in itertools.groupby(entry_points, key=lambda ep: ep.name):
        group: list[PluginInfo] = []
        for entry_point in same_name:
            distribution = _distribution_name(entry_point)
            by_distribution = f"{name}@{_canonical(distribution) if distribution else entry_point.value}"
            reason = selection.skips((name, by_distribution))
            if reason is not None:
                skipped.append(SkippedPlugin(name, distribution, reason))
                continue
            info = PluginInfo(
                name=name,
                module=entry_point.value,
                distribution=distribution,
                version=entry_point.dist.version if entry_point.dist else None,
                plugin_id=by_distribution if group else name,  # the first one loaded keeps the name
            )
            selectors[info.plugin_id] = by_distribution
            ranks[info.plugin_id] = selection.rank((name, by_distribution))
            _load(manager, entry_point, info)
            group.append(info)
        if len(group) > 1:
            _report_collision(group)
        else:
            selectors.update({info.plugin_id: name for info in group})
        infos.extend(group)
    registry.set_declarations(
        (declaration for info in infos for declaration in info.declarations),
        order=sorted(ranks, key=lambda plugin_id: ranks[plugin_id]),  # stable: discovery order on ties
        env_var=ENV_VAR,
        selectors=selectors,
        skipped=skipped,
    )
    _plugins[:] = infos
    for message in registry.conflicts:
        _warn_once(message)


def _load(
    manager: pluggy.PluginManager, entry_point: importlib.metadata.EntryPoint, info: PluginInfo
) -> None:
    """Import one plugin and call its hooks, timing both; any fault is recorded on ``info``."""
    started = time.perf_counter()
    try:
        module = entry_point.load()
        if not isinstance(module, ModuleType):
            raise PluginError(f"entry point {entry_point.value!r} must name a module")
        manager.register(module, name=info.plugin_id)
        info.declarations = _collect(manager, info.plugin_id)
    except BaseException as error:  # a plugin's sys.exit() / KeyboardInterrupt must not end the process
        info.error = _describe(error)
        info.declarations = []
        if manager.has_plugin(info.plugin_id):
            manager.unregister(name=info.plugin_id)
        _warn_once(
            f"autohub plugin {info.plugin_id!r} ({entry_point.value}) failed to load and is skipped: {info.error}"
        )
    finally:
        info.import_seconds = time.perf_counter() - started


def _report_collision(group: list[PluginInfo]) -> None:
    """Several distributions use one entry-point name: all are kept, under distinct ids."""
    providers = ", ".join(
        f"{info.plugin_id!r} ({info.distribution or '?'} {info.version or '?'}: {info.module})"
        for info in group
    )
    name = group[0].name
    message = (
        f"autohub entry point {name!r} is declared by {len(group)} distributions; all are loaded, "
        f"as {providers}, preferred in this order unless {ENV_VAR} says otherwise (where they "
        f"provide the same class, the first whose class imports is used). Set "
        f"{ENV_VAR}='{name}@<distribution>' to prefer one, or '-{name}@<distribution>' to block one."
    )
    for info in group:
        info.collision = message
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
