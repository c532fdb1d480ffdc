"""Class disclosure: all or none of a group of known size have the attribute, under every shipped profile."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from cscvault.disclosure import ColumnRelation, apply_profile, apply_release, get_profile, load_profiles
from cscvault.disclosure.rules import RULE_CLASS, RULE_ZERO
from cscvault.errors import DataError, UsageError

PROFILES = sorted(load_profiles())
PART_OF = [ColumnRelation("children", ("events",), exact=False)]  # events are some of the children


def rules(cell) -> set[str]:
    return {r.split(":")[0] for r in cell.reasons}


def wide(yes: int, no: int) -> pd.DataFrame:
    big = {"la": "B", "yes": 120, "no": 130, "Total": 250}
    return pd.DataFrame([{"la": "A", "yes": yes, "no": no, "Total": yes + no}, big])


@pytest.mark.parametrize("name", PROFILES)
def test_forty_of_forty_and_none_of_forty_are_flagged(name):
    checked = apply_profile(wide(40, 0), name, label_cols=["la"])
    all_of = checked.cell(0, "yes")
    assert all_of.verdict == "fail" and RULE_CLASS in rules(all_of)
    assert "all of its group" in "; ".join(all_of.reasons)
    none_of = checked.cell(0, "no")
    assert none_of.verdict == "fail" and rules(none_of) & {RULE_CLASS, RULE_ZERO}
    if not get_profile(name).zeros_disclosive:  # zeros are shown: the class rule alone catches "none of 40"
        assert RULE_CLASS in rules(none_of)
    assert checked.cell(0, "yes").released is None and checked.cell(0, "no").released is None
    assert all(c.verdict == "pass" for c in checked.cells if c.row == 1)


@pytest.mark.parametrize("name", PROFILES)
def test_a_zero_group_is_not_class_disclosure(name):
    frame = pd.DataFrame([{"la": "A", "yes": 0, "no": 0, "Total": 0}, {"la": "B", "yes": 120, "no": 130, "Total": 250}])
    checked = apply_profile(frame, name, label_cols=["la"])
    assert all(RULE_CLASS not in rules(c) for c in checked.cells)


@pytest.mark.parametrize("name", PROFILES)
def test_class_threshold_on_a_part_of_relation(name):
    """Events among children (the non-events are not shown): fewer than the threshold outside fails."""
    threshold = get_profile(name).class_threshold
    verdicts = {}
    for outside in (threshold - 1, threshold, threshold + 1):
        frame = pd.DataFrame([{"la": "A", "events": 400 - outside, "children": 400}])
        cell = apply_profile(frame, name, label_cols=["la"], relations=PART_OF).cell(0, "events")
        verdicts[outside] = RULE_CLASS in rules(cell)
    assert verdicts == {threshold - 1: True, threshold: False, threshold + 1: False}


def test_without_a_declared_relation_the_group_is_unknown():
    frame = pd.DataFrame([{"la": "A", "events": 40, "children": 40}])
    assert RULE_CLASS not in rules(apply_profile(frame, "dfe", label_cols=["la"]).cell(0, "events"))
    declared = apply_profile(frame, "dfe", label_cols=["la"], relations=PART_OF)
    assert RULE_CLASS in rules(declared.cell(0, "events"))


def test_in_an_exact_relation_only_all_is_flagged():
    """39 + 1 = 40 published: the 1 fails the threshold; the 39 is not class disclosure (the 1 is shown)."""
    frame = pd.DataFrame(
        [{"la": "A", "yes": 39, "no": 1, "Total": 40}, {"la": "B", "yes": 120, "no": 130, "Total": 250}]
    )
    checked = apply_profile(frame, "ons", label_cols=["la"])
    assert RULE_CLASS not in rules(checked.cell(0, "yes"))
    assert "threshold" in rules(checked.cell(0, "no"))


def test_declared_structural_zero_is_exempt_only_when_the_profile_says_so():
    frame = wide(40, 0)
    declared = apply_profile(frame, "dfe", label_cols=["la"], structural_zeros=[("A", "no")])
    assert declared.cell(0, "no").verdict == "pass"
    assert RULE_CLASS in rules(declared.cell(0, "yes"))  # "all" is still all of the group
    strict = dataclasses.replace(get_profile("dfe"), structural_zeros="none")
    assert RULE_CLASS in rules(
        apply_profile(frame, strict, label_cols=["la"], structural_zeros=[("A", "no")]).cell(0, "no")
    )
    acro = apply_profile(frame, "acro-default", label_cols=["la"], structural_zeros=[("A", "no")])
    assert acro.cell(0, "no").verdict == "pass"  # nor a disclosive zero: it is zero by definition
    with pytest.raises(UsageError, match="structural zero: no cell Z / no"):
        apply_profile(frame, "dfe", label_cols=["la"], structural_zeros=[("Z", "no")])


def test_rule_off_with_threshold_zero():
    off = dataclasses.replace(get_profile("dfe"), class_threshold=0)
    checked = apply_profile(wide(40, 0), off, label_cols=["la"])
    assert all(RULE_CLASS not in rules(c) for c in checked.cells)


def test_identity_links_are_not_groups():
    """The same count in two tables is linked as equal; that is not "all of a group"."""
    a = pd.DataFrame({"la": ["A", "B"], "n": [40, 50]})
    b = pd.DataFrame({"la": ["A", "B"], "m": [40, 50]})
    checked = apply_release({"a": a, "b": b}, "dfe", links=[(("a", ("A",)), [("b", ("A",))])])
    assert all(RULE_CLASS not in rules(c) for t in checked.values() for c in t.cells)


def test_a_declared_relation_that_does_not_hold_is_one_line():
    frame = pd.DataFrame([{"la": "Walsall", "events": 50, "children": 40}])
    with pytest.raises(DataError) as info:
        apply_profile(frame, "dfe", label_cols=["la"], relations=PART_OF)
    assert "row 0" in info.value.message and "children >= events" in info.value.message
    assert "50" not in info.value.message and "Walsall" not in info.value.message
    with pytest.raises(UsageError, match="not a count column"):
        apply_profile(frame, "dfe", label_cols=["la"], relations=[ColumnRelation("la", ("events",))])
