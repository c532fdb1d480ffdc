"""The one clock: every "today" in cscvault comes from here.

Statutory deadlines (one calendar month for a rights request) and the retention dates are UK calendar
days, so `today()` is the date in the study's time zone, not the machine's. Timestamps for records are
aware UTC datetimes from `now()`. Tests fix both with `frozen(...)` instead of patching `datetime`.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

STUDY_TIME_ZONE = ZoneInfo("Europe/London")

_frozen_at: dt.datetime | None = None


def now() -> dt.datetime:
    """The current moment, timezone-aware UTC."""
    return _frozen_at if _frozen_at is not None else dt.datetime.now(dt.UTC)


def today() -> dt.date:
    """Today's date in the study's time zone."""
    return now().astimezone(STUDY_TIME_ZONE).date()


@contextlib.contextmanager
def frozen(at: dt.datetime | dt.date) -> Iterator[None]:
    """Fix the clock for the duration of a `with` block (tests)."""
    global _frozen_at
    moment = at if isinstance(at, dt.datetime) else dt.datetime(at.year, at.month, at.day, 12, tzinfo=dt.UTC)
    previous, _frozen_at = _frozen_at, moment.astimezone(dt.UTC)
    try:
        yield
    finally:
        _frozen_at = previous


def add_months(start: dt.date, months: int) -> dt.date:
    """The corresponding day `months` calendar months later, or that month's last day when it has none."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
