"""The small-sample headline test (t, between-within df) against lme4 plus the same df rule written in R.

glmm_small_sample.R fits glmer (Laplace) on the datasets of test_glmm_lme4.py, computes the BW df
independently in R, and writes glmm_small_sample_results.json (R 4.2.2, lme4 1.1-31). Tolerances:

* df: exact. It is a function of the design only, so any difference is a different rule.
* t statistic, 1% relative: estimate and SE agree with lme4 to 1e-3 absolute and 1% (test_glmm_lme4.py's
  named tolerances); estimate / SE inherits at most about that relative error.
* two-sided p, 0.005 absolute: a 1% change in t moves p by at most ~0.002 at these df (the t density is
  below 0.4, times |t| at most 3 where p is not already ~0), so 0.005 fails only on a different reference
  distribution (the Wald z differs from t(19) by 0.015 at p = 0.08).
* log-odds CI bounds, 0.005 absolute: 1e-3 from the estimate plus the critical value (~2.1) times 1% of an
  SE of at most ~0.2.

Observed on the committed results: df identical, t within 0.12%, p within 6e-4, CI bounds within 3e-4.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from cscvault.analysis.models.glmm import fit_glmm_frame

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "glmm_small_sample_results.json"

T_REL_TOL = 0.01
P_ABS_TOL = 0.005
LOG_CI_ABS_TOL = 0.005

MANIFEST = json.loads((DATA / "glmm_manifest.json").read_text())
COMMITTED = json.loads(RESULTS.read_text())["results"]


def _fit(name: str):
    rows = pd.read_csv(DATA / f"{name}.csv")
    kw = dict(events="events", trials="trials", treatment="treatment", period="period", cluster="cluster")
    return fit_glmm_frame(rows, covariates=MANIFEST[name]["covariates"], **kw)


def _compare(name: str, ref: dict) -> None:
    small = _fit(name).small_sample
    assert small is not None
    assert small.df == ref["df"]
    assert small.t == pytest.approx(ref["t"], rel=T_REL_TOL)
    assert small.p_value == pytest.approx(ref["p_value"], abs=P_ABS_TOL)
    assert small.log_ci_low == pytest.approx(ref["log_ci_low"], abs=LOG_CI_ABS_TOL)
    assert small.log_ci_high == pytest.approx(ref["log_ci_high"], abs=LOG_CI_ABS_TOL)


@pytest.mark.parametrize("name", sorted(COMMITTED))
def test_agrees_with_committed_r_results(name):
    _compare(name, COMMITTED[name])


def test_committed_results_cover_several_designs():
    assert set(COMMITTED) == set(MANIFEST)
    assert len({r["df"] for r in COMMITTED.values()}) >= 3  # 5 x 6 and larger designs
    # the t test is the more conservative one, and visibly so somewhere
    assert all(r["p_value"] >= r["wald_p_value"] for r in COMMITTED.values())
    assert any(r["p_value"] - r["wald_p_value"] > P_ABS_TOL for r in COMMITTED.values())


@pytest.mark.r
def test_live_r_reproduces_the_comparison(tmp_path):
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript is not on PATH")
    out = tmp_path / "live.json"
    subprocess.run(
        ["Rscript", str(HERE / "glmm_small_sample.R"), str(DATA), str(out)],
        check=True,
        capture_output=True,
        timeout=900,
    )
    live = json.loads(out.read_text())["results"]
    assert set(live) == set(COMMITTED)
    for name, ref in live.items():
        _compare(name, ref)
