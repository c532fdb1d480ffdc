"""Candidate generalisations (global recodings) of the quasi-identifiers, for the what-if comparison.

Each applies the same way to the key frame and to the analysis inputs, so the risk after a recoding and the
trial's primary analysis on the recoded data describe the same data:
- age in months to bands of 6 or 12 months (the band's lower bound; unborn stays negative);
- event dates to the first day of their month or quarter (referral, plan and care start dates alike);
- ethnicity from the 20 DfE codes to the five analysis groups (each code replaced by its group's first code,
  so the analysis's grouping is unchanged; codes with no group, REFU and NOBT, are kept);
- the local authority is always kept (the trial's clusters).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cscvault.formats.recode import table
from cscvault.risk.keyframe import DATE_COLUMNS


@dataclass(frozen=True)
class Generalisation:
    id: str
    label: str
    age_band_months: int | None = None
    date_unit: str | None = None  # "month" | "quarter"
    ethnicity_groups: bool = False


CANDIDATES: tuple[Generalisation, ...] = (
    Generalisation("age_6m", "age in 6-month bands", age_band_months=6),
    Generalisation("age_12m", "age in 12-month bands", age_band_months=12),
    Generalisation("dates_month", "event dates to the month", date_unit="month"),
    Generalisation("dates_quarter", "event dates to the quarter", date_unit="quarter"),
    Generalisation("ethnicity_5", "ethnicity in 5 groups", ethnicity_groups=True),
    Generalisation(
        "combined",
        "age in 12-month bands, dates to the quarter, ethnicity in 5 groups",
        age_band_months=12,
        date_unit="quarter",
        ethnicity_groups=True,
    ),
)


def candidate(id_: str) -> Generalisation:
    for g in CANDIDATES:
        if g.id == id_:
            return g
    raise KeyError(id_)


def age_band(months: pd.Series, width: int) -> pd.Series:
    values = pd.to_numeric(months, errors="coerce").astype("Float64")
    return (np.floor(values / width) * width).astype("Int64")


def coarsen_dates(dates: pd.Series, unit: str) -> pd.Series:
    d = pd.to_datetime(dates)
    freq = {"month": "M", "quarter": "Q"}[unit]
    out = d.dt.to_period(freq).dt.start_time.dt.date
    return out.where(d.notna(), None)


def ethnicity_five(codes: pd.Series) -> pd.Series:
    groups = table("ethnicity").groups
    first: dict[str, str] = {}
    for code in sorted(groups):
        first.setdefault(groups[code], code)
    return codes.map(lambda c: first[groups[c]] if isinstance(c, str) and c in groups else c)


def apply_to_key_frame(frame: pd.DataFrame, g: Generalisation) -> pd.DataFrame:
    out = frame.copy()
    if g.age_band_months:
        out["age_months"] = age_band(out["age_months"], g.age_band_months)
    if g.date_unit:
        for col in DATE_COLUMNS:
            out[col] = coarsen_dates(out[col], g.date_unit)
    if g.ethnicity_groups:
        out["ethnicity"] = ethnicity_five(out["ethnicity"])
    return out


def apply_to_inputs(
    referrals: pd.DataFrame, children: pd.DataFrame, cla: pd.DataFrame, g: Generalisation
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The primary analysis's inputs (`samples.load_inputs`) with the same recoding."""
    referrals, children, cla = referrals.copy(), children.copy(), cla.copy()
    if g.age_band_months:
        referrals["age_months"] = age_band(referrals["age_months"], g.age_band_months)
    if g.date_unit:
        referrals["referral_date"] = coarsen_dates(referrals["referral_date"], g.date_unit)
        cla["start_date"] = coarsen_dates(cla["start_date"], g.date_unit)
    if g.ethnicity_groups:
        children["ethnicity"] = ethnicity_five(children["ethnicity"])
    return referrals, children, cla
