"""GEE with exchangeable correlation and bias-corrected variances, against geeCRT and statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cscvault.analysis.models.gee import binomial_cells, fit_gee, gee_summary
from cscvault.errors import DataError, UsageError

# geeCRT 1.1.4 vignette, sampleSWCRTSmall, binary outcome, simple exchangeable GEE (alpadj = FALSE).
GEECRT = {
    "estimate": -0.9820253,
    "alpha": 0.03937419,
    "model": 0.4257111,
    "sandwich": 0.5412118,
    "kc": 0.5961231,
    "md": 0.6573418,
    "fg": 0.5951026,
}
# geeCRT stops its Fisher scoring once the largest step is <= epsilon = 0.001, so its published
# estimate sits ~7e-5 from the converged root (we iterate to 1e-10). That sets the tolerances:
EST_TOL = 2e-4  # treatment log-OR (observed gap 6.98e-5)
ALPHA_TOL = 2e-5  # working correlation (observed gap 7.2e-6)
SE_TOL = 5e-5  # every SE (observed gaps 1.3e-5 to 1.6e-5), far below the gaps between estimators (>0.01)
# statsmodels solves the same equations to full precision when alpha is fixed, so agreement is tight:
STATSMODELS_TOL = 1e-7


@pytest.fixture(scope="module")
def swcrt(test_data):
    return pd.read_csv(test_data / "geecrt" / "geecrt_sampleSWCRTSmall.csv")


def _cells(frame):
    return binomial_cells(frame, outcome="y_bin", treatment="treatment", period="period", cluster="id")


def test_matches_geecrt_published_exchangeable_gee(swcrt):
    fit = fit_gee(_cells(swcrt))
    i = fit.names.index("treatment")
    assert fit.params[i] == pytest.approx(GEECRT["estimate"], abs=EST_TOL)
    assert fit.alpha == pytest.approx(GEECRT["alpha"], abs=ALPHA_TOL)
    for name in ("model", "sandwich", "kc", "md", "fg"):
        assert fit.se("treatment", name) == pytest.approx(GEECRT[name], abs=SE_TOL), name
    # geeCRT's t reference: df = clusters - parameters = 12 - 5
    assert fit.df == 7
    assert fit.df_rule == "clusters - parameters"


def test_fixed_alpha_reproduces_geecrt_ses_even_closer(swcrt):
    fit = fit_gee(_cells(swcrt), alpha=GEECRT["alpha"])
    assert fit.alpha_fixed
    for name in ("sandwich", "kc", "md", "fg"):
        assert fit.se("treatment", name) == pytest.approx(GEECRT[name], abs=SE_TOL), name


def test_equals_statsmodels_gee_with_the_same_fixed_alpha(swcrt):
    sm = pytest.importorskip("statsmodels.api")
    from statsmodels.genmod.cov_struct import Exchangeable

    class FixedExchangeable(Exchangeable):
        def __init__(self, value):
            super().__init__()
            self.dep_params = value

        def update(self, params):  # keep alpha fixed
            pass

    X = swcrt[["period1", "period2", "period3", "period4", "treatment"]].to_numpy(float)
    ours = fit_gee(_cells(swcrt), alpha=GEECRT["alpha"])
    for cov_type, ours_name in (("naive", "model"), ("robust", "sandwich"), ("bias_reduced", "md")):
        model = sm.GEE(
            swcrt["y_bin"].to_numpy(float),
            X,
            groups=swcrt["id"].to_numpy(),
            family=sm.families.Binomial(),
            cov_struct=FixedExchangeable(GEECRT["alpha"]),
        )
        res = model.fit(cov_type=cov_type)
        assert ours.params[ours.names.index("treatment")] == pytest.approx(res.params[4], abs=STATSMODELS_TOL)
        assert ours.se("treatment", ours_name) == pytest.approx(res.bse[4], abs=STATSMODELS_TOL), cov_type


def test_child_rows_and_cell_counts_give_the_same_fit(swcrt):
    cells = swcrt.groupby(["id", "period", "treatment"])["y_bin"].agg(events="sum", trials="count").reset_index()
    a = fit_gee(_cells(swcrt))
    b = fit_gee(
        binomial_cells(cells, events="events", trials="trials", treatment="treatment", period="period", cluster="id")
    )
    np.testing.assert_allclose(a.params, b.params, atol=1e-10)
    for name in ("sandwich", "kc", "md", "fg"):
        np.testing.assert_allclose(a.cov[name], b.cov[name], atol=1e-12)


def test_bias_corrections_inflate_the_sandwich(swcrt):
    fit = fit_gee(_cells(swcrt))
    s = {k: fit.se("treatment", k) for k in ("sandwich", "kc", "md", "fg")}
    assert s["sandwich"] < s["kc"] < s["md"]
    assert s["sandwich"] < s["fg"]


def test_five_clusters_fall_back_to_clusters_minus_two_and_say_so():
    rng = np.random.default_rng(3)
    rows = []
    for c in range(5):
        for t in range(6):
            n = 200
            rows.append({"la": f"L{c}", "period": t, "treated": int(t > c), "events": rng.binomial(n, 0.1), "n": n})
    frame = pd.DataFrame(rows)
    fit = fit_gee(
        binomial_cells(frame, events="events", trials="n", treatment="treated", period="period", cluster="la")
    )
    assert fit.df == 3 and fit.df_rule == "clusters - 2"
    summary = gee_summary(fit, "treated")
    assert summary["notes"] and "below 1" in summary["notes"][0]
    md = summary["variances"]["md"]
    assert md["ci_low"] < summary["estimate"] < md["ci_high"]
    assert math.isclose(summary["odds_ratio"], math.exp(summary["estimate"]))


def test_bad_inputs_are_one_line_errors_without_values(swcrt):
    with pytest.raises(UsageError, match="'nope'"):
        binomial_cells(swcrt, outcome="nope", treatment="treatment", period="period", cluster="id")
    bad = swcrt.assign(y_con=swcrt["y_con"])
    with pytest.raises(DataError, match="only 0 and 1"):
        binomial_cells(bad, outcome="y_con", treatment="treatment", period="period", cluster="id")
    with pytest.raises(UsageError, match="either"):
        binomial_cells(swcrt, treatment="treatment", period="period", cluster="id")


def test_period_coding_changes_only_fay_graubard(swcrt):
    kw = {"outcome": "y_bin", "treatment": "treatment", "period": "period", "cluster": "id"}
    a = fit_gee(binomial_cells(swcrt, period_coding="indicators", **kw))
    b = fit_gee(binomial_cells(swcrt, period_coding="reference", **kw))
    assert a.params[-1] == pytest.approx(b.params[-1], abs=1e-10)
    for name in ("model", "sandwich", "kc", "md"):  # invariant to reparametrising the periods
        assert a.se("treatment", name) == pytest.approx(b.se("treatment", name), rel=1e-9), name
    # FG rescales each coordinate of the score by its own leverage, so it depends on the coding;
    # geeCRT's published value uses one indicator per period (our default).
    assert a.se("treatment", "fg") != pytest.approx(b.se("treatment", "fg"), rel=1e-4)
