"""The retention schedule: when the data must go, how long is left, and what destruction will remove.

The dates come from the study (`[retention]` in study.toml): final reporting, then deletion due by
`delete_by`. From `WARNING_DAYS` before that date every command and the web console show a warning;
on and after it, `cscvault retention destroy` may run without an early reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cscvault.study import Study
from cscvault.vault.database import DB_FILE
from cscvault.vault.store import LOCK_FILE, ROLES, Vault

WARNING_DAYS = 90

# The vault's files that destruction overwrites and removes (keys.json is overwritten, then replaced
# by a slot-less "destroyed" marker).
SHREDDED_FILES = ("keys.json", DB_FILE, f"{DB_FILE}.wal", "audit.head", "audit.head.pending")


def today_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class Schedule:
    """The study's retention milestones seen from `today`."""

    final_report: dt.date
    final_report_label: str
    delete_by: dt.date
    delete_by_label: str
    today: dt.date

    @property
    def days_remaining(self) -> int:
        """Days until deletion is due; 0 on the day, negative once overdue."""
        return (self.delete_by - self.today).days

    @property
    def phase(self) -> str:
        """'retained', 'warning' (within WARNING_DAYS), 'due' (on the day) or 'overdue'."""
        days = self.days_remaining
        if days > WARNING_DAYS:
            return "retained"
        if days > 0:
            return "warning"
        return "due" if days == 0 else "overdue"

    @property
    def destruction_allowed(self) -> bool:
        """Destruction without an early reason is allowed on or after the due date."""
        return self.days_remaining <= 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "final_report": self.final_report.isoformat(),
            "final_report_label": self.final_report_label,
            "delete_by": self.delete_by.isoformat(),
            "delete_by_label": self.delete_by_label,
            "today": self.today.isoformat(),
            "days_remaining": self.days_remaining,
            "phase": self.phase,
            "destruction_allowed": self.destruction_allowed,
        }


def schedule(study: Study, today: dt.date | None = None) -> Schedule:
    r = study.retention
    return Schedule(r.final_report, r.final_report_label, r.delete_by, r.delete_by_label, today or today_utc())


def retention_warning(study: Study, today: dt.date | None = None) -> str | None:
    """One line to show from WARNING_DAYS before the deletion date (None before that)."""
    s = schedule(study, today)
    days = s.days_remaining
    if days > WARNING_DAYS:
        return None
    due = s.delete_by.isoformat()
    if days > 0:
        return (
            f"retention: the study's data must be destroyed by {due} ({days} day{'s' if days != 1 else ''} left);"
            " plan `cscvault retention destroy`"
        )
    if days == 0:
        return f"retention: the study's data are due for destruction today ({due}); run `cscvault retention destroy`"
    return (
        f"retention: the study's data were due for destruction on {due} ({-days} days overdue);"
        " run `cscvault retention destroy`"
    )


@dataclass
class VaultRetention:
    """`retention status` for one vault: the schedule and what destruction would remove."""

    schedule: Schedule
    vault_id: str
    study: str
    files: list[dict[str, Any]] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)
    key_slots: int = 0
    backups: list[dict[str, Any]] = field(default_factory=list)
    warning: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "vault_id": self.vault_id,
            "study": self.study,
            **self.schedule.as_dict(),
            "warning": self.warning,
            "will_destroy": {
                "key_slots": self.key_slots,
                "files": self.files,
                "tables": self.tables,
                "rows": sum(self.tables.values()),
            },
            "backups_to_expire": self.backups,
        }


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


def vault_status(vault: Vault, today: dt.date | None = None) -> VaultRetention:
    """The retention status of an open vault (any role may see it: it holds counts, not data)."""
    vault.require_role(*ROLES)
    study = vault.study
    s = schedule(study, today)
    files = [
        {"name": p.relative_to(vault.path).as_posix(), "size_bytes": p.stat().st_size} for p in vault_files(vault.path)
    ]
    return VaultRetention(
        schedule=s,
        vault_id=vault.vault_id,
        study=study.id,
        files=files,
        tables=table_counts(vault),
        key_slots=len(vault.keyfile.slots),
        backups=registered_backups(vault),
        warning=retention_warning(study, s.today),
    )
