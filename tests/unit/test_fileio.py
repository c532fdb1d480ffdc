"""Atomic file writes and the mapping of OS failures to one-line storage errors."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from cscvault.errors import StorageError
from cscvault.fileio import is_storage_failure_text, publish_directory, storage_error, write_atomic


def test_write_atomic_replaces_the_file_private_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "keys.json"
    target.write_bytes(b"old")
    write_atomic(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # new files are private by default
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.json"]


def test_a_failed_write_keeps_the_old_file_and_says_where(tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "keys.json"
    with pytest.raises(StorageError, match="missing-dir/keys.json: cannot write"):
        write_atomic(target, b"data")


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "disk full"),
        (errno.EFBIG, "disk full"),
        (errno.EROFS, "read-only"),
        (errno.EACCES, "permission denied"),
        (errno.EIO, "cannot write"),
    ],
)
def test_os_errors_become_one_line_storage_errors(code: int, words: str) -> None:
    exc = storage_error(OSError(code, os.strerror(code)), "/vault/vault.duckdb")
    assert isinstance(exc, StorageError) and exc.exit_code == 5
    assert exc.message.startswith("/vault/vault.duckdb: ") and words in exc.message
    assert "\n" not in exc.message


def test_duckdb_failure_texts_are_recognised() -> None:
    assert is_storage_failure_text("IO Error: Could not write file: No space left on device")
    assert is_storage_failure_text("Read-only file system")
    assert not is_storage_failure_text("Binder Error: column x not found")


def test_publish_directory_appears_whole(tmp_path: Path) -> None:
    staging = tmp_path / ".staging"
    staging.mkdir()
    (staging / "keys.json").write_text("{}")
    publish_directory(staging, tmp_path / "vault")
    assert (tmp_path / "vault" / "keys.json").read_text() == "{}"
    assert not staging.exists()
    other = tmp_path / ".other"
    other.mkdir()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("keep")
    with pytest.raises(StorageError):
        publish_directory(other, tmp_path / "taken")  # a non-empty target is never replaced
    assert (tmp_path / "taken" / "x").read_text() == "keep"
