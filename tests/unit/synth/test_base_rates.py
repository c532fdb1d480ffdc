"""The generated child-level truth reproduces STUDY.md's base rates per LA, within stated tolerances.

Tolerances: each rate is compared with its target allowing 3.5 binomial standard errors (sampling noise at
this size) plus a relative allowance for the calibration, which is done at the referral level and
corrected once to the sample level (children anchored on a re-referral are a selected group). The
run uses twice the real size so the baseline-period care rates (6 months of referrals) are precise.
"""

from __future__ import annotations

import json
import math

import pytest

from cscvault.study import load_study
from cscvault.synth import default_children, generate
from cscvault.synth.rates import load_rates

STUDY = load_study()
RATES = {r.la.ons_code: r for r in load_rates(STUDY).las}
SIZE_FACTOR = 2


@pytest.fixture(scope="module")
def truth(tmp_path_factory):
    out = tmp_path_factory.mktemp("rates")
    generate(out, seed=2024, children=SIZE_FACTOR * default_children(STUDY), formats=())
    return json.loads((out / "truth.json").read_text())


@pytest.fixture(scope="module")
def clean_truth(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean")
    generate(out, seed=5, children=20_000, formats=(), clean=True)
    return json.loads((out / "truth.json").read_text())


def _close(obs: float, target: float, n: int, rel: float) -> bool:
    se = math.sqrt(max(target * (1 - target), 1e-9) / max(n, 1))
    return abs(obs - target) <= 3.5 * se + rel * target


def _la(truth, code):
    return truth["local_authorities"][code]


@pytest.mark.parametrize("code", list(RATES))
def test_children_per_year(truth, code):
    t = _la(truth, code)
    target = RATES[code].children_0_12_per_year * SIZE_FACTOR
    # Poisson noise is ~1%; the rest is the once-measured share of children re-entering the window
    assert abs(t["rates"]["sample_children_per_year"] / target - 1) < 0.08


@pytest.mark.parametrize("code", list(RATES))
def test_unborn_share(truth, code):
    t = _la(truth, code)
    n = t["counts"]["sample_children"]
    assert _close(t["rates"]["unborn_share"], RATES[code].unborn_share, n, 0.15)
    assert 0.06 <= t["rates"]["unborn_share"] <= 0.12  # STUDY.md: 7-11% of the sample


@pytest.mark.parametrize("code", list(RATES))
def test_baseline_care_within_18_months(truth, code):
    t = _la(truth, code)
    base = t["periods"][STUDY.periods[0].name]
    rate = base["cared_18m"] / base["children"]
    assert _close(rate, RATES[code].baseline_care_18m, base["children"], 0.15), rate


@pytest.mark.parametrize("code", list(RATES))
def test_repeat_referrals(truth, code):
    # STUDY.md: about 28% of children have two or more referrals in ~33 months
    assert abs(_la(truth, code)["rates"]["repeat_referral_share"] - 0.28) < 0.04


@pytest.mark.parametrize("code", list(RATES))
def test_child_protection_and_proceedings(truth, code):
    t = _la(truth, code)
    n = t["counts"]["sample_children"]
    r = t["rates"]
    assert _close(r["cpp_12m"], RATES[code].cpp_rate, n, 0.2), r["cpp_12m"]
    assert 0.08 <= r["cpp_12m"] <= 0.21  # STUDY.md: 9-19% by LA
    assert 0 < r["pre_proceedings_18m"] <= 0.018 * 1.35
    assert 0 < r["care_proceedings_18m"] <= 0.037 * 1.25


@pytest.mark.parametrize("code", list(RATES))
def test_missingness_per_la(truth, code):
    t = _la(truth, code)
    n = t["counts"]["sample_children"]
    for field in ("ethnicity", "gender", "uasc", "disability"):
        target = RATES[code].missing[field]
        assert _close(t["rates"][f"missing_{field}"], target, n, 0.2), field


def test_missingness_overall_matches_the_real_sample(truth):
    las = truth["local_authorities"].values()
    n = sum(t["counts"]["sample_children"] for t in las)

    def share(k):
        return sum(t["counts"][f"sample_missing_{k}"] for t in las) / n

    # STUDY.md: ethnicity ~9%, gender ~3.5%, UASC ~6%, disability <1%
    assert abs(share("ethnicity") - 0.09) < 0.015
    assert abs(share("gender") - 0.035) < 0.01
    assert abs(share("uasc") - 0.06) < 0.015
    assert share("disability") < 0.01


def test_some_children_were_in_care_before_their_sample_referral(truth):
    # the real pipeline excluded 19 of ~27,400; the generator re-refers some children who went home
    t = truth["totals"]
    assert 0 < t["excluded_prior_care"] < 0.005 * t["sample_children"]


def test_truth_records_parameters(truth):
    p = truth["true_parameters"]
    assert p["treatment_effects"]["care_18m_odds_ratio"] == 0.85
    assert p["care_model"]["secular_trend_per_year"] < 0
    effects = [t["true_parameters"]["la_random_effect"] for t in truth["local_authorities"].values()]
    assert abs(sum(effects)) < 1e-4 and max(effects) - min(effects) > 0.3
    assert truth["seed"] == 2024


def test_clean_has_no_missing_values(clean_truth):
    for t in clean_truth["local_authorities"].values():
        for field in ("ethnicity", "gender", "uasc", "disability"):
            assert t["counts"][f"sample_missing_{field}"] == 0
