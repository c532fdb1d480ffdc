"""Code tables as data: mapped, declared missing, legacy or unmapped - never silently missing."""

from __future__ import annotations

import pytest

from cscvault.formats.recode import (
    TABLE_NAMES,
    ethnicity_group,
    is_kinship,
    is_return_home,
    recode,
    recode_factors,
    table,
)
from cscvault.formats.rules import RULES


def test_every_table_loads_with_a_registered_rule():
    for name in TABLE_NAMES:
        t = table(name)
        assert t.rule in RULES and t.rule.startswith("CODE-")
        assert t.mapping


@pytest.mark.parametrize(
    ("tbl", "raw", "value"),
    [
        ("gender", "a) Male", "male"),
        ("gender", "b) Female", "female"),
        ("gender", "1", "male"),
        ("gender", "F", "female"),
        ("gender", "9", "indeterminate"),
        ("gender", "Not stated/recorded (or unborn)", "unborn_or_unknown"),
        ("ethnicity", "s) REFU", "REFU"),
        ("ethnicity", "White - British", "WBRI"),
        ("ethnicity", "wbri", "WBRI"),
        ("ethnicity", "Any other Asian background", "AOTH"),
        ("disability", "No", False),
        ("disability", "b) No", False),
        ("disability", "HEAR", True),
        ("uasc", "Unaccompanied Asylum Seeking Child", True),
        ("uasc", "British Citizen", False),
        ("uasc", "0", False),
        ("nfa", "1", True),
        ("nfa", "TRUE", True),
        ("nfa", "false", False),
        ("previous_cpps", "3+", 3),
        ("previous_cpps", "2", 2),
        ("previous_cpps", "2.0", 2),
        ("previous_cpps", "none", 0),
        ("assessment_outcome", "Yes", "further_action"),
        ("legal_status", "c2", "C2"),
        ("legal_status", "Interim care order", "C1"),
        ("placement", "K3", "K3"),
        ("placement", "Z12", "Z12"),
        ("reason_start", "S", "S"),
        ("reason_end", "E4A", "E4A"),
        ("referral_source", "5D", "5D"),
        ("abuse_category", "Neglect", "NEG"),
        ("yes_no", "Y", True),
        ("s47_outcome", "true", "icpc_not_required"),
    ],
)
def test_mapped(tbl, raw, value):
    got = recode(tbl, raw)
    assert got.status == "ok" and got.value == value


@pytest.mark.parametrize(
    ("tbl", "raw"),
    [
        ("gender", "N/A"),
        ("ethnicity", "Not Recorded"),
        ("uasc", "No Immigration Status Recorded"),
        ("previous_cpps", ""),
        ("assessment_outcome", "Incomplete"),
        ("nfa", None),
    ],
)
def test_declared_missing(tbl, raw):
    assert recode(tbl, raw).status == "missing"


@pytest.mark.parametrize(
    ("tbl", "raw"),
    [
        ("nfa", "#MULTIVALUE"),
        ("gender", "Femail"),
        ("ethnicity", "Martian"),
        ("disability", "Maybe"),
        ("previous_cpps", "-1"),
        ("previous_cpps", "lots"),
        ("legal_status", "C9"),
        ("placement", "Z15"),
        ("reason_end", "E0"),
        ("referral_source", "11"),
        ("ethnicity", "WBRI extra"),
    ],
)
def test_unmapped(tbl, raw):
    # Matching is whole-label: "Femail" is not "Female", "WBRI extra" is not "WBRI".
    got = recode(tbl, raw)
    assert got.status == "unmapped" and got.value is None


def test_legacy_codes():
    assert recode("ethnicity", "WEUR").status == "legacy"
    assert recode("ethnicity", "WEUR").value == "WOTH"
    assert recode("placement", "Q1").status == "legacy"


def test_female_never_becomes_male():
    # The LIIA substring bug: "Female" contains "male".
    assert recode("gender", "Female").value == "female"


def test_ethnicity_groups():
    assert ethnicity_group("WIRT") == "White"
    assert ethnicity_group("MWBA") == "Mixed"
    assert ethnicity_group("CHNE") == "Asian"
    assert ethnicity_group("BAFR") == "Black"
    assert ethnicity_group("OOTH") == "Other"
    assert ethnicity_group("REFU") is None and ethnicity_group(None) is None
    codes = {v for v in table("ethnicity").mapping.values()}
    assert len(codes) == 20


@pytest.mark.parametrize(
    ("raw", "codes", "unmapped"),
    [
        ("1B, 3A", ("1B", "3A"), 0),
        ("3c;3B|4b", ("3B", "3C", "4B"), 0),
        ("1B 2B 3A", ("1B", "2B", "3A"), 0),
        ("Domestic violence: parent\nMental health - parent", ("3B", "4B"), 0),
        ("21", ("21",), 0),
        ("1B, XX, 3A", ("1B", "3A"), 1),
        ("18A, 19A", ("18A", "19A"), 0),
    ],
)
def test_factors(raw, codes, unmapped):
    got = recode_factors(raw)
    assert got.codes == codes and got.unmapped == unmapped
    assert got.legacy == ("18A" in raw)


def test_flags():
    assert is_kinship("U1") and is_kinship("U3") and not is_kinship("U4") and is_kinship(None) is None
    assert is_return_home("E4A") and is_return_home("E4B") and not is_return_home("E13")
