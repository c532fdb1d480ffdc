"""The small-sample (t, between-within df) headline test of the GLMM's treatment term."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from cscvault.analysis.models.design_matrix import build_design
from cscvault.analysis.models.glmm import fit_glmm
from cscvault.analysis.models.small_sample import between_within_df, t_test
from cscvault.analysis.simulate import SteppedWedgeSpec, simulate_stepped_wedge

KW = dict(events="events", trials="trials", treatment="treatment", period="period", cluster="cluster")


def _design(clusters: int, periods: int, covariates: tuple[str, ...] = ("female", "prev_cpp"), seed: int = 3):
    spec = SteppedWedgeSpec(n_clusters=clusters, n_periods=periods, n_children=6000, covariates=covariates)
    return build_design(simulate_stepped_wedge(spec, seed=seed).binomial(), covariates=list(covariates), **KW)


@pytest.mark.parametrize(("clusters", "periods"), [(5, 6), (8, 5), (4, 3)])
def test_stepped_wedge_treatment_gets_the_within_cluster_df(clusters, periods):
    # cells - (clusters + treatment + period effects): child covariates vary within cells and do not count
    design = _design(clusters, periods)
    assert between_within_df(design, design.terms["treatment"][0]) == clusters * periods - clusters - periods


def test_a_term_constant_within_clusters_gets_the_between_cluster_df():
    design = _design(6, 4)
    # a parallel-arm indicator: first three clusters "treated" in every period
    arm = (design.cluster < 3).astype(float)
    x = design.x.copy()
    x[:, 1] = arm
    parallel = type(design)(**{**design.__dict__, "x": x})
    assert between_within_df(parallel, 1) == 6 - 2  # clusters minus intercept and arm


def test_t_test_is_the_wald_statistic_referred_to_t():
    res = t_test("treatment", -0.2, 0.1, 19)
    assert res.t == pytest.approx(-2.0)
    assert res.p_value == pytest.approx(2 * stats.t.sf(2.0, 19))
    crit = stats.t.ppf(0.975, 19)
    assert res.log_ci_low == pytest.approx(-0.2 - crit * 0.1) and res.ci_high == pytest.approx(
        math.exp(-0.2 + crit * 0.1)
    )


def test_fit_reports_both_tests_and_the_t_interval_is_wider():
    fit = fit_glmm(_design(5, 6))
    small, wald = fit.small_sample, fit.effect
    assert small is not None and small.df == 19 and small.df_method == "between-within"
    assert small.t == pytest.approx(wald.z)
    assert small.ci_low < wald.ci_low and small.ci_high > wald.ci_high and small.p_value > wald.p_value
    assert fit.to_dict()["small_sample"]["df"] == 19
