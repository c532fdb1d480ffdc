"""What a vault holds, for retention status and destruction: its files, table row counts, registered backups.

Counts and file names only: nothing here reads a child-level value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cscvault.vault.database import DB_FILE
from cscvault.vault.store import LOCK_FILE, Vault

# The vault's files that destruction overwrites and removes (keys.json is overwritten, then replaced
# by a slot-less "destroyed" marker).
SHREDDED_FILES = ("keys.json", DB_FILE, f"{DB_FILE}.wal", "audit.head", "audit.head.pending")


def vault_files(path: Path) -> list[Path]:
    """Every file destruction overwrites, keys first: the known vault files, then anything else in the
    vault directory tree (spill files, leftovers of interrupted writes, files added by later features).
    Only the empty `.lock` is left, beside the "destroyed" marker that replaces keys.json."""
    known = [path / name for name in SHREDDED_FILES if (path / name).is_file()]
    others = sorted(
        p
        for p in path.rglob("*")
        if (p.is_file() or p.is_symlink()) and p not in known and p.relative_to(path).as_posix() != LOCK_FILE
    )
    return known + others


def table_counts(vault: Vault) -> dict[str, int]:
    """Rows per base table of the vault database (schema-qualified outside `main`)."""
    names = vault.con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() "
        "WHERE database_name = current_database() AND NOT temporary ORDER BY schema_name <> 'main', 1, 2"
    ).fetchall()
    counts: dict[str, int] = {}
    for schema, table in names:
        row = vault.con.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()
        counts[str(table) if schema == "main" else f"{schema}.{table}"] = int(row[0]) if row else 0
    return counts


def registered_backups(vault: Vault) -> list[dict[str, Any]]:
    rows = vault.con.execute(
        "SELECT backup_id, file_name, location, sha256, size_bytes, created_at, created_by, delete_by "
        "FROM backups ORDER BY created_at"
    ).fetchall()
    return [
        {
            "backup_id": str(r[0]),
            "file_name": str(r[1]),
            "location": str(r[2]),
            "sha256": str(r[3]),
            "size_bytes": int(r[4]),
            "created_at": r[5].isoformat() if hasattr(r[5], "isoformat") else str(r[5]),
            "created_by": str(r[6]),
            "delete_by": r[7].isoformat() if hasattr(r[7], "isoformat") else str(r[7]),
        }
        for r in rows
    ]


def release_exports(vault: Vault) -> list[dict[str, Any]]:
    """Every export of an approved release: what left (bundle paths and SHA-256), where, when, by whom."""
    rows = vault.con.execute(
        "SELECT release_id, export_number, exported_at, exported_by, destination, files, manifest_sha256 "
        "FROM release_exports ORDER BY exported_at, release_id, export_number"
    ).fetchall()
    return [
        {
            "release_id": str(r[0]),
            "export": int(r[1]),
            "exported_at": r[2].isoformat() if hasattr(r[2], "isoformat") else str(r[2]),
            "exported_by": str(r[3]),
            "destination": str(r[4]),
            "files": json.loads(r[5]),
            "manifest_sha256": str(r[6]),
        }
        for r in rows
    ]
