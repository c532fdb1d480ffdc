"""Average marginal effect (risk difference) with a delta-method CI."""

from __future__ import annotations

import numpy as np
import pytest

from cscvault.analysis.models.margins import average_marginal_effect
from cscvault.errors import UsageError


def _expit(x):
    return 1 / (1 + np.exp(-x))


def test_single_treatment_model_equals_the_closed_form():
    beta = np.array([-2.0, -0.3])
    cov = np.array([[0.01, -0.004], [-0.004, 0.02]])
    X = np.column_stack([np.ones(10), np.r_[np.zeros(5), np.ones(5)]])
    me = average_marginal_effect(X, beta, cov, 1)
    p1, p0 = _expit(-2.3), _expit(-2.0)
    grad = np.array([p1 * (1 - p1) - p0 * (1 - p0), p1 * (1 - p1)])
    assert me.ame == pytest.approx(p1 - p0, abs=1e-15)
    assert me.se == pytest.approx(np.sqrt(grad @ cov @ grad), abs=1e-15)
    assert me.ci_low == pytest.approx(me.ame - 1.959963984540054 * me.se, abs=1e-12)


def test_equals_statsmodels_discrete_marginal_effect():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(4)
    n = 4000
    x = rng.normal(size=n)
    t = rng.integers(0, 2, n)
    y = (rng.random(n) < _expit(-1 + 0.5 * x - 0.4 * t)).astype(float)
    X = np.column_stack([np.ones(n), x, t])
    fit = sm.Logit(y, X).fit(disp=0)
    me = average_marginal_effect(X, fit.params, fit.cov_params(), 2)
    ref = fit.get_margeff(at="overall", method="dydx", dummy=True)
    # statsmodels uses numerical derivatives for the delta method: agreement to ~1e-7
    assert me.ame == pytest.approx(ref.margeff[1], abs=1e-10)
    assert me.se == pytest.approx(ref.margeff_se[1], rel=1e-5)


def test_weights_equal_repeated_rows():
    beta = np.array([-1.5, 0.4, -0.2])
    cov = np.diag([0.02, 0.01, 0.03])
    X = np.array([[1, 0, 0], [1, 1, 1], [1, 2, 0]], dtype=float)
    w = np.array([3, 1, 2])
    a = average_marginal_effect(X, beta, cov, 2, weights=w)
    b = average_marginal_effect(np.repeat(X, w, axis=0), beta, cov, 2)
    assert a.ame == pytest.approx(b.ame) and a.se == pytest.approx(b.se)
    t = average_marginal_effect(X, beta, cov, 2, weights=w, df=3)
    assert t.ci_high - t.ci_low > a.ci_high - a.ci_low  # t(3) is wider than z


def test_bad_shapes_are_usage_errors():
    with pytest.raises(UsageError):
        average_marginal_effect(np.ones((3, 2)), [1.0], np.eye(2), 1)
    with pytest.raises(UsageError):
        average_marginal_effect(np.ones((3, 2)), [1.0, 2.0], np.eye(2), 5)


def test_ame_from_cells_weights_by_children():
    import pandas as pd

    from cscvault.analysis.models.gee import binomial_cells
    from cscvault.analysis.models.margins import ame_from_cells
    from cscvault.analysis.models.robust import fit_logit

    frame = pd.DataFrame(
        {"la": list("AABB"), "period": [0, 1, 0, 1], "t": [0, 1, 0, 0], "d": [10, 6, 12, 11], "n": [100, 80, 90, 120]}
    )
    cells = binomial_cells(frame, events="d", trials="n", treatment="t", period="period", cluster="la")
    fit = fit_logit(cells)
    me = ame_from_cells(cells, fit.params, fit.bread, "t")
    direct = average_marginal_effect(cells.X, fit.params, fit.bread, cells.names.index("t"), weights=cells.trials)
    assert me.ame == pytest.approx(direct.ame) and me.se == pytest.approx(direct.se)
    with pytest.raises(UsageError):
        ame_from_cells(cells, fit.params, fit.bread, "nope")
