"""Exact randomisation inference over the admissible sequences of a stratified stepped-wedge design.

The trial randomised the order in which LAs start, within readiness strata: each stratum owns a set of
wedges and its LAs are assigned to them in random order. An admissible sequence maps every LA to a wedge
of its own stratum (no two LAs share a wedge). Under the sharp null of no effect the outcomes do not
depend on the sequence, so re-computing the estimate under every admissible sequence gives its exact
null distribution. The p-value can never be smaller than 1 / (number of sequences); with 12 sequences no
two-sided test at 5% can reject, and a 95% interval by test inversion is then unbounded (reported so,
not hidden).
"""

# Matrix names follow the papers' notation (X, M, B_i, U_i), hence upper-case locals.
# ruff: noqa: N806

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from cscvault.analysis.models.gee import BinomialCells, indicators
from cscvault.analysis.models.robust import fit_logit
from cscvault.errors import DataError, UsageError
from cscvault.study.model import Study

NDArrayInt = NDArray[np.int64]

Assignment = Mapping[str, int]  # cluster name -> wedge number (1-based)
Statistic = Callable[[Assignment], float]
OffsetStatistic = Callable[[Assignment, float], float]

TIE_TOL = 1e-9  # statistics this close (relative) count as ties, so float noise cannot move the p-value


def admissible_sequences(
    strata: Mapping[str, Sequence[int]], cluster_stratum: Mapping[str, str]
) -> list[dict[str, int]]:
    """Every assignment of clusters to wedges that keeps each cluster inside its stratum's wedges."""
    per_stratum: list[list[dict[str, int]]] = []
    for name, wedges in strata.items():
        members = sorted(c for c, s in cluster_stratum.items() if s == name)
        if len(members) > len(wedges):
            raise UsageError(f"stratum '{name}' has {len(members)} clusters but only {len(wedges)} wedges")
        per_stratum.append(
            [dict(zip(members, perm, strict=True)) for perm in itertools.permutations(wedges, len(members))]
        )
    unknown = set(cluster_stratum.values()) - set(strata)
    if unknown:
        raise UsageError(f"clusters name strata the design does not define: {', '.join(sorted(unknown))}")
    sequences = []
    for combo in itertools.product(*per_stratum):
        merged: dict[str, int] = {}
        for part in combo:
            merged.update(part)
        sequences.append(merged)
    return sequences


def study_design(study: Study) -> tuple[list[dict[str, int]], dict[str, int]]:
    """The admissible sequences of a study and the sequence it actually used (LA name -> wedge)."""
    strata = {s.name: tuple(s.wedges) for s in study.strata}
    cluster_stratum = {la.name: la.stratum for la in study.local_authorities}
    sequences = admissible_sequences(strata, cluster_stratum)
    observed = {la.name: study.wedge_of(la) for la in study.local_authorities}
    if observed not in sequences:
        raise UsageError("the study's go-live order is not one of its admissible sequences (check strata)")
    return sequences, observed


@dataclass(frozen=True)
class RandomisationResult:
    estimate: float
    p_value: float
    n_sequences: int
    min_attainable_p: float
    null_distribution: tuple[float, ...]
    ci_level: float | None = None
    ci_low: float | None = None  # None = unbounded
    ci_high: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "estimate": self.estimate,
            "p_value": self.p_value,
            "sequences": self.n_sequences,
            "min_attainable_p": self.min_attainable_p,
            "ci_level": self.ci_level,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "ci_bounded": self.ci_low is not None and self.ci_high is not None,
        }


def _p_value(observed: float, null: Sequence[float]) -> float:
    scale = max(1.0, abs(observed))
    hits = sum(1 for t in null if abs(t) >= abs(observed) - TIE_TOL * scale)
    return hits / len(null)


def randomisation_test(
    sequences: Sequence[Assignment], observed: Assignment, statistic: Statistic
) -> RandomisationResult:
    """Two-sided exact p-value: share of admissible sequences whose |estimate| reaches the observed one."""
    if not sequences:
        raise UsageError("no admissible sequences")
    null = [float(statistic(s)) for s in sequences]
    t_obs = float(statistic(observed))
    return RandomisationResult(
        estimate=t_obs,
        p_value=_p_value(t_obs, null),
        n_sequences=len(sequences),
        min_attainable_p=1.0 / len(sequences),
        null_distribution=tuple(null),
    )


def inversion_p_value(
    sequences: Sequence[Assignment], observed: Assignment, statistic: OffsetStatistic, theta0: float
) -> float:
    """p-value of H0: effect = theta0, with theta0 x observed treatment as an offset in every refit."""
    null = [float(statistic(s, theta0)) for s in sequences]
    return _p_value(float(statistic(observed, theta0)), null)


def randomisation_ci(
    sequences: Sequence[Assignment],
    observed: Assignment,
    statistic: OffsetStatistic,
    *,
    level: float = 0.95,
    scale: float = 1.0,
    tol: float = 1e-4,
    max_doublings: int = 12,
) -> RandomisationResult:
    """p-value at 0 and the interval {theta0 : p(theta0) > 1 - level} by test inversion.

    `statistic(seq, theta0)` must return the estimated effect of `seq`'s treatment in a model that
    carries theta0 x (observed treatment) as an offset; `scale` (e.g. a model SE) sets the search step.
    """
    base = randomisation_test(sequences, observed, lambda s: statistic(s, 0.0))
    alpha = 1.0 - level
    bounds: list[float | None] = []
    if alpha >= base.min_attainable_p:
        est = base.estimate
        for direction in (-1.0, 1.0):
            inside, step, outside = est, scale, None
            for _ in range(max_doublings):
                candidate = est + direction * step
                if inversion_p_value(sequences, observed, statistic, candidate) <= alpha:
                    outside = candidate
                    break
                inside, step = candidate, step * 2
            if outside is None:
                bounds.append(None)
                continue
            while abs(outside - inside) > tol:
                mid = (inside + outside) / 2
                if inversion_p_value(sequences, observed, statistic, mid) > alpha:
                    inside = mid
                else:
                    outside = mid
            bounds.append((inside + outside) / 2)
    else:
        bounds = [None, None]
    return RandomisationResult(
        estimate=base.estimate,
        p_value=base.p_value,
        n_sequences=base.n_sequences,
        min_attainable_p=base.min_attainable_p,
        null_distribution=base.null_distribution,
        ci_level=level,
        ci_low=bounds[0],
        ci_high=bounds[1],
    )


# -- a ready statistic: the fixed-effects logit on stepped-wedge cells ---------------------------


def stepped_wedge_treatment(cluster: pd.Series, period_index: pd.Series, assignment: Assignment) -> NDArrayInt:
    """Treated when the period index (0 = baseline, k = k-th step) has reached the cluster's wedge."""
    missing = set(cluster.astype(str).unique()) - set(assignment)
    if missing:
        raise DataError(f"{len(missing)} clusters in the data are not in the design")
    wedge = cluster.astype(str).map(dict(assignment)).to_numpy(dtype=np.int64)
    out: NDArrayInt = (period_index.to_numpy(dtype=np.int64) >= wedge).astype(np.int64)
    return out


def fe_logit_statistic(
    frame: pd.DataFrame,
    *,
    cluster: str,
    period_index: str,
    events: str,
    trials: str,
    observed: Assignment,
    covariates: Sequence[str] = (),
) -> OffsetStatistic:
    """Treatment log-OR of a logit with cluster and period fixed effects, for any sequence and offset."""
    for col in (cluster, period_index, events, trials, *covariates):
        if col not in frame.columns:
            raise UsageError(f"column '{col}' is not in the data")
    base_parts = [
        pd.DataFrame({"(Intercept)": 1.0}, index=frame.index),
        indicators(frame[period_index], period_index),
        indicators(frame[cluster], cluster),
    ]
    for cov in covariates:
        col = frame[cov]
        if pd.api.types.is_numeric_dtype(col):
            base_parts.append(pd.DataFrame({cov: col.astype(float)}, index=frame.index))
        else:
            base_parts.append(indicators(col, cov))
    base = pd.concat(base_parts, axis=1).to_numpy(dtype=float)
    x_obs = stepped_wedge_treatment(frame[cluster], frame[period_index], observed).astype(float)
    ev = frame[events].to_numpy(dtype=float)
    tr = frame[trials].to_numpy(dtype=float)
    labels = sorted(frame[cluster].astype(str).unique())
    code = frame[cluster].astype(str).map({lab: i for i, lab in enumerate(labels)}).to_numpy(dtype=np.int64)

    def statistic(assignment: Assignment, theta0: float) -> float:
        x = stepped_wedge_treatment(frame[cluster], frame[period_index], assignment).astype(float)
        X = np.column_stack([base, x])
        cells = BinomialCells(X, ("base",) * X.shape[1], ev, tr, code, tuple(labels))
        fit = fit_logit(cells, offset=theta0 * x_obs)
        return float(fit.params[-1])

    return statistic


def describe_design(n_sequences: int, level: float = 0.95) -> str:
    """One sentence for the report on what the design can and cannot show."""
    min_p = 1.0 / n_sequences
    tail = (
        f"so no two-sided test at the {1 - level:.0%} level can reject and the {level:.0%} "
        "randomisation interval is unbounded"
        if min_p > 1 - level
        else f"so tests down to the {min_p:.3g} level are possible"
    )
    return f"{n_sequences} admissible sequences: the smallest attainable p-value is {min_p:.3g}, {tail}."


def period_index(study: Study, period_names: pd.Series) -> pd.Series:
    """Map the study's period names to 0 (baseline) .. k (k-th step), the index `fe_logit_statistic`
    and `stepped_wedge_treatment` expect."""
    order = {p.name: i for i, p in enumerate(study.periods)}
    unknown = set(period_names.astype(str).unique()) - set(order)
    if unknown:
        raise DataError(f"{len(unknown)} period names are not periods of study '{study.id}'")
    return period_names.astype(str).map(order).astype(np.int64)
