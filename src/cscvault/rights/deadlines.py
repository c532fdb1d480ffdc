"""UK deadline arithmetic for data-subject requests (UK GDPR Art 12(3), as amended by the Data (Use and
Access) Act 2025, and the ICO's guidance).

- The clock starts on the day we have what we need to identify the child (for cscvault: the local authority's
  confirmation of its child id). Until then it has not started.
- One calendar month: the corresponding day of the next month; when that month has no such day (31 January ->
  February), the last day of that month.
- An extension by up to two further months runs from the same start (so three months in all), and must be
  notified within the first month.
- Days on which the clock was stopped (awaiting clarification) are added on.
- A deadline on a weekend or an England and Wales bank holiday moves to the next working day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cscvault.clock import add_months
from cscvault.errors import UsageError
from cscvault.rights.calendar import next_working_day

MAX_EXTENSION_MONTHS = 2
COMPLAINT_ACK_DAYS = 30


@dataclass(frozen=True)
class Clock:
    """The facts that fix a request's deadline."""

    identified: dt.date | None  # clock start; None while awaiting identification
    extension_months: int = 0
    stopped_days: int = 0  # whole days the clock was stopped after it started

    def due(self) -> dt.date | None:
        return due_date(self.identified, self.extension_months, self.stopped_days)


def due_date(identified: dt.date | None, extension_months: int = 0, stopped_days: int = 0) -> dt.date | None:
    """The response deadline, or None while the clock has not started."""
    if identified is None:
        return None
    if not 0 <= extension_months <= MAX_EXTENSION_MONTHS:
        raise UsageError(f"an extension is 0 to {MAX_EXTENSION_MONTHS} further months")
    if stopped_days < 0:
        raise UsageError("stopped days cannot be negative")
    raw = add_months(identified, 1 + extension_months) + dt.timedelta(days=stopped_days)
    return next_working_day(raw)


def check_extension_notice(identified: dt.date, notice: dt.date, stopped_days: int = 0) -> None:
    """An extension must be notified, with reasons, within the first month."""
    first_due = due_date(identified, 0, stopped_days)
    assert first_due is not None
    if notice < identified:
        raise UsageError("the extension notice cannot predate the start of the clock")
    if notice > first_due:
        raise UsageError(f"too late to extend: the notice must be sent by {first_due.isoformat()}")


def days_between(start: dt.date, end: dt.date) -> int:
    return (end - start).days


def complaint_ack_due(received: dt.date) -> dt.date:
    """Complaints are acknowledged within 30 days of receipt (the Data (Use and Access) Act 2025 complaints duty)."""
    return received + dt.timedelta(days=COMPLAINT_ACK_DAYS)


def status(due: dt.date | None, today: dt.date, soon_days: int = 7) -> str:
    """'not started', 'overdue', 'due soon' or 'on time'."""
    if due is None:
        return "not started"
    if today > due:
        return "overdue"
    if (due - today).days <= soon_days:
        return "due soon"
    return "on time"
