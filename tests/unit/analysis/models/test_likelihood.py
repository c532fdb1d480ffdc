"""The marginal likelihoods and their analytic gradients, checked against brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad
from scipy.special import logsumexp

from cscvault.analysis.models.design_matrix import build_design
from cscvault.analysis.models.likelihood import (
    NestedLaplaceLikelihood,
    NestedQuadratureLikelihood,
    RandomInterceptLikelihood,
)


def _children(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(6):
        b = rng.normal(0, 0.5)
        for t in range(5):
            g = rng.normal(0, 0.3)
            for _ in range(30):
                f, age = rng.integers(0, 2), rng.normal()
                trt = int(t > c % 5)
                eta = -1 + 0.2 * t + 0.4 * trt + b + g + 0.3 * f + 0.2 * age
                rows.append((f"c{c}", t, trt, f, age, int(rng.random() < 1 / (1 + np.exp(-eta)))))
    return pd.DataFrame(rows, columns=["cl", "per", "trt", "f", "age", "y"])


@pytest.fixture(scope="module")
def design():
    return build_design(_children(), treatment="trt", period="per", cluster="cl", outcome="y", covariates=["f", "age"])


def _numeric_grad(lik, theta, h=1e-6):
    out = np.zeros_like(theta)
    for j in range(len(theta)):
        e = np.zeros_like(theta)
        e[j] = h
        out[j] = (lik.loglik(theta + e) - lik.loglik(theta - e)) / (2 * h)
    return out


@pytest.mark.parametrize("nagq", [1, 2, 7])
def test_random_intercept_gradient_matches_finite_differences(design, nagq):
    lik = RandomInterceptLikelihood(design, nagq)
    theta = np.r_[np.linspace(-0.5, 0.4, design.x.shape[1]), 0.7]
    _, grad = lik.value_and_grad(theta)
    # central differences with h = 1e-6 on a value of ~1e3 carry ~1e-7 rounding error
    assert np.max(np.abs(grad - _numeric_grad(lik, theta))) < 1e-5


def test_nested_gradient_matches_finite_differences(design):
    lik = NestedLaplaceLikelihood(design)
    theta = np.r_[np.linspace(-0.5, 0.4, design.x.shape[1]), 0.6, 0.35]
    _, grad = lik.value_and_grad(theta)
    assert np.max(np.abs(grad - _numeric_grad(lik, theta))) < 1e-5


def test_quadrature_converges_to_the_exact_integral(design):
    theta = np.r_[np.linspace(-0.5, 0.4, design.x.shape[1]), 0.9]
    eta = design.x @ theta[:-1]
    exact = 0.0
    for c in range(design.n_clusters):
        m = design.cluster == c
        ll_at_zero = float(np.sum(design.events[m] * eta[m] - design.trials[m] * np.logaddexp(0, eta[m])))

        def integrand(u, m=m, shift=ll_at_zero):
            a = eta[m] + theta[-1] * u
            ll = np.sum(design.events[m] * a - design.trials[m] * np.logaddexp(0, a))
            return np.exp(ll - shift - u * u / 2) / np.sqrt(2 * np.pi)

        exact += np.log(quad(integrand, -12, 12, limit=200, epsabs=0, epsrel=1e-13)[0]) + ll_at_zero
    values = {k: RandomInterceptLikelihood(design, k).loglik(theta) for k in (1, 3, 25)}
    assert abs(values[25] - exact) < 1e-8
    assert abs(values[3] - exact) < abs(values[1] - exact)  # more nodes, closer
    assert abs(values[1] - exact) < 0.05  # the Laplace approximation is already close here


def test_nested_model_without_period_variance_is_the_random_intercept_model(design):
    theta = np.r_[np.linspace(-0.5, 0.4, design.x.shape[1]), 0.6]
    nested = NestedLaplaceLikelihood(design).loglik(np.r_[theta, 0.0])
    assert nested == pytest.approx(RandomInterceptLikelihood(design, 1).loglik(theta), abs=1e-9)


def test_likelihood_is_even_in_sigma(design):
    lik = RandomInterceptLikelihood(design, 5)
    theta = np.r_[np.linspace(-0.5, 0.4, design.x.shape[1]), 0.6]
    flipped = theta.copy()
    flipped[-1] = -0.6
    assert lik.loglik(theta) == pytest.approx(lik.loglik(flipped), abs=1e-9)


def test_collapsing_child_rows_keeps_the_likelihood():
    children = _children()
    collapsed = build_design(children, treatment="trt", period="per", cluster="cl", outcome="y", covariates=["f"])
    assert len(collapsed.trials) < len(children) / 10  # patterns, not children
    # one binomial row per child (trials 1) is the uncollapsed likelihood
    children["one"] = 1
    per_child = build_design(
        children.sample(frac=1, random_state=3),
        treatment="trt",
        period="per",
        cluster="cl",
        events="y",
        trials="one",
        covariates=["f"],
    )
    assert len(per_child.trials) == len(collapsed.trials)  # build_design collapses binomial rows too
    theta = np.r_[np.linspace(-0.5, 0.4, collapsed.x.shape[1]), 0.6]
    for k in (1, 3):
        a = RandomInterceptLikelihood(collapsed, k).loglik(theta)
        b = RandomInterceptLikelihood(per_child, k).loglik(theta)
        assert a == pytest.approx(b, abs=1e-9)
    assert per_child.log_binom_const == 0.0  # log C(1, y) = 0


def test_nested_quadrature_converges_to_the_exact_double_integral():
    small = build_design(
        _children().query("cl in ['c0', 'c1'] and per < 3"),
        treatment="trt",
        period="per",
        cluster="cl",
        outcome="y",
        covariates=["f"],
    )
    theta = np.r_[np.linspace(-0.5, 0.4, small.x.shape[1]), 0.8, 0.6]
    eta = small.x @ theta[:-2]
    s1, s2 = theta[-2:]
    # Brute force: the trapezoid rule on a fine grid is spectrally accurate for these smooth, fast-decaying
    # integrands (checked: halving the grid changes the result by < 1e-12).
    grid = np.linspace(-10, 10, 1601)
    step = grid[1] - grid[0]
    log_phi = -0.5 * grid**2 - 0.5 * np.log(2 * np.pi)
    exact = 0.0
    for c in range(small.n_clusters):
        log_inner_sum = np.zeros_like(grid)  # over u
        for j in np.unique(small.cell[small.cluster == c]):
            m = small.cell == j
            a = eta[m][:, None, None] + s1 * grid[None, :, None] + s2 * grid[None, None, :]  # rows, u, v
            ll = np.sum(small.events[m][:, None, None] * a - small.trials[m][:, None, None] * np.logaddexp(0, a), 0)
            log_inner_sum += logsumexp(ll + log_phi[None, :], axis=1) + np.log(step)
        exact += logsumexp(log_inner_sum + log_phi) + np.log(step)
    laplace = NestedLaplaceLikelihood(small).loglik(theta)
    assert NestedQuadratureLikelihood(small, 1).loglik(theta) == pytest.approx(laplace, abs=1e-9)
    q15 = NestedQuadratureLikelihood(small, 15).loglik(theta)
    assert abs(q15 - exact) < 1e-7
    assert abs(q15 - exact) < abs(laplace - exact)


# The analytic Hessian against central differences of the analytic gradient: differencing error is
# O(h^2) ~ 1e-9 relative here, so 1e-6 only fails on a wrong term, never on rounding.
HESSIAN_REL_TOL = 1e-6


@pytest.mark.parametrize("theta_tail", [(0.7,), (0.05,), (-1.3,), (2.5,)])
def test_laplace_hessian_equals_differenced_gradient(design, theta_tail):
    lik = RandomInterceptLikelihood(design, 1)
    rng = np.random.default_rng(abs(int(10 * theta_tail[0])))
    theta = np.r_[-1.0, rng.normal(0, 0.3, design.x.shape[1] - 1), theta_tail]
    exact = lik.laplace_hessian(theta)
    k, h = len(theta), 1e-5
    diffs = np.empty((k, k))
    for j in range(k):
        e = np.zeros(k)
        e[j] = h
        diffs[:, j] = (lik.value_and_grad(theta + e)[1] - lik.value_and_grad(theta - e)[1]) / (2 * h)
    np.testing.assert_allclose(exact, exact.T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(exact, 0.5 * (diffs + diffs.T), rtol=0, atol=HESSIAN_REL_TOL * np.abs(diffs).max())
