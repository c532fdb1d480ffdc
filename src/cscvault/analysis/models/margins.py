"""Average marginal effect of treatment on the risk scale for a logistic model.

AME = mean over the sample of P(y=1 | treated) - P(y=1 | control), each child keeping their own
covariates (counterfactual standardisation). Its standard error comes from the delta method,
gradient = mean(mu1 (1-mu1) x1) - mean(mu0 (1-mu0) x0), applied to the model's coefficient covariance.
For a mixed model the caller passes the fixed-effect design (random effects at zero), which gives the
conditional AME; rows may carry weights (e.g. children per cell).
"""

# Matrix names follow the papers' notation (X, M, B_i, U_i), hence upper-case locals.
# ruff: noqa: N803, N806

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from cscvault.analysis.models.gee import BinomialCells, FloatArray
from cscvault.errors import UsageError


@dataclass(frozen=True)
class MarginalEffect:
    risk_treated: float
    risk_control: float
    ame: float
    se: float
    ci_low: float
    ci_high: float
    level: float
    df: float | None  # None = normal reference

    def as_dict(self) -> dict[str, float | None]:
        return {
            "risk_treated": self.risk_treated,
            "risk_control": self.risk_control,
            "risk_difference": self.ame,
            "se": self.se,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "level": self.level,
            "df": self.df,
        }


def _expit(eta: FloatArray) -> FloatArray:
    out: FloatArray = 1.0 / (1.0 + np.exp(-eta))
    return out


def average_marginal_effect(
    X: FloatArray,
    params: Sequence[float] | FloatArray,
    cov: FloatArray,
    treatment_index: int,
    *,
    weights: Sequence[float] | FloatArray | None = None,
    level: float = 0.95,
    df: float | None = None,
) -> MarginalEffect:
    """Risk difference treated minus control with a delta-method CI (t with `df` if given, else z)."""
    X = np.asarray(X, dtype=float)
    beta = np.asarray(params, dtype=float)
    cov = np.asarray(cov, dtype=float)
    n, p = X.shape
    if beta.shape != (p,) or cov.shape != (p, p):
        raise UsageError("coefficients and covariance must match the design's columns")
    if not 0 <= treatment_index < p:
        raise UsageError("treatment_index is outside the design")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (n,) or np.any(w < 0) or w.sum() <= 0:
        raise UsageError("weights must be one non-negative number per row, not all zero")
    w = w / w.sum()
    X1 = X.copy()
    X1[:, treatment_index] = 1.0
    X0 = X.copy()
    X0[:, treatment_index] = 0.0
    mu1, mu0 = _expit(X1 @ beta), _expit(X0 @ beta)
    r1, r0 = float(w @ mu1), float(w @ mu0)
    grad = (w * mu1 * (1 - mu1)) @ X1 - (w * mu0 * (1 - mu0)) @ X0
    se = math.sqrt(max(float(grad @ cov @ grad), 0.0))
    q = float(stats.t.ppf(0.5 + level / 2, df)) if df is not None else float(stats.norm.ppf(0.5 + level / 2))
    ame = r1 - r0
    return MarginalEffect(r1, r0, ame, se, ame - q * se, ame + q * se, level, df)


def ame_from_cells(
    cells: BinomialCells,
    params: Sequence[float] | FloatArray,
    cov: FloatArray,
    treatment: str,
    *,
    level: float = 0.95,
    df: float | None = None,
) -> MarginalEffect:
    """AME over the children behind binomial cells (each cell weighted by its trials)."""
    if treatment not in cells.names:
        raise UsageError(f"no column '{treatment}' in the design")
    return average_marginal_effect(
        cells.X, params, cov, cells.names.index(treatment), weights=cells.trials, level=level, df=df
    )
