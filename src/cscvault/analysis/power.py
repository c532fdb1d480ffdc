"""Power and minimum detectable effect of a stepped-wedge design.

`hussey_hughes_variance` is the closed form of Hussey & Hughes (2007) for the treatment effect of a
linear mixed model on cluster-period means with a random cluster intercept. `gls_variance` computes the
same quantity numerically for any treatment pattern, unequal cluster-period sizes and a
cluster autocorrelation below 1 (nested-exchangeable: Hooper et al. 2016; Girling & Hemming 2016);
with equal sizes and autocorrelation 1 the two agree exactly (a test checks this). For a binary
outcome the variance components are on the risk scale: total variance p(1-p) split by the ICC.
"""

# Matrix names follow the papers' notation (X, M, B_i, U_i), hence upper-case locals.
# ruff: noqa: N806, E741

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats

from cscvault.errors import UsageError
from cscvault.study.model import Study

FloatArray = NDArray[np.float64]


def stepped_wedge_matrix(wedges: Sequence[int], n_periods: int) -> FloatArray:
    """Treatment indicator per cluster (row) and period (column); period 0 is the baseline and a
    cluster in wedge k is treated from period k onwards."""
    if n_periods < 2:
        raise UsageError("a stepped-wedge design needs at least 2 periods")
    out = np.zeros((len(wedges), n_periods))
    for i, k in enumerate(wedges):
        if not 1 <= k < n_periods:
            raise UsageError(f"wedge {k} is outside periods 1..{n_periods - 1}")
        out[i, k:] = 1.0
    return out


def hussey_hughes_variance(design: FloatArray, sigma2: float, tau2: float) -> float:
    """Var(theta-hat): sigma2 = residual variance of a cluster-period mean, tau2 = cluster variance."""
    X = np.asarray(design, dtype=float)
    I, T = X.shape
    U = X.sum()
    W = float((X.sum(axis=0) ** 2).sum())
    V = float((X.sum(axis=1) ** 2).sum())
    num = I * sigma2 * (sigma2 + T * tau2)
    den = (I * U - W) * sigma2 + (U**2 + I * T * U - T * W - I * V) * tau2
    if den <= 0:
        raise UsageError("the design does not identify a treatment effect")
    return float(num / den)


def gls_variance(
    design: FloatArray,
    sizes: FloatArray | float,
    *,
    icc: float,
    total_variance: float,
    cac: float = 1.0,
) -> float:
    """Var(theta-hat) of the GLS estimator with period effects, cluster and cluster-period effects.

    `sizes` = children per cluster-period (matrix or one number); `cac` = cluster autocorrelation
    (1 = Hussey & Hughes, below 1 adds a cluster-period random effect)."""
    X = np.asarray(design, dtype=float)
    I, T = X.shape
    m = np.broadcast_to(np.asarray(sizes, dtype=float), X.shape)
    if not 0 <= icc < 1 or not 0 <= cac <= 1 or total_variance <= 0 or np.any(m <= 0):
        raise UsageError("need 0 <= icc < 1, 0 <= cac <= 1, positive variance and sizes")
    tau2 = icc * total_variance  # between-cluster variance of an individual outcome
    e2 = (1 - icc) * total_variance
    info = np.zeros((T + 1, T + 1))
    for i in range(I):
        Z = np.column_stack([np.eye(T), X[i]])
        cov = tau2 * (cac * np.ones((T, T)) + (1 - cac) * np.eye(T)) + np.diag(e2 / m[i])
        info += Z.T @ np.linalg.solve(cov, Z)
    return float(np.linalg.inv(info)[T, T])


@dataclass(frozen=True)
class PowerResult:
    effect: float
    se: float
    power: float
    alpha: float
    df: float | None

    def as_dict(self) -> dict[str, float | None]:
        return {"effect": self.effect, "se": self.se, "power": self.power, "alpha": self.alpha, "df": self.df}


def power_from_se(effect: float, se: float, *, alpha: float = 0.05, df: float | None = None) -> float:
    """Two-sided power of a Wald test (z, or t with df, ignoring the far tail)."""
    if se <= 0:
        raise UsageError("standard error must be positive")
    if df is None:
        return float(stats.norm.cdf(abs(effect) / se - stats.norm.ppf(1 - alpha / 2)))
    crit = stats.t.ppf(1 - alpha / 2, df)
    return float(stats.nct.sf(crit, df, abs(effect) / se))


def minimum_detectable_effect(se: float, *, alpha: float = 0.05, power: float = 0.8, df: float | None = None) -> float:
    """Smallest |effect| with the requested power (closed form for z; root-finding for t)."""
    if not 0 < power < 1:
        raise UsageError("power must lie strictly between 0 and 1")
    if df is None:
        return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * se)
    return float(optimize.brentq(lambda d: power_from_se(d, se, alpha=alpha, df=df) - power, 1e-12 * se, 1e3 * se))


def stepped_wedge_power(
    wedges: Sequence[int],
    n_periods: int,
    cluster_period_size: float,
    *,
    baseline_risk: float,
    risk_difference: float,
    icc: float,
    cac: float = 1.0,
    alpha: float = 0.05,
    df: float | None = None,
) -> PowerResult:
    """Power to detect a risk difference with the given design (one cluster per entry of `wedges`)."""
    if not 0 < baseline_risk < 1:
        raise UsageError("baseline_risk must lie strictly between 0 and 1")
    if not 0 < alpha < 1:
        raise UsageError("alpha must lie strictly between 0 and 1")
    design = stepped_wedge_matrix(wedges, n_periods)
    var = gls_variance(
        design,
        cluster_period_size,
        icc=icc,
        total_variance=baseline_risk * (1 - baseline_risk),
        cac=cac,
    )
    se = math.sqrt(var)
    return PowerResult(risk_difference, se, power_from_se(risk_difference, se, alpha=alpha, df=df), alpha, df)


def study_design(study: Study) -> tuple[list[int], int]:
    """The study's wedges (one per LA, in go-live order) and its number of periods (baseline included)."""
    wedges = sorted(study.wedge_of(la) for la in study.local_authorities)
    return wedges, len(study.periods)
