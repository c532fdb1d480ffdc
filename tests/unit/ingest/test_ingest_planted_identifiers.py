"""Planted identifiers: dropped by column name, quarantined by value, and never echoed in a finding,
a table or an error message."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from cscvault.errors import CscvaultError
from cscvault.formats.base import Collector
from cscvault.formats.dr_returns import DrReturnReader
from cscvault.ingest.pipeline import read_and_screen
from cscvault.study import load_study

STUDY = load_study()


def load_builders():
    name = "cscvault_tests_malformed_build"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "formats" / "malformed" / "build.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


B = load_builders()

PLANTED_COLUMNS = {
    "Surname": "Hartley",
    "Forename": "Amelia",
    "Home address": "12 Acacia Avenue",
    "Postcode": "WS1 1TP",
    "UPN": "K801200100105",
    "NHS Number": "4010232137",
    "Date of birth": "14/03/2015",
    "Case notes": "Mother says the boiler is broken",
    "Email": "amelia.hartley@example.net",
}
# Identifier values planted inside allowed (coded) fields: field -> value.
PLANTED_VALUES = {
    "ethnicity": "943 476 5919",  # NHS number with a valid check digit
    "gender": "Amelia Hartley",  # a personal name in a coded field
    "factors": "amelia.hartley@example.org",
    "previous_cpps": "07700 900123",
    "assessment_outcome": "WS2 8EQ",
    "nfa": "B123456789012",  # UPN shape
}


def _all_text(d) -> str:
    parts = [f.message + "|" + f.location + "|" + f.field for f in d.findings]
    parts += list(d.dropped_columns)
    for df in d.tables.values():
        parts.append(df.astype(str).to_csv(index=False))
    parts.append(repr(d.summary()))
    return "\n".join(parts)


def _dr2_with_plants():
    header = [*B.DR2_HEADER, *PLANTED_COLUMNS]
    clean = [*B.dr2_row(child="P1"), *PLANTED_COLUMNS.values()]
    row = B.dr2_row(
        child="P2",
        eth=PLANTED_VALUES["ethnicity"],
        gender=PLANTED_VALUES["gender"],
        factors=PLANTED_VALUES["factors"],
        prev=PLANTED_VALUES["previous_cpps"],
        outcome=PLANTED_VALUES["assessment_outcome"],
        nfa=PLANTED_VALUES["nfa"],
    )
    return B.dr2_xlsx([clean, [*row, *PLANTED_COLUMNS.values()]], header=header)


def test_planted_columns_dropped_and_named(tmp_path):
    path = tmp_path / "walsall_dr2_nov21.xlsx"
    path.write_bytes(_dr2_with_plants())
    d = read_and_screen(path, STUDY, debug=True)
    assert set(PLANTED_COLUMNS) <= set(d.dropped_columns)
    id_msgs = [f.message for f in d.findings if f.rule_id in {"ID-001", "ID-002"}]
    for column in PLANTED_COLUMNS:
        assert any(f"'{column}'" in m for m in id_msgs), column
    assert "ID-002" in d.findings_by_rule()  # the real month-of-birth column: used for ages, then dropped


def test_planted_values_quarantined_never_echoed(tmp_path):
    path = tmp_path / "walsall_dr2_nov21.xlsx"
    path.write_bytes(_dr2_with_plants())
    d = read_and_screen(path, STUDY, debug=True)
    text = _all_text(d)
    for value in [*PLANTED_COLUMNS.values(), *PLANTED_VALUES.values()]:
        assert value not in text, value
    quarantined = {q.value for q in d.quarantine}
    for value in PLANTED_VALUES.values():
        assert value in quarantined, value
    rules = d.findings_by_rule()
    for rid in ("ID-101", "ID-102", "ID-103", "ID-104", "ID-105", "ID-106"):
        assert rid in rules, rid


def test_planted_values_in_cin_and_903(tmp_path):
    cin = B.cin_xml(
        [
            B.CinChild(
                la_child_id="Q1",
                upn="K801200100105",
                ethnicity="Amelia Hartley",
                source="4010232137",
                cpps=(("2021-06-10", None, "WS1 1TP", "07700 900123"),),
            )
        ]
    )
    p1 = tmp_path / "cin.xml"
    p1.write_bytes(cin)
    ep = tmp_path / "episodes.csv"
    ep.write_bytes(B.csv_bytes([B.EPISODES_903, [*B.episode(child="Q1")[:10], "WS1 1TP", "B15 8PZ", "1234567"]]))
    for path in (p1, ep):
        d = read_and_screen(path, STUDY, la="Walsall", debug=True)
        text = _all_text(d)
        for value in ("K801200100105", "Amelia Hartley", "4010232137", "WS1 1TP", "07700 900123", "B15 8PZ"):
            assert value not in text, (path.name, value)
    d = read_and_screen(p1, STUDY, la="Walsall")
    assert {q.value for q in d.quarantine} >= {"Amelia Hartley", "4010232137", "WS1 1TP", "07700 900123"}


def test_errors_never_carry_values(tmp_path, monkeypatch):
    import cscvault.formats.dr_returns as dr

    def boom(*args, **kwargs):
        raise ValueError("could not convert 'Amelia Hartley' 4010232137")

    monkeypatch.setattr(dr, "_dr2_row", boom)
    path = tmp_path / "walsall_dr2_nov21.xlsx"
    path.write_bytes(_dr2_with_plants())
    with pytest.raises(CscvaultError) as info:
        read_and_screen(path, STUDY)
    assert "Amelia" not in str(info.value) and "4010232137" not in str(info.value)


def test_more_code_tables_report_their_own_rules(tmp_path):
    row = B.dr2_row(uasc="Perhaps", prev="lots", outcome="Pending review")
    path = tmp_path / "swindon_dr2_nov21.xlsx"
    path.write_bytes(B.dr2_xlsx([row]))
    rules = read_and_screen(path, STUDY, debug=True).findings_by_rule()
    assert {"CODE-004", "CODE-006", "CODE-007"} <= set(rules)
    cin = B.cin_xml(
        [
            B.CinChild(
                source="99Z",
                referral="2021-06-05",
                assessments=(("2021-06-01", None, ()),),
                cpps=(("2021-06-10", None, "BAD", "1"),),
            )
        ]
    )
    p = tmp_path / "c.xml"
    p.write_bytes(cin)
    rules = read_and_screen(p, STUDY, debug=True).findings_by_rule()
    assert {"CODE-013", "CODE-014", "DATE-006"} <= set(rules)


def test_reports_on_structure(tmp_path, test_data):
    fx = test_data
    rules = read_and_screen(fx / "csc-validator-be-903/reviews.csv", STUDY, la="Walsall").findings_by_rule()
    assert "FMT-015" in rules and "FMT-022" in rules
    rules = read_and_screen(fx / "csc-validator-be-cin/CIN_Census_2021.xml", STUDY).findings_by_rule()
    assert "FMT-016" in rules
    book = tmp_path / "book.xlsx"
    book.write_bytes(B.xlsx_bytes([("Sheet1", [["x"]])]))
    sink = Collector(book.name)
    DrReturnReader().read(book, sink, STUDY)
    assert [f.rule_id for f in sink.findings] == ["FMT-013"]


def test_caller_errors_are_usage_errors(tmp_path):
    from cscvault.errors import UsageError

    with pytest.raises(UsageError):
        read_and_screen(tmp_path / "missing.csv", STUDY)
    with pytest.raises(UsageError):
        read_and_screen(tmp_path, STUDY)
    path = tmp_path / "e.csv"
    path.write_bytes(B.csv_bytes([B.EPISODES_903, B.episode()]))
    with pytest.raises(UsageError):
        read_and_screen(path, STUDY, la="Atlantis")


def test_child_ids_that_are_nhs_numbers_are_flagged(tmp_path):
    from cscvault.formats.identifiers import nhs_check_digit_ok

    # Ten-digit numbers with a valid modulus-11 check digit, made by trying each last digit.
    valid = [n for base in range(401023210, 401023240) for d in "0123456789" if nhs_check_digit_ok(n := f"{base}{d}")]
    valid = valid[:8]
    assert len(valid) == 8
    path = tmp_path / "e.csv"
    path.write_bytes(B.csv_bytes([B.EPISODES_903, *[B.episode(child=n) for n in valid]]))
    d = read_and_screen(path, STUDY, la="Walsall", debug=True)
    assert "ID-107" in d.findings_by_rule()
    assert not any(n in f.message for f in d.findings for n in valid)
    plain = tmp_path / "p.csv"
    plain.write_bytes(B.csv_bytes([B.EPISODES_903, *[B.episode(child=str(100 + i)) for i in range(6)]]))
    assert "ID-107" not in read_and_screen(plain, STUDY, la="Walsall").findings_by_rule()
