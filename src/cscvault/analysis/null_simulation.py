"""Type I error of the headline test by simulation under the null, over re-randomised replications.

Each replication draws a new trial of the study's shape (its LAs as clusters, its periods, one step per
wedge, the real sample size) with no treatment effect (odds ratio 1): the simulator re-randomises which
cluster starts at which step and how large each cluster is, draws LA random intercepts and a secular
trend, and child covariates. The headline procedure is then applied exactly as on real data: the
logistic mixed model with a random intercept per LA, fitted by maximum likelihood (Laplace), and two tests
of the treatment term at the 5% level: the headline t test with between-within degrees of freedom
(`analysis/models/small_sample.py`) and the Wald z-test beside it. (On complete covariates the multiply
imputed headline reduces to this model: there is nothing to impute.) The share of replications that
reject is each test's type I error; the evaluator's R pipeline reported 0.0569 for the Wald z over 10,000
replications.

Replications are independent and seeded from one `SeedSequence`, so a run is reproducible whatever
the number of worker processes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from cscvault.analysis.models.glmm import fit_glmm_frame
from cscvault.analysis.simulate import SteppedWedgeSpec, simulate_stepped_wedge
from cscvault.errors import UsageError
from cscvault.study.model import Study

Progress = Callable[[int, int], None]  # (replications done, total)
COVARIATES = ("female", "age_band", "prev_cpp")


@dataclass(frozen=True)
class NullSimulationSpec:
    replications: int = 1000
    seed: int = 1
    children: int = 27_000
    baseline_risk: float = 0.06  # the primary outcome's control rate in the trial's baseline period
    cluster_sd: float = 0.3  # LA random-intercept SD on the log-odds scale
    alpha: float = 0.05

    def __post_init__(self) -> None:
        if self.replications < 1:
            raise UsageError("null simulation: --reps must be at least 1")
        if not 0 < self.alpha < 1:
            raise UsageError("null simulation: --alpha must lie strictly between 0 and 1")
        if self.seed < 0:
            raise UsageError("null simulation: --seed must not be negative")
        if self.cluster_sd < 0:
            raise UsageError("null simulation: --cluster-sd must not be negative")


@dataclass(frozen=True)
class RejectionRate:
    """How often one test rejected a true null."""

    test: str
    rejections: int
    replications: int
    type_i_error: float
    mc_se: float
    ci_low: float  # exact (Clopper-Pearson) 95% interval of the type I error
    ci_high: float

    @classmethod
    def of(cls, test: str, rejections: int, k: int) -> RejectionRate:
        rate = rejections / k
        low = float(stats.beta.ppf(0.025, rejections, k - rejections + 1)) if rejections else 0.0
        high = float(stats.beta.ppf(0.975, rejections + 1, k - rejections)) if rejections < k else 1.0
        return cls(test, rejections, k, rate, math.sqrt(rate * (1 - rate) / k), low, high)


@dataclass(frozen=True)
class NullSimulationResult:
    """The top-level rate fields are the Wald z-test's (as before the t test existed); `small_sample` is the
    headline t test's and `df` its degrees of freedom (the same in every replication of one design)."""

    spec: NullSimulationSpec
    n_clusters: int
    n_periods: int
    rejections: int
    not_converged: int
    type_i_error: float
    mc_se: float
    ci_low: float  # exact (Clopper-Pearson) 95% interval of the type I error
    ci_high: float
    seconds: float
    small_sample: RejectionRate | None = None
    df: float | None = None

    @property
    def wald_z(self) -> RejectionRate:
        k = self.spec.replications
        return RejectionRate("wald-z", self.rejections, k, self.type_i_error, self.mc_se, self.ci_low, self.ci_high)

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["spec"] = asdict(self.spec)
        out["procedure"] = (
            "glmm-laplace (LA random intercept, period factor): headline t test of the treatment term with "
            "between-within df, and its Wald z-test"
        )
        out["tests"] = [asdict(t) for t in (self.small_sample, self.wald_z) if t is not None]
        return out


def trial_spec(study: Study, spec: NullSimulationSpec) -> SteppedWedgeSpec:
    return SteppedWedgeSpec(
        n_clusters=len(study.local_authorities),
        n_periods=len(study.periods),
        n_children=spec.children,
        baseline_risk=spec.baseline_risk,
        log_or=0.0,
        cluster_sd=spec.cluster_sd,
        covariates=COVARIATES,
    )


def _replicate(args: tuple[SteppedWedgeSpec, int, float]) -> tuple[bool, bool, bool, float]:
    """(Wald z rejected, t rejected, converged, t df) for one replication."""
    trial_shape, seed, alpha = args
    trial = simulate_stepped_wedge(trial_shape, seed=seed)
    fit = fit_glmm_frame(
        trial.binomial(),
        events="events",
        trials="trials",
        treatment="treatment",
        period="period",
        cluster="cluster",
        covariates=list(COVARIATES),
    )
    small = fit.small_sample
    assert small is not None  # the design always has a single treatment column
    return fit.effect.p_value < alpha, small.p_value < alpha, fit.converged, small.df


def run_null_simulation(
    study: Study, spec: NullSimulationSpec, *, workers: int = 1, progress: Progress | None = None
) -> NullSimulationResult:
    if workers < 1:
        raise UsageError("null simulation: --workers must be at least 1")
    t0 = time.perf_counter()
    shape = trial_spec(study, spec)
    seeds = np.random.SeedSequence(spec.seed).generate_state(spec.replications, dtype=np.uint64)
    jobs = [(shape, int(s), spec.alpha) for s in seeds]
    outcomes: list[tuple[bool, bool, bool, float]] = []
    results: Iterator[tuple[bool, bool, bool, float]]
    if workers == 1:
        results = map(_replicate, jobs)
        pool = None
    else:
        pool = ProcessPoolExecutor(max_workers=workers)
        results = pool.map(_replicate, jobs, chunksize=8)
    try:
        for outcome in results:
            outcomes.append(outcome)
            if progress is not None:
                progress(len(outcomes), spec.replications)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    k = spec.replications
    z = RejectionRate.of("wald-z", sum(o[0] for o in outcomes), k)
    dfs = {o[3] for o in outcomes}
    return NullSimulationResult(
        spec=spec,
        n_clusters=shape.n_clusters,
        n_periods=shape.n_periods,
        rejections=z.rejections,
        not_converged=sum(not o[2] for o in outcomes),
        type_i_error=z.type_i_error,
        mc_se=z.mc_se,
        ci_low=z.ci_low,
        ci_high=z.ci_high,
        seconds=time.perf_counter() - t0,
        small_sample=RejectionRate.of("t-between-within", sum(o[1] for o in outcomes), k),
        df=dfs.pop() if len(dfs) == 1 else None,
    )
