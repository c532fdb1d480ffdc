"""Synthetic control, placebo tests, and the whole plan writing results.json and the report section."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from cscvault.analysis.did.diagnostics import placebo_in_space, placebo_in_time
from cscvault.analysis.did.estimator import make_panel
from cscvault.analysis.did.synthetic_control import simplex_weights, synthetic_control
from cscvault.api import DidPlanConfig, run_did_plan
from cscvault.errors import DataError
from cscvault.report.numbers import fmt_number
from cscvault.report.render import report_css
from cscvault.study import load_study


def test_simplex_weights_recover_a_convex_combination() -> None:
    rng = np.random.default_rng(3)
    donors = rng.normal(50, 10, size=(8, 30))
    true = np.zeros(30)
    true[[2, 7, 11]] = [0.5, 0.3, 0.2]
    w = simplex_weights(donors, donors @ true)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    assert (w >= 0).all()
    assert np.abs(donors @ w - donors @ true).max() < 1e-6


def test_synthetic_control_finds_an_effect_and_ranks_it_first() -> None:
    rng = np.random.default_rng(4)
    times = tuple(range(2013, 2026))
    trend = np.linspace(0, 10, len(times))
    donors = {f"d{j}": 40 + rng.normal(0, 8) + trend * rng.uniform(0.5, 1.5) + rng.normal(0, 0.5, len(times))
              for j in range(40)}  # fmt: skip
    keys = list(donors)
    treated = 0.5 * donors[keys[0]] + 0.5 * donors[keys[1]]
    post = np.array([t >= 2021 for t in times])
    treated = treated - 8.0 * post
    sc = synthetic_control("LA", treated, donors, times, 2021)
    assert sc.effect == pytest.approx(-8.0, abs=1.0)
    assert sc.pre_rmspe < 0.5
    assert sc.p_value == pytest.approx(1 / 41)
    assert set(sc.weights) >= {keys[0], keys[1]}


def test_synthetic_control_needs_pre_periods_and_complete_paths() -> None:
    times = (2019, 2020, 2021)
    with pytest.raises(DataError, match="two pre-periods"):
        synthetic_control("LA", np.ones(3), {"a": np.ones(3)}, times, 2020)
    with pytest.raises(DataError, match="complete"):
        synthetic_control("LA", np.array([1.0, np.nan, 2.0]), {"a": np.ones(3)}, times, 2021)


def _null_panel(seed: int = 2) -> pd.DataFrame:
    """60 LAs, years 2013-2025, no effect; five 'study' LAs with the study's go-live years."""
    rng = np.random.default_rng(seed)
    groups = [2021, 2021, 2022, 2022, 2023] + [0] * 55
    rows = []
    for i, g in enumerate(groups):
        level = rng.normal(60, 15)
        for t in range(2013, 2026):
            rows.append(
                {"la_code": f"{i:03d}", "year": t, "group": g, "y": level + 0.8 * (t - 2013) + rng.normal(0, 2)}
            )
    return pd.DataFrame(rows)


def test_placebo_in_time_on_null_data_is_consistent_with_zero() -> None:
    pt = placebo_in_time(_null_panel(), shift=5, last_year=2019, bootstrap_iterations=199, space_draws=99)
    assert pt.fake_groups == (2016, 2017, 2018)
    assert max(pt.result.panel.times) == 2019
    s = pt.aggregates["simple"].overall
    lo, hi = pt.space.interval(s.estimate)
    assert lo < 0 < hi
    assert pt.space.p_value(s.estimate) > 0.05


def test_placebo_in_time_must_stay_before_real_go_live() -> None:
    with pytest.raises(DataError, match="must precede"):
        placebo_in_time(_null_panel(), shift=5, last_year=2021)
    with pytest.raises(DataError, match="fake go-live after"):
        placebo_in_time(_null_panel(), shift=1, last_year=2019)


def test_permutation_p_value_detects_a_large_effect() -> None:
    data = _null_panel()
    data.loc[(data["group"] > 0) & (data["year"] >= data["group"]), "y"] -= 25.0
    panel = make_panel(data, outcome="y", time="year", unit="la_code", group="group")
    space = placebo_in_space(panel, draws=99, seed=1)
    from cscvault.analysis.did.estimator import aggregate, att_gt

    est = aggregate(att_gt(panel, bootstrap_iterations=0), "simple").overall.estimate
    assert est == pytest.approx(-25.0, abs=2.5)
    assert space.p_value(est) == pytest.approx(1 / 100)
    lo, hi = space.interval(est)
    assert lo < -25.0 + 5 and hi < 0


@pytest.fixture(scope="module")
def plan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("did")
    config = DidPlanConfig(
        bootstrap_iterations=99, placebo_draws=39, placebo_time_draws=19, synthetic_placebos=False, seed=11
    )
    summary = run_did_plan(out, load_study(), config=config)
    return out, summary


def test_plan_writes_results_rows(plan_run) -> None:
    out, summary = plan_run
    doc = json.loads((out / "results.json").read_text())
    rows = doc["rows"]
    keys = {"analysis", "outcome", "sample", "model", "term", "estimate", "se", "ci_low", "ci_high", "p_value", "n"}
    assert all(set(r) == keys for r in rows)
    assert {r["outcome"] for r in rows} == {"cla_rate", "cpp_rate", "rereferral_pct"}
    headline = summary["headline"]
    assert len(headline) == 9  # 3 outcomes x (never-treated, not-yet-treated, permutation)
    assert all(r["term"] == "ATT (simple)" and r["model"].startswith("CS-DiD") for r in headline)
    late = [r for r in rows if "first full DfE year" in r["model"]]
    assert len(late) == 6  # bootstrap and permutation per outcome
    for r in headline:
        assert r["ci_low"] < r["estimate"] < r["ci_high"]
        assert r["n"] > 100
    assert any(r["model"].startswith("placebo in time") for r in rows)
    assert any(r["term"].startswith("Swindon: mean post-period gap") for r in rows)
    assert doc["data"]["licence"] == "Open Government Licence v3.0"
    assert len(doc["excluded"]) == 11
    assert summary["rows"] == len(rows)


def test_plan_report_is_a_document_in_the_main_report_style_with_a_headline(plan_run) -> None:
    out, summary = plan_run
    html = (out / "did_report.html").read_text()
    assert html.startswith("<!doctype html>") and "<section id='did-supplementary'>" in html
    assert report_css() in html  # the main report's style sheet, verbatim
    box = re.search(r"<div id='did-headline'><p class='headline'>(.*?)</p>", html)
    assert box is not None
    first = summary["headline"][0]  # cla_rate, never-treated comparison, bootstrap
    assert first["outcome"] == "cla_rate" and "nevertreated" in first["model"]
    assert f"ATT, never-treated comparison): {fmt_number(first['estimate'])} per 10,000" in box.group(1)
    assert f"bootstrap CI {fmt_number(first['ci_low'])} to {fmt_number(first['ci_high'])}" in box.group(1)
    assert re.search(
        r"placebo-in-space interval -?\d+\.\d\d to -?\d+\.\d\d; p (=|&lt;) 0\.\d{3}, permutation", box.group(1)
    )
    assert html.count("data:image/png;base64,") == 6  # event study + trajectories per outcome
    assert "Caveats" in html and "Open Government Licence" in html
    assert "<0." not in html  # "<0.001" p-values are escaped
    for name in ("Walsall", "Lancashire", "Telford and Wrekin", "Wandsworth", "Swindon"):
        assert name in html


def test_real_data_point_estimates_are_stable() -> None:
    """Regression guard on the shipped panel: deterministic point estimates (no bootstrap) as reported."""
    from cscvault.analysis.did.estimator import aggregate, att_gt
    from cscvault.analysis.did.loader import OUTCOMES, load_panel
    from cscvault.analysis.did.pool import analysis_panel, build_pool

    panel = load_panel()
    pool = build_pool(panel, load_study())
    want = {"cla_rate": -6.0686, "cpp_rate": -4.7731, "rereferral_pct": -3.5012}
    for o in OUTCOMES:
        ap = analysis_panel(panel, pool, o)
        p = make_panel(ap.data, outcome="y", time="year", unit="la_code", group="group")
        got = aggregate(att_gt(p, bootstrap_iterations=0), "simple").overall.estimate
        assert got == pytest.approx(want[o.id], abs=5e-5), o.id


@pytest.mark.slow
def test_full_plan_placebos_for_cla_and_rereferral_include_zero(tmp_path) -> None:
    """The pre-specified plan (999 bootstrap draws, 499/199 placebo draws): placebo-in-time permutation
    intervals for the looked-after rate and re-referral % include zero (child protection's do not: reported)."""
    run_did_plan(tmp_path, load_study())
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    for r in rows:
        if r["model"].startswith("placebo in time") and "permutation" in r["model"] and r["outcome"] != "cpp_rate":
            assert r["ci_low"] < 0 < r["ci_high"], r


@pytest.mark.parametrize("control", ["nevertreated", "notyettreated"])
def test_fast_point_estimates_agree_with_the_full_estimator(control) -> None:
    from cscvault.analysis.did.diagnostics import point_estimates
    from cscvault.analysis.did.estimator import aggregate, att_gt

    data = _null_panel(seed=9)
    data.loc[data.index % 37 == 0, "y"] = np.nan  # some missing cells
    panel = make_panel(data, outcome="y", time="year", unit="la_code", group="group")
    res = att_gt(panel, control=control, bootstrap_iterations=0)
    simple, by_e = point_estimates(panel, control=control)
    assert simple == pytest.approx(aggregate(res, "simple").overall.estimate, abs=1e-12)
    full = {p.event_time: p.estimate for p in aggregate(res, "dynamic").parts}
    assert by_e.keys() == full.keys()
    for e, v in full.items():
        assert by_e[e] == pytest.approx(v, abs=1e-12)
