"""Checkpoint-atomic saving: every ``save_pretrained`` is one transaction on its folder.

A transaction holds an exclusive ``flock`` on the folder itself (no lock file) for the
whole save, so concurrent savers take turns and the last one wins whole. Each new file is
written to a hidden temporary name in the folder and fsynced. The commit writes a journal
(``.autohub-commit.json``: temporary name -> final name, files to delete) atomically;
from that moment the new checkpoint is decided. The journal is then applied (renames,
deletions), the folder fsynced, and the journal removed.

Killed before the journal exists: the previous checkpoint is intact and the temporary
files are garbage. Killed after: the next save or the next local load applies the journal
again (each step can be repeated), giving the new checkpoint. Both also delete leftover
temporary files. Writing errors (disk full ...) delete the temporary files and raise
:class:`~autohub_core.errors.CheckpointWriteError`.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from autohub_core import limits
from autohub_core.errors import AutohubError, CheckpointWriteError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no folder locks, saves are still crash-atomic
    fcntl = None  # type: ignore[assignment]

JOURNAL_NAME = ".autohub-commit.json"
TEMP_PREFIX = ".autohub-tmp-"
# Temporary files of the per-file scheme of earlier versions (tempfile.mkstemp beside the target).
_OLD_TEMP = re.compile(
    r"^\.(config\.json|generation_config\.json|model(-\d{5}-of-\d{5})?\.safetensors|"
    r"model\.safetensors\.index\.json|tokenizer(_config)?\.json|special_tokens_map\.json|"
    r"adapter_model\.safetensors)\.[a-z0-9_]{8}\.tmp$"
)
_ACTIVE: contextvars.ContextVar[dict[str, CheckpointTransaction] | None] = contextvars.ContextVar(
    "autohub_checkpoint_transactions", default=None
)


class CheckpointTransaction:
    """The files one save writes into (and removes from) a folder; see :func:`checkpoint_transaction`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._id = secrets.token_hex(6)
        self._temps: dict[str, Path] = {}  # final name -> temporary file holding its new content
        self._removals: set[str] = set()

    def write(self, name: str, writer: Callable[[Path], object]) -> None:
        """Call ``writer(path)`` to write the new content of ``name`` at a temporary path."""
        _check_name(name)
        self._discard_one(name)
        temp = self.directory / f"{TEMP_PREFIX}{self._id}-{name}"
        self._temps[name] = temp
        handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666)  # umask applies
        try:
            mode = os.fstat(handle).st_mode & 0o777
        finally:
            os.close(handle)
        writer(temp)
        _fsync_file(temp, mode)

    def write_text(self, name: str, text: str) -> None:
        """Write ``text`` (UTF-8) as the new content of ``name``."""
        self.write(name, lambda path: path.write_bytes(text.encode("utf-8")))

    def write_safetensors(self, name: str, tensors: dict[str, Any]) -> None:
        """Write ``tensors`` (torch) as the safetensors file ``name``, with transformers' metadata."""
        from safetensors import SafetensorError
        from safetensors.torch import save_file

        def save(path: Path) -> None:
            try:
                save_file(tensors, str(path), metadata={"format": "pt"})
            except SafetensorError as error:  # an I/O failure (disk full ...) surfaces as this
                raise OSError(f"safetensors could not write {name}: {error}") from error

        self.write(name, save)

    def remove(self, name: str) -> None:
        """Delete ``name`` from the folder when the transaction commits."""
        _check_name(name)
        self._removals.add(name)

    def _discard_one(self, name: str) -> None:
        temp = self._temps.pop(name, None)
        if temp is not None:
            temp.unlink(missing_ok=True)

    def _discard(self) -> None:
        for name in list(self._temps):
            with contextlib.suppress(OSError):
                self._discard_one(name)

    def _commit(self) -> None:
        renames = [[temp.name, name] for name, temp in self._temps.items()]
        removals = sorted(self._removals - set(self._temps))
        if not renames and not removals:
            return
        journal_temp = self.directory / f"{TEMP_PREFIX}{self._id}{JOURNAL_NAME}"
        journal = {"rename": renames, "delete": removals}
        try:
            handle = os.open(journal_temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666)
            try:
                os.write(handle, json.dumps(journal).encode("utf-8"))
                os.fsync(handle)
            finally:
                os.close(handle)
            os.replace(journal_temp, self.directory / JOURNAL_NAME)
        except BaseException:
            with contextlib.suppress(OSError):
                journal_temp.unlink(missing_ok=True)
            raise
        self._temps.clear()  # they belong to the journal now: a failure from here on completes later
        try:
            _fsync_directory(self.directory)
            _apply(self.directory, journal)
        except OSError as error:
            raise CheckpointWriteError(
                f"the save into {self.directory} is committed but could not be completed ({_cause(error)}); "
                "the next load or save_pretrained of that folder completes it"
            ) from error


@contextlib.contextmanager
def checkpoint_transaction(directory: str | os.PathLike) -> Iterator[CheckpointTransaction]:
    """Write a set of files into ``directory`` (created if needed) as one all-or-nothing change.

    The folder is locked for the whole block; an interrupted earlier save is completed and
    leftover temporary files are deleted first. On a normal exit the files written through
    the transaction replace the folder's at once; on an exception nothing changes, and an
    ``OSError`` (disk full, permission ...) becomes :class:`CheckpointWriteError`. A
    transaction opened on a folder this thread is already saving into joins the open one,
    so a model's save commits its config, generation config and weights together.
    """
    directory = Path(directory)
    key = os.path.realpath(directory)
    active = _ACTIVE.get() or {}
    if key in active:
        yield active[key]
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        lock = _lock(directory)
    except OSError as error:
        raise _write_error(directory, error) from error
    transaction = CheckpointTransaction(directory)
    token = _ACTIVE.set({**active, key: transaction})
    try:
        _recover(directory)
        try:
            yield transaction
        except BaseException as error:
            transaction._discard()
            if isinstance(error, OSError) and not isinstance(error, AutohubError):
                raise _write_error(directory, error) from error
            raise
        try:
            transaction._commit()
        except CheckpointWriteError:
            raise
        except OSError as error:
            transaction._discard()
            raise _write_error(directory, error) from error
    finally:
        _ACTIVE.reset(token)
        _unlock(lock)


def complete_interrupted_save(directory: str | os.PathLike) -> None:
    """Before reading a local checkpoint folder: finish a save that was killed after it committed.

    Costs one ``stat`` when there is nothing to finish. A folder that needs finishing but
    cannot be written raises :class:`CheckpointWriteError` saying what to do.
    """
    directory = Path(directory)
    if not os.path.exists(directory / JOURNAL_NAME):
        return
    active = _ACTIVE.get() or {}
    if os.path.realpath(directory) in active:
        return  # this thread is saving there and holds the lock
    try:
        lock = _lock(directory)
    except OSError as error:
        raise CheckpointWriteError(
            f"cannot lock {directory} to complete an interrupted save: {error}"
        ) from error
    try:
        _recover(directory)
    finally:
        _unlock(lock)


def _recover(directory: Path) -> None:
    """Under the lock: apply a pending journal, then delete every leftover temporary file."""
    journal_path = directory / JOURNAL_NAME
    try:
        if journal_path.exists():
            journal = limits.read_json(journal_path, CheckpointWriteError)
            _check_journal(journal_path, journal)
            _apply(directory, journal)
        for entry in os.scandir(directory):
            if (entry.name.startswith(TEMP_PREFIX) or _OLD_TEMP.match(entry.name)) and entry.is_file(
                follow_symlinks=False
            ):
                os.unlink(entry.path)
    except OSError as error:
        if isinstance(error, CheckpointWriteError):
            raise
        read_only = error.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
        advice = (
            "it needs write access: load or save into it once as a user who can write there"
            if read_only
            else "free the cause and load or save into it again"
        )
        raise CheckpointWriteError(
            f"{directory} holds a save that was interrupted after it committed ({JOURNAL_NAME}), and "
            f"completing it failed ({_cause(error)}); {advice}"
        ) from error


def _apply(directory: Path, journal: dict[str, Any]) -> None:
    """Carry out a journal; every step may already have been done by an earlier attempt."""
    for temp, name in journal["rename"]:
        try:
            os.replace(directory / temp, directory / name)
        except FileNotFoundError:
            if (directory / temp).exists():
                raise
    for name in journal["delete"]:
        (directory / name).unlink(missing_ok=True)
    _fsync_directory(directory)
    (directory / JOURNAL_NAME).unlink()
    _fsync_directory(directory)


def _check_journal(path: Path, journal: dict[str, Any]) -> None:
    """A journal names only files of its own folder, temporary files as sources."""
    renames, removals = journal.get("rename"), journal.get("delete")
    valid = (
        isinstance(renames, list)
        and isinstance(removals, list)
        and all(
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(name, str) and _plain(name) for name in pair)
            and pair[0].startswith(TEMP_PREFIX)
            and not pair[1].startswith(TEMP_PREFIX)
            for pair in renames
        )
        and all(isinstance(name, str) and _plain(name) and name != JOURNAL_NAME for name in removals)
    )
    if not valid:
        raise CheckpointWriteError(
            f"{path} is not a journal autohub wrote (it must rename temporary files of its folder); "
            "delete it and save the checkpoint again"
        )


def _plain(name: str) -> bool:
    return (
        name not in ("", ".", "..", JOURNAL_NAME)
        and "/" not in name
        and "\\" not in name
        and "\0" not in name
    )


def _check_name(name: str) -> None:
    if not _plain(name) or name.startswith(TEMP_PREFIX):
        raise ValueError(f"{name!r} is not a plain file name a checkpoint can hold")


def _lock(directory: Path) -> int | None:
    """An exclusive flock on the folder itself, held until :func:`_unlock`."""
    if fcntl is None:  # pragma: no cover
        return None
    handle = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
    except OSError as error:  # a file system without flock (some network mounts): go on unlocked
        if error.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EBADF, errno.EINVAL):
            os.close(handle)
            raise
    return handle


def _unlock(handle: int | None) -> None:
    if handle is not None:
        os.close(handle)  # closing the descriptor releases the flock


def _fsync_file(path: Path, mode: int) -> None:
    handle = os.open(path, os.O_RDONLY | _NOFOLLOW)
    try:
        if os.fstat(handle).st_mode & 0o777 != mode:  # a writer that recreated the file
            os.chmod(path, mode)
        os.fsync(handle)
    finally:
        os.close(handle)


def _fsync_directory(directory: Path) -> None:
    handle = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(handle)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.EBADF):  # file systems that cannot sync folders
            raise
    finally:
        os.close(handle)


def _write_error(directory: Path, error: OSError) -> CheckpointWriteError:
    return CheckpointWriteError(
        f"cannot save into {directory}: {_cause(error)}; the checkpoint previously in that folder is unchanged"
    )


def _cause(error: OSError) -> str:
    return str(error) or type(error).__name__


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
