"""model_type -> classes: what plugins declared plus runtime ``register(...)`` calls.

Plugins declare lazy ``"module:Class"`` strings; a string is imported on first lookup and
the class cached. Runtime registrations (``AutoConfig.register`` ...) always win over
plugins. When several plugins declare the same key, they are ordered deterministically
(the order discovery gives: ``AUTOHUB_PLUGINS`` preference, then entry-point name) and the
conflict is recorded for discovery to report. A lookup uses the first provider whose class
imports; one that fails (whatever it raises, ``SystemExit`` included) is skipped with a
warning, and :class:`PluginError` names every provider only when none works.
"""

from __future__ import annotations

import importlib
import re
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from autohub_core.errors import PluginError, UnknownModelTypeError

__all__ = ["Declaration", "Registry", "SkippedPlugin", "import_target"]

KINDS = ("config", "tokenizer", "model", "head", "image-processor", "feature-extractor", "processor")
#: The kinds ``autohub_register_preprocessors`` declares: ``register(kind, model_type, target)``.
PREPROCESSOR_KINDS = ("image-processor", "feature-extractor", "processor")
_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_MODEL_TYPE = re.compile(r"^[A-Za-z0-9][\w.\-]*$")


@dataclass(frozen=True)
class Declaration:
    """One lazy class declared by a plugin: ``kind`` for ``model_type`` (and ``task``)."""

    kind: str
    model_type: str
    task: str | None
    target: str
    plugin: str

    @classmethod
    def from_hook(cls, kind: str, args: Sequence[object], plugin: str) -> Declaration:
        """Validate the arguments a plugin passed to ``register`` in a hook (``kind``
        ``"preprocessor"``: the first argument is one of :data:`PREPROCESSOR_KINDS`)."""
        if kind == "preprocessor":
            if len(args) != 3 or args[0] not in PREPROCESSOR_KINDS:
                raise PluginError(
                    "preprocessor registration must be register(kind, model_type, 'module:Class') with "
                    f"kind one of {', '.join(PREPROCESSOR_KINDS)}, got {args!r}"
                )
            kind, args = str(args[0]), args[1:]
        expected = 3 if kind == "head" else 2
        if len(args) != expected or not all(isinstance(arg, str) for arg in args):
            shape = "(model_type, task, 'module:Class')" if kind == "head" else "(model_type, 'module:Class')"
            raise PluginError(f"{kind} registration must be register{shape} with strings, got {args!r}")
        model_type, *rest = args
        task = rest[0] if kind == "head" else None
        target = rest[-1]
        assert isinstance(model_type, str) and isinstance(target, str)
        if not _MODEL_TYPE.match(model_type):
            raise PluginError(f"invalid model_type {model_type!r} in a {kind} registration")
        if not _TARGET.match(target):
            raise PluginError(
                f"invalid target {target!r} for {model_type!r}: expected 'package.module:Class'"
            )
        return cls(kind, model_type, task if isinstance(task, str) else None, target, plugin)


def import_target(target: str) -> Any:
    """Import ``"package.module:Attr"``; any failure raises :class:`PluginError` naming both.

    Whatever the plugin's code raises while its module is imported or the attribute is read
    is contained, ``SystemExit`` and ``KeyboardInterrupt`` included: a plugin cannot end the
    process that resolves its class.
    """
    module_name, _, attribute_path = target.partition(":")
    try:
        value: Any = importlib.import_module(module_name)
    except BaseException as error:  # plugin code: sys.exit() at import must not exit
        raise PluginError(
            f"cannot import module {module_name!r} (for {target}): {_describe(error)}"
        ) from error
    for part in attribute_path.split("."):
        try:
            value = getattr(value, part)
        except AttributeError as error:
            raise PluginError(f"module {module_name!r} has no attribute {attribute_path!r}") from error
        except BaseException as error:  # a module __getattr__ is plugin code too
            raise PluginError(f"reading {target} raised {_describe(error)}") from error
    return value


def _describe(error: BaseException) -> str:
    """``"Type: message"`` (just ``"Type"`` when the message is empty, as for ``sys.exit()``)."""
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


@dataclass(frozen=True)
class SkippedPlugin:
    """An installed entry point that discovery did not load because of the plugin selection."""

    name: str
    distribution: str | None
    reason: str  # e.g. "blocked by AUTOHUB_PLUGINS ('-gpt2')"


class Registry:
    """Thread-safe store of declared and runtime-registered classes.

    ``on_miss`` (set by discovery) is called when a lookup finds no class; it returns True
    when it rediscovered plugins, and the lookup is then tried once more. ``warn`` reports a
    provider skipped because its class failed to import (default: :func:`warnings.warn`).
    """

    def __init__(
        self, on_miss: Callable[[], bool] | None = None, warn: Callable[[str], None] | None = None
    ) -> None:
        self._lock = threading.RLock()
        self._declared: dict[tuple[str, str, str | None], list[Declaration]] = {}  # preferred first
        self._runtime: dict[tuple[str, str, str | None], Any] = {}
        self._resolved: dict[tuple[str, str, str | None], Any] = {}
        self._winner: dict[tuple[str, str, str | None], Declaration] = {}
        self._on_miss = on_miss
        self._warn = warn or (lambda message: warnings.warn(message, stacklevel=5))
        self._env_var = "AUTOHUB_PLUGINS"
        self._selectors: Mapping[str, str] = {}
        self.discovered = False
        self.conflicts: list[str] = []
        self.skipped: list[SkippedPlugin] = []

    # -- filled by discovery ---------------------------------------------------------

    def set_declarations(
        self,
        declarations: Iterable[Declaration],
        *,
        order: Sequence[str],
        env_var: str,
        selectors: Mapping[str, str] | None = None,
        skipped: Sequence[SkippedPlugin] = (),
    ) -> None:
        """Replace every plugin declaration at once, order the providers of each key and
        record conflicts; runtime registrations are kept.

        ``order`` lists the plugins (``Declaration.plugin``), most preferred first: the first
        provider of a key is used, the next ones are fallbacks when its class fails to import.
        ``selectors`` gives, per plugin, the ``env_var`` item that selects it (default: its name).
        """
        rank = {name: index for index, name in enumerate(order)}
        declared: dict[tuple[str, str, str | None], list[Declaration]] = {}
        for declaration in sorted(declarations, key=lambda d: (rank.get(d.plugin, len(rank)), d.plugin)):
            declared.setdefault((declaration.kind, declaration.model_type, declaration.task), []).append(
                declaration
            )
        selectors = dict(selectors or {})
        winner: dict[tuple[str, str, str | None], Declaration] = {}
        conflicts: list[str] = []
        for key, ordered in sorted(declared.items(), key=lambda item: str(item[0])):
            winner[key] = ordered[0]
            if len({d.target for d in ordered}) > 1:
                chosen = [selectors.get(d.plugin, d.plugin) for d in ordered]
                conflicts.append(
                    f"plugins {[d.plugin for d in ordered]} all provide {_what(key)}; using "
                    f"{ordered[0].plugin!r} ({ordered[0].target}). Set {env_var}="
                    f"'{','.join(chosen)}' (preferred first) or block one with '-name' to choose."
                )
        with self._lock:
            self._declared, self._winner, self.conflicts = declared, winner, conflicts
            self._env_var, self._selectors = env_var, selectors
            self.skipped = list(skipped)
            self._resolved.clear()
            self.discovered = True

    def clear_declarations(self) -> None:
        """Forget what plugins declared (runtime registrations stay); the next use rediscovers."""
        with self._lock:
            self._declared.clear()
            self._winner.clear()
            self._resolved.clear()
            self.conflicts.clear()
            self.skipped.clear()
            self.discovered = False

    # -- runtime registration ------------------------------------------------------

    def register(self, kind: str, model_type: str, value: Any, task: str | None = None) -> None:
        """Map a key to a class at runtime; it wins over every plugin declaration."""
        with self._lock:
            key = (kind, model_type, task)
            self._runtime[key] = value
            self._resolved.pop(key, None)

    def maps_to(self, kind: str, model_type: str, value: Any, task: str | None = None) -> bool:
        """Whether the key already maps to ``value``, or to a class of the same module and
        qualified name (the same class defined again, as when a notebook cell runs twice)."""
        key = (kind, model_type, task)
        with self._lock:
            current = self._runtime.get(key, self._resolved.get(key))
            declaration = self._winner.get(key)
        if current is not None:
            return current is value or _qualified_name(current) == _qualified_name(value)
        return declaration is not None and declaration.target == _qualified_name(value)

    def has(self, kind: str, model_type: str, task: str | None = None) -> bool:
        """Whether a plugin or a runtime registration provides the key (nothing is imported)."""
        key = (kind, model_type, task)
        with self._lock:
            return key in self._runtime or key in self._winner

    # -- lookups ------------------------------------------------------------------

    def lookup(self, kind: str, model_type: str, task: str | None = None) -> Any:
        """The class for ``(kind, model_type, task)``; imports a lazy target on first use.

        An unknown key calls ``on_miss`` first (plugins installed since discovery are then seen).
        """
        key = (kind, model_type, task)
        value = self._get(key)
        if value is None and self._on_miss is not None and self._on_miss():
            value = self._get(key)
        if value is None:
            raise self._unknown(kind, model_type, task)
        return value

    def _get(self, key: tuple[str, str, str | None]) -> Any | None:
        with self._lock:
            if key in self._runtime:
                return self._runtime[key]
            if key in self._resolved:
                return self._resolved[key]
            providers = list(self._declared.get(key, ()))
        if not providers:
            return None
        failures: list[tuple[Declaration, PluginError]] = []
        for declaration in providers:
            try:
                value = import_target(declaration.target)
            except PluginError as error:
                failures.append((declaration, error))
                continue
            if failures:
                failed = "; ".join(f"plugin {d.plugin!r}: {error}" for d, error in failures)
                self._warn(
                    f"{_what(key)}: skipping the plugin that cannot load it ({failed}); using "
                    f"plugin {declaration.plugin!r} ({declaration.target}) instead"
                )
            with self._lock:
                if key not in self._resolved:  # another thread may have resolved it meanwhile
                    self._winner[key] = declaration  # source() / target() now name what is used
                    self._resolved[key] = value
                return self._resolved[key]
        tried = "; ".join(f"plugin {d.plugin!r}: {error}" for d, error in failures)
        blocks = ",".join(f"-{self._selectors.get(d.plugin, d.plugin)}" for d, _ in failures)
        raise PluginError(
            f"{_what(key)} cannot be loaded from any plugin that provides it: {tried}. Fix or "
            f"uninstall the plugin, or block it with {self._env_var}='{blocks}'"
        ) from failures[-1][1]

    def source(self, kind: str, model_type: str, task: str | None = None) -> str | None:
        """Which plugin (or "runtime") provides a key, without importing it."""
        key = (kind, model_type, task)
        with self._lock:
            if key in self._runtime:
                return "runtime"
            winner = self._winner.get(key)
            return winner.plugin if winner else None

    def target(self, kind: str, model_type: str, task: str | None = None) -> str | None:
        """The ``module:Class`` string (or runtime class path) for a key, without importing."""
        key = (kind, model_type, task)
        with self._lock:
            if key in self._runtime:
                value = self._runtime[key]
                return f"{value.__module__}:{value.__qualname__}"
            winner = self._winner.get(key)
            return winner.target if winner else None

    def model_types(self, kind: str = "config") -> list[str]:
        """The model types that have a class of ``kind``, sorted."""
        with self._lock:
            keys = set(self._runtime) | set(self._winner)
        return sorted({model_type for k, model_type, _ in keys if k == kind})

    def tasks(self, model_type: str) -> list[str]:
        """The head tasks provided for ``model_type``, sorted."""
        with self._lock:
            keys = set(self._runtime) | set(self._winner)
        return sorted({task for kind, mt, task in keys if kind == "head" and mt == model_type and task})

    def items(self, kind: str) -> list[tuple[str, str | None, str]]:
        """(model_type, task, target) for every key of ``kind``, sorted, without importing."""
        with self._lock:
            keys = sorted(k for k in set(self._runtime) | set(self._winner) if k[0] == kind)
        return [(mt, task, self.target(kind, mt, task) or "") for _, mt, task in keys]

    def find_tokenizer_by_name(self, class_name: str) -> Any | None:
        """The registered tokenizer class whose name matches (``BertTokenizerFast`` ~ ``BertTokenizer``)."""
        return self.find_by_class_name("tokenizer", class_name)

    def find_by_class_name(self, kind: str, class_name: str) -> Any | None:
        """The registered class of ``kind`` whose name matches ``class_name``, the suffixes
        ``Fast`` and ``Pil`` ignored (``ViTImageProcessorFast`` ~ ``ViTImageProcessor``); a runtime
        class also matches one of its ``legacy_names``. Only a match is imported."""
        wanted = _base_class_name(class_name)
        with self._lock:
            runtime = [value for k, value in self._runtime.items() if k[0] == kind]
            declared = sorted((k, d) for k, d in self._winner.items() if k[0] == kind)
        for value in runtime:
            names = [getattr(value, "__name__", ""), *getattr(value, "legacy_names", ())]
            if wanted in {_base_class_name(name) for name in names}:
                return value
        for key, declaration in declared:
            if _base_class_name(declaration.target.rpartition(":")[2].rpartition(".")[2]) == wanted:
                return self.lookup(*key)
        for key, _ in declared:  # legacy names live on the classes: import this kind's classes once
            try:
                value = self.lookup(*key)
            except PluginError:  # a broken plugin must not hide the others; using it directly reports it
                continue
            if wanted in {_base_class_name(name) for name in getattr(value, "legacy_names", ())}:
                return value
        return None

    def _unknown(self, kind: str, model_type: str, task: str | None) -> UnknownModelTypeError:
        known = self.model_types("config")
        installed = ", ".join(known) if known else "none"
        if kind == "head" and self.has("config", model_type):
            offered = ", ".join(self.tasks(model_type)) or "none"
            return UnknownModelTypeError(
                f"no installed plugin provides a {task!r} head for model_type {model_type!r} "
                f"(its heads: {offered}); install a plugin that adds it or register one with "
                "AutoModelFor<Task>.register(ConfigClass, ModelClass)"
            )
        if kind != "config" and self.has("config", model_type):
            return UnknownModelTypeError(
                f"model_type {model_type!r} has a config but no {kind} class registered; "
                f"the plugin providing it does not offer one"
            )
        package = f"autohub-{model_type.replace('_', '-')}"
        for plugin in self.skipped:  # the family's plugin by its usual names: entry point or distribution
            if (
                plugin.name.replace("_", "-") == model_type.replace("_", "-")
                or plugin.distribution == package
            ):
                origin = f" ({plugin.distribution})" if plugin.distribution else ""
                return UnknownModelTypeError(
                    f"no loaded plugin provides model_type {model_type!r}: plugin {plugin.name!r}{origin} is "
                    f"installed but {plugin.reason}; change that selection to load it"
                )
        return UnknownModelTypeError(
            f"no plugin provides model_type {model_type!r} (installed model types: {installed}); "
            f"pip install {package} (or the plugin package providing it), or register it at runtime "
            "with AutoConfig.register"
        )


def _base_class_name(name: str) -> str:
    """A class name without transformers' backend suffixes: ``Fast`` (tokenizers, torchvision image
    processors) and ``Pil`` (PIL image processors)."""
    for suffix in ("Fast", "Pil"):
        name = name.removesuffix(suffix)
    return name


def _what(key: tuple[str, str, str | None]) -> str:
    """``config 'bert'`` / ``head 'bert' task 'masked-lm'``: a key in messages."""
    kind, model_type, task = key
    return f"{kind} {model_type!r}" + (f" task {task!r}" if task else "")


def _qualified_name(value: Any) -> str:
    return f"{getattr(value, '__module__', '')}:{getattr(value, '__qualname__', repr(value))}"
