"""Linkage steps as pure pandas functions: ID repair, de-duplication, first referrals, linkage report.

Order matters (the evaluator's pipeline joined before repairing ids): ids are split first, then
duplicates are removed, then records link by (LA, child key).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import pandas as pd

from cscvault.formats.base import LOC, Collector

UNKNOWN_BIRTH = "unknown"


def split_conflicting_ids(tables: Mapping[str, pd.DataFrame], sink: Collector | None = None) -> dict[str, pd.DataFrame]:
    """Split an LA id that carries more than one birth month: rows become `<id>#<yyyy-mm>` (or
    `<id>#unknown` where the row has no birth month). The suffix is deterministic, so the same child
    gets the same key in the next return. One LINK-001 finding per split id (no value)."""
    pairs = []
    for df in tables.values():
        if "la_child_id" in df.columns and "birth_month" in df.columns and not df.empty:
            pairs.append(
                df[["la_child_id", "birth_month", LOC]] if LOC in df.columns else df[["la_child_id", "birth_month"]]
            )
    if not pairs:
        return dict(tables)
    allp = pd.concat(pairs, ignore_index=True)
    allp = allp[allp["birth_month"].notna() & allp["la_child_id"].notna()]
    counts = allp.groupby("la_child_id")["birth_month"].nunique()
    conflicting = set(counts[counts > 1].index)
    if not conflicting:
        return dict(tables)
    if sink is not None:
        first = allp[allp["la_child_id"].isin(conflicting)].drop_duplicates("la_child_id")
        for loc in first.get(LOC, pd.Series([""] * len(first))):
            sink.add("LINK-001", str(loc), "la_child_id")
    out: dict[str, pd.DataFrame] = {}
    for name, df in tables.items():
        if "la_child_id" not in df.columns or df.empty:
            out[name] = df
            continue
        df = df.copy()
        mask = df["la_child_id"].isin(conflicting)
        births = df["birth_month"] if "birth_month" in df.columns else pd.Series([None] * len(df), index=df.index)
        df.loc[mask, "la_child_id"] = [
            f"{cid}#{b.strftime('%Y-%m') if b is not None else UNKNOWN_BIRTH}"
            for cid, b in zip(df.loc[mask, "la_child_id"], births[mask], strict=True)
        ]
        out[name] = df
    return out


def drop_duplicates(df: pd.DataFrame, table: str, sink: Collector | None = None) -> pd.DataFrame:
    """Identical records (ignoring where they came from) are kept once; DUP-001 per dropped row."""
    cols = [c for c in df.columns if c != LOC]
    if df.empty or not cols:
        return df
    dup = df.duplicated(subset=cols, keep="first")
    if sink is not None and LOC in df.columns:
        for loc in df.loc[dup, LOC]:
            sink.add("DUP-001", str(loc), "", table=table)
    return df[~dup].reset_index(drop=True)


def collapse_children(children: pd.DataFrame) -> pd.DataFrame:
    """One row per child id: for each characteristic the last non-missing value in file order."""
    if children.empty:
        return children
    cols = [c for c in children.columns if c not in {"la_child_id", LOC}]
    firsts = children.drop_duplicates("la_child_id", keep="first")[["la_child_id", *([LOC] if LOC in children else [])]]
    if not cols:
        return firsts.reset_index(drop=True)
    last = children.groupby("la_child_id", sort=False)[cols].last()
    return firsts.merge(last.reset_index(), on="la_child_id", how="left").reset_index(drop=True)


def dedupe_events(
    df: pd.DataFrame, keys: Sequence[str], order_by: Sequence[str] = (), keep: str = "last"
) -> tuple[pd.DataFrame, int]:
    """The same event delivered in overlapping returns, kept once. `order_by` (e.g. the delivery
    sequence) decides which copy survives: by default the latest. Returns (frame, rows dropped)."""
    if df.empty:
        return df, 0
    ordered = df.sort_values(list(order_by), kind="mergesort") if order_by else df
    dup = ordered.duplicated(subset=list(keys), keep="last" if keep == "last" else "first")
    return ordered[~dup].sort_index().reset_index(drop=True), int(dup.sum())


def _row_hash(row: pd.Series) -> str:
    text = "\x1f".join("" if v is None or v is pd.NA else str(v) for v in row.to_numpy())
    return hashlib.sha256(text.encode()).hexdigest()


def first_referrals(
    referrals: pd.DataFrame,
    child: str = "child_key",
    date: str = "referral_date",
    la: str | None = "la_code",
    sink: Collector | None = None,
) -> pd.DataFrame:
    """One row per child: the earliest referral. Ties on that date are broken by the smallest hash
    of the row's content (deterministic, independent of row order) and flagged `first_referral_tie`."""
    if referrals.empty:
        out = referrals.copy()
        out["first_referral_tie"] = pd.Series(dtype="boolean")
        return out
    group = [la, child] if la and la in referrals.columns else [child]
    df = referrals.copy()
    first_dates = df.groupby(group, sort=False)[date].transform("min")
    on_first = df[date] == first_dates
    n_on_first = on_first.groupby([df[g] for g in group]).transform("sum")
    tied = on_first & (n_on_first > 1)
    # Hash only the tied rows (a handful): the order then never depends on the input row order.
    df["_tiebreak"] = ""
    if tied.any():
        df.loc[tied, "_tiebreak"] = df.loc[tied, list(referrals.columns)].apply(_row_hash, axis=1)
    df = df.sort_values([*group, date, "_tiebreak"], kind="mergesort")
    firsts = df.drop_duplicates(group, keep="first").copy()
    firsts["first_referral_tie"] = (n_on_first.loc[firsts.index] > 1).astype("boolean")
    if sink is not None:
        for _ in range(int(firsts["first_referral_tie"].sum())):
            sink.add("LINK-002", "", date)
    return firsts.drop(columns=["_tiebreak"]).reset_index(drop=True)


def linkage_report(
    records: pd.DataFrame,
    reference: pd.DataFrame,
    child: str = "child_key",
    la: str = "la_code",
    return_label: str = "return_label",
    table: str = "table",
) -> pd.DataFrame:
    """Match rates per LA, return and table: how many distinct children of each return's table are
    found in the reference set (e.g. children with a referral)."""
    cols = [la, return_label, table]
    if records.empty:
        return pd.DataFrame(columns=[*cols, "children", "linked", "match_rate"])
    ref = set(zip(reference[la], reference[child], strict=True))
    distinct = records[[*cols, child]].drop_duplicates()
    distinct = distinct.assign(_linked=[(a, c) in ref for a, c in zip(distinct[la], distinct[child], strict=True)])
    out = distinct.groupby(cols, dropna=False).agg(children=(child, "size"), linked=("_linked", "sum")).reset_index()
    out["match_rate"] = (out["linked"] / out["children"]).round(4)
    return out
