"""Exposure-time treatment effects for stepped-wedge trials (Kenny et al., Stat Med 2022).

When the effect of an intervention builds up (or wears off) with time since a cluster's go-live, the
usual immediate-effect model estimates a design-weighted sum of the exposure-time effects whose weights
can be negative, so it can be far from any average effect, even of the wrong sign. The exposure-time
indicator (ETI) model gives every exposure time its own log-odds ratio,

    logit P(y=1) = x'beta + period_j + delta_{e(i,j)} + cluster RE [+ cluster-period RE],

with e = 0 for control and 1, 2, ... for a cluster's first, second, ... treated period. Reported:

* each delta_k (log-OR at exposure time k);
* the time-averaged effect, the plain mean of the delta_k over the observed exposure times (Kenny et al.'s
  TATE), its SE from the contrast's variance a' V a under the fitted covariance V;
* a Wald test that all delta_k are equal (K - 1 df);
* a delayed-effect variant: one constant effect from the second exposure period on, the first treated
  period of each cluster given its own "transition" indicator (see `DELAYED_RATIONALE`).

The models are the GLMMs of `glmm.py`: exposure enters as 0/1 indicator columns in the usual design.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from cscvault.analysis.models.design_matrix import level_order
from cscvault.analysis.models.glmm import (
    GlmmFit,
    RandomEffects,
    TermEstimate,
    finite_or_none,
    fit_glmm_frame,
    term_estimate,
)
from cscvault.analysis.models.spec import ModelSpec, resolve
from cscvault.errors import DataError, UsageError

FloatArray = NDArray[np.float64]

AVERAGE_TERM = "time_averaged"
DELAYED_TERM = "delayed_effect"
TRANSITION_TERM = "transition"
DELAYED_RATIONALE = (
    "the first treated period of each cluster is a transition with its own indicator rather than dropped: "
    "its children are kept for the period effects and the random effects, and the delayed effect is not "
    "tied to whatever happens while the service changes over (children referred then have their follow-up "
    "only partly under the new model)"
)

# Fits a GLMM with `treatment` as the treatment column and `extra` as further numeric columns.
Fitter = Callable[[pd.DataFrame, str, Sequence[str]], GlmmFit]


def exposure_term(level: int) -> str:
    return f"exposure[{level}]"


def exposure_time(
    frame: pd.DataFrame,
    *,
    treatment: str,
    period: str,
    cluster: str,
    period_order: Sequence[object] | None = None,
    source: str = "data",
) -> pd.Series:
    """Periods since the cluster's first treated period: 0 for control rows, 1 in that period, 2 next, ...

    Periods are ordered by `period_order`, else numerically (numeric column) or as text. A cluster with
    control rows after its first treated period has no exposure time: that is an error.
    """
    missing = [c for c in (treatment, period, cluster) if c not in frame.columns]
    if missing:
        raise UsageError(f"{source}: no column named {missing[0]!r}")
    for c in (treatment, period, cluster):
        if frame[c].isna().any():
            raise DataError(f"{source}: column {c!r} has missing values")
    treat = pd.to_numeric(frame[treatment], errors="coerce")
    if treat.isna().any() or not treat.isin((0, 1)).all():
        raise DataError(f"{source}: treatment column {treatment!r} must hold only 0 and 1 for exposure time")
    order = list(period_order) if period_order is not None else level_order(frame[period])
    index = np.asarray(pd.Categorical(frame[period], categories=order).codes, dtype=np.int64)
    if (index < 0).any():
        raise DataError(f"{source}: column {period!r} has a period that is not in the period order")
    treated = (treat == 1).to_numpy()
    codes, clusters = pd.factorize(frame[cluster])
    never = np.iinfo(np.int64).max
    first = np.full(len(clusters), never, dtype=np.int64)
    np.minimum.at(first, codes[treated], index[treated])  # each cluster's first treated period
    first_of_row = first[codes]
    back = ~treated & (first_of_row != never) & (index > first_of_row)
    if back.any():
        name = clusters[codes[np.argmax(back)]]
        raise DataError(
            f"{source}: cluster {str(name)!r} has control rows after its first treated period, "
            "so exposure time is not defined (not a stepped wedge)"
        )
    exposure = np.where(treated, index - first_of_row + 1, 0).astype(np.int64)
    return pd.Series(exposure, index=frame.index, name="exposure")


@dataclass(frozen=True)
class Heterogeneity:
    """Wald test of H0: every exposure-time effect is equal (chi-square, K - 1 df)."""

    statistic: float
    df: int
    p_value: float


@dataclass(frozen=True)
class ExposureLevel:
    exposure: int
    n: int  # children at this exposure time
    effect: TermEstimate


@dataclass(frozen=True)
class DelayedEffect:
    """Constant effect from the second exposure period on, the first treated period its own term."""

    fit: GlmmFit
    effect: TermEstimate
    transition: TermEstimate


@dataclass(frozen=True)
class ExposureAnalysis:
    """The exposure-time indicator model and what is derived from it."""

    treatment: str
    fit: GlmmFit
    levels: tuple[ExposureLevel, ...]
    n_control: int
    average: TermEstimate
    heterogeneity: Heterogeneity | None  # None with a single exposure time
    delayed: DelayedEffect | None
    delayed_error: str | None
    first_treated: Mapping[str, str]  # cluster -> its first treated period

    def to_dict(self) -> dict[str, Any]:
        """`cscvault model glmm --exposure-time` JSON: the GLMM contract with the time-averaged effect as
        headline, plus `exposure_terms`, `heterogeneity` and `delayed`."""
        out = self.fit.to_dict()
        avg = self.average
        out.update(
            {
                "term": avg.term,
                "estimate": avg.estimate,
                "se": avg.se,
                "odds_ratio": avg.odds_ratio,
                "ci_low": avg.ci_low,
                "ci_high": avg.ci_high,
                "log_ci_low": avg.log_ci_low,
                "log_ci_high": avg.log_ci_high,
                "z": avg.z,
                "p_value": avg.p_value,
                "treatment": self.treatment,
                "estimand": "time-averaged treatment effect: mean log-OR over exposure times "
                f"1..{len(self.levels)} (Kenny et al. 2022)",
                "n_control": self.n_control,
                "exposure_terms": [{"exposure": lv.exposure, "n": lv.n, **asdict(lv.effect)} for lv in self.levels],
                "heterogeneity": asdict(self.heterogeneity) if self.heterogeneity else None,
                "delayed": self._delayed_dict(),
                "first_treated_period": dict(self.first_treated),
            }
        )
        return finite_or_none(out)  # type: ignore[no-any-return]

    def _delayed_dict(self) -> dict[str, Any]:
        if self.delayed is None:
            return {"error": self.delayed_error}
        d = self.delayed
        return {
            **asdict(d.effect),
            "transition": asdict(d.transition),
            "transition_handling": "own indicator",
            "re_sd": d.fit.re_sd["cluster"],
            "loglik": d.fit.loglik,
            "n": d.fit.n,
            "converged": d.fit.converged,
            "optimisers_agree": d.fit.optimisers_agree,
        }


def time_averaged_effect(fit: GlmmFit, terms: Sequence[str], name: str = AVERAGE_TERM) -> TermEstimate:
    """Mean of the named log-ORs; its SE is sqrt(a' V a), a = 1/K on those terms, V the fit's covariance."""
    idx = _indices(fit, terms)
    a = np.zeros(len(fit.terms))
    a[idx] = 1.0 / len(idx)
    beta = np.array([t.estimate for t in fit.terms])
    var = float(a @ fit.cov @ a)
    return term_estimate(name, float(a @ beta), math.sqrt(var) if var > 0 else math.nan)


def heterogeneity_test(fit: GlmmFit, terms: Sequence[str]) -> Heterogeneity | None:
    """Wald chi-square of H0: all the named effects are equal (contrasts against the first; K - 1 df)."""
    idx = _indices(fit, terms)
    k = len(idx)
    if k < 2:
        return None
    contrast = np.zeros((k - 1, len(fit.terms)))
    for row, j in enumerate(idx[1:]):
        contrast[row, j] = 1.0
        contrast[row, idx[0]] = -1.0
    beta = np.array([t.estimate for t in fit.terms])
    d = contrast @ beta
    v = contrast @ fit.cov @ contrast.T
    try:
        stat = float(d @ np.linalg.solve(v, d))
    except np.linalg.LinAlgError:
        return Heterogeneity(math.nan, k - 1, math.nan)
    return Heterogeneity(stat, k - 1, float(stats.chi2.sf(stat, k - 1)))


def _indices(fit: GlmmFit, terms: Sequence[str]) -> list[int]:
    names = [t.term for t in fit.terms]
    missing = [t for t in terms if t not in names]
    if missing or not terms:
        raise DataError(f"the fitted model has no term {missing[0] if missing else '(none given)'!r}")
    return [names.index(t) for t in terms]


def analyse_exposure(
    frame: pd.DataFrame,
    spec: ModelSpec | None = None,
    *,
    fitter: Fitter,
    treatment: str | None = None,
    period: str | None = None,
    cluster: str | None = None,
    trials: str | None = None,
    period_order: Sequence[object] | None = None,
    delayed: bool = True,
    source: str = "data",
) -> ExposureAnalysis:
    """Derive exposure time, fit the indicator model (and the delayed variant) with `fitter`, summarise.

    `fitter(frame, treatment_column, extra_columns)` fits the GLMM; the caller fixes the covariates,
    random effects and estimation, so the same assembly serves the CLI and the analysis plan. The treatment,
    period, cluster and weights (trials) columns come from `spec` (or the older keywords).
    """
    if spec is None:
        spec = resolve(None, treatment=treatment, period=period, cluster=cluster, trials=trials)
    elif any(v is not None for v in (treatment, period, cluster, trials)):
        raise UsageError("give either a model spec or the column keywords, not both")
    treatment, period, cluster, trials = spec.treatment, spec.period, spec.cluster, spec.weights
    exposure = exposure_time(
        frame, treatment=treatment, period=period, cluster=cluster, period_order=period_order, source=source
    )
    weights = frame[trials] if trials is not None else pd.Series(1, index=frame.index)
    counts = weights.groupby(exposure).sum()
    levels = [int(k) for k in counts.index if k > 0]
    if not levels:
        raise DataError(f"{source}: no treated rows, so there is no exposure time to model")
    names = [exposure_term(k) for k in levels]
    added = [*names, DELAYED_TERM, TRANSITION_TERM]
    clash = [c for c in added if c in frame.columns]
    if clash:
        raise UsageError(f"{source}: column {clash[0]!r} clashes with a derived exposure-time column")
    work = frame.assign(**{name: (exposure == k).astype(np.int8) for name, k in zip(names, levels, strict=True)})
    fit = fitter(work, names[0], names[1:])
    by_term = {t.term: t for t in fit.terms}
    starts = frame.loc[exposure == 1].groupby(cluster, observed=True)[period].first()
    first_period = {str(c): str(p) for c, p in starts.items()}

    delayed_fit: DelayedEffect | None = None
    delayed_error: str | None = None
    if not delayed:
        delayed_error = "not requested"
    elif max(levels) < 2:
        delayed_error = "no cluster reaches a second exposure period"
    else:
        dwork = frame.assign(
            **{DELAYED_TERM: (exposure >= 2).astype(np.int8), TRANSITION_TERM: (exposure == 1).astype(np.int8)}
        )
        try:
            dfit = fitter(dwork, DELAYED_TERM, [TRANSITION_TERM])
            delayed_fit = DelayedEffect(dfit, dfit.term(DELAYED_TERM), dfit.term(TRANSITION_TERM))
        except DataError as exc:
            delayed_error = str(exc)

    return ExposureAnalysis(
        treatment=treatment,
        fit=fit,
        levels=tuple(ExposureLevel(k, int(counts[k]), by_term[name]) for k, name in zip(levels, names, strict=True)),
        n_control=int(counts.get(0, 0)),
        average=time_averaged_effect(fit, names),
        heterogeneity=heterogeneity_test(fit, names),
        delayed=delayed_fit,
        delayed_error=delayed_error,
        first_treated=first_period,
    )


def fit_exposure_frame(
    frame: pd.DataFrame,
    *,
    treatment: str,
    period: str,
    cluster: str,
    outcome: str | None = None,
    events: str | None = None,
    trials: str | None = None,
    covariates: Sequence[str] = (),
    factors: Sequence[str] = (),
    reference_levels: Mapping[str, object] | None = None,
    nagq: int = 1,
    re: RandomEffects = "cluster",
    period_order: Sequence[object] | None = None,
    delayed: bool = True,
    source: str = "data",
) -> ExposureAnalysis:
    """The exposure-time analysis with `fit_glmm_frame`'s inputs (child rows or binomial rows)."""

    def fitter(work: pd.DataFrame, treat: str, extra: Sequence[str]) -> GlmmFit:
        return fit_glmm_frame(
            work,
            treatment=treat,
            period=period,
            cluster=cluster,
            outcome=outcome,
            events=events,
            trials=trials,
            covariates=[*extra, *covariates],
            factors=factors,
            reference_levels=reference_levels,
            nagq=nagq,
            re=re,
            source=source,
        )

    return analyse_exposure(
        frame,
        treatment=treatment,
        period=period,
        cluster=cluster,
        fitter=fitter,
        trials=trials if outcome is None else None,
        period_order=period_order,
        delayed=delayed,
        source=source,
    )
