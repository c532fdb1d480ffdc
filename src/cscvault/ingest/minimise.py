"""Minimisation: ages from birth months, then only the data dictionary's fields survive.

Date or month of birth becomes age in completed months at each event (the notice's "age in
months"), then is discarded. Every other field the study's data dictionary does not allow is
dropped (MIN-002, once per field).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd

from cscvault.formats.base import LOC, Collector
from cscvault.ingest.dates import month_index
from cscvault.ingest.schema import EVENT_TABLES, LINK, PRIMARY_DATE, STRUCTURAL
from cscvault.study.model import DataDictionary

MAX_AGE_MONTHS = 25 * 12
MIN_AGE_MONTHS = -10  # an event up to ten months before the birth month (unborn referrals)
TRANSIENT = frozenset({"birth_month", "expected_birth"})
EVENT_DATE = {**PRIMARY_DATE}


def birth_months(tables: Mapping[str, pd.DataFrame]) -> dict[str, dt.date]:
    """One birth month per child id, where the delivery gives exactly one."""
    frames = [
        df[["la_child_id", "birth_month"]]
        for df in tables.values()
        if "la_child_id" in df.columns and "birth_month" in df.columns and not df.empty
    ]
    if not frames:
        return {}
    allp = pd.concat(frames, ignore_index=True).dropna().drop_duplicates()
    single = allp.drop_duplicates("la_child_id", keep=False)
    return dict(zip(single["la_child_id"], single["birth_month"], strict=True))


def derive_ages(
    tables: Mapping[str, pd.DataFrame],
    sink: Collector,
    known_birth_months: Mapping[str, dt.date] | None = None,
) -> dict[str, pd.DataFrame]:
    """Add `age_months` to each child-level event table (row birth month, else the child's birth
    month in this delivery, else `known_birth_months` from the caller)."""
    lookup = dict(known_birth_months or {})
    lookup.update(birth_months(tables))
    out = dict(tables)
    for name in EVENT_TABLES:
        df = out.get(name)
        date_col = EVENT_DATE.get(name)
        if df is None or df.empty or "la_child_id" not in df.columns:
            continue
        if date_col is None or date_col not in df.columns:
            date_col = next((c for c in ("census_date", "start_date") if c in df.columns), None)
        df = df.copy()
        n = len(df)
        births = (
            df["birth_month"].to_numpy(dtype=object, copy=True)
            if "birth_month" in df.columns
            else np.full(n, None, dtype=object)
        )
        if lookup:
            missing = np.flatnonzero(pd.isna(births))
            if len(missing):
                ids = df["la_child_id"].to_numpy(dtype=object)[missing]
                births[missing] = [lookup.get(cid) for cid in ids]
        b_month = _month_indexes(births)
        e_month = _month_indexes(df[date_col].to_numpy(dtype=object) if date_col else np.full(n, None, dtype=object))
        known = (b_month != _NO_MONTH) & (e_month != _NO_MONTH)
        age = e_month - b_month
        bad = known & ((age < MIN_AGE_MONTHS) | (age > MAX_AGE_MONTHS))
        good = known & ~bad
        ages = np.full(n, None, dtype=object)
        ages[good] = age[good].tolist()
        locs = df[LOC] if LOC in df.columns else df["birth_month"] if "birth_month" in df.columns else None
        for loc in [] if locs is None else locs.to_numpy(dtype=object)[bad]:
            sink.add("AGE-001", str(loc), "age_months", table=name)
        df["age_months"] = pd.Series(ages, index=df.index, dtype=object)
        out[name] = df
    return out


_NO_MONTH = np.iinfo(np.int64).min


def _month_indexes(days: np.ndarray) -> np.ndarray:
    """`month_index` of each date (as int64), _NO_MONTH where there is none; each distinct date once."""
    codes, uniques = pd.factorize(days, use_na_sentinel=True)
    per = np.array([month_index(d) for d in uniques] + [_NO_MONTH], dtype=np.int64)
    out: np.ndarray = per[codes]
    return out


def allowed_columns(table: str, dictionary: DataDictionary) -> set[str]:
    allowed = {f.split(".", 1)[1] for f in dictionary.fields if f.split(".", 1)[0] == table}
    allowed |= STRUCTURAL
    if table in EVENT_TABLES and dictionary.allows("events", "age_months"):
        allowed.add("age_months")
    if table != "referrals" and dictionary.allows("referrals", LINK):
        allowed.add(LINK)
    return allowed


def minimise(
    tables: Mapping[str, pd.DataFrame], dictionary: DataDictionary, sink: Collector
) -> dict[str, pd.DataFrame]:
    """Keep only the dictionary's fields (plus the child id the caller pseudonymises)."""
    out: dict[str, pd.DataFrame] = {}
    for name, df in tables.items():
        allowed = allowed_columns(name, dictionary)
        table_allowed = bool(allowed - STRUCTURAL - {"age_months", LINK})
        drop = []
        for col in df.columns:
            if col == LOC or col in allowed:
                continue
            drop.append(col)
            if col not in TRANSIENT:
                sink.add("MIN-002", "", col, table=name)
        if not table_allowed:
            continue
        out[name] = df.drop(columns=drop)
    return out
