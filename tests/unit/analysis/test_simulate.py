"""The stepped-wedge simulator: reproducible, a valid design, truth recorded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cscvault.analysis.simulate import (
    SteppedWedgeSpec,
    aggregate,
    simulate_stepped_wedge,
    step_starts,
)
from cscvault.errors import UsageError


def test_same_seed_same_data_other_seed_other_data():
    spec = SteppedWedgeSpec(n_children=3_000)
    a = simulate_stepped_wedge(spec, seed=1)
    b = simulate_stepped_wedge(spec, seed=1)
    c = simulate_stepped_wedge(spec, seed=2)
    pd.testing.assert_frame_equal(a.children, b.children)
    assert a.truth == b.truth
    assert not a.children["outcome"].equals(c.children["outcome"])


def test_design_is_a_stepped_wedge():
    spec = SteppedWedgeSpec(n_clusters=5, n_periods=6, n_children=5_000)
    trial = simulate_stepped_wedge(spec, seed=3)
    kids = trial.children
    assert len(kids) == 5_000
    cells = kids.groupby(["cluster", "period"], observed=True)["treatment"].agg(["min", "max", "size"])
    assert (cells["min"] == cells["max"]).all()  # treatment is constant within a cluster-period
    assert len(cells) == 30  # every cluster-period has children
    for cluster, start in trial.truth["step_start"].items():
        treated = kids.loc[kids["cluster"] == cluster].groupby("period")["treatment"].first()
        assert (treated == (treated.index >= start).astype(int)).all()
    assert (kids.loc[kids["period"] == 1, "treatment"] == 0).all()  # period 1 is all control
    assert (kids.loc[kids["period"] == 6, "treatment"] == 1).all()  # all treated by the end
    assert sorted(trial.truth["step_start"].values()) == [2, 3, 4, 5, 6]


def test_step_starts_spread_clusters_over_the_steps():
    assert step_starts(5, 6, [0, 1, 2, 3, 4]).tolist() == [2, 3, 4, 5, 6]
    assert step_starts(4, 3, [3, 2, 1, 0]).tolist() == [3, 3, 2, 2]


def test_aggregate_sums_to_the_children():
    trial = simulate_stepped_wedge(SteppedWedgeSpec(n_children=4_000), seed=4)
    rows = trial.binomial()
    assert rows["trials"].sum() == 4_000
    assert rows["events"].sum() == trial.children["outcome"].sum()
    assert list(rows.columns) == [
        "cluster",
        "period",
        "treatment",
        "female",
        "age_band",
        "prev_cpp",
        "events",
        "trials",
    ]
    by_cluster = aggregate(trial.children).groupby("cluster")["trials"].sum()
    assert by_cluster.sum() == 4_000


def test_truth_records_the_parameters():
    spec = SteppedWedgeSpec(log_or=-0.25, cluster_sd=0.3, cluster_period_sd=0.1, n_children=2_000)
    truth = simulate_stepped_wedge(spec, seed=5).truth
    assert truth["log_or"] == -0.25
    assert truth["odds_ratio"] == pytest.approx(np.exp(-0.25))
    assert truth["cluster_sd"] == 0.3 and truth["cluster_period_sd"] == 0.1
    assert truth["intercept"] == pytest.approx(np.log(0.1 / 0.9))
    assert set(truth["covariate_effects"]) == {"female", "age_band", "prev_cpp"}


def test_event_rate_follows_the_baseline_risk():
    spec = SteppedWedgeSpec(
        n_children=200_000, cluster_sd=0.0, log_or=0.0, period_trend=0.0, covariates=(), baseline_risk=0.2
    )
    kids = simulate_stepped_wedge(spec, seed=6).children
    assert kids["outcome"].mean() == pytest.approx(0.2, abs=0.005)  # 5 binomial SEs


@pytest.mark.parametrize(
    "kwargs", [{"n_clusters": 1}, {"baseline_risk": 1.0}, {"covariates": ("height",)}, {"n_children": 3}]
)
def test_bad_specs_are_usage_errors(kwargs):
    with pytest.raises(UsageError):
        SteppedWedgeSpec(**kwargs)
