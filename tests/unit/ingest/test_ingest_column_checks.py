"""Column checks done once per distinct value (and remembered across columns): the same findings, row by row,
as checking every cell; a remembered outcome never crosses into a column checked differently."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from cscvault.formats.base import LOC, Collector
from cscvault.ingest import clean
from cscvault.ingest.minimise import derive_ages
from cscvault.study import load_study

STUDY = load_study()


def _referrals(dates: list[object], births: list[object]) -> pd.DataFrame:
    n = len(dates)
    return pd.DataFrame(
        {
            LOC: [f"row {i + 2}" for i in range(n)],
            "la_child_id": [f"C{i}" for i in range(n)],
            "referral_date": dates,
            "birth_month": births,
        }
    )


def test_each_row_with_a_failing_value_is_reported_and_quarantined_with_its_own_child() -> None:
    clean.forget_checked()
    sink = Collector("f.csv")
    df = _referrals(["2021-01-05", "1850-01-01", None, "1850-01-01", "2021-01-05"], [None] * 5)
    out = clean.clean_tables({"referrals": df}, sink, STUDY)["referrals"]
    found = [(f.rule_id, f.location) for f in sink.findings]
    assert [x for x in found if x[0] == "DATE-003"] == [("DATE-003", "row 3"), ("DATE-003", "row 5")]
    assert [x for x in found if x[0] == "DATE-007"] == [
        ("DATE-007", "row 3"),
        ("DATE-007", "row 4"),
        ("DATE-007", "row 5"),
    ]
    assert [(q.location, q.la_child_id, q.value) for q in sink.quarantine] == [
        ("row 3", "C1", "1850-01-01"),
        ("row 5", "C3", "1850-01-01"),
    ]
    # Rows with no usable date are dropped (DATE-007), the others keep their parsed date.
    assert out["referral_date"].tolist() == [dt.date(2021, 1, 5), dt.date(2021, 1, 5)]


def test_a_remembered_outcome_stays_in_its_own_kind_of_column() -> None:
    clean.forget_checked()
    sink = Collector("f.csv")
    # 2005-03-01 is a good birth month but is outside the study's data window (from 2019) as an event date.
    df = _referrals(["2005-03-01", "2021-02-01"], ["2005-03-01", "2005-03-01"])
    out = clean.clean_tables({"referrals": df}, sink, STUDY)["referrals"]
    rules = [(f.rule_id, f.field) for f in sink.findings]
    assert ("DATE-003", "referral_date") in rules
    assert not any(field == "birth_month" for _, field in rules)
    assert out["birth_month"].tolist() == [dt.date(2005, 3, 1)]  # the row whose referral date was fine
    clean.forget_checked()
    assert clean._MEMO == {}


def test_a_count_too_large_to_store_is_out_of_range_not_a_crash() -> None:
    spec = next(f for f in clean.TABLES["attendance_terms"] if f.kind == "count")
    df = pd.DataFrame({LOC: ["row 2", "row 3"], "la_child_id": ["A", "B"], spec.name: ["1e100", "12"]})
    sink = Collector("f.csv")
    col = clean._clean_column(df, spec, sink, STUDY, "attendance_terms")
    assert col.tolist() == [None, 12]
    assert [(f.rule_id, f.location) for f in sink.findings] == [("NUM-002", "row 2")]


def test_ages_come_from_the_row_or_the_childs_known_birth_month() -> None:
    sink = Collector("f.csv")
    df = pd.DataFrame(
        {
            LOC: ["r1", "r2", "r3", "r4"],
            "la_child_id": ["A", "B", "C", "D"],
            "referral_date": [dt.date(2021, 6, 15), dt.date(2021, 6, 15), None, dt.date(2021, 6, 15)],
            "birth_month": [dt.date(2020, 1, 1), None, dt.date(2019, 1, 1), dt.date(1980, 1, 1)],
        }
    )
    out = derive_ages({"referrals": df}, sink, {"B": dt.date(2021, 1, 1)})["referrals"]
    assert out["age_months"].tolist() == [17, 5, None, None]
    assert all(type(a) is int for a in out["age_months"] if a is not None)
    assert [(f.rule_id, f.location) for f in sink.findings] == [("AGE-001", "r4")]
