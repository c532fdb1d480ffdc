"""Exposure-time treatment effects (Kenny et al. 2022): derivation, the indicator model, the time-averaged
effect and its SE, the heterogeneity test, the delayed variant, the simulator option and the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cscvault.analysis.models.exposure import (
    AVERAGE_TERM,
    DELAYED_TERM,
    TRANSITION_TERM,
    exposure_time,
    fit_exposure_frame,
)
from cscvault.analysis.models.glmm import fit_glmm_frame
from cscvault.analysis.simulate import SteppedWedgeSpec, simulate_stepped_wedge
from cscvault.cli import main
from cscvault.errors import DataError, UsageError

BUILD_UP = (-0.05, -0.15, -0.25, -0.35, -0.45)
COLS = {"treatment": "treatment", "period": "period", "cluster": "cluster"}
BINOMIAL = {"events": "events", "trials": "trials", **COLS}
CELLS = {"events": "events", "trials": "trials", "period": "period", "cluster": "cluster"}  # no treatment


@pytest.fixture(scope="module")
def trial():
    spec = SteppedWedgeSpec(n_children=20_000, covariates=("female",), exposure_log_ors=BUILD_UP)
    return simulate_stepped_wedge(spec, seed=21)


@pytest.fixture(scope="module")
def analysis(trial):
    return fit_exposure_frame(trial.binomial(), covariates=["female"], **BINOMIAL)


# -- exposure time ---------------------------------------------------------------------------------


def test_exposure_time_counts_periods_since_the_first_treated_one():
    frame = pd.DataFrame(
        {
            "cluster": ["A"] * 4 + ["B"] * 4 + ["C"] * 4,
            "period": [1, 2, 3, 4] * 3,
            "treatment": [0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0],  # C is never treated
        }
    )
    got = exposure_time(frame, **COLS)
    assert got.tolist() == [0, 1, 2, 3, 0, 0, 0, 1, 0, 0, 0, 0]
    assert got.index.equals(frame.index)


def test_exposure_time_follows_the_given_period_order_not_text_order():
    frame = pd.DataFrame({"cluster": ["A"] * 3, "period": ["wedge_10", "wedge_2", "wedge_9"], "treatment": [1, 0, 1]})
    order = ["wedge_2", "wedge_9", "wedge_10"]
    assert exposure_time(frame, period_order=order, **COLS).tolist() == [2, 0, 1]
    with pytest.raises(DataError, match="control rows after its first treated period"):
        exposure_time(frame, **COLS)  # text order puts wedge_10 first: treated, then control again


def test_exposure_time_rejects_what_it_cannot_define():
    frame = pd.DataFrame({"cluster": ["A", "A"], "period": [1, 2], "treatment": [0.5, 1]})
    with pytest.raises(DataError, match="only 0 and 1"):
        exposure_time(frame, **COLS)
    frame["treatment"] = [0, 1]
    with pytest.raises(DataError, match="not in the period order"):
        exposure_time(frame, period_order=[1], **COLS)
    with pytest.raises(UsageError, match="no column named 'arm'"):
        exposure_time(frame, treatment="arm", period="period", cluster="cluster")


def test_exposure_time_matches_the_simulated_step_starts(trial):
    kids = trial.children
    start = kids["cluster"].astype(str).map(trial.truth["step_start"]).astype(int)
    expected = np.where(kids["treatment"] == 1, kids["period"] - start + 1, 0)
    assert exposure_time(kids, **COLS).tolist() == expected.tolist()


# -- the indicator model ---------------------------------------------------------------------------


def test_indicator_model_equals_a_hand_built_glmm_with_dummy_columns(trial, analysis):
    rows = trial.binomial()
    start = rows["cluster"].map(trial.truth["step_start"])
    exposure = np.where(rows["treatment"] == 1, rows["period"] - start + 1, 0)
    for k in range(1, 6):
        rows[f"e{k}"] = (exposure == k).astype(int)
    hand = fit_glmm_frame(rows, treatment="e1", covariates=["e2", "e3", "e4", "e5", "female"], **CELLS)
    ours = {lv.exposure: lv.effect for lv in analysis.levels}
    assert sorted(ours) == [1, 2, 3, 4, 5]
    for k in range(1, 6):
        assert ours[k].estimate == pytest.approx(hand.term(f"e{k}").estimate, abs=1e-8)
        assert ours[k].se == pytest.approx(hand.term(f"e{k}").se, rel=1e-6)
    assert analysis.fit.loglik == pytest.approx(hand.loglik, abs=1e-8)
    assert analysis.fit.term("female").estimate == pytest.approx(hand.term("female").estimate, abs=1e-8)
    assert analysis.fit.optimisers_agree and analysis.fit.converged
    # the children per exposure time are the simulated ones
    trials = rows.groupby(exposure)["trials"].sum()
    assert [lv.n for lv in analysis.levels] == trials.loc[1:].tolist()
    assert analysis.n_control == trials.loc[0]


def test_time_averaged_effect_is_the_mean_with_the_contrast_variance(analysis):
    names = [t.term for t in analysis.fit.terms]
    idx = [names.index(f"exposure[{k}]") for k in range(1, 6)]
    beta = np.array([t.estimate for t in analysis.fit.terms])
    a = np.zeros(len(beta))
    a[idx] = 0.2
    avg = analysis.average
    assert avg.term == AVERAGE_TERM
    assert avg.estimate == pytest.approx(beta[idx].mean(), abs=1e-12)
    assert avg.se == pytest.approx(math.sqrt(a @ analysis.fit.cov @ a), rel=1e-12)
    # the average of correlated estimates: its SE is not the naive sqrt(mean variance / K)
    naive = math.sqrt(np.mean(np.diag(analysis.fit.cov)[idx]) / 5)
    assert abs(avg.se - naive) / naive > 0.05
    z = avg.estimate / avg.se
    assert avg.p_value == pytest.approx(2 * stats.norm.sf(abs(z)))
    assert avg.odds_ratio == pytest.approx(math.exp(avg.estimate))
    assert avg.ci_low == pytest.approx(math.exp(avg.estimate - 1.959963985 * avg.se))


def test_heterogeneity_wald_statistic_does_not_depend_on_the_contrast_basis(analysis):
    names = [t.term for t in analysis.fit.terms]
    idx = [names.index(f"exposure[{k}]") for k in range(1, 6)]
    beta = np.array([t.estimate for t in analysis.fit.terms])
    # consecutive differences, where the module contrasts each level with the first
    c = np.zeros((4, len(beta)))
    for r in range(4):
        c[r, idx[r]], c[r, idx[r + 1]] = -1.0, 1.0
    d = c @ beta
    stat = float(d @ np.linalg.solve(c @ analysis.fit.cov @ c.T, d))
    het = analysis.heterogeneity
    assert het is not None and het.df == 4
    assert het.statistic == pytest.approx(stat, rel=1e-9)
    assert het.p_value == pytest.approx(stats.chi2.sf(stat, 4))


def test_delayed_variant_has_its_own_transition_term(trial, analysis):
    d = analysis.delayed
    assert d is not None and analysis.delayed_error is None
    assert d.effect.term == DELAYED_TERM and d.transition.term == TRANSITION_TERM
    rows = trial.binomial()
    start = rows["cluster"].map(trial.truth["step_start"])
    exposure = np.where(rows["treatment"] == 1, rows["period"] - start + 1, 0)
    rows["late"] = (exposure >= 2).astype(int)
    rows["first"] = (exposure == 1).astype(int)
    hand = fit_glmm_frame(rows, treatment="late", covariates=["first", "female"], **CELLS)
    assert d.effect.estimate == pytest.approx(hand.term("late").estimate, abs=1e-8)
    assert d.transition.estimate == pytest.approx(hand.term("first").estimate, abs=1e-8)


def test_single_exposure_time_has_no_test_and_no_delayed_effect():
    # the first two periods of a 4-cluster, 3-period wedge: two clusters treated, all at exposure 1
    spec = SteppedWedgeSpec(n_clusters=4, n_periods=3, n_children=6_000, covariates=())
    rows = simulate_stepped_wedge(spec, seed=3).binomial()
    rows = rows[rows["period"] <= 2]
    res = fit_exposure_frame(rows, **BINOMIAL)
    assert [lv.exposure for lv in res.levels] == [1]
    assert res.heterogeneity is None and res.delayed is None
    assert "second exposure period" in (res.delayed_error or "")
    it = fit_glmm_frame(rows, **BINOMIAL)
    assert res.average.estimate == pytest.approx(it.effect.estimate, abs=1e-8)  # one level: the IT model


def _heterogeneity_p(log_ors, seed):
    spec = SteppedWedgeSpec(n_children=27_000, covariates=(), exposure_log_ors=log_ors)
    rows = simulate_stepped_wedge(spec, seed=seed).binomial()
    res = fit_exposure_frame(rows, delayed=False, **BINOMIAL)
    assert res.heterogeneity is not None
    return res.heterogeneity.p_value


def test_heterogeneity_test_holds_its_size_under_a_constant_effect_and_detects_a_strong_build_up():
    # Constant effect: p-values are roughly uniform, so few rejections and a mean near 0.5. With 16
    # trials, 4 or more rejections at 5% has probability 0.007 under a correct test.
    null = [_heterogeneity_p((-0.2,), seed) for seed in range(100, 116)]
    assert sum(p < 0.05 for p in null) <= 3
    assert 0.3 < float(np.mean(null)) < 0.7
    # Strong build-up, log-OR 0 at go-live to -1.2 four periods later: found every time.
    strong = [_heterogeneity_p((0.0, -0.3, -0.6, -0.9, -1.2), seed) for seed in range(200, 204)]
    assert max(strong) < 0.01


# -- simulator -------------------------------------------------------------------------------------


def test_simulator_exposure_option_records_truth_and_keeps_seeds():
    base = SteppedWedgeSpec(n_children=5_000, log_or=-0.2)
    same = SteppedWedgeSpec(n_children=5_000, log_or=-0.2, exposure_log_ors=(-0.2,))
    a, b = simulate_stepped_wedge(base, seed=8), simulate_stepped_wedge(same, seed=8)
    pd.testing.assert_frame_equal(a.children, b.children)  # a constant tuple is the immediate effect
    assert a.truth["exposure_log_ors"] == {str(k): -0.2 for k in range(1, 6)}
    assert a.truth["time_averaged_log_or"] == pytest.approx(-0.2)
    built = simulate_stepped_wedge(SteppedWedgeSpec(n_children=5_000, exposure_log_ors=BUILD_UP[:3]), seed=8)
    # past the tuple's end the last value holds
    assert built.truth["exposure_log_ors"] == {"1": -0.05, "2": -0.15, "3": -0.25, "4": -0.25, "5": -0.25}
    assert built.truth["time_averaged_log_or"] == pytest.approx(np.mean([-0.05, -0.15, -0.25, -0.25, -0.25]))
    assert built.truth["log_or"] == built.truth["time_averaged_log_or"]
    assert built.children["treatment"].equals(a.children["treatment"])  # same design, other outcomes
    with pytest.raises(UsageError):
        SteppedWedgeSpec(exposure_log_ors=())
    with pytest.raises(UsageError):
        SteppedWedgeSpec(exposure_log_ors=(float("nan"),))


# -- CLI -------------------------------------------------------------------------------------------


def _run(capsys, args):
    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


@pytest.fixture(scope="module")
def cells_csv(trial, tmp_path_factory):
    path = tmp_path_factory.mktemp("exposure") / "cells.csv"
    trial.binomial().to_csv(path, index=False)
    return path


ARGS = ["--events", "events", "--trials", "trials", "--treatment", "treatment", "--period", "period"]
ARGS += ["--cluster", "cluster", "--covariates", "female"]


def test_cli_exposure_time_json_contract(cells_csv, analysis, capsys):
    code, out, _ = _run(capsys, ["model", "glmm", str(cells_csv), *ARGS, "--exposure-time", "--json"])
    assert code == 0
    doc = json.loads(out)
    for key in ("estimate", "se", "odds_ratio", "ci_low", "ci_high", "p_value", "re_sd", "loglik", "n"):
        assert key in doc
    assert doc["term"] == AVERAGE_TERM
    assert doc["estimate"] == pytest.approx(analysis.average.estimate, abs=1e-9)
    assert doc["estimate"] == pytest.approx(np.mean([t["estimate"] for t in doc["exposure_terms"]]))
    assert doc["odds_ratio"] == pytest.approx(math.exp(doc["estimate"]))
    assert doc["n"] == 20_000 and doc["treatment"] == "treatment"
    assert [t["exposure"] for t in doc["exposure_terms"]] == [1, 2, 3, 4, 5]
    assert {"term", "estimate", "se", "odds_ratio", "ci_low", "ci_high", "p_value", "n"} <= set(
        doc["exposure_terms"][0]
    )
    assert set(doc["heterogeneity"]) == {"statistic", "df", "p_value"} and doc["heterogeneity"]["df"] == 4
    delayed = doc["delayed"]
    assert delayed["term"] == DELAYED_TERM and delayed["transition"]["term"] == TRANSITION_TERM
    for key in ("estimate", "se", "odds_ratio", "ci_low", "ci_high", "p_value"):
        assert isinstance(delayed[key], float)


def test_cli_without_the_flag_keeps_the_immediate_effect_contract(cells_csv, capsys):
    _, out, _ = _run(capsys, ["model", "glmm", str(cells_csv), *ARGS, "--json"])
    doc = json.loads(out)
    assert doc["term"] == "treatment"
    assert not {"exposure_terms", "heterogeneity", "delayed"} & set(doc)


def test_cli_exposure_time_table(cells_csv, capsys):
    code, out, _ = _run(capsys, ["model", "glmm", str(cells_csv), *ARGS, "--exposure-time"])
    assert code == 0
    assert "time_averaged" in out and "exposure[5]" in out and "heterogeneity over exposure time" in out
    assert "delayed_effect" in out and "transition" in out


# -- the analysis plan and its report section ------------------------------------------------------


def _study_frame(n: int = 3000, seed: int = 5) -> pd.DataFrame:
    """Children of the default study's LAs and periods (period names as text) with a build-up effect."""
    from cscvault.study import load_study

    study = load_study()
    rng = np.random.default_rng(seed)
    las, periods = study.local_authorities, study.periods
    li = rng.integers(0, len(las), n)
    pi = rng.integers(0, len(periods), n)
    wedge = np.array([study.wedge_of(la) for la in las])
    exposure = np.where(pi >= wedge[li], pi - wedge[li] + 1, 0)
    frame = pd.DataFrame(
        {
            "child_key": [f"c{i}" for i in range(n)],
            "la": [las[i].name for i in li],
            "period": [periods[i].name for i in pi],
            "treatment": (exposure > 0).astype(int),
            "age_group": rng.choice(["0", "5"], n),
            "gender": rng.choice(["male", "female"], n),
            "ethnicity_group": rng.choice(["White", "Asian"], n),
            "disabled": rng.choice(["false", "true"], n, p=[0.8, 0.2]),
            "previous_cpps": rng.choice(["0", "1"], n),
            "uasc": rng.choice(["false", "true"], n, p=[0.85, 0.15]),
            "white_share": np.round(0.5 + 0.05 * li + 0.01 * pi, 3),
        }
    )
    eta = -1.5 + np.array([-0.3, 0.1, 0.3, -0.2, 0.1])[li] - 0.15 * exposure
    frame["cla_18m"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    return frame, study


def test_plan_rows_summary_and_report_section():
    from cscvault.analysis import whole_plan as full
    from cscvault.analysis.primary import RESULT_FIELDS, PrimaryRun
    from cscvault.report.whole_plan_section import render_full_section

    frame, study = _study_frame()
    assert {"exposure_time", "delayed_effect"} <= set(study.analysis_plan["models"])
    spec = full.Spec.from_study(study)
    ex = full.exposure_time_analysis(frame, spec, study)
    assert [lv.exposure for lv in ex.levels] == [1, 2, 3, 4, 5]
    first_names = sorted(ex.first_treated.values(), key=[p.name for p in study.periods].index)
    assert first_names == [p.name for p in study.periods[1:]]  # one LA goes live per wedge
    rows = full.exposure_rows(ex)
    assert all(tuple(r) == RESULT_FIELDS for r in rows)
    analyses = [r["analysis"] for r in rows]
    assert analyses[0] == "exposure_time_average" and rows[0]["term"] == "treatment"
    assert {f"exposure_time_{k}" for k in range(1, 6)} <= set(analyses)
    het = next(r for r in rows if r["analysis"] == "exposure_time_heterogeneity")
    assert het["term"] == "wald_chi2_df4" and het["p_value"] == pytest.approx(ex.heterogeneity.p_value)
    assert [r["term"] for r in rows if r["analysis"] == "delayed_effect"] == ["treatment", "transition"]
    assert rows[0]["estimate"] == pytest.approx(ex.average.estimate)
    summary = full.exposure_summary(ex, None)
    json.dumps(summary)

    # the report section renders the table and the test, counts rounded
    head = {"estimate": -0.1, "se": 0.1, "odds_ratio": 0.9, "ci_low": 0.7, "ci_high": 1.1, "p_value": 0.3,
            "df": None, "fmi": None, "riv": None}  # fmt: skip
    run = full.FullRun("r1", PrimaryRun("p1", "sha", "v", "sha", None), extra_rows=rows)
    run.summary = full.RunSummary.from_json({
        "notes": [],
        "headline": {"m": 0, "n": 3000, "n_events": 500, "treatment": head,
                     "ame": {"estimate": -0.01, "ci_low": -0.02, "ci_high": 0.0}},
        "small_cluster": {"n": 3000, "notes": [], "fe_cr2": {"error": "x"}, "gee": {"error": "x"},
                          "randomisation": {"error": "x", "design": "12 sequences"}},
        "structures": {"odds_ratio": 0.9, "ci_low": 0.7, "ci_high": 1.1, "icc": 0.01, "icc_cluster_only": 0.01,
                       "cluster_autocorrelation": 1.0, "lr_p_value": 1.0, "singular": True},
        "exposure_time": {**summary, "immediate": head},
    })  # fmt: skip
    html = render_full_section(run, study)
    assert "<h3>Exposure time</h3>" in html
    assert "Time-averaged (mean over exposure times 1 to 5)" in html
    assert f"{ex.average.odds_ratio:.2f}" in html
    assert "Wald\nchi-square" in html or "Wald chi-square" in html
    assert "Delayed effect (from exposure time 2)" in html and "Immediate-effect model" in html
    from cscvault.disclosure.profiles import get_profile

    base = get_profile(study.disclosure_profile).round_base
    for lv in ex.levels:
        assert f"<td>Exposure time {lv.exposure}</td><td>{base * round(lv.n / base)}</td>" in html
