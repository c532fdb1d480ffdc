"""Minimisation: ages from birth months, then only the data dictionary's fields survive.

Date or month of birth becomes age in completed months at each event (the notice's "age in
months"), then is discarded. Every other field the study's data dictionary does not allow is
dropped (MIN-002, once per field).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pandas as pd

from cscvault.formats.base import LOC, Collector
from cscvault.ingest.dates import age_in_months
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
        own = df["birth_month"] if "birth_month" in df.columns else pd.Series([None] * len(df), index=df.index)
        events = df[date_col] if date_col else pd.Series([None] * len(df), index=df.index)
        ages: list[int | None] = []
        bad_locs: list[str] = []
        for cid, birth, event, loc in zip(df["la_child_id"], own, events, df.get(LOC, own), strict=True):
            b = birth if birth is not None else lookup.get(cid)
            if b is None or event is None:
                ages.append(None)
                continue
            age = age_in_months(b, event)
            if not MIN_AGE_MONTHS <= age <= MAX_AGE_MONTHS:
                bad_locs.append(str(loc))
                ages.append(None)
            else:
                ages.append(age)
        for loc in bad_locs:
            sink.add("AGE-001", loc, "age_months", table=name)
        df["age_months"] = pd.Series(ages, index=df.index, dtype=object)
        out[name] = df
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
