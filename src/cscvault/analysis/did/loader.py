"""The published DfE local-authority panel: the shipped copy, and newer releases laid over it.

The shipped panel (package data, Open Government Licence v3; see data/SOURCES.md) has one row per
year ending 31 March and DfE LA code. A newer release can be given either as a panel CSV in the same
layout or as a folder of the Department's explore-education-statistics CSVs; the files are recognised by
their columns, and for any LA-year both cover, the newer value wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from cscvault.errors import DataError, UsageError

PANEL_FILE = "la_year_panel_2012_2025.csv"
SOURCES_FILE = "SOURCES.md"
ENGLAND_CODE = "999"
LA_LEVEL = "Local authority"
ATTRIBUTION = (
    "Contains public sector information licensed under the Open Government Licence v3.0. "
    "Source: Department for Education, children looked after in England and characteristics of "
    "children in need (official statistics); ONS mid-year population estimates as re-published by DfE."
)

# The key and descriptive columns every panel must have.
KEY_COLUMNS = ("time_period", "geographic_level", "old_la_code", "new_la_code", "la_name")
_TEXT_COLUMNS = frozenset({*KEY_COLUMNS, "region_name", "cla31_rate_source"} - {"time_period"})
# Published suppression and missing-value markers: all read as missing.
MISSING_MARKERS = ("c", "x", "z", "low", "k", "u", "..", ":", "")


@dataclass(frozen=True)
class Outcome:
    """An outcome of the supplementary analysis: a panel column and how to describe it."""

    id: str
    column: str
    label: str
    unit: str


OUTCOMES: tuple[Outcome, ...] = (
    Outcome("cla_rate", "cla31_rate", "Children looked after at 31 March, per 10,000 children", "per 10,000"),
    Outcome(
        "cpp_rate",
        "cpp31_rate_derived",
        "Children on a child protection plan at 31 March, per 10,000 children",
        "per 10,000",
    ),
    Outcome("rereferral_pct", "rereferral_pct", "Re-referrals within 12 months, % of referrals", "%"),
)


def outcome(id_or_column: str) -> Outcome:
    for o in OUTCOMES:
        if id_or_column in {o.id, o.column}:
            return o
    known = ", ".join(o.id for o in OUTCOMES)
    raise UsageError(f"unknown outcome '{id_or_column}' (known: {known})")


def shipped_panel_text() -> str:
    return resources.files("cscvault.analysis.did.data").joinpath(PANEL_FILE).read_text(encoding="utf-8")


def sources_text() -> str:
    return resources.files("cscvault.analysis.did.data").joinpath(SOURCES_FILE).read_text(encoding="utf-8")


def load_panel(newer: str | Path | None = None) -> pd.DataFrame:
    """The shipped panel, with a newer release (panel CSV or folder of published CSVs) laid over it."""
    with resources.as_file(resources.files("cscvault.analysis.did.data").joinpath(PANEL_FILE)) as path:
        base = read_panel_csv(path)
    if newer is None:
        return base
    return overlay(base, read_release(Path(newer)))


@dataclass(frozen=True)
class Release:
    """A newer release: panel parts (oldest first; later ones win) and an optional population file."""

    parts: tuple[pd.DataFrame, ...]
    population: pd.DataFrame | None = None


def read_panel_csv(path: Path) -> pd.DataFrame:
    """A panel CSV in the shipped layout, with codes as text and measures as numbers."""
    frame = _read_csv(path)
    missing = [c for c in KEY_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{path.name}: not a panel in the shipped layout (missing column(s) {', '.join(missing)})")
    return _normalise(frame, path.name)


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", na_values=[], low_memory=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path.name}: cannot be read as CSV ({type(exc).__name__})") from None


def _normalise(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if col in _TEXT_COLUMNS:
            out[col] = out[col].fillna("").astype(str).str.strip()
            continue
        out[col] = _numbers(out[col], source, col)
    if out["time_period"].isna().any():
        raise DataError(f"{source}: column 'time_period' has a missing or non-numeric value")
    out["time_period"] = out["time_period"].astype(np.int64)
    out["old_la_code"] = out["old_la_code"].map(_code)
    if out.duplicated(["time_period", "old_la_code"]).any():
        raise DataError(f"{source}: more than one row for a (time_period, old_la_code)")
    return out.sort_values(["old_la_code", "time_period"]).reset_index(drop=True)


def _code(value: str) -> str:
    """DfE LA codes as text without a decimal tail ("335.0" -> "335")."""
    text = str(value).strip()
    return text[:-2] if text.endswith(".0") else text


def _numbers(col: pd.Series, source: str, name: str) -> pd.Series:
    """Published values as numbers; suppression codes become missing. Errors name the file row."""
    if pd.api.types.is_numeric_dtype(col):
        return col.astype(float)
    text = col.astype(str).str.strip().str.replace(",", "", regex=False)
    text = text.where(~text.str.lower().isin(MISSING_MARKERS) & col.notna())
    nums = pd.to_numeric(text, errors="coerce")
    bad = text.notna() & nums.isna()
    if bad.any():
        row = int(bad[bad].index[0]) + 2  # the frame keeps the file's row order: +1 header, +1 from 1
        raise DataError(f"{source}: column '{name}' row {row}: not a number or a published missing-value code")
    return nums


# -- newer releases ----------------------------------------------------------------------------------

_CLA_COUNT = ("children_count", "number")
_CLA_TYPE = ("population_type", "population_count")


def read_release(path: Path) -> Release:
    """A newer release: a panel CSV or a published CSV, or a folder of them (recognised by their columns)."""
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(path.glob("*.csv"))
    else:
        raise UsageError(f"{path}: no such file or folder")
    parts: list[pd.DataFrame] = []
    population: pd.DataFrame | None = None
    recognised = 0
    for file in files:
        frame = _read_csv(file)
        cols = set(frame.columns)
        if {"time_period", "geographic_level"} - cols:
            continue
        if set(KEY_COLUMNS) <= cols and any(o.column in cols for o in OUTCOMES):
            parts.append(_normalise(frame, file.name))  # a panel in the shipped layout
        elif {"rate_per_10000", "population_estimate"} <= cols and cols & set(_CLA_COUNT) and cols & set(_CLA_TYPE):
            parts.append(_from_cla(frame, file.name))
        elif {"referral_count", "rereferral_count", "rereferral_percent"} <= cols:
            parts.append(
                _measures(
                    frame,
                    file.name,
                    {
                        "referral_count": "referrals",
                        "rereferral_count": "rereferrals",
                        "rereferral_percent": "rereferral_pct",
                    },
                )
            )
        elif "CPP_At31" in cols:
            parts.append(_measures(frame, file.name, {"CPP_At31": "cpp31"}))
        elif "CPP_start" in cols and "CPP_subsequent" in cols:
            parts.append(_measures(frame, file.name, {"CPP_start": "cpp_started"}))
        elif {"age_group", "population_estimate"} <= cols and len(cols & {"rate_per_10000", "number"}) == 0:
            population = _measures(frame, file.name, {"population_estimate": "pop_0_17_mid_same_year"})
        else:
            continue
        recognised += 1
    if recognised == 0:
        raise DataError(
            f"{path}: no published DfE CSV recognised (looked for CLA rates, CIN C1, D3, D5, ONS population)"
        )
    # Where releases overlap, the latest wins: lay the parts over each other oldest first.
    parts.sort(key=lambda part: float(part["cla_source_release"].max()) if "cla_source_release" in part else 0.0)
    return Release(tuple(parts), population)


def _keys(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    level = frame["geographic_level"].str.strip()
    keep = frame[level.isin([LA_LEVEL, "National"])].copy()
    national = keep["geographic_level"].str.strip() == "National"
    for col in ("old_la_code", "new_la_code", "la_name", "region_name"):
        if col not in keep.columns:
            keep[col] = ""
    keep.loc[national, "old_la_code"] = ENGLAND_CODE
    keep.loc[national, "la_name"] = "England"
    keep.loc[national, "new_la_code"] = keep.loc[national].get("country_code", "E92000001")
    keep["geographic_level"] = keep["geographic_level"].str.strip()
    if (keep.loc[~national, "old_la_code"].str.strip() == "").any():
        raise DataError(f"{source}: a local-authority row has no old_la_code")
    return keep


def _measures(frame: pd.DataFrame, source: str, mapping: dict[str, str]) -> pd.DataFrame:
    keep = _keys(frame, source)
    out = keep[[*KEY_COLUMNS, "region_name"]].copy()
    for raw, name in mapping.items():
        out[name] = _numbers(keep[raw], source, raw)
    return _normalise(out, source)


def _from_cla(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    keep = _keys(frame, source)
    kind_col = next(c for c in _CLA_TYPE if c in keep.columns)
    count_col = next(c for c in _CLA_COUNT if c in keep.columns)
    kind = keep[kind_col].str.lower()
    specs = (
        (
            kind.str.contains("looked after") & kind.str.contains("31 march"),
            {
                count_col: "cla31",
                "rate_per_10000": "cla31_rate_published",
                "population_estimate": "pop_0_17_mid_prev_year",
            },
        ),
        (
            kind.str.contains("starting"),
            {count_col: "cla_start", "rate_per_10000": "cla_start_rate_published"},
        ),
        (kind.str.contains("ceasing"), {count_col: "cla_cease"}),
    )
    if not specs[0][0].any():
        raise DataError(f"{source}: no 'looked after at/on 31 March' rows in column '{kind_col}'")
    parts = []
    for mask, mapping in specs:
        if not mask.any():
            continue
        part = keep[mask]
        out = part[[*KEY_COLUMNS, "region_name"]].copy()
        for raw, name in mapping.items():
            out[name] = _numbers(part[raw], source, raw)
        parts.append(_normalise(out, source))
    base = _merge_parts(parts)
    base["cla_source_release"] = float(base["time_period"].max())
    return base


def _merge_parts(parts: list[pd.DataFrame]) -> pd.DataFrame:
    merged = parts[0]
    for part in parts[1:]:
        merged = _replace(merged, part)
    return merged


def _replace(base: pd.DataFrame, newer: pd.DataFrame) -> pd.DataFrame:
    """For every LA-year and column `newer` has, its value replaces the base (even where it is missing)."""
    keys = ["time_period", "old_la_code"]
    measures = [c for c in newer.columns if c not in (*_TEXT_COLUMNS, "time_period", "cla_source_release")]
    # Rows that are all missing (an LA that did not exist that year) carry nothing.
    newer = newer[newer[measures].notna().any(axis=1)] if measures else newer
    new_idx = newer.set_index(keys)
    out = base.set_index(keys)
    out = out.reindex(out.index.union(new_idx.index))
    for col in new_idx.columns:
        if col not in out.columns:
            out[col] = "" if col in _TEXT_COLUMNS else np.nan
        out.loc[new_idx.index, col] = new_idx[col]
    return out.reset_index()


def _add_population(panel: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """ONS 0-17 population: mid-year t for `..._same_year`, mid-(t-1) as the rate denominator."""
    pop = population[["time_period", "old_la_code", "pop_0_17_mid_same_year"]]
    prev = pop.assign(time_period=pop["time_period"] + 1).rename(
        columns={"pop_0_17_mid_same_year": "pop_0_17_mid_prev_year"}
    )
    keys = ["time_period", "old_la_code"]
    out = panel.set_index(keys)
    for extra in (pop, prev):
        col = extra.columns[-1]
        extra_idx = extra.set_index(keys)[col]
        aligned = extra_idx.reindex(out.index)
        out[col] = aligned.combine_first(out[col]) if col in out.columns else aligned
    return out.reset_index()


def overlay(base: pd.DataFrame, release: Release) -> pd.DataFrame:
    """A release's values replace the base for every LA-year and column it has; rates are re-derived there."""
    keys = ["time_period", "old_la_code"]
    out = base
    touched_keys = pd.MultiIndex.from_tuples([], names=keys)
    for part in release.parts:
        out = _replace(out, part)
        touched_keys = touched_keys.union(part.set_index(keys).index)
    if release.population is not None:
        out = _add_population(out, release.population)
        touched_keys = touched_keys.union(out.set_index(keys).index)
    touched = out.set_index(keys).index.isin(touched_keys)
    out = derive_rates(out, rows=touched)
    return out.sort_values(["old_la_code", "time_period"]).reset_index(drop=True)


_RATE_COLUMNS = {
    "cla31_rate_derived": "cla31",
    "cla_start_rate_derived": "cla_start",
    "referrals_rate_derived": "referrals",
    "cpp_started_rate_derived": "cpp_started",
    "cpp31_rate_derived": "cpp31",
    "cin31_rate_derived": "cin31",
}


def derive_rates(panel: pd.DataFrame, rows: np.ndarray | None = None) -> pd.DataFrame:
    """Recompute rates per 10,000 (count / ONS 0-17 at mid-(year-1), 1 d.p.) on the selected rows."""
    out = panel.copy()
    sel = np.ones(len(out), dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
    if "pop_0_17_mid_prev_year" not in out.columns:
        return out
    pop = out["pop_0_17_mid_prev_year"]
    for rate, count in _RATE_COLUMNS.items():
        if count not in out.columns:
            continue
        value = (out[count] / pop * 10_000).round(1)
        new = value.where(sel & value.notna().to_numpy(), out[rate] if rate in out.columns else np.nan)
        out[rate] = new
    if "cla31_rate_derived" in out.columns:
        published = out["cla31_rate_published"] if "cla31_rate_published" in out.columns else np.nan
        out["cla31_rate"] = out["cla31_rate_derived"].combine_first(pd.Series(published, index=out.index))
        source = np.where(out["cla31_rate_derived"].notna(), "derived", "published")
        out["cla31_rate_source"] = np.where(out["cla31_rate"].isna(), "", source)
    return out


def local_authorities(panel: pd.DataFrame) -> pd.DataFrame:
    """One row per LA code in the panel: its latest name and ONS code, and first and last year seen."""
    las = panel[panel["geographic_level"] == LA_LEVEL]
    latest = las.sort_values("time_period").groupby("old_la_code").last()
    span = las.groupby("old_la_code")["time_period"].agg(["min", "max"])
    return latest[["la_name", "new_la_code", "region_name"]].join(span).reset_index()
