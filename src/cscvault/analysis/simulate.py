"""Analysis-ready stepped-wedge datasets with known truth, for checking the models.

Each cluster switches from control to treatment at the start of its step; the step order is a
random permutation (seeded). Outcomes follow the Hussey & Hughes logistic model with optional child
covariates, a cluster random intercept and a cluster-period random effect. The treatment effect is
immediate and constant (`log_or`) unless `exposure_log_ors` makes it depend on exposure time (periods
since the cluster's first treated period), the case in which the immediate-effect model is biased
(Kenny et al. 2022). The generated data are child rows (one 0/1 outcome each) or, summed, binomial
rows; `truth` records every parameter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cscvault.errors import UsageError

# Child covariates the simulator can add: (name, generator, default log-odds effect).
COVARIATE_EFFECTS: dict[str, float] = {"female": -0.10, "age_band": -0.15, "prev_cpp": 0.60}


@dataclass(frozen=True)
class SteppedWedgeSpec:
    """Design and true parameters of a simulated stepped-wedge trial."""

    n_clusters: int = 5
    n_periods: int = 6  # period 1 is all-control; clusters start in periods 2..n_periods
    n_children: int = 27_000
    baseline_risk: float = 0.10  # control risk in period 1 for a child with all covariates 0
    log_or: float = math.log(0.85)
    period_trend: float = 0.05  # log-odds change per period (secular trend)
    cluster_sd: float = 0.20
    cluster_period_sd: float = 0.0
    covariates: tuple[str, ...] = ("female", "age_band", "prev_cpp")
    cluster_size_spread: float = 0.5  # 0 = equal sizes; larger = more unequal (lognormal sd)
    # Log-OR at exposure 1, 2, ... (1 = the cluster's first treated period); exposures past the end of
    # the tuple keep its last value. None: the immediate, constant effect `log_or`.
    exposure_log_ors: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.n_clusters < 2 or self.n_periods < 2:
            raise UsageError("a stepped-wedge simulation needs at least 2 clusters and 2 periods")
        if not 0 < self.baseline_risk < 1:
            raise UsageError("baseline_risk must lie strictly between 0 and 1")
        unknown = set(self.covariates) - set(COVARIATE_EFFECTS)
        if unknown:
            raise UsageError(f"unknown simulated covariate {sorted(unknown)[0]!r}")
        if self.n_children < self.n_clusters * self.n_periods:
            raise UsageError("n_children must be at least one per cluster-period")
        if self.exposure_log_ors is not None and (
            len(self.exposure_log_ors) == 0 or not all(math.isfinite(v) for v in self.exposure_log_ors)
        ):
            raise UsageError("exposure_log_ors must be a non-empty tuple of finite log odds ratios")

    def effect_at(self, exposure: int) -> float:
        """The true treatment log-OR at an exposure time (1 = first treated period)."""
        if self.exposure_log_ors is None:
            return self.log_or
        return self.exposure_log_ors[min(exposure, len(self.exposure_log_ors)) - 1]


@dataclass(frozen=True)
class SimulatedTrial:
    children: pd.DataFrame  # cluster, period, treatment, covariates..., outcome
    truth: dict[str, Any] = field(default_factory=dict)

    def binomial(self) -> pd.DataFrame:
        """The same data summed to binomial rows (exact for the logistic likelihood)."""
        return aggregate(self.children, covariates=self.truth["covariates"])


def step_starts(n_clusters: int, n_periods: int, order: Sequence[int] | np.ndarray) -> np.ndarray:
    """First treated period (1-based) of each cluster: steps spread evenly over periods 2..n_periods."""
    n_steps = n_periods - 1
    start_by_rank = np.array([2 + (r * n_steps) // n_clusters for r in range(n_clusters)])
    starts = np.empty(n_clusters, dtype=np.int64)
    starts[np.asarray(order)] = start_by_rank
    return starts


def simulate_stepped_wedge(spec: SteppedWedgeSpec, seed: int) -> SimulatedTrial:
    """Draw one trial. Memory is about 10 bytes per child (int8/int16 columns)."""
    rng = np.random.default_rng(seed)
    c, t = spec.n_clusters, spec.n_periods
    order = rng.permutation(c)
    starts = step_starts(c, t, order)
    sizes = np.exp(rng.normal(0.0, spec.cluster_size_spread, c))
    share = sizes / sizes.sum()
    cluster_effect = rng.normal(0.0, spec.cluster_sd, c)
    cell_effect = rng.normal(0.0, spec.cluster_period_sd, (c, t)) if spec.cluster_period_sd > 0 else np.zeros((c, t))
    intercept = math.log(spec.baseline_risk / (1 - spec.baseline_risk))
    period_effects = spec.period_trend * np.arange(t)

    # Every cluster-period gets at least one child so the design is complete.
    n = spec.n_children
    cell_p = np.repeat(share / t, t)
    counts = 1 + rng.multinomial(n - c * t, cell_p)
    cell_index = np.repeat(np.arange(c * t), counts)
    cluster = (cell_index // t).astype(np.int16)
    period = (cell_index % t + 1).astype(np.int16)
    treatment = (period >= starts[cluster]).astype(np.int8)

    # Drawing no random numbers here keeps every seed's data unchanged by the exposure option.
    n_exposures = t - int(starts.min()) + 1  # the longest exposure any cluster reaches
    effect_by_exposure = np.array([0.0, *(spec.effect_at(k) for k in range(1, n_exposures + 1))])
    if spec.exposure_log_ors is None:
        eta = intercept + period_effects[period - 1] + spec.log_or * treatment
    else:
        exposure = np.where(treatment == 1, period - starts[cluster] + 1, 0)
        eta = intercept + period_effects[period - 1] + effect_by_exposure[exposure]
        del exposure
    eta = eta + cluster_effect[cluster] + cell_effect[cluster, period - 1]
    cols: dict[str, np.ndarray] = {}
    if "female" in spec.covariates:
        cols["female"] = (rng.random(n) < 0.5).astype(np.int8)
    if "age_band" in spec.covariates:
        cols["age_band"] = rng.choice(5, size=n, p=[0.25, 0.2, 0.2, 0.2, 0.15]).astype(np.int8)
    if "prev_cpp" in spec.covariates:
        cols["prev_cpp"] = (rng.random(n) < 0.15).astype(np.int8)
    for name, values in cols.items():
        eta = eta + COVARIATE_EFFECTS[name] * values
    outcome = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(np.int8)
    del eta

    labels = np.array([f"C{i + 1:03d}" for i in range(c)])
    children = pd.DataFrame(
        {
            "cluster": pd.Categorical.from_codes(cluster, categories=labels),
            "period": period,
            "treatment": treatment,
            **cols,
            "outcome": outcome,
        }
    )
    exposure_truth = {str(k): float(effect_by_exposure[k]) for k in range(1, n_exposures + 1)}
    # The time-averaged effect over the exposure times the design observes (Kenny et al.'s TATE).
    averaged = float(np.mean(effect_by_exposure[1:]))
    log_or = spec.log_or if spec.exposure_log_ors is None else averaged
    truth = {
        "seed": seed,
        "spec": asdict(spec),
        "log_or": log_or,  # with an exposure-time effect: the time-averaged one
        "odds_ratio": math.exp(log_or),
        "exposure_log_ors": exposure_truth,
        "time_averaged_log_or": averaged,
        "intercept": intercept,
        "period_effects": {str(p + 1): float(period_effects[p] - period_effects[0]) for p in range(1, t)},
        "covariates": list(spec.covariates),
        "covariate_effects": {k: COVARIATE_EFFECTS[k] for k in spec.covariates},
        "cluster_sd": spec.cluster_sd,
        "cluster_period_sd": spec.cluster_period_sd,
        "cluster_effects": {str(labels[i]): float(cluster_effect[i]) for i in range(c)},
        "step_start": {str(labels[i]): int(starts[i]) for i in range(c)},
    }
    return SimulatedTrial(children=children, truth=truth)


def aggregate(children: pd.DataFrame, covariates: Sequence[str] = (), outcome: str = "outcome") -> pd.DataFrame:
    """Sum child rows to binomial rows (events, trials) per cluster, period, treatment and covariates."""
    keys = ["cluster", "period", "treatment", *covariates]
    grouped = children.groupby(keys, observed=True, sort=True)[outcome].agg(events="sum", trials="size")
    out = grouped.reset_index()
    out["cluster"] = out["cluster"].astype(str)
    return out
