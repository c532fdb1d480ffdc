"""Fitting the logistic mixed model: results a user relies on, and the errors they see."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cscvault.analysis.models.design_matrix import build_design
from cscvault.analysis.models.diagnostics import cluster_autocorrelation, latent_icc, term_vifs
from cscvault.analysis.models.glmm import fit_glmm, fit_glmm_frame
from cscvault.analysis.simulate import SteppedWedgeSpec, simulate_stepped_wedge
from cscvault.errors import DataError, UsageError

COVS = ["female", "age_band", "prev_cpp"]


@pytest.fixture(scope="module")
def trial():
    spec = SteppedWedgeSpec(n_clusters=6, n_periods=5, n_children=6_000, cluster_sd=0.4, log_or=-0.3)
    return simulate_stepped_wedge(spec, seed=7)


@pytest.fixture(scope="module")
def child_fit(trial):
    return fit_glmm_frame(
        trial.children, outcome="outcome", treatment="treatment", period="period", cluster="cluster", covariates=COVS
    )


def test_fit_reports_the_treatment_term_and_its_derived_quantities(child_fit):
    eff = child_fit.effect
    assert eff.term == "treatment"
    assert eff.odds_ratio == pytest.approx(math.exp(eff.estimate))
    assert eff.log_ci_low == pytest.approx(eff.estimate - 1.959964 * eff.se, abs=1e-6)
    assert eff.ci_low == pytest.approx(math.exp(eff.log_ci_low))
    assert eff.ci_high == pytest.approx(math.exp(eff.log_ci_high))
    assert eff.p_value == pytest.approx(2 * (1 - 0.5 * (1 + math.erf(abs(eff.z) / math.sqrt(2)))), abs=1e-12)
    assert [t.term for t in child_fit.terms] == [
        "(Intercept)",
        "treatment",
        "period[2]",
        "period[3]",
        "period[4]",
        "period[5]",
        *COVS,
    ]
    assert child_fit.n == 6_000
    assert child_fit.n_clusters == 6


def test_the_two_optimisers_agree_and_converge(child_fit):
    assert child_fit.converged
    assert child_fit.optimisers_agree
    assert {r.method for r in child_fit.optimisers} == {"L-BFGS-B", "trust-exact"}
    assert all(r.converged for r in child_fit.optimisers)
    assert child_fit.optimisers[0].loglik == pytest.approx(child_fit.optimisers[1].loglik, abs=1e-6)


def test_icc_is_on_the_latent_scale(child_fit):
    var = child_fit.re_sd["cluster"] ** 2
    assert child_fit.icc == pytest.approx(var / (var + math.pi**2 / 3))
    assert child_fit.cluster_autocorrelation == 1.0
    assert latent_icc(0.1, 0.05) == pytest.approx(0.15 / (0.15 + math.pi**2 / 3))
    assert cluster_autocorrelation(0.3, 0.1) == pytest.approx(0.75)


def test_binomial_rows_give_the_same_fit_as_child_rows(trial, child_fit):
    rows = trial.binomial()
    fit = fit_glmm_frame(
        rows,
        events="events",
        trials="trials",
        treatment="treatment",
        period="period",
        cluster="cluster",
        covariates=COVS,
    )
    for a, b in zip(fit.terms, child_fit.terms, strict=True):
        assert a.estimate == pytest.approx(b.estimate, abs=1e-6)
        assert a.se == pytest.approx(b.se, rel=1e-5)
    # binomial rows carry log C(n, y) in their likelihood, as in R's dbinom; 0/1 rows do not
    const = build_design(
        rows,
        events="events",
        trials="trials",
        treatment="treatment",
        period="period",
        cluster="cluster",
        covariates=COVS,
    ).log_binom_const
    assert fit.loglik - child_fit.loglik == pytest.approx(const, abs=1e-5)


def test_quadrature_and_laplace_are_close_with_large_clusters(trial, child_fit):
    agq = fit_glmm_frame(
        trial.children,
        outcome="outcome",
        treatment="treatment",
        period="period",
        cluster="cluster",
        covariates=COVS,
        nagq=15,
    )
    assert agq.nagq == 15
    assert agq.effect.estimate == pytest.approx(child_fit.effect.estimate, abs=1e-3)
    assert agq.loglik >= child_fit.loglik - 0.01


def test_cluster_period_model_reports_both_sds_and_autocorrelation():
    spec = SteppedWedgeSpec(
        n_clusters=8, n_periods=5, n_children=8_000, cluster_sd=0.4, cluster_period_sd=0.3, covariates=()
    )
    rows = simulate_stepped_wedge(spec, seed=5).binomial()
    kw = dict(events="events", trials="trials", treatment="treatment", period="period", cluster="cluster")
    fit = fit_glmm_frame(rows, re="cluster-period", **kw)
    sd1, sd2 = fit.re_sd["cluster"], fit.re_sd["cluster_period"]
    assert sd1 > 0 and sd2 > 0.1
    assert fit.cluster_autocorrelation == pytest.approx(sd1**2 / (sd1**2 + sd2**2))
    assert fit.icc == pytest.approx((sd1**2 + sd2**2) / (sd1**2 + sd2**2 + math.pi**2 / 3))
    assert fit.icc_between_period < fit.icc
    assert fit.optimisers_agree
    # the simpler model is nested in it, so its likelihood cannot be higher
    assert fit_glmm_frame(rows, **kw).loglik <= fit.loglik + 1e-6


def test_zero_cluster_variance_is_flagged_singular():
    spec = SteppedWedgeSpec(n_clusters=8, n_periods=6, n_children=10_000, cluster_sd=0.0, covariates=("age_band",))
    rows = simulate_stepped_wedge(spec, seed=34).binomial()
    fit = fit_glmm_frame(
        rows,
        events="events",
        trials="trials",
        treatment="treatment",
        period="period",
        cluster="cluster",
        covariates=["age_band"],
    )
    assert fit.singular
    assert fit.re_sd["cluster"] < 1e-4
    assert fit.optimisers_agree and fit.converged
    assert np.isfinite(fit.effect.se) and fit.effect.se > 0


def test_vif_is_one_for_orthogonal_columns_and_large_for_collinear_ones():
    rng = np.random.default_rng(0)
    x = np.column_stack([np.ones(4000), rng.normal(size=4000), rng.normal(size=4000)])
    vifs = term_vifs(x, np.ones(4000), {"a": (1,), "b": (2,)})
    assert [v.gvif for v in vifs] == pytest.approx([1.0, 1.0], abs=0.01)
    x[:, 2] = x[:, 1] + 0.1 * rng.normal(size=4000)
    vifs = term_vifs(x, np.ones(4000), {"a": (1,), "b": (2,)})
    assert vifs[0].gvif == pytest.approx(1 / (1 - np.corrcoef(x[:, 1], x[:, 2])[0, 1] ** 2), rel=1e-6)


def test_fit_reports_vif_for_each_term_with_the_period_as_one_factor(child_fit):
    by_term = {v.term: v for v in child_fit.vif}
    assert set(by_term) == {"treatment", "period", *COVS}
    assert by_term["period"].df == 4
    assert by_term["treatment"].gvif > 1.0  # treatment is correlated with period by design


def test_to_dict_is_the_cli_contract(child_fit):
    d = child_fit.to_dict()
    for key in ("estimate", "se", "odds_ratio", "ci_low", "ci_high", "p_value", "re_sd", "loglik", "n", "terms"):
        assert key in d
    assert d["estimate"] == child_fit.effect.estimate
    assert d["re_sd"] == child_fit.re_sd["cluster"]
    assert len(d["terms"]) == len(child_fit.terms)
    import json

    json.dumps(d, allow_nan=False)


def _small_frame():
    return pd.DataFrame(
        {"cl": [1, 1, 2, 2, 3, 3], "per": [1, 2, 1, 2, 1, 2], "trt": [0, 1, 0, 0, 0, 1], "y": [0, 1, 1, 0, 0, 1]}
    )


@pytest.mark.parametrize(
    ("change", "kwargs", "error", "fragment"),
    [
        (None, {"outcome": "missing"}, UsageError, "no column named 'missing'"),
        (lambda f: f.assign(y=[0, 2, 1, 0, 0, 1]), {}, DataError, "only 0 and 1"),
        (lambda f: f.assign(y=[0, None, 1, 0, 0, 1]), {}, DataError, "1 missing values"),
        (lambda f: f.assign(trt=["a", "b", "a", "a", "a", "b"]), {}, DataError, "must be numeric"),
        (lambda f: f.assign(per=1), {}, DataError, "single period"),
        (lambda f: f.assign(trt=f["per"] - 1), {}, DataError, "rank deficient"),
    ],
)
def test_bad_input_is_a_one_line_error_naming_the_column(change, kwargs, error, fragment):
    frame = _small_frame() if change is None else change(_small_frame())
    args = {"outcome": "y", "treatment": "trt", "period": "per", "cluster": "cl", "source": "f.csv", **kwargs}
    with pytest.raises(error, match=fragment) as info:
        build_design(frame, **args)
    assert "\n" not in info.value.message
    assert info.value.message.startswith("f.csv")


def test_binomial_rows_are_checked():
    frame = pd.DataFrame({"cl": [1, 2], "per": [1, 2], "trt": [0, 1], "e": [3, 5], "n": [2, 6]})
    with pytest.raises(DataError, match="between 0"):
        build_design(frame, events="e", trials="n", treatment="trt", period="per", cluster="cl")
    with pytest.raises(UsageError, match="either an outcome"):
        build_design(frame, outcome="e", events="e", trials="n", treatment="trt", period="per", cluster="cl")


def test_option_combinations_are_usage_errors(trial):
    design = build_design(
        trial.binomial(), events="events", trials="trials", treatment="treatment", period="period", cluster="cluster"
    )
    with pytest.raises(UsageError, match="at most 25 nodes"):
        fit_glmm(design, nagq=26, re="cluster-period")
    with pytest.raises(UsageError, match="nagq"):
        fit_glmm(design, nagq=0)
    with pytest.raises(UsageError, match="random effects"):
        fit_glmm(design, re="period")  # type: ignore[arg-type]


def test_nested_quadrature_refines_the_laplace_fit():
    spec = SteppedWedgeSpec(
        n_clusters=6, n_periods=4, n_children=600, cluster_sd=0.4, cluster_period_sd=0.4, covariates=()
    )
    rows = simulate_stepped_wedge(spec, seed=8).binomial()
    kw = dict(events="events", trials="trials", treatment="treatment", period="period", cluster="cluster")
    lap = fit_glmm_frame(rows, re="cluster-period", **kw)
    agq = fit_glmm_frame(rows, re="cluster-period", nagq=3, **kw)
    assert agq.nagq == 3 and agq.optimisers_agree and agq.converged
    # small cells (25 children): quadrature moves the fit a little, not a lot
    assert agq.effect.estimate == pytest.approx(lap.effect.estimate, abs=0.02)
    assert agq.effect.se == pytest.approx(lap.effect.se, rel=0.05)
    assert agq.loglik != pytest.approx(lap.loglik, abs=1e-6)


def test_result_rows_follow_the_results_json_schema(child_fit):
    rows = child_fit.result_rows(analysis="primary", outcome="cla_18m", sample="primary", model="glmm_laplace")
    assert len(rows) == len(child_fit.terms) + 1  # every term's Wald row, then the treatment's t row
    assert rows[0]["term"] == "treatment" and rows[-1]["term"] == "treatment"
    assert rows[-1]["model"] == "glmm_laplace-t-bw" and rows[-1]["estimate"] == rows[0]["estimate"]
    assert rows[-1]["p_value"] > rows[0]["p_value"] and rows[-1]["ci_low"] < rows[0]["ci_low"]
    assert (
        set(rows[0])
        == set(rows[-1])
        == {
            "analysis",
            "outcome",
            "sample",
            "model",
            "term",
            "estimate",
            "se",
            "odds_ratio",
            "ci_low",
            "ci_high",
            "p_value",
            "n",
            "n_events",
        }
    )
    assert rows[0]["n_events"] == child_fit.n_events


def test_structure_comparison_detects_a_cluster_period_effect():
    from cscvault.analysis.models.glmm import compare_structures

    spec = SteppedWedgeSpec(
        n_clusters=8, n_periods=5, n_children=40_000, cluster_sd=0.4, cluster_period_sd=0.3, covariates=()
    )
    rows = simulate_stepped_wedge(spec, seed=5).binomial()
    design = build_design(
        rows, events="events", trials="trials", treatment="treatment", period="period", cluster="cluster"
    )
    cmp = compare_structures(design)
    assert cmp.lr_statistic == pytest.approx(2 * (cmp.cluster_period.loglik - cmp.cluster.loglik))
    assert cmp.p_value < 0.01  # SD 0.3 with 1,000 children per cell is plain to see
    assert cmp.treatment_shift == pytest.approx(cmp.cluster_period.effect.estimate - cmp.cluster.effect.estimate)
    assert set(cmp.to_dict()) == {"lr_statistic", "p_value", "treatment_shift", "cluster", "cluster_period"}
