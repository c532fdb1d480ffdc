"""ID repair, de-duplication, first referrals and the linkage report."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from cscvault.formats.base import LOC, Collector
from cscvault.ingest.link import (
    collapse_children,
    dedupe_events,
    drop_duplicates,
    first_referrals,
    linkage_report,
    split_conflicting_ids,
)


def test_split_conflicting_ids():
    sink = Collector("f")
    refs = pd.DataFrame(
        {
            LOC: ["r1", "r2", "r3", "r4"],
            "la_child_id": ["A", "A", "A", "B"],
            "birth_month": [dt.date(2015, 3, 1), dt.date(2019, 7, 1), None, dt.date(2015, 3, 1)],
        }
    )
    out = split_conflicting_ids({"referrals": refs}, sink)
    assert out["referrals"]["la_child_id"].tolist() == ["A#2015-03", "A#2019-07", "A#unknown", "B"]
    assert [f.rule_id for f in sink.findings] == ["LINK-001"]
    assert sink.findings[0].location == "r1"


def test_drop_duplicates_and_collapse_children():
    sink = Collector("f")
    df = pd.DataFrame({LOC: ["a", "b", "c"], "la_child_id": ["1", "1", "2"], "v": ["x", "x", "y"]})
    out = drop_duplicates(df, "referrals", sink)
    assert len(out) == 2 and [f.location for f in sink.findings] == ["b"]
    kids = pd.DataFrame(
        {LOC: ["a", "b"], "la_child_id": ["1", "1"], "gender": ["male", None], "ethnicity": [None, "WBRI"]}
    )
    one = collapse_children(kids)
    assert len(one) == 1 and one["gender"].iloc[0] == "male" and one["ethnicity"].iloc[0] == "WBRI"


def test_same_referral_in_overlapping_returns_stored_once():
    df = pd.DataFrame(
        {
            "la_code": ["E1"] * 3,
            "child_key": ["k", "k", "k"],
            "referral_date": [dt.date(2021, 1, 5)] * 2 + [dt.date(2021, 3, 1)],
            "return_label": ["nov21", "apr22", "apr22"],
            "delivery_seq": [1, 2, 2],
            "nfa": [None, True, False],
        }
    )
    out, dropped = dedupe_events(df, ["la_code", "child_key", "referral_date"], order_by=["delivery_seq"])
    assert dropped == 1 and len(out) == 2
    assert out.loc[out["referral_date"] == dt.date(2021, 1, 5), "return_label"].item() == "apr22"


def test_first_referral_ties_are_deterministic():
    rows = pd.DataFrame(
        {
            "la_code": ["E1"] * 4,
            "child_key": ["a", "a", "a", "b"],
            "referral_date": [dt.date(2021, 5, 1), dt.date(2021, 2, 1), dt.date(2021, 2, 1), dt.date(2021, 1, 1)],
            "source": ["6", "2A", "1A", "6"],
        }
    )
    sink = Collector("f")
    first = first_referrals(rows, sink=sink)
    again = first_referrals(rows.iloc[::-1].reset_index(drop=True))
    assert (
        first.sort_values("child_key")
        .reset_index(drop=True)
        .equals(again.sort_values("child_key").reset_index(drop=True))
    )
    a = first.set_index("child_key").loc["a"]
    assert a["referral_date"] == dt.date(2021, 2, 1) and a["first_referral_tie"]
    assert not first.set_index("child_key").loc["b", "first_referral_tie"]
    assert [f.rule_id for f in sink.findings] == ["LINK-002"]


def test_linkage_report_rates():
    records = pd.DataFrame(
        {
            "la_code": ["E1"] * 4,
            "return_label": ["dr3"] * 4,
            "table": ["cla_episodes"] * 4,
            "child_key": ["a", "b", "c", "c"],
        }
    )
    reference = pd.DataFrame({"la_code": ["E1", "E1"], "child_key": ["a", "c"]})
    rep = linkage_report(records, reference)
    row = rep.iloc[0]
    assert row["children"] == 3 and row["linked"] == 2 and row["match_rate"] == pytest.approx(0.6667)


def test_first_referrals_are_per_la_and_child():
    rows = pd.DataFrame(
        {
            "la_code": ["E1", "E2", "E1"],
            "child_key": ["a", "a", "a"],
            "referral_date": [dt.date(2021, 5, 1), dt.date(2020, 1, 1), dt.date(2021, 4, 1)],
        }
    )
    first = first_referrals(rows).set_index("la_code")["referral_date"].to_dict()
    assert first == {"E1": dt.date(2021, 4, 1), "E2": dt.date(2020, 1, 1)}
    assert len(first_referrals(rows, la=None)) == 1


def test_ids_without_conflict_are_left_alone():
    refs = pd.DataFrame({"la_child_id": ["A", "A", "B"], "birth_month": [dt.date(2015, 3, 1)] * 2 + [None]})
    episodes = pd.DataFrame({"la_child_id": ["A", "B"], "start": [dt.date(2021, 1, 1)] * 2})
    sink = Collector("f")
    out = split_conflicting_ids({"referrals": refs, "episodes": episodes}, sink)
    assert out["referrals"]["la_child_id"].tolist() == ["A", "A", "B"]
    assert out["episodes"]["la_child_id"].tolist() == ["A", "B"]
    assert sink.findings == []
