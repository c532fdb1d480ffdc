"""A covariate level whose children all share one outcome is left out, and said so, so the fit converges."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cscvault.analysis.models.glmm import fit_glmm_frame
from cscvault.analysis.primary import drop_separated_levels
from cscvault.analysis.simulate import SteppedWedgeSpec, simulate_stepped_wedge


def _frame() -> pd.DataFrame:
    trial = simulate_stepped_wedge(SteppedWedgeSpec(n_children=6000, covariates=("female",)), seed=3)
    df = trial.children.copy()
    df["gender"] = np.where(df["female"] == 1, "female", "male")
    rng = np.random.default_rng(1)
    other = df.index[(df["outcome"] == 0).to_numpy() & (rng.random(len(df)) < 0.004)]
    df.loc[other, "gender"] = "other"  # a rare level with no events: separated
    return df


def test_separated_levels_are_named_and_left_out():
    df = _frame()
    kept, dropped = drop_separated_levels(df, "outcome", ["gender"], {"gender": "male"})
    n_other = int((df["gender"] == "other").sum())
    assert dropped == {"gender[other]": n_other} and n_other > 0
    assert len(kept) == len(df) - n_other and "other" not in set(kept["gender"])


def test_a_reference_level_is_never_left_out():
    df = _frame()
    df.loc[df["gender"] == "male", "outcome"] = 0
    _kept, dropped = drop_separated_levels(df, "outcome", ["gender"], {"gender": "male"})
    assert "gender[male]" not in dropped


def test_leaving_the_level_out_lets_the_fit_converge():
    df = _frame()
    args = dict(outcome="outcome", treatment="treatment", period="period", cluster="cluster", factors=["gender"])
    refs = {"gender": "male"}
    with_level = fit_glmm_frame(df, reference_levels=refs, **args)
    kept, _ = drop_separated_levels(df, "outcome", ["gender"], refs)
    without = fit_glmm_frame(kept, reference_levels=refs, **args)
    assert without.converged and without.optimisers_agree
    assert with_level.term("gender[other]").estimate < -5  # drifting towards minus infinity
    # the other parameters are the limit of the fit that kept the level
    assert abs(without.effect.estimate - with_level.effect.estimate) < 1e-3
