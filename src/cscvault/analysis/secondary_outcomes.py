"""Secondary outcomes 1-6 of the analysis plan: each with its sample, window, censoring rule and model.

All start from the primary sample (children 0-12 at their first referral in the trial window, one row per
child) and that referral's treatment and period. Follow-up that runs past the LA's latest delivered data
is censored (left out of a binary or total outcome, or a censored time in a survival model), never
counted as "no event". Every model carries the period (secular trend) and the LA:

1. return to statutory services after a CPP ended     binary    mixed logistic (LA random intercept)
2. days on a single CPP, censored at 24 months         duration  Cox PH, LA and period terms
3. total days on CPPs within 36 months                 days      linear, LA and period fixed effects, HC1
4. care proceedings within 16 weeks of pre-proceedings binary    mixed logistic
5. re-referral within 18 months (parental factors)    binary    mixed logistic
6. unauthorised absence over the 3 terms after         rate      Poisson, log(sessions) offset, LA and
   referral (school age)                                         period fixed effects, HC0
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.duration.hazard_regression import PHReg

from cscvault.analysis.models.glmm import fit_glmm_frame
from cscvault.analysis.samples import PrimarySample
from cscvault.analysis.sources import Availability
from cscvault.clock import add_months
from cscvault.errors import DataError, UsageError

Z_975 = float(stats.norm.ppf(0.975))
PARENTAL_FACTORS = ("1B", "2B", "3A", "3B", "3C", "4B")
"""Assessment factors for parental alcohol (1B), drugs (2B), domestic abuse (3A-3C), mental health (4B)."""
MIN_EVENTS = 5  # fewer events (or non-events) than this in a binary sample: not estimable, said so
SCHOOL_AGE_YEARS = 5
# Term start and end within the calendar year named by the attendance return's "YYYY-term" label: the
# usual English school year (spring from the first week of January, never New Year's Day; summer to the
# fourth week of July). Only the starts decide which terms follow a referral; the third term's end decides
# censoring.
TERM_DATES = {"spring": ((1, 5), (3, 31)), "summer": ((4, 15), (7, 22)), "autumn": ((9, 1), (12, 20))}

_DATE_SOURCES = (
    ("referrals", ("referral_date",)),
    ("cla_episodes", ("start_date", "end_date")),
    ("cp_plans", ("start_date", "end_date")),
    ("cin_plans", ("start_date", "end_date")),
    ("pre_proceedings", ("start_date",)),
    ("care_proceedings", ("issue_date",)),
)


@dataclass(frozen=True)
class SecondaryResult:
    """One secondary outcome's treatment effect (log scale for ratio measures) and its sample."""

    number: int
    outcome: str
    description: str
    sample: str
    model: str
    effect_measure: str  # odds ratio | hazard ratio | difference in days | rate ratio
    ratio: bool
    estimate: float | None
    se: float | None
    ci_low: float | None  # on the effect-measure scale
    ci_high: float | None
    p_value: float | None
    n: int
    n_events: int  # children with the event (binary), plans ended (survival), any CPP day / any absence
    n_censored: int
    note: str = ""

    @property
    def effect(self) -> float | None:
        if self.estimate is None:
            return None
        return math.exp(self.estimate) if self.ratio else self.estimate

    def row(self) -> dict[str, Any]:
        """The results.json row (same fields as the primary analysis)."""
        return {
            "analysis": "secondary",
            "outcome": self.outcome,
            "sample": self.sample,
            "model": self.model,
            "term": "treatment",
            "estimate": self.estimate,
            "se": self.se,
            "odds_ratio": self.effect if self.ratio else None,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": self.p_value,
            "n": self.n,
            "n_events": self.n_events,
        }

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["effect"] = self.effect
        return out


# -- inputs ---------------------------------------------------------------------------------------


def _fetch(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    try:
        return con.execute(sql).fetch_df()
    except duckdb.CatalogException:
        raise DataError("the vault holds no ingested returns yet: run cscvault ingest first") from None


def _dates(frame: pd.DataFrame, *cols: str) -> pd.DataFrame:
    out = frame.copy()
    for c in cols:
        out[c] = pd.to_datetime(out[c])
    return out


def data_end_by_la(con: duckdb.DuckDBPyConnection) -> dict[str, dt.date]:
    """Per LA, the latest date any delivered child-level table covers."""
    parts = [
        f"SELECT la_code, max({c}) AS d FROM analysis.{table} GROUP BY la_code"
        for table, cols in _DATE_SOURCES
        for c in cols
    ]
    rows = _fetch(con, f"SELECT la_code, max(d) AS d FROM ({' UNION ALL '.join(parts)}) GROUP BY la_code")
    return {str(r.la_code): pd.Timestamp(r.d).date() for r in rows.itertuples() if pd.notna(r.d)}


@dataclass
class SecondaryInputs:
    """The child-level tables the secondary outcomes read (dates as pandas timestamps)."""

    referrals: pd.DataFrame
    assessments: pd.DataFrame
    cp_plans: pd.DataFrame
    cin_plans: pd.DataFrame
    cla: pd.DataFrame
    pre_proceedings: pd.DataFrame
    care_proceedings: pd.DataFrame
    attendance: pd.DataFrame
    data_end: dict[str, dt.date]


def load_secondary_inputs(con: duckdb.DuckDBPyConnection) -> SecondaryInputs:
    q = "SELECT child_key, {cols} FROM analysis.{table}"
    return SecondaryInputs(
        referrals=_dates(_fetch(con, q.format(cols="referral_date", table="referrals")), "referral_date"),
        assessments=_dates(_fetch(con, q.format(cols="referral_date, factors", table="assessments")), "referral_date"),
        cp_plans=_dates(_fetch(con, q.format(cols="start_date, end_date", table="cp_plans")), "start_date", "end_date"),
        cin_plans=_dates(_fetch(con, q.format(cols="start_date", table="cin_plans")), "start_date"),
        cla=_dates(_fetch(con, q.format(cols="start_date", table="cla_episodes")), "start_date"),
        pre_proceedings=_dates(_fetch(con, q.format(cols="start_date", table="pre_proceedings")), "start_date"),
        care_proceedings=_dates(_fetch(con, q.format(cols="issue_date", table="care_proceedings")), "issue_date"),
        attendance=_fetch(
            con,
            q.format(cols="term, sessions_possible, sessions_unauthorised_absence", table="attendance_terms"),
        ),
        data_end=data_end_by_la(con),
    )


def base_frame(sample: PrimarySample, data_end: dict[str, dt.date]) -> pd.DataFrame:
    """One row per child of the primary sample (censored primary outcome included) with dates as timestamps."""
    cols = ["child_key", "la_code", "la", "period", "treatment", "referral_date", "age_group"]
    base = sample.frame[cols].copy()
    base["referral_date"] = pd.to_datetime(base["referral_date"])
    base["data_end"] = pd.to_datetime(base["la_code"].map(data_end))
    if base["data_end"].isna().any():
        raise DataError("an LA in the sample has no delivered dates to fix its end of follow-up")
    return base


def _plus_months(dates: pd.Series, months: int) -> pd.Series:
    return pd.to_datetime(pd.Series([add_months(d.date(), months) for d in dates], index=dates.index))


def _any_between(
    anchors: pd.DataFrame, events: pd.DataFrame, date_col: str, lo: str, hi: str, *, strict_lo: bool = False
) -> pd.Series:
    """Per anchor row: does the child have an event with lo <= date <= hi (lo < date if strict_lo)?"""
    ev = events[["child_key", date_col]].rename(columns={date_col: "__event"})
    merged = anchors[["child_key", lo, hi]].reset_index().merge(ev, on="child_key")
    after = merged["__event"] > merged[lo] if strict_lo else merged["__event"] >= merged[lo]
    hit = merged[after & (merged["__event"] <= merged[hi])]
    found = set(hit["index"])
    return pd.Series([i in found for i in anchors.index], index=anchors.index)


# -- models ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What identifies a secondary outcome in the results."""

    number: int
    outcome: str
    description: str
    sample: str
    model: str
    effect_measure: str

    @property
    def ratio(self) -> bool:
        return self.effect_measure != "difference in days"

    def result(self, est: float | None, se: float | None, p: float | None, n: int, events: int,
               censored: int, note: str = "") -> SecondaryResult:  # fmt: skip
        lo = hi = None
        if est is not None and se is not None:
            lo, hi = est - Z_975 * se, est + Z_975 * se
            if self.ratio:
                lo, hi = _exp(lo), _exp(hi)
        return SecondaryResult(
            self.number, self.outcome, self.description, self.sample, self.model, self.effect_measure,
            self.ratio, est, se, lo, hi, p, n, events, censored, note,
        )  # fmt: skip


def _exp(x: float) -> float:
    return math.exp(x) if x < 709 else math.inf


def fixed_effects(frame: pd.DataFrame) -> pd.DataFrame:
    """treatment (first column) + period and LA indicators (first level of each as reference)."""
    x = pd.concat(
        [
            frame[["treatment"]].astype(float).reset_index(drop=True),
            pd.get_dummies(frame["period"].astype(str), prefix="period", drop_first=True, dtype=float).reset_index(
                drop=True
            ),
            pd.get_dummies(frame["la"].astype(str), prefix="la", drop_first=True, dtype=float).reset_index(drop=True),
        ],
        axis=1,
    )
    keep = [c for c in x.columns if c == "treatment" or x[c].std() > 0]
    return x[keep]


def fit_binary(spec: Outcome, frame: pd.DataFrame, censored: int) -> SecondaryResult:
    """Mixed logistic model of `y` (LA random intercept, period fixed effects, Laplace)."""
    n, events = len(frame), int(frame["y"].sum())
    if min(events, n - events) < MIN_EVENTS or frame["treatment"].nunique() < 2:
        return spec.result(None, None, None, n, events, censored, f"not estimable: {events} events among {n}")
    try:
        fit = fit_glmm_frame(
            frame.assign(y=frame["y"].astype(int)),
            outcome="y",
            treatment="treatment",
            period="period",
            cluster="la",
            nagq=1,
            source=f"secondary outcome {spec.number}",
        )
    except DataError as exc:
        return spec.result(None, None, None, n, events, censored, f"not estimable: {exc}")
    t = fit.effect
    note = "" if fit.converged else "the optimisers did not report convergence"
    return spec.result(t.estimate, t.se, t.p_value, n, events, censored, note)


def fit_cox(spec: Outcome, frame: pd.DataFrame, note: str = "") -> SecondaryResult:
    """Cox proportional hazards of (`time`, `event`) on treatment with period and LA terms (Efron ties)."""
    n, events = len(frame), int(frame["event"].sum())
    if events < MIN_EVENTS or frame["treatment"].nunique() < 2:
        return spec.result(None, None, None, n, events, n - events, f"not estimable: {events} events")
    x = fixed_effects(frame)
    fit = PHReg(
        frame["time"].to_numpy(dtype=float), x.to_numpy(), status=frame["event"].to_numpy(dtype=float), ties="efron"
    ).fit()
    est, se = float(fit.params[0]), float(fit.bse[0])
    return spec.result(est, se, float(2 * stats.norm.sf(abs(est / se))), n, events, n - events, note)


def fit_linear(spec: Outcome, frame: pd.DataFrame, censored: int, note: str = "") -> SecondaryResult:
    """OLS of `value` on treatment with period and LA fixed effects; HC1 (heteroskedasticity-robust) SE."""
    n = len(frame)
    events = int((frame["value"] > 0).sum())
    if n < 20 or frame["treatment"].nunique() < 2:
        return spec.result(None, None, None, n, events, censored, "not estimable: too few children")
    x = sm.add_constant(fixed_effects(frame), has_constant="add")
    fit = sm.OLS(frame["value"].to_numpy(dtype=float), x.to_numpy()).fit(cov_type="HC1")
    return spec.result(float(fit.params[1]), float(fit.bse[1]), float(fit.pvalues[1]), n, events, censored, note)


def fit_poisson(spec: Outcome, frame: pd.DataFrame, censored: int, note: str = "") -> SecondaryResult:
    """Poisson rate model of `count` with log(`exposure`) offset, period and LA fixed effects; HC0 SE
    (robust to the overdispersion of absence between children)."""
    n = len(frame)
    events = int((frame["count"] > 0).sum())
    if n < 20 or frame["treatment"].nunique() < 2:
        return spec.result(None, None, None, n, events, censored, "not estimable: too few children")
    x = sm.add_constant(fixed_effects(frame), has_constant="add")
    fit = sm.GLM(
        frame["count"].to_numpy(dtype=float),
        x.to_numpy(),
        family=sm.families.Poisson(),
        offset=np.log(frame["exposure"].to_numpy(dtype=float)),
    ).fit(cov_type="HC0")
    return spec.result(float(fit.params[1]), float(fit.bse[1]), float(fit.pvalues[1]), n, events, censored, note)


# -- the six outcomes: derivation (sample, window, censoring), then model --------------------------

RETURNED = Outcome(
    1, "returned_after_cpp",
    "Returned to statutory services (CIN plan, CPP or care) after a CPP ended, within 36 months of referral",
    "cpp_ended_within_36m", "glmm-laplace", "odds ratio",
)  # fmt: skip
CPP_DAYS = Outcome(
    2, "cpp_days_single", "Days on a single CPP (censored at 24 months); CPP started within 12 months of referral",
    "cpp_within_12m", "cox-ph", "hazard ratio",
)  # fmt: skip
CPP_TOTAL = Outcome(
    3, "cpp_days_total", "Total days on CPPs within 36 months of referral", "followed_36m", "ols-fe-hc1",
    "difference in days",
)  # fmt: skip
PROCEEDINGS = Outcome(
    4, "proceedings_16wk",
    "Care proceedings issued within 16 weeks of the first pre-proceedings meeting (within 18 months of referral)",
    "pre_proceedings_within_18m", "glmm-laplace", "odds ratio",
)  # fmt: skip
REREFERRAL = Outcome(
    5, "rereferral_18m_parental",
    "Re-referral within 18 months of a referral whose assessment found parental substance misuse, mental health "
    "or domestic abuse",
    "parental_factors", "glmm-laplace", "odds ratio",
)  # fmt: skip
ABSENCE = Outcome(
    6, "unauthorised_absence_3terms",
    "Unauthorised absence (% of possible sessions) over the three terms after referral (school age)",
    "school_age", "poisson-fe-hc0", "rate ratio",
)  # fmt: skip


def derive_returned_after_cpp(base: pd.DataFrame, inp: SecondaryInputs) -> pd.DataFrame:
    """1. Children with a CPP that started on or after the referral and ended within 36 months of it;
    `y`: a CIN plan, CPP or care start after that (first) CPP end and within the 36 months;
    `censored`: no return seen and the 36 months run past the data end."""
    b = base.assign(end36=_plus_months(base["referral_date"], 36))
    plans = b[["child_key", "referral_date", "end36"]].merge(inp.cp_plans.dropna(subset=["end_date"]), on="child_key")
    plans = plans[(plans["start_date"] >= plans["referral_date"]) & (plans["end_date"] <= plans["end36"])]
    first_end = plans.groupby("child_key")["end_date"].min().rename("cpp_end")
    s = b.merge(first_end, left_on="child_key", right_index=True).reset_index(drop=True)
    later = pd.concat(
        [inp.cp_plans[["child_key", "start_date"]], inp.cin_plans[["child_key", "start_date"]],
         inp.cla[["child_key", "start_date"]]]
    ).rename(columns={"start_date": "d"})  # fmt: skip
    s["y"] = _any_between(s, later, "d", "cpp_end", "end36", strict_lo=True)
    s["censored"] = ~s["y"] & (s["end36"] > s["data_end"])
    return s


def derive_cpp_duration(base: pd.DataFrame, inp: SecondaryInputs) -> pd.DataFrame:
    """2. The child's first CPP starting on or after the referral and within 12 months of it;
    `time` in days to its end (`event` 1), or to 24 months or the data end, whichever is first (`event` 0)."""
    b = base.assign(end12=_plus_months(base["referral_date"], 12))
    plans = b.merge(inp.cp_plans.dropna(subset=["start_date"]), on="child_key")
    plans = plans[(plans["start_date"] >= plans["referral_date"]) & (plans["start_date"] <= plans["end12"])]
    plans = plans.sort_values(["child_key", "start_date"]).drop_duplicates("child_key")
    plans = plans[plans["start_date"] <= plans["data_end"]].reset_index(drop=True)
    cap = _plus_months(plans["start_date"], 24)
    ended = plans["end_date"].notna() & (plans["end_date"] <= plans["data_end"]) & (plans["end_date"] <= cap)
    stop = plans["end_date"].where(ended, pd.concat([cap, plans["data_end"]], axis=1).min(axis=1))
    plans["time"] = (stop - plans["start_date"]).dt.days.astype(float).clip(lower=0.5)
    plans["event"] = ended.astype(int)
    return plans


def derive_cpp_total_days(base: pd.DataFrame, inp: SecondaryInputs) -> pd.DataFrame:
    """3. Days on any CPP from the referral to 36 months after it (each plan's days inside the window,
    both ends counted; an open plan runs to the data end); `censored` when the 36 months run past the
    data end (then `value` is missing, never 0)."""
    s = base.assign(end36=_plus_months(base["referral_date"], 36)).reset_index(drop=True)
    s["censored"] = s["end36"] > s["data_end"]
    plans = s[["child_key", "referral_date", "end36", "data_end"]].merge(
        inp.cp_plans.dropna(subset=["start_date"]), on="child_key"
    )
    lo = plans[["start_date", "referral_date"]].max(axis=1)
    hi = pd.concat([plans["end_date"].fillna(plans["data_end"]), plans["end36"]], axis=1).min(axis=1)
    days = ((hi - lo).dt.days + 1).clip(lower=0)
    total = days.groupby(plans["child_key"]).sum()
    s["value"] = s["child_key"].map(total).fillna(0.0).astype(float).where(~s["censored"])
    return s


def derive_proceedings_after_pre(base: pd.DataFrame, inp: SecondaryInputs) -> pd.DataFrame:
    """4. The child's first pre-proceedings starting on or after the referral and within 18 months;
    `y`: care proceedings issued within 16 weeks (112 days) of it; `censored`: none seen and the 16
    weeks run past the data end."""
    b = base.assign(end18=_plus_months(base["referral_date"], 18))
    pre = b.merge(inp.pre_proceedings.dropna(subset=["start_date"]), on="child_key")
    pre = pre[(pre["start_date"] >= pre["referral_date"]) & (pre["start_date"] <= pre["end18"])]
    pre = pre.sort_values(["child_key", "start_date"]).drop_duplicates("child_key").reset_index(drop=True)
    pre["end16w"] = pre["start_date"] + pd.Timedelta(days=16 * 7)
    pre["y"] = _any_between(pre, inp.care_proceedings, "issue_date", "start_date", "end16w")
    pre["censored"] = ~pre["y"] & (pre["end16w"] > pre["data_end"])
    return pre


def parental_risk_children(base: pd.DataFrame, assessments: pd.DataFrame) -> set[str]:
    """Children whose assessment of their sample referral found any of the parental factors."""
    a = assessments.dropna(subset=["factors"])
    hit = a["factors"].astype(str).map(lambda f: any(code.strip() in PARENTAL_FACTORS for code in f.split(",")))
    merged = base[["child_key", "referral_date"]].merge(a[hit], on=["child_key", "referral_date"])
    return set(merged["child_key"])


def derive_rereferral(base: pd.DataFrame, inp: SecondaryInputs) -> pd.DataFrame:
    """5. Children whose sample referral's assessment found a parental factor; `y`: another referral
    after that day and within 18 months; `censored`: none seen and the 18 months run past the data end."""
    parental = parental_risk_children(base, inp.assessments)
    s = base[base["child_key"].isin(parental)].reset_index(drop=True)
    s["end18"] = _plus_months(s["referral_date"], 18)
    s["y"] = _any_between(s, inp.referrals, "referral_date", "referral_date", "end18", strict_lo=True)
    s["censored"] = ~s["y"] & (s["end18"] > s["data_end"])
    return s


def term_dates(label: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """(start, end) of a 'YYYY-term' label, or None when it is not one."""
    try:
        year_text, name = label.split("-", 1)
        (sm_, sd), (em, ed) = TERM_DATES[name.strip().lower()]
        year = int(year_text)
    except (ValueError, KeyError, AttributeError):
        return None
    return pd.Timestamp(year, sm_, sd), pd.Timestamp(year, em, ed)


def derive_absence(base: pd.DataFrame, inp: SecondaryInputs) -> pd.DataFrame:
    """6. Children of school age (5+) at referral; `count`/`exposure`: unauthorised and possible sessions
    over the three terms that start after the referral; `censored` when the third term ends past the
    data end. Children with no attendance record in those terms are dropped (not 0)."""
    ages = pd.to_numeric(base["age_group"], errors="coerce")
    s = base[ages >= SCHOOL_AGE_YEARS].reset_index(drop=True)
    labels = sorted({str(t) for t in inp.attendance["term"].dropna().unique()})
    known = sorted((v[0], v[1], k) for k, v in ((lab, term_dates(lab)) for lab in labels) if v is not None)
    starts = np.array([k[0] for k in known], dtype="datetime64[ns]")

    def three_terms(ref: pd.Timestamp) -> tuple[str, ...]:
        i = int(np.searchsorted(starts, np.datetime64(ref), side="right"))
        return tuple(k[2] for k in known[i : i + 3])

    s["terms"] = s["referral_date"].map(three_terms)
    ends = {k[2]: k[1] for k in known}
    s["third_end"] = pd.to_datetime(s["terms"].map(lambda t: ends[t[-1]] if len(t) == 3 else pd.NaT))
    s["censored"] = s["terms"].map(len).lt(3) | (s["third_end"] > s["data_end"])
    att = inp.attendance.dropna(subset=["sessions_possible", "sessions_unauthorised_absence"])
    rows = s.loc[~s["censored"], ["child_key", "terms"]].explode("terms")
    rows = rows.merge(att, left_on=["child_key", "terms"], right_on=["child_key", "term"])
    sums = rows.groupby("child_key")[["sessions_possible", "sessions_unauthorised_absence"]].sum()
    s["exposure"] = s["child_key"].map(sums["sessions_possible"]).where(~s["censored"])
    s["count"] = s["child_key"].map(sums["sessions_unauthorised_absence"]).where(~s["censored"])
    return s


def returned_after_cpp(base: pd.DataFrame, inp: SecondaryInputs) -> SecondaryResult:
    s = derive_returned_after_cpp(base, inp)
    return fit_binary(RETURNED, s[~s["censored"]], int(s["censored"].sum()))


def cpp_duration(base: pd.DataFrame, inp: SecondaryInputs) -> SecondaryResult:
    return fit_cox(CPP_DAYS, derive_cpp_duration(base, inp), "hazard of the plan ending: above 1 = shorter plans")


def cpp_total_days(base: pd.DataFrame, inp: SecondaryInputs) -> SecondaryResult:
    s = derive_cpp_total_days(base, inp)
    return fit_linear(CPP_TOTAL, s[~s["censored"]], int(s["censored"].sum()), "n_events = children with a CPP day")


def proceedings_after_pre(base: pd.DataFrame, inp: SecondaryInputs) -> SecondaryResult:
    s = derive_proceedings_after_pre(base, inp)
    return fit_binary(PROCEEDINGS, s[~s["censored"]], int(s["censored"].sum()))


def rereferral_parental(base: pd.DataFrame, inp: SecondaryInputs) -> SecondaryResult:
    s = derive_rereferral(base, inp)
    return fit_binary(REREFERRAL, s[~s["censored"]], int(s["censored"].sum()))


def unauthorised_absence(base: pd.DataFrame, inp: SecondaryInputs) -> SecondaryResult:
    s = derive_absence(base, inp)
    used = s[~s["censored"] & (s["exposure"] > 0)]
    share = float(used["count"].sum() / used["exposure"].sum()) if len(used) else math.nan
    return fit_poisson(
        ABSENCE,
        used,
        int(s["censored"].sum()),
        f"unauthorised absence {share:.1%} of sessions; n_events = children with any",
    )


OUTCOMES: tuple[Callable[[pd.DataFrame, SecondaryInputs], SecondaryResult], ...] = (
    returned_after_cpp,
    cpp_duration,
    cpp_total_days,
    proceedings_after_pre,
    rereferral_parental,
    unauthorised_absence,
)
OUTCOME_SPECS: tuple[Outcome, ...] = (RETURNED, CPP_DAYS, CPP_TOTAL, PROCEEDINGS, REREFERRAL, ABSENCE)
SECONDARY_OUTCOMES: tuple[str, ...] = tuple(o.outcome for o in OUTCOME_SPECS)


def run_secondary(
    con: duckdb.DuckDBPyConnection,
    sample: PrimarySample,
    numbers: tuple[int, ...] = (1, 2, 3, 4, 5, 6),
    inputs: SecondaryInputs | None = None,
    available: Availability | None = None,
) -> list[SecondaryResult]:
    """Fit the chosen secondary outcomes (1-6) on the primary sample's children (`inputs`, when given,
    saves reading the tables again). With `available`, an outcome is fitted on the LAs whose returns derive
    it only, and left out when none do."""
    bad = [k for k in numbers if not 1 <= k <= len(OUTCOMES)]
    if bad:
        raise UsageError(f"secondary outcomes are numbered 1-{len(OUTCOMES)}, not {bad[0]}")
    inp = inputs if inputs is not None else load_secondary_inputs(con)
    base = base_frame(sample, inp.data_end)
    out = []
    for k in numbers:
        fit = OUTCOMES[k - 1]
        mine = base
        if available is not None:
            outcome = OUTCOME_SPECS[k - 1].outcome
            las = available.las_with(outcome)
            if not las:
                continue  # named in the run's not-derived list, never fitted as "no event"
            mine = base[base["la"].isin(las)].reset_index(drop=True)
        out.append(fit(mine, inp))
    return out
