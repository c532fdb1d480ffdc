"""Acting on a request: one function per right.

Every action runs in one transaction with its audit entry; the audit records the request id and counts only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from cscvault.errors import UsageError
from cscvault.rights import requests as reg
from cscvault.rights.access_package import write_access_package
from cscvault.vault import Vault, subjects


@dataclass
class ActionResult:
    request: reg.Request
    counts: dict[str, int] = field(default_factory=dict)
    package: Path | None = None
    releases: list[str] = field(default_factory=list)
    message: str = ""


def _releases_including(vault: Vault, child_key: str) -> list[str]:
    """Past releases whose inputs included the child (they cannot be recalled; the requester is told)."""
    exists = vault.con.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = 'main' AND table_name = 'release_subjects'"
    ).fetchone()
    if not exists:
        return []
    rows = vault.con.execute(
        "SELECT DISTINCT release_id FROM release_subjects WHERE child_key = ? ORDER BY 1", [child_key]
    ).fetchall()
    return [str(r[0]) for r in rows]


def act(
    vault: Vault,
    request_id: str,
    out_dir: Path | None = None,
    recipient: str | None = None,
    field_name: str | None = None,
    value: str | None = None,
    decision: str | None = None,
    legal_basis: str | None = None,
) -> ActionResult:
    vault.require_role("dpo")
    request = reg.get(vault, request_id)
    if request.state not in reg.OPEN_STATES:
        raise UsageError(f"request {request_id} is {request.state}; nothing more can be done to it")
    if request.state == "awaiting_identification":
        raise UsageError(f"request {request_id} awaits identification by the LA: record it before acting")
    key = reg.child_key_of(vault, request_id)
    if request.type != "access" and not reg.is_held(vault, key):
        with vault.transaction():
            reg.complete(vault, request, "not_held", {"child_held": 0}, decision="not held")
        return ActionResult(reg.get(vault, request_id), message="the vault holds no data about this child")
    handlers = {
        "access": lambda: _access(vault, request, key, out_dir, recipient),
        "rectification": lambda: _rectify(vault, request, key, field_name, value),
        "erasure": lambda: _erase(vault, request, key),
        "restriction": lambda: _restrict(vault, request, key),
        "objection": lambda: _objection(vault, request, key, decision, legal_basis),
    }
    return handlers[request.type]()


def _access(vault: Vault, request: reg.Request, key: str, out_dir: Path | None, recipient: str | None) -> ActionResult:
    if out_dir is None or not recipient:
        raise UsageError("an access package needs --out DIR and --recipient AGE_PUBLIC_KEY (it is written encrypted)")
    records = subjects.records_of(vault.con, key)
    releases = _releases_including(vault, key)
    path = write_access_package(vault, request, records, releases, Path(out_dir), recipient)
    counts = {f"rows_{t}": len(rows) for t, rows in records.items()}
    with vault.transaction():
        reg.complete(vault, request, "access", {"rows": sum(counts.values()), "tables": len(records)})
    return ActionResult(
        reg.get(vault, request.request_id),
        counts,
        package=path,
        releases=releases,
        message=f"access package written to {path}",
    )


def _rectify(vault: Vault, request: reg.Request, key: str, field_name: str | None, value: str | None) -> ActionResult:
    if not field_name or value is None:
        raise UsageError("rectification needs --field TABLE.COLUMN and --value V")
    table, _, column = field_name.partition(".")
    if table not in subjects.child_tables(vault.con):
        raise UsageError(f"--field: '{table}' is not a table of child-level data")
    if column in {"child_key", ""} or not vault.study.data_dictionary.allows(table, column):
        raise UsageError(f"--field: '{field_name}' is not a correctable field of the data dictionary")
    with vault.transaction() as con:
        row = con.execute("SELECT count(*) FROM corrections WHERE request_id = ?", [request.request_id]).fetchone()
        n = int(row[0]) if row else 0
        con.execute(
            "INSERT INTO corrections VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                f"{request.request_id}-{n + 1}",
                key,
                table,
                column,
                value,
                request.request_id,
                dt.datetime.now(dt.UTC),
                vault.actor,
            ],
        )
        subjects.refresh_views(con)
        reg.complete(vault, request, "rectification", {"corrections": 1})
    return ActionResult(
        reg.get(vault, request.request_id),
        {"corrections": 1},
        message=f"correction recorded for {field_name}; later deliveries will not overwrite it",
    )


def _erase(vault: Vault, request: reg.Request, key: str) -> ActionResult:
    releases = _releases_including(vault, key)
    with vault.transaction() as con:
        deleted = subjects.erase(con, key)
        con.execute("DELETE FROM subject_status WHERE child_key = ? AND status <> 'erased'", [key])
        reg._set_status(vault, key, "erased", request.request_id)
        reg.complete(vault, request, "erasure", {"rows_deleted": sum(deleted.values()), "releases": len(releases)})
    return ActionResult(
        reg.get(vault, request.request_id),
        deleted,
        releases=releases,
        message=f"erased {sum(deleted.values())} rows; a keyed tombstone drops later deliveries",
    )


def _restrict(vault: Vault, request: reg.Request, key: str) -> ActionResult:
    with vault.transaction():
        reg._set_status(vault, key, "restricted", request.request_id)
        reg.complete(vault, request, "restriction", {"children": 1})
    return ActionResult(
        reg.get(vault, request.request_id),
        {"children": 1},
        message="restricted: every analysis now excludes this child; the data stay stored",
    )


def _objection(
    vault: Vault, request: reg.Request, key: str, decision: str | None, legal_basis: str | None
) -> ActionResult:
    if not decision:
        raise UsageError("an objection needs --decision: 'uphold' (erase) or the compelling grounds to continue")
    if decision.strip().lower() == "uphold":
        result = _erase(vault, request, key)
        result.message = "objection upheld: " + result.message
        return result
    if not legal_basis:
        raise UsageError("continuing despite an objection needs --legal-basis as well as the compelling grounds")
    with vault.transaction() as con:
        con.execute("DELETE FROM subject_status WHERE child_key = ? AND status = 'objected'", [key])
        reg.complete(vault, request, "objection", {"children": 1}, decision=decision, legal_basis=legal_basis)
    return ActionResult(
        reg.get(vault, request.request_id), {"children": 1}, message="compelling grounds recorded; processing resumes"
    )
