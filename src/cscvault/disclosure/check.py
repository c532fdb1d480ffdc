"""Check a table against a profile: per-cell verdicts, secondary suppression, the released table.

A table is a pandas DataFrame with label columns (text) and count columns (numbers of children or
records). It may be long (one count column, one row per category combination) or wide (one count
column per category). Totals are recognised by their label ("Total", "All", "Overall",
"Grand total", any case) in any label column or as a count column's name; each total must equal
(or, when the table also counts something not shown, exceed) the sum of its parts. Those additive
relations are what an attacker would use to recover a suppressed cell, so secondary suppression
and its LP audit run over them (and over linked tables, see `apply_release`).

Magnitude tables (sums or means of a value per cell) carry dominance evidence in extra columns
named by `DominanceColumns`; the evidence columns are never released.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cscvault.disclosure.profiles import Profile, get_profile
from cscvault.disclosure.rules import (
    RULE_CLASS,
    RULE_PUBLISHED_BEFORE,
    RULE_SECONDARY,
    RULE_THRESHOLD,
    RULE_ZERO,
    Dominance,
    Finding,
    Verdict,
    check_cell,
    class_disclosure,
    percent,
    round_to_base,
    verdict_of,
)
from cscvault.disclosure.suppression import Relation, audit_suppression, feasible_intervals, secondary_suppression
from cscvault.errors import DataError, UsageError

TOTAL_LABELS = frozenset({"total", "all", "overall", "grand total", "totals"})
_REL_TOL = 1e-9


def is_total_label(label: Any) -> bool:
    return isinstance(label, str) and label.strip().lower() in TOTAL_LABELS


@dataclass(frozen=True)
class DominanceColumns:
    """Columns of a long table that hold each cell's dominance evidence (never released)."""

    total: str
    top1: str
    top2: str
    top_n: str | None = None
    negatives: str | None = None

    def columns(self) -> list[str]:
        cols = [self.total, self.top1, self.top2, self.top_n, self.negatives]
        return [c for c in cols if c is not None]


@dataclass(frozen=True)
class ColumnRelation:
    """A linear relation that holds in every row of a table: `total = sum(parts)` (`exact`), or
    `sum(parts) <= total` (the parts are some of the total's members, e.g. events among children).

    A flow table declares "referred = excluded + in sample"; the secondary suppression and its LP audit
    then protect suppressed cells against that arithmetic, and the class-disclosure rule knows each
    cell's group."""

    total: str
    parts: tuple[str, ...]
    exact: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "parts": list(self.parts), "exact": self.exact}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ColumnRelation:
        try:
            total, parts, exact = raw["total"], raw["parts"], raw.get("exact", True)
        except (KeyError, TypeError):
            raise UsageError("a relation needs 'total' and 'parts'") from None
        if not isinstance(total, str) or not isinstance(parts, list) or not parts or not isinstance(exact, bool):
            raise UsageError("a relation is {total: column, parts: [columns], exact: true|false}")
        return cls(total, tuple(str(p) for p in parts), exact)


@dataclass(frozen=True)
class TableLink:
    """The same count in two tables of one release: in every row of `table`, `column` equals the sum of
    `other_column` over the rows of `other` with the same labels in the `by` columns (exact), or is at
    least that sum (`exact` False). E.g. the flow table's "analysed" per LA is the sum over periods of the
    rates table's "children" for that LA. Declared by the run that builds both tables (in the output's
    metadata, without `table`: the declaring table is `table`)."""

    table: str
    column: str
    other: str
    other_column: str
    by: tuple[str, ...]
    exact: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "other": self.other,
            "other_column": self.other_column,
            "by": list(self.by),
            "exact": self.exact,
        }

    @classmethod
    def from_dict(cls, table: str, raw: Mapping[str, Any]) -> TableLink:
        try:
            column, other, other_column, by = raw["column"], raw["other"], raw["other_column"], raw["by"]
        except (KeyError, TypeError):
            raise UsageError("a link needs 'column', 'other', 'other_column' and 'by'") from None
        exact = raw.get("exact", True)
        if not all(isinstance(v, str) for v in (column, other, other_column)) or not isinstance(by, list):
            raise UsageError("a link is {column, other, other_column: names, by: [label columns]}")
        return cls(table, column, other, other_column, tuple(str(b) for b in by), bool(exact))

    def renamed(self, table: str, other: str) -> TableLink:
        return TableLink(table, self.column, other, self.other_column, self.by, self.exact)


@dataclass(frozen=True)
class EarlierTable:
    """A table an earlier release published, as the release check feeds it to `apply_release`.

    `ident` names it uniquely (release id / file name); `name` is the file name, so a new table of the
    same name whose cell has the same labels, column and true value is the same count (linked as equal).
    `original` holds the true counts (read inside the vault from the earlier request), `withheld` marks
    (row, column) cells the earlier release did not publish. To the attacker every published cell is a
    known constant; the withheld ones stay unknown, and those withheld by a rule must stay protected."""

    ident: str
    name: str
    original: pd.DataFrame
    count_cols: tuple[str, ...]
    label_cols: tuple[str, ...]
    withheld: frozenset[tuple[int, str]]
    relations: tuple[ColumnRelation, ...] = ()
    links: tuple[TableLink, ...] = ()  # to other tables of its release, by file name


@dataclass
class CellResult:
    """One checked cell. `verdict` is the cell's own (primary) verdict; `released` None = suppressed."""

    table: str
    row: int
    column: str
    value: float | None
    released: float | int | None
    verdict: Verdict
    reasons: list[str]
    is_total: bool = False
    secondary: bool = False

    @property
    def suppressed(self) -> bool:
        return self.released is None


@dataclass
class CheckedTable:
    """The result of `apply_profile`: cells, the released table and the profile stamp."""

    name: str
    profile: Profile
    original: pd.DataFrame
    released: pd.DataFrame
    cells: list[CellResult]
    label_cols: list[str]
    count_cols: list[str]
    value_cols: list[str] = field(default_factory=list)
    withheld_cols: list[str] = field(default_factory=list)

    @property
    def status(self) -> Verdict:
        """The table's verdict before mitigation, as ACRO reports it: fail > review > pass."""
        return verdict_of(Finding("", c.verdict, "") for c in self.cells)

    @property
    def suppressed_count(self) -> int:
        return sum(c.suppressed for c in self.cells)

    def cell(self, row: int, column: str | None = None) -> CellResult:
        column = column or self.count_cols[0]
        for c in self.cells:
            if c.row == row and c.column == column:
                return c
        raise KeyError((row, column))

    def percentages(self, numerator: str, denominator: str, decimals: int | None = None) -> pd.Series:
        """Row-wise percentages computed only from released counts (None where either is withheld)."""
        places = self.profile.percent_decimals if decimals is None else decimals
        for col in (numerator, denominator):
            if col not in self.count_cols:
                raise UsageError(f"percentages: {col!r} is not a checked count column")
        values = [
            percent(_none(n), _none(d), places)
            for n, d in zip(self.released[numerator], self.released[denominator], strict=True)
        ]
        return pd.Series(values, index=self.released.index, name=f"{numerator}_pct", dtype=object)

    def to_json(self) -> dict[str, Any]:
        """The `cscvault disclosure check --json` document."""
        multi = len(self.count_cols) > 1
        cells: list[dict[str, Any]] = []
        for c in self.cells:
            entry: dict[str, Any] = {"row": c.row}
            if multi:
                entry["column"] = c.column
            entry.update(
                {
                    "value": _json_number(c.value),
                    "released": _json_number(c.released),
                    "verdict": c.verdict,
                    "reasons": list(c.reasons),
                }
            )
            cells.append(entry)
        return {
            "profile": self.profile.name,
            "profile_version": self.profile.version,
            "cells": cells,
            "table": released_records(self.released),
        }


def _none(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _json_number(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        if math.isnan(float(value)):
            return None
        if float(value).is_integer():
            return int(value)
        return float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def released_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A released table as JSON-ready records (None for withheld cells)."""
    records: list[dict[str, Any]] = []
    for _, row in frame.iterrows():
        records.append({str(k): _json_number(v) if not _is_na(v) else None for k, v in row.items()})
    return records


def _is_na(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------
# Building the cell vector and its relations
# ---------------------------------------------------------------------------------------------


@dataclass
class _Cells:
    """The cells of one or more tables in one vector, with keys and the additive relations."""

    values: list[float] = field(default_factory=list)
    keys: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)  # (table, key tuple)
    hidden: list[bool] = field(default_factory=list)  # implied totals: known, never shown
    relations: list[Relation] = field(default_factory=list)
    index: dict[tuple[str, tuple[Any, ...]], int] = field(default_factory=dict)

    def add(self, table: str, key: tuple[Any, ...], value: float, hidden: bool = False) -> int:
        ref = (table, key)
        if ref in self.index:
            raise DataError(f"table {table}: two rows have the same labels; a table needs unique labels")
        self.index[ref] = len(self.values)
        self.values.append(value)
        self.keys.append(ref)
        self.hidden.append(hidden)
        return self.index[ref]


def _add_relations(cells: _Cells, table: str, ndim: int, implied_totals: bool) -> None:
    """Relations along every key dimension: a total-labelled cell = sum of its siblings."""
    for dim in range(ndim):
        members = [i for i, (t, _) in enumerate(cells.keys) if t == table]
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i in members:
            key = cells.keys[i][1]
            groups.setdefault(key[:dim] + key[dim + 1 :], []).append(i)
        has_totals = any(is_total_label(cells.keys[i][1][dim]) for i in members)
        for rest, group in groups.items():
            totals = [i for i in group if is_total_label(cells.keys[i][1][dim])]
            parts = tuple(i for i in group if not is_total_label(cells.keys[i][1][dim]))
            if not parts:
                continue
            if not totals and implied_totals and not has_totals:
                key = (*rest[:dim], "Total", *rest[dim:])
                total_value = float(sum(cells.values[p] for p in parts))
                totals = [cells.add(table, key, total_value, hidden=True)]
            for tot in totals:
                if any(math.isnan(cells.values[c]) for c in (tot, *parts)):
                    continue
                part_sum = sum(cells.values[p] for p in parts)
                gap = cells.values[tot] - part_sum
                scale = max(1.0, abs(cells.values[tot]))
                if gap < -_REL_TOL * scale:
                    raise DataError(
                        f"table {table}: a total ({_describe(cells.keys[tot][1])}) is smaller than the "
                        "sum of its parts; fix the totals before checking"
                    )
                cells.relations.append(Relation(tot, parts, exact=abs(gap) <= _REL_TOL * scale))


def _describe(key: tuple[Any, ...]) -> str:
    return " / ".join(str(k) for k in key)


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


@dataclass
class _Layout:
    label_cols: list[str]
    count_cols: list[str]
    value_cols: list[str]
    withheld_cols: list[str]
    dominance: DominanceColumns | None


def _layout(
    table: pd.DataFrame,
    count_cols: Sequence[str] | None,
    label_cols: Sequence[str] | None,
    value_cols: Sequence[str] | None,
    dominance: DominanceColumns | None,
    name: str,
) -> _Layout:
    columns = [str(c) for c in table.columns]
    evidence = dominance.columns() if dominance else []
    for col in [*(count_cols or []), *(label_cols or []), *(value_cols or []), *evidence]:
        if col not in columns:
            raise UsageError(f"table {name}: no column named {col!r}")
    numeric = [
        c for c in columns if pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])
    ]
    # Text columns are always labels; numeric ones (a year, an LA code) only when named.
    named = set(label_cols or [])
    labels = [c for c in columns if c not in numeric or c in named]
    if count_cols is None:
        counts = [c for c in numeric if c not in labels and c not in evidence and c not in (value_cols or [])]
        if not counts:
            raise DataError(f"table {name}: no numeric count column found; name one with --count-col")
    else:
        counts = list(count_cols)
    for col in counts:
        if col not in numeric:
            raise DataError(f"table {name}: count column {col!r} is not numeric")
        if not all(_is_na(v) or float(v).is_integer() for v in table[col]):
            raise DataError(f"table {name}: count column {col!r} holds values that are not whole numbers")
    if dominance is not None and len(counts) != 1:
        raise UsageError(f"table {name}: dominance evidence needs a long table with one count column")
    values = list(value_cols or [])
    used = set(labels) | set(counts) | set(values)
    withheld = [c for c in columns if c not in used]
    return _Layout(labels, counts, values, withheld, dominance)


def _row_key(table: pd.DataFrame, row: int, labels: Sequence[str]) -> tuple[Any, ...]:
    if not labels:
        return (str(table.index[row]),)
    return tuple(_label(table.iloc[row][c]) for c in labels)


def _label(value: Any) -> Any:
    if _is_na(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _dominance_for(table: pd.DataFrame, row: int, spec: DominanceColumns) -> Dominance | None:
    data = table.iloc[row]
    try:
        total = float(data[spec.total])
        top1 = float(data[spec.top1])
        top2 = float(data[spec.top2])
        top_n = float(data[spec.top_n]) if spec.top_n else None
        negatives = int(data[spec.negatives]) if spec.negatives else 0
    except (TypeError, ValueError):
        raise DataError(f"row {row}: dominance evidence is not numeric") from None
    if any(math.isnan(v) for v in (total, top1, top2)):
        return Dominance(total=0.0, top1=0.0, top2=0.0, top_n=None if top_n is None else 0.0, negatives=negatives)
    return Dominance(total=total, top1=top1, top2=top2, top_n=top_n, negatives=negatives)


@dataclass
class _Prepared:
    name: str
    table: pd.DataFrame
    layout: _Layout
    cell_ids: dict[tuple[int, str], int]
    findings: dict[int, list[Finding]]


def _prepare(
    cells: _Cells,
    name: str,
    table: pd.DataFrame,
    profile: Profile,
    layout: _Layout,
    implied_totals: bool,
    column_relations: Sequence[ColumnRelation] = (),
) -> _Prepared:
    table = table.reset_index(drop=True)
    wide = len(layout.count_cols) > 1
    cell_ids: dict[tuple[int, str], int] = {}
    findings: dict[int, list[Finding]] = {}
    spec = layout.dominance
    negatives = bool(spec and spec.negatives and (pd.to_numeric(table[spec.negatives], errors="coerce") > 0).any())
    for row in range(len(table)):
        key = _row_key(table, row, layout.label_cols)
        for col in layout.count_cols:
            raw = table.iloc[row][col]
            value = math.nan if _is_na(raw) else float(raw)
            full_key = (*key, col) if wide else key
            cid = cells.add(name, full_key, value)
            cell_ids[(row, col)] = cid
            dominance = _dominance_for(table, row, layout.dominance) if layout.dominance else None
            count = None if math.isnan(value) else value
            findings[cid] = check_cell(profile, count, dominance, table_has_negatives=negatives)
    ndim = len(layout.label_cols or [None]) + (1 if wide else 0)
    _add_relations(cells, name, ndim, implied_totals)
    _add_column_relations(cells, name, table, cell_ids, layout, column_relations)
    return _Prepared(name, table, layout, cell_ids, findings)


def _add_column_relations(
    cells: _Cells,
    name: str,
    table: pd.DataFrame,
    cell_ids: Mapping[tuple[int, str], int],
    layout: _Layout,
    declared: Sequence[ColumnRelation],
) -> None:
    """Declared row-wise relations; a row where one does not hold is a one-line DataError."""
    for rel in declared:
        for col in (rel.total, *rel.parts):
            if col not in layout.count_cols:
                raise UsageError(f"table {name}: relation names {col!r}, which is not a count column")
        for row in range(len(table)):
            total = cell_ids[(row, rel.total)]
            parts = tuple(cell_ids[(row, p)] for p in rel.parts)
            if any(math.isnan(cells.values[c]) for c in (total, *parts)):
                continue
            gap = cells.values[total] - sum(cells.values[p] for p in parts)
            if gap < -_REL_TOL or (rel.exact and abs(gap) > _REL_TOL * max(1.0, abs(cells.values[total]))):
                sign = "=" if rel.exact else ">="
                raise DataError(
                    f"table {name}: row {row}: the declared relation {rel.total} {sign} {' + '.join(rel.parts)} "
                    "does not hold"
                )
            cells.relations.append(Relation(total, parts, exact=rel.exact))


def _class_findings(cells: _Cells, prepared: Sequence[_Prepared], profile: Profile, structural: set[int]) -> None:
    """Class disclosure over every group the release knows: totals, margins, declared relations.

    In an exact relation the rest of the group is published (the other parts, each checked by the
    threshold rule), so only "all of the group" is flagged there; where the total counts members not
    shown (`sum(parts) <= total`, e.g. events among children) the rest is derivable and unchecked, so
    fewer than `class_threshold` outside the cell is flagged too. An exact relation with one part is an
    identity (the same count twice), not a group."""
    if profile.class_threshold <= 0:
        return
    owner = {cid: prep for prep in prepared for cid in prep.findings}
    for rel in cells.relations:
        if rel.exact and len(rel.parts) < 2:
            continue
        threshold = 1 if rel.exact else profile.class_threshold
        group = cells.values[rel.total]
        for part in rel.parts:
            prep = owner.get(part)
            if prep is None or prep.layout.dominance is not None:  # frequencies only, as ACRO's ontology
                continue
            found = prep.findings[part]
            kind = class_disclosure(cells.values[part], group, threshold, part in structural)
            if kind is None or any(f.rule == RULE_CLASS for f in found):
                continue
            if kind == "none":
                if any(f.rule == RULE_ZERO for f in found):
                    continue  # the zeros rule already says it
                message = "none of its group (of non-zero size) is counted here"
            elif threshold > 1:
                message = f"all, or all but fewer than {threshold}, of its group are counted here"
            else:
                message = "all of its group are counted here"
            found.append(Finding(RULE_CLASS, "fail", message))


def _exempt_structural_zeros(prepared: Sequence[_Prepared], cells: _Cells, structural: set[int]) -> None:
    """A declared structural zero (an impossible combination) discloses nothing: no zero/threshold finding."""
    for prep in prepared:
        for cid, found in prep.findings.items():
            if cid in structural and cells.values[cid] == 0:
                found[:] = [f for f in found if f.rule not in (RULE_ZERO, RULE_THRESHOLD)]


def _suppress(
    cells: _Cells,
    prepared: Sequence[_Prepared],
    profile: Profile,
    earlier: Sequence[tuple[EarlierTable, _Prepared]] = (),
    out_before: Iterable[int] = (),
) -> np.ndarray:
    """The suppression pattern over every cell, and `RULE_SECONDARY` fail findings for exposed cells.

    Cells of earlier releases take part as the attacker sees them: published ones are known constants
    (locked: never withheld, never shown again), withheld ones stay unknown (`also_withheld`). Those an
    earlier release withheld by a rule are protected targets too, unless the earlier releases alone
    already expose them (nothing this release withholds could change that; the earlier release's own
    audit answered for it). `out_before`: new cells equal to a published earlier cell: already out, so
    they are released (locked) rather than protected."""
    values = np.array([0.0 if math.isnan(v) else v for v in cells.values])
    primary = np.zeros(len(values), dtype=bool)
    for prep in prepared:
        for cid, found in prep.findings.items():
            primary[cid] = verdict_of(found) != "pass"
    locked = np.array(cells.hidden, dtype=bool)
    for cid in out_before:
        locked[cid] = True
        primary[cid] = False
    old_withheld = np.zeros(len(values), dtype=bool)
    old_targets: list[int] = []
    protection = np.full(len(values), float(profile.protection))
    for table, prep in earlier:
        for (row, col), cid in prep.cell_ids.items():
            if (row, col) in table.withheld:
                old_withheld[cid] = True
                old_targets.append(cid)
                if verdict_of(prep.findings[cid]) == "pass":
                    # Withheld earlier as secondary suppression: it needs no protection range, but this
                    # release must not pin it either (the earlier release promised it was withheld).
                    protection[cid] = 0.0
            else:
                locked[cid] = True
    # Missing counts are unknown to everyone: drop relations that involve them.
    relations = [r for r in cells.relations if not any(math.isnan(cells.values[c]) for c in r.members())]
    # What the earlier releases alone tell the attacker: every new cell unknown.
    before = old_withheld | ~locked
    if earlier and primary.any():
        # A rule-failing new cell that the earlier releases already pin (e.g. a total whose parts they
        # published) is out: show it (for review) and protect the others knowing it, as if published before.
        known = feasible_intervals(values, before, relations, [int(c) for c in np.flatnonzero(primary)])
        derived = [cell for cell, interval in known.items() if interval.width <= 1e-6]
        _mark_published_before(prepared, derived)
        for cid in derived:
            locked[cid] = True
            primary[cid] = False
    if old_targets:
        exposed_before = set(audit_suppression(values, before, relations, old_targets, protection))
        for cid in old_targets:
            if cid not in exposed_before:
                primary[cid] = True
                old_withheld[cid] = False
    suppressed = secondary_suppression(
        values, primary, relations, protection, never_suppress=locked, also_withheld=old_withheld
    )
    suppressed = _release_pinned(values, suppressed, primary | old_withheld, relations)
    exposed = audit_suppression(values, suppressed, relations, list(np.flatnonzero(primary)), protection)
    for prep in prepared:
        for cid in exposed:
            if cid in prep.findings:
                prep.findings[cid].append(
                    Finding(
                        RULE_SECONDARY,
                        "fail",
                        "totals published elsewhere narrow this withheld cell below the protection range",
                    )
                )
    return suppressed


def _release_pinned(
    values: np.ndarray, suppressed: np.ndarray, keep: np.ndarray, relations: list[Relation]
) -> np.ndarray:
    """Show again the secondary cells the attacker can compute exactly anyway (e.g. a total whose parts an
    earlier release published): a value already fixed by what is known adds nothing to the attacker's
    knowledge, so the feasible set, and with it every other cell's protection, is unchanged; withholding
    it would only hide what anyone can add up. `keep`: cells that stay withheld whatever (rule-failing ones,
    and cells of earlier releases)."""
    candidates = [int(c) for c in np.flatnonzero(suppressed & ~keep)]
    if not candidates:
        return suppressed
    out = suppressed.copy()
    for cell, interval in feasible_intervals(values, suppressed, relations, candidates).items():
        if interval.width <= 1e-6:
            out[cell] = False
    return out


def _finish(prep: _Prepared, suppressed: np.ndarray, profile: Profile) -> CheckedTable:
    table, layout = prep.table, prep.layout
    released = table[layout.label_cols + layout.count_cols + layout.value_cols].copy()
    for col in layout.count_cols + layout.value_cols:
        released[col] = released[col].astype(object)
    results: list[CellResult] = []
    for (row, col), cid in prep.cell_ids.items():
        found = prep.findings[cid]
        verdict = verdict_of(found)
        reasons = [f.text() for f in found]
        value = table.iloc[row][col]
        secondary = bool(suppressed[cid]) and verdict == "pass"
        if secondary:
            reasons.append(f"{RULE_SECONDARY}: withheld so that a withheld cell cannot be recovered from totals")
        if suppressed[cid]:
            out: float | int | None = None
            released.at[row, col] = None
            for vcol in layout.value_cols if len(layout.count_cols) == 1 else []:
                released.at[row, vcol] = None
        else:
            out = round_to_base(float(value), profile.round_base)
            released.at[row, col] = out
        results.append(
            CellResult(
                table=prep.name,
                row=row,
                column=col,
                value=None if _is_na(value) else float(value),
                released=out,
                verdict=verdict,
                reasons=reasons,
                is_total=any(is_total_label(k) for k in _row_key(table, row, layout.label_cols)) or is_total_label(col),
                secondary=secondary,
            )
        )
    return CheckedTable(
        name=prep.name,
        profile=profile,
        original=table,
        released=released,
        cells=results,
        label_cols=layout.label_cols,
        count_cols=layout.count_cols,
        value_cols=layout.value_cols,
        withheld_cols=layout.withheld_cols,
    )


def apply_profile(
    table: pd.DataFrame,
    profile: Profile | str,
    count_cols: Sequence[str] | None = None,
    *,
    label_cols: Sequence[str] | None = None,
    value_cols: Sequence[str] | None = None,
    dominance: DominanceColumns | None = None,
    implied_totals: bool = False,
    margins: bool = False,
    name: str = "table",
    relations: Sequence[ColumnRelation] = (),
    structural_zeros: Iterable[tuple[Any, ...]] = (),
) -> CheckedTable:
    """Check one table and return its verdicts and released (suppressed, rounded) form.

    `count_cols`: the count columns (default: every numeric column that is not evidence or a value).
    `label_cols`: numeric columns that are labels (text columns always are).
    `value_cols`: magnitude columns withheld together with their row's count (long tables).
    `dominance`: columns with each cell's dominance evidence (withheld from the release).
    `implied_totals`: the totals are published elsewhere (e.g. the cohort size), so protect
    suppressed cells against them even though the table does not show them.
    `margins`: add a "Total" row (and a "Total" column when there are several count columns) to a
    count table with at most one label column; the totals are checked and released like any cell.
    `relations`: linear relations that hold in every row (see `ColumnRelation`).
    `structural_zeros`: keys of cells that are zero by definition (see `apply_release`).
    """
    if margins:
        table = with_margins(table, count_cols, label_cols)
    return apply_release(
        {name: table},
        profile,
        count_cols={name: count_cols} if count_cols is not None else None,
        label_cols={name: label_cols} if label_cols is not None else None,
        value_cols={name: value_cols} if value_cols is not None else None,
        dominance={name: dominance} if dominance is not None else None,
        implied_totals=implied_totals,
        relations={name: relations} if relations else None,
        structural_zeros=[(name, tuple(k)) for k in structural_zeros],
    )[name]


def with_margins(
    table: pd.DataFrame, count_cols: Sequence[str] | None = None, label_cols: Sequence[str] | None = None
) -> pd.DataFrame:
    """The table with a "Total" row, and a "Total" column when it has several count columns."""
    layout = _layout(table, count_cols, label_cols, None, None, "table")
    if len(layout.label_cols) > 1:
        raise UsageError("margins: a table with several label columns needs its totals as rows")
    if any(is_total_label(c) for c in layout.count_cols) or any(
        is_total_label(v) for c in layout.label_cols for v in table[c]
    ):
        raise UsageError("margins: the table already has totals")
    out = table[layout.label_cols + layout.count_cols].reset_index(drop=True).copy()
    if len(layout.count_cols) > 1:
        out["Total"] = out[layout.count_cols].sum(axis=1, min_count=len(layout.count_cols))
    total_row: dict[str, Any] = {c: out[c].sum(min_count=len(out)) for c in out.columns if c not in layout.label_cols}
    for col in layout.label_cols:
        total_row[col] = "Total"
    if not layout.label_cols:
        out.index = [str(i) for i in out.index]
        out.loc["Total"] = total_row
        return out.rename_axis("row").reset_index()
    return pd.concat([out, pd.DataFrame([total_row])], ignore_index=True)


CellRef = tuple[str, tuple[Any, ...]]


def apply_release(
    tables: Mapping[str, pd.DataFrame],
    profile: Profile | str,
    *,
    count_cols: Mapping[str, Sequence[str] | None] | None = None,
    label_cols: Mapping[str, Sequence[str] | None] | None = None,
    value_cols: Mapping[str, Sequence[str] | None] | None = None,
    dominance: Mapping[str, DominanceColumns | None] | None = None,
    links: Iterable[tuple[CellRef, Sequence[CellRef]]] = (),
    link_equal_keys: bool = False,
    implied_totals: bool = False,
    relations: Mapping[str, Sequence[ColumnRelation]] | None = None,
    structural_zeros: Iterable[CellRef] = (),
    exact_links: bool = True,
    table_links: Sequence[TableLink] = (),
    earlier: Sequence[EarlierTable] = (),
) -> dict[str, CheckedTable]:
    """Check several tables released together, protecting suppressed cells across them.

    With `link_equal_keys`, cells of different tables with the same key and the same value are
    taken to describe the same group and linked as equal (e.g. the LA totals of an LA x arm and an
    LA x period table); off by default because equal labels can mean different things.
    `links` adds relations: (total cell, [part cells]) where a cell is (table name, key) and a key
    is the row's label values, plus the column name when the table has more than one count column.
    `relations`: per table, row-wise linear relations between its count columns (`ColumnRelation`).
    `structural_zeros`: cells (as in `links`) that are zero by definition; under a profile whose
    `structural_zeros` is "declared" they are neither a disclosive zero nor "none of the group".
    `exact_links`: False when a link's total may count more than its parts.
    `table_links`: the same count in two tables, row by row (`TableLink`); a link may name an earlier
    table by its `ident`.
    `earlier`: tables published by earlier releases (`EarlierTable`): their published cells are known
    to the attacker, their withheld ones stay protected, and a new cell equal to an earlier one of the
    same table name, labels and column is linked to it (one count, published twice). Earlier tables are
    taken in the order given and cells in row order, so the result is deterministic (the export rebuilds
    it and must get the approved bytes).
    The class-disclosure rule, the secondary suppression and its audit run over all of it.
    """
    prof = get_profile(profile)
    cells = _Cells()
    prepared: list[_Prepared] = []
    for name, frame in tables.items():
        layout = _layout(
            frame,
            (count_cols or {}).get(name),
            (label_cols or {}).get(name),
            (value_cols or {}).get(name),
            (dominance or {}).get(name),
            name,
        )
        prepared.append(_prepare(cells, name, frame, prof, layout, implied_totals, (relations or {}).get(name, ())))
    if link_equal_keys and len(tables) > 1:
        _link_equal_keys(cells)
    for total_ref, part_refs in links:
        for ref in (total_ref, *part_refs):
            if ref not in cells.index:
                raise UsageError(f"link: no cell {_describe(ref[1])} in table {ref[0]}")
        cells.relations.append(
            Relation(cells.index[total_ref], tuple(cells.index[r] for r in part_refs), exact=exact_links)
        )
    structural: set[int] = set()
    for ref in structural_zeros:
        if ref not in cells.index:
            raise UsageError(f"structural zero: no cell {_describe(ref[1])} in table {ref[0]}")
        structural.add(cells.index[ref])
    if prof.structural_zeros != "declared":
        structural = set()
    old = [(table, _prepare_earlier(cells, table, prof)) for table in earlier]
    by_name = {prep.name: prep for prep in prepared} | {prep.name: prep for _, prep in old}
    for link in table_links:
        _add_table_link(cells, by_name, link)
    out_before = _link_earlier_versions(cells, {p.name for p in prepared}, old)
    _exempt_structural_zeros(prepared, cells, structural)
    _class_findings(cells, prepared, prof, structural)
    _mark_published_before(prepared, out_before)
    suppressed = _suppress(cells, prepared, prof, old, out_before)
    return {prep.name: _finish(prep, suppressed, prof) for prep in prepared}


def _prepare_earlier(cells: _Cells, table: EarlierTable, profile: Profile) -> _Prepared:
    layout = _layout(table.original, list(table.count_cols), list(table.label_cols), None, None, table.ident)
    return _prepare(cells, table.ident, table.original, profile, layout, False, table.relations)


def _add_table_link(cells: _Cells, by_name: Mapping[str, _Prepared], link: TableLink) -> None:
    """One relation per row of the declaring table: its cell = sum of the matching cells of the other."""
    if link.table not in by_name or link.other not in by_name:
        raise UsageError(f"link: no table {link.other if link.table in by_name else link.table} in this release")
    mine, theirs = by_name[link.table], by_name[link.other]
    for prep, col in ((mine, link.column), (theirs, link.other_column)):
        if col not in prep.layout.count_cols:
            raise UsageError(f"link: {col!r} is not a count column of table {prep.name}")
        missing = [b for b in link.by if b not in prep.layout.label_cols]
        if missing:
            raise UsageError(f"link: {missing[0]!r} is not a label column of table {prep.name}")

    def labels(prep: _Prepared, row: int) -> tuple[Any, ...]:
        return tuple(_label(prep.table.iloc[row][b]) for b in link.by)

    groups: dict[tuple[Any, ...], list[int]] = {}
    for row in range(len(theirs.table)):
        groups.setdefault(labels(theirs, row), []).append(theirs.cell_ids[(row, link.other_column)])
    for row in range(len(mine.table)):
        total = mine.cell_ids[(row, link.column)]
        parts = tuple(groups.get(labels(mine, row), ()))
        if not parts or any(math.isnan(cells.values[c]) for c in (total, *parts)):
            continue
        gap = cells.values[total] - sum(cells.values[p] for p in parts)
        if gap < -_REL_TOL or (link.exact and abs(gap) > _REL_TOL * max(1.0, abs(cells.values[total]))):
            raise DataError(
                f"table {link.table}: row {row}: the declared link {link.column} = sum of {link.other}'s "
                f"{link.other_column} does not hold"
            )
        cells.relations.append(Relation(total, parts, exact=link.exact))


def _link_earlier_versions(cells: _Cells, names: set[str], old: Sequence[tuple[EarlierTable, _Prepared]]) -> list[int]:
    """Link each new cell to the same count in earlier versions of its table; the new cells whose
    count an earlier release already published (in the order found, each once)."""
    out: list[int] = []
    for table, prep in old:
        if table.name not in names:
            continue
        for (row, col), cid in prep.cell_ids.items():
            twin = cells.index.get((table.name, cells.keys[cid][1]))
            if twin is None or math.isnan(cells.values[twin]) or cells.values[twin] != cells.values[cid]:
                continue  # a different count under the same labels: differencing looks at that
            cells.relations.append(Relation(twin, (cid,)))
            if (row, col) not in table.withheld and twin not in out:
                out.append(twin)
    return out


def _mark_published_before(prepared: Sequence[_Prepared], out_before: Sequence[int]) -> None:
    """A cell an earlier release published is out: withholding it now would protect nothing and only
    mislead about what is known. It is shown again; a rule it fails becomes a note for the checker."""
    for prep in prepared:
        for cid in out_before:
            found = prep.findings.get(cid)
            if found is not None and verdict_of(found) != "pass":
                found[:] = [
                    Finding(
                        RULE_PUBLISHED_BEFORE,
                        "review",
                        "earlier releases published this count, or enough to derive it",
                    )
                ]


def _link_equal_keys(cells: _Cells) -> None:
    by_key: dict[tuple[Any, ...], list[int]] = {}
    for i, (_, key) in enumerate(cells.keys):
        by_key.setdefault(key, []).append(i)
    for group in by_key.values():
        tables = {cells.keys[i][0] for i in group}
        if len(tables) < 2:
            continue
        first = group[0]
        for other in group[1:]:
            if cells.keys[other][0] != cells.keys[first][0] and cells.values[other] == cells.values[first]:
                cells.relations.append(Relation(first, (other,)))


# ---------------------------------------------------------------------------------------------
# Tables from row-level data (inside the vault) and from files (outside it)
# ---------------------------------------------------------------------------------------------


def _top_sum(values: np.ndarray, n: int) -> float:
    if len(values) == 0:
        return 0.0
    return float(np.sort(values)[::-1][:n].sum())


def _stats_row(sub: pd.DataFrame, values: str | None, aggfunc: str, nk_n: int) -> dict[str, Any]:
    row: dict[str, Any] = {"n": len(sub)}
    if values is not None and aggfunc != "count":
        contrib = sub[values].dropna().to_numpy(dtype=float)
        total = float(contrib.sum())
        row[aggfunc] = total if aggfunc == "sum" else (total / len(contrib) if len(contrib) else math.nan)
        row["_total"] = total
        row["_top1"] = _top_sum(contrib, 1)
        row["_top2"] = _top_sum(contrib, 2) - _top_sum(contrib, 1)
        row["_top_n"] = _top_sum(contrib, nk_n)
        row["_negatives"] = int((contrib < 0).sum())
    return row


def tabulate(
    data: pd.DataFrame,
    index: str | Sequence[str],
    columns: str | Sequence[str] | None = None,
    values: str | None = None,
    aggfunc: str = "count",
    *,
    nk_n: int = 2,
    margins: bool = False,
) -> tuple[pd.DataFrame, DominanceColumns | None]:
    """A long table of every category combination (empty ones included, as ACRO does).

    Columns: the category columns, `n` (records per cell) and, for `sum`/`mean`, the value
    (`sum`/`mean`) plus dominance evidence columns. Category combinations follow the observed
    categories of each variable (all combinations, so empty cells appear as 0). With `margins`,
    rows labelled "Total" add every subtotal and the grand total (their evidence recomputed from
    the records), so the checks and the secondary suppression see the margins too.
    """
    idx = [index] if isinstance(index, str) else list(index)
    cols = [] if columns is None else ([columns] if isinstance(columns, str) else list(columns))
    dims = idx + cols
    if aggfunc not in {"count", "sum", "mean"}:
        raise UsageError(f"tabulate: aggfunc must be count, sum or mean, not {aggfunc!r}")
    if aggfunc != "count" and values is None:
        raise UsageError("tabulate: a sum or mean needs a values column")
    records = data.dropna(subset=dims)
    levels = [sorted(records[d].unique().tolist(), key=str) for d in dims]
    if margins and any(is_total_label(str(v)) for lv in levels for v in lv):
        raise UsageError("tabulate: a category is named like a total; rename it before adding margins")
    rows: list[dict[str, Any]] = []
    patterns = list(itertools.product([False, True], repeat=len(dims))) if margins else [(False,) * len(dims)]
    for pattern in patterns:
        kept = [d for d, total in zip(dims, pattern, strict=True) if not total]
        kept_levels = [lv for lv, total in zip(levels, pattern, strict=True) if not total]
        groups = records.groupby(kept, observed=True) if kept else None
        for combo in itertools.product(*kept_levels):
            if groups is None:
                sub = records
            else:
                try:
                    sub = groups.get_group(tuple(combo))
                except KeyError:
                    sub = records.iloc[0:0]
            labels = iter(combo)
            row = {d: ("Total" if total else next(labels)) for d, total in zip(dims, pattern, strict=True)}
            row.update(_stats_row(sub, values, aggfunc, nk_n))
            rows.append(row)
    frame = pd.DataFrame(rows)
    for d in dims:
        frame[d] = frame[d].astype(str)
    if values is None or aggfunc == "count":
        return frame, None
    return frame, DominanceColumns("_total", "_top1", "_top2", "_top_n", "_negatives")


def check_microdata(
    data: pd.DataFrame,
    index: str | Sequence[str],
    columns: str | Sequence[str] | None,
    profile: Profile | str,
    *,
    values: str | None = None,
    aggfunc: str = "count",
    margins: bool = False,
    name: str = "table",
) -> CheckedTable:
    """Tabulate row-level data and check the table (ACRO's crosstab/pivot_table, in our rules)."""
    prof = get_profile(profile)
    frame, dominance = tabulate(data, index, columns, values, aggfunc, nk_n=prof.nk_n or 2, margins=margins)
    value_cols = [aggfunc] if aggfunc != "count" else []
    return apply_profile(
        frame,
        prof,
        count_cols=["n"],
        value_cols=value_cols,
        dominance=dominance,
        name=name,
    )
