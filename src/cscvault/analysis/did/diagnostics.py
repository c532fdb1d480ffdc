"""Checks on the staggered DiD: pre-trends, placebo in time and placebo in space.

With five treated authorities in groups of one or two, influence-function and bootstrap standard errors
see almost none of the treated authorities' own year-to-year noise, so they understate uncertainty.
Placebo in space (the real go-live years given to randomly drawn comparison authorities) measures that
noise directly; its spread gives a permutation p-value and interval for the real estimate, and a
permutation pre-trend test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from cscvault.analysis.did.estimator import (
    AGGREGATIONS,
    Aggregate,
    DidResult,
    Panel,
    aggregate,
    att_gt,
    make_panel,
)
from cscvault.errors import DataError

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class PlaceboInSpace:
    """Estimates from `draws` placebo assignments of the real go-live years to comparison units."""

    draws: int
    seed: int
    overall: FloatArray  # simple ATT per draw
    dynamic: dict[int, FloatArray]  # event time -> estimates per draw
    pre_stat: FloatArray  # sum of squared pre-period event-study estimates per draw

    def p_value(self, estimate: float) -> float:
        """Two-sided permutation p-value of the real overall ATT (with the +1 correction)."""
        return float((1 + np.sum(np.abs(self.overall) >= abs(estimate))) / (self.draws + 1))

    def interval(self, estimate: float, alpha: float = 0.05) -> tuple[float, float]:
        """Estimate minus the placebo quantiles: an interval that carries the treated units' own noise."""
        lo, hi = np.quantile(self.overall, [alpha / 2, 1 - alpha / 2])
        return float(estimate - hi), float(estimate - lo)

    def band(self, e: int, estimate: float, alpha: float = 0.05) -> tuple[float, float]:
        lo, hi = np.quantile(self.dynamic[e], [alpha / 2, 1 - alpha / 2])
        return float(estimate - hi), float(estimate - lo)

    def pretrend_p(self, observed: float) -> float:
        return float((1 + np.sum(self.pre_stat >= observed)) / (self.draws + 1))


def pre_stat(dynamic: Aggregate) -> float:
    """Sum of squared pre-treatment event-study effects (e < -1 are informative; e = -1 included)."""
    return float(sum(p.estimate**2 for p in dynamic.parts if p.event_time is not None and p.event_time < 0))


def point_estimates(panel: Panel, *, control: str = "nevertreated") -> tuple[float, dict[int, float]]:
    """The simple ATT and the event-study effects without influence functions (for many placebo draws).

    Same cells, weights and availability rules as `att_gt` + `aggregate`; a test checks they agree.
    """
    times = panel.times
    shares = {int(g): float(np.mean(panel.group == g)) for g in np.unique(panel.group) if g > 0}
    num: dict[int, float] = {}
    den: dict[int, float] = {}
    s_num = s_den = 0.0
    for g, pg in shares.items():
        before = [i for i, t in enumerate(times) if t < g]
        if not before:
            continue
        treated_all = panel.group == g
        for ti in range(1, len(times)):
            t = times[ti]
            base = ti - 1 if t < g else before[-1]
            if control == "nevertreated":
                ctrl = panel.group == 0
            else:
                ctrl = (panel.group == 0) | ((panel.group > t) & (panel.group != g))
            dy = panel.y[:, ti] - panel.y[:, base]
            ok = ~np.isnan(dy)
            tr, ct = treated_all & ok, ctrl & ok
            if not tr.any() or not ct.any():
                continue
            att = float(dy[tr].mean() - dy[ct].mean())
            e = t - g
            num[e] = num.get(e, 0.0) + pg * att
            den[e] = den.get(e, 0.0) + pg
            if t >= g:
                s_num += pg * att
                s_den += pg
    if s_den == 0:
        raise DataError("no post-treatment group-time effects to aggregate")
    return s_num / s_den, {e: num[e] / den[e] for e in sorted(num)}


def placebo_in_space(
    panel: Panel, *, control: str = "nevertreated", draws: int = 499, seed: int = 20200901
) -> PlaceboInSpace:
    """Give the treated units' go-live periods to random never-treated units, drop the real treated."""
    treated_groups = panel.group[panel.group > 0]
    pool = np.flatnonzero(panel.group == 0)
    if pool.size < treated_groups.size + 2:
        raise DataError("too few never-treated units for placebo-in-space draws")
    y = panel.y[pool]
    rng = np.random.default_rng(seed)
    overall = np.empty(draws)
    dyn: dict[int, list[float]] = {}
    pre = np.empty(draws)
    for d in range(draws):
        fake = np.zeros(pool.size, dtype=np.int64)
        fake[rng.choice(pool.size, size=treated_groups.size, replace=False)] = treated_groups
        sub = Panel(
            units=tuple(panel.units[i] for i in pool),
            times=panel.times,
            y=y,
            group=fake,
            cluster=np.arange(pool.size, dtype=np.int64),
        )
        overall[d], by_e = point_estimates(sub, control=control)
        for e, value in by_e.items():
            dyn.setdefault(e, []).append(value)
        pre[d] = float(sum(v**2 for e, v in by_e.items() if e < 0))
    return PlaceboInSpace(draws, seed, overall, {e: np.array(v) for e, v in dyn.items()}, pre)


@dataclass(frozen=True)
class PlaceboInTime:
    shift: int
    last_year: int
    fake_groups: tuple[int, ...]
    result: DidResult
    aggregates: dict[str, Aggregate]
    space: PlaceboInSpace | None


def placebo_in_time(
    data: pd.DataFrame,
    *,
    shift: int,
    last_year: int,
    control: str = "nevertreated",
    bootstrap_iterations: int = 999,
    seed: int = 20210201,
    space_draws: int = 0,
) -> PlaceboInTime:
    """Move every go-live `shift` years earlier and keep only years up to `last_year`.

    `data` has columns la_code, year, y, group (as `analysis_panel` builds it). Every year kept precedes
    the real go-live years, so any estimate is a false positive.
    """
    real_first = int(data.loc[data["group"] > 0, "group"].min())
    if last_year >= real_first:
        raise DataError(f"placebo in time: last year {last_year} must precede the first real go-live year {real_first}")
    fake = data[data["year"] <= last_year].copy()
    fake["group"] = np.where(fake["group"] > 0, fake["group"] - shift, 0)
    if (fake.loc[fake["group"] > 0, "group"] > last_year).any():
        raise DataError(f"placebo in time: a shift of {shift} leaves a fake go-live after {last_year}")
    panel = make_panel(fake, outcome="y", time="year", unit="la_code", group="group")
    res = att_gt(panel, control=control, bootstrap_iterations=bootstrap_iterations, seed=seed)
    aggs = {k: aggregate(res, k) for k in AGGREGATIONS}
    space = placebo_in_space(panel, control=control, draws=space_draws, seed=seed) if space_draws > 0 else None
    groups = tuple(sorted({int(g) for g in panel.group if g > 0}))
    return PlaceboInTime(shift, last_year, groups, res, aggs, space)
