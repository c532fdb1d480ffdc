"""Working days in England and Wales: weekends and bank holidays.

Bank holidays follow the statutory pattern (New Year's Day, Good Friday, Easter Monday, the early May, spring
and summer bank holidays, Christmas Day, Boxing Day, with substitute days when they fall at a weekend), plus
the one-off changes proclaimed since 2019, listed below as data. A deadline that falls on a non-working day
moves to the next working day.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

# One-off proclamations: days moved or added (England and Wales).
MOVED = {
    dt.date(2020, 5, 4): dt.date(2020, 5, 8),  # early May bank holiday moved for VE Day's 75th anniversary
    dt.date(2022, 5, 30): dt.date(2022, 6, 2),  # spring bank holiday moved for the Platinum Jubilee
}
ADDED = (
    dt.date(2022, 6, 3),  # Platinum Jubilee
    dt.date(2022, 9, 19),  # State Funeral of Queen Elizabeth II
    dt.date(2023, 5, 8),  # Coronation of King Charles III
)


def easter_sunday(year: int) -> dt.date:
    """Gregorian Easter (the anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _first_monday(year: int, month: int) -> dt.date:
    day = dt.date(year, month, 1)
    return day + dt.timedelta(days=(7 - day.weekday()) % 7)


def _last_monday(year: int, month: int) -> dt.date:
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    last = nxt - dt.timedelta(days=1)
    return last - dt.timedelta(days=last.weekday())


@cache
def bank_holidays(year: int) -> frozenset[dt.date]:
    days: set[dt.date] = set()
    new_year = dt.date(year, 1, 1)
    days.add(new_year + dt.timedelta(days={5: 2, 6: 1}.get(new_year.weekday(), 0)))
    easter = easter_sunday(year)
    days.update({easter - dt.timedelta(days=2), easter + dt.timedelta(days=1)})
    for day in (_first_monday(year, 5), _last_monday(year, 5), _last_monday(year, 8)):
        days.add(MOVED.get(day, day))
    christmas, boxing = dt.date(year, 12, 25), dt.date(year, 12, 26)
    if christmas.weekday() == 5:  # Saturday: substitutes Monday 27 and Tuesday 28
        days.update({dt.date(year, 12, 27), dt.date(year, 12, 28)})
    elif christmas.weekday() == 6:  # Sunday: Boxing Day Monday, Christmas substitute Tuesday 27
        days.update({boxing, dt.date(year, 12, 27)})
    elif christmas.weekday() == 4:  # Friday: Boxing Day falls Saturday, substitute Monday 28
        days.update({christmas, dt.date(year, 12, 28)})
    else:
        days.update({christmas, boxing})
    days.update(d for d in ADDED if d.year == year)
    return frozenset(days)


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in bank_holidays(day.year)


def next_working_day(day: dt.date) -> dt.date:
    """`day` itself if it is a working day, otherwise the next one."""
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day
