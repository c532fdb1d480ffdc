"""The retention schedule: when the study's data must go and how long is left (pure: study + date).

The dates come from the study (`[retention]` in study.toml): final reporting, then deletion due by
`delete_by`. From `WARNING_DAYS` before that date every command and the web console show a warning;
on and after it, `cscvault retention destroy` may run without an early reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cscvault import clock
from cscvault.study.model import Study

WARNING_DAYS = 90


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
    return Schedule(r.final_report, r.final_report_label, r.delete_by, r.delete_by_label, today or clock.today())


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
