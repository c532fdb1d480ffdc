"""A CIN census XML as the tables the DfE's validation rules are written against.

The LA-side check needs data items that ingest's reader drops on purpose (closure date and reason,
the CIN-level initial conference date, full dates of birth): the rules are run on the LA's own
machine, in memory, before anything is packaged, and their findings carry no values. Parsing uses
the CIN reader's hardened iterator (no DTD, no entities, no network). Every row keeps its XPath,
counted the way ingest's findings count them (`/Message/Children/Child[n]/CINdetails[k]/...`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from cscvault.formats.cin_census import _DTD, _iter, _local
from cscvault.formats.cin_census_columnar import DETAIL_LEAVES, MODULES  # the census's shape, declared once

# Table -> the data items (element names) read into its columns, besides the bookkeeping columns.
COLUMNS: dict[str, tuple[str, ...]] = {
    "children": (
        "LAchildID",
        "PersonBirthDate",
        "ExpectedPersonBirthDate",
        "GenderCurrent",
        "Sex",
        "PersonDeathDate",
        "Ethnicity",
    ),
    "disabilities": ("Disability",),
    "cin": DETAIL_LEAVES,
    "assessments": ("AssessmentActualStartDate", "AssessmentAuthorisationDate"),
    "plans": MODULES["CINPlanDates"],
    "s47": MODULES["Section47"],
    "cpp": MODULES["ChildProtectionPlans"],
}
_DATES = frozenset({"InitialCPCtarget"})  # dates whose names do not say so
# Module element inside CINdetails -> table.
_MODULES = {"Assessments": "assessments", "CINPlanDates": "plans", "Section47": "s47", "ChildProtectionPlans": "cpp"}


class NotCinCensus(ValueError):
    """The file cannot be read as a CIN census (ingest's reader has already reported why)."""


@dataclass
class Tables:
    """The census as data frames; `child` and `cin` columns are row positions in `children` / `cin`."""

    reference_date: pd.Timestamp | None
    year_text: str | None
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    rules_year: int | None = None  # check against another census year's rules (the header's otherwise)

    @property
    def year(self) -> int | None:
        """Census year as its end year (2024 = 2023/24), from ReferenceDate, else the header's Year."""
        if self.rules_year is not None:
            return self.rules_year
        if self.reference_date is not None:
            return int(self.reference_date.year)
        return int(self.year_text) if self.year_text and self.year_text.isdigit() else None

    @property
    def period(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """The collection period: the day after the reference date a year earlier, to the reference date."""
        if self.reference_date is None:
            return None
        end = self.reference_date
        return end - pd.DateOffset(years=1) + pd.DateOffset(days=1), end

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.frames[name]


def _text(el: Any) -> str | None:
    t = el.text
    if t is None:
        return None
    t = t.strip()
    return t or None


def _leaves(el: Any, names: tuple[str, ...]) -> dict[str, str | None]:
    """The first direct child of each name (as the census schema allows one), else None."""
    found: dict[str, str | None] = dict.fromkeys(names)
    for sub in el:
        n = _local(sub.tag)
        if n in found and found[n] is None:
            found[n] = _text(sub)
    return found


def read_tables(path: Path) -> Tables:
    """Read the census into `Tables` (values stay in memory; nothing is written anywhere)."""
    with Path(path).open("rb") as fh:
        if _DTD.search(fh.read(1 << 20)):
            raise NotCinCensus("DTD")
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in COLUMNS}
    ref: str | None = None
    year: str | None = None
    n_child = 0
    try:
        for el in _iter(path):
            if _local(el.tag) == "Header":
                for sub in el.iter():
                    n = _local(sub.tag)
                    if n == "ReferenceDate":
                        ref = _text(sub)
                    elif n == "Year":
                        year = _text(sub)
                continue
            n_child += 1
            _child(el, f"/Message/Children/Child[{n_child}]", rows)
    except Exception as exc:  # lxml's syntax errors: ingest's reader reports them as FMT-004
        raise NotCinCensus(type(exc).__name__) from None
    frames = {}
    for name, cols in COLUMNS.items():
        extra = ("xpath", "child") if name in ("children", "disabilities", "cin") else ("xpath", "child", "cin")
        if name == "assessments":
            extra = (*extra, "factors")
        df = pd.DataFrame(rows[name], columns=[*extra, *cols])
        for c in cols:
            if "date" in c.lower() or c in _DATES:
                df[c] = pd.to_datetime(df[c], format="%Y-%m-%d", errors="coerce")
        frames[name] = df
    ref_ts = pd.to_datetime(ref, format="%Y-%m-%d", errors="coerce") if ref else None
    return Tables(None if ref_ts is None or pd.isna(ref_ts) else ref_ts, year, frames)


def _child(el: Any, loc: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    child_row = len(rows["children"])
    kid: dict[str, Any] = {"xpath": loc, "child": child_row, **dict.fromkeys(COLUMNS["children"])}
    n_details = 0
    for part in el:
        name = _local(part.tag)
        if name == "ChildIdentifiers":
            kid.update({k: v for k, v in _leaves(part, COLUMNS["children"]).items() if v is not None})
        elif name == "ChildCharacteristics":
            kid.update({k: v for k, v in _leaves(part, ("Ethnicity",)).items() if v is not None})
            for block in part:
                if _local(block.tag) == "Disabilities":
                    for i, d in enumerate((d for d in block if _local(d.tag) == "Disability"), 1):
                        rows["disabilities"].append(
                            {
                                "xpath": f"{loc}/ChildCharacteristics/Disabilities/Disability[{i}]",
                                "child": child_row,
                                "Disability": _text(d),
                            }
                        )
        elif name == "CINdetails":
            n_details += 1
            _details(part, f"{loc}/CINdetails[{n_details}]", child_row, rows)
    rows["children"].append(kid)


def _details(el: Any, loc: str, child_row: int, rows: dict[str, list[dict[str, Any]]]) -> None:
    cin_row = len(rows["cin"])
    rows["cin"].append({"xpath": loc, "child": child_row, **_leaves(el, COLUMNS["cin"])})
    counts: dict[str, int] = {}
    for part in el:
        name = _local(part.tag)
        table = _MODULES.get(name)
        if table is None:
            continue
        counts[name] = counts.get(name, 0) + 1
        rec: dict[str, Any] = {"xpath": f"{loc}/{name}[{counts[name]}]", "child": child_row, "cin": cin_row}
        rec.update(_leaves(part, COLUMNS[table]))
        if table == "assessments":
            factors: list[str] | None = None
            for block in part:
                if _local(block.tag) == "FactorsIdentifiedAtAssessment":
                    codes = [_text(f) or "" for f in block if _local(f.tag) == "AssessmentFactors"]
                    factors = codes or None  # an empty block is the same as none
            rec["factors"] = factors
        rows[table].append(rec)
