"""Caps on the work and memory hostile input can demand, checked before anything is allocated.

Every cap has a default that fits real checkpoints with room to spare, and can be raised (or
lowered) per process, either with an environment variable ``AUTOHUB_<NAME>`` (for example
``AUTOHUB_MAX_NUM_LABELS=2000000``) read on first use, or with :func:`configure`. Exceeding a
cap raises :class:`~autohub_core.errors.LimitExceededError`, which names the cap and the
variable that raises it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autohub_core.errors import AutohubError, ConfigError, LimitExceededError

__all__ = [
    "Limits",
    "available_host_memory",
    "check",
    "check_file_size",
    "configure",
    "current",
    "read_json",
    "reset",
]

_MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """The caps in force. Sizes are in bytes, lengths in characters, durations in seconds."""

    max_json_bytes: int = 64 * _MIB
    """config.json, tokenizer_config.json, special_tokens_map.json, generation_config.json, index files."""
    max_json_depth: int = 64
    """Nesting depth of any JSON document autohub reads."""
    max_tokenizer_file_bytes: int = 1024 * _MIB
    """tokenizer.json, vocab.txt / vocab.json / merges.txt, SentencePiece models."""
    max_text_chars: int = 100_000_000
    """One text given to a tokenizer call."""
    max_num_labels: int = 1_000_000
    """``num_labels`` / ``id2label`` of a classification head."""
    max_new_tokens: int = 1_048_576
    """Tokens ``generate()`` may produce (``max_new_tokens``, or ``max_length`` minus the prompt)."""
    max_generation_sequences: int = 65_536
    """Sequences ``generate()`` decodes at once: prompts x ``max(num_beams, num_return_sequences)``."""
    chat_template_seconds: float = 10.0
    """Wall time one ``apply_chat_template`` rendering may take."""
    chat_template_output_chars: int = 10_000_000
    """Characters one chat template rendering (and any string it builds) may produce."""
    chat_template_loop_iterations: int = 1_000_000
    """Loop iterations (all loops together) one chat template rendering may run."""

    @staticmethod
    def env_var(name: str) -> str:
        """The environment variable that sets the cap ``name``."""
        return f"AUTOHUB_{name.upper()}"


_lock = threading.Lock()
_current: Limits | None = None


def current() -> Limits:
    """The caps in force: the defaults, the ``AUTOHUB_*`` variables, then :func:`configure`."""
    global _current
    limits = _current
    if limits is None:
        with _lock:
            if _current is None:
                _current = _from_environment()
            limits = _current
    return limits


def configure(**changes: Any) -> Limits:
    """Change caps for this process (``configure(max_num_labels=2_000_000)``); returns the
    previous :class:`Limits`, which can be passed back with ``configure(**dataclasses.asdict(old))``."""
    global _current
    previous = current()
    with _lock:
        _current = dataclasses.replace(
            previous, **{k: _checked(k, v, "configure()") for k, v in changes.items()}
        )
    return previous


def reset() -> None:
    """Forget :func:`configure`; the environment is read again on next use."""
    global _current
    with _lock:
        _current = None


def check(name: str, value: float, what: str) -> None:
    """Raise :class:`LimitExceededError` when ``value`` exceeds the cap ``name``.

    ``what`` says what was measured, e.g. ``"config.json in ./model is 600.0 MB"``.
    """
    cap = getattr(current(), name)
    if value > cap:
        raise LimitExceededError(
            f"{what}, over the limit {name}={cap}; raise it with the environment variable "
            f"{Limits.env_var(name)} or autohub_core.limits.configure({name}=...) if this input is trusted"
        )


def check_file_size(path: str | os.PathLike, name: str = "max_tokenizer_file_bytes") -> int:
    """The size of ``path`` in bytes, after checking it against the cap ``name`` (before reading)."""
    size = os.stat(path).st_size
    check(name, size, f"{path} is {size / _MIB:.1f} MiB")
    return size


def read_json(
    path: str | os.PathLike,
    error: type[AutohubError] = ConfigError,
    *,
    expect: type = dict,
) -> Any:
    """Read a JSON document of at most ``max_json_bytes`` and ``max_json_depth`` levels.

    Anything wrong with the content (not UTF-8, not JSON, nested too deeply, not an ``expect``
    at the top) raises ``error`` naming the file. Values are checked by whoever reads them.
    """
    path = Path(path)
    check_file_size(path, "max_json_bytes")
    try:
        raw = path.read_bytes().decode("utf-8")
        data = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise error(f"{path} is not UTF-8 text: {exc}") from None
    except json.JSONDecodeError as exc:
        raise error(f"{path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise error(f"{path} is nested more deeply than Python can parse") from None
    depth = _depth(data)
    if depth > current().max_json_depth:
        raise error(
            f"{path} is nested {depth} levels deep, over the limit max_json_depth={current().max_json_depth} "
            f"(environment variable {Limits.env_var('max_json_depth')})"
        )
    if not isinstance(data, expect):
        kind = {dict: "object", list: "array"}.get(expect, expect.__name__)
        raise error(f"{path} must hold a JSON {kind}, found {type(data).__name__}")
    return data


def available_host_memory(root: str | os.PathLike = "/") -> int | None:
    """Bytes this process can still allocate on the host, when it can be known (``None`` otherwise).

    The least of: ``MemAvailable`` of ``/proc/meminfo``; the room left in the process's memory
    cgroup and its ancestors (v2 ``memory.max`` - ``memory.current``, v1 ``memory.limit_in_bytes``
    - ``memory.usage_in_bytes``); ``RLIMIT_AS`` and ``RLIMIT_DATA`` minus the process's current
    ``VmSize`` / ``VmData``. Each source is optional (a missing file, ``max`` or an unlimited
    rlimit does not count). ``root`` is where ``/proc`` and ``/sys`` are looked up (for tests).
    """
    root = Path(root)
    known = [
        room
        for room in (_meminfo_available(root), _cgroup_room(root), *_rlimit_rooms(root))
        if room is not None
    ]
    return max(min(known), 0) if known else None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _kib_fields(path: Path) -> dict[str, int]:
    """``Name:  123 kB`` lines of a /proc file, in bytes."""
    fields = {}
    for line in (_read_text(path) or "").splitlines():
        name, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            fields[name.strip()] = int(parts[0]) * 1024
    return fields


def _meminfo_available(root: Path) -> int | None:
    return _kib_fields(root / "proc" / "meminfo").get("MemAvailable")


def _read_bytes_value(path: Path) -> int | None:
    """A cgroup counter in bytes; ``None`` when missing, ``max`` or unlimited (v1 writes a huge number)."""
    text = (_read_text(path) or "").strip()
    if not text.isdigit():
        return None
    value = int(text)
    return value if value < 2**60 else None


def _cgroup_room(root: Path) -> int | None:
    """The least room left in the process's memory cgroup and its ancestors (v2 and v1)."""
    rooms = []
    for line in (_read_text(root / "proc" / "self" / "cgroup") or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, cgroup_path = parts
        if controllers == "":
            mounts, limit_file, usage_file = (
                ("sys/fs/cgroup", "sys/fs/cgroup/unified"),
                "memory.max",
                "memory.current",
            )
        elif "memory" in controllers.split(","):
            mounts, limit_file, usage_file = (
                ("sys/fs/cgroup/memory",),
                "memory.limit_in_bytes",
                "memory.usage_in_bytes",
            )
        else:
            continue
        relative = Path(cgroup_path.strip().lstrip("/"))
        for mount in mounts:
            # The process's own cgroup, then each ancestor up to the mount (a container sees only its part).
            for level in (relative, *relative.parents):
                directory = root / mount / level
                limit = _read_bytes_value(directory / limit_file)
                if limit is not None:
                    rooms.append(limit - (_read_bytes_value(directory / usage_file) or 0))
    return min(rooms) if rooms else None


def _rlimit_rooms(root: Path) -> list[int | None]:
    """``RLIMIT_AS`` minus ``VmSize`` and ``RLIMIT_DATA`` minus ``VmData`` (soft limits)."""
    try:
        import resource
    except ImportError:  # not on this platform
        return []
    status = _kib_fields(root / "proc" / "self" / "status")
    rooms: list[int | None] = []
    for limit_name, usage_name in (("RLIMIT_AS", "VmSize"), ("RLIMIT_DATA", "VmData")):
        kind = getattr(resource, limit_name, None)
        if kind is None:
            continue
        soft, _ = resource.getrlimit(kind)
        if soft != resource.RLIM_INFINITY and soft >= 0:
            rooms.append(soft - status.get(usage_name, 0))
    return rooms


def _depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value, without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            items = item.values()
        elif isinstance(item, list):
            items = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in items)
    return deepest


def _from_environment() -> Limits:
    values = {}
    for field in dataclasses.fields(Limits):
        raw = os.environ.get(Limits.env_var(field.name))
        if raw is not None and raw.strip():
            values[field.name] = _checked(
                field.name, raw.strip(), f"environment variable {Limits.env_var(field.name)}"
            )
    return Limits(**values)


def _checked(name: str, value: Any, source: str) -> int | float:
    field = next((f for f in dataclasses.fields(Limits) if f.name == name), None)
    if field is None:
        known = ", ".join(f.name for f in dataclasses.fields(Limits))
        raise ConfigError(f"{source}: unknown limit {name!r}; known limits: {known}")
    kind = float if field.type == "float" else int
    try:
        number = kind(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(
            f"{source}: limit {name} must be a positive {kind.__name__}, got {value!r}"
        ) from None
    if isinstance(value, bool) or not number > 0 or number != number or number == float("inf"):
        raise ConfigError(f"{source}: limit {name} must be a positive finite {kind.__name__}, got {value!r}")
    return number
