"""cscvault's logistic mixed models against R (lme4 glmer, glmmTMB) on simulated stepped-wedge data.

The datasets (binomial rows) are made by make_glmm_datasets.py: data/glmm_*.csv by cscvault's
Hussey-Hughes simulator, data/synth_*.csv by `cscvault synth` (its true primary sample with the primary
model's covariates; three seeds and effects, one with `--la-spread 0`, no LA variance). glmm_lme4.R
fitted them and wrote glmm_lme4_results.json (R 4.2.2, lme4 1.1-31,
glmmTMB 1.1.5). Tolerances, and why:

* fixed effects, 1e-3 absolute: lme4's default optimisers (bobyqa / Nelder-Mead) stop at about 1e-5 to
  1e-4 in the parameters; 1e-3 is an order below the smallest SE (~0.015) and well above that noise.
* SEs, 1% relative: both sides invert the observed information over (sigma, beta), lme4 by finite
  differences of its deviance (observed 0.1% noise for Laplace fits, 1e-5 for nAGQ = 25), so 1% only
  fails if the SE method differs (e.g. the beta-given-sigma information is ~1-2% smaller).
* random-effect SD, 5% relative (or 1e-4 absolute when R puts it on the boundary): the likelihood is
  flat in sigma with 5 to 12 clusters, so optimiser noise in sigma is the largest of all; the observed
  agreement is ~1e-5.
* log-likelihood, 1e-3 absolute: a change of 1e-3 in the maximised log-likelihood is far below anything
  inferential (a likelihood-ratio test moves by 0.002 in chi-square). lme4 reports, for nAGQ > 1 only,
  the log-likelihood minus the saturated binomial log-likelihood sum log dbinom(y; n, y/n) (it
  sums deviance residuals), so that constant is added back before comparing.
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

from cscvault.analysis.models.glmm import fit_glmm_frame

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "glmm_lme4_results.json"

FIXED_ABS_TOL = 1e-3
SE_REL_TOL = 0.01
SD_REL_TOL = 0.05
SD_BOUNDARY_ABS_TOL = 1e-4
LOGLIK_ABS_TOL = 1e-3

MANIFEST = json.loads((DATA / "glmm_manifest.json").read_text())
COMMITTED = json.loads(RESULTS.read_text())["results"]
CASES = [(name, key) for name, fits in COMMITTED.items() for key in fits]

_fit_cache: dict[tuple[str, str], object] = {}


def _settings(key: str) -> tuple[str, int]:
    re = "cluster-period" if key.startswith("cluster_period") else "cluster"
    return re, 25 if key.endswith("agq25") else 1


def _python_fit(name: str, key: str):
    re, nagq = _settings(key)
    if (name, (re, nagq)) not in _fit_cache:
        rows = pd.read_csv(DATA / f"{name}.csv")
        _fit_cache[(name, (re, nagq))] = fit_glmm_frame(
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
    return _fit_cache[(name, (re, nagq))]


def _saturated_loglik(name: str) -> float:
    rows = pd.read_csv(DATA / f"{name}.csv")
    return float(binom.logpmf(rows["events"], rows["trials"], rows["events"] / rows["trials"]).sum())


def _compare(name: str, key: str, ref: dict) -> None:
    fit = _python_fit(name, key)
    assert len(ref["terms"]) == len(fit.terms)
    assert ref["terms"][1] == fit.terms[1].term == "treatment"
    est = np.array([t.estimate for t in fit.terms])
    se = np.array([t.se for t in fit.terms])
    np.testing.assert_allclose(est, ref["estimate"], rtol=0, atol=FIXED_ABS_TOL)
    np.testing.assert_allclose(se, ref["se"], rtol=SE_REL_TOL)
    for level, r_sd in ref["re_sd"].items():
        ours = fit.re_sd[level]
        if r_sd < SD_BOUNDARY_ABS_TOL:
            assert ours < SD_BOUNDARY_ABS_TOL, (level, ours)
        else:
            assert ours == pytest.approx(r_sd, rel=SD_REL_TOL), level
    r_loglik = ref["loglik"]
    if key.endswith("agq25"):
        r_loglik += _saturated_loglik(name)
    assert fit.loglik == pytest.approx(r_loglik, abs=LOGLIK_ABS_TOL)
    if ref.get("singular") is not None:
        assert fit.singular == ref["singular"]
    assert fit.optimisers_agree and fit.converged


@pytest.mark.parametrize(("name", "key"), CASES)
def test_agrees_with_committed_r_results(name, key):
    _compare(name, key, COMMITTED[name][key])


def test_committed_results_cover_the_required_cases():
    assert len(COMMITTED) >= 3
    assert any(r["cluster_laplace"]["singular"] for r in COMMITTED.values())  # a near-zero variance
    assert {"cluster_laplace", "cluster_agq25"} <= set.intersection(*(set(r) for r in COMMITTED.values()))
    assert any("cluster_period_laplace" in r for r in COMMITTED.values())
    effects = {round(m["truth"]["log_or"], 3) for m in MANIFEST.values()}
    assert len(effects) >= 3
    synth = {name: m for name, m in MANIFEST.items() if m["truth"].get("generator", "").startswith("cscvault synth")}
    assert len(synth) >= 3 and len({m["truth"]["seed"] for m in synth.values()}) == len(synth)
    assert len({m["truth"]["log_or"] for m in synth.values()}) == len(synth)
    near_zero = [n for n, m in synth.items() if m["truth"]["cluster_sd"] < 0.05]
    assert near_zero and all(COMMITTED[n]["cluster_laplace"]["re_sd"]["cluster"] < 0.05 for n in near_zero)


@pytest.mark.r
def test_live_r_reproduces_the_comparison(tmp_path):
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript is not on PATH")
    out = tmp_path / "live.json"
    subprocess.run(
        ["Rscript", str(HERE / "glmm_lme4.R"), str(DATA), str(out)], check=True, capture_output=True, timeout=600
    )
    live = json.loads(out.read_text())["results"]
    assert set(live) == set(COMMITTED)
    for name, fits in live.items():
        for key, ref in fits.items():
            _compare(name, key, ref)
