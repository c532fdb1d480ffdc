"""The whole analysis plan: its pieces on a simulated stepped-wedge frame of the default study (fast), and
`run_all` end to end inside a vault of clean synthetic returns with some covariates blanked (slow)."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cscvault import api
from cscvault.analysis import whole_plan as full
from cscvault.analysis.models.imputation import rubin
from cscvault.errors import DataError
from cscvault.study import load_study
from cscvault.vault import Credentials
from tests.helpers import PASSWORD, open_raw_vault

ADMIN = Credentials("admin", PASSWORD)


def simulate(n: int = 2500, seed: int = 1, log_or: float = 0.4, missing: float = 0.0) -> pd.DataFrame:
    """Children of the default study's LAs and periods with the primary covariates (common levels only, so
    no level separates) and a known treatment log-odds ratio."""
    study = load_study()
    rng = np.random.default_rng(seed)
    las = study.local_authorities
    li = rng.integers(0, len(las), n)
    pi = rng.integers(0, len(study.periods), n)
    wedge = np.array([study.wedge_of(la) for la in las])
    treat = (pi >= wedge[li]).astype(int)
    frame = pd.DataFrame(
        {
            "child_key": [f"c{i}" for i in range(n)],
            "la": [las[i].name for i in li],
            "period": [study.periods[i].name for i in pi],
            "treatment": treat,
            "age_group": rng.choice(["-1", "0", "5"], n),
            "gender": rng.choice(["male", "female"], n),
            "ethnicity_group": rng.choice(["White", "Asian", "Black"], n),
            "disabled": rng.choice(["false", "true"], n, p=[0.8, 0.2]),
            "previous_cpps": rng.choice(["0", "1"], n),
            "uasc": rng.choice(["false", "true"], n, p=[0.85, 0.15]),
            "white_share": np.round(0.5 + 0.05 * li + 0.01 * pi, 3),
            "referral_date": [study.periods[i].start for i in pi],
        }
    )
    eta = -1.8 + np.array([-0.3, 0.1, 0.3, -0.2, 0.1])[li] + log_or * treat + 0.4 * (frame["gender"] == "female")
    frame["cla_18m"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    for col in ("gender", "ethnicity_group", "uasc"):
        frame.loc[rng.random(n) < missing, col] = None
    return frame


@pytest.fixture(scope="module")
def spec() -> full.Spec:
    return full.Spec.from_study(load_study())


def test_imputation_pools_m_fits_reproducibly_with_finite_barnard_rubin_df(spec: full.Spec) -> None:
    frame = simulate(missing=0.1)
    a = full.impute_and_pool(frame, spec, 3, seed=7)
    b = full.impute_and_pool(frame, spec, 3, seed=7)
    pa, pb = a["pooled"]["treatment"], b["pooled"]["treatment"]
    assert pa.estimate == pb.estimate and pa.m == 3  # seeded: identical
    assert a["imputed"] == ["gender", "ethnicity_group", "uasc"]
    assert 2 < pa.df < math.inf and 0 < pa.fmi < 1
    # the pooled SE exceeds the mean within-imputation SE by the between-imputation part exactly
    assert math.isclose(pa.total, pa.within + (1 + 1 / 3) * pa.between, rel_tol=1e-12)
    # the truth (log OR 0.4) lies within 4 pooled SEs (a bias beyond that is not chance)
    assert abs(pa.estimate - 0.4) < 4 * pa.se
    ame = a["ame"]
    assert 0 < ame.estimate < 0.2 and ame.se > 0


def test_imputation_refuses_when_nothing_is_missing(spec: full.Spec) -> None:
    with pytest.raises(DataError):
        full.impute_and_pool(simulate(n=500), spec, 2, seed=1)


def test_small_cluster_methods_agree_on_the_fixed_effects_estimate(spec: full.Spec) -> None:
    frame = simulate(n=3000, seed=3)
    sc = full.small_cluster(frame, spec, load_study())
    cr, gee, ri = sc["fe_cr2"], sc["gee"], sc["randomisation"]
    assert "error" not in cr and "error" not in gee and "error" not in ri
    # randomisation's statistic is the same fixed-effects logit (on cells): the same estimate
    assert math.isclose(ri["estimate"], cr["estimate"], rel_tol=1e-6, abs_tol=1e-8)
    assert ri["sequences"] == 12 and math.isclose(ri["min_attainable_p"], 1 / 12)
    assert ri["ci_low"] is None and ri["ci_high"] is None  # 1/12 > 0.05: the 95% interval is unbounded
    assert ri["p_value"] >= 1 / 12
    assert gee["df_rule"] == "clusters - 2" and gee["df"] == 3
    assert any("below 1" in n for n in sc["notes"])
    ses = {k: gee["variances"][k]["se"] for k in ("sandwich", "kc", "md")}
    assert ses["sandwich"] < ses["kc"] < ses["md"]  # the corrections inflate the sandwich in this order
    rows = full._small_cluster_rows(sc, "treatment")
    assert [r["model"] for r in rows] == [
        "fe-logit-cr2",
        "gee-exchangeable-sandwich",
        "gee-exchangeable-kc",
        "gee-exchangeable-md",
        "gee-exchangeable-fg",
        "randomisation-fe-logit",
    ]
    assert all(set(r) == set(full.RESULT_FIELDS) for r in rows)


def test_alternative_treatment_definitions() -> None:
    study = load_study()
    walsall = study.la("Walsall").go_live  # 2020-09-01
    frame = pd.DataFrame(
        {
            "la": "Walsall",
            "referral_date": [
                walsall - dt.timedelta(days=300),  # half-way point (day ~274) is before go-live
                walsall - dt.timedelta(days=200),  # half-way point is after go-live
                dt.date(2019, 3, 20),  # follow-up ends 2020-09-20: 19 days after go-live
                dt.date(2019, 2, 20),  # follow-up ends 2020-08-20: before go-live
            ],
        }
    )
    alt = full.alternative_treatments(frame, study)
    assert alt["treat_half"].tolist() == [0, 1, 0, 0]
    assert alt["treat_4wk"].tolist() == [1, 1, 0, 0]


def test_sensitivity_fits_every_variant(spec: full.Spec) -> None:
    frame = simulate(n=2000, seed=4)
    parental = set(frame["child_key"].iloc[::2])
    entries, rows = full.sensitivity(frame, spec, load_study(), parental)
    names = [e["analysis"] for e in entries]
    assert names == [
        "parental_risk",
        "born_only",
        "white_share_within_la",
        "treatment_x_time",
        "treatment_x_readiness",
        "alt_treat_half",
        "alt_treat_4wk",
    ]
    by = {e["analysis"]: e for e in entries}
    assert by["parental_risk"]["n"] == 1000
    assert by["born_only"]["n"] == int((frame["age_group"] != "-1").sum())
    assert by["white_share_within_la"]["n"] == len(frame)
    assert list(by["treatment_x_readiness"]["terms"]) == ["treatment:readiness[low]"]
    # the last period has every LA treated: no interaction there
    assert "treatment:wedge_5" not in by["treatment_x_time"]["terms"]
    assert {r["analysis"] for r in rows} == {f"sensitivity:{n}" for n in names if "error" not in by[n]}


def test_within_la_white_share_ignores_the_las_levels(spec: full.Spec) -> None:
    """Shifting each LA's White share by a constant leaves the within-LA variant unchanged."""
    frame = simulate(n=2000, seed=4)
    shifted = frame.copy()
    offsets = {la: 0.1 * k for k, la in enumerate(sorted(frame[spec.cluster].unique()))}
    shifted["white_share"] = shifted["white_share"] + shifted[spec.cluster].map(offsets)

    def within(f):
        entries, _ = full.sensitivity(f, spec, load_study(), set())
        return next(e for e in entries if e["analysis"] == "white_share_within_la")["odds_ratio"]

    assert within(shifted) == pytest.approx(within(frame), rel=1e-6)


# -- end to end in a vault (slow: ingest alone takes about 80 s) ----------------------------------


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, full.FullRun, str]:
    from cscvault.report.whole_plan_section import render_full_section
    from cscvault.synth.generate import generate

    root = tmp_path_factory.mktemp("full")
    summary = generate(root / "synth", seed=5, children=3000, clean=True)
    vault = api.init_vault(root / "v", PASSWORD).path
    api.ingest(vault, ADMIN, [summary.returns_dir])
    with open_raw_vault(vault, ADMIN) as v:
        with v.transaction() as con:  # clean returns have no missing covariates: blank some (MCAR)
            con.execute("UPDATE children SET gender = NULL WHERE hash(child_key) % 20 = 0")
            con.execute("UPDATE children SET ethnicity = NULL WHERE hash(child_key) % 10 = 1")
        run = full.run_all(v, m=(2,))
        html = render_full_section(run, v.study)
    return vault, run, html


@pytest.mark.slow
def test_run_all_rows_have_the_results_shape_and_are_recorded(full_run: tuple[Path, full.FullRun, str]) -> None:
    vault, run, _ = full_run
    rows = run.rows()
    assert all(tuple(r) == full.RESULT_FIELDS for r in run.extra_rows)
    models = {(r["analysis"], r["model"]) for r in rows if r["term"] == "treatment"}
    assert ("primary", "glmm-laplace-rubin") in models
    assert ("primary", "glmm-laplace-cluster-period") in models
    assert ("small_cluster", "gee-exchangeable-md") in models
    assert any(r["model"] == "ame-delta-rubin" for r in rows)
    (mde,) = [r for r in rows if r["analysis"] == "design"]
    assert mde["odds_ratio"] < 1 and mde["term"] == "minimum_detectable_log_or_80"
    assert run.summary is not None and run.summary.secondary is not None
    assert sorted(s.number for s in run.summary.secondary) == [1, 2, 3, 4, 5, 6]
    assert all(isinstance(r["n_events"], int) and isinstance(r["n"], int) for r in rows)
    doc = run.summary.to_json()
    json.dumps(doc, default=str)  # the summary is JSON-able for results.json
    # results.json's full_plan keeps its shape, and reads back into the same typed summary
    assert list(doc) == ["notes", "imputation", "headline", "design", "small_cluster", "structures",
                         "exposure_time", "secondary", "sensitivity"]  # fmt: skip
    assert full.RunSummary.from_json(doc).to_json() == doc
    with open_raw_vault(vault, ADMIN) as v:
        recorded = v.con.execute("SELECT count(*) FROM results WHERE run_id = ?", [run.run_id]).fetchone()
        plan = v.con.execute("SELECT plan FROM runs WHERE run_id = ?", [run.run_id]).fetchone()
    assert recorded is not None and recorded[0] == len(run.extra_rows)
    assert plan is not None and plan[0] == "all"


@pytest.mark.slow
def test_headline_is_multiple_imputation_and_matches_rubin_by_hand(full_run: tuple[Path, full.FullRun, str]) -> None:
    _, run, html = full_run
    assert run.summary is not None
    head = run.summary.headline
    assert head.m == 2 and set(head.imputed) == {"gender", "ethnicity_group"}
    assert head.treatment.df is not None and head.treatment.df > 1
    assert head.treatment.estimate is not None and head.treatment.se is not None
    check = rubin([head.treatment.estimate] * 2, [head.treatment.se**2] * 2)
    assert check.estimate == head.treatment.estimate
    assert "multiple imputation (m = 2)" in html and "minimum p 0.0833" in html
    assert "Secondary outcomes" in html and "data:image/png;base64," in html
    assert "minimum detectable effect" in html


def test_minimum_detectable_effect_has_the_requested_power() -> None:
    from cscvault.analysis.power import power_from_se

    mde = full.minimum_detectable(0.1)
    assert mde["odds_ratio"] < 1
    assert power_from_se(mde["log_or"], 0.1) == pytest.approx(0.8, abs=1e-9)
    assert full.minimum_detectable(float("nan"))["odds_ratio"] is None


def test_complete_case_ame_uses_the_primary_models_design(spec: full.Spec) -> None:
    """The no-missing fallback computes the AME of the primary fit (fitted as `run_primary` fits it)."""
    from cscvault.analysis.models.glmm import fit_glmm_frame

    frame = simulate(n=1500, seed=6, log_or=0.6)
    fit = fit_glmm_frame(
        frame,
        outcome="cla_18m",
        treatment=spec.treatment,
        period=spec.period,
        cluster=spec.cluster,
        covariates=list(spec.numeric),
        factors=list(spec.factors),
        reference_levels=spec.references,
        nagq=1,
    )
    me = full.average_marginal_effect_of(spec, frame, fit)
    assert math.isclose(me["estimate"], me["risk_treated"] - me["risk_control"], rel_tol=1e-12)
    assert me["ci_low"] < me["estimate"] < me["ci_high"] and me["estimate"] > 0


def test_an_la_without_events_is_reported_not_fatal(spec: full.Spec) -> None:
    frame = simulate(n=1500, seed=8)
    frame.loc[frame["la"] == "Wandsworth", "cla_18m"] = 0
    sc = full.small_cluster(frame, spec, load_study())
    assert "Wandsworth" in sc["fe_cr2"]["error"] and "Wandsworth" in sc["randomisation"]["error"]
    assert sc["randomisation"]["min_attainable_p"] == 1 / 12  # the design's limit is still stated
    assert "error" not in sc["gee"]  # no LA fixed effect in the marginal model
    assert full._small_cluster_rows(sc, "treatment")[0]["model"] == "gee-exchangeable-sandwich"


@pytest.mark.slow
def test_released_summary_rounds_every_count(full_run: tuple[Path, full.FullRun, str]) -> None:
    from cscvault.report.whole_plan_section import released_summary

    _, run, _ = full_run
    doc = released_summary(run, load_study())
    json.dumps(doc, allow_nan=False)
    counts = [s["n"] for s in doc["secondary"]] + [s["n_events"] for s in doc["secondary"]] + [doc["headline"]["n"]]
    assert all(c % 5 == 0 for c in counts)


def test_released_summary_rounds_counts_and_drops_non_finite() -> None:
    from cscvault.report.whole_plan_section import released_document

    doc = released_document({"headline": {"n": 963, "x": math.inf}, "secondary": [{"n_events": 12}]}, 5)
    assert doc == {"headline": {"n": 965, "x": None}, "secondary": [{"n_events": 10}]}


@pytest.mark.slow
def test_whole_plan_report_has_every_consort_section_filled(full_run: tuple[Path, full.FullRun, str]) -> None:
    """Under `--plan all` every CONSORT-SW section holds its analysis (none says it did not run)."""
    import re

    from cscvault.ingest.quality import quality_report
    from cscvault.report.consort import CHECKLIST, FULL_PLAN_SECTIONS
    from cscvault.report.render import render_report
    from cscvault.report.whole_plan_section import released_summary, render_full_section

    vault, run, _ = full_run
    with open_raw_vault(vault, ADMIN) as v:
        outputs = render_report(
            run.primary, v.study, extra_rows=run.extra_rows, extra_html=render_full_section(run, v.study),
            extra_summary=released_summary(run, v.study), not_derived=run.not_derived, summary=run.summary,
            quality=quality_report(v),
        )  # fmt: skip
    html = next(o for o in outputs if o.name == "report.html").content.decode()
    ids = set(re.findall(r'id="([^"]+)"', html))
    assert {c.section for c in CHECKLIST} <= ids
    assert "Not run in this analysis" not in html
    assert {s for s, _ in FULL_PLAN_SECTIONS} <= ids
    assert "cluster autocorrelation (correlation of two periods of one LA)" in html
    doc = json.loads(next(o for o in outputs if o.name == "results.json").content)
    assert list(doc) == ["study", "run_id", "plan_sha256", "code_version", "deliveries_sha256",
                         "disclosure_profile", "results", "not_derived", "full_plan"]  # fmt: skip
