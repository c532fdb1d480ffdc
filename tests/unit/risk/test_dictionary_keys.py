"""Quasi-identifiers and the default key set are declared in the data dictionary and checked at load."""

from __future__ import annotations

import pytest

from cscvault.errors import StudyError, UsageError
from cscvault.risk.keyframe import resolve_keys
from cscvault.study import load_study
from cscvault.study.load import parse_data_dictionary

BASE = """
version = 1
[[categories]]
id = "c"
label = "C"
description = "d"
fields = ["children.la_code", "children.gender", "referrals.source"]
quasi_identifiers = ["children.la_code", "children.gender"]
"""


def test_shipped_dictionary_declares_the_keys() -> None:
    d = load_study().data_dictionary
    assert set(d.risk_keys) <= set(d.quasi_identifiers)
    assert "events.age_months" in d.risk_keys and "children.la_code" in d.risk_keys
    assert {s.label for s in d.sensitive} == {"care entry", "child protection plan"}


def test_a_key_that_is_not_a_quasi_identifier_fails_at_load() -> None:
    text = BASE + '[risk]\nkeys = ["children.la_code", "referrals.source"]\n'
    with pytest.raises(StudyError, match=r"risk\.keys: 'referrals\.source' is not marked as a quasi-identifier"):
        parse_data_dictionary(text)


def test_a_quasi_identifier_outside_its_category_fails_at_load() -> None:
    text = BASE.replace('"children.gender"]\n', '"children.gender", "children.uasc"]\n')
    with pytest.raises(StudyError, match=r"quasi_identifiers: 'children\.uasc' is not one of this category"):
        parse_data_dictionary(text)


def test_keys_resolve_by_field_or_column_name() -> None:
    d = load_study().data_dictionary
    assert resolve_keys(d, None) == list(d.risk_keys)
    assert resolve_keys(d, ["gender", "children.la_code"]) == ["children.gender", "children.la_code"]


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (["bogus"], "unknown key variable 'bogus'"),
        (["source"], "'source' is not a quasi-identifier"),
        (["gender", "children.gender"], "given twice"),
    ],
)
def test_bad_keys_are_one_line_usage_errors(keys: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message) as exc:
        resolve_keys(load_study().data_dictionary, keys)
    assert exc.value.exit_code == 2
    assert "\n" not in str(exc.value)
