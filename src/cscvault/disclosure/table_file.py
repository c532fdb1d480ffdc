"""Checking a table file outside the vault (`cscvault disclosure check`): read it, apply the profile, and
compare it with tables released earlier on the same cohort (differencing). It sits above `check` and
`differencing`, which builds on `check`, so neither of those imports the other in a loop."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from cscvault.disclosure.check import CheckedTable, _is_na, _label, apply_profile
from cscvault.disclosure.differencing import apply_differencing
from cscvault.disclosure.profiles import Profile, get_profile
from cscvault.errors import DataError, UsageError


def read_table_file(path: Path) -> pd.DataFrame:
    """Read a CSV (or xlsx) table file for checking; a missing or unreadable file is a UsageError."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        if path.suffix.lower() in {".xlsx", ".xls"}:
            return pd.read_excel(path)
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError):
        raise DataError(f"{path}: cannot be read as a table") from None


def check_file(
    path: Path,
    profile: Profile | str,
    count_cols: Sequence[str] | None = None,
    *,
    label_cols: Sequence[str] | None = None,
    implied_totals: bool = False,
    earlier: Sequence[Path] = (),
) -> CheckedTable:
    """Check a table file outside the vault (for checkers and local authorities).

    `earlier`: released tables from earlier releases on the same cohort; cells whose difference
    from them reveals a small count are turned to review (differencing).
    """
    prof = get_profile(profile)
    frame = read_table_file(path)
    for col in [*(count_cols or []), *(label_cols or [])]:
        if col not in frame.columns:
            raise UsageError(f"{path}: no column named {col!r}")
    for col in count_cols or []:
        if not pd.api.types.is_numeric_dtype(frame[col]):
            bad = next((i for i, v in enumerate(frame[col]) if not _is_na(v) and not _numeric_text(v)), None)
            where = f" (row {bad})" if bad is not None else ""
            raise DataError(f"{path}: count column {col!r} is not numeric{where}")
    try:
        checked = apply_profile(
            frame, prof, count_cols=count_cols, label_cols=label_cols, implied_totals=implied_totals, name=path.name
        )
    except DataError as exc:
        raise DataError(f"{path}: {exc.message}") from None
    if earlier:
        apply_differencing(checked, {p.name: _as_released(read_table_file(p), checked) for p in earlier})
    return checked


def _as_released(frame: pd.DataFrame, like: CheckedTable) -> pd.DataFrame:
    """An earlier released table laid out like the new one (labels as text, blanks withheld)."""
    out = frame.copy()
    for col in like.label_cols:
        if col in out.columns:
            out[col] = [_label(v) for v in out[col]]
    keep = [c for c in out.columns if c in like.label_cols or c in like.count_cols]
    return out[keep]


def _numeric_text(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
