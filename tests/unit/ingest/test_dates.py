"""Date parsing: ISO, dd/mm/yyyy, Excel serials, month-year; ambiguity is reported."""

from __future__ import annotations

import datetime as dt

import pytest

from cscvault.ingest.dates import age_in_months, column_day_first, parse_date


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2021-03-04", dt.date(2021, 3, 4)),
        ("2021-03-04T00:00:00", dt.date(2021, 3, 4)),
        ("2021-03-04 13:45:00", dt.date(2021, 3, 4)),
        ("04/03/2021", dt.date(2021, 3, 4)),
        ("4/3/2021", dt.date(2021, 3, 4)),
        ("04-03-2021", dt.date(2021, 3, 4)),
        ("04.03.2021", dt.date(2021, 3, 4)),
        ("2021/03/04", dt.date(2021, 3, 4)),
        ("2024-Oct-16 00:00:00", dt.date(2024, 10, 16)),
        ("16-Oct-2024", dt.date(2024, 10, 16)),
        ("16 October 2024", dt.date(2024, 10, 16)),
        ("44197", dt.date(2021, 1, 1)),
        (44197, dt.date(2021, 1, 1)),
        (44197.0, dt.date(2021, 1, 1)),
        (dt.datetime(2021, 1, 1, 12), dt.date(2021, 1, 1)),
    ],
)
def test_accepted_forms(raw, expected):
    got = parse_date(raw)
    assert got.status == "ok" and got.value == expected


@pytest.mark.parametrize("raw", ["", None, "  "])
def test_empty(raw):
    assert parse_date(raw).status == "empty"


@pytest.mark.parametrize("raw", ["31/02/2021", "next week", "99999", "1", "2021-13-01", "44197.5", "Octember 2020"])
def test_invalid(raw):
    assert parse_date(raw).status == "invalid"


def test_month_year_forms_only_when_allowed():
    assert parse_date("03/2015").status == "invalid"
    for raw in ("03/2015", "3-2015", "2015-03", "Mar 2015", "March-2015"):
        got = parse_date(raw, month_ok=True)
        assert got.value == dt.date(2015, 3, 1) and got.precision == "month", raw


def test_two_digit_years_are_ambiguous():
    got = parse_date("01/02/21")
    assert got.status == "ambiguous" and got.value == dt.date(2021, 2, 1) and "20yy" in got.reading
    assert parse_date("Mar-15", month_ok=True).status == "ambiguous"


def test_day_month_order_settled_by_the_column():
    assert column_day_first(["25/12/2021", "01/02/2021"]) is True
    assert column_day_first(["12/25/2021", "01/02/2021"]) is False
    assert column_day_first(["12/25/2021", "25/12/2021"]) is None
    assert column_day_first(["2021-01-01"]) is True
    us = parse_date("01/02/2021", day_first=False)
    assert us.value == dt.date(2021, 1, 2) and us.status == "ok"
    mixed = parse_date("01/02/2021", day_first=None)
    assert mixed.status == "ambiguous" and mixed.value == dt.date(2021, 2, 1)
    assert parse_date("12/25/2021", day_first=None).status == "ambiguous"


def test_age_in_months():
    assert age_in_months(dt.date(2015, 3, 1), dt.date(2021, 6, 15)) == 75
    assert age_in_months(dt.date(2021, 9, 1), dt.date(2021, 7, 1)) == -2
    assert age_in_months(dt.date(2021, 7, 1), dt.date(2021, 7, 31)) == 0
