"""Logistic mixed models fitted by maximum likelihood (Laplace or adaptive Gauss-Hermite quadrature).

The model is Hussey & Hughes' form, `logit P(y=1) = x'beta + sigma_c u_cluster [+ sigma_cp v_cell]`,
with u, v ~ N(0, 1). Two optimisers fit it from different starting points (L-BFGS-B on log sigma, and
scipy's exact trust-region Newton on sigma itself, unconstrained because the likelihood is even in each
sigma); the fit reports whether they agree. Standard errors come, as in lme4's default `vcov()` for
`glmer`, from the inverse of the observed information over (sigma, beta) jointly, so they carry the
uncertainty of the variance component; lme4 differences the deviance numerically, here the gradient
(analytic except for nested quadrature) is differenced.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize, stats
from threadpoolctl import ThreadpoolController

from cscvault.analysis.models.design_matrix import Design, build_design
from cscvault.analysis.models.diagnostics import (
    Vif,
    cluster_autocorrelation,
    latent_icc,
    term_vifs,
)
from cscvault.analysis.models.likelihood import (
    NestedLaplaceLikelihood,
    NestedQuadratureLikelihood,
    RandomInterceptLikelihood,
)
from cscvault.analysis.models.small_sample import SmallSampleTest, between_within_df, t_test
from cscvault.analysis.models.spec import ModelSpec
from cscvault.errors import DataError, UsageError

FloatArray = NDArray[np.float64]
RandomEffects = Literal["cluster", "cluster-period"]

Z_975 = float(stats.norm.ppf(0.975))
# Optimisers "agree" when every parameter (beta and sigma) matches to this absolute tolerance; at the
# optimum the parameters' SEs are ~1e-2 or larger, so 1e-4 is far below any reported digit.
AGREEMENT_TOL = 1e-4
# A run has converged when the Newton step still to go, H^-1 g, is below this in every parameter.
CONVERGENCE_TOL = 1e-5
# Nested quadrature evaluates rows x K x K points; beyond this it is slow and no more accurate.
MAX_NESTED_NAGQ = 25
# lme4's isSingular() tolerance on theta (= sigma here).
SINGULAR_TOL = 1e-4
# Model-name suffix of the results row carrying the small-sample (t, between-within df) headline test.
T_MODEL_SUFFIX = "-t-bw"


class _Likelihood(Protocol):
    n_params: int

    def value_and_grad(self, theta: FloatArray, need_grad: bool = True) -> tuple[float, FloatArray]: ...


@dataclass(frozen=True)
class TermEstimate:
    """One fixed effect: log-odds, Wald SE, odds ratio and Wald 95% CI (both scales), z and p."""

    term: str
    estimate: float
    se: float
    odds_ratio: float
    ci_low: float  # odds-ratio scale
    ci_high: float
    log_ci_low: float  # log-odds scale
    log_ci_high: float
    z: float
    p_value: float


@dataclass(frozen=True)
class OptimiserRun:
    method: str
    converged: bool
    loglik: float
    params: tuple[float, ...]  # beta..., |sigma|...
    step_to_optimum: float  # max |H^-1 g|: how far Newton says the optimum still is
    iterations: int
    message: str


@dataclass(frozen=True)
class GlmmFit:
    """A fitted logistic mixed model."""

    treatment: str
    terms: tuple[TermEstimate, ...]
    random_effects: str
    nagq: int
    re_sd: Mapping[str, float]
    re_var: Mapping[str, float]
    icc: float  # latent scale: all random-effect variance over it plus pi^2/3
    icc_between_period: float  # same cluster, different periods (equals icc without a period effect)
    cluster_autocorrelation: float
    singular: bool
    loglik: float
    aic: float
    n: int  # children (Bernoulli trials)
    n_events: int
    n_clusters: int
    n_cells: int
    n_rows_fitted: int  # binomial rows after collapsing to unique patterns
    optimisers: tuple[OptimiserRun, ...]
    optimisers_agree: bool
    max_param_difference: float
    converged: bool
    se_method: str
    vif: tuple[Vif, ...]
    cov: FloatArray = field(repr=False, compare=False)
    # The headline test of the treatment term: t with between-within df (the Wald z is in `terms`).
    small_sample: SmallSampleTest | None = None

    def term(self, name: str) -> TermEstimate:
        for t in self.terms:
            if t.term == name:
                return t
        raise KeyError(name)

    @property
    def effect(self) -> TermEstimate:
        """The treatment term."""
        return self.term(self.treatment)

    def result_rows(self, *, analysis: str, outcome: str, sample: str, model: str) -> list[dict[str, Any]]:
        """One `results.json` row per fixed effect (odds-ratio-scale Wald CI), treatment term first, then
        the treatment term's small-sample t test as model `<model>-t-bw` (same estimate and SE)."""
        ordered = [self.effect, *(t for t in self.terms if t.term != self.treatment)]
        extra = [] if self.small_sample is None else [self.small_sample_row(analysis, outcome, sample, model)]
        return [
            {
                "analysis": analysis,
                "outcome": outcome,
                "sample": sample,
                "model": model,
                "term": t.term,
                "estimate": t.estimate,
                "se": t.se,
                "odds_ratio": t.odds_ratio,
                "ci_low": t.ci_low,
                "ci_high": t.ci_high,
                "p_value": t.p_value,
                "n": self.n,
                "n_events": self.n_events,
            }
            for t in ordered
        ] + extra

    def small_sample_row(self, analysis: str, outcome: str, sample: str, model: str) -> dict[str, Any]:
        """The treatment term's t test (between-within df) in the `results.json` row shape."""
        assert self.small_sample is not None
        t = self.small_sample
        return {
            "analysis": analysis,
            "outcome": outcome,
            "sample": sample,
            "model": f"{model}{T_MODEL_SUFFIX}",
            "term": self.treatment,
            "estimate": self.effect.estimate,
            "se": self.effect.se,
            "odds_ratio": t.odds_ratio,
            "ci_low": t.ci_low,
            "ci_high": t.ci_high,
            "p_value": t.p_value,
            "n": self.n,
            "n_events": self.n_events,
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dictionary; the treatment term's fields are repeated at the top level."""
        eff = self.effect
        out: dict[str, Any] = {
            "term": eff.term,
            "estimate": eff.estimate,
            "se": eff.se,
            "odds_ratio": eff.odds_ratio,
            "ci_low": eff.ci_low,
            "ci_high": eff.ci_high,
            "log_ci_low": eff.log_ci_low,
            "log_ci_high": eff.log_ci_high,
            "z": eff.z,
            "p_value": eff.p_value,
            "re_sd": self.re_sd["cluster"],
            "loglik": self.loglik,
            "n": self.n,
        }
        rest = asdict(self)
        rest.pop("cov")
        rest["terms"] = [asdict(t) for t in self.terms]
        rest["re_sd_by_level"] = rest.pop("re_sd")
        out.update({k: v for k, v in rest.items() if k not in out})
        return finite_or_none(out)  # type: ignore[no-any-return]


def finite_or_none(value: Any) -> Any:
    """JSON has no NaN or infinity: such floats become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(v) for v in value]
    return value


def _glm_start(design: Design) -> FloatArray:
    """Logistic regression ignoring clustering (IRLS), the optimisers' starting beta."""
    x, y, n = design.x, design.events, design.trials
    prop = (y + 0.5) / (n + 1.0)
    beta = np.linalg.lstsq(x * np.sqrt(n)[:, None], np.log(prop / (1 - prop)) * np.sqrt(n), rcond=None)[0]
    for _ in range(30):
        eta = x @ beta
        p = 1 / (1 + np.exp(-eta))
        w = np.maximum(n * p * (1 - p), 1e-12)
        zz = eta + (y - n * p) / w
        new = np.linalg.solve((x * w[:, None]).T @ x, (x * w[:, None]).T @ zz)
        if np.max(np.abs(new - beta)) < 1e-10:
            return np.asarray(new)
        beta = new
    return np.asarray(beta)


class _Objective:
    """-loglik / n and its gradient, with an evaluation cache (scipy asks for f and g separately)."""

    def __init__(
        self,
        lik: _Likelihood,
        n: int,
        model: _Objective | None = None,
        exact_hessian: Callable[[FloatArray], FloatArray] | None = None,
    ) -> None:
        self.lik = lik
        self.scale = 1.0 / n
        self._last: tuple[bytes, float, FloatArray] | None = None
        self._model = model
        self._exact_hessian = exact_hessian  # of the log-likelihood, when the likelihood has one
        self._last_hess: tuple[bytes, FloatArray] | None = None

    def model_hessian(self, theta: FloatArray) -> FloatArray:
        """The Hessian the optimiser steers by: this objective's own, or a cheaper close one."""
        return self._model.hessian(theta) if self._model is not None else self.hessian(theta)

    def __call__(self, theta: FloatArray) -> tuple[float, FloatArray]:
        key = np.asarray(theta, dtype=np.float64).tobytes()
        if self._last is not None and self._last[0] == key:
            return self._last[1], self._last[2]
        value, grad = self.lik.value_and_grad(np.asarray(theta, dtype=np.float64))
        if not math.isfinite(value):
            raise DataError("the model likelihood is not finite at the current parameters")
        out = (-value * self.scale, -grad * self.scale)
        self._last = (key, *out)
        return out

    def hessian(self, theta: FloatArray) -> FloatArray:
        """The exact Hessian where the likelihood has one (Laplace, one random intercept), else central
        differences of the gradient (error O(h^2): ~1e-8 relative with the analytic gradient)."""
        if self._exact_hessian is not None:
            # trust-exact asks again at its last point, and each run's check asks at its optimum
            key = np.asarray(theta, dtype=np.float64).tobytes()
            if self._last_hess is None or self._last_hess[0] != key:
                hess = -self._exact_hessian(np.asarray(theta, dtype=np.float64)) * self.scale
                self._last_hess = (key, hess)
            return self._last_hess[1].copy()
        k = len(theta)
        h = 1e-4 * np.maximum(1.0, np.abs(theta))
        hess = np.empty((k, k))
        for j in range(k):
            e = np.zeros(k)
            e[j] = h[j]
            hess[:, j] = (self(theta + e)[1] - self(theta - e)[1]) / (2 * h[j])
        return 0.5 * (hess + hess.T)


def _minimise(obj: _Objective, method: str, start: FloatArray, n_sd: int) -> tuple[FloatArray, int, str]:
    p = len(start) - n_sd
    total_iter = 0
    theta = start
    message = ""
    for _ in range(_MAX_RESTARTS):
        if method == "L-BFGS-B":
            # On log(sigma): multiplicative steps cannot overshoot onto the sigma = 0 saddle, and a
            # variance that is really zero shows as log(sigma) running down to its bound.
            def on_log(phi: FloatArray) -> tuple[float, FloatArray]:
                th = phi.copy()
                th[p:] = np.exp(phi[p:])
                f, g = obj(th)
                g = g.copy()
                g[p:] *= th[p:]
                return f, g

            phi0 = start.copy()
            phi0[p:] = np.log(np.maximum(start[p:], _LOG_SD_FLOOR))
            res = optimize.minimize(
                on_log,
                phi0,
                jac=True,
                method="L-BFGS-B",
                bounds=[(None, None)] * p + [(math.log(_LOG_SD_FLOOR), None)] * n_sd,
                options={"maxiter": 5000, "maxfun": 20000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20},
            )
            res.x = np.r_[res.x[:p], np.exp(res.x[p:])]
        else:
            res = optimize.minimize(
                obj, start, jac=True, hess=obj.model_hessian, method=method, options={"gtol": 1e-10, "maxiter": 500}
            )
        total_iter += int(res.nit)
        message = str(res.message)
        theta = np.asarray(res.x, dtype=np.float64).copy()
        theta[p:] = np.abs(theta[p:])
        # sigma = 0 is always a stationary point (the likelihood is even in sigma). If the likelihood
        # still rises away from it, the run stopped at a saddle: restart with that sigma moved off zero.
        at_zero = [p + i for i in range(n_sd) if theta[p + i] < SINGULAR_TOL]
        if not at_zero:
            break
        hess = obj.model_hessian(theta)
        rising = [j for j in at_zero if hess[j, j] < 0]
        if not rising:
            break
        start = theta.copy()
        start[rising] = 0.3
    return theta, total_iter, message


_MAX_RESTARTS = 4
_LOG_SD_FLOOR = 1e-7  # L-BFGS-B's lower bound on sigma (log scale); below lme4's singular tolerance


def _run_optimisers(
    obj: _Objective, starts: tuple[FloatArray, FloatArray], n_sd: int
) -> list[tuple[str, FloatArray, int, str]]:
    """L-BFGS-B on (beta, log sigma) and exact trust-region Newton on (beta, sigma), each from its start."""
    runs = []
    for method, start in zip(("L-BFGS-B", "trust-exact"), starts, strict=True):
        theta, nit, message = _minimise(obj, method, start, n_sd)
        runs.append((method, theta, nit, message))
    return runs


_BLAS: ThreadpoolController | None = None


def fit_glmm(design: Design, *, nagq: int = 1, re: RandomEffects = "cluster") -> GlmmFit:
    """Fit the logistic mixed model to a collapsed design by maximum likelihood.

    BLAS runs on one thread meanwhile: the fit's matrix work is small (K x K algebra, L-BFGS-B's own
    updates), where OpenBLAS threads cost more than they give, four to five times the CPU on a shared
    two-core machine (measured in benchmarks/README.md)."""
    with one_blas_thread():
        return _fit_glmm(design, nagq=nagq, re=re)


def one_blas_thread() -> Any:
    """Context manager: BLAS on one thread (OpenBLAS threads also spin on a core for a while after each
    call, so small calls on two threads cost CPU twice over)."""
    global _BLAS  # the scan of loaded libraries is done once per process
    if _BLAS is None:
        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


def _fit_glmm(design: Design, *, nagq: int, re: RandomEffects) -> GlmmFit:
    if re not in ("cluster", "cluster-period"):
        raise UsageError(f"random effects must be 'cluster' or 'cluster-period', not {re!r}")
    if nagq < 1 or nagq > 100:
        raise UsageError("--nagq must be between 1 and 100")
    if re == "cluster-period" and nagq > MAX_NESTED_NAGQ:
        raise UsageError(f"nested quadrature takes at most {MAX_NESTED_NAGQ} nodes per level")
    if design.n_clusters < 2:
        raise DataError("the model needs at least two clusters")
    lik: _Likelihood
    sd_names: tuple[str, ...]
    model: _Objective | None = None
    exact: Callable[[FloatArray], FloatArray] | None = None
    if re == "cluster":
        n_sd, sd_names = 1, ("cluster",)
        lik = RandomInterceptLikelihood(design, nagq)
        if nagq == 1:
            exact = lik.laplace_hessian
        else:
            # Quadrature steers by the exact Hessian of the Laplace objective (nearly the same surface);
            # the Hessian of the quadrature likelihood itself is differenced once, at the optimum, for the SEs.
            lap_lik = RandomInterceptLikelihood(design, 1)
            model = _Objective(lap_lik, design.n, exact_hessian=lap_lik.laplace_hessian)
    else:
        n_sd, sd_names = 2, ("cluster", "cluster_period")
        lik = NestedLaplaceLikelihood(design) if nagq == 1 else NestedQuadratureLikelihood(design, nagq)
        # Nested quadrature has only a numerical gradient; its optimisers steer by the Hessian of the nested
        # Laplace objective (analytic gradient, nearly the same surface), and the exact Hessian is taken
        # once, at the optimum, for the standard errors.
        if nagq > 1:
            model = _Objective(NestedLaplaceLikelihood(design), design.n)
    obj = _Objective(lik, design.n, model, exact_hessian=exact)
    p = design.x.shape[1]
    beta0 = _glm_start(design)
    starts = (np.r_[beta0, [0.5] * n_sd], np.r_[beta0, [1.0] * n_sd])
    if isinstance(lik, NestedQuadratureLikelihood):
        # Its gradient is numerical, so start both runs near the optimum: at the Laplace fit
        # (L-BFGS-B) and at that fit with the SDs scaled by 1.5 (trust-region Newton).
        laplace = fit_glmm(design, nagq=1, re=re)
        lap = np.r_[[t.estimate for t in laplace.terms], [laplace.re_sd[k] for k in sd_names]]
        far = lap.copy()
        far[p:] = np.maximum(far[p:], 0.05) * 1.5
        starts = (lap, far)

    runs: list[OptimiserRun] = []
    candidates: list[tuple[float, FloatArray, FloatArray]] = []
    for method, theta, nit, message in _run_optimisers(obj, starts, n_sd):
        f, g = obj(theta)
        hess = obj.model_hessian(theta)
        try:
            step = float(np.max(np.abs(np.linalg.solve(hess, g))))
            # a minimum in beta, and no direction of sigma in which the likelihood still rises
            pos_def = bool(np.all(np.linalg.eigvalsh(hess[:p, :p]) > 0)) and bool(np.all(np.diag(hess)[p:] >= 0))
        except np.linalg.LinAlgError:
            step, pos_def = math.inf, False
        # At a zero sigma the gradient in it vanishes by symmetry; a tiny one is on the boundary.
        converged = step < CONVERGENCE_TOL and pos_def
        ll = -f / obj.scale
        runs.append(OptimiserRun(method, converged, ll, tuple(theta.tolist()), step, nit, message))
        candidates.append((ll, theta, hess))
    best_ll, theta_hat, hess = max(candidates, key=lambda c: c[0])
    if model is not None:
        hess = obj.hessian(theta_hat)
    diff = float(np.max(np.abs(np.array(runs[0].params) - np.array(runs[1].params))))

    info = hess / obj.scale  # observed information of the log-likelihood over (beta, sigma)
    se_method = "observed information over (beta, sigma)"
    cov = _invert_or_none(info)
    if cov is None or np.any(np.diag(cov)[:p] <= 0):
        # lme4 likewise falls back to the covariance conditional on the variance components.
        cov = _invert_or_none(info[:p, :p])
        se_method = "observed information over beta given sigma"
        if cov is None:
            raise DataError("the model's information matrix is singular; a term is not estimable")
    cov_beta = cov[:p, :p]
    se = np.sqrt(np.diag(cov_beta))
    beta = theta_hat[:p]
    terms = tuple(term_estimate(name, float(b), float(s)) for name, b, s in zip(design.names, beta, se, strict=True))

    small: SmallSampleTest | None = None
    columns = design.terms.get(design.treatment, ())
    if len(columns) == 1:
        eff = terms[columns[0]]
        small = t_test(eff.term, eff.estimate, eff.se, between_within_df(design, columns[0]))

    sds = {name: float(theta_hat[p + i]) for i, name in enumerate(sd_names)}
    var = {k: v * v for k, v in sds.items()}
    var_cl, var_cp = var["cluster"], var.get("cluster_period", 0.0)
    return GlmmFit(
        treatment=design.treatment,
        terms=terms,
        random_effects=re,
        nagq=nagq,
        re_sd=sds,
        re_var=var,
        icc=latent_icc(var_cl, var_cp),
        icc_between_period=var_cl / (var_cl + var_cp + math.pi**2 / 3),
        cluster_autocorrelation=cluster_autocorrelation(var_cl, var_cp),
        singular=any(v < SINGULAR_TOL for v in sds.values()),
        loglik=best_ll,
        aic=-2 * best_ll + 2 * (p + n_sd),
        n=design.n,
        n_events=design.n_events,
        n_clusters=design.n_clusters,
        n_cells=design.n_cells,
        n_rows_fitted=len(design.trials),
        optimisers=tuple(runs),
        optimisers_agree=diff < AGREEMENT_TOL,
        max_param_difference=diff,
        converged=any(r.converged for r in runs),
        se_method=se_method,
        vif=tuple(term_vifs(design.x, design.trials, design.terms)),
        cov=cov_beta,
        small_sample=small,
    )


def _invert_or_none(m: FloatArray) -> FloatArray | None:
    try:
        inv = np.linalg.inv(m)
    except np.linalg.LinAlgError:
        return None
    return np.asarray(0.5 * (inv + inv.T)) if np.all(np.isfinite(inv)) else None


def _exp(x: float) -> float:
    return math.exp(x) if x < 709.0 else math.inf


def term_estimate(name: str, est: float, se: float) -> TermEstimate:
    z = est / se
    lo, hi = est - Z_975 * se, est + Z_975 * se
    return TermEstimate(
        term=name,
        estimate=est,
        se=se,
        # A term at the edge of separation (a tiny factor level) can have a huge SE: its odds ratio or CI
        # bound is reported as infinite rather than failing the whole fit.
        odds_ratio=_exp(est),
        ci_low=_exp(lo),
        ci_high=_exp(hi),
        log_ci_low=lo,
        log_ci_high=hi,
        z=z,
        p_value=float(2 * stats.norm.sf(abs(z))),
    )


def fit_glmm_frame(
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
    factors: Sequence[str] = (),
    reference_levels: Mapping[str, object] | None = None,
    nagq: int = 1,
    re: RandomEffects = "cluster",
    source: str = "data",
) -> GlmmFit:
    """Build the collapsed design from a data frame and fit the model (see `build_design`); the columns come
    from `spec` (or the older keywords)."""
    with one_blas_thread():
        design = build_design(
            frame,
            spec,
            treatment=treatment,
            period=period,
            cluster=cluster,
            outcome=outcome,
            events=events,
            trials=trials,
            covariates=covariates,
            factors=factors,
            reference_levels=reference_levels,
            source=source,
        )
        return fit_glmm(design, nagq=nagq, re=re)


@dataclass(frozen=True)
class StructureComparison:
    """Cluster-only vs cluster + cluster-period random effects (issue 6: correlation structures)."""

    cluster: GlmmFit
    cluster_period: GlmmFit
    lr_statistic: float
    p_value: float  # boundary-corrected: 50:50 mixture of chi-square(0) and chi-square(1)
    treatment_shift: float  # change in the treatment log-OR when the period effect is added

    def to_dict(self) -> dict[str, Any]:
        return finite_or_none(  # type: ignore[no-any-return]
            {
                "lr_statistic": self.lr_statistic,
                "p_value": self.p_value,
                "treatment_shift": self.treatment_shift,
                "cluster": self.cluster.to_dict(),
                "cluster_period": self.cluster_period.to_dict(),
            }
        )


def compare_structures(design: Design) -> StructureComparison:
    """Fit both structures by Laplace and test the cluster-period variance by likelihood ratio.

    The null puts the variance on its boundary (zero), so the reference distribution is the 50:50
    mixture of a point mass at 0 and chi-square(1) (Self & Liang 1987).
    """
    simple = fit_glmm(design, nagq=1, re="cluster")
    nested = fit_glmm(design, nagq=1, re="cluster-period")
    lr = max(0.0, 2 * (nested.loglik - simple.loglik))
    p = 0.5 * float(stats.chi2.sf(lr, 1)) if lr > 0 else 1.0
    return StructureComparison(
        cluster=simple,
        cluster_period=nested,
        lr_statistic=lr,
        p_value=p,
        treatment_shift=nested.effect.estimate - simple.effect.estimate,
    )
