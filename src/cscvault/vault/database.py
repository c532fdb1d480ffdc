"""The encrypted DuckDB connection and its error translation.

DuckDB encrypts the database file, its WAL and (with temp_file_encryption) its spill files with
AES-256-GCM. Writing encrypted files needs the OpenSSL crypto of the httpfs extension; it is loaded
from the `duckdb-extension-httpfs` wheel installed beside the pinned DuckDB, with extension
auto-install and auto-load off, so nothing is ever fetched at run time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import duckdb

from cscvault.errors import CscvaultError, StorageError, TamperedError, VaultInUse, VaultStateError
from cscvault.fileio import is_storage_failure_text

DB_FILE = "vault.duckdb"
TMP_DIR = "tmp"


def httpfs_extension_path() -> Path:
    """The httpfs extension binary shipped by the wheel for exactly this DuckDB version."""
    try:
        import duckdb_extension_httpfs
    except ImportError:  # pragma: no cover - a broken install
        raise VaultStateError("the duckdb-extension-httpfs package is not installed") from None
    base = Path(duckdb_extension_httpfs.__file__).parent / "extensions"
    path = base / f"v{duckdb.__version__}" / "httpfs.duckdb_extension"
    if not path.is_file():
        raise VaultStateError(
            f"duckdb-extension-httpfs does not match DuckDB {duckdb.__version__}; reinstall the pinned versions"
        )
    return path


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(vault_dir: Path, data_key: bytes, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """Open the vault database with its data key. The caller holds the vault lock."""
    con = duckdb.connect(
        ":memory:",
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
        },
    )
    try:
        with translate_errors(vault_dir):
            con.execute(f"LOAD {_quote(str(httpfs_extension_path()))}")
            con.execute("SET temp_directory = ?", [str(vault_dir / TMP_DIR)])
            con.execute("SET temp_file_encryption = true")
            if memory_limit:
                con.execute("SET memory_limit = ?", [memory_limit])
            con.execute(f"ATTACH {_quote(str(vault_dir / DB_FILE))} AS vault (ENCRYPTION_KEY {_quote(data_key.hex())})")
            private_modes(vault_dir)
            con.execute("USE vault")
            # Nothing inside the vault may read or write other files through SQL.
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


# What DuckDB says when a block of the file is not what it wrote: a failed tag or checksum, a structure it
# cannot decode, or a read past the end of a truncated file. The weaker phrases count only on the error types
# DuckDB uses for file reads (a conversion "out of range" in a query is not damage).
_DAMAGE = ("aes tag", "wrong encryption key", "checksum", "corrupt", "not a valid duckdb database")
_READ_DAMAGE = (
    "could not read",
    "read past",
    "out of range",
    "deserializ",
    "invalid block",
    "truncated",
    "not enough bytes",
    "end of file",
)
_READ_ERRORS = (
    duckdb.IOException,
    duckdb.InvalidInputException,
    duckdb.SerializationException,
    duckdb.InternalException,
)


def database_error(exc: Exception, where: Path | str = "the vault") -> Exception:
    """The cscvault error a DuckDB error stands for (TamperedError, VaultInUse, StorageError), or `exc` itself."""
    if not isinstance(exc, duckdb.Error) or isinstance(exc, CscvaultError):
        return exc
    text = str(exc)
    lowered = text.lower()
    if "could not set lock" in lowered or "conflicting lock" in lowered:
        return VaultInUse(f"{where}: vault in use by another process")
    if is_storage_failure_text(text):
        return StorageError(f"{where}: cannot write the database (disk full or not writable)")
    read_damage = isinstance(exc, _READ_ERRORS) and any(marker in lowered for marker in _READ_DAMAGE)
    if read_damage or any(marker in lowered for marker in _DAMAGE):
        return TamperedError(f"{where}: the database is tampered or damaged (it failed its integrity check)")
    return exc


def private_modes(vault_dir: Path) -> None:
    """Owner-only modes on the database and its WAL: DuckDB creates them with the process umask (often 0644).
    The vault folder is 0700 already, so this is defence in depth (e.g. a copy made with `cp -p`)."""
    for name in (DB_FILE, f"{DB_FILE}.wal"):
        with contextlib.suppress(FileNotFoundError):
            (vault_dir / name).chmod(0o600)


@contextlib.contextmanager
def translate_errors(where: Path) -> Iterator[None]:
    """Turn DuckDB's errors about keys, integrity, locks and disk into cscvault errors."""
    try:
        yield
    except CscvaultError:
        raise
    except duckdb.Error as exc:
        mapped = database_error(exc, where)
        if mapped is exc:
            raise
        raise mapped from None
