"""The register of data-subject requests and their lifecycle.

    received -> awaiting_identification (clock not started) -> in_progress -> [extended] -> completed | refused
    -> closed

A request reaches cscvault through the local authority that knows the child: it names the LA and the LA's
child id, from which the vault computes the child key (the LA id itself is never stored). The requester is
recorded by reference only. Audit entries carry request ids, types, LA codes and counts, never the child.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from cscvault import clock
from cscvault.errors import UsageError
from cscvault.rights import deadlines
from cscvault.vault import Vault
from cscvault.vault.subjects import child_tables

TYPES = ("access", "rectification", "erasure", "restriction", "objection")
OPEN_STATES = ("awaiting_identification", "in_progress", "extended")
FINAL_STATES = ("completed", "refused")
RESEARCH_EXEMPTION_BASIS = (
    "UK GDPR Article 84B and Data Protection Act 2018 Schedule 2 paragraph 27 (research, archiving and statistics)"
)


@dataclass(frozen=True)
class Request:
    request_id: str
    type: str
    state: str
    la_code: str
    child_held: bool
    requester_ref: str | None
    received: dt.date
    identified: dt.date | None
    extended_notice: dt.date | None
    extension_months: int
    clock_stopped_days: int
    decision: str | None
    legal_basis: str | None
    opened_at: dt.datetime
    opened_by: str
    closed_at: dt.datetime | None
    answered: dt.date | None = None  # when it was completed or refused (from its event history)

    @property
    def due_date(self) -> dt.date | None:
        return deadlines.due_date(self.identified, self.extension_months, self.clock_stopped_days)

    @property
    def days_late(self) -> int | None:
        """Days after the due date on which it was answered; None while open, 0 when on time."""
        if self.answered is None:
            return None
        due = self.due_date
        return max(0, (self.answered - due).days) if due else 0

    def deadline_status(self, today: dt.date) -> str:
        if self.state not in OPEN_STATES:
            late = self.days_late or 0
            return f"answered late ({late} day{'s' if late != 1 else ''})" if late else "answered"
        return deadlines.status(self.due_date, today)

    def to_json(self, today: dt.date | None = None) -> dict[str, Any]:
        doc = asdict(self)
        doc["due_date"] = self.due_date
        doc["deadline_status"] = self.deadline_status(today or clock.today())
        doc["days_late"] = self.days_late
        return doc


_COLUMNS = (
    "request_id, type, state, la_code, child_held, requester_ref, received, identified, extended_notice, "
    "extension_months, clock_stopped_days, decision, legal_basis, opened_at, opened_by, closed_at, "
    "(SELECT CAST(min(e.at_time) AS DATE) FROM request_events e WHERE e.request_id = requests.request_id "
    "AND e.to_state IN ('completed', 'refused')) AS answered"
)


def _row_to_request(row: tuple[Any, ...]) -> Request:
    return Request(*row)


def annual_summary(vault: Vault, year: int, today: dt.date) -> dict[str, Any]:
    """What a DPO reports for a year: requests received, by type, answered on time or late (and how late),
    and those still open. Counts only."""
    found = [r for r in list_requests(vault, today) if r.received.year == year]
    by_type: dict[str, dict[str, int]] = {}
    late_days: list[int] = []
    for r in found:
        row = by_type.setdefault(r.type, {"received": 0, "answered_on_time": 0, "answered_late": 0, "open": 0})
        row["received"] += 1
        if r.answered is None:
            row["open"] += 1
        elif r.days_late:
            row["answered_late"] += 1
            late_days.append(r.days_late)
        else:
            row["answered_on_time"] += 1
    return {
        "year": year,
        "received": len(found),
        "answered_on_time": sum(t["answered_on_time"] for t in by_type.values()),
        "answered_late": len(late_days),
        "days_late_max": max(late_days) if late_days else None,
        "days_late_total": sum(late_days),
        "open": sum(t["open"] for t in by_type.values()),
        "open_overdue": sum(1 for r in found if r.deadline_status(today) == "overdue"),
        "by_type": dict(sorted(by_type.items())),
    }


def get(vault: Vault, request_id: str) -> Request:
    row = vault.con.execute(f"SELECT {_COLUMNS} FROM requests WHERE request_id = ?", [request_id]).fetchone()
    if row is None:
        raise UsageError(f"no request '{request_id}' in this vault")
    return _row_to_request(row)


def child_key_of(vault: Vault, request_id: str) -> str:
    row = vault.con.execute("SELECT child_key FROM requests WHERE request_id = ?", [request_id]).fetchone()
    if row is None:
        raise UsageError(f"no request '{request_id}' in this vault")
    return str(row[0])


def list_requests(vault: Vault, today: dt.date, overdue: bool = False, due_soon: bool = False) -> list[Request]:
    rows = vault.con.execute(f"SELECT {_COLUMNS} FROM requests ORDER BY received, request_id").fetchall()
    found = [_row_to_request(r) for r in rows]
    if overdue or due_soon:
        wanted = {s for s, on in (("overdue", overdue), ("due soon", due_soon)) if on}
        found = [r for r in found if r.deadline_status(today) in wanted]
    return found


def _next_id(vault: Vault, received: dt.date) -> str:
    prefix = f"R-{received.year}-"
    row = vault.con.execute("SELECT count(*) FROM requests WHERE request_id LIKE ?", [prefix + "%"]).fetchone()
    return f"{prefix}{int(row[0]) + 1 if row else 1:04d}"


def is_held(vault: Vault, child_key: str) -> bool:
    """Whether the vault holds any record of the child (an erased child is not held)."""
    for table in child_tables(vault.con):
        row = vault.con.execute(f'SELECT 1 FROM main."{table}" WHERE child_key = ? LIMIT 1', [child_key]).fetchone()
        if row:
            return True
    return False


def _event(
    vault: Vault, request_id: str, event: str, from_state: str | None, to_state: str | None, detail: str | None = None
) -> None:
    row = vault.con.execute(
        "SELECT coalesce(max(seq), 0) FROM request_events WHERE request_id = ?", [request_id]
    ).fetchone()
    seq = int(row[0]) + 1 if row else 1
    vault.con.execute(
        "INSERT INTO request_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [request_id, seq, dt.datetime.now(dt.UTC), vault.actor, event, from_state, to_state, detail],
    )


def events(vault: Vault, request_id: str) -> list[dict[str, Any]]:
    cur = vault.con.execute(
        "SELECT seq, at_time, actor, event, from_state, to_state, detail FROM request_events "
        "WHERE request_id = ? ORDER BY seq",
        [request_id],
    )
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def open_request(
    vault: Vault,
    type_: str,
    la: str,
    la_child_id: str,
    received: dt.date,
    identified: dt.date | None = None,
    requester_ref: str | None = None,
) -> Request:
    """Log a request. With `identified` (the LA confirmed its child id) the clock starts that day."""
    vault.require_role("dpo")
    if type_ not in TYPES:
        raise UsageError(f"unknown request type '{type_}' (types: {', '.join(TYPES)})")
    authority = vault.study.la(la)
    if not la_child_id.strip():
        raise UsageError("the LA child id is empty")
    if identified is not None and identified < received:
        raise UsageError("--identified cannot be before --received")
    if requester_ref is not None and (len(requester_ref) > 64 or not requester_ref.replace("-", "").isalnum()):
        raise UsageError("--requester-ref is a short reference (letters, digits, '-'), never a name")
    key = vault.child_key(authority.ons_code, la_child_id)
    held = is_held(vault, key)
    state = "in_progress" if identified else "awaiting_identification"
    with vault.transaction() as con:
        request_id = _next_id(vault, received)
        con.execute(
            "INSERT INTO requests (request_id, type, state, la_code, child_key, child_held, requester_ref, "
            "received, identified, opened_at, opened_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                request_id,
                type_,
                state,
                authority.ons_code,
                key,
                held,
                requester_ref,
                received,
                identified,
                dt.datetime.now(dt.UTC),
                vault.actor,
            ],
        )
        _event(vault, request_id, "opened", None, state)
        if type_ == "objection" and held:
            # Processing stops while the objection is considered (UK GDPR Art 18(1)(d)).
            _set_status(vault, key, "objected", request_id)
        vault.record(
            "rights.open", {"request": request_id, "type": type_, "la": authority.ons_code}, {"child_held": int(held)}
        )
    return get(vault, request_id)


def _set_status(vault: Vault, child_key: str, status: str, request_id: str) -> None:
    vault.con.execute(
        "INSERT INTO subject_status VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [child_key, status, dt.datetime.now(dt.UTC), request_id],
    )


def _transition(
    vault: Vault, request: Request, to_state: str, event: str, detail: str | None = None, **updates: Any
) -> None:
    sets = ", ".join([f"{k} = ?" for k in updates] + ["state = ?"])
    vault.con.execute(
        f"UPDATE requests SET {sets} WHERE request_id = ?", [*updates.values(), to_state, request.request_id]
    )
    _event(vault, request.request_id, event, request.state, to_state, detail)


def _require_open(request: Request) -> None:
    if request.state not in OPEN_STATES:
        raise UsageError(f"request {request.request_id} is {request.state}; nothing more can be done to it")


def identify(vault: Vault, request_id: str, on: dt.date) -> Request:
    """The LA confirmed the child's id: the clock starts."""
    vault.require_role("dpo")
    request = get(vault, request_id)
    if request.state != "awaiting_identification":
        raise UsageError(f"request {request_id} is already identified")
    if on < request.received:
        raise UsageError("identification cannot be before the request was received")
    with vault.transaction():
        _transition(vault, request, "in_progress", "identified", identified=on)
        vault.record("rights.identify", {"request": request_id})
    return get(vault, request_id)


def clarification(vault: Vault, request_id: str, asked: dt.date, answered: dt.date) -> Request:
    """The clock stood still from `asked` to `answered` while we waited for clarification."""
    vault.require_role("dpo")
    request = get(vault, request_id)
    _require_open(request)
    if request.identified is None or asked < request.identified or answered < asked:
        raise UsageError("clarification must run forwards, after the clock started")
    days = (answered - asked).days
    with vault.transaction():
        _transition(
            vault,
            request,
            request.state,
            "clarification",
            f"clock stopped {days} days",
            clock_stopped_days=request.clock_stopped_days + days,
        )
        vault.record("rights.clarification", {"request": request_id}, {"days_stopped": days})
    return get(vault, request_id)


def extend(vault: Vault, request_id: str, months: int, notice: dt.date, reason: str) -> Request:
    """Extend by up to two further months; the requester must be told within the first month."""
    vault.require_role("dpo")
    request = get(vault, request_id)
    _require_open(request)
    if request.identified is None:
        raise UsageError("the clock has not started: identify the child first")
    if not 1 <= months <= deadlines.MAX_EXTENSION_MONTHS:
        raise UsageError("an extension is one or two further months")
    if not reason.strip():
        raise UsageError("an extension needs its reason")
    deadlines.check_extension_notice(request.identified, notice, request.clock_stopped_days)
    with vault.transaction():
        _transition(vault, request, "extended", "extended", reason, extension_months=months, extended_notice=notice)
        vault.record("rights.extend", {"request": request_id}, {"months": months})
    return get(vault, request_id)


def refuse(vault: Vault, request_id: str, decision: str, legal_basis: str | None = None) -> Request:
    """Refuse or limit the right, recording the decision and its legal basis for this request only (a research
    exemption is decided per request, never wholesale)."""
    vault.require_role("dpo")
    request = get(vault, request_id)
    _require_open(request)
    if not decision.strip():
        raise UsageError("a refusal needs the decision and its reasoning")
    basis = legal_basis or RESEARCH_EXEMPTION_BASIS
    with vault.transaction():
        _transition(vault, request, "refused", "refused", None, decision=decision, legal_basis=basis)
        vault.record("rights.refuse", {"request": request_id, "type": request.type})
    return get(vault, request_id)


def complete(
    vault: Vault,
    request: Request,
    event: str,
    counts: dict[str, int],
    decision: str | None = None,
    legal_basis: str | None = None,
) -> None:
    """Mark an acted-on request completed (inside the caller's transaction)."""
    _transition(vault, request, "completed", event, None, decision=decision, legal_basis=legal_basis)
    vault.record(f"rights.{event}", {"request": request.request_id, "type": request.type}, counts)


def close(vault: Vault, request_id: str) -> Request:
    vault.require_role("dpo")
    request = get(vault, request_id)
    if request.state not in FINAL_STATES:
        raise UsageError(f"request {request_id} is {request.state}: act on it or refuse it before closing")
    with vault.transaction():
        _transition(vault, request, "closed", "closed", closed_at=dt.datetime.now(dt.UTC))
        vault.record("rights.close", {"request": request_id})
    return get(vault, request_id)
