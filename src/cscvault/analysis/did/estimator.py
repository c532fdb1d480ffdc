"""Callaway & Sant'Anna (2021) staggered difference-in-differences without covariates.

Group-time average treatment effects ATT(g,t) for a panel of units first treated in period g
(0 = never treated), compared with never-treated or not-yet-treated units, with the "varying" base
period of the R `did` package: post-treatment cells compare t with g-1, pre-treatment cells compare
t with t-1. Without covariates the outcome-regression, IPW and doubly robust estimators coincide, so
ATT(g,t) is a difference of mean changes.

Inference uses each estimate's influence function (one value per unit, scaled so that the estimate
minus the truth is about the unit mean of it). Aggregations (simple, dynamic, group, calendar) combine
influence functions and add the term for the estimated group-share weights, as `did::aggte` does.
Standard errors are analytic (root mean square of the influence function) or from a seeded multiplier
bootstrap over clusters (Rademacher weights, interquartile-range scale), also as in `did`.

Units missing an outcome in either period of a cell are left out of that cell only, which equals the
balanced-panel estimator when nothing is missing.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from cscvault.errors import DataError, UsageError

Control = Literal["nevertreated", "notyettreated"]
CONTROLS: tuple[str, ...] = ("nevertreated", "notyettreated")
FloatArray = NDArray[np.float64]

# The IQR of a standard normal: the bootstrap SE is a robust scale, IQR / this, as in did::mboot.
_NORMAL_IQR = float(stats.norm.ppf(0.75) - stats.norm.ppf(0.25))


@dataclass(frozen=True)
class Panel:
    """A unit-by-period outcome matrix and each unit's first treated period (0 = never)."""

    units: tuple[str, ...]
    times: tuple[int, ...]
    y: FloatArray  # shape (units, times); NaN where missing
    group: NDArray[np.int64]  # first treated period per unit, 0 = never treated
    cluster: NDArray[np.int64]  # cluster index per unit (default: the unit itself)
    dropped_already_treated: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return len(self.units)


@dataclass(frozen=True)
class Effect:
    """One estimate with its standard error and confidence interval."""

    label: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    group: int | None = None
    time: int | None = None
    event_time: int | None = None
    n_treated: int | None = None
    n_control: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Aggregate:
    """An aggregation: its overall effect and the effects it averages (by e, g or t)."""

    kind: str
    overall: Effect
    parts: tuple[Effect, ...]
    critical_value: float  # pointwise 1.96-type value, or the bootstrap sup-t value for bands
    overall_if: FloatArray = field(repr=False, compare=False, default_factory=lambda: np.zeros(0))


@dataclass(frozen=True)
class DidResult:
    """Group-time ATTs, their influence functions and the settings that produced them."""

    panel: Panel
    control: str
    cells: tuple[Effect, ...]
    influence: FloatArray = field(repr=False, compare=False)  # (units, cells)
    bootstrap_iterations: int
    seed: int
    alpha: float
    pretest_stat: float | None
    pretest_df: int
    pretest_p: float | None

    @property
    def att(self) -> FloatArray:
        return np.array([c.estimate for c in self.cells])

    @property
    def cell_groups(self) -> NDArray[np.int64]:
        return np.array([c.group for c in self.cells], dtype=np.int64)

    @property
    def cell_times(self) -> NDArray[np.int64]:
        return np.array([c.time for c in self.cells], dtype=np.int64)


# -- building the panel ------------------------------------------------------------------------------


def make_panel(
    data: pd.DataFrame,
    *,
    outcome: str,
    time: str,
    unit: str,
    group: str,
    cluster: str | None = None,
) -> Panel:
    """Check a long data frame and turn it into a `Panel`.

    `group` holds the first treated period; 0, empty or a period after the last one mean never treated.
    Units treated in or before the first period have no pre-period and are dropped (recorded), as in did.
    """
    for col in (outcome, time, unit, group) + ((cluster,) if cluster else ()):
        if col not in data.columns:
            raise UsageError(f"column '{col}' is not in the data (columns: {', '.join(map(str, data.columns))})")
    df = data[[c for c in dict.fromkeys((unit, time, outcome, group, cluster)) if c]].copy()
    y_num = pd.to_numeric(df[outcome], errors="coerce")
    bad_y = df[outcome].notna() & y_num.isna()
    if bad_y.any():
        raise DataError(f"column '{outcome}': {int(bad_y.sum())} non-numeric value(s), first at row {_row(bad_y)}")
    df[outcome] = y_num
    t_num = pd.to_numeric(df[time], errors="coerce")
    if t_num.isna().any() or (t_num != np.round(t_num)).any():
        raise DataError(f"column '{time}': periods must be whole numbers, first bad row {_row(t_num.isna())}")
    df[time] = t_num.astype(np.int64)
    g_num = pd.to_numeric(df[group], errors="coerce").fillna(0)
    if (g_num != np.round(g_num)).any() or (g_num < 0).any():
        raise DataError(f"column '{group}': first treated periods must be whole numbers >= 0 (0 = never)")
    df[group] = g_num.astype(np.int64)
    df[unit] = df[unit].astype(str)
    if df.duplicated([unit, time]).any():
        raise DataError(f"columns '{unit}', '{time}': more than one row for a unit and period")
    per_unit = df.groupby(unit)[group].nunique()
    if (per_unit > 1).any():
        raise DataError(f"column '{group}': the first treated period must be constant within each unit")

    times = tuple(int(t) for t in sorted(df[time].unique()))
    if len(times) < 2:
        raise DataError(f"column '{time}': at least two periods are needed")
    wide = df.pivot(index=unit, columns=time, values=outcome).reindex(columns=list(times))
    groups = df.groupby(unit)[group].first().reindex(wide.index).to_numpy(dtype=np.int64)
    groups = np.where(groups > times[-1], 0, groups)  # treated after the panel ends = never treated here
    early = (groups > 0) & (groups <= times[0])
    dropped = tuple(str(u) for u in wide.index[early])
    keep = ~early
    units = tuple(str(u) for u in wide.index[keep])
    if cluster:
        if df[cluster].isna().any():
            raise DataError(f"column '{cluster}': missing cluster, first at row {_row(df[cluster].isna())}")
        cl = df.groupby(unit)[cluster].nunique()
        if (cl > 1).any():
            raise DataError(f"column '{cluster}': clusters must contain whole units")
        cl_codes = pd.factorize(df.groupby(unit)[cluster].first().reindex(wide.index)[keep])[0]
    else:
        cl_codes = np.arange(int(keep.sum()))
    return Panel(
        units=units,
        times=times,
        y=wide.to_numpy(dtype=np.float64)[keep],
        group=groups[keep],
        cluster=np.asarray(cl_codes, dtype=np.int64),
        dropped_already_treated=dropped,
    )


def _row(mask: pd.Series) -> int:
    """1-based data row (after the header) of the first True in `mask`."""
    return int(np.flatnonzero(mask.to_numpy())[0]) + 1


# -- group-time ATTs ---------------------------------------------------------------------------------


def att_gt(
    panel: Panel,
    *,
    control: str = "nevertreated",
    bootstrap_iterations: int = 999,
    seed: int = 20210201,
    alpha: float = 0.05,
) -> DidResult:
    """Estimate every ATT(g,t) with its influence function; SEs from the bootstrap if iterations > 0."""
    if control not in CONTROLS:
        raise UsageError(f"--control must be one of {', '.join(CONTROLS)}, not '{control}'")
    if not 0 < alpha < 1:
        raise UsageError("alpha must be between 0 and 1")
    glist = sorted(int(g) for g in np.unique(panel.group) if g > 0)
    if not glist:
        raise DataError("no treated units: every unit's first treated period is 0 or after the last period")
    if control == "nevertreated" and not (panel.group == 0).any():
        raise DataError("no never-treated units: use --control notyettreated")
    times = panel.times
    n = panel.n
    cells: list[tuple[int, int, float, int, int]] = []
    ifs: list[FloatArray] = []
    for g in glist:
        before_g = [i for i, t in enumerate(times) if t < g]
        if not before_g:
            continue
        base_post = before_g[-1]
        for ti in range(1, len(times)):
            t = times[ti]
            base = ti - 1 if t < g else base_post
            est = _two_by_two(panel, g, ti, base, control)
            if est is None:
                continue
            att_value, inf, n_treat, n_ctrl = est
            cells.append((g, t, att_value, n_treat, n_ctrl))
            ifs.append(inf)
    if not cells:
        raise DataError("no group-time effect could be estimated (no treated and control units share two periods)")
    influence = np.column_stack(ifs)
    att = np.array([c[2] for c in cells])
    se, crit = _standard_errors(influence, panel, bootstrap_iterations, seed, alpha, uniform=False)
    effects = tuple(
        _effect(f"ATT({g},{t})", a, s, crit, group=g, time=t, n_treated=nt, n_control=nc)
        for (g, t, a, nt, nc), s in zip(cells, se, strict=True)
    )
    stat, df_, p = _pretest(att, influence, np.array([c[0] for c in cells]), np.array([c[1] for c in cells]), n)
    return DidResult(
        panel=panel,
        control=control,
        cells=effects,
        influence=influence,
        bootstrap_iterations=bootstrap_iterations,
        seed=seed,
        alpha=alpha,
        pretest_stat=stat,
        pretest_df=df_,
        pretest_p=p,
    )


def _two_by_two(panel: Panel, g: int, ti: int, base: int, control: str) -> tuple[float, FloatArray, int, int] | None:
    t = panel.times[ti]
    treated = panel.group == g
    if control == "nevertreated":
        ctrl = panel.group == 0
    else:  # not yet treated by period t (the later of t and the base period)
        ctrl = (panel.group == 0) | ((panel.group > t) & (panel.group != g))
    dy = panel.y[:, ti] - panel.y[:, base]
    ok = ~np.isnan(dy)
    treated &= ok
    ctrl &= ok
    n_t, n_c = int(treated.sum()), int(ctrl.sum())
    if n_t == 0 or n_c == 0:
        return None
    mu1 = float(dy[treated].mean())
    mu0 = float(dy[ctrl].mean())
    inf = np.zeros(panel.n)
    inf[treated] = panel.n * (dy[treated] - mu1) / n_t
    inf[ctrl] = -panel.n * (dy[ctrl] - mu0) / n_c
    return mu1 - mu0, inf, n_t, n_c


def _pretest(
    att: FloatArray, influence: FloatArray, groups: NDArray[np.int64], times: NDArray[np.int64], n: int
) -> tuple[float | None, int, float | None]:
    """Wald test that every pre-treatment ATT(g,t) is zero, with the analytic covariance (as in did)."""
    pre = np.flatnonzero(groups > times)
    v = influence[:, pre].T @ influence[:, pre] / n
    keep = pre[np.diag(v) > 1e-12 * max(1.0, float(np.max(np.diag(v), initial=0.0)))]
    if keep.size == 0:
        return None, 0, None
    v = influence[:, keep].T @ influence[:, keep] / n
    a = att[keep]
    stat = float(n * a @ np.linalg.pinv(v) @ a)
    df_ = int(keep.size)
    return stat, df_, float(stats.chi2.sf(stat, df_))


# -- standard errors ---------------------------------------------------------------------------------


def _standard_errors(
    influence: FloatArray, panel: Panel, iterations: int, seed: int, alpha: float, *, uniform: bool
) -> tuple[FloatArray, float]:
    """SE per column of `influence`, and the critical value (sup-t over columns if `uniform`)."""
    n = panel.n
    analytic = np.sqrt(np.sum(influence**2, axis=0)) / n
    z = _normal_quantile(1 - alpha / 2)
    if iterations <= 0:
        return analytic, z
    draws = multiplier_bootstrap(influence, panel.cluster, iterations, seed)
    q75, q25 = np.quantile(draws, [0.75, 0.25], axis=0, method="inverted_cdf")
    scale = (q75 - q25) / _NORMAL_IQR
    n_clusters = int(panel.cluster.max()) + 1
    se = scale / np.sqrt(n_clusters)
    # Columns without variation (e.g. one treated unit and identical controls) keep the analytic value.
    tiny = scale <= 1e-10 * np.abs(draws).max(axis=0)
    se = np.where(tiny, analytic, se)
    if not uniform or influence.shape[1] == 1:
        return se, z
    with np.errstate(divide="ignore", invalid="ignore"):
        t_max = np.nanmax(np.abs(draws[:, ~tiny] / scale[~tiny]), axis=1) if (~tiny).any() else None
    if t_max is None:
        return se, z
    return se, float(np.quantile(t_max, 1 - alpha, method="inverted_cdf"))


@functools.lru_cache(maxsize=16)
def _normal_quantile(q: float) -> float:
    return float(stats.norm.ppf(q))


def multiplier_bootstrap(influence: FloatArray, cluster: NDArray[np.int64], iterations: int, seed: int) -> FloatArray:
    """Draws of sqrt(C) x mean over clusters of (Rademacher weight x cluster-mean influence)."""
    n_clusters = int(cluster.max()) + 1
    counts = np.bincount(cluster, minlength=n_clusters).astype(float)
    sums = np.zeros((n_clusters, influence.shape[1]))
    np.add.at(sums, cluster, influence)
    cluster_mean = sums / counts[:, None]
    rng = np.random.default_rng(seed)
    weights = rng.choice(np.array([-1.0, 1.0]), size=(iterations, n_clusters))
    draws: FloatArray = np.sqrt(n_clusters) * (weights @ cluster_mean) / n_clusters
    return draws


def _effect(label: str, est: float, se: float, crit: float, **extra: int | None) -> Effect:
    se_f = float(se)
    ok = np.isfinite(se_f) and se_f > 0
    # Two-sided normal p-value; erfc is exact here and far cheaper than scipy's distribution machinery.
    p = math.erfc(abs(est) / se_f / math.sqrt(2.0)) if ok else float("nan")
    return Effect(
        label=label,
        estimate=float(est),
        se=se_f,
        ci_low=float(est - crit * se_f),
        ci_high=float(est + crit * se_f),
        p_value=p,
        **extra,  # type: ignore[arg-type]
    )


# -- aggregations ------------------------------------------------------------------------------------


def _group_shares(result: DidResult) -> dict[int, float]:
    g = result.panel.group
    return {int(k): float(np.mean(g == k)) for k in np.unique(g) if k > 0}


def _weight_if(
    keepers: NDArray[np.int64], pg: FloatArray, unit_group: NDArray[np.int64], cell_group: NDArray[np.int64]
) -> FloatArray:
    """Influence of estimating the weights P(G=g) / sum P(G=g) (did's `wif`)."""
    total = pg[keepers].sum()
    ind = np.column_stack([(unit_group == cell_group[k]).astype(float) - pg[k] for k in keepers])
    if1 = ind / total
    if2 = ind.sum(axis=1, keepdims=True) * (pg[keepers] / total**2)[None, :]
    return np.asarray(if1 - if2)


def _weighted(
    att: FloatArray,
    influence: FloatArray,
    keepers: NDArray[np.int64],
    pg: FloatArray,
    unit_group: NDArray[np.int64],
    cell_group: NDArray[np.int64],
    *,
    estimated_weights: bool = True,
) -> tuple[float, FloatArray]:
    w = pg[keepers] / pg[keepers].sum()
    est = float(att[keepers] @ w)
    inf = influence[:, keepers] @ w
    if estimated_weights:
        inf = inf + _weight_if(keepers, pg, unit_group, cell_group) @ att[keepers]
    return est, inf


def aggregate(result: DidResult, kind: str, *, balance_e: int | None = None) -> Aggregate:
    """Aggregate ATT(g,t) as did::aggte: kind is simple, dynamic, group or calendar."""
    att = result.att
    cg = result.cell_groups
    ct = result.cell_times
    shares = _group_shares(result)
    pg = np.array([shares[int(g)] for g in cg])
    ug = result.panel.group
    parts: list[tuple[str, float, FloatArray, dict[str, int]]] = []
    if kind == "simple":
        keep = np.flatnonzero(cg <= ct)
        est, inf = _weighted(att, result.influence, keep, pg, ug, cg)
        return _finish(result, kind, (f"{kind}", est, inf), parts)
    if kind == "dynamic":
        e_all = ct - cg
        include = np.ones(len(att), dtype=bool)
        if balance_e is not None:
            t_max, t_min = max(result.panel.times), min(result.panel.times)
            include = (t_max - cg) >= balance_e
            include &= (e_all <= balance_e) & (e_all >= balance_e - t_max + t_min)
        for e in sorted(set(e_all[include].tolist())):
            whose = np.flatnonzero((e_all == e) & include)
            est_e, inf_e = _weighted(att, result.influence, whose, pg, ug, cg)
            parts.append((f"e={e}", est_e, inf_e, {"event_time": int(e)}))
        post = [p for p in parts if p[3]["event_time"] >= 0]
        if not post:
            raise DataError("no post-treatment group-time effects to aggregate")
        est = float(np.mean([p[1] for p in post]))
        inf = np.mean(np.column_stack([p[2] for p in post]), axis=1)
        return _finish(result, kind, ("dynamic", est, inf), parts)
    if kind == "group":
        glist = sorted(set(cg.tolist()))
        g_est, g_inf, g_used = [], [], []
        for g in glist:
            whose = np.flatnonzero((cg == g) & (ct >= g))
            if whose.size == 0:
                continue
            est_g, inf_g = _weighted(att, result.influence, whose, pg, ug, cg, estimated_weights=False)
            parts.append((f"g={g}", est_g, inf_g, {"group": int(g)}))
            g_est.append(est_g)
            g_inf.append(inf_g)
            g_used.append(g)
        if not g_used:
            raise DataError("no post-treatment group-time effects to aggregate")
        pgg = np.array([shares[g] for g in g_used])
        est, inf = _weighted(np.array(g_est), np.column_stack(g_inf), np.arange(len(g_used)), pgg, ug, np.array(g_used))
        return _finish(result, kind, ("group", est, inf), parts)
    if kind == "calendar":
        for t in sorted(set(ct[ct >= cg.min()].tolist())):
            whose = np.flatnonzero((ct == t) & (cg <= ct))
            if whose.size == 0:
                continue
            est_t, inf_t = _weighted(att, result.influence, whose, pg, ug, cg)
            parts.append((f"t={t}", est_t, inf_t, {"time": int(t)}))
        if not parts:
            raise DataError("no post-treatment group-time effects to aggregate")
        est = float(np.mean([p[1] for p in parts]))
        inf = np.mean(np.column_stack([p[2] for p in parts]), axis=1)
        return _finish(result, kind, ("calendar", est, inf), parts)
    raise UsageError(f"unknown aggregation '{kind}' (use simple, dynamic, group or calendar)")


def _finish(
    result: DidResult,
    kind: str,
    overall: tuple[str, float, FloatArray],
    parts: list[tuple[str, float, FloatArray, dict[str, int]]],
) -> Aggregate:
    it, seed, alpha, panel = result.bootstrap_iterations, result.seed, result.alpha, result.panel
    se_o, crit_o = _standard_errors(overall[2][:, None], panel, it, seed, alpha, uniform=False)
    overall_eff = _effect(overall[0], overall[1], float(se_o[0]), crit_o)
    if not parts:
        return Aggregate(kind, overall_eff, (), crit_o, overall[2])
    inf = np.column_stack([p[2] for p in parts])
    se, crit = _standard_errors(inf, panel, it, seed, alpha, uniform=kind == "dynamic")
    effects = tuple(_effect(label, est, s, crit, **extra) for (label, est, _, extra), s in zip(parts, se, strict=True))
    return Aggregate(kind, overall_eff, effects, crit, overall[2])


AGGREGATIONS: tuple[str, ...] = ("simple", "dynamic", "group", "calendar")


def estimate(
    data: pd.DataFrame,
    *,
    outcome: str,
    time: str,
    unit: str,
    group: str,
    control: str = "nevertreated",
    cluster: str | None = None,
    bootstrap_iterations: int = 999,
    seed: int = 20210201,
    alpha: float = 0.05,
) -> tuple[DidResult, dict[str, Aggregate]]:
    """Group-time ATTs and all four aggregations for a long panel."""
    panel = make_panel(data, outcome=outcome, time=time, unit=unit, group=group, cluster=cluster)
    res = att_gt(panel, control=control, bootstrap_iterations=bootstrap_iterations, seed=seed, alpha=alpha)
    return res, {k: aggregate(res, k) for k in AGGREGATIONS}


def json_safe(value: Any) -> Any:
    """Plain JSON values: NaN and infinities become null, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def to_json(result: DidResult, aggregates: dict[str, Aggregate]) -> Any:
    """A JSON-ready summary (what `cscvault model did --json` prints)."""
    inference = (
        f"multiplier bootstrap, {result.bootstrap_iterations} iterations, seed {result.seed}"
        if result.bootstrap_iterations > 0
        else "analytic (influence function)"
    )
    return json_safe(
        {
            "estimator": "Callaway-Sant'Anna ATT(g,t), unconditional (no covariates), varying base period",
            "control_group": result.control,
            "inference": inference,
            "alpha": result.alpha,
            "n_units": result.panel.n,
            "n_clusters": int(result.panel.cluster.max()) + 1,
            "periods": list(result.panel.times),
            "dropped_units_treated_in_first_period": len(result.panel.dropped_already_treated),
            "group_time": [c.as_dict() for c in result.cells],
            "pretest": {
                "statistic": result.pretest_stat,
                "df": result.pretest_df,
                "p_value": result.pretest_p,
            },
            "aggregations": {
                k: {
                    "overall": a.overall.as_dict(),
                    "critical_value": a.critical_value,
                    "parts": [p.as_dict() for p in a.parts],
                }
                for k, a in aggregates.items()
            },
        }
    )
