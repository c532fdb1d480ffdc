"""Who is treated, from when, and who is in the comparison pool.

Treated: the study's local authorities, matched to the panel by ONS or DfE code, from the first DfE year
(ending 31 March) that contains their go-live date. Comparison pool: every other English LA in the
panel except the authorities known to have run Family Safeguarding before the trial, and any the study
file lists under the optional key

    [did]
    exclude = ["Name or DfE code or ONS code", ...]
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from cscvault.analysis.did.loader import LA_LEVEL, Outcome
from cscvault.errors import DataError, StudyError
from cscvault.study.model import Study

# Authorities that ran Family Safeguarding before the trial (name, DfE code): never comparisons.
EARLY_ADOPTERS: tuple[tuple[str, str], ...] = (
    ("Hertfordshire", "919"),
    ("Luton", "821"),
    ("Peterborough", "874"),
    ("Bracknell Forest", "867"),
    ("West Berkshire", "869"),
    ("Cambridgeshire", "873"),
)
STUDY_EXCLUDE_KEY = "did.exclude"


@dataclass(frozen=True)
class TreatedLA:
    name: str
    dfe_code: str
    ons_code: str
    go_live: dt.date
    first_year: int  # first year ending 31 March containing the go-live date


@dataclass(frozen=True)
class Exclusion:
    dfe_code: str
    name: str
    reason: str


@dataclass(frozen=True)
class Pool:
    treated: tuple[TreatedLA, ...]
    comparison: tuple[str, ...]  # DfE codes
    excluded: tuple[Exclusion, ...]

    def group_of(self, dfe_code: str) -> int:
        for t in self.treated:
            if t.dfe_code == dfe_code:
                return t.first_year
        return 0


def year_ending_march(day: dt.date) -> int:
    """The DfE reporting year (ending 31 March) that contains `day`."""
    return day.year + 1 if day.month >= 4 else day.year


def first_full_year(day: dt.date) -> int:
    """The first DfE reporting year that starts on or after `day` (a sensitivity timing)."""
    return year_ending_march(day) + (0 if (day.month, day.day) == (4, 1) else 1)


def with_first_full_year(pool: Pool) -> Pool:
    """The same pool with each LA treated from the first full DfE year after go-live."""
    treated = tuple(replace(t, first_year=first_full_year(t.go_live)) for t in pool.treated)
    return replace(pool, treated=treated)


def study_exclusions(study: Study) -> tuple[str, ...]:
    """Entries of the optional `[did] exclude` list in the study file."""
    section = study.raw.get("did", {})
    if not isinstance(section, dict):
        raise StudyError("study file: [did] must be a table")
    entries = section.get("exclude", [])
    if not isinstance(entries, list) or not all(isinstance(e, str) and e.strip() for e in entries):
        raise StudyError("study file: [did] exclude must be a list of LA names or codes")
    return tuple(e.strip() for e in entries)


def build_pool(panel: pd.DataFrame, study: Study) -> Pool:
    las = panel[panel["geographic_level"] == LA_LEVEL]
    names = las.sort_values("time_period").groupby("old_la_code")["la_name"].last()
    ons = las.groupby("old_la_code")["new_la_code"].agg(lambda s: set(s))
    treated: list[TreatedLA] = []
    for la in study.local_authorities:
        code = la.dfe_code if la.dfe_code in names.index else _by_ons(ons, la.ons_code)
        if code is None:
            raise DataError(f"panel: study LA '{la.name}' (DfE {la.dfe_code}, ONS {la.ons_code}) is not in the panel")
        treated.append(TreatedLA(la.name, code, la.ons_code, la.go_live, year_ending_march(la.go_live)))
    treated_codes = {t.dfe_code for t in treated}
    excluded = [Exclusion(t.dfe_code, t.name, "study LA (treated)") for t in treated]
    for name, code in EARLY_ADOPTERS:
        if code in names.index and code not in treated_codes:
            excluded.append(Exclusion(code, name, "ran Family Safeguarding before the trial"))
    for entry in study_exclusions(study):
        code = _resolve(entry, names, ons)
        if code is None:
            raise StudyError(f"study file: [did] exclude entry '{entry}' matches no LA name or code in the panel")
        if code not in {e.dfe_code for e in excluded}:
            excluded.append(Exclusion(code, str(names[code]), "listed in the study file ([did] exclude)"))
    out = {e.dfe_code for e in excluded}
    comparison = tuple(sorted(c for c in names.index if c not in out))
    return Pool(tuple(treated), comparison, tuple(excluded))


def _by_ons(ons: pd.Series, ons_code: str) -> str | None:
    for code, codes in ons.items():
        if ons_code in codes:
            return str(code)
    return None


def _resolve(entry: str, names: pd.Series, ons: pd.Series) -> str | None:
    key = entry.casefold()
    if entry in names.index:
        return entry
    for code, name in names.items():
        if str(name).casefold() == key:
            return str(code)
    return _by_ons(ons, entry.upper())


@dataclass(frozen=True)
class AnalysisPanel:
    """The long panel one outcome is estimated on, and the LAs left out for missing values."""

    outcome: Outcome
    data: pd.DataFrame  # columns: la_code, la_name, year, y, group
    years: tuple[int, ...]
    dropped_missing: tuple[str, ...]  # comparison LA names without a full run of years


def analysis_panel(
    panel: pd.DataFrame, pool: Pool, outcome: Outcome, years: tuple[int, int] | None = None
) -> AnalysisPanel:
    """A balanced panel: treated LAs plus comparison LAs observed in every year of the window.

    The window defaults to every year in which the outcome is present for all treated LAs.
    """
    las = panel[(panel["geographic_level"] == LA_LEVEL) & panel[outcome.column].notna()]
    treated_codes = [t.dfe_code for t in pool.treated]
    tr = las[las["old_la_code"].isin(treated_codes)]
    if years is None:
        per_year = tr.groupby("time_period")["old_la_code"].nunique()
        full = per_year[per_year == len(treated_codes)].index
        if len(full) == 0:
            raise DataError(f"panel: outcome '{outcome.column}' has no year observed for every study LA")
        years = (int(full.min()), int(full.max()))
    lo, hi = years
    window = tuple(range(lo, hi + 1))
    use = las[las["old_la_code"].isin([*treated_codes, *pool.comparison]) & las["time_period"].between(lo, hi)]
    counts = use.groupby("old_la_code")["time_period"].nunique()
    complete = set(counts[counts == len(window)].index)
    for t in pool.treated:
        if t.dfe_code not in complete:
            raise DataError(f"panel: study LA '{t.name}' lacks '{outcome.column}' in some year {lo}-{hi}")
    all_las = panel[panel["geographic_level"] == LA_LEVEL]
    names = all_las.sort_values("time_period").groupby("old_la_code")["la_name"].last()
    dropped = tuple(sorted(str(names[c]) for c in pool.comparison if c not in complete))
    use = use[use["old_la_code"].isin(complete)]
    data = pd.DataFrame(
        {
            "la_code": use["old_la_code"].to_numpy(),
            "la_name": use["old_la_code"].map(names).to_numpy(),
            "year": use["time_period"].to_numpy(dtype=np.int64),
            "y": use[outcome.column].to_numpy(dtype=float),
        }
    )
    data["group"] = data["la_code"].map(pool.group_of).astype(np.int64)
    return AnalysisPanel(outcome, data.sort_values(["la_code", "year"]).reset_index(drop=True), window, dropped)
