"""The whole analysis plan on a vault: the primary analysis and everything that stands beside it.

Order of `run_all` (each piece recorded as results.json rows in the primary analysis' row shape):

1. the primary analysis (`run_primary`: complete case, missing indicator; Laplace and AGQ);
2. the headline: multiple imputation by chained equations (m = 10 and 20, seeded, LA in the
   imputation model), the primary GLMM on each completed data set, pooled by Rubin's rules with
   Barnard-Rubin degrees of freedom;
3. the average marginal effect (risk difference) of treatment, per imputation by the delta method,
   pooled by Rubin's rules;
4. small-cluster inference on the complete-case sample: fixed-effects logit with CR2 errors and
   Satterthwaite df, exchangeable GEE on LA x period x covariate cells (sandwich, Kauermann-Carroll,
   Mancl-DeRouen, Fay-Graubard; t reference) and exact randomisation inference over the study's
   admissible sequences;
5. the cluster-period random-effect GLMM with ICC, cluster autocorrelation and a likelihood-ratio test;
5b. exposure time (when the plan lists `models.exposure_time` / `models.delayed_effect`): the primary
   GLMM with one effect per exposure time, their time-averaged mean, a Wald heterogeneity test, and the
   delayed-effect variant (`cscvault.analysis.models.exposure`);
6. secondary outcomes 1-6 (`cscvault.analysis.secondary_outcomes`);
7. sensitivity analyses: parental-risk-factor and born-only samples, treatment x time, treatment x
   readiness, and the two alternative treatment definitions.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cscvault.analysis.models.design_matrix import Design, build_design
from cscvault.analysis.models.exposure import (
    DELAYED_RATIONALE,
    TRANSITION_TERM,
    ExposureAnalysis,
    analyse_exposure,
)
from cscvault.analysis.models.gee import binomial_cells, fit_gee, gee_summary
from cscvault.analysis.models.glmm import GlmmFit, RandomEffects, compare_structures, fit_glmm
from cscvault.analysis.models.imputation import Pooled, mice, pool_fits, rubin
from cscvault.analysis.models.margins import average_marginal_effect
from cscvault.analysis.models.randomisation import (
    describe_design,
    fe_logit_statistic,
    period_index,
    randomisation_ci,
    study_design,
)
from cscvault.analysis.models.robust import fit_fe_cr2
from cscvault.analysis.models.spec import ModelSpec
from cscvault.analysis.power import minimum_detectable_effect
from cscvault.analysis.primary import RESULT_FIELDS, PrimaryRun, delivery_set, drop_separated_levels, run_primary
from cscvault.analysis.results import HeadlineResult, RunSummary, SensitivityResult
from cscvault.analysis.secondary_outcomes import (
    SECONDARY_OUTCOMES,
    SecondaryResult,
    base_frame,
    load_secondary_inputs,
    parental_risk_children,
    run_secondary,
)
from cscvault.analysis.sources import PRIMARY_OUTCOME, NotDerived
from cscvault.clock import add_months
from cscvault.errors import DataError, UsageError
from cscvault.study import Study
from cscvault.vault import Vault

OUTCOME = "cla_18m"
DEFAULT_M = (10, 20)
DEFAULT_SEED = 123  # the evaluator's mice seed
MICE_ITERATIONS = 10
GEE_VARIANCES = ("sandwich", "kc", "md", "fg")
ALT_TREATMENT_WEEKS = 4


# -- progress -------------------------------------------------------------------------------------

Progress = Callable[[str, int, int], None]
"""A progress callback: (step starting, steps done, steps in all). The CLI renders it; analysis code only
calls it."""


class Steps:
    """Counts the plan's steps for a progress callback (a no-op without one)."""

    def __init__(self, progress: Progress | None, names: Sequence[str]) -> None:
        self.progress = progress
        self.total = len(names)
        self.done = 0

    def __call__(self, what: str) -> None:
        """`what` starts: report it with the steps finished so far."""
        if self.progress is not None:
            self.progress(what, self.done, self.total)
        self.done += 1

    def skip(self, *names: str) -> None:
        """Steps that turn out not to be needed leave the total."""
        self.total -= len(names)

    def finish(self) -> None:
        if self.progress is not None:
            self.progress("done", self.total, self.total)


# -- the model specification, read from the plan --------------------------------------------------


@dataclass(frozen=True)
class Spec:
    treatment: str
    period: str
    cluster: str
    numeric: tuple[str, ...]
    factors: tuple[str, ...]
    references: dict[str, object]

    @classmethod
    def from_study(cls, study: Study) -> Spec:
        plan = study.analysis_plan
        model = plan.primary
        numeric = plan.numeric_covariates(model.covariates)
        refs: dict[str, object] = dict(plan.references())
        refs[model.period] = study.periods[0].name
        return cls(
            model.treatment,
            model.period,
            model.cluster,
            numeric,
            tuple(c for c in model.covariates if c not in numeric),
            refs,
        )

    def without(self, covariates: Sequence[str]) -> Spec:
        """The same model without some covariates (those the delivered returns leave unrecorded)."""
        if not covariates:
            return self
        drop = set(covariates)
        return Spec(
            self.treatment,
            self.period,
            self.cluster,
            tuple(c for c in self.numeric if c not in drop),
            tuple(c for c in self.factors if c not in drop),
            {k: v for k, v in self.references.items() if k not in drop},
        )

    def glmm(
        self, frame: pd.DataFrame, *, re: RandomEffects = "cluster", extra: Sequence[str] = (), source: str = ""
    ) -> GlmmFit:
        """The primary GLMM (Laplace) on a frame; `extra` numeric columns join the covariates."""
        design = self.design(frame, extra=extra, source=source)
        return fit_glmm(design, nagq=1, re=re)

    def design(
        self, frame: pd.DataFrame, *, extra: Sequence[str] = (), factors: Sequence[str] = (), source: str = ""
    ) -> Design:
        # A factor with one level in this (sub)sample is constant: it has no term to estimate.
        factors = [f for f in (*self.factors, *factors) if frame[f].nunique() > 1]
        refs = {k: v for k, v in self.references.items() if k in (self.period, *factors)}
        present = {k: v for k, v in refs.items() if k == self.period or v in set(frame[k].astype(str))}
        return build_design(frame, self.model_spec(extra=extra, factors=factors, references=present),
                            source=source or "primary sample")  # fmt: skip

    def model_spec(
        self,
        *,
        extra: Sequence[str] = (),
        factors: Sequence[str] | None = None,
        references: dict[str, object] | None = None,
    ) -> ModelSpec:
        """The estimators' ModelSpec of this model (numeric `extra` columns join the covariates)."""
        return ModelSpec(
            treatment=self.treatment,
            period=self.period,
            cluster=self.cluster,
            outcome=OUTCOME,
            covariates=(*self.numeric, *extra),
            factors=tuple(self.factors if factors is None else factors),
            reference_levels=MappingProxyType(dict(self.references if references is None else references)),
        )


def as_text(value: object) -> str | None:
    """Factor values as the primary analysis codes them (booleans as 'true'/'false')."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    return str(value)


def model_frame(analysed: pd.DataFrame, spec: Spec) -> pd.DataFrame:
    """The analysed children with factor covariates as text (missing stays missing)."""
    frame = analysed.copy()
    for col in spec.factors:
        frame[col] = frame[col].map(as_text)
    frame[OUTCOME] = frame[OUTCOME].astype(int)
    return frame


# -- results --------------------------------------------------------------------------------------


def _row(analysis: str, sample: str, model: str, term: str, n: int, events: int, **v: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "analysis": analysis,
        "outcome": v.pop("outcome", OUTCOME),
        "sample": sample,
        "model": model,
        "term": term,
        "n": n,
        "n_events": events,
    }
    for k in ("estimate", "se", "odds_ratio", "ci_low", "ci_high", "p_value"):
        x = v.get(k)
        row[k] = None if x is None or not math.isfinite(float(x)) else float(x)
    return {k: row[k] for k in RESULT_FIELDS}


def minimum_detectable(se: float | None, power: float = 0.8, alpha: float = 0.05) -> dict[str, Any]:
    """The smallest protective odds ratio the headline test detects with `power`, given its standard error
    (what the design and the data could show; the type I error itself comes from `cscvault design null-sim`)."""
    if se is None or not math.isfinite(se):
        return {"power": power, "alpha": alpha, "log_or": None, "odds_ratio": None}
    log_or = -minimum_detectable_effect(se, alpha=alpha, power=power)
    return {"power": power, "alpha": alpha, "log_or": log_or, "odds_ratio": math.exp(log_or)}


def _exp(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) or x > 709 else math.exp(x)


@dataclass
class FullRun:
    """The primary run, the rows of everything else and a structured summary for the report."""

    run_id: str
    primary: PrimaryRun
    extra_rows: list[dict[str, Any]] = field(default_factory=list)
    summary: RunSummary | None = None  # set when the plan has run

    def rows(self) -> list[dict[str, Any]]:
        return [*self.primary.rows(), *self.extra_rows]

    @property
    def not_derived(self) -> list[NotDerived]:
        """Every planned outcome (primary and secondary) the delivered returns cannot derive, in full or for
        some LAs, with the reason."""
        available = self.primary.availability
        return available.report([PRIMARY_OUTCOME, *SECONDARY_OUTCOMES]) if available is not None else []


# -- 1. multiple imputation -----------------------------------------------------------------------


def impute_and_pool(frame: pd.DataFrame, spec: Spec, m: int, seed: int) -> dict[str, Any]:
    """MICE of the incomplete factor covariates, the primary GLMM on each, Rubin + Barnard-Rubin."""
    impute = [c for c in spec.factors if frame[c].isna().any()]
    complete = frame.dropna(subset=list(spec.numeric))
    if not impute:
        raise DataError("no covariate is missing: multiple imputation has nothing to impute")
    completed = mice(
        complete,
        impute=impute,
        predictors=[OUTCOME, spec.treatment, spec.period, *spec.numeric],
        cluster=spec.cluster,
        m=m,
        seed=seed,
        iterations=MICE_ITERATIONS,
    )
    fits: list[tuple[Any, Any]] = []
    ames: list[tuple[float, float]] = []
    names: tuple[str, ...] | None = None
    agree = 0
    for k, data in enumerate(completed):
        design = spec.design(data, source=f"imputed data set {k + 1}")
        fit = fit_glmm(design, nagq=1)
        if names is not None and design.names != names:
            raise DataError(f"imputed data set {k + 1} has different factor levels from the first")
        names = design.names
        beta = np.array([t.estimate for t in fit.terms])
        fits.append((beta, fit.cov))
        agree += int(fit.optimisers_agree)
        me = average_marginal_effect(design.x, beta, fit.cov, 1, weights=design.trials)
        ames.append((me.ame, me.se**2))
    assert names is not None
    pooled = pool_fits(fits, names)
    ame = rubin([a for a, _ in ames], [v for _, v in ames])
    return {
        "m": m,
        "seed": seed,
        "imputed": impute,
        "n": len(complete),
        "n_events": int(complete[OUTCOME].sum()),
        "dropped_missing_numeric": len(frame) - len(complete),
        "pooled": pooled,
        "ame": ame,
        "optimisers_agree": agree,
    }


def _term_dict(fit: GlmmFit) -> dict[str, Any]:
    t = fit.effect
    return {"estimate": t.estimate, "se": t.se, "odds_ratio": t.odds_ratio, "ci_low": t.ci_low, "ci_high": t.ci_high,
            "p_value": t.p_value, "df": None, "fmi": None, "riv": None}  # fmt: skip


def average_marginal_effect_of(spec: Spec, frame: pd.DataFrame, fit: GlmmFit) -> dict[str, Any]:
    """Delta-method AME (z reference) of a GLMM fitted to `frame` with the primary design."""
    design = spec.design(frame)
    if design.names != tuple(t.term for t in fit.terms):
        raise DataError("the marginal-effect design does not match the fitted model's terms")
    beta = np.array([t.estimate for t in fit.terms])
    me = average_marginal_effect(design.x, beta, fit.cov, 1, weights=design.trials)
    z = me.ame / me.se if me.se > 0 else math.inf
    return {
        "estimate": me.ame,
        "se": me.se,
        "ci_low": me.ci_low,
        "ci_high": me.ci_high,
        "p_value": float(2 * stats.norm.sf(abs(z))),
        "risk_treated": me.risk_treated,
        "risk_control": me.risk_control,
    }


def _pooled_dict(p: Pooled, ratio: bool = True) -> dict[str, Any]:
    lo, hi = p.ci()
    return {
        "estimate": p.estimate,
        "se": p.se,
        "odds_ratio": _exp(p.estimate) if ratio else None,
        "ci_low": _exp(lo) if ratio else lo,
        "ci_high": _exp(hi) if ratio else hi,
        "p_value": p.p_value(),
        "df": p.df,
        "fmi": p.fmi,
        "riv": p.riv,
    }


# -- 3. small-cluster inference -------------------------------------------------------------------


def separating_factors(frame: pd.DataFrame, factors: Sequence[str]) -> list[str]:
    """Factors with a level whose children all share one outcome (quasi-complete separation: an
    unpenalised logit has no finite estimate for it)."""
    out = []
    for f in factors:
        rates = frame.groupby(f)[OUTCOME].agg(["sum", "size"])
        if ((rates["sum"] == 0) | (rates["sum"] == rates["size"])).any():
            out.append(f)
    return out


def _try_covariates(fit: Any, covs: list[str], notes: list[str], what: str) -> tuple[Any, list[str]]:
    """Fit with the child covariates; when a combination of levels separates (no finite estimate),
    refit on LA x period cells without them and say so."""
    try:
        return fit(covs), covs
    except DataError:
        if not covs:
            raise
        notes.append(f"{what}: with the child covariates the estimate is not finite (separation); fitted "
                     "without them, on LA x period cells")  # fmt: skip
        return fit([]), []


def small_cluster(frame: pd.DataFrame, spec: Spec, study: Study) -> dict[str, Any]:
    """FE-CR2, GEE variants and exact randomisation inference on the complete-case sample. A method
    that has no finite estimate (e.g. an LA with no events makes its fixed effect infinite) is
    reported with the reason instead of stopping the plan."""
    sparse = separating_factors(frame, spec.factors)
    covs = [*(f for f in spec.factors if f not in sparse), *spec.numeric]
    notes: list[str] = []
    out: dict[str, Any] = {"n": len(frame), "n_events": int(frame[OUTCOME].sum()), "notes": notes}
    if sparse:
        notes.append(
            f"left out of the fixed-effects, GEE and randomisation models because a level has no events "
            f"(or only events), which makes their estimates infinite: {', '.join(sparse)}"
        )
    kw: dict[str, Any] = {
        "treatment": spec.treatment,
        "period": spec.period,
        "cluster": spec.cluster,
        "outcome": OUTCOME,
    }
    by_cluster = frame.groupby(spec.cluster)[OUTCOME].agg(["sum", "size"])
    flat = [str(c) for c, r in by_cluster.iterrows() if r["sum"] in (0, r["size"])]
    fe_error = (
        f"LA {', '.join(flat)} has no events (or only events) in this sample, so its fixed effect is infinite"
        if flat
        else None
    )
    try:
        if fe_error:
            raise DataError(fe_error)
        cr, cr_covs = _try_covariates(lambda c: fit_fe_cr2(frame, covariates=c, **kw), covs, notes, "FE-CR2")
        out["fe_cr2"] = {**cr.coefficient(spec.treatment), "covariates": cr_covs}
    except DataError as exc:
        out["fe_cr2"] = {"error": str(exc)}
    try:
        (gee, cells), gee_covs = _try_covariates(
            lambda c: _gee(binomial_cells(frame, covariates=c, **kw)), covs, notes, "GEE"
        )
        out["gee"] = {**gee_summary(gee, spec.treatment), "cells": len(cells.trials), "covariates": gee_covs}
        notes.extend(gee.notes)
    except DataError as exc:
        out["gee"] = {"error": str(exc)}

    sequences, observed = study_design(study)
    out["randomisation"] = {
        "sequences": len(sequences),
        "min_attainable_p": 1 / len(sequences),
        "design": describe_design(len(sequences)),
    }

    def ri(c: list[str]) -> dict[str, Any]:
        grouped = frame.assign(_pi=period_index(study, frame[spec.period]), _y=frame[OUTCOME])
        cells_frame = (
            grouped.groupby([spec.cluster, "_pi", *c], dropna=False)
            .agg(events=("_y", "sum"), trials=("_y", "size"))
            .reset_index()
        )
        stat = fe_logit_statistic(cells_frame, cluster=spec.cluster, period_index="_pi", events="events",
                                  trials="trials", observed=observed, covariates=c)  # fmt: skip
        scale = float(out["fe_cr2"].get("se_cr2", 0.5))
        return randomisation_ci(sequences, observed, stat, scale=scale).as_dict()

    try:
        if fe_error:
            raise DataError(fe_error)
        res, ri_covs = _try_covariates(ri, covs, notes, "randomisation inference")
        out["randomisation"].update(res, covariates=ri_covs)
    except DataError as exc:
        out["randomisation"]["error"] = str(exc)
    return out


def _gee(cells: Any) -> tuple[Any, Any]:
    return fit_gee(cells), cells


def _small_cluster_rows(sc: dict[str, Any], treatment: str) -> list[dict[str, Any]]:
    n, ev = sc["n"], sc["n_events"]
    rows = []
    cr = sc["fe_cr2"]
    if "error" not in cr:
        rows.append(
            _row(
                "small_cluster", "complete_case", "fe-logit-cr2", treatment, n, ev,
                estimate=cr["estimate"], se=cr["se_cr2"], odds_ratio=cr["odds_ratio"],
                ci_low=cr["or_ci_low"], ci_high=cr["or_ci_high"], p_value=cr["p_value"],
            )
        )  # fmt: skip
    g = sc["gee"]
    for name in GEE_VARIANCES if "error" not in g else ():
        v = g["variances"][name]
        rows.append(
            _row(
                "small_cluster", "complete_case", f"gee-exchangeable-{name}", treatment, n, ev,
                estimate=g["estimate"], se=v["se"], odds_ratio=g["odds_ratio"],
                ci_low=_exp(v["ci_low"]), ci_high=_exp(v["ci_high"]), p_value=v["p_value"],
            )
        )  # fmt: skip
    ri = sc["randomisation"]
    if "error" not in ri:
        rows.append(
            _row(
                "small_cluster", "complete_case", "randomisation-fe-logit", treatment, n, ev,
                estimate=ri["estimate"], odds_ratio=_exp(ri["estimate"]), ci_low=_exp(ri["ci_low"]),
                ci_high=_exp(ri["ci_high"]), p_value=ri["p_value"],
            )
        )  # fmt: skip
    return rows


# -- 5b. exposure time ---------------------------------------------------------------------------


def exposure_time_analysis(cc: pd.DataFrame, spec: Spec, study: Study, *, delayed: bool = True) -> ExposureAnalysis:
    """The primary GLMM (Laplace, LA random intercept, same covariates) with exposure-time coding; periods
    in the study's order."""

    def fitter(work: pd.DataFrame, treatment: str, extra: Sequence[str]) -> GlmmFit:
        coded = Spec(treatment, spec.period, spec.cluster, spec.numeric, spec.factors, spec.references)
        return coded.glmm(work, extra=extra, source="exposure-time model")

    return analyse_exposure(
        cc,
        spec.model_spec(),
        fitter=fitter,
        period_order=[p.name for p in study.periods],
        delayed=delayed,
        source="complete-case sample",
    )


def exposure_rows(ex: ExposureAnalysis) -> list[dict[str, Any]]:
    """results.json rows: `exposure_time_average` (term treatment), `exposure_time_<k>`,
    `exposure_time_heterogeneity` (estimate = Wald chi-square) and `delayed_effect` (treatment, transition)."""
    n, ev = ex.fit.n, ex.fit.n_events
    model = "glmm-laplace-exposure-time"

    def term_row(analysis: str, term: str, t: Any, model: str = model, nn: int = n, ee: int = ev) -> dict[str, Any]:
        return _row(analysis, "complete_case", model, term, nn, ee, estimate=t.estimate, se=t.se,
                    odds_ratio=t.odds_ratio, ci_low=t.ci_low, ci_high=t.ci_high, p_value=t.p_value)  # fmt: skip

    rows = [term_row("exposure_time_average", "treatment", ex.average)]
    rows += [term_row(f"exposure_time_{lv.exposure}", lv.effect.term, lv.effect) for lv in ex.levels]
    if ex.heterogeneity is not None:
        h = ex.heterogeneity
        rows.append(_row("exposure_time_heterogeneity", "complete_case", model, f"wald_chi2_df{h.df}", n, ev,
                         estimate=h.statistic, p_value=h.p_value))  # fmt: skip
    if ex.delayed is not None:
        d = ex.delayed
        for term, t in (("treatment", d.effect), (TRANSITION_TERM, d.transition)):
            rows.append(term_row("delayed_effect", term, t, "glmm-laplace-delayed", d.fit.n, d.fit.n_events))
    return rows


def exposure_summary(ex: ExposureAnalysis, immediate: GlmmFit | None) -> dict[str, Any]:
    """The report's view: each exposure time, the average, the test, the delayed variant and, for
    contrast, the immediate-effect estimate of the same (complete-case Laplace) model."""

    def eff(t: Any) -> dict[str, Any]:
        return {k: getattr(t, k) for k in ("estimate", "se", "odds_ratio", "ci_low", "ci_high", "p_value")}

    h = ex.heterogeneity
    out: dict[str, Any] = {
        "n": ex.fit.n,
        "n_events": ex.fit.n_events,
        "levels": [{"exposure": lv.exposure, "n": lv.n, **eff(lv.effect)} for lv in ex.levels],
        "average": eff(ex.average),
        "heterogeneity": None if h is None else {"statistic": h.statistic, "df": h.df, "p_value": h.p_value},
        "first_treated": dict(ex.first_treated),
        "optimisers_agree": ex.fit.optimisers_agree,
        "immediate": eff(immediate.effect) if immediate is not None else None,
        "delayed": None,
        "delayed_error": ex.delayed_error,
        "transition_handling": DELAYED_RATIONALE,
    }
    if ex.delayed is not None:
        out["delayed"] = {**eff(ex.delayed.effect), "transition": eff(ex.delayed.transition)}
    return out


# -- 7. sensitivity -------------------------------------------------------------------------------


def alternative_treatments(frame: pd.DataFrame, study: Study) -> pd.DataFrame:
    """The plan's two alternative treatment definitions over the 18-month follow-up (end = referral + 18m):
    `treat_half`: go-live on or before the half-way point of the follow-up;
    `treat_4wk`: at least 4 weeks of the follow-up fall on or after go-live."""
    go_live = {la.name: la.go_live for la in study.local_authorities}
    ref = [d if isinstance(d, dt.date) else pd.Timestamp(d).date() for d in frame["referral_date"]]
    end = [add_months(d, 18) for d in ref]
    gl = [go_live[str(la)] for la in frame["la"]]
    half = [r + (e - r) / 2 for r, e in zip(ref, end, strict=True)]
    out = frame.copy()
    out["treat_half"] = [int(g <= h) for g, h in zip(gl, half, strict=True)]
    out["treat_4wk"] = [int((e - g).days >= 7 * ALT_TREATMENT_WEEKS) for g, e in zip(gl, end, strict=True)]
    return out


def sensitivity(
    cc: pd.DataFrame, spec: Spec, study: Study, parental: set[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each sensitivity analysis as (summary entries, result rows); a model that cannot be fitted is
    reported with its reason rather than stopping the plan."""
    summaries: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []

    def record(name: str, description: str, fit_fn: Any, treatment_terms: Sequence[str] = ()) -> None:
        try:
            fit: GlmmFit = fit_fn()
        except (DataError, UsageError, np.linalg.LinAlgError, ArithmeticError) as exc:
            summaries.append({"analysis": name, "description": description, "error": str(exc)})
            return
        t = fit.effect
        entry = {
            "analysis": name,
            "description": description,
            "n": fit.n,
            "n_events": fit.n_events,
            "odds_ratio": t.odds_ratio,
            "ci_low": t.ci_low,
            "ci_high": t.ci_high,
            "p_value": t.p_value,
            "terms": {n: fit.term(n).odds_ratio for n in treatment_terms},
        }
        if not math.isfinite(t.se):
            entry["note"] = "the treatment term is not identified in this variant (its SE is not finite)"
        summaries.append(entry)
        rows.extend(fit.result_rows(analysis=f"sensitivity:{name}", outcome=OUTCOME, sample="complete_case",
                                    model="glmm-laplace"))  # fmt: skip

    record(
        "parental_risk",
        "children whose assessment found factor 1B, 2B, 3A, 3B, 3C or 4B",
        lambda: spec.glmm(cc[cc["child_key"].isin(parental)], source="parental-risk sample"),
    )
    record(
        "born_only",
        "children born by their referral",
        lambda: spec.glmm(cc[cc["age_group"].astype(str) != "-1"], source="born-only sample"),
    )
    share = spec.numeric[0] if spec.numeric else None
    if share is not None:
        within = cc.copy()
        within[share] = within[share] - within.groupby(spec.cluster, observed=True)[share].transform("mean")
        record(
            "white_share_within_la",
            "White share centred on its LA mean, so only its changes within an LA enter: the LAs' differences in "
            "White share cannot then stand in for part of the LA effects, which with five LAs and wedges of "
            "unequal length can pull the treatment estimate",
            lambda: spec.glmm(within, source="complete-case sample"),
        )
    periods = [p.name for p in study.periods]
    # Periods with both arms only: where every child is treated the interaction is the period effect.
    mixed = cc.groupby(cc[spec.period].astype(str))[spec.treatment].nunique()
    treated_periods = sorted((p for p, k in mixed.items() if k == 2), key=periods.index)
    tx = cc.copy()
    inter = []
    for p in treated_periods[1:]:  # the first treated period is the reference for the interaction
        col = f"treatment:{p}"
        tx[col] = (tx[spec.treatment] * (tx[spec.period].astype(str) == p)).astype(float)
        inter.append(col)
    record(
        "treatment_x_time",
        f"treatment by period (reference {treated_periods[0] if treated_periods else '-'})",
        lambda: spec.glmm(tx, extra=inter, source="treatment x time"),
        inter,
    )
    stratum = {la.name: la.stratum for la in study.local_authorities}
    strata = [s.name for s in study.strata]
    rd = cc.copy()
    rd["readiness"] = rd["la"].map(stratum).astype(str)
    inter_r = []
    for s in strata[1:]:
        col = f"treatment:readiness[{s}]"
        rd[col] = (rd[spec.treatment] * (rd["readiness"] == s)).astype(float)
        inter_r.append(col)
    record(
        "treatment_x_readiness",
        f"treatment by readiness stratum (reference {strata[0] if strata else '-'})",
        lambda: fit_glmm(spec.design(rd, extra=inter_r, factors=["readiness"], source="treatment x readiness"), nagq=1),
        inter_r,
    )
    alt = alternative_treatments(cc, study)
    for col, text in (
        ("treat_half", "treated if go-live is on or before the half-way point of the 18-month follow-up"),
        ("treat_4wk", f"treated if at least {ALT_TREATMENT_WEEKS} weeks of the follow-up fall after go-live"),
    ):
        alt_spec = Spec(col, spec.period, spec.cluster, spec.numeric, spec.factors, spec.references)
        record(f"alt_{col}", text, lambda s=alt_spec, t=text: s.glmm(alt.drop(columns=[spec.treatment]), source=t))
    return summaries, rows


# -- the plan -------------------------------------------------------------------------------------


def run_all(
    vault: Vault,
    *,
    m: Sequence[int] = DEFAULT_M,
    seed: int = DEFAULT_SEED,
    secondary: bool = True,
    sensitivity_analyses: bool = True,
    exposure_analyses: bool = True,
    progress: Progress | None = None,
) -> FullRun:
    """Run the whole analysis plan; record its rows under one run (plan 'all') and return them.
    `progress(what, done, total)` is called as each step starts (names of analyses only, never data)."""
    vault.require_role("analyst", "admin")
    study = vault.study
    spec = Spec.from_study(study)
    planned = study.analysis_plan.models
    step = Steps(
        progress,
        [
            "primary analysis",
            *(f"multiple imputation, m = {mm}" for mm in m),
            "small-cluster inference",
            "correlation structures",
            *(["exposure time"] if exposure_analyses and "exposure_time" in planned else []),
            *(["secondary outcomes"] if secondary else []),
            *(["sensitivity analyses"] if sensitivity_analyses else []),
        ],
    )
    started = dt.datetime.now(dt.UTC)
    step("primary analysis")
    primary = run_primary(vault)
    spec = spec.without(primary.covariates_left_out)
    run = FullRun(uuid.uuid4().hex[:12], primary)
    sample = primary.sample
    frame = model_frame(sample.analysed, spec)
    cc = frame.dropna(subset=[*spec.factors, *spec.numeric])
    # The primary fit leaves out the children of a covariate level with no events (or only events);
    # analyses set beside it (its marginal effect, the exposure-time models) use the same children.
    refs = {k: str(v) for k, v in spec.references.items()}
    cc_primary, _ = drop_separated_levels(cc, OUTCOME, list(spec.factors), refs)
    summary: dict[str, Any] = {"notes": list(sample.notes)}
    rows = run.extra_rows

    # 1-2. headline: multiple imputation and the AME
    summary["imputation"] = []
    if not frame[list(spec.factors)].isna().any().any():
        summary["notes"].append(
            "no covariate is missing, so multiple imputation would reproduce the complete-case fit: "
            "the complete-case Laplace fit is the headline"
        )
        step.skip(*(f"multiple imputation, m = {mm}" for mm in m))
        m = ()
        head = primary.headline.fit
        me = average_marginal_effect_of(spec, cc_primary, head)
        summary["headline"] = {"m": 0, "n": head.n, "n_events": head.n_events, "treatment": _term_dict(head), "ame": me}
        rows.append(_row("primary", "complete_case", "ame-delta", "treatment:risk_difference", head.n, head.n_events,
                         **{k: me[k] for k in ("estimate", "se", "ci_low", "ci_high", "p_value")}))  # fmt: skip
    for mm in m:
        step(f"multiple imputation, m = {mm}")
        mi = impute_and_pool(frame, spec, mm, seed)
        label = f"multiple_imputation_m{mm}"
        pooled: dict[str, Pooled] = mi["pooled"]
        for term, p in pooled.items():
            if term == "(Intercept)":
                continue
            rows.append(_row("primary", label, "glmm-laplace-rubin", term, mi["n"], mi["n_events"], **_pooled_dict(p)))
        ame = _pooled_dict(mi["ame"], ratio=False)
        rows.append(_row("primary", label, "ame-delta-rubin", "treatment:risk_difference", mi["n"], mi["n_events"],
                         estimate=ame["estimate"], se=ame["se"], ci_low=ame["ci_low"], ci_high=ame["ci_high"],
                         p_value=ame["p_value"]))  # fmt: skip
        summary["imputation"].append(
            {
                "m": mm,
                "seed": seed,
                "imputed": mi["imputed"],
                "n": mi["n"],
                "n_events": mi["n_events"],
                "optimisers_agree": mi["optimisers_agree"],
                "treatment": _pooled_dict(pooled[spec.treatment]),
                "ame": ame,
            }
        )
    if summary["imputation"]:
        summary["headline"] = summary["imputation"][0]
    summary["design"] = minimum_detectable(summary["headline"]["treatment"]["se"])
    rows.append(_row("design", "headline", "wald-z", "minimum_detectable_log_or_80", summary["headline"]["n"],
                     summary["headline"]["n_events"], estimate=summary["design"]["log_or"],
                     odds_ratio=summary["design"]["odds_ratio"]))  # fmt: skip

    # 3. small-cluster inference
    step("small-cluster inference")
    sc = small_cluster(cc, spec, study)
    summary["small_cluster"] = sc
    rows.extend(_small_cluster_rows(sc, spec.treatment))

    # 4. correlation structures
    step("correlation structures")
    comp = compare_structures(spec.design(cc, source="complete-case sample"))
    cp = comp.cluster_period
    rows.extend(cp.result_rows(analysis="primary", outcome=OUTCOME, sample="complete_case",
                               model="glmm-laplace-cluster-period"))  # fmt: skip
    summary["structures"] = {
        "icc_cluster_only": comp.cluster.icc,
        "icc": cp.icc,
        "icc_between_period": cp.icc_between_period,
        "cluster_autocorrelation": cp.cluster_autocorrelation,
        "re_sd": dict(cp.re_sd),
        "lr_statistic": comp.lr_statistic,
        "lr_p_value": comp.p_value,
        "treatment_shift": comp.treatment_shift,
        "odds_ratio": cp.effect.odds_ratio,
        "ci_low": cp.effect.ci_low,
        "ci_high": cp.effect.ci_high,
        "singular": cp.singular,
    }

    # 4b. exposure time, when the plan lists it
    if exposure_analyses and "exposure_time" in planned:
        step("exposure time")
        try:
            ex = exposure_time_analysis(cc_primary, spec, study, delayed="delayed_effect" in planned)
        except (DataError, UsageError, np.linalg.LinAlgError, ArithmeticError) as exc:
            summary["exposure_time"] = {"error": str(exc)}
        else:
            rows.extend(exposure_rows(ex))
            immediate = primary.headline.fit if primary.headline.fit.n == ex.fit.n else None
            summary["exposure_time"] = exposure_summary(ex, immediate)

    # 5. secondary outcomes
    inputs = load_secondary_inputs(vault.con)
    results: list[SecondaryResult] = []
    if secondary:
        step("secondary outcomes")
        results = run_secondary(vault.con, sample, inputs=inputs, available=primary.availability)
        rows.extend(r.row() for r in results)

    # 6. sensitivity
    if sensitivity_analyses:
        step("sensitivity analyses")
        parental = parental_risk_children(base_frame(sample, inputs.data_end), inputs.assessments)
        entries, sens_rows = sensitivity(cc, spec, study, parental)
        summary["sensitivity"] = entries
        rows.extend(sens_rows)

    run.summary = RunSummary(
        notes=tuple(summary["notes"]),
        headline=HeadlineResult.from_json(summary["headline"]),
        imputation=tuple(HeadlineResult.from_json(r) for r in summary["imputation"]),
        design=MappingProxyType(summary["design"]),
        small_cluster=MappingProxyType(sc),
        structures=MappingProxyType(summary["structures"]),
        exposure_time=None if "exposure_time" not in summary else MappingProxyType(summary["exposure_time"]),
        secondary=tuple(results) if secondary else None,
        sensitivity=tuple(SensitivityResult.from_json(e) for e in summary["sensitivity"])
        if "sensitivity" in summary
        else None,
    )
    _record(vault, run, started)
    step.finish()
    return run


def _record(vault: Vault, run: FullRun, started: dt.datetime) -> None:
    deliveries_sha, n_deliveries = delivery_set(vault)
    with vault.transaction() as con:
        con.execute(
            "INSERT INTO runs VALUES (?, 'all', ?, ?, ?, ?, ?, ?, ?, 'completed')",
            [
                run.run_id,
                run.primary.plan_sha256,
                run.primary.code_version,
                deliveries_sha,
                n_deliveries,
                started,
                dt.datetime.now(dt.UTC),
                vault.actor,
            ],
        )
        con.executemany(
            f"INSERT INTO results VALUES (?, {', '.join('?' for _ in RESULT_FIELDS)})",
            [[run.run_id, *(r[k] for k in RESULT_FIELDS)] for r in run.extra_rows],
        )
        vault.record(
            "analysis.run",
            {
                "run": run.run_id,
                "plan": "all",
                "plan_sha256": run.primary.plan_sha256[:16],
                "primary": run.primary.run_id,
            },
            {"rows": len(run.extra_rows), "deliveries": n_deliveries},
        )
