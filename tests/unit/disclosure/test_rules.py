"""Each SDC rule at threshold-1, threshold and threshold+1, for every shipped profile."""

from __future__ import annotations

import math

import pytest

from cscvault.disclosure.profiles import get_profile, load_profiles
from cscvault.disclosure.rules import (
    RULE_DOF,
    RULE_NEGATIVE,
    RULE_NK,
    RULE_P,
    RULE_THRESHOLD,
    RULE_ZERO,
    Dominance,
    Finding,
    below_threshold,
    check_cell,
    check_model_output,
    nk_dominated,
    p_ratio_fails,
    p_ratio_value,
    percent,
    round_to_base,
    verdict_of,
)

PROFILES = sorted(load_profiles())


def rules_of(findings: list[Finding]) -> set[str]:
    return {f.rule for f in findings}


@pytest.mark.parametrize("name", PROFILES)
def test_threshold_at_minus_one_equal_and_plus_one(name):
    profile = get_profile(name)
    t = profile.min_count
    below = check_cell(profile, t - 1)
    assert RULE_THRESHOLD in rules_of(below)
    assert verdict_of(below) == "fail"
    assert verdict_of(check_cell(profile, t)) == "pass"
    assert verdict_of(check_cell(profile, t + 1)) == "pass"


def test_threshold_values_of_the_shipped_profiles():
    # acro-default fails 9 and passes 10; opensafely redacts 7 or fewer; dfe suppresses 1-5.
    assert below_threshold(9, get_profile("acro-default").min_count)
    assert not below_threshold(10, get_profile("acro-default").min_count)
    assert below_threshold(7, get_profile("opensafely").min_count)
    assert not below_threshold(8, get_profile("opensafely").min_count)
    assert below_threshold(5, get_profile("dfe").min_count)
    assert not below_threshold(6, get_profile("dfe").min_count)


@pytest.mark.parametrize("name", PROFILES)
def test_zero_follows_the_profile(name):
    profile = get_profile(name)
    found = check_cell(profile, 0)
    assert (RULE_ZERO in rules_of(found)) == profile.zeros_disclosive
    assert verdict_of(found) == ("fail" if profile.zeros_disclosive else "pass")


def test_zeros_not_disclosive_means_released_as_zero_but_one_is_still_small():
    dfe = get_profile("dfe")
    assert not dfe.zeros_disclosive
    assert rules_of(check_cell(dfe, 0)) == set()  # DfE suppresses 1 to 5, shows 0
    assert rules_of(check_cell(dfe, 1)) == {RULE_THRESHOLD}
    acro = get_profile("acro-default")
    assert rules_of(check_cell(acro, 0)) == {RULE_THRESHOLD, RULE_ZERO}  # as ACRO: both checks fail


def test_nk_dominance_boundary_is_inclusive_like_acro():
    acro = get_profile("acro-default")
    assert (acro.nk_n, acro.nk_k) == (2, 0.9)
    # top-2 share just below, at and above k = 0.9
    assert not nk_dominated(89.0, 100.0, 0.9)
    assert nk_dominated(90.0, 100.0, 0.9)
    assert nk_dominated(91.0, 100.0, 0.9)
    assert not nk_dominated(0.0, 0.0, 0.9)  # undefined share: no NK failure (ACRO), p% catches it


def test_nk_dominance_in_a_cell():
    acro = get_profile("acro-default")
    # 12 contributors; the top two hold 95 of 100: fails NK; the rest (5) vs top1 (80): p ratio 0.0625 < 0.1
    dominated = Dominance(total=100.0, top1=80.0, top2=15.0)
    found = check_cell(acro, 12, dominated)
    assert {RULE_NK, RULE_P} <= rules_of(found)
    assert verdict_of(found) == "fail"
    spread = Dominance(total=100.0, top1=20.0, top2=15.0)
    assert verdict_of(check_cell(acro, 12, spread)) == "pass"


def test_p_ratio_boundary():
    # (total - top1 - top2) / top1 against p = 0.1: 0.09 fails, 0.10 passes (strict <), 0.11 passes
    assert p_ratio_value(100.0, 50.0, 45.5) == pytest.approx(0.09)
    assert p_ratio_fails(100.0, 50.0, 45.5, 0.1)
    assert not p_ratio_fails(100.0, 50.0, 45.0, 0.1)
    assert not p_ratio_fails(100.0, 50.0, 44.5, 0.1)
    # only the p% rule: top-2 share 0.8 is fine for nk (k 0.9) but the rest hide top1 poorly
    acro = get_profile("acro-default")
    found = check_cell(acro, 20, Dominance(total=100.0, top1=70.0, top2=24.0, top_n=94.0))
    assert RULE_P in rules_of(found)
    found = check_cell(acro, 20, Dominance(total=100.0, top1=50.0, top2=30.0, top_n=80.0))
    assert rules_of(found) == set()


def test_p_ratio_with_no_positive_contribution_compares_the_remainder():
    assert p_ratio_value(0.0, 0.0, 0.0) == 0.0
    assert p_ratio_fails(0.0, 0.0, 0.0, 0.1)


def test_negative_contributions_send_the_cell_to_review():
    acro = get_profile("acro-default")
    found = check_cell(acro, 30, Dominance(total=100.0, top1=20.0, top2=10.0, negatives=1))
    assert rules_of(found) == {RULE_NEGATIVE}
    assert verdict_of(found) == "review"


def test_negatives_elsewhere_in_the_table_switch_dominance_off_as_in_acro():
    acro = get_profile("acro-default")
    dominated = Dominance(total=100.0, top1=80.0, top2=15.0)
    assert rules_of(check_cell(acro, 12, dominated, table_has_negatives=True)) == set()
    assert verdict_of(check_cell(acro, 12, dominated, table_has_negatives=False)) == "fail"


def test_empty_and_all_zero_magnitude_cells():
    acro = get_profile("acro-default")
    # empty: threshold (not zero: class disclosure is about frequencies); p% undefined -> not applied
    assert rules_of(check_cell(acro, 0, Dominance(0.0, 0.0, 0.0))) == {RULE_THRESHOLD}
    # twelve contributions of exactly 0: the p% rule fails (remainder 0 < p), NK is undefined
    assert rules_of(check_cell(acro, 12, Dominance(0.0, 0.0, 0.0))) == {RULE_P}


def test_opensafely_has_no_dominance_rules():
    opensafely = get_profile("opensafely")
    assert opensafely.nk_n is None and opensafely.p_ratio is None
    assert verdict_of(check_cell(opensafely, 30, Dominance(total=100.0, top1=99.0, top2=1.0))) == "pass"


def test_missing_count_is_review():
    assert verdict_of(check_cell(get_profile("acro-default"), None)) == "review"
    assert verdict_of(check_cell(get_profile("acro-default"), math.nan)) == "review"


@pytest.mark.parametrize("name", PROFILES)
def test_model_dof_at_minus_one_equal_and_plus_one(name):
    profile = get_profile(name)
    d = profile.min_dof
    low = check_model_output(d - 1, profile)
    assert low.verdict == "fail"
    assert low.reasons[0].startswith(RULE_DOF)
    assert check_model_output(d, profile).verdict == "pass"
    assert check_model_output(d + 1, profile).verdict == "pass"
    assert low.profile == name and low.profile_version == profile.version


def test_model_dof_unknown_is_review_and_profile_by_name_works():
    assert check_model_output(None, "acro-default").verdict == "review"
    assert check_model_output(398, "acro-default").verdict == "pass"


@pytest.mark.parametrize(
    ("value", "base", "expected"),
    [
        (0, 5, 0),
        (2, 5, 0),
        (3, 5, 5),
        (7, 5, 5),
        (8, 5, 10),
        (12, 5, 10),
        (13, 5, 15),
        (15, 10, 20),
        (14, 10, 10),
        (25, 10, 30),
        (7, 1, 7),
        (-3, 5, -5),
    ],
)
def test_round_to_base_half_away_from_zero(value, base, expected):
    assert round_to_base(value, base) == expected


def test_round_to_base_rejects_a_zero_base():
    with pytest.raises(ValueError, match="base"):
        round_to_base(3, 0)


def test_percent_only_from_released_counts():
    assert percent(45, 155, 1) == 29.0
    assert percent(None, 155) is None  # numerator withheld: no percentage
    assert percent(45, None) is None  # denominator withheld
    assert percent(45, 0) is None
    assert percent(math.nan, 10) is None
    assert percent(1, 3, 2) == 33.33


def test_verdict_order():
    assert verdict_of([]) == "pass"
    assert verdict_of([Finding("a", "review", ""), Finding("b", "pass", "")]) == "review"
    assert verdict_of([Finding("a", "review", ""), Finding("b", "fail", "")]) == "fail"


def test_every_rule_id_is_registered_and_described():
    from cscvault.disclosure import rules

    ids = {v for k, v in vars(rules).items() if k.startswith("RULE_")}
    assert ids == set(rules.RULES)
    assert all(rules.RULES[i] for i in ids)
    assert set(rules.ACRO_CHECK_NAMES) <= ids
