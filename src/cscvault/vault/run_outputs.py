"""The outputs of analysis runs, stored inside the vault (encrypted with it), never written outside it.

Each run's report, tables, figures and results document is a row of `run_outputs` tied to the run id and
the plan's hash. The SHA-256 of every output is also written into the audit chain when the run's outputs
are stored, so an output changed inside the database afterwards is detected when it is read
(`TamperedError`, exit 5), even if its checksum column was changed with it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cscvault.errors import DataError, TamperedError
from cscvault.vault.store import Vault

AUDIT_ACTION = "analysis.outputs"


@dataclass(frozen=True)
class RunOutput:
    """One output of a run: its file name, kind (html, results, table, figure), bytes and metadata."""

    name: str
    kind: str
    content: bytes
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class StoredOutput:
    run_id: str
    name: str
    kind: str
    plan: str
    plan_sha256: str
    sha256: str
    size: int
    meta: dict[str, Any]
    created_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "name": self.name,
            "kind": self.kind,
            "plan": self.plan,
            "plan_sha256": self.plan_sha256,
            "sha256": self.sha256,
            "size": self.size,
            "meta": self.meta,
            "created_at": self.created_at.isoformat(timespec="seconds"),
        }


def digest(shas: Sequence[tuple[str, str]]) -> str:
    """One SHA-256 over (name, sha256) pairs in name order: what the audit chain records."""
    text = "\n".join(f"{name}  {sha}" for name, sha in sorted(shas))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def store_outputs(vault: Vault, run_id: str, plan: str, plan_sha256: str, outputs: Sequence[RunOutput]) -> None:
    """Store a run's outputs (one transaction) and record their digest in the audit chain."""
    now = dt.datetime.now(dt.UTC)
    with vault.transaction() as con:
        con.executemany(
            "INSERT INTO run_outputs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [run_id, o.name, o.kind, plan, plan_sha256, o.sha256, len(o.content), o.content,
                 json.dumps(o.meta, sort_keys=True), now]
                for o in outputs
            ],
        )  # fmt: skip
        vault.record(
            AUDIT_ACTION,
            {"run": run_id, "plan": plan, "outputs_sha256": digest([(o.name, o.sha256) for o in outputs])},
            {"outputs": len(outputs)},
        )


_COLS = "run_id, name, kind, plan, plan_sha256, sha256, size_bytes, meta, created_at"


def _stored(row: Sequence[Any]) -> StoredOutput:
    return StoredOutput(
        str(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]), str(row[5]), int(row[6]),
        json.loads(row[7]), row[8],
    )  # fmt: skip


def list_outputs(vault: Vault, run_id: str | None = None) -> list[StoredOutput]:
    """Stored outputs of one run (or of every run), newest run first."""
    sql = f"SELECT {_COLS} FROM run_outputs"
    params: list[Any] = []
    if run_id is not None:
        sql += " WHERE run_id = ?"
        params.append(run_id)
    rows = vault.con.execute(sql + " ORDER BY created_at DESC, run_id, name", params).fetchall()
    return [_stored(r) for r in rows]


def latest_run(vault: Vault) -> str | None:
    row = vault.con.execute("SELECT run_id FROM run_outputs ORDER BY created_at DESC, run_id LIMIT 1").fetchone()
    return str(row[0]) if row else None


def _audited_digest(vault: Vault, run_id: str) -> str | None:
    rows = vault.con.execute("SELECT objects FROM audit WHERE action = ? ORDER BY seq", [AUDIT_ACTION]).fetchall()
    for (objects,) in rows:
        doc = json.loads(objects) if isinstance(objects, str) else objects
        if isinstance(doc, dict) and doc.get("run") == run_id:
            value = doc.get("outputs_sha256")
            return str(value) if value is not None else None
    return None


def verify_run(vault: Vault, run_id: str) -> None:
    """Every stored output of the run matches its checksum and the digest in the audit chain, or
    TamperedError naming the first that does not."""
    rows = vault.con.execute(
        "SELECT name, sha256, content FROM run_outputs WHERE run_id = ? ORDER BY name", [run_id]
    ).fetchall()
    for name, sha, content in rows:
        if hashlib.sha256(bytes(content)).hexdigest() != sha:
            raise TamperedError(f"run {run_id}: stored output {name} no longer matches its checksum")
    if digest([(str(n), str(s)) for n, s, _ in rows]) != _audited_digest(vault, run_id):
        raise TamperedError(f"run {run_id}: stored outputs differ from those recorded in the audit chain")


def load_output(vault: Vault, run_id: str, name: str) -> tuple[StoredOutput, bytes]:
    """One stored output and its bytes, verified; an unknown run or name is a one-line DataError."""
    row = vault.con.execute(
        f"SELECT {_COLS}, content FROM run_outputs WHERE run_id = ? AND name = ?", [run_id, name]
    ).fetchone()
    if row is None:
        known = vault.con.execute("SELECT count(*) FROM run_outputs WHERE run_id = ?", [run_id]).fetchone()
        if not known or not known[0]:
            raise DataError(f"run {run_id}: no stored outputs in this vault")
        raise DataError(f"{name}: not an output of run {run_id}")
    verify_run(vault, run_id)
    return _stored(row[:-1]), bytes(row[-1])
