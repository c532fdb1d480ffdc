"""Identifier screening of column names and of values."""

from __future__ import annotations

import pytest

from cscvault.formats.identifiers import (
    identifier_kind,
    is_birth_column,
    looks_like_name,
    nhs_check_digit_ok,
    value_identifier_rule,
)


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("Surname", "a name"),
        ("forename", "a name"),
        ("Child's full name", "a name"),
        ("middlenames", "a name"),
        ("preferredsurname", "a name"),
        ("Home address", "an address"),
        ("Address line 1", "an address"),
        ("Postcode", "a postcode"),
        ("HOME_POST", "a postcode"),
        ("PL_POST", "a postcode"),
        ("UPN", "a UPN"),
        ("FormerUPN", "a UPN"),
        ("uniquelearnernumber", "a UPN"),
        ("NHS Number", "an NHS number"),
        ("NHSNumber", "an NHS number"),
        ("Case notes", "free text"),
        ("Comments", "free text"),
        ("Email", "a contact detail"),
        ("Phone number", "a contact detail"),
        ("MC_DOB", "another personal identifier"),
    ],
)
def test_identifier_columns(column, kind):
    assert identifier_kind(column) == kind


@pytest.mark.parametrize(
    "column",
    [
        "Child ID",
        "Referral Date",
        "Gender",
        "Ethnicity",
        "LS",
        "PLACE",
        "DECOM",
        "Outcome of Single Assessment",
        "CINdetails",
        "termlysessionspossible",
    ],
)
def test_allowed_columns_are_not_identifiers(column):
    assert identifier_kind(column) is None


@pytest.mark.parametrize(
    "column",
    [
        "DOB",
        "Date of birth",
        "PersonBirthDate",
        "Year and month of birth of the child",
        "ExpectedPersonBirthDate",
        "dob",
    ],
)
def test_birth_columns(column):
    assert is_birth_column(column)


def test_nhs_check_digit():
    assert nhs_check_digit_ok("9434765919")
    assert not nhs_check_digit_ok("9434765918")
    assert not nhs_check_digit_ok("943476591")
    # 123456789x: weighted sum 210, 11 - 210 % 11 = 10, a check digit that is never valid.
    assert not any(nhs_check_digit_ok(f"123456789{d}") for d in "0123456789")


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("9434765919", "ID-101"),
        ("943 476 5919", "ID-101"),
        ("943-476-5919", "ID-101"),
        ("A123456789012", "ID-102"),
        ("see jane.doe@example.org", "ID-104"),
        ("07700 900123", "ID-105"),
        ("+44 7700 900123", "ID-105"),
        ("0121 496 0000", "ID-105"),
        ("SW1A 1AA", "ID-103"),
        ("EG19 7TT", "ID-103"),
    ],
)
def test_identifier_values(value, rule):
    assert value_identifier_rule(value) == rule


@pytest.mark.parametrize(
    "value",
    [
        "9434765918",
        "WBRI",
        "1B,3A",
        "N1",
        "E4A",
        "PR4",
        "U1",
        "01/02/2021",
        "44197",
        "2021-06-15",
        "C2",
        "SW999",
        "140",
        "3+",
    ],
)
def test_codes_and_dates_are_not_identifiers(value):
    assert value_identifier_rule(value) is None


def test_name_shape_only_in_coded_fields():
    assert looks_like_name("Amelia Hartley")
    assert looks_like_name("Mary-Jane O'Neil")
    assert value_identifier_rule("Amelia Hartley", coded=True) == "ID-106"
    assert value_identifier_rule("Amelia Hartley") is None
    for label in ("WBRI", "Male", "White British", "a) Male", "Yes", "Not Stated", "Any Other Background"):
        assert not looks_like_name(label), label
