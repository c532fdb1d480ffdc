"""UK calendar-month deadlines on the awkward dates: month ends, leap days, stopped clocks, extensions, and
England and Wales bank holidays."""

from __future__ import annotations

import datetime as dt

import pytest

from cscvault.errors import UsageError
from cscvault.rights.calendar import bank_holidays, easter_sunday, is_working_day
from cscvault.rights.deadlines import add_months, check_extension_notice, complaint_ack_due, due_date, status

D = dt.date

CASES = [
    # (clock start, extension months, stopped days, expected due date, why)
    (D(2024, 1, 31), 0, 0, D(2024, 2, 29), "31 January in a leap year: last day of February"),
    (D(2023, 1, 31), 0, 0, D(2023, 2, 28), "31 January: last day of February"),
    (D(2024, 2, 29), 0, 0, D(2024, 4, 2), "29 February -> 29 March is Good Friday, then Easter Monday"),
    (D(2024, 3, 31), 0, 0, D(2024, 4, 30), "31 March -> 30 April (no 31 April)"),
    (D(2024, 8, 31), 0, 0, D(2024, 9, 30), "31 August -> 30 September"),
    (D(2024, 10, 31), 0, 0, D(2024, 12, 2), "31 October -> 30 November, a Saturday"),
    (D(2023, 9, 3), 0, 0, D(2023, 10, 3), "plain corresponding day"),
    (D(2024, 11, 25), 0, 0, D(2024, 12, 27), "Christmas Day and Boxing Day"),
    (D(2025, 11, 27), 0, 0, D(2025, 12, 29), "27 December 2025 is a Saturday"),
    (D(2024, 1, 31), 2, 0, D(2024, 4, 30), "extension by two months runs from the same start"),
    (D(2024, 1, 31), 1, 0, D(2024, 4, 2), "one-month extension: 31 March is a Sunday, 1 April Easter Monday"),
    (D(2024, 5, 1), 0, 10, D(2024, 6, 11), "clock stopped ten days awaiting clarification"),
    (D(2022, 5, 2), 0, 0, D(2022, 6, 6), "Platinum Jubilee: spring bank holiday moved to 2 June, 3 June added"),
    (D(2022, 8, 19), 0, 0, D(2022, 9, 20), "State Funeral bank holiday, 19 September 2022"),
    (D(2023, 4, 8), 0, 0, D(2023, 5, 9), "Coronation bank holiday, 8 May 2023"),
    (D(2020, 4, 8), 0, 0, D(2020, 5, 11), "VE Day: early May bank holiday moved to Friday 8 May 2020"),
    (D(2020, 4, 4), 0, 0, D(2020, 5, 4), "4 May 2020 was a working day (the holiday moved)"),
    (D(2021, 11, 27), 0, 0, D(2021, 12, 29), "Christmas on a Saturday: substitute days 27 and 28 December"),
    (D(2021, 12, 3), 0, 0, D(2022, 1, 4), "New Year's Day on a Saturday: substitute Monday 3 January"),
    (D(2022, 11, 26), 0, 0, D(2022, 12, 28), "Christmas on a Sunday: Boxing Day Monday, substitute Tuesday"),
    (D(2023, 12, 31), 0, 0, D(2024, 1, 31), "year boundary"),
]


@pytest.mark.parametrize(("start", "ext", "stopped", "expected", "why"), CASES, ids=[c[4] for c in CASES])
def test_due_dates(start: dt.date, ext: int, stopped: int, expected: dt.date, why: str) -> None:
    assert due_date(start, ext, stopped) == expected, why


def test_clock_not_started_has_no_deadline() -> None:
    assert due_date(None) is None
    assert status(None, D(2024, 1, 1)) == "not started"


def test_add_months_month_end_fallback() -> None:
    assert add_months(D(2024, 1, 31), 1) == D(2024, 2, 29)
    assert add_months(D(2024, 1, 31), 3) == D(2024, 4, 30)
    assert add_months(D(2024, 12, 15), 1) == D(2025, 1, 15)
    assert add_months(D(2023, 11, 30), 3) == D(2024, 2, 29)


def test_extension_is_at_most_two_months() -> None:
    with pytest.raises(UsageError, match="0 to 2 further months"):
        due_date(D(2024, 1, 1), 3)


def test_extension_notice_must_be_in_the_first_month() -> None:
    check_extension_notice(D(2024, 1, 31), D(2024, 2, 29))
    with pytest.raises(UsageError, match="too late to extend: the notice must be sent by 2024-02-29"):
        check_extension_notice(D(2024, 1, 31), D(2024, 3, 1))
    with pytest.raises(UsageError, match="cannot predate"):
        check_extension_notice(D(2024, 1, 31), D(2024, 1, 30))


def test_status_lists() -> None:
    due = D(2024, 3, 15)
    assert status(due, D(2024, 3, 16)) == "overdue"
    assert status(due, D(2024, 3, 15)) == "due soon"
    assert status(due, D(2024, 3, 8)) == "due soon"
    assert status(due, D(2024, 3, 7)) == "on time"


def test_complaint_acknowledgement() -> None:
    assert complaint_ack_due(D(2024, 1, 31)) == D(2024, 3, 1)


def test_bank_holiday_calendar() -> None:
    assert easter_sunday(2024) == D(2024, 3, 31)
    assert easter_sunday(2025) == D(2025, 4, 20)
    assert len(bank_holidays(2019)) == 8
    assert len(bank_holidays(2022)) == 10
    assert len(bank_holidays(2023)) == 9
    assert D(2020, 5, 4) not in bank_holidays(2020)
    assert not is_working_day(D(2026, 8, 31))  # summer bank holiday
    assert is_working_day(D(2026, 11, 27))
