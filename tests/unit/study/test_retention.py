"""The retention schedule and its warning window, from the study's dates (no vault needed)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from cscvault.study import load_study
from cscvault.study.retention import WARNING_DAYS, retention_warning, schedule

DUE = dt.date(2033, 10, 31)


def test_schedule_reads_the_study_dates() -> None:
    s = schedule(load_study(), dt.date(2026, 11, 27))
    assert s.final_report == dt.date(2028, 10, 31) and s.delete_by == DUE
    assert s.final_report_label == "Autumn 2028" and s.delete_by_label == "Autumn 2033"
    assert s.days_remaining == (DUE - dt.date(2026, 11, 27)).days
    assert s.phase == "retained" and not s.destruction_allowed
    assert s.as_dict()["delete_by"] == "2033-10-31"


@pytest.mark.parametrize(
    ("days_before", "phase", "allowed", "warns"),
    [
        (WARNING_DAYS + 1, "retained", False, False),
        (WARNING_DAYS, "warning", False, True),
        (WARNING_DAYS - 1, "warning", False, True),
        (1, "warning", False, True),
        (0, "due", True, True),
        (-1, "overdue", True, True),
    ],
)
def test_phase_and_warning_around_the_thresholds(days_before: int, phase: str, allowed: bool, warns: bool) -> None:
    today = DUE - dt.timedelta(days=days_before)
    s = schedule(load_study(), today)
    assert s.days_remaining == days_before
    assert s.phase == phase and s.destruction_allowed is allowed
    warning = retention_warning(load_study(), today)
    assert (warning is not None) is warns
    if warning:
        assert "2033-10-31" in warning and "\n" not in warning and "retention destroy" in warning


def test_warning_wording_counts_days() -> None:
    study = load_study()
    assert "1 day left" in (retention_warning(study, DUE - dt.timedelta(days=1)) or "")
    assert "30 days left" in (retention_warning(study, DUE - dt.timedelta(days=30)) or "")
    assert "due for destruction today" in (retention_warning(study, DUE) or "")
    assert "5 days overdue" in (retention_warning(study, DUE + dt.timedelta(days=5)) or "")


def test_another_study_has_its_own_dates() -> None:
    study = load_study()
    other = dataclasses.replace(study, retention=dataclasses.replace(study.retention, delete_by=dt.date(2027, 1, 31)))
    assert retention_warning(other, dt.date(2026, 11, 27)) is not None  # 65 days before
    assert retention_warning(study, dt.date(2026, 11, 27)) is None
