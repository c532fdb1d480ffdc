"""The per-child key frame, read from the vault's analysis views, and its population frame.

One row per child held (restricted, objecting and erased children are already out of the views): the
child's characteristics, age in months at the first referral, and the first date of each kind of event.
The frame lives in memory inside the process that measures the risk; nothing in it is written anywhere.

The population frame grosses each child up to the children in need of their local authority and year: the
weight is the DfE count of children in need at any point in the year (characteristics of children in need,
table B1, shipped in the repository's LA panel) divided by the number of children the vault holds for that
LA and year of first referral, and never below 1. So Fk estimates how many children in need in England
share a combination, the population an intruder would have to pick from.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd

from cscvault.errors import DataError, UsageError
from cscvault.risk.frequencies import FloatArray
from cscvault.study.model import DataDictionary

# Dictionary field -> the key frame's column. A quasi-identifier must be one of these to be measured.
FIELD_COLUMNS = {
    "children.la_code": "la_code",
    "children.gender": "gender",
    "children.ethnicity": "ethnicity",
    "children.disability": "disability",
    "children.uasc": "uasc",
    "events.age_months": "age_months",
    "referrals.referral_date": "referral_date",
    "cp_plans.start_date": "cp_start",
    "cla_episodes.start_date": "cla_start",
}
DATE_COLUMNS = ("referral_date", "cp_start", "cla_start")
# An event that never happened is a value ("none"), not a missing one.
NO_EVENT = "none"

_SQL = """
WITH ch AS (
  SELECT child_key, any_value(la_code) AS la_code, any_value(gender) AS gender,
         any_value(ethnicity) AS ethnicity, any_value(disability) AS disability, any_value(uasc) AS uasc
  FROM analysis.children GROUP BY child_key),
ref AS (
  SELECT child_key, min(referral_date) AS referral_date, arg_min(age_months, referral_date) AS age_months
  FROM analysis.referrals WHERE referral_date IS NOT NULL GROUP BY child_key),
cp AS ({cp}),
cla AS ({cla})
SELECT ch.la_code, ch.gender, ch.ethnicity, ch.disability, ch.uasc, ref.age_months, ref.referral_date,
       cp.cp_start, cla.cla_start
FROM ch LEFT JOIN ref USING (child_key) LEFT JOIN cp USING (child_key) LEFT JOIN cla USING (child_key)
"""


def resolve_keys(dictionary: DataDictionary, keys: Sequence[str] | None) -> list[str]:
    """The key fields to measure: the dictionary's default set, or `keys` (each a declared
    quasi-identifier). A bare column name ("gender") is accepted when it names one field."""
    qis = dictionary.quasi_identifiers
    chosen = list(dictionary.risk_keys) if not keys else []
    for key in keys or ():
        matches = [q for q in qis if q == key or q.split(".", 1)[1] == key]
        if len(matches) != 1:
            fields = dictionary.fields
            named = [f for f in fields if f == key or f.split(".", 1)[1] == key]
            if named:
                raise UsageError(f"--keys: '{key}' is not a quasi-identifier in the data dictionary")
            raise UsageError(f"--keys: unknown key variable '{key}' (quasi-identifiers: {', '.join(qis)})")
        chosen.append(matches[0])
    if not chosen:
        raise UsageError("the study's data dictionary declares no risk key set ([risk] keys)")
    for field in chosen:
        if field not in FIELD_COLUMNS:
            raise UsageError(f"--keys: quasi-identifier '{field}' cannot be measured yet (no per-child value)")
    if len(set(chosen)) != len(chosen):
        raise UsageError("--keys: a key variable is given twice")
    return chosen


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE schema_name = 'analysis' AND view_name = ?", [table]
    ).fetchone()
    return bool(row and row[0])


def load_key_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per child held, with every measurable quasi-identifier (no child key)."""
    if not _exists(con, "children"):
        raise DataError("the vault holds no ingested returns yet: run cscvault ingest first")
    if not _exists(con, "referrals"):
        raise DataError("the vault holds no referrals yet: run cscvault ingest first")
    cp = (
        "SELECT child_key, min(start_date) AS cp_start FROM analysis.cp_plans GROUP BY child_key"
        if _exists(con, "cp_plans")
        else "SELECT NULL::VARCHAR AS child_key, NULL::DATE AS cp_start WHERE false"
    )
    cla = (
        "SELECT child_key, min(start_date) AS cla_start FROM analysis.cla_episodes GROUP BY child_key"
        if _exists(con, "cla_episodes")
        else "SELECT NULL::VARCHAR AS child_key, NULL::DATE AS cla_start WHERE false"
    )
    frame = con.execute(_SQL.format(cp=cp, cla=cla)).fetch_df()
    if frame.empty:
        raise DataError("the vault holds no children: nothing to measure")
    return frame


def dfe_year(dates: pd.Series) -> pd.Series:
    """The DfE reporting year (ending 31 March) of each date."""
    d = pd.to_datetime(dates)
    return (d.dt.year + (d.dt.month >= 4).astype("Int64")).astype("Int64")


def population_weights(frame: pd.DataFrame, panel: pd.DataFrame | None = None) -> FloatArray:
    """Per child: the LA-year children-in-need count over the children held for that LA-year, at least 1.
    Years outside the published panel use the nearest published year; children without a referral date
    use their LA's ratio over the years held. An LA absent from the panel has weight 1 (no frame)."""
    if panel is None:
        from cscvault.analysis.did.loader import load_panel

        panel = load_panel()
    published = panel.dropna(subset=["cin_anypoint_children"])
    by_la: dict[str, dict[int, float]] = {}
    for la, y, v in zip(
        published["new_la_code"], published["time_period"], published["cin_anypoint_children"], strict=True
    ):
        by_la.setdefault(str(la), {})[int(y)] = float(v)

    def population(la: str, year: int) -> float:
        years = by_la[la]
        return years[min(years, key=lambda k: (abs(k - year), k))]

    held = pd.DataFrame({"la": frame["la_code"].astype("string"), "year": dfe_year(frame["referral_date"])})
    counts = held.value_counts(dropna=False).rename("n").reset_index()
    ratio: dict[tuple[str, int], float] = {}
    la_pop: dict[str, float] = {}
    la_held: dict[str, int] = {}
    for la, year, n in zip(counts["la"], counts["year"], counts["n"], strict=True):
        if pd.isna(la) or str(la) not in by_la:
            continue
        la_held[str(la)] = la_held.get(str(la), 0) + int(n)
        if pd.isna(year):
            continue
        pop = population(str(la), int(year))
        la_pop[str(la)] = la_pop.get(str(la), 0.0) + pop
        ratio[(str(la), int(year))] = pop / int(n)
    table = pd.DataFrame(
        {
            "la": pd.Series([k[0] for k in ratio], dtype="string"),
            "year": pd.Series([k[1] for k in ratio], dtype="Int64"),
            "ratio": list(ratio.values()),
        }
    )
    weights = held.merge(table, on=["la", "year"], how="left")["ratio"].to_numpy(dtype=np.float64, na_value=np.nan)
    undated = np.isnan(weights)
    la_ratio = {la: la_pop.get(la, 0.0) / n for la, n in la_held.items() if la in la_pop}
    weights[undated] = held["la"][undated].map(lambda la: la_ratio.get(str(la), 1.0) if pd.notna(la) else 1.0)
    out: FloatArray = np.maximum(weights, 1.0)
    return out
