"""One ModelSpec drives every estimator; the older keywords build the same spec (compatibility path)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cscvault.analysis.models.design_matrix import build_design
from cscvault.analysis.models.gee import binomial_cells
from cscvault.analysis.models.glmm import fit_glmm_frame
from cscvault.analysis.models.robust import fit_fe_cr2
from cscvault.analysis.models.spec import ModelSpec, resolve
from cscvault.errors import UsageError


def frame(n: int = 1200, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, 5, n)
    period = rng.integers(0, 6, n)
    treated = (period > cluster).astype(int)
    sex = rng.choice(["f", "m"], n)
    eta = -1.0 + 0.3 * treated + 0.2 * (cluster - 2) + 0.4 * (sex == "f")
    return pd.DataFrame(
        {
            "y": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int),
            "treat": treated,
            "per": [f"p{p}" for p in period],
            "la": [f"la{c}" for c in cluster],
            "sex": sex,
            "share": rng.random(n),
        }
    )


SPEC = ModelSpec(
    treatment="treat", period="per", cluster="la", outcome="y", covariates=("share",), factors=("sex",),
    reference_levels={"sex": "m"},
)  # fmt: skip
KEYWORDS = {"treatment": "treat", "period": "per", "cluster": "la", "outcome": "y"}


def test_design_from_a_spec_equals_the_design_from_keywords() -> None:
    data = frame()
    a = build_design(data, SPEC)
    b = build_design(data, **KEYWORDS, covariates=["share"], factors=["sex"], reference_levels={"sex": "m"})
    assert a.names == b.names and np.array_equal(a.x, b.x) and np.array_equal(a.events, b.events)
    assert "sex[f]" in a.names


def test_glmm_from_a_spec_equals_the_keyword_fit() -> None:
    data = frame()
    a = fit_glmm_frame(data, SPEC)
    b = fit_glmm_frame(data, **KEYWORDS, covariates=["share"], factors=["sex"], reference_levels={"sex": "m"})
    assert a.effect.estimate == b.effect.estimate and a.effect.se == b.effect.se


def test_gee_cells_and_fe_cr2_take_the_spec_with_factors_as_covariates() -> None:
    data = frame()
    spec = SPEC.with_(covariates=(), reference_levels={})
    cells_a = binomial_cells(data, spec)
    cells_b = binomial_cells(data, **KEYWORDS, covariates=["sex"])
    assert np.array_equal(cells_a.X, cells_b.X) and cells_a.names == cells_b.names
    assert any("sex" in name for name in cells_a.names)
    cr_a = fit_fe_cr2(data, spec).coefficient("treat")
    cr_b = fit_fe_cr2(data, **KEYWORDS, covariates=["sex"]).coefficient("treat")
    assert cr_a == cr_b


def test_spec_and_keywords_together_are_refused() -> None:
    with pytest.raises(UsageError, match="not both"):
        fit_glmm_frame(frame(), SPEC, treatment="treat")
    with pytest.raises(UsageError, match="treatment, period and cluster"):
        resolve(None, treatment="treat", period="per")


def test_spec_names_its_weights_and_is_frozen() -> None:
    binomial = ModelSpec(treatment="t", period="p", cluster="c", events="e", trials="n")
    assert binomial.weights == "n" and SPEC.weights is None
    with pytest.raises(AttributeError):
        SPEC.treatment = "x"  # type: ignore[misc]
