"""Power and minimum detectable effect for a stepped-wedge design."""

from __future__ import annotations

import numpy as np
import pytest

from cscvault.analysis.power import (
    gls_variance,
    hussey_hughes_variance,
    minimum_detectable_effect,
    power_from_se,
    stepped_wedge_matrix,
    stepped_wedge_power,
)
from cscvault.errors import UsageError


@pytest.mark.parametrize(
    ("wedges", "periods"), [([1, 2, 3, 4, 5], 6), ([1, 1, 2, 2], 3), ([1, 2, 3], 4), ([2, 1, 3, 3, 1, 2], 4)]
)
@pytest.mark.parametrize("icc", [0.0, 0.01, 0.2])
def test_closed_form_equals_generalised_least_squares(wedges, periods, icc):
    X = stepped_wedge_matrix(wedges, periods)
    total, m = 0.06 * 0.94, 250
    closed = hussey_hughes_variance(X, (1 - icc) * total / m, icc * total)
    numeric = gls_variance(X, m, icc=icc, total_variance=total)
    assert closed == pytest.approx(numeric, rel=1e-9)


def test_no_cluster_variance_reduces_to_pooled_comparison():
    # icc = 0: cluster-period means are independent with equal variance; HH then matches a two-way
    # (period + treatment) least-squares regression, computed here directly.
    X = stepped_wedge_matrix([1, 2, 3], 4)
    sigma2 = 0.01
    rows = [np.r_[np.eye(4)[t], X[i, t]] for i in range(3) for t in range(4)]
    Z = np.array(rows)
    direct = sigma2 * np.linalg.inv(Z.T @ Z)[4, 4]
    assert hussey_hughes_variance(X, sigma2, 0.0) == pytest.approx(direct, rel=1e-12)


def test_cluster_autocorrelation_below_one_changes_the_variance():
    X = stepped_wedge_matrix([1, 2, 3, 4, 5], 6)
    v1 = gls_variance(X, 300, icc=0.02, total_variance=0.05, cac=1.0)
    v8 = gls_variance(X, 300, icc=0.02, total_variance=0.05, cac=0.8)
    assert v8 > v1  # decaying correlation loses the within-cluster comparison's precision


def test_power_and_mde_are_consistent():
    se = 0.01
    mde = minimum_detectable_effect(se, power=0.8)
    assert mde == pytest.approx((1.959963984540054 + 0.8416212335729143) * se)
    assert power_from_se(mde, se) == pytest.approx(0.8)
    mde_t = minimum_detectable_effect(se, power=0.8, df=3)
    assert mde_t > mde
    assert power_from_se(mde_t, se, df=3) == pytest.approx(0.8, abs=1e-9)
    assert power_from_se(0.0, se) == pytest.approx(0.025)  # only the size in one tail


def test_stepped_wedge_power_increases_with_size():
    small = stepped_wedge_power([1, 2, 3, 4, 5], 6, 100, baseline_risk=0.06, risk_difference=-0.015, icc=0.01)
    large = stepped_wedge_power([1, 2, 3, 4, 5], 6, 1000, baseline_risk=0.06, risk_difference=-0.015, icc=0.01)
    assert 0 < small.power < large.power < 1
    assert large.as_dict()["effect"] == -0.015


def test_invalid_designs():
    with pytest.raises(UsageError):
        stepped_wedge_matrix([0, 1], 3)
    with pytest.raises(UsageError):
        gls_variance(stepped_wedge_matrix([1], 2), 10, icc=1.5, total_variance=0.1)


def test_default_study_design_has_one_cluster_per_wedge():
    from cscvault.analysis.power import study_design
    from cscvault.study import load_study

    wedges, periods = study_design(load_study())
    assert wedges == [1, 2, 3, 4, 5] and periods == 6
    res = stepped_wedge_power(wedges, periods, 300, baseline_risk=0.05, risk_difference=-0.01, icc=0.01)
    assert 0 < res.power < 1
