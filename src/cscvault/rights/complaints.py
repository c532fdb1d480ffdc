"""Complaints: logged, acknowledged within 30 days, answered with the outcome and always the ICO route."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from cscvault.errors import UsageError
from cscvault.rights.deadlines import complaint_ack_due
from cscvault.study import Study
from cscvault.vault import Vault


@dataclass(frozen=True)
class Complaint:
    complaint_id: str
    received: dt.date
    acknowledged: dt.date | None
    summary_ref: str | None
    outcome: str | None
    closed: dt.date | None
    opened_by: str
    opened_at: dt.datetime

    @property
    def ack_due(self) -> dt.date:
        return complaint_ack_due(self.received)

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["ack_due"] = self.ack_due
        return doc


_COLUMNS = "complaint_id, received, acknowledged, summary_ref, outcome, closed, opened_by, opened_at"


def get(vault: Vault, complaint_id: str) -> Complaint:
    row = vault.con.execute(f"SELECT {_COLUMNS} FROM complaints WHERE complaint_id = ?", [complaint_id]).fetchone()
    if row is None:
        raise UsageError(f"no complaint '{complaint_id}' in this vault")
    return Complaint(*row)


def list_complaints(vault: Vault) -> list[Complaint]:
    vault.require_role("dpo")
    return [Complaint(*r) for r in vault.con.execute(f"SELECT {_COLUMNS} FROM complaints ORDER BY received").fetchall()]


def open_complaint(vault: Vault, received: dt.date, summary_ref: str | None = None) -> Complaint:
    vault.require_role("dpo")
    prefix = f"C-{received.year}-"
    row = vault.con.execute("SELECT count(*) FROM complaints WHERE complaint_id LIKE ?", [prefix + "%"]).fetchone()
    complaint_id = f"{prefix}{(int(row[0]) if row else 0) + 1:04d}"
    with vault.transaction() as con:
        con.execute(
            "INSERT INTO complaints (complaint_id, received, summary_ref, opened_by, opened_at) VALUES (?, ?, ?, ?, ?)",
            [complaint_id, received, summary_ref, vault.actor, dt.datetime.now(dt.UTC)],
        )
        vault.record("complaint.open", {"complaint": complaint_id})
    return get(vault, complaint_id)


def acknowledge(vault: Vault, complaint_id: str, on: dt.date) -> Complaint:
    vault.require_role("dpo")
    complaint = get(vault, complaint_id)
    if on < complaint.received:
        raise UsageError("a complaint cannot be acknowledged before it was received")
    with vault.transaction() as con:
        con.execute("UPDATE complaints SET acknowledged = ? WHERE complaint_id = ?", [on, complaint_id])
        vault.record("complaint.acknowledge", {"complaint": complaint_id}, {"days": (on - complaint.received).days})
    return get(vault, complaint_id)


def close_complaint(vault: Vault, complaint_id: str, outcome: str, on: dt.date) -> Complaint:
    vault.require_role("dpo")
    complaint = get(vault, complaint_id)
    if complaint.closed is not None:
        raise UsageError(f"complaint {complaint_id} is already closed")
    if not outcome.strip():
        raise UsageError("closing a complaint needs its outcome")
    with vault.transaction() as con:
        con.execute(
            "UPDATE complaints SET outcome = ?, closed = ?, acknowledged = coalesce(acknowledged, ?) "
            "WHERE complaint_id = ?",
            [outcome, on, on, complaint_id],
        )
        vault.record("complaint.close", {"complaint": complaint_id})
    return get(vault, complaint_id)


def ico_route(study: Study) -> str:
    """The sentence every response carries: the right to complain to the regulator."""
    ico = study.supervisory_authority
    return (
        f"If you are not satisfied, you can complain to the {ico.name}: {', '.join(ico.address)}; "
        f"helpline {ico.helpline}; {ico.website}."
    )


def response_text(study: Study, complaint: Complaint) -> str:
    lines = [f"Complaint {complaint.complaint_id}, received {complaint.received.isoformat()}."]
    if complaint.outcome:
        lines.append(f"Outcome: {complaint.outcome}")
    else:
        lines.append(f"We acknowledge your complaint and will respond without undue delay. Contact: {study.dpo.email}.")
    lines.append(ico_route(study))
    return "\n".join(lines)
