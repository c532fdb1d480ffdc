"""The estimator on constructed panels with known effects, and its input checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cscvault.analysis.did.estimator import aggregate, att_gt, estimate, make_panel, to_json
from cscvault.errors import DataError, UsageError


def panel(effect: float = 0.0, noise: float = 0.0, seed: int = 1, dynamic: bool = False) -> pd.DataFrame:
    """40 units, years 1..8: 20 never treated, 10 from year 4, 10 from year 6; unit and year effects."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(40):
        g = 0 if u < 20 else (4 if u < 30 else 6)
        alpha = rng.normal(0, 5)
        for t in range(1, 9):
            treated = g > 0 and t >= g
            eff = (effect * (1 + (t - g)) if dynamic else effect) if treated else 0.0
            rows.append({"id": f"u{u}", "year": t, "g": g, "y": alpha + 0.7 * t + eff + rng.normal(0, noise)})
    return pd.DataFrame(rows)


def test_recovers_a_constant_effect_exactly_without_noise() -> None:
    res, aggs = estimate(panel(effect=3.0), outcome="y", time="year", unit="id", group="g", bootstrap_iterations=0)
    for c in res.cells:
        assert c.estimate == pytest.approx(3.0 if c.time >= c.group else 0.0, abs=1e-10)
    for kind in ("simple", "dynamic", "group", "calendar"):
        assert aggs[kind].overall.estimate == pytest.approx(3.0, abs=1e-10)


def test_recovers_a_growing_effect_by_event_time() -> None:
    _res, aggs = estimate(
        panel(effect=1.0, dynamic=True), outcome="y", time="year", unit="id", group="g", bootstrap_iterations=0
    )
    by_e = {p.event_time: p.estimate for p in aggs["dynamic"].parts}
    for e in range(5):
        assert by_e[e] == pytest.approx(1.0 + e, abs=1e-10)
    assert by_e[-1] == pytest.approx(0.0, abs=1e-10)


def test_intervals_cover_the_truth_in_a_noisy_panel() -> None:
    _res, aggs = estimate(
        panel(effect=2.0, noise=1.0), outcome="y", time="year", unit="id", group="g", bootstrap_iterations=499
    )
    s = aggs["simple"].overall
    assert s.ci_low < 2.0 < s.ci_high
    assert 0 < s.se < 1.0


def test_bootstrap_is_reproducible_by_seed_and_varies_across_seeds() -> None:
    data = panel(effect=2.0, noise=1.0)
    se = [
        estimate(data, outcome="y", time="year", unit="id", group="g", seed=s)[1]["simple"].overall.se
        for s in (5, 5, 6)
    ]
    assert se[0] == se[1]
    assert se[0] != se[2]


def test_missing_values_leave_units_out_of_affected_cells_only() -> None:
    data = panel(effect=3.0)
    data.loc[(data["id"] == "u0") & (data["year"] == 5), "y"] = np.nan
    res, aggs = estimate(data, outcome="y", time="year", unit="id", group="g", bootstrap_iterations=0)
    cells = {(c.group, c.time): c for c in res.cells}
    assert cells[(4, 5)].n_control == 19  # year 5 vs base year 3: u0 missing
    assert cells[(4, 4)].n_control == 20
    assert aggs["simple"].overall.estimate == pytest.approx(3.0, abs=1e-10)


def test_units_treated_in_the_first_period_are_dropped_and_late_ones_never_treated() -> None:
    data = panel()
    data.loc[data["id"] == "u25", "g"] = 1
    data.loc[data["id"] == "u35", "g"] = 99
    p = make_panel(data, outcome="y", time="year", unit="id", group="g")
    assert p.dropped_already_treated == ("u25",)
    assert p.n == 39
    assert p.group[list(p.units).index("u35")] == 0


def test_clusters_must_hold_whole_units() -> None:
    data = panel()
    data["county"] = data["year"]  # varies within unit
    with pytest.raises(DataError, match="clusters must contain whole units"):
        make_panel(data, outcome="y", time="year", unit="id", group="g", cluster="county")


def test_clusters_must_be_present() -> None:
    data = panel()
    data["county"] = data["id"].where(data.index != 7)
    with pytest.raises(DataError, match="missing cluster, first at row 8"):
        make_panel(data, outcome="y", time="year", unit="id", group="g", cluster="county")


def test_clustered_bootstrap_uses_cluster_count() -> None:
    data = panel(effect=2.0, noise=1.0)
    data["region"] = data["id"].str[1:].astype(int) % 10
    res, _ = estimate(data, outcome="y", time="year", unit="id", group="g", cluster="region", bootstrap_iterations=99)
    assert int(res.panel.cluster.max()) + 1 == 10


@pytest.mark.parametrize(
    ("change", "error", "pattern"),
    [
        (lambda d: d.drop(columns="y"), UsageError, "column 'y' is not in the data"),
        (lambda d: d.assign(y=d["y"].astype(object).where(d.index != 3, "n/a")), DataError, "non-numeric"),
        (lambda d: d.assign(g=0), DataError, "no treated units"),
        (lambda d: pd.concat([d, d.iloc[:1]]), DataError, "more than one row"),
        (lambda d: d.assign(g=np.where(d["year"] == 2, 4, d["g"])), DataError, "constant within each unit"),
    ],
)
def test_bad_input_is_a_one_line_error_without_values(change, error, pattern) -> None:
    with pytest.raises(error, match=pattern) as info:
        estimate(change(panel()), outcome="y", time="year", unit="id", group="g", bootstrap_iterations=0)
    assert "\n" not in str(info.value)
    assert "n/a" not in str(info.value)


def test_unknown_control_and_aggregation_are_usage_errors() -> None:
    p = make_panel(panel(), outcome="y", time="year", unit="id", group="g")
    with pytest.raises(UsageError, match="--control"):
        att_gt(p, control="everyone")
    with pytest.raises(UsageError, match="unknown aggregation"):
        aggregate(att_gt(p, bootstrap_iterations=0), "weekly")


def test_never_treated_control_needs_never_treated_units() -> None:
    data = panel()
    data = data[data["g"] > 0]
    with pytest.raises(DataError, match="notyettreated"):
        estimate(data, outcome="y", time="year", unit="id", group="g", bootstrap_iterations=0)
    res, _aggs = estimate(
        data, outcome="y", time="year", unit="id", group="g", control="notyettreated", bootstrap_iterations=0
    )
    assert {c.group for c in res.cells} == {4, 6}


def test_json_summary_lists_every_part() -> None:
    res, aggs = estimate(panel(effect=1.0), outcome="y", time="year", unit="id", group="g", bootstrap_iterations=0)
    doc = to_json(res, aggs)
    assert set(doc["aggregations"]) == {"simple", "dynamic", "group", "calendar"}
    assert len(doc["group_time"]) == len(res.cells) == 14
    assert doc["inference"].startswith("analytic")
