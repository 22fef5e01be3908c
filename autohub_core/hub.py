"""Resolve a model name to local files: a local directory, or a Hub repo id via huggingface_hub.

All network access goes through huggingface_hub: :func:`huggingface_hub.hf_hub_download`
for files (the standard HF cache layout shared with transformers, revisions, tokens, offline
mode, resumable downloads) and ``HfApi.parse_safetensors_file_metadata`` for the header of
a remote weights file (HTTP range requests, no tensor data). Local safetensors headers are
read by the ``safetensors`` library. This module only translates their outcomes into
autohub's errors.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from autohub_core._io import complete_interrupted_save
from autohub_core.errors import CheckpointNotFoundError, WeightsError

__all__ = [
    "HubOptions",
    "TensorHeader",
    "cache_only",
    "is_local",
    "not_cached_error",
    "read_safetensors_header",
    "resolve_file",
]

TensorHeader = dict[str, tuple[str, tuple[int, ...]]]
"""A safetensors header: tensor name -> (safetensors dtype such as ``"F32"``, shape)."""


@dataclass(frozen=True)
class HubOptions:
    """The download options every ``from_pretrained`` accepts (transformers' names)."""

    cache_dir: str | os.PathLike | None = None
    force_download: bool = False
    revision: str | None = None
    token: str | bool | None = None
    local_files_only: bool = False
    subfolder: str = ""

    @classmethod
    def pop_from(cls, kwargs: dict[str, Any]) -> HubOptions:
        """Remove the download options from ``kwargs`` (in place) and return them."""
        values = {f.name: kwargs.pop(f.name) for f in fields(cls) if f.name in kwargs}
        if values.get("subfolder") is None:
            values.pop("subfolder", None)
        if kwargs.pop("use_auth_token", None) is not None and "token" not in values:
            raise TypeError("use_auth_token was removed; pass token= instead")
        proxies = kwargs.pop("proxies", None)
        if proxies:
            warnings.warn(
                "proxies= is not passed per call by huggingface_hub; set HTTPS_PROXY / HTTP_PROXY instead",
                stacklevel=3,
            )
        kwargs.pop("resume_download", None)  # downloads always resume in huggingface_hub
        return cls(**values)


def is_local(name_or_path: str | os.PathLike) -> bool:
    """True when ``name_or_path`` is an existing local directory or file."""
    return os.path.exists(name_or_path)


def resolve_file(
    name_or_path: str | os.PathLike,
    filename: str,
    options: HubOptions = HubOptions(),
    *,
    required: bool = True,
) -> Path | None:
    """Return the local path of ``filename`` for a model directory or Hub repo id.

    ``filename`` is relative to the model root (plus ``options.subfolder``) and must not
    leave it. Returns ``None`` for an absent optional file; raises
    :class:`CheckpointNotFoundError` naming the file when a required one is absent.
    """
    _check_relative(filename, name_or_path)
    if is_local(name_or_path):
        root = Path(name_or_path) / options.subfolder if options.subfolder else Path(name_or_path)
        candidate = root / filename
        complete_interrupted_save(candidate.parent)  # a save killed after its commit: finish it first
        try:
            found = candidate.is_file()
        except OSError as error:  # a name the file system refuses (too long ...)
            raise CheckpointNotFoundError(f"cannot look up {filename!r} in {root}: {error}") from error
        if found:
            _check_inside(Path(name_or_path), candidate)
            return candidate
        if required:
            raise CheckpointNotFoundError(
                f"{root} has no file named {filename}; is it a complete checkpoint directory?"
            )
        return None
    return _download(str(name_or_path), filename, options, required=required)


def _check_relative(filename: str, origin: str | os.PathLike) -> None:
    parts = Path(filename).parts
    if Path(filename).is_absolute() or ".." in parts or not parts:
        raise CheckpointNotFoundError(
            f"refusing file name {filename!r} for {origin}: files must stay inside the model directory"
        )


def _check_inside(model_dir: Path, candidate: Path) -> None:
    """Refuse a file that resolves outside the model directory (a symlink pointing elsewhere).

    The Hub cache layout is allowed: ``<repo>/snapshots/<revision>/<file>`` links to
    ``<repo>/blobs/<hash>``.
    """
    root = model_dir.resolve()
    real = candidate.resolve()
    if real.is_relative_to(root):
        return
    if root.parent.name == "snapshots" and real.parent == root.parent.parent / "blobs":
        return
    raise CheckpointNotFoundError(
        f"refusing {candidate}: it links to {real}, outside the model directory {model_dir}"
    )


@contextmanager
def _repo_errors(repo_id: str, options: HubOptions) -> Iterator[None]:
    """Translate huggingface_hub's repository-level failures into :class:`CheckpointNotFoundError`."""
    from huggingface_hub import errors as hub_errors

    try:
        yield
    except hub_errors.HFValidationError as error:
        raise CheckpointNotFoundError(
            f"{repo_id!r} is neither a local directory nor a valid Hub repo id ({error})"
        ) from error
    except hub_errors.GatedRepoError as error:
        raise CheckpointNotFoundError(
            f"{repo_id} is gated: accept its terms on the Hub and pass token= ({error})"
        ) from error
    except hub_errors.RepositoryNotFoundError as error:
        raise CheckpointNotFoundError(
            f"{repo_id} is not a local directory and not a Hub repository you can access; "
            "check the name, or pass token= for a private repo"
        ) from error
    except hub_errors.RevisionNotFoundError as error:
        raise CheckpointNotFoundError(f"revision {options.revision!r} does not exist in {repo_id}") from error


def not_cached_error(repo_id: str, filename: str) -> CheckpointNotFoundError:
    """The one error for a file of a repo id that must come from the cache and is not there."""
    return CheckpointNotFoundError(
        f"{filename} of {repo_id} is not in the cache and downloading is disabled "
        "(local_files_only=True or HF_HUB_OFFLINE=1) or the Hub is unreachable; "
        "download it once online or point to a local directory"
    )


def _download(repo_id: str, filename: str, options: HubOptions, *, required: bool) -> Path | None:
    import huggingface_hub
    from huggingface_hub import errors as hub_errors

    try:
        with _repo_errors(repo_id, options):
            path = huggingface_hub.hf_hub_download(
                repo_id,
                filename,
                subfolder=options.subfolder or None,
                revision=options.revision,
                cache_dir=options.cache_dir,
                force_download=options.force_download,
                token=options.token,
                local_files_only=options.local_files_only,
                library_name="autohub",
            )
    except (hub_errors.EntryNotFoundError, hub_errors.LocalEntryNotFoundError) as error:
        if not required:
            return None  # an optional file that cannot be fetched now counts as absent, as in transformers
        if isinstance(error, hub_errors.LocalEntryNotFoundError):
            raise not_cached_error(repo_id, filename) from error
        raise CheckpointNotFoundError(f"{repo_id} has no file named {filename}") from error
    return Path(path)


def read_safetensors_header(
    name_or_path: str | os.PathLike,
    filename: str,
    options: HubOptions = HubOptions(),
    *,
    required: bool = True,
) -> TensorHeader | None:
    """The tensors (dtype, shape) of a safetensors file, reading its header and no tensor data.

    A local directory, or a repo id that must come from the cache, is read with the
    ``safetensors`` library; a repo id online with huggingface_hub's range requests (nothing
    is downloaded into the cache). Returns ``None`` for an absent optional file; a header
    that cannot be parsed raises :class:`WeightsError`.
    """
    _check_relative(filename, name_or_path)
    if is_local(name_or_path) or cache_only(name_or_path, options):
        path = resolve_file(name_or_path, filename, options, required=required)
        return None if path is None else _local_header(path)
    return _remote_header(str(name_or_path), filename, options, required=required)


def _local_header(path: Path) -> TensorHeader:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="numpy") as handle:  # maps the file; only the header is read
            slices = [(name, handle.get_slice(name)) for name in list(handle.keys())]
            return {name: (part.get_dtype(), tuple(part.get_shape())) for name, part in slices}
    except (OSError, SafetensorError) as error:
        raise WeightsError(f"{path} is not a valid safetensors file: {error}") from error


def _remote_header(
    repo_id: str, filename: str, options: HubOptions, *, required: bool
) -> TensorHeader | None:
    import huggingface_hub
    from huggingface_hub import errors as hub_errors

    path_in_repo = f"{options.subfolder.strip('/')}/{filename}" if options.subfolder else filename
    try:
        with _repo_errors(repo_id, options):
            metadata = huggingface_hub.HfApi(library_name="autohub").parse_safetensors_file_metadata(
                repo_id, path_in_repo, revision=options.revision, token=options.token
            )
    except hub_errors.EntryNotFoundError as error:
        if required:
            raise CheckpointNotFoundError(f"{repo_id} has no file named {path_in_repo}") from error
        return None
    except hub_errors.SafetensorsParsingError as error:
        raise WeightsError(f"{path_in_repo} of {repo_id} is not a valid safetensors file: {error}") from error
    except CheckpointNotFoundError:
        raise
    except Exception as error:  # an HTTP status or a connection failure, whatever HTTP client is in use
        raise CheckpointNotFoundError(
            f"cannot read the header of {path_in_repo} of {repo_id}: {type(error).__name__}: {error}"
        ) from error
    return {name: (info.dtype, tuple(info.shape)) for name, info in metadata.tensors.items()}


def cache_only(name_or_path: str | os.PathLike, options: HubOptions) -> bool:
    """True when a repo id can only be read from the cache: local_files_only, or offline mode
    (huggingface_hub's, which it reads from HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE when imported,
    or HF_HUB_OFFLINE set since)."""
    if is_local(name_or_path):
        return False
    from huggingface_hub import constants

    offline = os.environ.get("HF_HUB_OFFLINE", "0").upper() in {"1", "ON", "YES", "TRUE"}
    return options.local_files_only or offline or constants.HF_HUB_OFFLINE
