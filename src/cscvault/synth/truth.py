"""Known truth of a synthetic run: true parameters and true sample counts, written as truth.json.

The primary sample is computed on the generated (clean, true) events with the study's definition:
children aged 0-12 or unborn at their first referral in the trial window; excluded when their first
period of care began before that referral; outcome = care started on or after the referral and within
`follow_up_months` calendar months; treated = referral on or after the LA's go-live date.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cscvault.study.model import Study
from cscvault.synth import codes
from cscvault.synth.dates import NO_DATE, IntArray, add_months, day, fmt
from cscvault.synth.dgp import BETA_CARE, UNBORN, Batch, Settings, age_years_by_month

COUNT_KEYS = (
    "children_generated",
    "referrals_generated",
    "children_looked_after",
    "sample_children",
    "sample_unborn",
    "sample_born",
    "sample_treated",
    "sample_cared_18m",
    "sample_cared_18m_treated",
    "excluded_prior_care",
    "sample_repeat_referrals",
    "sample_cpp_12m",
    "sample_pre_proceedings_18m",
    "sample_care_proceedings_18m",
    "sample_parental_factors",
    "sample_missing_gender",
    "sample_missing_ethnicity",
    "sample_missing_uasc",
    "sample_missing_disability",
    "sample_kinship_first_placement",
)


@dataclass
class PrimarySample:
    """One row per child in the primary sample (indices into a batch)."""

    child: IntArray
    ref_row: IntArray
    ref_date: IntArray
    age_years: IntArray  # -1 = unborn
    treated: npt.NDArray[np.bool_]
    period: IntArray  # index into study.periods
    cared_18m: npt.NDArray[np.bool_]


def primary_sample(b: Batch, study: Study) -> tuple[PrimarySample, int]:
    """The primary sample of a batch and the number of children excluded for care before referral."""
    lo, hi = day(study.windows.trial_start), day(study.windows.trial_end)
    rows = np.flatnonzero((b.r_date >= lo) & (b.r_date <= hi))
    # referrals are sorted by child then date, so the first row per child is its first referral in window
    _, first = np.unique(b.r_child[rows], return_index=True)
    rows = rows[first]
    child = b.r_child[rows]
    ref = b.r_date[rows]
    age = age_years_by_month(b.dob[child], ref)
    keep = (age == UNBORN) | ((age >= study.primary.min_age_years) & (age <= study.primary.max_age_years))
    rows, child, ref, age = rows[keep], child[keep], ref[keep], age[keep]
    care = b.care_start[child]
    prior = (care != NO_DATE) & (care < ref)
    excluded = int(prior.sum())
    rows, child, ref, age, care = rows[~prior], child[~prior], ref[~prior], age[~prior], care[~prior]
    cared = (care != NO_DATE) & (care >= ref) & (care <= add_months(ref, study.primary.follow_up_months))
    treated = ref >= day(b.la.la.go_live)
    period = np.full(ref.size, -1, dtype=np.int64)
    for k, p in enumerate(study.periods):
        period[(ref >= day(p.start)) & (ref <= day(p.end))] = k
    return PrimarySample(child, rows, ref, age, treated, period, cared), excluded


def _any_event_within(b: Batch, s: PrimarySample, dates: IntArray, months: int) -> npt.NDArray[np.bool_]:
    """Per sample child: does any referral row of theirs carry an event date in [referral, +months]?"""
    anchor = np.full(b.n, NO_DATE, dtype=np.int64)
    anchor[s.child] = s.ref_date
    a = anchor[b.r_child]
    hit = (
        (dates != NO_DATE) & (a != NO_DATE) & (dates >= a) & (dates <= add_months(np.where(a == NO_DATE, 0, a), months))
    )
    per_child = np.zeros(b.n, dtype=np.bool_)
    per_child[b.r_child[hit]] = True
    return per_child[s.child]


@dataclass
class TruthAccumulator:
    """Sums counts over batches, per LA and per LA x period."""

    study: Study
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    periods: dict[str, dict[str, list[int]]] = field(default_factory=dict)

    def add(self, b: Batch) -> None:
        code = b.la.la.ons_code
        c = self.counts.setdefault(code, dict.fromkeys(COUNT_KEYS, 0))
        per = self.periods.setdefault(
            code, {"n": [0] * len(self.study.periods), "cared": [0] * len(self.study.periods)}
        )
        s, excluded = primary_sample(b, self.study)
        lo, hi = day(self.study.windows.trial_start), day(self.study.windows.trial_end)
        in_window = (b.r_date >= lo) & (b.r_date <= hi)
        refs_in_window = np.bincount(b.r_child[in_window], minlength=b.n)
        first_place = np.full(b.n, "", dtype=object)
        if b.e_child.size:
            _, first_ep = np.unique(b.e_child, return_index=True)
            first_place[b.e_child[first_ep]] = b.e_place[first_ep]
        anchor_factors = b.r_factors[s.ref_row]
        c["children_generated"] += b.n
        c["referrals_generated"] += int(b.r_date.size)
        c["children_looked_after"] += int((b.care_start != NO_DATE).sum())
        c["sample_children"] += int(s.child.size)
        c["sample_unborn"] += int((s.age_years == UNBORN).sum())
        c["sample_born"] += int((s.age_years != UNBORN).sum())
        c["sample_treated"] += int(s.treated.sum())
        c["sample_cared_18m"] += int(s.cared_18m.sum())
        c["sample_cared_18m_treated"] += int((s.cared_18m & s.treated).sum())
        c["excluded_prior_care"] += excluded
        c["sample_repeat_referrals"] += int((refs_in_window[s.child] >= 2).sum())
        c["sample_cpp_12m"] += int(_any_event_within(b, s, b.r_cpp_start, 12).sum())
        c["sample_pre_proceedings_18m"] += int(_any_event_within(b, s, b.r_pre_start, 18).sum())
        c["sample_care_proceedings_18m"] += int(_any_event_within(b, s, b.r_proc_issue, 18).sum())
        c["sample_parental_factors"] += int(((anchor_factors & codes.PARENTAL_MASK) != 0).sum())
        c["sample_missing_gender"] += int(b.miss_gender[s.child].sum())
        c["sample_missing_ethnicity"] += int(b.miss_ethnicity[s.child].sum())
        c["sample_missing_uasc"] += int(b.miss_uasc[s.child].sum())
        c["sample_missing_disability"] += int(b.miss_disability[s.child].sum())
        c["sample_kinship_first_placement"] += int(
            np.isin(first_place[s.child[s.cared_18m]], codes.KINSHIP_PLACEMENTS).sum()
        )
        for k in range(len(self.study.periods)):
            in_k = s.period == k
            per["n"][k] += int(in_k.sum())
            per["cared"][k] += int((s.cared_18m & in_k).sum())


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 6) if den else None


def build_truth(
    settings: Settings,
    acc: TruthAccumulator,
    *,
    children_requested: int,
    children_per_la: dict[str, int],
    formats: tuple[str, ...],
    files: list[str],
    dr1_fsm_missing_share: dict[str, float],
) -> dict[str, Any]:
    study = settings.study
    trial_years = ((day(study.windows.trial_end) - day(study.windows.trial_start)) + 1) / 365.25
    intercepts = settings.intercepts
    mean_intercept = float(np.mean(list(intercepts.values())))
    las: dict[str, Any] = {}
    for la in study.local_authorities:
        code = la.ons_code
        c = acc.counts.get(code, dict.fromkeys(COUNT_KEYS, 0))
        per = acc.periods.get(code, {"n": [], "cared": []})
        n = c["sample_children"]
        las[code] = {
            "name": la.name,
            "go_live": la.go_live.isoformat(),
            "children_requested": children_per_la.get(code, 0),
            "counts": dict(c),
            "rates": {
                "sample_children_per_year": round(n / trial_years, 2),
                "unborn_share": _rate(c["sample_unborn"], n),
                "cared_18m": _rate(c["sample_cared_18m"], n),
                "baseline_cared_18m": _rate(per["cared"][0], per["n"][0]) if per["n"] else None,
                "repeat_referral_share": _rate(c["sample_repeat_referrals"], n),
                "cpp_12m": _rate(c["sample_cpp_12m"], n),
                "pre_proceedings_18m": _rate(c["sample_pre_proceedings_18m"], n),
                "care_proceedings_18m": _rate(c["sample_care_proceedings_18m"], n),
                "parental_factors": _rate(c["sample_parental_factors"], n),
                "missing_gender": _rate(c["sample_missing_gender"], n),
                "missing_ethnicity": _rate(c["sample_missing_ethnicity"], n),
                "missing_uasc": _rate(c["sample_missing_uasc"], n),
                "missing_disability": _rate(c["sample_missing_disability"], n),
                "dr1_fsm_missing_months": dr1_fsm_missing_share.get(code),
            },
            "periods": {
                p.name: {"children": per["n"][k], "cared_18m": per["cared"][k]} if per["n"] else {}
                for k, p in enumerate(study.periods)
            },
            "true_parameters": {
                "care_intercept": round(intercepts[code], 6),
                "la_random_effect": round(intercepts[code] - mean_intercept, 6),
                "cpp_intercept": round(settings.cpp_intercepts[code], 6),
                "urgent_proceedings_share_of_care": round(settings.urgent_proceedings[code], 6),
            },
        }
    effects = {
        "care_18m_odds_ratio": settings.effect_or,
        "cpp_duration_ratio": settings.common.cpp_duration_ratio,
        "rereferral_parental_odds_ratio": settings.common.rereferral_parental_or,
        "return_after_cpp_odds_ratio": settings.common.return_after_cpp_or,
        "proceedings_16wk_odds_ratio": settings.common.proceedings_16wk_or,
        "unauthorised_absence_ratio": settings.common.unauthorised_absence_ratio,
        "kinship_placement_odds_ratio": settings.common.kinship_placement_or,
    }
    effect_sd = float(np.std(list(intercepts.values())))
    totals = {k: sum(v["counts"][k] for v in las.values()) for k in COUNT_KEYS}
    return {
        "generator": "cscvault.synth",
        "truth_version": 1,
        "seed": settings.seed,
        "clean": settings.clean,
        "formats": list(formats),
        "children_requested": children_requested,
        "study_id": study.id,
        "study_sha256": study.source_sha256,
        "true_parameters": {
            "treatment_effects": effects,
            "care_model": {
                "link": "logit",
                "secular_trend_per_year": settings.common.care_trend_per_year,
                "trend_zero_at": "midpoint of the first study period",
                "la_random_effect_sd": round(effect_sd, 6),
                "la_spread": settings.la_spread,
                "covariate_log_odds": BETA_CARE,
                "note": "log-odds of care within 18 months of a referral = LA intercept + trend + "
                "log(OR) x (referral on or after go-live) + covariate terms (risk is a latent N(0,1))",
            },
        },
        "sample_definition": {
            "referral_window": [study.windows.trial_start.isoformat(), study.windows.trial_end.isoformat()],
            "ages": [study.primary.min_age_years, study.primary.max_age_years],
            "unborn": "referral before the month of birth",
            "follow_up_months": study.primary.follow_up_months,
        },
        "totals": totals,
        "local_authorities": las,
        "files": sorted(files),
    }


def write_truth(path: Path, truth: dict[str, Any]) -> None:
    path.write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def sample_frame(b: Batch, study: Study) -> dict[str, npt.NDArray[np.generic]]:
    """The batch's primary sample as columns of true values (for tests that fit the true model)."""
    s, _excluded = primary_sample(b, study)
    ch = s.child
    return {
        "la": np.full(ch.size, b.la.la.ons_code, dtype=object),
        "period": s.period,
        "treated": s.treated,
        "cared_18m": s.cared_18m,
        "age_years": s.age_years,
        "risk": b.risk[ch],
        "previous_cpp": b.r_prev_cpp[s.ref_row],
        "disabled": b.disabled[ch],
        "uasc": b.uasc[ch],
        "eth_group": b.eth_group[ch],
        "ref_date": s.ref_date,
    }


SAMPLE_COLUMNS = (
    "la_code",
    "la_child_id",
    "referral_id",
    "referral_date",
    "period",
    "age_years",
    "treated",
    "cared_18m",
    "care_start",
    "sex",
    "ethnicity",
    "disabled",
    "uasc",
    "previous_cpps",
    "parental_factors",
    "latent_risk",
)


class TruthSampleWriter:
    """`truth_sample.csv`: the true primary sample, one row per child, beside truth.json.

    Ids are the LA's true child ids (as in the CIN and SSDA903 files; the DR returns may reuse some ids
    on purpose), so a test can compare an analysis sample with the truth child by child.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh = path.open("w", encoding="utf-8", newline="")
        self.w = csv.writer(self.fh, lineterminator="\n")
        self.w.writerow(SAMPLE_COLUMNS)

    def add(self, b: Batch, study: Study) -> None:
        s, _excluded = primary_sample(b, study)
        ch = s.child
        ids = b.child_ids()[ch]
        refs = b.referral_ids()[s.ref_row]
        periods = np.array([p.name for p in study.periods] + [""], dtype=object)[s.period]
        care = np.where(b.care_start[ch] != NO_DATE, b.care_start[ch], NO_DATE)
        sex = np.array(["", "M", "F"] + [""] * 6 + ["U"], dtype=object)[b.sex[ch]]
        eth = np.array(codes.ETHNICITY_CODES, dtype=object)[b.ethnicity[ch]]
        parental = (b.r_factors[s.ref_row] & codes.PARENTAL_MASK) != 0
        cols = [
            np.full(ch.size, b.la.la.ons_code, dtype=object),
            ids,
            refs,
            fmt(s.ref_date, "iso"),
            periods,
            s.age_years.tolist(),
            s.treated.astype(np.int64).tolist(),
            s.cared_18m.astype(np.int64).tolist(),
            fmt(care, "iso"),
            sex,
            eth,
            b.disabled[ch].astype(np.int64).tolist(),
            b.uasc[ch].astype(np.int64).tolist(),
            b.r_prev_cpp[s.ref_row].tolist(),
            parental.astype(np.int64).tolist(),
            np.round(b.risk[ch], 4).tolist(),
        ]
        self.w.writerows(zip(*cols, strict=True))

    def close(self) -> Path:
        self.fh.close()
        return self.path
