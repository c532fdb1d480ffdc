"""The child-level data-generating process of the synthetic local authorities.

Children arrive per LA and month (2019-2025) with a latent risk; each referral draws, in time order, its
assessment (with factors), section 47 enquiry, child protection plan, CIN plan, pre-proceedings and care
proceedings, whether care starts within 18 months, and the episode's closure; a re-referral can only
follow a closed episode, so episodes of need never overlap. Looked-after periods are split into
SSDA903-style episodes (legal status and placement changes).

Known effects (recorded in truth.json): an LA intercept (the LA random effect, calibrated so that each
LA's baseline-period care rate matches its base rate), a secular trend on the log-odds of care, a
treatment odds ratio switched on at the LA's go-live date, and secondary effects (CPP duration,
re-referral, proceedings after pre-proceedings, kinship placements, unauthorised absence).

Everything is vectorised per batch of children; a batch depends only on (seed, LA, batch number), so
output is identical whatever formats are written and however many batches a run needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from cscvault.study.model import Study
from cscvault.synth import codes
from cscvault.synth.dates import NO_DATE, IntArray, add_months, day, first_of_month
from cscvault.synth.rates import CommonRates, LARates

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

BATCH_SIZE = 20_000
UNBORN, AGE_13_17 = -1, 13
# Age at first referral: years 0..12 weights (infants are over-represented among referrals).
_AGE_0_12_W = np.array([0.14, 0.08, 0.08, 0.08, 0.08, 0.075, 0.075, 0.075, 0.07, 0.07, 0.07, 0.07, 0.07])
_AGE_13_17_W = np.array([0.23, 0.22, 0.21, 0.18, 0.16])

# Covariate effects on the log-odds of care within 18 months (true values, in truth.json).
BETA_CARE = {
    "risk_sd": 0.9,
    "age_unborn": 0.9,
    "age_0": 0.5,
    "age_1_4": 0.0,
    "age_5_9": -0.35,
    "age_10_12": -0.2,
    "age_13_17": 0.1,
    "previous_cpp_per_plan": 0.25,
    "disabled": 0.3,
    "uasc": 2.0,
    "ethnicity_mixed": 0.15,
    "ethnicity_asian": -0.3,
    "ethnicity_black": 0.1,
    "ethnicity_other": 0.0,
}
BETA_CPP_RISK = 0.8
P_NFA = 0.08
P_CPP_BEFORE_CARE = 0.45
P_PROCEEDINGS_16WK = 0.35
P_PROCEEDINGS_LATER = 0.25
P_KINSHIP = 0.18
REREFERRAL_BASE = 0.45
REREFERRAL_RISK = 0.5
# Correction from the referral-level calibration to the sample-level base rates: children anchored on a
# re-referral and CPPs after later referrals add to what a single referral draws (measured once; see
# tests/unit/synth/test_base_rates.py).
CPP_SAMPLE_FACTOR = 0.94
CARE_SAMPLE_FACTOR = 0.77
PRE_SAMPLE_FACTOR = 0.80
UNBORN_SAMPLE_FACTOR = 1.10
# all-age children generated per child in the sample (children referred before the window re-enter it)
SAMPLE_INFLATION = 1.13


@dataclass
class Batch:
    """One batch of children of one LA with all their events (arrays; ragged data as flat arrays)."""

    la: LARates
    la_index: int
    batch_index: int
    first_serial: int
    # children
    dob: IntArray
    sex: IntArray  # 1 male, 2 female, 9 indeterminate
    ethnicity: IntArray  # index into codes.ETHNICITY_CODES
    eth_group: IntArray  # index into rates.ETHNIC_GROUPS
    disabled: BoolArray
    disability_code: IntArray
    uasc: BoolArray
    previous_cpp: IntArray  # plans before the data window
    risk: FloatArray
    # recorded-missing flags (the returns' missing values); all False under --clean
    miss_gender: BoolArray
    miss_ethnicity: BoolArray
    miss_uasc: BoolArray
    miss_disability: BoolArray
    miss_dob: BoolArray
    care_start: IntArray
    care_ref: IntArray  # referral row that led to care, -1 if none
    # referrals (sorted by child, then date)
    r_child: IntArray
    r_serial: IntArray
    r_date: IntArray
    r_rank: IntArray
    r_treated: BoolArray
    r_source: IntArray
    r_need: IntArray
    r_nfa: BoolArray
    r_asmt_start: IntArray
    r_asmt_auth: IntArray
    r_further: BoolArray
    r_factors: IntArray  # bitmask over codes.FACTOR_CODES
    r_s47: IntArray
    r_icpc: IntArray
    r_cpp_start: IntArray
    r_cpp_end: IntArray
    r_cpp_cat: IntArray
    r_cpp_cat_latest: IntArray
    r_prev_cpp: IntArray
    r_cin_start: IntArray
    r_cin_end: IntArray
    r_pre_start: IntArray
    r_pre_end: IntArray
    r_proc_issue: IntArray
    r_proc_end: IntArray
    r_closure: IntArray
    r_closure_reason: npt.NDArray[np.object_]
    # looked-after episodes (sorted by child, then start)
    e_child: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    e_start: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    e_end: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    e_rne: npt.NDArray[np.object_] = field(default_factory=lambda: np.zeros(0, object))
    e_ls: npt.NDArray[np.object_] = field(default_factory=lambda: np.zeros(0, object))
    e_place: npt.NDArray[np.object_] = field(default_factory=lambda: np.zeros(0, object))
    e_provider: npt.NDArray[np.object_] = field(default_factory=lambda: np.zeros(0, object))
    e_rec: npt.NDArray[np.object_] = field(default_factory=lambda: np.zeros(0, object))
    e_rpc: npt.NDArray[np.object_] = field(default_factory=lambda: np.zeros(0, object))
    e_need: npt.NDArray[np.object_] = field(default_factory=lambda: np.zeros(0, object))
    e_urn: npt.NDArray[np.object_] = field(default_factory=lambda: np.zeros(0, object))
    care_end: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    care_reason_end: npt.NDArray[np.object_] = field(default_factory=lambda: np.zeros(0, object))

    @property
    def n(self) -> int:
        return int(self.dob.shape[0])

    def child_ids(self) -> npt.NDArray[np.object_]:
        la = self.la
        serial = la.child_id_start + self.first_serial + np.arange(self.n)
        width = la.child_id_digits
        return np.array([f"{la.child_id_prefix}{s:0{width}d}" for s in serial.tolist()], dtype=object)

    def referral_ids(self) -> npt.NDArray[np.object_]:
        la = self.la
        width = la.referral_id_digits
        base = 10 ** (width - 1)
        return np.array([f"{la.referral_id_prefix}{base + s}" for s in self.r_serial.tolist()], dtype=object)


@dataclass(frozen=True)
class Settings:
    """Run-wide inputs of the process (true parameters that do not vary by batch)."""

    study: Study
    common: CommonRates
    seed: int
    effect_or: float
    clean: bool
    la_spread: float  # scale of the LA intercepts about their mean (1 = calibrated base rates)
    intercepts: dict[str, float]  # ONS code -> calibrated LA intercept of the care model
    cpp_intercepts: dict[str, float]
    pre_intercepts: dict[str, float]
    urgent_proceedings: dict[str, float]
    rereferral_intercept: float

    @property
    def data_start(self) -> int:
        return day(self.study.windows.data_start)

    @property
    def data_end(self) -> int:
        return day(self.study.windows.data_end)

    @property
    def baseline_mid(self) -> float:
        """Centre of the first (baseline) period, in days: the secular trend is zero there."""
        p = self.study.periods[0]
        return (day(p.start) + day(p.end)) / 2.0


def _expit(x: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def _age_group_effect(age_years: IntArray) -> FloatArray:
    b = BETA_CARE
    out = np.where(age_years == UNBORN, b["age_unborn"], 0.0)
    out = np.where(age_years == 0, b["age_0"], out)
    out = np.where((age_years >= 1) & (age_years <= 4), b["age_1_4"], out)
    out = np.where((age_years >= 5) & (age_years <= 9), b["age_5_9"], out)
    out = np.where((age_years >= 10) & (age_years <= 12), b["age_10_12"], out)
    out = np.where(age_years >= 13, b["age_13_17"], out)
    return np.asarray(out, dtype=np.float64)


def _eth_effect(group: IntArray) -> FloatArray:
    b = BETA_CARE
    eff = np.array([0.0, b["ethnicity_mixed"], b["ethnicity_asian"], b["ethnicity_black"], b["ethnicity_other"]])
    return np.asarray(eff[group], dtype=np.float64)


def care_linear_predictor(
    risk: FloatArray,
    age_years: IntArray,
    previous_cpp: IntArray,
    disabled: BoolArray,
    uasc: BoolArray,
    eth_group: IntArray,
) -> FloatArray:
    """The child-level part of the care log-odds (no intercept, trend or treatment)."""
    b = BETA_CARE
    return np.asarray(
        b["risk_sd"] * risk
        + _age_group_effect(age_years)
        + b["previous_cpp_per_plan"] * np.minimum(previous_cpp, 3)
        + b["disabled"] * disabled
        + b["uasc"] * uasc
        + _eth_effect(eth_group),
        dtype=np.float64,
    )


# --- children ---------------------------------------------------------------------------------------


def _draw_age_years(rng: np.random.Generator, n: int, unborn_share: float, mult: float) -> IntArray:
    p_young = 1.0 / mult
    u = rng.random(n)
    ages = np.full(n, AGE_13_17, dtype=np.int64)
    young = u < p_young
    unborn = u < p_young * unborn_share
    ages[young] = rng.choice(13, size=int(young.sum()), p=_AGE_0_12_W / _AGE_0_12_W.sum())
    old = ~young
    ages[old] = 13 + rng.choice(5, size=int(old.sum()), p=_AGE_13_17_W / _AGE_13_17_W.sum())
    ages[unborn] = UNBORN
    return ages


def _draw_covariates(rng: np.random.Generator, la: LARates, common: CommonRates, ages: IntArray) -> dict[str, Any]:
    n = ages.shape[0]
    risk = rng.standard_normal(n)
    older = ages >= 13
    uasc = rng.random(n) < np.where(older, 0.08, 0.002)
    eth_group: IntArray = np.asarray(rng.choice(5, size=n, p=np.array(la.ethnicity)), dtype=np.int64)
    # unaccompanied asylum-seeking children are mostly from Asian, Black or other backgrounds
    recode = uasc & (rng.random(n) < 0.8)
    eth_group[recode] = rng.choice(np.array([2, 3, 4]), size=int(recode.sum()), p=[0.35, 0.35, 0.3])
    eth = np.zeros(n, dtype=np.int64)
    for g in range(5):
        idx = np.flatnonzero(eth_group == g)
        members = [i for i, e in enumerate(codes.ETHNICITY) if e[1] == g]
        w = np.array([codes.ETHNICITY[i][2] for i in members])
        eth[idx] = np.array(members)[rng.choice(len(members), size=idx.size, p=w / w.sum())]
    p_dis = common.disability_share * np.where(ages >= 5, 1.3, 0.6)
    disabled = rng.random(n) < p_dis
    dcode = rng.choice(len(codes.DISABILITIES), size=n, p=np.array(codes.DISABILITY_P) / sum(codes.DISABILITY_P))
    u = rng.random(n)
    sex = np.where(u < 0.515, 1, 2)
    sex = np.where(u > 0.998, 9, sex)
    sex = np.where(uasc & (rng.random(n) < 0.85), 1, sex)
    prev: IntArray = np.asarray(rng.choice(5, size=n, p=np.array([0.85, 0.10, 0.035, 0.01, 0.005])), dtype=np.int64)
    prev = np.where(ages == UNBORN, 0, prev)
    return {
        "risk": risk,
        "eth_group": eth_group,
        "ethnicity": eth,
        "uasc": uasc,
        "disabled": disabled,
        "disability_code": dcode,
        "sex": sex,
        "previous_cpp": prev,
    }


def _referral_month_weights(study: Study) -> tuple[IntArray, FloatArray]:
    """First days of each month of the data window and the relative arrival rate in each."""
    start = np.datetime64(study.windows.data_start, "M")
    end = np.datetime64(study.windows.data_end, "M")
    months = np.arange(start, end + 1)
    first = months.astype("datetime64[D]").astype(np.int64)
    length = (months + 1).astype("datetime64[D]").astype(np.int64) - first
    years = (first - first[0]) / 365.25
    m_of_year = (months - months.astype("datetime64[Y]")).astype(np.int64) + 1
    season = np.where(np.isin(m_of_year, [8, 12]), 0.88, 1.0) * np.where(np.isin(m_of_year, [10, 11, 3]), 1.06, 1.0)
    covid = np.ones(months.size)
    lockdown = {
        np.datetime64("2020-04"): 0.72,
        np.datetime64("2020-05"): 0.80,
        np.datetime64("2020-06"): 0.92,
    }
    for m, f in lockdown.items():
        covid[months == m] = f
    w = length * season * covid * (1.0 - 0.015 * years)
    return np.asarray(first, dtype=np.int64), np.asarray(w / w.sum(), dtype=np.float64)


def _dob_for(rng: np.random.Generator, ref: IntArray, ages: IntArray) -> IntArray:
    n = ref.shape[0]
    born_days = np.floor(ages * 365.25 + rng.uniform(0, 365, n)).astype(np.int64)
    dob = ref - born_days
    unborn = ages == UNBORN
    dob[unborn] = ref[unborn] + rng.integers(35, 220, int(unborn.sum()))
    return np.asarray(dob, dtype=np.int64)


def age_years_at(dob: IntArray, when: IntArray) -> IntArray:
    """Completed years; UNBORN (-1) when `when` is before the month of birth."""
    d = dob.astype("datetime64[D]")
    w = when.astype("datetime64[D]")
    months = (w.astype("datetime64[M]") - d.astype("datetime64[M]")).astype(np.int64)
    dom_w = (w - w.astype("datetime64[M]")).astype(np.int64)
    dom_d = (d - d.astype("datetime64[M]")).astype(np.int64)
    months = months - (dom_w < dom_d)
    years = np.floor_divide(months, 12)
    unborn = when < first_of_month(dob)
    return np.asarray(np.where(unborn, UNBORN, np.maximum(years, 0)), dtype=np.int64)


def age_years_by_month(dob: IntArray, when: IntArray) -> IntArray:
    """Age as the returns allow it to be measured: whole calendar months from the month of birth (returns
    carry the month, not the day), in completed years; UNBORN (-1) before the month of birth. This is the
    sample definition ingest and analysis apply, so the truth's sample counts use it too."""
    d = dob.astype("datetime64[D]").astype("datetime64[M]")
    w = when.astype("datetime64[D]").astype("datetime64[M]")
    months = (w - d).astype(np.int64)
    return np.asarray(np.where(months < 0, UNBORN, np.floor_divide(months, 12)), dtype=np.int64)


# --- calibration --------------------------------------------------------------------------------------


def _solve_intercept(lin: FloatArray, target: float) -> float:
    lo, hi = -15.0, 10.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if float(_expit(mid + lin).mean()) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _calibration_sample(la: LARates, common: CommonRates) -> dict[str, Any]:
    """A fixed draw of 0-12 year olds' covariates (seed-independent, so true parameters are too)."""
    rng = np.random.default_rng(np.random.SeedSequence([20200301, int(la.la.ons_code[1:])]))
    n = 60_000
    ages = _draw_age_years(rng, n, la.unborn_share, 1.0)
    cov = _draw_covariates(rng, la, common, ages)
    cov["ages"] = ages
    return cov


def calibrate(
    study: Study,
    common: CommonRates,
    las: tuple[LARates, ...],
    seed: int,
    effect_or: float,
    clean: bool,
    la_spread: float = 1.0,
) -> Settings:
    """True parameters of a run. `la_spread` scales each LA's care intercept about their mean: 1 keeps the
    calibrated base rates (the real LA random effect), 0 makes the LAs alike (no LA variance), so model
    checks can cover a random-intercept variance on or near its boundary."""
    intercepts, cpp, pre, urgent = {}, {}, {}, {}
    for la in las:
        cov = _calibration_sample(la, common)
        lin = care_linear_predictor(
            cov["risk"], cov["ages"], cov["previous_cpp"], cov["disabled"], cov["uasc"], cov["eth_group"]
        )
        intercepts[la.la.ons_code] = _solve_intercept(lin, la.baseline_care_18m * CARE_SAMPLE_FACTOR)
        care_rate = la.baseline_care_18m
        target_cpp = max(0.01, (la.cpp_rate * CPP_SAMPLE_FACTOR - care_rate * P_CPP_BEFORE_CARE) / (1 - care_rate))
        cpp[la.la.ons_code] = _solve_intercept(BETA_CPP_RISK * cov["risk"], target_cpp)
        pre[la.la.ons_code] = _solve_intercept(
            BETA_CPP_RISK * cov["risk"], max(la.pre_proceedings_rate * PRE_SAMPLE_FACTOR, 1e-4)
        )
        via_pre = la.pre_proceedings_rate * (P_PROCEEDINGS_16WK + (1 - P_PROCEEDINGS_16WK) * P_PROCEEDINGS_LATER)
        urgent[la.la.ons_code] = float(np.clip((la.care_proceedings_rate - via_pre) / care_rate, 0.0, 0.9))
    centre = float(np.mean(list(intercepts.values())))
    intercepts = {code: centre + la_spread * (v - centre) for code, v in intercepts.items()}
    return Settings(
        study=study,
        common=common,
        seed=seed,
        effect_or=effect_or,
        clean=clean,
        la_spread=la_spread,
        intercepts=intercepts,
        cpp_intercepts=cpp,
        pre_intercepts=pre,
        urgent_proceedings=urgent,
        rereferral_intercept=_logit(REREFERRAL_BASE),
    )


# --- referrals ----------------------------------------------------------------------------------------


def _u(rng: np.random.Generator, lo: int, hi: int, n: int) -> IntArray:
    return np.asarray(rng.integers(lo, hi + 1, n), dtype=np.int64)


def _lognormal_days(rng: np.random.Generator, median: float, sigma: float, n: int) -> IntArray:
    return np.asarray(np.maximum(1, np.round(median * np.exp(sigma * rng.standard_normal(n)))), dtype=np.int64)


def _bits(rng: np.random.Generator, risk: FloatArray) -> IntArray:
    mask = np.zeros(risk.shape[0], dtype=np.int64)
    for i, (_code, p, load) in enumerate(codes.FACTORS):
        prob = _expit(_logit(p) + load * risk)
        mask |= (rng.random(risk.shape[0]) < prob).astype(np.int64) << i
    return mask


def _simulate_referrals(
    rng: np.random.Generator,
    s: Settings,
    la: LARates,
    ch: dict[str, npt.NDArray[np.generic]],
    first_ref: IntArray,
) -> tuple[dict[str, npt.NDArray[np.generic]], IntArray, IntArray]:
    """Draw every referral of the batch, rank by rank; returns referral columns, care start and its row."""
    n = first_ref.shape[0]
    data_end = s.data_end
    go_live = day(la.la.go_live)
    log_or = float(np.log(s.effect_or))
    c = s.common
    dob = np.asarray(ch["dob"], dtype=np.int64)
    risk = np.asarray(ch["risk"], dtype=np.float64)
    eighteenth = add_months(dob, 18 * 12)
    care_start = np.full(n, NO_DATE, dtype=np.int64)
    care_ref = np.full(n, -1, dtype=np.int64)
    cpp_count = np.asarray(ch["previous_cpp"], dtype=np.int64).copy()
    cols: dict[str, list[npt.NDArray[np.generic]]] = {}

    def put(name: str, value: npt.NDArray[np.generic]) -> None:
        cols.setdefault(name, []).append(value)

    child = np.arange(n, dtype=np.int64)
    date = first_ref.copy()
    rank = 0
    offset = 0
    while child.size:
        m = child.size
        treated = date >= go_live
        ages = age_years_at(dob[child], date)
        # -- care within 18 months of this referral (primary outcome) --
        lin = care_linear_predictor(
            risk[child],
            ages,
            cpp_count[child],
            np.asarray(ch["disabled"])[child],
            np.asarray(ch["uasc"])[child],
            np.asarray(ch["eth_group"])[child],
        )
        trend = c.care_trend_per_year * (date - s.baseline_mid) / 365.25
        p_care = _expit(s.intercepts[la.la.ons_code] + trend + log_or * treated + lin)
        eligible = (care_start == NO_DATE)[child]
        care = eligible & (rng.random(m) < p_care)
        limit = add_months(date, 18) - date
        quick = rng.random(m) < 0.35
        delay = np.where(quick, _u(rng, 0, 30, m), np.round(rng.exponential(150.0, m)).astype(np.int64))
        delay = np.where(delay > limit, np.floor(rng.random(m) * (limit + 1)).astype(np.int64), delay)
        start = np.maximum(date + delay, dob[child] + _u(rng, 0, 5, m))
        care &= (start <= date + limit) & (start < eighteenth[child]) & (start <= data_end)
        # -- referral, assessment, factors --
        nfa = ~care & (rng.random(m) < P_NFA)
        has_asmt = ~nfa
        a_start = np.where(has_asmt, date + _u(rng, 0, 6, m), NO_DATE)
        a_auth = np.where(has_asmt, a_start + _u(rng, 10, 45, m), NO_DATE)
        a_auth = np.where(a_auth > data_end, NO_DATE, a_auth)
        factors = np.where(a_auth != NO_DATE, _bits(rng, risk[child]), 0)
        parental = (factors & codes.PARENTAL_MASK) != 0
        # -- child protection: s47, ICPC, plan --
        p_cpp = _expit(s.cpp_intercepts[la.la.ons_code] + BETA_CPP_RISK * risk[child])
        cpp = has_asmt & np.where(care, rng.random(m) < P_CPP_BEFORE_CARE, rng.random(m) < p_cpp)
        cpp_start = np.where(cpp, a_start + _u(rng, 12, 45, m), NO_DATE)
        cpp &= (cpp_start <= data_end) & ~(care & (cpp_start >= start))
        cpp_start = np.where(cpp, cpp_start, NO_DATE)
        dur = _lognormal_days(rng, 300.0, 0.55, m)
        dur = np.where(treated, np.round(dur * c.cpp_duration_ratio).astype(np.int64), dur)
        cpp_end = np.where(cpp, cpp_start + np.maximum(dur, 21), NO_DATE)
        cpp_end = np.where(cpp & care & (cpp_end > start), start, cpp_end)
        cpp_end = np.where(cpp_end > data_end, NO_DATE, cpp_end)
        s47_only = has_asmt & ~cpp & (rng.random(m) < 0.06 * np.exp(0.5 * risk[child]))
        s47 = np.where(cpp, np.maximum(date + 1, cpp_start - _u(rng, 8, 25, m)), NO_DATE)
        s47 = np.where(s47_only, date + _u(rng, 1, 20, m), s47)
        s47 = np.where(s47 > data_end, NO_DATE, s47)
        icpc = np.where(cpp, cpp_start, NO_DATE)
        icpc = np.where(s47_only & (s47 != NO_DATE) & (rng.random(m) < 0.4), s47 + _u(rng, 10, 20, m), icpc)
        icpc = np.where(icpc > data_end, NO_DATE, icpc)
        cat = rng.choice(len(codes.ABUSE_CATEGORIES), size=m, p=np.array(codes.ABUSE_P))
        cat_latest = np.where(rng.random(m) < 0.85, cat, rng.choice(len(codes.ABUSE_CATEGORIES), size=m))
        # -- pre-proceedings and care proceedings --
        p_pre = _expit(s.pre_intercepts[la.la.ons_code] + BETA_CPP_RISK * risk[child])
        pre = has_asmt & (rng.random(m) < p_pre)
        anchor = np.where(cpp, cpp_start, a_auth)
        pre_start = np.where(pre & (anchor != NO_DATE), anchor + _u(rng, 30, 240, m), NO_DATE)
        pre_start = np.where(pre_start > data_end, NO_DATE, pre_start)
        pre = pre_start != NO_DATE
        p16 = _expit(_logit(P_PROCEEDINGS_16WK) + np.log(c.proceedings_16wk_or) * treated)
        within = pre & (rng.random(m) < p16)
        later = pre & ~within & (rng.random(m) < P_PROCEEDINGS_LATER)
        issue = np.where(within, pre_start + _u(rng, 7, 112, m), NO_DATE)
        issue = np.where(later, pre_start + _u(rng, 113, 300, m), issue)
        issue = np.where(issue > data_end, NO_DATE, issue)
        pre_end = np.where(
            pre,
            np.where(issue != NO_DATE, np.minimum(issue, pre_start + 200), pre_start + _u(rng, 90, 180, m)),
            NO_DATE,
        )
        pre_end = np.where(pre_end > data_end, NO_DATE, pre_end)
        # care entrants without pre-proceedings: some come in through urgent proceedings (interim order)
        urgent = care & ~pre & (issue == NO_DATE) & (rng.random(m) < s.urgent_proceedings[la.la.ons_code])
        issue = np.where(urgent, np.maximum(date, start - _u(rng, 0, 3, m)), issue)
        issue = np.where(issue > data_end, NO_DATE, issue)
        proc_end = np.where(issue != NO_DATE, issue + _lognormal_days(rng, 250.0, 0.3, m), NO_DATE)
        proc_end = np.where(proc_end > data_end, NO_DATE, proc_end)
        # -- CIN plans (not alongside a CPP; step-down after one) --
        step_down = cpp & (cpp_end != NO_DATE) & ~care & (rng.random(m) < 0.4)
        plan = has_asmt & ~cpp & ~care & (a_auth != NO_DATE) & (rng.random(m) < 0.5 + 0.1 * np.tanh(risk[child]))
        cin_start = np.where(plan, a_auth + _u(rng, 0, 14, m), NO_DATE)
        cin_start = np.where(step_down, cpp_end, cin_start)
        cin_end = np.where(cin_start != NO_DATE, cin_start + _lognormal_days(rng, 200.0, 0.5, m), NO_DATE)
        cin_start = np.where(cin_start > data_end, NO_DATE, cin_start)
        cin_end = np.where((cin_end > data_end) | (cin_start == NO_DATE), NO_DATE, cin_end)
        further = care | cpp | (cin_start != NO_DATE) | pre | (has_asmt & (rng.random(m) < 0.2))
        further &= has_asmt
        # -- closure of the episode of need --
        open_any = (
            ((cpp_start != NO_DATE) & (cpp_end == NO_DATE))
            | ((cin_start != NO_DATE) & (cin_end == NO_DATE))
            | (pre & (pre_end == NO_DATE))
            | ((issue != NO_DATE) & (proc_end == NO_DATE))
            | (has_asmt & (a_auth == NO_DATE))
            | care
        )
        last = np.maximum.reduce([date, a_auth, cpp_end, cin_end, pre_end, proc_end])
        closure = np.where(nfa, date + _u(rng, 0, 2, m), last + _u(rng, 1, 30, m))
        closure = np.where(open_any | (closure > data_end), NO_DATE, closure)
        reason = np.where(nfa | ~further, np.where(rng.random(m) < 0.35, "RC9", "RC8"), "RC7").astype(object)
        reason[closure == NO_DATE] = ""
        need = np.where(nfa, 8, rng.choice(len(codes.PRIMARY_NEED), size=m, p=np.array(codes.PRIMARY_NEED_P)))
        source = rng.choice(len(codes.REFERRAL_SOURCES), size=m, p=_source_p())
        # record care
        idx = offset + np.arange(m)
        care_start[child[care]] = start[care]
        care_ref[child[care]] = idx[care]
        for name, value in (
            ("child", child),
            ("date", date),
            ("rank", np.full(m, rank)),
            ("treated", treated),
            ("source", source),
            ("need", need),
            ("nfa", nfa),
            ("asmt_start", a_start),
            ("asmt_auth", a_auth),
            ("further", further),
            ("factors", factors),
            ("s47", s47),
            ("icpc", icpc),
            ("cpp_start", cpp_start),
            ("cpp_end", cpp_end),
            ("cpp_cat", cat),
            ("cpp_cat_latest", cat_latest),
            ("prev_cpp", cpp_count[child].copy()),
            ("cin_start", cin_start),
            ("cin_end", cin_end),
            ("pre_start", pre_start),
            ("pre_end", pre_end),
            ("proc_issue", issue),
            ("proc_end", proc_end),
            ("closure", closure),
            ("closure_reason", reason),
        ):
            put(name, np.asarray(value))
        cpp_count[child] += cpp.astype(np.int64)
        # -- re-referral after a closed episode --
        p_rep = _expit(
            s.rereferral_intercept
            + REREFERRAL_RISK * risk[child]
            + np.log(c.rereferral_parental_or) * (treated & parental)
            + np.log(c.return_after_cpp_or) * (treated & cpp)
        )
        again = (closure != NO_DATE) & (rng.random(m) < p_rep)
        nxt = closure + 14 + np.round(rng.exponential(180.0, m)).astype(np.int64)
        again &= nxt <= data_end
        offset += m
        child = child[again]
        date = nxt[again]
        rank += 1
    out = {k: np.concatenate(v) for k, v in cols.items()}
    order = np.lexsort((out["rank"], out["child"]))
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    out = {k: v[order] for k, v in out.items()}
    care_ref = np.where(care_ref >= 0, inverse[np.maximum(care_ref, 0)], -1)
    return out, care_start, care_ref


@cache
def _source_p() -> FloatArray:
    p = np.array([w for _c, w in codes.REFERRAL_SOURCES])
    return np.asarray(p / p.sum(), dtype=np.float64)


# --- looked-after episodes ----------------------------------------------------------------------------


def _placement(rng: np.random.Generator, age: int, treated: bool, kin_or: float) -> str:
    p_kin = float(_expit(np.array(_logit(P_KINSHIP) + np.log(kin_or) * treated)))
    u = rng.random()
    if age <= 0 and u < 0.08:
        return "R3"
    if rng.random() < p_kin:
        return str(rng.choice(codes.KINSHIP_PLACEMENTS, p=[0.45, 0.1, 0.45]))
    if age >= 11 and rng.random() < 0.3:
        return "K2"
    if rng.random() < 0.03:
        return "P1"
    return str(rng.choice(codes.FOSTER_PLACEMENTS, p=[0.35, 0.05, 0.6]))


def _provider(rng: np.random.Generator, place: str) -> str:
    if place == "P1":
        return "PR0"
    options = codes.PLACEMENT_PROVIDER.get(place[0], ("PR1",))
    return str(options[int(rng.integers(len(options)))])


def _episodes(rng: np.random.Generator, s: Settings, b: Batch) -> None:
    """Split each child's period of care into SSDA903 episodes (changes of legal status or placement)."""
    data_end = s.data_end
    rows: dict[str, list[object]] = {
        k: [] for k in ("child", "start", "end", "rne", "ls", "place", "prov", "rec", "rpc", "need", "urn")
    }
    care_end = np.full(b.n, NO_DATE, dtype=np.int64)
    care_reason = np.full(b.n, "", dtype=object)
    kin_or = s.common.kinship_placement_or
    for i in np.flatnonzero(b.care_start != NO_DATE).tolist():
        r = int(b.care_ref[i])
        start = int(b.care_start[i])
        age = int(age_years_at(b.dob[i : i + 1], np.array([start]))[0])
        eighteen = int(add_months(b.dob[i : i + 1], 216)[0])
        end = start + int(_lognormal_days(rng, 420.0, 0.9, 1)[0])
        reason = str(rng.choice([c for c, _ in codes.CEASE_ORDINARY], p=_cease_p()))
        issue, p_end = int(b.r_proc_issue[r]), int(b.r_proc_end[r])
        events: list[tuple[int, str, str]] = []  # (date, kind, value)
        ls0 = (
            "C1"
            if issue != NO_DATE and issue <= start
            else ("V2" if rng.random() > 0.12 else str(rng.choice(codes.LEGAL_EMERGENCY)))
        )
        if ls0 in codes.LEGAL_EMERGENCY:
            events.append(
                (
                    start + int(rng.integers(1, 9)),
                    "ls",
                    "C1" if issue != NO_DATE and issue < start + 9 else "V2",
                )
            )
        if issue != NO_DATE and start < issue < end:
            events.append((issue, "ls", "C1"))
        if p_end != NO_DATE and start < p_end < end and issue != NO_DATE:
            u = rng.random()
            if u < 0.6:
                events.append((p_end, "ls", "C2"))
                if age <= 3 and rng.random() < 0.35:
                    events.append((p_end, "ls", "E1"))
                    adopt_place = p_end + int(rng.integers(60, 200))
                    events.append((adopt_place, "place", str(rng.choice(["A4", "A5"]))))
                    end = adopt_place + int(rng.integers(150, 400))
                    reason = str(rng.choice(codes.CEASE_ADOPTED))
            elif u < 0.85:
                end, reason = p_end, str(rng.choice(["E45", "E47"]))
            else:
                end, reason = p_end, str(rng.choice(["E41", "E4A"]))
        if end >= eighteen:
            end = eighteen
            reason = str(rng.choice([c for c, _ in codes.CEASE_AT_18], p=[p for _, p in codes.CEASE_AT_18]))
        years = (end - start) / 365.25
        for _ in range(min(3, int(rng.poisson(0.45 * years)))):
            events.append((start + int(rng.integers(14, max(15, end - start))), "place", ""))
        events = sorted(e for e in events if start < e[0] < end)
        treated = bool(b.r_treated[r])
        place = _placement(rng, age, treated, kin_or)
        ls = ls0
        need = codes.PRIMARY_NEED[int(b.r_need[r])] if int(b.r_need[r]) < 8 else "N1"
        seg_start, rne = start, "S"
        # group same-day events into one change
        k = 0
        segments: list[tuple[int, str, str, str]] = []
        while k <= len(events):
            if k == len(events):
                segments.append((seg_start, rne, ls, place))
                break
            d = events[k][0]
            new_ls, new_place = ls, place
            while k < len(events) and events[k][0] == d:
                _d, kind, val = events[k]
                if kind == "ls":
                    new_ls = val
                else:
                    new_place = val or _placement(rng, age, treated, kin_or)
                k += 1
            if new_ls == ls and new_place == place:
                continue
            segments.append((seg_start, rne, ls, place))
            ls_changed, place_changed = new_ls != ls, new_place != place
            rne = "B" if ls_changed and place_changed else ("L" if ls_changed else "P")
            seg_start, ls, place = d, new_ls, new_place
        # the returns end at the data window: later changes are unknown, the last episode is open
        segments = [seg for seg in segments if seg[0] <= data_end]
        open_end = end > data_end
        urn = f"{int(rng.integers(1000000, 9999999))}"
        for j, (st, rn, lsj, pl) in enumerate(segments):
            last = j == len(segments) - 1
            en = end if last else segments[j + 1][0]
            rows["child"].append(i)
            rows["start"].append(st)
            rows["end"].append(NO_DATE if (last and open_end) else en)
            rows["rne"].append(rn)
            rows["ls"].append(lsj)
            rows["place"].append(pl)
            rows["prov"].append(_provider(rng, pl))
            rows["rec"].append("" if (last and open_end) else (reason if last else "X1"))
            nxt_rne = "" if last else segments[j + 1][1]
            rows["rpc"].append(str(rng.choice(codes.REASON_PLACE_CHANGE)) if nxt_rne in ("P", "B") else "")
            rows["need"].append(need)
            rows["urn"].append(urn if pl.startswith("K") else "")
        care_end[i] = NO_DATE if open_end else end
        care_reason[i] = "" if open_end else reason
    b.e_child = np.array(rows["child"], dtype=np.int64)
    b.e_start = np.array(rows["start"], dtype=np.int64)
    b.e_end = np.array(rows["end"], dtype=np.int64)
    b.e_rne = np.array(rows["rne"], dtype=object)
    b.e_ls = np.array(rows["ls"], dtype=object)
    b.e_place = np.array(rows["place"], dtype=object)
    b.e_provider = np.array(rows["prov"], dtype=object)
    b.e_rec = np.array(rows["rec"], dtype=object)
    b.e_rpc = np.array(rows["rpc"], dtype=object)
    b.e_need = np.array(rows["need"], dtype=object)
    b.e_urn = np.array(rows["urn"], dtype=object)
    b.care_end = care_end
    b.care_reason_end = care_reason


@cache
def _cease_p() -> FloatArray:
    p = np.array([w for _c, w in codes.CEASE_ORDINARY])
    return np.asarray(p / p.sum(), dtype=np.float64)


def _close_care_episodes(b: Batch) -> None:
    """The episode of need that led to care stays open until care ends, then closes."""
    rows = b.care_ref >= 0
    refs = b.care_ref[rows]
    ends = b.care_end[rows]
    b.r_closure[refs] = np.where(ends != NO_DATE, ends + 7, NO_DATE)
    reasons = b.care_reason_end[rows]
    mapped = np.where(
        np.isin(reasons, codes.CEASE_ADOPTED),
        "RC1",
        np.where(np.isin(reasons, ["E45", "E47", "E48"]), "RC4", np.where(reasons == "E41", "RC3", "RC7")),
    )
    b.r_closure_reason[refs] = np.where(ends != NO_DATE, mapped, "")


# --- batches -----------------------------------------------------------------------------------------


def batch_rng(seed: int, la_index: int, batch_index: int, stream: int) -> np.random.Generator:
    """Independent stream per (seed, LA, batch, purpose): 0 = process, 1 = mess, 2 = identifiers, 3 = school."""
    return np.random.default_rng(np.random.SeedSequence([seed, la_index, batch_index, stream]))


def simulate_batch(s: Settings, la: LARates, la_index: int, batch_index: int, n: int, first_serial: int) -> Batch:
    rng = batch_rng(s.seed, la_index, batch_index, 0)
    common = s.common
    firsts, weights = _referral_month_weights(s.study)
    month = rng.choice(firsts.size, size=n, p=weights)
    month_len = np.append(firsts[1:], s.data_end + 1) - firsts
    first_ref = np.asarray(firsts[month] + np.floor(rng.random(n) * month_len[month]).astype(np.int64), dtype=np.int64)
    ages = _draw_age_years(rng, n, la.unborn_share * UNBORN_SAMPLE_FACTOR, common.all_age_multiplier)
    cov = _draw_covariates(rng, la, common, ages)
    dob = _dob_for(rng, first_ref, ages)
    cov["dob"] = dob
    miss = la.missing if not s.clean else {}
    unborn_first = ages == UNBORN

    def missing(key: str, weight: FloatArray | None = None) -> BoolArray:
        p: float | FloatArray = miss.get(key, 0.0)
        if weight is not None:
            p = p * weight
        return np.asarray(rng.random(n) < p, dtype=np.bool_)

    # gender is mostly missing for children referred before birth (recorded as "unborn")
    gender_weight = np.where(unborn_first, 4.0, 0.7)
    refs, care_start, care_ref = _simulate_referrals(rng, s, la, cov, first_ref)
    serials = first_serial * 8 + np.arange(refs["child"].size)
    b = Batch(
        la=la,
        la_index=la_index,
        batch_index=batch_index,
        first_serial=first_serial,
        dob=dob,
        sex=np.asarray(cov["sex"], dtype=np.int64),
        ethnicity=np.asarray(cov["ethnicity"], dtype=np.int64),
        eth_group=np.asarray(cov["eth_group"], dtype=np.int64),
        disabled=np.asarray(cov["disabled"], dtype=np.bool_),
        disability_code=np.asarray(cov["disability_code"], dtype=np.int64),
        uasc=np.asarray(cov["uasc"], dtype=np.bool_),
        previous_cpp=np.asarray(cov["previous_cpp"], dtype=np.int64),
        risk=np.asarray(cov["risk"], dtype=np.float64),
        miss_gender=missing("gender", gender_weight),
        miss_ethnicity=missing("ethnicity"),
        miss_uasc=missing("uasc"),
        miss_disability=missing("disability"),
        miss_dob=missing("dob"),
        care_start=care_start,
        care_ref=care_ref,
        r_child=np.asarray(refs["child"], dtype=np.int64),
        r_serial=np.asarray(serials, dtype=np.int64),
        r_date=np.asarray(refs["date"], dtype=np.int64),
        r_rank=np.asarray(refs["rank"], dtype=np.int64),
        r_treated=np.asarray(refs["treated"], dtype=np.bool_),
        r_source=np.asarray(refs["source"], dtype=np.int64),
        r_need=np.asarray(refs["need"], dtype=np.int64),
        r_nfa=np.asarray(refs["nfa"], dtype=np.bool_),
        r_asmt_start=np.asarray(refs["asmt_start"], dtype=np.int64),
        r_asmt_auth=np.asarray(refs["asmt_auth"], dtype=np.int64),
        r_further=np.asarray(refs["further"], dtype=np.bool_),
        r_factors=np.asarray(refs["factors"], dtype=np.int64),
        r_s47=np.asarray(refs["s47"], dtype=np.int64),
        r_icpc=np.asarray(refs["icpc"], dtype=np.int64),
        r_cpp_start=np.asarray(refs["cpp_start"], dtype=np.int64),
        r_cpp_end=np.asarray(refs["cpp_end"], dtype=np.int64),
        r_cpp_cat=np.asarray(refs["cpp_cat"], dtype=np.int64),
        r_cpp_cat_latest=np.asarray(refs["cpp_cat_latest"], dtype=np.int64),
        r_prev_cpp=np.asarray(refs["prev_cpp"], dtype=np.int64),
        r_cin_start=np.asarray(refs["cin_start"], dtype=np.int64),
        r_cin_end=np.asarray(refs["cin_end"], dtype=np.int64),
        r_pre_start=np.asarray(refs["pre_start"], dtype=np.int64),
        r_pre_end=np.asarray(refs["pre_end"], dtype=np.int64),
        r_proc_issue=np.asarray(refs["proc_issue"], dtype=np.int64),
        r_proc_end=np.asarray(refs["proc_end"], dtype=np.int64),
        r_closure=np.asarray(refs["closure"], dtype=np.int64),
        r_closure_reason=np.asarray(refs["closure_reason"], dtype=object),
    )
    _episodes(rng, s, b)
    _close_care_episodes(b)
    _post_care_referrals(rng, s, b)
    return b


P_REREFERRAL_AFTER_CARE = 0.15


def _post_care_referrals(rng: np.random.Generator, s: Settings, b: Batch) -> None:
    """Some children who went home from care are referred again later (assessed, then closed).

    Children whose first period of care began before their first referral in the trial window come from
    here; the study excludes them from the primary sample (the real pipeline lost 19 this way).
    """
    home = np.flatnonzero(
        (b.care_end != NO_DATE) & np.isin(b.care_reason_end, [*codes.RETURN_HOME_REASONS, "E13", "E41"])
    )
    kids = home[rng.random(home.size) < P_REREFERRAL_AFTER_CARE]
    date = b.care_end[kids] + 14 + np.round(rng.exponential(200.0, kids.size)).astype(np.int64)
    keep = date <= s.data_end
    kids, date = kids[keep], date[keep]
    m = kids.size
    if m == 0:
        return
    nfa = rng.random(m) < 0.25
    a_start = np.where(nfa, NO_DATE, date + _u(rng, 0, 6, m))
    a_auth = np.where(nfa, NO_DATE, a_start + _u(rng, 10, 45, m))
    a_auth = np.where(a_auth > s.data_end, NO_DATE, a_auth)
    closure = np.where(nfa, date + _u(rng, 0, 2, m), np.where(a_auth != NO_DATE, a_auth + _u(rng, 1, 30, m), NO_DATE))
    closure = np.where(closure > s.data_end, NO_DATE, closure)
    cpps = np.bincount(b.r_child[b.r_cpp_start != NO_DATE], minlength=b.n)
    last_rank = np.zeros(b.n, dtype=np.int64)
    np.maximum.at(last_rank, b.r_child, b.r_rank)
    no = np.full(m, NO_DATE, dtype=np.int64)
    new: dict[str, npt.NDArray[np.generic]] = {
        "r_child": kids,
        "r_serial": b.r_serial.max() + 1 + np.arange(m),
        "r_date": date,
        "r_rank": last_rank[kids] + 1,
        "r_treated": date >= day(b.la.la.go_live),
        "r_source": rng.choice(len(codes.REFERRAL_SOURCES), size=m, p=_source_p()),
        "r_need": np.where(nfa, 8, 0),
        "r_nfa": nfa,
        "r_asmt_start": a_start,
        "r_asmt_auth": a_auth,
        "r_further": np.zeros(m, dtype=np.bool_),
        "r_factors": np.where(a_auth != NO_DATE, _bits(rng, b.risk[kids]), 0),
        "r_s47": no,
        "r_icpc": no,
        "r_cpp_start": no,
        "r_cpp_end": no,
        "r_cpp_cat": np.zeros(m, dtype=np.int64),
        "r_cpp_cat_latest": np.zeros(m, dtype=np.int64),
        "r_prev_cpp": b.previous_cpp[kids] + cpps[kids],
        "r_cin_start": no,
        "r_cin_end": no,
        "r_pre_start": no,
        "r_pre_end": no,
        "r_proc_issue": no,
        "r_proc_end": no,
        "r_closure": closure,
        "r_closure_reason": np.where(closure == NO_DATE, "", np.where(nfa, "RC8", "RC7")).astype(object),
    }
    order = np.lexsort((np.concatenate([b.r_rank, new["r_rank"]]), np.concatenate([b.r_child, kids])))
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    for name, extra in new.items():
        merged = np.concatenate([getattr(b, name), np.asarray(extra, dtype=getattr(b, name).dtype)])
        setattr(b, name, merged[order])
    b.care_ref = np.where(b.care_ref >= 0, inverse[np.maximum(b.care_ref, 0)], -1)


def batch_plan(n_children: int) -> list[tuple[int, int]]:
    """(size, first serial) of each batch for an LA with `n_children` children."""
    out = []
    done = 0
    while done < n_children:
        size = min(BATCH_SIZE, n_children - done)
        out.append((size, done))
        done += size
    return out
