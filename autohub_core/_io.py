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
import shutil
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
# Temporary files of earlier versions: tempfile.mkstemp's beside each target, and those
# safetensors' save_file creates beside the file it writes (Rust's tempfile: ".tmp" + 6 characters).
_OLD_TEMP = re.compile(
    r"^\.tmp[A-Za-z0-9]{6}$|^\.(config\.json|generation_config\.json|model(-\d{5}-of-\d{5})?\.safetensors|"
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
        # The new files wait in a hidden folder of the checkpoint folder (same file system, so
        # the commit only renames); writers' own temporary files (safetensors') land there too.
        self._staging = directory / f"{TEMP_PREFIX}{secrets.token_hex(6)}"
        self._written: set[str] = set()
        self._removals: set[str] = set()

    def write(self, name: str, writer: Callable[[Path], object]) -> None:
        """Call ``writer(path)`` to write the new content of ``name`` at a temporary path."""
        _check_name(name)
        if not self._written:
            os.mkdir(self._staging, 0o777)  # umask applies
        temp = self._staging / name
        self._written.add(name)
        _unlink(temp)
        handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666)  # umask applies
        try:
            mode = os.fstat(handle).st_mode & 0o777
        finally:
            os.close(handle)
        writer(temp)
        _fsync_file(temp, mode)  # and back to that mode if the writer replaced the file

    def write_text(self, name: str, text: str) -> None:
        """Write ``text`` (UTF-8) as the new content of ``name``."""
        self.write(name, lambda path: _write_bytes(path, text.encode("utf-8")))

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

    def _discard(self) -> None:
        shutil.rmtree(self._staging, ignore_errors=True)

    def _commit(self) -> None:
        staging = self._staging.name
        renames = [[f"{staging}/{name}", name] for name in sorted(self._written)]
        removals = sorted(self._removals - self._written)
        if not renames and not removals:
            return
        if not self._written:
            os.mkdir(self._staging, 0o777)
        journal = {"rename": renames, "delete": removals}
        _write_bytes(self._staging / JOURNAL_NAME, json.dumps(journal).encode("utf-8"), create=True)
        os.replace(self._staging / JOURNAL_NAME, self.directory / JOURNAL_NAME)  # the commit point
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
    if os.path.exists(journal_path):
        journal = limits.read_json(journal_path, CheckpointWriteError)
        _check_journal(journal_path, journal)
        try:
            _apply(directory, journal)
        except OSError as error:
            read_only = error.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
            advice = (
                "it needs write access: load or save into it once as a user who can write there"
                if read_only
                else "remove the cause and load or save into it again"
            )
            raise CheckpointWriteError(
                f"{directory} holds a save that was interrupted after it committed ({JOURNAL_NAME}), and "
                f"completing it failed ({_cause(error)}); {advice}"
            ) from error
    else:
        _remove_temporaries(directory)


def _apply(directory: Path, journal: dict[str, Any]) -> None:
    """Carry out a journal; every step may already have been done by an earlier attempt."""
    for temp, name in journal["rename"]:
        try:
            os.replace(directory / temp, directory / name)
        except FileNotFoundError:
            if os.path.exists(directory / temp):
                raise
    for name in journal["delete"]:
        _unlink(directory / name)
    _fsync_directory(directory)
    os.unlink(directory / JOURNAL_NAME)
    _fsync_directory(directory)
    _remove_temporaries(directory)


def _remove_temporaries(directory: Path) -> None:
    """Delete what interrupted saves left (under the lock, so no save is writing them)."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(TEMP_PREFIX) and entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        elif (entry.name.startswith(TEMP_PREFIX) or _OLD_TEMP.match(entry.name)) and entry.is_file(
            follow_symlinks=False
        ):
            with contextlib.suppress(OSError):  # garbage only: never a reason to fail a save or load
                os.unlink(entry.path)


def _check_journal(path: Path, journal: dict[str, Any]) -> None:
    """A journal names only files of its own folder, temporary files as sources."""
    renames, removals = journal.get("rename"), journal.get("delete")
    valid = (
        isinstance(renames, list)
        and isinstance(removals, list)
        and all(
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(name, str) for name in pair)
            and _is_staged(pair[0])
            and _plain(pair[1])
            and not pair[1].startswith(TEMP_PREFIX)
            for pair in renames
        )
        and all(isinstance(name, str) and _plain(name) for name in removals)
    )
    if not valid:
        raise CheckpointWriteError(
            f"{path} is not a journal autohub wrote (it must rename temporary files of its folder); "
            "delete it and save the checkpoint again"
        )


def _is_staged(path: str) -> bool:
    """``<staging folder>/<file>``, both plain names, the folder a temporary one."""
    folder, _, name = path.partition("/")
    return folder.startswith(TEMP_PREFIX) and _plain(folder) and _plain(name)


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


def _write_bytes(path: Path, data: bytes, *, create: bool = False) -> None:
    """Write ``data`` to ``path`` (an existing temporary file, or a new one with ``create``), fsynced."""
    flags = os.O_WRONLY | os.O_TRUNC | _NOFOLLOW | ((os.O_CREAT | os.O_EXCL) if create else 0)
    handle = os.open(path, flags, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(handle, view) :]
        os.fsync(handle)
    finally:
        os.close(handle)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


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
    if os.name == "nt":  # pragma: no cover - folders cannot be opened (nor synced) there
        return
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
