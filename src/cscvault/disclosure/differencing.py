"""Differencing: a new table compared with earlier releases on the same cohort.

Two released counts for the same group (same labels, same column) that differ by less than the
profile's threshold reveal a small group: e.g. 120 children in March and 124 in April means 4
children joined. Such cells go to review. The comparison uses what an attacker sees: the released
(suppressed, rounded) values of both tables. Grand totals are compared whatever their labels, since
two tables on one cohort that differ slightly in their totals reveal the children in between.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from cscvault.disclosure.check import CheckedTable, is_total_label
from cscvault.disclosure.profiles import Profile, get_profile
from cscvault.disclosure.rules import RULE_DIFFERENCING


@dataclass(frozen=True)
class DifferenceFlag:
    """A new cell whose difference from an earlier release reveals a small count."""

    earlier: str
    key: tuple[str, ...]
    column: str
    row: int
    difference: float
    verdict: str = "review"

    def text(self) -> str:
        return (
            f"{RULE_DIFFERENCING}: differs from the same cell of release {self.earlier!r} by fewer than the threshold"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "earlier": self.earlier,
            "key": list(self.key),
            "column": self.column,
            "row": self.row,
            "difference": self.difference,
            "verdict": self.verdict,
            "reasons": [self.text()],
        }


def _cells(
    frame: pd.DataFrame, label_cols: Sequence[str], count_cols: Sequence[str]
) -> dict[tuple[tuple[str, ...], str], tuple[int, float]]:
    out: dict[tuple[tuple[str, ...], str], tuple[int, float]] = {}
    for pos in range(len(frame)):
        row = frame.iloc[pos]
        key = tuple(str(row[c]) for c in label_cols)
        for col in count_cols:
            value = row[col]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            out[(key, col)] = (pos, float(value))
    return out


def _grand_total(
    cells: Mapping[tuple[tuple[str, ...], str], tuple[int, float]],
) -> tuple[int, str, float] | None:
    for (key, col), (pos, value) in cells.items():
        labels = [*key, col] if len({c for _, c in cells}) > 1 else list(key)
        if labels and all(is_total_label(k) for k in labels):
            return pos, col, value
    return None


def _frame_and_layout(
    table: CheckedTable | pd.DataFrame, like: CheckedTable | None = None
) -> tuple[pd.DataFrame, list[str], list[str]]:
    if isinstance(table, CheckedTable):
        return table.released, table.label_cols, table.count_cols
    if like is not None:
        labels = [c for c in like.label_cols if c in table.columns]
    else:
        labels = [str(c) for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    counts = [str(c) for c in table.columns if c not in labels]
    return table, labels, counts


def differencing_flags(
    new: CheckedTable | pd.DataFrame,
    earlier: Mapping[str, CheckedTable | pd.DataFrame],
    profile: Profile | str,
) -> list[DifferenceFlag]:
    """Cells of `new` whose released value differs from an earlier release by 1..threshold-1."""
    prof = get_profile(profile)
    new_frame, new_labels, new_counts = _frame_and_layout(new)
    new_cells = _cells(new_frame, new_labels, new_counts)
    flags: list[DifferenceFlag] = []
    like = new if isinstance(new, CheckedTable) else None
    for name, old in earlier.items():
        old_frame, old_labels, old_counts = _frame_and_layout(old, like)
        old_cells = _cells(old_frame, old_labels, old_counts)
        seen: set[int] = set()
        for ref, (pos, value) in new_cells.items():
            if ref not in old_cells:
                continue
            diff = abs(value - old_cells[ref][1])
            if 0 < diff < prof.min_count:
                flags.append(DifferenceFlag(name, ref[0], ref[1], pos, diff))
                seen.add(pos)
        new_total, old_total = _grand_total(new_cells), _grand_total(old_cells)
        if new_total and old_total and new_total[0] not in seen:
            diff = abs(new_total[2] - old_total[2])
            if 0 < diff < prof.min_count:
                pos, col, _ = new_total
                key = tuple(str(new_frame.iloc[pos][c]) for c in new_labels)
                flags.append(DifferenceFlag(name, key, col, pos, diff))
    return flags


def apply_differencing(
    checked: CheckedTable,
    earlier: Mapping[str, CheckedTable | pd.DataFrame],
) -> list[DifferenceFlag]:
    """Flag cells of a checked table against earlier releases; flagged passing cells become review."""
    flags = differencing_flags(checked, earlier, checked.profile)
    for flag in flags:
        cell = checked.cell(flag.row, flag.column)
        cell.reasons.append(flag.text())
        if cell.verdict == "pass":
            cell.verdict = "review"
    return flags
