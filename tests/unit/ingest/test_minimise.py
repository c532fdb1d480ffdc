"""Minimisation: only the data dictionary's fields survive; birth months become ages."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from cscvault.formats.base import LOC, Collector
from cscvault.ingest.minimise import allowed_columns, derive_ages, minimise
from cscvault.study import load_study, parse_data_dictionary

DICT = parse_data_dictionary(
    """
version = 1
[[categories]]
id = "x"
label = "x"
description = "x"
fields = ["referrals.referral_date", "referrals.nfa", "events.age_months", "children.gender"]
"""
)


def test_fields_outside_the_dictionary_are_dropped_and_reported():
    sink = Collector("f")
    refs = pd.DataFrame(
        {
            LOC: ["r1"],
            "la_child_id": ["1"],
            "referral_date": [dt.date(2021, 1, 1)],
            "nfa": [True],
            "source": ["6"],
            "birth_month": [dt.date(2015, 1, 1)],
        }
    )
    out = minimise(
        {"referrals": refs, "cla_episodes": pd.DataFrame({"la_child_id": ["1"], "start_date": [None]})}, DICT, sink
    )
    assert list(out["referrals"].columns) == [LOC, "la_child_id", "referral_date", "nfa"]
    assert "cla_episodes" not in out  # no field of that table is allowed
    rules = [(f.rule_id, f.field) for f in sink.findings]
    assert ("MIN-002", "source") in rules
    assert all(f.field != "birth_month" for f in sink.findings)  # reported as ID-002 at read time


def test_default_study_allows_link_and_age_columns():
    d = load_study().data_dictionary
    assert {"age_months", "referral_date", "la_child_id"} <= allowed_columns("assessments", d)
    assert "age_months" not in allowed_columns("children", d)


def test_ages_from_row_child_or_caller():
    sink = Collector("f")
    kids = pd.DataFrame({"la_child_id": ["a", "b"], "birth_month": [dt.date(2015, 3, 1), None]})
    eps = pd.DataFrame(
        {
            LOC: ["e1", "e2", "e3"],
            "la_child_id": ["a", "b", "c"],
            "start_date": [dt.date(2021, 6, 1), dt.date(2021, 6, 1), dt.date(2021, 6, 1)],
        }
    )
    out = derive_ages({"children": kids, "cla_episodes": eps}, sink, {"b": dt.date(2020, 6, 1)})
    assert out["cla_episodes"]["age_months"].tolist() == [75, 12, None]
