"""Marginal logistic GEE with exchangeable working correlation, fitted on cluster x covariate cells.

With an exchangeable working correlation and covariates that are constant within a cell, the
individual-level estimating equations depend on the data only through each cell's events and trials,
so fitting on LA x period cells (50,000 children -> 30 cells) is exact, not an approximation.
The correlation parameter solves the same unbiased estimating equation as geeCRT's `geemaee`
(alpadj = FALSE), and the small-sample variances are those geeCRT reports:
BC0 (Liang-Zeger sandwich), BC1 (Kauermann-Carroll, in geeCRT's symmetrised form),
BC2 (Mancl-DeRouen) and BC3 (Fay-Graubard, bound 0.75). Every correction reduces to p x p algebra
per cluster (Woodbury), so cluster size does not matter.
"""

# Matrix names follow the papers' notation (X, M, B_i, U_i), hence upper-case locals.
# ruff: noqa: N803, N806

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from cscvault.analysis.models.separation import require_no_separation
from cscvault.analysis.models.spec import ModelSpec, resolve
from cscvault.errors import DataError, UsageError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

VARIANCES = ("model", "sandwich", "kc", "md", "fg")
"""Variance estimators, named by what they are (geeCRT: MB, BC0, BC1, BC2, BC3)."""

ALPHA_BLOCK = 512  # rows per block when summing over pairs of cells
FG_BOUND = 0.75  # Fay-Graubard's cap on the leverage term, as in their paper and geeCRT


# -- data: binomial cells ------------------------------------------------------------------------


@dataclass(frozen=True)
class BinomialCells:
    """Events out of trials per cell, the design row of each cell and its cluster."""

    X: FloatArray
    names: tuple[str, ...]
    events: FloatArray
    trials: FloatArray
    cluster: IntArray  # 0-based cluster index per cell
    cluster_labels: tuple[str, ...]

    @property
    def n_clusters(self) -> int:
        return len(self.cluster_labels)


def _require_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    for col in columns:
        if col not in frame.columns:
            raise UsageError(f"column '{col}' is not in the data")


def _no_missing(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    for col in columns:
        n_missing = int(frame[col].isna().sum())
        if n_missing:
            raise DataError(f"column '{col}' has {n_missing} missing values; impute or drop them first")


def indicators(values: pd.Series, prefix: str) -> pd.DataFrame:
    """Treatment-coded indicators, first sorted level as reference."""
    levels = sorted(values.astype(str).unique())
    as_text = values.astype(str)
    return pd.DataFrame({f"{prefix}[{lev}]": (as_text == lev).astype(float) for lev in levels[1:]}, index=values.index)


def binomial_cells(
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
    cluster_effects: bool = False,
    period_coding: str = "indicators",
) -> BinomialCells:
    """Build the design (period terms, [cluster levels], treatment, covariates) and collapse rows with
    the same cluster and design row into binomial cells.

    Periods are coded as one indicator each without an intercept ("indicators", as geeCRT does) or as
    intercept plus indicators for all but the first ("reference", as R's glm does). Fitted values,
    sandwich, KC, MD and CR2 do not depend on the choice; Fay-Graubard's diagonal correction does.

    Give either `outcome` (0/1 per row) or `events` and `trials` (counts per row). Text covariates
    become indicators; numeric ones enter as they are. The columns come from `spec` (its covariates and
    factors alike) or the older keywords.
    """
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
    treatment, period, cluster = spec.treatment, spec.period, spec.cluster
    outcome, events, trials = spec.outcome, spec.events, spec.trials
    covariates = (*spec.covariates, *spec.factors)
    if (outcome is None) == (events is None):
        raise UsageError("give either an outcome column or events and trials columns")
    if events is not None and trials is None:
        raise UsageError("events needs a trials column")
    count_cols = [outcome] if outcome is not None else [events, trials]
    needed = [c for c in [*count_cols, treatment, period, cluster, *covariates] if c is not None]
    _require_columns(frame, needed)
    _no_missing(frame, needed)
    if frame.empty:
        raise DataError("the data has no rows")

    if outcome is not None:
        y = pd.to_numeric(frame[outcome], errors="coerce")
        if y.isna().any() or not y.isin([0, 1]).all():
            raise DataError(f"column '{outcome}' must hold only 0 and 1")
        ev = y.astype(float)
        tr = pd.Series(1.0, index=frame.index)
    else:
        assert events is not None and trials is not None
        ev = pd.to_numeric(frame[events], errors="coerce")
        tr = pd.to_numeric(frame[trials], errors="coerce")
        if ev.isna().any() or tr.isna().any():
            raise DataError(f"columns '{events}' and '{trials}' must be numbers")
        if (tr <= 0).any() or (ev < 0).any() or (ev > tr).any():
            raise DataError(f"'{events}' must lie between 0 and '{trials}', and '{trials}' must be positive")

    treat = pd.to_numeric(frame[treatment], errors="coerce")
    if treat.isna().any() or not treat.isin([0, 1]).all():
        raise DataError(f"column '{treatment}' must hold only 0 and 1")

    parts: list[pd.DataFrame] = []
    if period_coding == "indicators":  # one indicator per period, no intercept (geeCRT's design)
        levels = sorted(frame[period].astype(str).unique())
        text = frame[period].astype(str)
        parts.append(pd.DataFrame({f"{period}[{lev}]": (text == lev).astype(float) for lev in levels}))
    elif period_coding == "reference":  # intercept + indicators for all but the first period (R's default)
        parts.append(pd.DataFrame({"(Intercept)": 1.0}, index=frame.index))
        parts.append(indicators(frame[period], period))
    else:
        raise UsageError("period_coding must be 'indicators' or 'reference'")
    if cluster_effects:
        parts.append(indicators(frame[cluster], cluster))
    parts.append(pd.DataFrame({treatment: treat.astype(float)}, index=frame.index))
    for cov in covariates:
        col = frame[cov]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            parts.append(pd.DataFrame({cov: col.astype(float)}, index=frame.index))
        else:
            parts.append(indicators(col, cov))
    design = pd.concat(parts, axis=1)
    names = tuple(design.columns)

    labels = sorted(frame[cluster].astype(str).unique())
    work = design.copy()
    work["__cluster"] = frame[cluster].astype(str)
    work["__events"] = ev.astype(float)
    work["__trials"] = tr.astype(float)
    grouped = work.groupby(["__cluster", *names], sort=True, observed=True)[["__events", "__trials"]].sum()
    grouped = grouped.reset_index()
    code = {lab: i for i, lab in enumerate(labels)}
    cells = BinomialCells(
        X=grouped[list(names)].to_numpy(dtype=float),
        names=names,
        events=grouped["__events"].to_numpy(dtype=float),
        trials=grouped["__trials"].to_numpy(dtype=float),
        cluster=grouped["__cluster"].map(code).to_numpy(dtype=np.int64),
        cluster_labels=tuple(labels),
    )
    check_full_rank(cells.X, cells.names)
    return cells


def check_full_rank(X: FloatArray, names: Sequence[str]) -> None:
    """Name the first column that is a linear combination of earlier ones."""
    for k in range(1, X.shape[1] + 1):
        if np.linalg.matrix_rank(X[:, :k]) < k:
            raise DataError(f"design column '{names[k - 1]}' is collinear with earlier columns")


# -- the fit ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coefficient:
    term: str
    estimate: float
    se: float
    statistic: float
    df: float
    p_value: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class GeeResult:
    names: tuple[str, ...]
    params: FloatArray
    cov: dict[str, FloatArray]  # keyed by VARIANCES
    alpha: float
    alpha_fixed: bool
    n_clusters: int
    n_obs: float
    df: float
    df_rule: str
    iterations: int
    notes: tuple[str, ...] = field(default=())

    def se(self, term: str, variance: str = "md") -> float:
        i = self._index(term)
        return float(math.sqrt(self.cov[variance][i, i]))

    def coefficient(self, term: str, variance: str = "md", level: float = 0.95) -> Coefficient:
        """t-based inference (df = clusters - parameters unless the fit says otherwise)."""
        if variance not in self.cov:
            raise UsageError(f"unknown variance '{variance}' (choose from {', '.join(VARIANCES)})")
        i = self._index(term)
        est = float(self.params[i])
        se = float(math.sqrt(self.cov[variance][i, i]))
        t = est / se
        p = float(2 * stats.t.sf(abs(t), self.df))
        q = float(stats.t.ppf(0.5 + level / 2, self.df))
        return Coefficient(term, est, se, t, self.df, p, est - q * se, est + q * se)

    def _index(self, term: str) -> int:
        if term not in self.names:
            raise UsageError(f"no coefficient '{term}' in the model")
        return self.names.index(term)


def t_degrees_of_freedom(n_clusters: int, n_params: int) -> tuple[float, str, tuple[str, ...]]:
    """Clusters minus parameters (Li & Redden); when that is below 1 (e.g. 5 LAs with period
    effects), clusters minus 2 (Ouyang et al.) with a note, never silently."""
    df = n_clusters - n_params
    if df >= 1:
        return float(df), "clusters - parameters", ()
    fallback = max(n_clusters - 2, 1)
    note = f"clusters - parameters = {df} is below 1, so the t reference uses clusters - 2 = {fallback}"
    return float(fallback), "clusters - 2", (note,)


def _expit(eta: FloatArray) -> FloatArray:
    out: FloatArray = 1.0 / (1.0 + np.exp(-eta))
    return out


class _Pieces:
    """Per-cluster score U_i and information B_i at (beta, alpha), from cell sums."""

    def __init__(self, cells: BinomialCells, beta: FloatArray, alpha: float) -> None:
        X, n, d, cl = cells.X, cells.trials, cells.events, cells.cluster
        K, p = cells.n_clusters, X.shape[1]
        mu = _expit(X @ beta)
        v = mu * (1 - mu)
        sv = np.sqrt(v)
        self.mu, self.v = mu, v
        n_i = np.bincount(cl, weights=n, minlength=K)
        g = alpha / (1 - alpha + n_i * alpha)  # R^{-1} = (I - g J) / (1 - alpha) per cluster
        raw = X * (d - n * mu)[:, None]  # sum over a cell's children of x * (y - mu)
        s = np.zeros((K, p))
        np.add.at(s, cl, X * (n * sv)[:, None])  # sum_k sqrt(v_k) x_k
        E = (d - n * mu) / sv  # sum of Pearson residuals in a cell
        self.E = E
        E_i = np.bincount(cl, weights=E, minlength=K)
        U = np.zeros((K, p))
        np.add.at(U, cl, raw)
        self.U: FloatArray = (U - g[:, None] * s * E_i[:, None]) / (1 - alpha)
        B = np.zeros((K, p, p))
        np.add.at(B, cl, np.einsum("c,cj,ck->cjk", n * v, X, X))
        self.B: FloatArray = (B - g[:, None, None] * np.einsum("ij,ik->ijk", s, s)) / (1 - alpha)


def _alpha_update(cells: BinomialCells, pieces: _Pieces, alpha: float) -> float:
    """One solve of the pairwise estimating equation sum w_jk (e_j e_k - alpha) = 0 with geeCRT's
    weights w = 1 / (1 + (1-2mu_j)(1-2mu_k) alpha / sqrt(v_j v_k) - alpha^2), at fixed weights."""
    mu, v, E = pieces.mu, pieces.v, pieces.E
    n, d = cells.trials, cells.events
    Q = (d * (1 - mu) ** 2 + (n - d) * mu**2) / v  # sum of squared Pearson residuals per cell
    num = 0.0
    den = 0.0
    for i in range(cells.n_clusters):
        idx = np.flatnonzero(cells.cluster == i)
        a = (1 - 2 * mu[idx]) / np.sqrt(v[idx])
        e, m = E[idx], n[idx]
        w_diag = 1.0 / (1.0 + alpha * a * a - alpha**2)
        # Pairs in different cells: half the full double sum minus its diagonal, in row blocks so a
        # cluster with thousands of covariate patterns never needs a full cells x cells matrix.
        full_s = full_n = 0.0
        for lo in range(0, len(idx), ALPHA_BLOCK):
            blk = slice(lo, lo + ALPHA_BLOCK)
            w = 1.0 / (1.0 + alpha * np.outer(a[blk], a) - alpha**2)
            full_s += float(e[blk] @ w @ e)
            full_n += float(m[blk] @ w @ m)
        between_s = (full_s - float((w_diag * e * e).sum())) / 2
        between_n = (full_n - float((w_diag * m * m).sum())) / 2
        within_s = (e**2 - Q[idx]) / 2  # pairs inside one cell
        within_n = m * (m - 1) / 2
        num += between_s + float((w_diag * within_s).sum())
        den += between_n + float((w_diag * within_n).sum())
    if den <= 0:
        raise DataError("every cluster has a single child; an exchangeable correlation is not estimable")
    return num / den


def fit_gee(
    cells: BinomialCells,
    *,
    alpha: float | None = None,
    tol: float = 1e-10,
    max_iter: int = 200,
) -> GeeResult:
    """Fit the exchangeable logistic GEE. `alpha` fixes the working correlation instead of
    estimating it (used to compare with software whose moment estimator differs)."""
    X = cells.X
    K, p = cells.n_clusters, X.shape[1]
    if K < 2:
        raise DataError("GEE needs at least 2 clusters")
    # Under separation the estimating equations have no finite root: beta drifts until the correlation
    # estimate breaks down, which would be reported as something else.
    require_no_separation(X, cells.events, cells.trials, cells.names, "GEE")
    beta = np.zeros(p)
    a = 0.0 if alpha is None else float(alpha)
    if not -1.0 < a < 1.0:
        raise UsageError("alpha must lie strictly between -1 and 1")
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - reported after the loop
        pc = _Pieces(cells, beta, a)
        step = np.linalg.solve(pc.B.sum(axis=0), pc.U.sum(axis=0))
        beta = beta + step
        change = float(np.max(np.abs(step)))
        if alpha is None:
            new_a = _alpha_update(cells, _Pieces(cells, beta, a), a)
            change = max(change, abs(new_a - a))
            a = new_a
        if change < tol:
            break
    else:
        raise DataError(f"GEE did not converge in {max_iter} iterations")

    pc = _Pieces(cells, beta, a)
    B = pc.B.sum(axis=0)
    M = np.linalg.inv(B)
    U, Bi = pc.U, pc.B
    I_p = np.eye(p)
    meat = {name: np.zeros((p, p)) for name in ("sandwich", "kc", "md", "fg")}
    for i in range(K):
        u = U[i]
        u_md = np.linalg.solve(I_p - Bi[i] @ M, u)  # C'V^-1 (I - H_ii)^-1 r_i via Woodbury
        lev = np.diag(Bi[i] @ M)
        h = 1.0 / np.sqrt(1.0 - np.minimum(FG_BOUND, lev))
        meat["sandwich"] += np.outer(u, u)
        meat["md"] += np.outer(u_md, u_md)
        meat["kc"] += (np.outer(u_md, u) + np.outer(u, u_md)) / 2
        meat["fg"] += np.outer(h * u, h * u)
    cov: dict[str, FloatArray] = {"model": M}
    for name, mt in meat.items():
        cov[name] = M @ mt @ M.T
    df, rule, notes = t_degrees_of_freedom(K, p)
    return GeeResult(
        names=cells.names,
        params=beta,
        cov=cov,
        alpha=a,
        alpha_fixed=alpha is not None,
        n_clusters=K,
        n_obs=float(cells.trials.sum()),
        df=df,
        df_rule=rule,
        iterations=iterations,
        notes=notes,
    )


def gee_summary(result: GeeResult, term: str, level: float = 0.95) -> dict[str, object]:
    """A JSON-ready account of one coefficient under every variance estimator."""
    rows = {}
    for name in VARIANCES:
        c = result.coefficient(term, name, level)
        rows[name] = {
            "se": c.se,
            "t": c.statistic,
            "p_value": c.p_value,
            "ci_low": c.ci_low,
            "ci_high": c.ci_high,
        }
    est = float(result.params[result.names.index(term)])
    return {
        "model": "gee-exchangeable-logit",
        "term": term,
        "estimate": est,
        "odds_ratio": math.exp(est),
        "alpha": result.alpha,
        "alpha_fixed": result.alpha_fixed,
        "clusters": result.n_clusters,
        "observations": result.n_obs,
        "df": result.df,
        "df_rule": result.df_rule,
        "level": level,
        "variances": rows,
        "notes": list(result.notes),
    }
