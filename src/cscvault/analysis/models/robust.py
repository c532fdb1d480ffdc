"""Fixed-effects logistic regression with CR2 cluster-robust errors and Satterthwaite degrees of freedom.

The logistic model has LA (cluster) and period fixed effects, so with five LAs the usual cluster-robust
sandwich is far too small. CR2 (Bell & McCaffrey 2002; Pustejovsky & Tipton 2018) rescales each cluster's
residuals so the sandwich is unbiased under the working model, and the Satterthwaite degrees of freedom
give the t reference. Definitions follow R clubSandwich's `vcovCR(glm, type = "CR2")` and
`coef_test(test = "Satterthwaite")` for a glm: working model = the glm variance function, design rows
dmu/deta * x, weights prior-weight / variance. The model is fitted on binomial cells (one row per cluster
and design row), so the result equals clubSandwich on the aggregated `glm(cbind(events, trials - events))`.
"""

# Matrix names follow the papers' notation (X, M, B_i, U_i), hence upper-case locals.
# ruff: noqa: N803, N806

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from cscvault.analysis.models.gee import BinomialCells, FloatArray, binomial_cells
from cscvault.analysis.models.separation import require_no_separation
from cscvault.analysis.models.spec import ModelSpec, resolve
from cscvault.errors import DataError, UsageError

# CR2 needs a symmetric inverse square root of a cells x cells matrix per cluster; beyond this many
# distinct covariate patterns in one cluster that is minutes and gigabytes, so refuse with advice.
MAX_CELLS_PER_CLUSTER = 5000
EIGEN_TOL = 1e-12  # eigenvalues below this share of the largest count as zero (pseudo-inverse root)


@dataclass(frozen=True)
class LogitFit:
    names: tuple[str, ...]
    params: FloatArray
    mu: FloatArray  # fitted probability per cell
    bread: FloatArray  # (X' W X)^-1, the model-based covariance
    deviance: float
    iterations: int


def fit_logit(
    cells: BinomialCells, *, offset: FloatArray | None = None, tol: float = 1e-10, max_iter: int = 100
) -> LogitFit:
    """Maximum-likelihood binomial logit by Newton-Raphson on cells (same answer as R `glm`)."""
    X, d, n = cells.X, cells.events, cells.trials
    off = np.zeros(len(d)) if offset is None else np.asarray(offset, dtype=float)
    beta = np.zeros(X.shape[1])
    iterations = 0
    for _ in range(max_iter):
        iterations += 1
        mu = 1.0 / (1.0 + np.exp(-(X @ beta + off)))
        info = X.T @ (X * (n * mu * (1 - mu))[:, None])
        step = np.linalg.solve(info, X.T @ (d - n * mu))
        beta = beta + step
        if float(np.max(np.abs(step))) < tol:
            break
    else:
        raise DataError(
            f"the logistic model did not converge in {max_iter} iterations (separation? check cells with 0 "
            "or all events)"
        )
    mu = 1.0 / (1.0 + np.exp(-(X @ beta + off)))
    info = X.T @ (X * (n * mu * (1 - mu))[:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        dev_terms = np.where(d > 0, d * np.log(d / (n * mu)), 0.0) + np.where(
            n - d > 0, (n - d) * np.log((n - d) / (n * (1 - mu))), 0.0
        )
    bread: FloatArray = np.asarray(np.linalg.inv(info), dtype=np.float64)
    return LogitFit(cells.names, beta, mu, bread, float(2 * dev_terms.sum()), iterations)


def _inv_sqrt_psd(G: FloatArray) -> FloatArray:
    """Symmetric inverse square root with zero eigenvalues left at zero (a pseudo-inverse), as
    clubSandwich does when cluster fixed effects make I - H_jj singular."""
    vals, vecs = np.linalg.eigh((G + G.T) / 2)
    cut = EIGEN_TOL * max(float(vals.max()), 0.0)
    inv_root = np.where(vals > cut, 1.0 / np.sqrt(np.where(vals > cut, vals, 1.0)), 0.0)
    out: FloatArray = (vecs * inv_root) @ vecs.T
    return out


@dataclass(frozen=True)
class CR2Result:
    names: tuple[str, ...]
    params: FloatArray
    vcov: FloatArray  # CR2
    vcov_model: FloatArray
    df: FloatArray  # Satterthwaite df per coefficient
    n_clusters: int
    n_obs: float
    deviance: float
    notes: tuple[str, ...] = field(default=())

    def coefficient(self, term: str, level: float = 0.95) -> dict[str, float | str]:
        if term not in self.names:
            raise UsageError(f"no coefficient '{term}' in the model")
        i = self.names.index(term)
        est, se, df = float(self.params[i]), math.sqrt(float(self.vcov[i, i])), float(self.df[i])
        q = float(stats.t.ppf(0.5 + level / 2, df))
        return {
            "term": term,
            "estimate": est,
            "odds_ratio": math.exp(est),
            "se_cr2": se,
            "se_model": math.sqrt(float(self.vcov_model[i, i])),
            "df_satterthwaite": df,
            "t": est / se,
            "p_value": float(2 * stats.t.sf(abs(est / se), df)),
            "ci_low": est - q * se,
            "ci_high": est + q * se,
            "or_ci_low": math.exp(est - q * se),
            "or_ci_high": math.exp(est + q * se),
        }


def cr2(cells: BinomialCells, fit: LogitFit) -> CR2Result:
    """CR2 covariance and Satterthwaite df for every coefficient of a logit fitted on `cells`."""
    X, n = cells.X, cells.trials
    mu = fit.mu
    v = mu * (1 - mu)
    Xg = X * v[:, None]  # dmu/deta * x
    w = n / v  # weights: prior weight / variance
    theta = v / n  # working variance of a cell proportion
    resid = cells.events / n - mu  # response residuals
    M = fit.bread
    K, p = cells.n_clusters, X.shape[1]
    est_rows: list[FloatArray] = []  # per cluster: M Xg' W A  (p x n_j)
    Xg_list: list[FloatArray] = []
    theta_list: list[FloatArray] = []
    meat = np.zeros((p, p))
    largest = int(np.bincount(cells.cluster, minlength=K).max())
    if largest > MAX_CELLS_PER_CLUSTER:
        raise UsageError(
            f"a cluster has {largest} distinct covariate patterns (limit {MAX_CELLS_PER_CLUSTER}) for CR2; "
            "group continuous covariates into bands"
        )
    for j in range(K):
        idx = np.flatnonzero(cells.cluster == j)
        xg, th, sq = Xg[idx], theta[idx], np.sqrt(theta[idx])
        G = sq[:, None] * (np.diag(th) - xg @ M @ xg.T) * sq[None, :]
        A = sq[:, None] * _inv_sqrt_psd(G) * sq[None, :]
        E = M @ (xg.T * w[idx][None, :]) @ A
        contrib = E @ resid[idx]
        meat += np.outer(contrib, contrib)
        est_rows.append(E)
        Xg_list.append(xg)
        theta_list.append(th)
    df = np.empty(p)
    for c in range(p):
        q = [E[c] for E in est_rows]  # c' M Xg_j' W_j A_j
        own = np.array([float(qj @ (th * qj)) for qj, th in zip(q, theta_list, strict=True)])
        h = np.array([qj @ xg for qj, xg in zip(q, Xg_list, strict=True)])  # K x p
        P = np.diag(own) - h @ M @ h.T
        df[c] = float(np.trace(P) ** 2 / np.sum(P**2))
    return CR2Result(
        names=cells.names,
        params=fit.params,
        vcov=meat,
        vcov_model=M,
        df=df,
        n_clusters=K,
        n_obs=float(n.sum()),
        deviance=fit.deviance,
    )


def fit_fe_cr2(
    frame: pd.DataFrame,
    spec: ModelSpec | None = None,
    *,
    treatment: str | None = None,
    period: str | None = None,
    cluster: str | None = None,
    outcome: str | None = None,
    events: str | None = None,
    trials: str | None = None,
    covariates: Sequence[str] = (),
) -> CR2Result:
    """Logistic model with cluster and period fixed effects, CR2 errors, Satterthwaite df; the columns come
    from `spec` (or the older keywords)."""
    spec = resolve(
        spec,
        treatment=treatment,
        period=period,
        cluster=cluster,
        outcome=outcome,
        events=events,
        trials=trials,
        covariates=covariates,
    )
    cells = binomial_cells(
        frame,
        spec,
        cluster_effects=True,
        period_coding="reference",
    )
    if cells.n_clusters < 2:
        raise DataError("cluster-robust errors need at least 2 clusters")
    # Separation makes the Newton step meet a singular information matrix; say what it is instead.
    require_no_separation(cells.X, cells.events, cells.trials, cells.names, "fixed-effects logit")
    return cr2(cells, fit_logit(cells))
