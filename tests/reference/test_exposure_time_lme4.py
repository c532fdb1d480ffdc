"""cscvault's exposure-time models against R lme4 glmer on simulated stepped-wedge data.

The datasets (data/exposure_*.csv, binomial rows) come from cscvault's simulator with an exposure-time
effect via exposure_time_make_datasets.py; exposure_time_lme4.R derived exposure time itself, fitted them
and wrote exposure_time_lme4_results.json (R 4.2.2, lme4 1.1-31). Tolerances are those of
test_glmm_lme4.py, for the same reasons:

* fixed effects, 1e-3 absolute (lme4's optimisers stop at about 1e-5 to 1e-4 in the parameters);
* SEs, 1% relative (both invert the observed information over (sigma, beta); lme4 by finite differences);
* random-effect SD, 5% relative (or 1e-4 absolute on the boundary): the likelihood is flat in sigma;
* log-likelihood, 1e-3 absolute (lme4 reports, for nAGQ > 1, the log-likelihood minus the saturated
  binomial one; that constant is added back).

Derived quantities follow from those: the time-averaged effect (a mean of estimates, 1e-3 absolute; its
SE a quadratic form in the covariance, 1% relative), the heterogeneity Wald statistic (a quadratic form
in estimates over a covariance: 2% relative, twice the SE tolerance because it scales with 1/variance),
and the delayed-effect model's terms (as fixed effects).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from cscvault.analysis.models.exposure import DELAYED_TERM, TRANSITION_TERM, fit_exposure_frame
from tests.reference.test_glmm_lme4 import (  # the same named tolerances and fit settings
    FIXED_ABS_TOL,
    LOGLIK_ABS_TOL,
    SD_BOUNDARY_ABS_TOL,
    SD_REL_TOL,
    SE_REL_TOL,
    _settings,
)

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "exposure_time_lme4_results.json"

WALD_REL_TOL = 0.02

MANIFEST = json.loads((DATA / "exposure_manifest.json").read_text())
COMMITTED = json.loads(RESULTS.read_text())["results"]
CASES = [(name, key) for name, fits in COMMITTED.items() for key in fits]

_cache: dict[tuple[str, str], object] = {}


def _analysis(name: str, key: str):
    if (name, key) not in _cache:
        re, nagq = _settings(key)
        rows = pd.read_csv(DATA / f"{name}.csv")
        _cache[(name, key)] = fit_exposure_frame(
            rows,
            events="events",
            trials="trials",
            treatment="treatment",
            period="period",
            cluster="cluster",
            covariates=MANIFEST[name]["covariates"],
            nagq=nagq,
            re=re,
        )
    return _cache[(name, key)]


def _r_name(term: str) -> str:
    """R's name of one of our terms: period[3] -> factor(period)3, exposure[2] -> factor(exposure)2."""
    for factor in ("period", "exposure"):
        if term.startswith(f"{factor}["):
            return f"factor({factor}){term[len(factor) + 1 : -1]}"
    return {DELAYED_TERM: "delayed", TRANSITION_TERM: "transition"}.get(term, term)


def _compare_fit(fit, ref: dict, name: str, key: str) -> None:
    r_est = dict(zip(ref["terms"], ref["estimate"], strict=True))
    r_se = dict(zip(ref["terms"], ref["se"], strict=True))
    ours = {_r_name(t.term): t for t in fit.terms}
    assert set(ours) == set(r_est)
    names = sorted(r_est)
    np.testing.assert_allclose([ours[n].estimate for n in names], [r_est[n] for n in names], rtol=0, atol=FIXED_ABS_TOL)
    np.testing.assert_allclose([ours[n].se for n in names], [r_se[n] for n in names], rtol=SE_REL_TOL)
    for level, r_sd in ref["re_sd"].items():
        if r_sd < SD_BOUNDARY_ABS_TOL:
            assert fit.re_sd[level] < SD_BOUNDARY_ABS_TOL, level
        else:
            assert fit.re_sd[level] == pytest.approx(r_sd, rel=SD_REL_TOL), level
    r_loglik = ref["loglik"]
    if key.endswith("agq25"):
        rows = pd.read_csv(DATA / f"{name}.csv")
        r_loglik += float(binom.logpmf(rows["events"], rows["trials"], rows["events"] / rows["trials"]).sum())
    assert fit.loglik == pytest.approx(r_loglik, abs=LOGLIK_ABS_TOL)
    assert fit.optimisers_agree and fit.converged


def _compare(name: str, key: str, ref: dict) -> None:
    res = _analysis(name, key)
    _compare_fit(res.fit, ref, name, key)
    assert res.average.estimate == pytest.approx(ref["time_averaged"]["estimate"], abs=FIXED_ABS_TOL)
    assert res.average.se == pytest.approx(ref["time_averaged"]["se"], rel=SE_REL_TOL)
    het = res.heterogeneity
    assert het is not None and het.df == ref["heterogeneity"]["df"]
    assert het.statistic == pytest.approx(ref["heterogeneity"]["statistic"], rel=WALD_REL_TOL)
    assert res.delayed is not None
    _compare_fit(res.delayed.fit, ref["delayed"], name, key)


@pytest.mark.parametrize(("name", "key"), CASES)
def test_agrees_with_committed_r_results(name, key):
    _compare(name, key, COMMITTED[name][key])


def test_committed_results_cover_the_required_cases():
    assert set(COMMITTED) == set(MANIFEST) and len(COMMITTED) >= 2
    assert any("cluster_period_laplace" in r for r in COMMITTED.values())
    assert any("cluster_agq25" in r for r in COMMITTED.values())
    # the datasets carry a real exposure-time effect (not constant), and R found it
    for info in MANIFEST.values():
        assert len(set(info["truth"]["exposure_log_ors"].values())) > 1
    assert any(r["cluster_laplace"]["heterogeneity"]["p_value"] < 0.05 for r in COMMITTED.values())


@pytest.mark.r
def test_live_r_reproduces_the_comparison(tmp_path):
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript is not on PATH")
    out = tmp_path / "live.json"
    subprocess.run(
        ["Rscript", str(HERE / "exposure_time_lme4.R"), str(DATA), str(out)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    live = json.loads(out.read_text())["results"]
    assert set(live) == set(COMMITTED)
    for name, fits in live.items():
        for key, ref in fits.items():
            _compare(name, key, ref)
