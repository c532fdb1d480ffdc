"""Fixed-effects logit with CR2 errors and Satterthwaite df, against committed clubSandwich output."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cscvault.analysis.models.gee import binomial_cells
from cscvault.analysis.models.robust import cr2, fit_fe_cr2, fit_logit
from cscvault.errors import DataError

REF = Path(__file__).resolve().parents[3] / "reference" / "robust"
CASES = {"6x5_sex": ("cells_6x5_sex.csv", ["sex"]), "5x6": ("cells_5x6.csv", [])}
# R's glm stops when the relative deviance change is < 1e-8, so its coefficients carry ~1e-9 noise
# that propagates into the CR2 algebra; observed worst gaps: estimate 6e-13, SE 5e-7 (relative),
# df 9e-7. Tolerances leave two orders of margin and stay far below any real difference.
EST_TOL = 1e-7
SE_REL_TOL = 1e-5
DF_TOL = 1e-4


def _fit(label):
    file, covs = CASES[label]
    data = pd.read_csv(REF / file)
    return fit_fe_cr2(
        data,
        events="events",
        trials="trials",
        treatment="treatment",
        period="period",
        cluster="cluster",
        covariates=covs,
    )


@pytest.mark.parametrize("label", sorted(CASES))
def test_cr2_and_satterthwaite_df_equal_clubsandwich(label):
    ref = pd.read_csv(REF / "fe_cr2_reference.csv")
    ref = ref[ref["model"] == label].sort_values("position")
    res = _fit(label)
    assert len(res.names) == len(ref)  # same design, same column order as the R formula
    np.testing.assert_allclose(res.params, ref["estimate"], atol=EST_TOL)
    np.testing.assert_allclose(np.sqrt(np.diag(res.vcov_model)), ref["se_model"], rtol=SE_REL_TOL)
    np.testing.assert_allclose(np.sqrt(np.diag(res.vcov)), ref["se_cr2"], rtol=SE_REL_TOL)
    np.testing.assert_allclose(res.df, ref["df_satterthwaite"], atol=DF_TOL)
    t = res.coefficient("treatment")
    row = ref[ref["r_term"] == "treatment"].iloc[0]
    assert t["p_value"] == pytest.approx(row["p_satterthwaite"], rel=1e-4)


def test_individual_rows_are_collapsed_to_the_same_cells():
    cells = pd.read_csv(REF / "cells_5x6.csv")
    rows = []
    for rec in cells.itertuples():
        rows += [(rec.cluster, rec.period, rec.treatment, 1)] * rec.events
        rows += [(rec.cluster, rec.period, rec.treatment, 0)] * (rec.trials - rec.events)
    children = pd.DataFrame(rows, columns=["cluster", "period", "treatment", "y"])
    a = fit_fe_cr2(children, outcome="y", treatment="treatment", period="period", cluster="cluster")
    b = _fit("5x6")
    np.testing.assert_allclose(a.vcov, b.vcov, rtol=1e-9)
    np.testing.assert_allclose(a.df, b.df, rtol=1e-9)


def test_cr2_is_larger_than_model_based_for_treatment_here():
    res = _fit("6x5_sex")
    t = res.coefficient("treatment")
    assert t["se_cr2"] > t["se_model"]
    assert t["ci_low"] < t["estimate"] < t["ci_high"]
    assert 1 < t["df_satterthwaite"] < res.n_clusters


def test_offset_shifts_the_treatment_coefficient_exactly():
    data = pd.read_csv(REF / "cells_5x6.csv")
    cells = binomial_cells(
        data,
        events="events",
        trials="trials",
        treatment="treatment",
        period="period",
        cluster="cluster",
        cluster_effects=True,
        period_coding="reference",
    )
    base = fit_logit(cells)
    j = cells.names.index("treatment")
    shifted = fit_logit(cells, offset=0.3 * cells.X[:, j])
    assert shifted.params[j] == pytest.approx(base.params[j] - 0.3, abs=1e-9)
    assert cr2(cells, base).vcov.shape == (len(cells.names), len(cells.names))


def test_collinear_covariate_is_named():
    data = pd.read_csv(REF / "cells_5x6.csv").assign(copy=lambda d: d["treatment"])
    with pytest.raises(DataError, match="'copy'"):
        fit_fe_cr2(
            data,
            events="events",
            trials="trials",
            treatment="treatment",
            period="period",
            cluster="cluster",
            covariates=["copy"],
        )


@pytest.mark.r
def test_r_script_reproduces_the_committed_reference(tmp_path):
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript is not installed")
    out = tmp_path / "ref.csv"
    subprocess.run(["Rscript", str(REF / "fe_cr2_reference.R"), str(out)], check=True, capture_output=True)
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(REF / "fe_cr2_reference.csv"))


def test_too_many_patterns_per_cluster_is_refused_with_advice(monkeypatch):
    import cscvault.analysis.models.robust as robust
    from cscvault.errors import UsageError

    monkeypatch.setattr(robust, "MAX_CELLS_PER_CLUSTER", 3)
    with pytest.raises(UsageError, match="bands"):
        _fit("5x6")
