"""Date parsing for returns: ISO, dd/mm/yyyy, Excel serials, '2024-Oct-16', month-year forms.

Pure functions. A column is parsed as a whole so that the day/month order can be settled by the
column's own evidence (a day above 12); a value the column cannot settle is *ambiguous*, which is
a finding, not a guess made silently. UK order (day first) is the default reading.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "ambiguous", "invalid", "empty"]
Precision = Literal["day", "month"]

_EXCEL_EPOCH = dt.date(1899, 12, 30)
# Serials for 1950-01-01 .. 2100-12-31; anything else in a date column is not a date.
_SERIAL_MIN, _SERIAL_MAX = 18264, 73415

_MONTHS = {
    m.casefold(): i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")
_NUMERIC_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$")
_YMD_SLASH = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$")
_NAMED_YMD = re.compile(r"^(\d{4})-([A-Za-z]{3,9})-(\d{1,2})(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$")
_NAMED_DMY = re.compile(r"^(\d{1,2})[\s\-/]([A-Za-z]{3,9})[\s\-/,]+(\d{2}|\d{4})$")
_MONTH_YEAR_NUM = re.compile(r"^(\d{1,2})[/.\-](\d{4})$")
_YEAR_MONTH_NUM = re.compile(r"^(\d{4})[/.\-](\d{1,2})$")
_MONTH_YEAR_NAMED = re.compile(r"^([A-Za-z]{3,9})[\s\-/,]+(\d{2}|\d{4})$")
_SERIAL = re.compile(r"^\d{4,5}(?:\.0+)?$")


@dataclass(frozen=True)
class ParsedDate:
    value: dt.date | None
    status: Status
    precision: Precision = "day"
    reading: str = ""  # how an ambiguous value was read ("day first", "20yy")


def _year(text: str) -> tuple[int, bool]:
    """Four-digit year, and whether a two-digit year had to be widened (ambiguous)."""
    if len(text) == 2:
        return 2000 + int(text), True
    return int(text), False


def _safe(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def column_day_first(values: Sequence[object]) -> bool | None:
    """Settle day/month order for n/n/yyyy values: True (day first), False (month first), None (mixed)."""
    day_first_evidence = month_first_evidence = False
    for v in values:
        if not isinstance(v, str):
            continue
        m = _NUMERIC_DMY.match(v.strip())
        if not m:
            continue
        a, b = int(m.group(1)), int(m.group(2))
        if a > 12 >= b:
            day_first_evidence = True
        elif b > 12 >= a:
            month_first_evidence = True
    if day_first_evidence and month_first_evidence:
        return None
    return not month_first_evidence


def parse_date(value: object, *, day_first: bool | None = True, month_ok: bool = False) -> ParsedDate:
    """Parse one value. `day_first=None` means the column is mixed: any d/m value with both parts
    at most 12 is ambiguous. `month_ok` accepts month-precision forms (birth months)."""
    if value is None:
        return ParsedDate(None, "empty")
    if isinstance(value, dt.datetime):
        return ParsedDate(value.date(), "ok")
    if isinstance(value, dt.date):
        return ParsedDate(value, "ok")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _serial(float(value))
    text = str(value).strip()
    if not text:
        return ParsedDate(None, "empty")
    if m := _ISO.match(text):
        d = _safe(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return ParsedDate(d, "ok" if d else "invalid")
    if m := _NUMERIC_DMY.match(text):
        return _numeric_dmy(m, day_first)
    if m := _YMD_SLASH.match(text):
        d = _safe(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return ParsedDate(d, "ok" if d else "invalid")
    if m := _NAMED_YMD.match(text):
        month = _MONTHS.get(m.group(2).casefold())
        d = _safe(int(m.group(1)), month, int(m.group(3))) if month else None
        return ParsedDate(d, "ok" if d else "invalid")
    if m := _NAMED_DMY.match(text):
        month = _MONTHS.get(m.group(2).casefold())
        year, widened = _year(m.group(3))
        d = _safe(year, month, int(m.group(1))) if month else None
        if d is None:
            return ParsedDate(None, "invalid")
        return ParsedDate(d, "ambiguous", reading="20yy") if widened else ParsedDate(d, "ok")
    if _SERIAL.match(text):
        return _serial(float(text))
    if month_ok:
        return _month_year(text)
    return ParsedDate(None, "invalid")


def _numeric_dmy(m: re.Match[str], day_first: bool | None) -> ParsedDate:
    a, b = int(m.group(1)), int(m.group(2))
    year, widened = _year(m.group(3))
    if a > 12 and b <= 12:
        d, reading = _safe(year, b, a), "day first"
        settled = True
    elif b > 12 and a <= 12:
        d, reading = _safe(year, a, b), "month first"
        # In a column that is otherwise day first, a month-first value is itself suspect.
        settled = day_first is False
    else:
        first = True if day_first is None else day_first
        d = _safe(year, b, a) if first else _safe(year, a, b)
        reading = "day first" if first else "month first"
        settled = day_first is not None or a == b
    if d is None:
        return ParsedDate(None, "invalid")
    if widened:
        return ParsedDate(d, "ambiguous", reading="20yy, " + reading)
    if not settled:
        return ParsedDate(d, "ambiguous", reading=reading)
    return ParsedDate(d, "ok")


def _serial(number: float) -> ParsedDate:
    if not number.is_integer() or not _SERIAL_MIN <= number <= _SERIAL_MAX:
        return ParsedDate(None, "invalid")
    return ParsedDate(_EXCEL_EPOCH + dt.timedelta(days=int(number)), "ok")


def _month_year(text: str) -> ParsedDate:
    if m := _MONTH_YEAR_NUM.match(text):
        d = _safe(int(m.group(2)), int(m.group(1)), 1)
        return ParsedDate(d, "ok" if d else "invalid", "month")
    if m := _YEAR_MONTH_NUM.match(text):
        d = _safe(int(m.group(1)), int(m.group(2)), 1)
        return ParsedDate(d, "ok" if d else "invalid", "month")
    if m := _MONTH_YEAR_NAMED.match(text):
        month = _MONTHS.get(m.group(1).casefold())
        year, widened = _year(m.group(2))
        d = _safe(year, month, 1) if month else None
        if d is None:
            return ParsedDate(None, "invalid")
        return ParsedDate(d, "ambiguous", "month", "20yy") if widened else ParsedDate(d, "ok", "month")
    return ParsedDate(None, "invalid")


def in_window(day: dt.date, start: dt.date, end: dt.date) -> bool:
    return start <= day <= end


def month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def age_in_months(birth: dt.date, event: dt.date) -> int:
    """Completed calendar months from the birth month to the event (birth known to the month)."""
    return month_index(event) - month_index(birth)
