"""The primary sample and its outcome, exactly as the analysis plan defines them.

Reads only the vault's `analysis` views, so restricted, objecting and erased children are already out and
rectifications are already applied. One row per child:

1. the child's first referral inside the trial window (ties on the same day broken deterministically, by the
   referral's other fields, and counted);
2. aged 0-12 in whole years at that referral, or unborn (referral before the birth month, or the return's
   unborn code); a child with no birth month and no unborn code is kept with age missing;
3. children whose first period of care began before that referral are excluded (and counted);
4. outcome `cla_18m`: a period of care starting on or after the referral and within 18 calendar months.
   When no such start is seen and the 18 months run past the LA's latest delivered data, the outcome is
   censored (missing), never 0.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from cscvault.clock import add_months
from cscvault.errors import DataError
from cscvault.formats.recode import ethnicity_group
from cscvault.study import Study

GENDER_LEVELS = {"male": "male", "female": "female", "indeterminate": "other"}  # unknown/unborn -> missing
FLOW_COLUMNS = [
    "la",
    "referred_in_window",
    "excluded_age",
    "excluded_care_before_referral",
    "in_sample",
    "censored",
    "analysed",
    "events",
    "first_referral_ties",
    "age_missing",
]
FLOW_PERIOD_COLUMNS = ["la", "period", *FLOW_COLUMNS[1:]]
OUTSIDE_PERIODS = "outside the periods"


@dataclass
class PrimarySample:
    """The analysis frame (one row per child) and its flow table."""

    frame: pd.DataFrame
    flow: pd.DataFrame
    data_end: dict[str, dt.date]
    notes: list[str] = field(default_factory=list)
    # The same flow by LA and period of the first referral (the CONSORT-SW flow per cluster and period).
    flow_by_period: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FLOW_PERIOD_COLUMNS))

    @property
    def analysed(self) -> pd.DataFrame:
        """Rows with an observed outcome (censored rows are reported, not modelled)."""
        return self.frame[self.frame["cla_18m"].notna()]


def _table(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    return con.execute(sql).fetch_df()


def _la_names(study: Study) -> dict[str, str]:
    return {la.ons_code: la.name for la in study.local_authorities}


def load_inputs(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Referrals, children and periods of care from the analysis views."""
    try:
        referrals = _table(
            con,
            "SELECT child_key, la_code, referral_date, unborn, age_months, previous_cpps, nfa "
            "FROM analysis.referrals WHERE referral_date IS NOT NULL",
        )
        children = _table(con, "SELECT child_key, la_code, gender, ethnicity, disability, uasc FROM analysis.children")
        cla = _table(
            con, "SELECT child_key, la_code, start_date FROM analysis.cla_episodes WHERE start_date IS NOT NULL"
        )
    except duckdb.CatalogException:
        raise DataError("the vault holds no ingested returns yet: run cscvault ingest first") from None
    return referrals, children, cla


def latest_data(referrals: pd.DataFrame, cla: pd.DataFrame) -> dict[str, dt.date]:
    """Per LA, the latest date its delivered data cover (the last referral or care start seen)."""
    dates = pd.concat(
        [
            referrals[["la_code", "referral_date"]].rename(columns={"referral_date": "d"}),
            cla[["la_code", "start_date"]].rename(columns={"start_date": "d"}),
        ]
    )
    return {str(k): pd.Timestamp(v).date() for k, v in dates.groupby("la_code")["d"].max().items()}


def build_primary_sample(
    con: duckdb.DuckDBPyConnection, study: Study, la_codes: Collection[str] | None = None
) -> PrimarySample:
    """The primary sample; `la_codes`, when given, keeps only those LAs' referrals (the LAs whose returns
    derive the outcome: an LA without SSDA903 would otherwise show every child as never looked after)."""
    plan = study.analysis_plan.samples["primary"]
    follow = study.analysis_plan.outcomes["cla_18m"].window_months
    referrals, children, cla = load_inputs(con)
    if la_codes is not None:
        referrals = referrals[referrals["la_code"].isin(set(la_codes))]
    return primary_sample_from_frames(referrals, children, cla, study, plan.max_age_years, follow)


def primary_sample_from_frames(
    referrals: pd.DataFrame,
    children: pd.DataFrame,
    cla: pd.DataFrame,
    study: Study,
    max_age_years: int = 12,
    follow_up_months: int = 18,
) -> PrimarySample:
    w = study.windows
    data_end = latest_data(referrals, cla)
    ref = referrals.copy()
    ref["referral_date"] = pd.to_datetime(ref["referral_date"]).dt.date
    in_window = ref[(ref["referral_date"] >= w.trial_start) & (ref["referral_date"] <= w.trial_end)].copy()

    # Age in whole years at each referral; unborn first.
    months = pd.to_numeric(in_window["age_months"], errors="coerce").astype(float)
    unborn = in_window["unborn"].astype("boolean").fillna(False).astype(bool) | (months < 0)
    years = np.floor(months / 12)
    in_window["age_group"] = np.where(unborn, "-1", years.astype("Int64").astype("string"))
    in_window.loc[~unborn & months.isna(), "age_group"] = pd.NA
    in_window["age_eligible"] = unborn | months.isna() | ((years >= 0) & (years <= max_age_years))

    # White share per LA-month over all in-window, age-eligible referral rows (before the first-referral
    # filter, as the evaluator computed it); the denominator includes missing ethnicity.
    eth = children.drop_duplicates("child_key").set_index("child_key")["ethnicity"]
    in_window["ethnicity_group"] = (
        in_window["child_key"].map(eth).map(lambda c: ethnicity_group(c) if isinstance(c, str) else None)
    )
    in_window["month"] = pd.to_datetime(in_window["referral_date"]).dt.to_period("M")
    eligible_rows = in_window[in_window["age_eligible"]]
    share = (
        eligible_rows.assign(white=eligible_rows["ethnicity_group"].eq("White"))
        .groupby(["la_code", "month"])["white"]
        .mean()
        .rename("white_share")
    )

    # First referral in the window per child; ties (same day) broken by the referral's other fields.
    ordered = in_window.sort_values(
        ["child_key", "referral_date", "nfa", "previous_cpps", "age_months"], na_position="last", kind="mergesort"
    )
    first_dates = ordered.groupby("child_key")["referral_date"].transform("min")
    ties = ordered[ordered["referral_date"] == first_dates].groupby("child_key").size()
    first = ordered.drop_duplicates("child_key", keep="first").copy()
    first["tie"] = first["child_key"].map(ties).fillna(1) > 1

    # Compared as timestamps: with no period of care delivered the mapped column is all-missing floats,
    # which cannot be compared with dates.
    earliest_care = pd.to_datetime(cla["start_date"]).groupby(cla["child_key"]).min()
    first["earliest_care"] = pd.to_datetime(first["child_key"].map(earliest_care))
    care_before = first["earliest_care"].notna() & (first["earliest_care"] < pd.to_datetime(first["referral_date"]))

    starts = cla.assign(start_date=pd.to_datetime(cla["start_date"]))[["child_key", "start_date"]]
    merged = first[["child_key", "referral_date"]].merge(starts, on="child_key", how="left")
    merged["end"] = pd.to_datetime(merged["referral_date"].map(lambda d: add_months(d, follow_up_months)))
    referred = pd.to_datetime(merged["referral_date"])
    hit = (merged["start_date"] >= referred) & (merged["start_date"] <= merged["end"])
    event = merged[hit.fillna(False)].groupby("child_key").size().gt(0)
    first["event"] = first["child_key"].map(event).astype("boolean").fillna(False).astype(bool)
    first["follow_up_end"] = first["referral_date"].map(lambda d: add_months(d, follow_up_months))
    first["data_end"] = first["la_code"].map(data_end)
    censored = ~first["event"] & (first["follow_up_end"] > first["data_end"])
    first["cla_18m"] = np.where(first["event"], 1.0, np.where(censored, np.nan, 0.0))

    first = _covariates(first, children, share, study)
    keep = first["age_eligible"] & ~care_before
    flow = _flow(first, keep, care_before, censored, study)
    flow_by_period = _flow_by_period(first, keep, care_before, censored, study)
    frame = first[keep].reset_index(drop=True)
    notes = []
    n_ties = int(first.loc[keep, "tie"].sum())
    if n_ties:
        notes.append(
            f"{n_ties} children had more than one referral on their first referral day; the first in a fixed "
            "order (no further action, previous plans, age) was kept"
        )
    return PrimarySample(frame=frame, flow=flow, data_end=data_end, notes=notes, flow_by_period=flow_by_period)


def _covariates(first: pd.DataFrame, children: pd.DataFrame, share: pd.Series, study: Study) -> pd.DataFrame:
    attrs = children.drop_duplicates("child_key").set_index("child_key")
    out = first.copy()
    out["gender"] = (
        out["child_key"].map(attrs["gender"]).map(lambda g: GENDER_LEVELS.get(g) if isinstance(g, str) else None)
    )
    out["disabled"] = out["child_key"].map(attrs["disability"])
    out["uasc"] = out["child_key"].map(attrs["uasc"])
    cpp = pd.to_numeric(out["previous_cpps"], errors="coerce").astype(float)
    out["previous_cpps"] = [None if np.isnan(v) else ("3+" if v >= 3 else str(int(v))) for v in cpp]
    out["white_share"] = [share.get((la, m), np.nan) for la, m in zip(out["la_code"], out["month"], strict=True)]
    go_live = {la.ons_code: la.go_live for la in study.local_authorities}
    out["treatment"] = [int(d >= go_live[la]) for la, d in zip(out["la_code"], out["referral_date"], strict=True)]
    period = {p.name: p for p in study.periods}
    out["period"] = [next((n for n, p in period.items() if p.contains(d)), None) for d in out["referral_date"]]
    out["la"] = out["la_code"].map(_la_names(study))
    return out


def _flow_row(first: pd.DataFrame, mine: pd.Series, keep: pd.Series, care_before: pd.Series,
              censored: pd.Series) -> dict[str, int]:  # fmt: skip
    kept = mine & keep
    return {
        "referred_in_window": int(mine.sum()),
        "excluded_age": int((mine & ~first["age_eligible"]).sum()),
        "excluded_care_before_referral": int((mine & first["age_eligible"] & care_before).sum()),
        "in_sample": int(kept.sum()),
        "censored": int((kept & censored).sum()),
        "analysed": int((kept & ~censored).sum()),
        "events": int((kept & first["event"]).sum()),
        "first_referral_ties": int((kept & first["tie"]).sum()),
        "age_missing": int((kept & first["age_group"].isna()).sum()),
    }


def _flow_by_period(
    first: pd.DataFrame, keep: pd.Series, care_before: pd.Series, censored: pd.Series, study: Study
) -> pd.DataFrame:
    """The flow per LA and period of the child's first referral in the window; every LA x period of the
    design has a row (zeros included), so the rows of one LA add up to its row of the LA flow table."""
    period = first["period"].fillna(OUTSIDE_PERIODS)
    names = [p.name for p in study.periods]
    if (period == OUTSIDE_PERIODS).any():
        names.append(OUTSIDE_PERIODS)
    rows: list[dict[str, Any]] = []
    for la in study.local_authorities:
        for name in names:
            mine = (first["la_code"] == la.ons_code) & (period == name)
            rows.append({"la": la.name, "period": name, **_flow_row(first, mine, keep, care_before, censored)})
    return pd.DataFrame(rows, columns=FLOW_PERIOD_COLUMNS)


def _flow(
    first: pd.DataFrame, keep: pd.Series, care_before: pd.Series, censored: pd.Series, study: Study
) -> pd.DataFrame:
    rows = [
        {"la": la.name, **_flow_row(first, first["la_code"] == la.ons_code, keep, care_before, censored)}
        for la in study.local_authorities
    ]
    flow = pd.DataFrame(rows, columns=FLOW_COLUMNS)
    total = flow.drop(columns="la").sum().to_dict()
    return pd.concat([flow, pd.DataFrame([{"la": "All", **total}])], ignore_index=True)
