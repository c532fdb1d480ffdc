"""Working days in England and Wales: the statutory bank holidays with their substitute days and the one-off
proclamations, checked against the published GOV.UK lists for 2019-2027."""

from __future__ import annotations

import datetime as dt

import pytest

from cscvault.rights.calendar import bank_holidays, easter_sunday, is_working_day, next_working_day

D = dt.date

# GOV.UK "UK bank holidays", England and Wales.
PUBLISHED = {
    2019: {D(2019, 1, 1), D(2019, 4, 19), D(2019, 4, 22), D(2019, 5, 6), D(2019, 5, 27), D(2019, 8, 26),
           D(2019, 12, 25), D(2019, 12, 26)},
    2020: {D(2020, 1, 1), D(2020, 4, 10), D(2020, 4, 13), D(2020, 5, 8), D(2020, 5, 25), D(2020, 8, 31),
           D(2020, 12, 25), D(2020, 12, 28)},
    2021: {D(2021, 1, 1), D(2021, 4, 2), D(2021, 4, 5), D(2021, 5, 3), D(2021, 5, 31), D(2021, 8, 30),
           D(2021, 12, 27), D(2021, 12, 28)},
    2022: {D(2022, 1, 3), D(2022, 4, 15), D(2022, 4, 18), D(2022, 5, 2), D(2022, 6, 2), D(2022, 6, 3),
           D(2022, 8, 29), D(2022, 9, 19), D(2022, 12, 26), D(2022, 12, 27)},
    2023: {D(2023, 1, 2), D(2023, 4, 7), D(2023, 4, 10), D(2023, 5, 1), D(2023, 5, 8), D(2023, 5, 29),
           D(2023, 8, 28), D(2023, 12, 25), D(2023, 12, 26)},
    2024: {D(2024, 1, 1), D(2024, 3, 29), D(2024, 4, 1), D(2024, 5, 6), D(2024, 5, 27), D(2024, 8, 26),
           D(2024, 12, 25), D(2024, 12, 26)},
    2025: {D(2025, 1, 1), D(2025, 4, 18), D(2025, 4, 21), D(2025, 5, 5), D(2025, 5, 26), D(2025, 8, 25),
           D(2025, 12, 25), D(2025, 12, 26)},
    2026: {D(2026, 1, 1), D(2026, 4, 3), D(2026, 4, 6), D(2026, 5, 4), D(2026, 5, 25), D(2026, 8, 31),
           D(2026, 12, 25), D(2026, 12, 28)},
    2027: {D(2027, 1, 1), D(2027, 3, 26), D(2027, 3, 29), D(2027, 5, 3), D(2027, 5, 31), D(2027, 8, 30),
           D(2027, 12, 27), D(2027, 12, 28)},
}  # fmt: skip


@pytest.mark.parametrize("year", sorted(PUBLISHED))
def test_bank_holidays_equal_the_published_list(year: int) -> None:
    assert bank_holidays(year) == PUBLISHED[year]


@pytest.mark.parametrize(
    ("year", "easter"),
    [(2000, D(2000, 4, 23)), (2019, D(2019, 4, 21)), (2024, D(2024, 3, 31)), (2038, D(2038, 4, 25))],
)
def test_easter_sunday(year: int, easter: dt.date) -> None:
    assert easter_sunday(year) == easter


def test_weekends_and_holidays_are_not_working_days() -> None:
    assert is_working_day(D(2025, 12, 24))  # Christmas Eve is a working day
    assert not is_working_day(D(2025, 12, 25))
    assert not is_working_day(D(2025, 12, 27))  # Saturday
    assert not is_working_day(D(2020, 5, 8))  # VE Day (moved early May bank holiday)
    assert is_working_day(D(2020, 5, 4))  # the Monday it moved from


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (D(2025, 6, 11), D(2025, 6, 11)),  # a Wednesday: itself
        (D(2025, 6, 14), D(2025, 6, 16)),  # Saturday -> Monday
        (D(2025, 4, 18), D(2025, 4, 22)),  # Good Friday -> Tuesday after Easter Monday
        (D(2021, 12, 25), D(2021, 12, 29)),  # Christmas on a Saturday: two substitute days
        (D(2022, 6, 2), D(2022, 6, 6)),  # Platinum Jubilee: Thursday and Friday, then the weekend
    ],
)
def test_next_working_day(day: dt.date, expected: dt.date) -> None:
    assert next_working_day(day) == expected
