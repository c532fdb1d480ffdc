"""Dates as int64 day numbers (days since 1970-01-01) for fast vectorised generation and formatting.

`NO_DATE` marks an absent date (an open plan, no assessment...). String tables cover 1995-2045, which
holds every date of birth and event the generator can produce.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.object_]

NO_DATE = np.int64(-(10**6))
_TABLE_START = dt.date(1995, 1, 1)
_TABLE_END = dt.date(2045, 12, 31)
EXCEL_EPOCH_OFFSET = 25569  # Excel serial of 1970-01-01 (1900 date system)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day(d: dt.date) -> int:
    return (d - dt.date(1970, 1, 1)).days


def to_date(n: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(n))


_BASE = day(_TABLE_START)


@cache
def _tables() -> dict[str, StrArray]:
    n = day(_TABLE_END) - _BASE + 1
    iso, dmy, my, my_dash, sc = [], [], [], [], []
    for i in range(n):
        d = to_date(_BASE + i)
        iso.append(d.isoformat())
        dmy.append(f"{d.day:02d}/{d.month:02d}/{d.year}")
        my.append(f"{d.month:02d}/{d.year}")
        my_dash.append(f"{d.month:02d}-{d.year}")
        sc.append(f"{d.year}-{MONTHS[d.month - 1]}-{d.day:02d} 00:00:00")
    return {
        "iso": np.array(iso, dtype=object),
        "dmy": np.array(dmy, dtype=object),
        "my": np.array(my, dtype=object),
        "my_dash": np.array(my_dash, dtype=object),
        "school": np.array(sc, dtype=object),
    }


def fmt(days: IntArray, style: str = "iso") -> StrArray:
    """Format day numbers; absent dates become ''. Styles: iso, dmy, my, my_dash, school."""
    table = _tables()[style]
    days = np.asarray(days, dtype=np.int64)
    out = np.full(days.shape, "", dtype=object)
    ok = days != NO_DATE
    out[ok] = table[days[ok] - _BASE]
    return out


def ymd(days: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    years = months.astype("datetime64[Y]")
    y = years.astype(np.int64) + 1970
    m = (months - years).astype(np.int64) + 1
    dd = (d - months).astype(np.int64) + 1
    return y, m, dd


def add_months(days: IntArray, n: int | IntArray) -> IntArray:
    """Calendar-month arithmetic, clamped to the end of the month (like lubridate's %m+%)."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    dom = (d - months.astype("datetime64[D]")).astype(np.int64)
    target = months + np.asarray(n, dtype=np.int64)
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64)
    res = target.astype("datetime64[D]").astype(np.int64) + np.minimum(dom, length - 1)
    return np.asarray(res, dtype=np.int64)


def month_index(days: IntArray, start: dt.date) -> IntArray:
    """Months since the month of `start` (0 = that month)."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]")
    s = np.datetime64(start, "M")
    return np.asarray((d - s).astype(np.int64), dtype=np.int64)


def first_of_month(days: IntArray) -> IntArray:
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]")
    return np.asarray(d.astype("datetime64[D]").astype(np.int64), dtype=np.int64)


def excel_serial(days: IntArray) -> IntArray:
    return np.asarray(days, dtype=np.int64) + EXCEL_EPOCH_OFFSET
