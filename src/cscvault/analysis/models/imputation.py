"""Multiple imputation by chained equations for categorical covariates, and Rubin's rules.

Each incomplete categorical column is imputed in turn from a logistic (2 levels) or multinomial
(3+ levels) model on every other variable: the fixed predictors (outcome, treatment, period...), the
cluster as indicators (so the imputation respects LA differences, which a single-level model ignores),
and the current values of the other imputed columns. Parameters are drawn from the normal approximation
to their posterior before the missing values are drawn, so between-imputation variance reflects the
uncertainty of the imputation model (proper imputation). Rows with the same design collapse to counts,
so 50,000 children fit as fast as a few thousand distinct patterns.

Pooling follows Rubin (1987) with the Barnard & Rubin (1999) small-sample degrees of freedom, the
definitions R's `mice::pool` uses.
"""

# Matrix names follow the papers' notation (X, M, B_i, U_i), hence upper-case locals.
# ruff: noqa: N803, N806

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from cscvault.analysis.models.gee import FloatArray
from cscvault.errors import DataError, UsageError

NDArrayBool = NDArray[np.bool_]

RIDGE = 1e-3  # weak N(0, 1000) prior on slopes: keeps separated categories finite, negligible otherwise


# -- Rubin's rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pooled:
    estimate: float
    within: float  # mean within-imputation variance U-bar
    between: float  # between-imputation variance B
    total: float  # T = U-bar + (1 + 1/m) B
    df: float  # Barnard-Rubin
    riv: float  # relative increase in variance (1 + 1/m) B / U-bar
    lambda_: float  # (1 + 1/m) B / T
    fmi: float  # fraction of missing information
    m: int

    @property
    def se(self) -> float:
        return math.sqrt(self.total)

    def ci(self, level: float = 0.95) -> tuple[float, float]:
        q = (
            float(stats.t.ppf(0.5 + level / 2, self.df))
            if math.isfinite(self.df)
            else float(stats.norm.ppf(0.5 + level / 2))
        )
        return self.estimate - q * self.se, self.estimate + q * self.se

    def p_value(self) -> float:
        t = abs(self.estimate) / self.se
        if math.isfinite(self.df):
            return float(2 * stats.t.sf(t, self.df))
        return float(2 * stats.norm.sf(t))


def barnard_rubin_df(m: int, lambda_: float, df_complete: float) -> float:
    """nu = nu_old nu_obs / (nu_old + nu_obs); nu_old = (m-1)/lambda^2;
    nu_obs = (nu_com+1)/(nu_com+3) nu_com (1-lambda). With nu_com infinite this is nu_old."""
    nu_old = math.inf if lambda_ == 0 else (m - 1) / lambda_**2
    if not math.isfinite(df_complete):
        return nu_old
    nu_obs = (df_complete + 1) / (df_complete + 3) * df_complete * (1 - lambda_)
    if not math.isfinite(nu_old):
        return nu_obs
    return nu_old * nu_obs / (nu_old + nu_obs)


def rubin(estimates: Sequence[float], variances: Sequence[float], df_complete: float = math.inf) -> Pooled:
    """Pool one scalar estimate over m imputations."""
    q = np.asarray(estimates, dtype=float)
    u = np.asarray(variances, dtype=float)
    m = len(q)
    if m < 2 or len(u) != m:
        raise UsageError("Rubin's rules need at least 2 imputations, one variance per estimate")
    if np.any(u < 0):
        raise UsageError("variances must not be negative")
    qbar = float(q.mean())
    ubar = float(u.mean())
    b = float(q.var(ddof=1))
    t = ubar + (1 + 1 / m) * b
    lam = (1 + 1 / m) * b / t if t > 0 else 0.0
    riv = (1 + 1 / m) * b / ubar if ubar > 0 else math.inf
    df = barnard_rubin_df(m, lam, df_complete)
    fmi = (riv + 2 / (df + 3)) / (riv + 1) if math.isfinite(df) else lam
    return Pooled(qbar, ubar, b, t, df, riv, lam, fmi, m)


def rubin_vector(
    estimates: Sequence[FloatArray], covariances: Sequence[FloatArray], df_complete: float = math.inf
) -> tuple[list[Pooled], FloatArray]:
    """Pool parameter vectors: per-coefficient results and the total covariance U-bar + (1+1/m) B."""
    Q = np.vstack([np.asarray(e, dtype=float) for e in estimates])
    covs = [np.asarray(c, dtype=float) for c in covariances]
    m = Q.shape[0]
    pooled = [rubin(Q[:, k].tolist(), [float(c[k, k]) for c in covs], df_complete) for k in range(Q.shape[1])]
    total = np.mean(covs, axis=0) + (1 + 1 / m) * np.cov(Q, rowvar=False, ddof=1).reshape(Q.shape[1], Q.shape[1])
    return pooled, total


# -- weighted multinomial logit -----------------------------------------------------------------


def _softmax(eta: FloatArray) -> FloatArray:
    z = eta - eta.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = e / e.sum(axis=1, keepdims=True)
    return out


def fit_multinomial(
    X: FloatArray, counts: FloatArray, *, ridge: float = RIDGE, tol: float = 1e-8, max_iter: int = 100
) -> tuple[FloatArray, FloatArray]:
    """Penalised ML multinomial logit on grouped data (first category = reference).

    `counts` is rows x K. Returns the (K-1) x p coefficients and the covariance of their flattened
    (row-major) vector, the inverse penalised information."""
    n_rows, p = X.shape
    K = counts.shape[1]
    tot = counts.sum(axis=1)
    beta = np.zeros((K - 1, p))
    penalty = np.full(p, ridge)
    penalty[0] = 0.0  # intercept unpenalised
    pen = np.tile(penalty, K - 1)
    info = np.eye((K - 1) * p)
    for _ in range(max_iter):
        eta = np.column_stack([np.zeros(n_rows), X @ beta.T])
        P = _softmax(eta)[:, 1:]
        grad = ((counts[:, 1:] - tot[:, None] * P).T @ X).ravel() - pen * beta.ravel()
        info = np.zeros(((K - 1) * p, (K - 1) * p))
        for a in range(K - 1):
            for b in range(a, K - 1):
                wt = tot * P[:, a] * ((1.0 if a == b else 0.0) - P[:, b])
                block = X.T @ (X * wt[:, None])
                info[a * p : (a + 1) * p, b * p : (b + 1) * p] = block
                info[b * p : (b + 1) * p, a * p : (a + 1) * p] = block
        info += np.diag(pen)
        step = np.linalg.solve(info, grad)
        beta = beta + step.reshape(K - 1, p)
        if float(np.max(np.abs(step))) < tol:
            break
    cov: FloatArray = np.asarray(np.linalg.inv(info), dtype=np.float64)
    return beta, cov


# -- chained equations --------------------------------------------------------------------------


def _indicator_block(values: pd.Series, prefix: str) -> FloatArray:
    levels = sorted(values.astype(str).unique())
    text = values.astype(str).to_numpy()
    return (
        np.column_stack([(text == lev).astype(float) for lev in levels[1:]])
        if len(levels) > 1
        else (np.zeros((len(values), 0)))
    )


def _fixed_design(frame: pd.DataFrame, predictors: Sequence[str], cluster: str) -> FloatArray:
    blocks: list[FloatArray] = [np.ones((len(frame), 1))]
    for col in predictors:
        s = frame[col]
        if s.isna().any():
            raise DataError(f"predictor '{col}' has missing values; predictors must be complete")
        if pd.api.types.is_numeric_dtype(s) and s.nunique() > 2:
            blocks.append(s.to_numpy(dtype=float)[:, None])
        else:
            blocks.append(_indicator_block(s, col))
    blocks.append(_indicator_block(frame[cluster], cluster))
    return np.column_stack(blocks)


def mice(
    frame: pd.DataFrame,
    *,
    impute: Sequence[str],
    predictors: Sequence[str],
    cluster: str,
    m: int,
    seed: int,
    iterations: int = 10,
) -> list[pd.DataFrame]:
    """Return m completed copies of `frame` (seeded: the same seed gives the same imputations)."""
    for col in [*impute, *predictors, cluster]:
        if col not in frame.columns:
            raise UsageError(f"column '{col}' is not in the data")
    if m < 1:
        raise UsageError("m must be at least 1")
    if frame[cluster].isna().any():
        raise DataError(f"cluster column '{cluster}' has missing values")
    levels: dict[str, list[object]] = {}
    for col in impute:
        observed = frame[col].dropna()
        lev = sorted(observed.unique(), key=str)
        if len(lev) < 2:
            raise DataError(f"column '{col}' needs at least 2 observed categories to be imputed")
        levels[col] = lev
    fixed = _fixed_design(frame, predictors, cluster)
    missing = {col: frame[col].isna().to_numpy() for col in impute}
    codes0 = {col: frame[col].map({v: i for i, v in enumerate(levels[col])}).to_numpy(dtype=float) for col in impute}
    root = np.random.SeedSequence(seed)
    completed: list[pd.DataFrame] = []
    for child in root.spawn(m):
        rng = np.random.default_rng(child)
        codes = {col: c.copy() for col, c in codes0.items()}
        for col in impute:  # start from random draws of the observed values (as mice does)
            miss = missing[col]
            if miss.any():
                codes[col][miss] = rng.choice(codes0[col][~miss], size=int(miss.sum()))
        for _ in range(iterations if any(mk.any() for mk in missing.values()) else 0):
            for col in impute:
                miss = missing[col]
                if not miss.any():
                    continue
                others = [np.eye(len(levels[o]))[codes[o].astype(int)][:, 1:] for o in impute if o != col]
                X = np.column_stack([fixed, *others]) if others else fixed
                _draw_missing(X, codes[col], miss, len(levels[col]), rng)
        out = frame.copy()
        for col in impute:
            out[col] = pd.Series([levels[col][int(c)] for c in codes[col]], index=frame.index, dtype=object)
        completed.append(out)
    return completed


def _distinct_rows(X: FloatArray) -> tuple[FloatArray, NDArray[np.intp]]:
    """Distinct rows and each row's group, by hashing row bytes (exact; much faster than
    np.unique(axis=0), which sorts rows lexicographically)."""
    rows = np.ascontiguousarray(X)
    keys = [r.tobytes() for r in rows]
    inverse = pd.factorize(pd.Series(keys))[0]
    _, first = np.unique(inverse, return_index=True)
    return rows[first], np.asarray(inverse, dtype=np.intp)


def _draw_missing(X: FloatArray, codes: FloatArray, miss: NDArrayBool, K: int, rng: np.random.Generator) -> None:
    """Fit on observed rows (grouped by distinct design row), draw parameters, then draw the missing."""
    obs = ~miss
    uniq, inverse = _distinct_rows(X[obs])
    counts = np.zeros((len(uniq), K))
    np.add.at(counts, (inverse.ravel(), codes[obs].astype(int)), 1.0)
    beta, cov = fit_multinomial(uniq, counts)
    draw = rng.multivariate_normal(beta.ravel(), (cov + cov.T) / 2, method="cholesky")
    beta_star = draw.reshape(beta.shape)
    Xm = X[miss]
    P = _softmax(np.column_stack([np.zeros(len(Xm)), Xm @ beta_star.T]))
    u = rng.random(len(Xm))
    codes[miss] = np.minimum((P.cumsum(axis=1) < u[:, None]).sum(axis=1), K - 1)


def pool_fits(
    fits: Sequence[tuple[FloatArray, FloatArray]], names: Sequence[str], df_complete: float = math.inf
) -> dict[str, Pooled]:
    """Pool (params, covariance) pairs from the same model fitted to each imputed data set."""
    if len(fits) < 2:
        raise UsageError("pooling needs the model fitted to at least 2 imputed data sets")
    pooled, _ = rubin_vector([f[0] for f in fits], [f[1] for f in fits], df_complete)
    if len(pooled) != len(names):
        raise UsageError("one name per coefficient is needed")
    return dict(zip(names, pooled, strict=True))
