"""The one clock: today in the study's time zone, frozen for tests, and calendar-month arithmetic."""

from __future__ import annotations

import datetime as dt

from cscvault import clock


def test_today_is_the_date_in_london_not_utc() -> None:
    # 23:30 UTC on a summer day is already the next day in London (BST, UTC+1)
    with clock.frozen(dt.datetime(2026, 7, 1, 23, 30, tzinfo=dt.UTC)):
        assert clock.today() == dt.date(2026, 7, 2)
    # in winter London is on UTC
    with clock.frozen(dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC)):
        assert clock.today() == dt.date(2026, 12, 1)


def test_frozen_nests_and_restores() -> None:
    with clock.frozen(dt.date(2030, 1, 2)):
        assert clock.today() == dt.date(2030, 1, 2)
        with clock.frozen(dt.date(2031, 5, 6)):
            assert clock.today() == dt.date(2031, 5, 6)
        assert clock.today() == dt.date(2030, 1, 2)
    assert abs((clock.now() - dt.datetime.now(dt.UTC)).total_seconds()) < 60  # the real clock again
    assert clock.now().tzinfo is not None


def test_add_months_keeps_the_day_or_takes_the_month_end() -> None:
    assert clock.add_months(dt.date(2021, 1, 31), 1) == dt.date(2021, 2, 28)
    assert clock.add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert clock.add_months(dt.date(2020, 3, 15), 18) == dt.date(2021, 9, 15)
    assert clock.add_months(dt.date(2020, 12, 1), 1) == dt.date(2021, 1, 1)
