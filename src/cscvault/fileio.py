"""Small, careful file operations: atomic replace, fsync, and mapping OS errors to user errors."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from cscvault.errors import StorageError

_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}


def storage_error(exc: OSError, where: Path | str) -> StorageError:
    """A one-line StorageError for an OS error (never includes file contents)."""
    if exc.errno in _FULL:
        return StorageError(f"{where}: disk full (or file size limit reached); nothing was changed")
    if exc.errno in _READ_ONLY:
        return StorageError(f"{where}: cannot write here (read-only or permission denied)")
    return StorageError(f"{where}: cannot write ({exc.strerror or type(exc).__name__})")


def is_storage_failure_text(text: str) -> bool:
    """DuckDB reports OS write failures as text; recognise the ones that mean 'no room' or 'no write'."""
    lowered = text.lower()
    return any(
        marker in lowered
        for marker in (
            "no space left",
            "file too large",
            "disk quota",
            "read-only file system",
            "permission denied",
        )
    )


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write to a temporary file beside `path`, fsync, then rename over it."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(path)
        fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise storage_error(exc, path) from None


def publish_directory(staging: Path, target: Path) -> None:
    """Make a fully built directory appear at `target` in one fsynced rename, so that nobody ever sees a
    half-made vault: either the old state or the whole new one."""
    try:
        fsync_dir(staging)
        staging.rename(target)
        fsync_dir(target.parent)
    except OSError as exc:
        raise storage_error(exc, target) from None
