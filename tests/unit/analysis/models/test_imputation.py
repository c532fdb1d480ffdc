"""Rubin's rules (hand calculation and R mice) and chained-equation imputation of categorical covariates."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cscvault.analysis.models.imputation import barnard_rubin_df, fit_multinomial, mice, rubin, rubin_vector
from cscvault.errors import DataError, UsageError

REF = Path(__file__).resolve().parents[3] / "reference" / "robust"
EXACT = 1e-12  # pure arithmetic: only rounding differs
R_TOL = 1e-10  # R writes 15 significant digits


def test_rubin_equals_a_hand_calculation():
    q, u, m, nu_com = [1.0, 1.2, 0.9], [0.04, 0.05, 0.045], 3, 50.0
    qbar = (1.0 + 1.2 + 0.9) / 3
    ubar = (0.04 + 0.05 + 0.045) / 3
    b = ((1.0 - qbar) ** 2 + (1.2 - qbar) ** 2 + (0.9 - qbar) ** 2) / (m - 1)
    t = ubar + (1 + 1 / m) * b
    lam = (1 + 1 / m) * b / t
    nu_old = (m - 1) / lam**2
    nu_obs = (nu_com + 1) / (nu_com + 3) * nu_com * (1 - lam)
    nu = nu_old * nu_obs / (nu_old + nu_obs)

    p = rubin(q, u, df_complete=nu_com)
    assert p.estimate == pytest.approx(qbar, abs=EXACT)
    assert p.within == pytest.approx(ubar, abs=EXACT)
    assert p.between == pytest.approx(b, abs=EXACT)
    assert p.total == pytest.approx(t, abs=EXACT)
    assert p.df == pytest.approx(nu, abs=1e-9)
    assert p.df == pytest.approx(8.4249, abs=1e-4)  # the same numbers worked on paper
    lo, hi = p.ci(0.95)
    from scipy import stats

    half = stats.t.ppf(0.975, nu) * math.sqrt(t)
    assert (lo, hi) == pytest.approx((qbar - half, qbar + half), abs=EXACT)


def test_rubin_equals_r_mice_pool_scalar():
    ref = pd.read_csv(REF / "rubin_reference.csv")
    for row in ref.itertuples():
        q = [float(x) for x in row.q.split(";")]
        u = [float(x) for x in row.u.split(";")]
        p = rubin(q, u, df_complete=row.df_complete)
        assert p.m == row.m
        assert p.estimate == pytest.approx(row.qbar, abs=R_TOL)
        assert p.between == pytest.approx(row.b, abs=R_TOL)
        assert p.total == pytest.approx(row.t, abs=R_TOL)
        assert p.df == pytest.approx(row.df, rel=1e-9)
        assert p.riv == pytest.approx(row.riv, rel=1e-9)
        assert p.fmi == pytest.approx(row.fmi, rel=1e-9)


def test_barnard_rubin_limits():
    assert barnard_rubin_df(5, 0.2, math.inf) == pytest.approx(4 / 0.04)  # classic Rubin df
    assert barnard_rubin_df(5, 0.0, 100.0) == pytest.approx(101 / 103 * 100)  # no between variance
    with pytest.raises(UsageError):
        rubin([1.0], [0.1])


def test_rubin_vector_pools_the_covariance():
    est = [np.array([1.0, 2.0]), np.array([1.2, 1.8]), np.array([0.8, 2.1])]
    cov = [np.eye(2) * 0.1] * 3
    pooled, total = rubin_vector(est, cov, df_complete=100)
    b = np.cov(np.vstack(est), rowvar=False)
    np.testing.assert_allclose(total, 0.1 * np.eye(2) + (4 / 3) * b, atol=EXACT)
    assert pooled[1].total == pytest.approx(total[1, 1], abs=EXACT)


def _incomplete(seed=1, n=3000):
    rng = np.random.default_rng(seed)
    la = rng.choice(["A", "B", "C"], n)
    p_white = np.where(la == "A", 0.9, np.where(la == "B", 0.1, 0.5))
    white = rng.random(n) < p_white
    ethnicity = np.where(white, "White", rng.choice(["Asian", "Black", "Mixed"], n))
    gender = rng.choice(["F", "M"], n)
    y = (rng.random(n) < 0.08 + 0.05 * white).astype(int)
    frame = pd.DataFrame({"la": la, "ethnicity": ethnicity, "gender": gender, "y": y, "period": rng.integers(0, 6, n)})
    truth = frame.copy()
    frame.loc[rng.random(n) < 0.3, "ethnicity"] = None
    frame.loc[rng.random(n) < 0.1, "gender"] = None
    return frame, truth


def test_mice_is_seeded_and_only_fills_missing_cells():
    frame, _ = _incomplete()
    kw = {"impute": ["ethnicity", "gender"], "predictors": ["y", "period"], "cluster": "la", "iterations": 3}
    a = mice(frame, m=3, seed=7, **kw)
    b = mice(frame, m=3, seed=7, **kw)
    c = mice(frame, m=3, seed=8, **kw)
    assert len(a) == 3
    for x, y in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(x, y)
    assert not a[0]["ethnicity"].equals(c[0]["ethnicity"])
    assert not a[0]["ethnicity"].equals(a[1]["ethnicity"])  # imputations differ from each other
    for done in a:
        assert done[["ethnicity", "gender"]].notna().all().all()
        observed = frame["ethnicity"].notna()
        pd.testing.assert_series_equal(
            done.loc[observed, "ethnicity"], frame.loc[observed, "ethnicity"], check_dtype=False
        )
        assert set(done["ethnicity"]) <= {"White", "Asian", "Black", "Mixed"}


def test_cluster_in_the_imputation_model_recovers_la_specific_rates():
    frame, truth = _incomplete(seed=2, n=4000)
    done = mice(frame, impute=["ethnicity"], predictors=["y"], cluster="la", m=5, seed=3, iterations=2)
    miss = frame["ethnicity"].isna()
    for la, expected in (("A", 0.9), ("B", 0.1)):
        rows = miss & (frame["la"] == la)
        share = np.mean([(d.loc[rows, "ethnicity"] == "White").mean() for d in done])
        assert share == pytest.approx(expected, abs=0.06), la  # 5 x ~400 draws: SE ~ 0.007
    # a pooled proportion over imputations is close to the complete-data truth
    est = [float((d["ethnicity"] == "White").mean()) for d in done]
    var = [e * (1 - e) / len(frame) for e in est]
    pooled = rubin(est, var, df_complete=len(frame) - 1)
    truth_share = float((truth["ethnicity"] == "White").mean())
    lo, hi = pooled.ci(0.999)
    assert lo < truth_share < hi


def test_multinomial_fit_recovers_grouped_probabilities():
    X = np.column_stack([np.ones(4), [0, 1, 0, 1], [0, 0, 1, 1]])
    counts = np.array([[50, 30, 20], [20, 50, 30], [30, 20, 50], [10, 10, 80]], dtype=float)
    beta, cov = fit_multinomial(X, counts, ridge=0.0)
    eta = np.column_stack([np.zeros(4), X @ beta.T])
    P = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    # saturated? no (3 params per logit, 4 rows) - check the score equations instead: X'(counts - nP) = 0
    np.testing.assert_allclose(X.T @ (counts[:, 1:] - counts.sum(1)[:, None] * P[:, 1:]), 0, atol=1e-6)
    assert cov.shape == (6, 6) and np.all(np.linalg.eigvalsh(cov) > 0)


def test_mice_errors():
    frame, _ = _incomplete(n=200)
    with pytest.raises(UsageError, match="'nope'"):
        mice(frame, impute=["nope"], predictors=[], cluster="la", m=2, seed=1)
    bad = frame.assign(y=frame["y"].astype(float))
    bad.loc[0, "y"] = None
    with pytest.raises(DataError, match="'y'"):
        mice(bad, impute=["ethnicity"], predictors=["y"], cluster="la", m=2, seed=1)


@pytest.mark.r
def test_r_script_reproduces_the_committed_rubin_reference(tmp_path):
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript is not installed")
    out = tmp_path / "rubin.csv"
    subprocess.run(["Rscript", str(REF / "rubin_reference.R"), str(out)], check=True, capture_output=True)
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(REF / "rubin_reference.csv"))


def test_pool_fits_names_each_coefficient():
    from cscvault.analysis.models.imputation import pool_fits

    fits = [(np.array([0.1, -0.3]), np.eye(2) * 0.01), (np.array([0.2, -0.2]), np.eye(2) * 0.02)]
    pooled = pool_fits(fits, ["a", "b"], df_complete=200)
    assert pooled["b"].estimate == pytest.approx(-0.25)
    assert pooled["a"].total == pytest.approx(0.015 + 1.5 * 0.005)
    with pytest.raises(UsageError):
        pool_fits(fits[:1], ["a", "b"])
