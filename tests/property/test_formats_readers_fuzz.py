"""Fuzzing the readers with hypothesis: any bytes, any cell text, any mutation of a valid file give
findings (or a one-line DataError), never another exception, and never echo a value."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from cscvault.errors import DataError
from cscvault.formats.rules import rule
from cscvault.ingest.pipeline import read_and_screen
from cscvault.study import load_study

STUDY = load_study()
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def load_builders():
    name = "cscvault_tests_malformed_build"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "unit" / "formats" / "malformed" / "build.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


B = load_builders()
VALID_CIN = B.cin_xml([B.CinChild(la_child_id=f"C{i}") for i in range(3)])
VALID_903 = B.csv_bytes([B.EPISODES_903, B.episode(), B.episode(child="200")])
VALID_DR2 = B.dr2_xlsx([B.dr2_row(), B.dr2_row(child="C2")])


def _read(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    try:
        d = read_and_screen(path, STUDY, debug=True)
    except DataError as exc:
        assert "\n" not in str(exc)
        return None
    for f in d.findings:
        assert "\n" not in f.message
    long_values = {q.value for q in d.quarantine if len(q.value) >= 8}
    for f in d.findings:
        # A value that is part of the rule's own wording ("NHS numb" in "...an NHS number...") is no leak.
        wording = rule(f.rule_id).template
        assert not any(v in f.message and v not in wording for v in long_values)
    if d.rejected:
        assert d.tables == {}
    return d


@FUZZ
@given(data=st.binary(max_size=3000), name=st.sampled_from(["a.csv", "b.xml", "c.xlsx", "d.txt"]))
def test_any_bytes(tmp_path, data, name):
    _read(tmp_path, name, data)


@st.composite
def mutated(draw, base: bytes):
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["cut", "flip", "insert", "delete"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "cut":
            data = data[:pos]
        elif op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=20))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 20))]
    return bytes(data)


@FUZZ
@given(data=mutated(VALID_CIN))
def test_mutated_cin_xml(tmp_path, data):
    _read(tmp_path, "cin.xml", data)


@FUZZ
@given(data=mutated(VALID_903))
def test_mutated_903_csv(tmp_path, data):
    _read(tmp_path, "episodes.csv", data)


@FUZZ
@given(data=mutated(VALID_DR2))
def test_mutated_dr2_xlsx(tmp_path, data):
    _read(tmp_path, "walsall_dr2_nov21.xlsx", data)


cell = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ["", "=1+1", "#MULTIVALUE", "01/02/21", "44197", "N/A", "9434765919", "SW1A 1AA", "Amelia Hartley", "3+"]
    ),
)


@FUZZ
@given(rows=st.lists(st.lists(cell, min_size=13, max_size=13), max_size=6))
def test_random_cells_in_a_dr2_csv(tmp_path, rows):
    _read(tmp_path, "walsall_dr2_nov21.csv", B.csv_bytes([B.DR2_HEADER, *rows]))


@FUZZ
@given(rows=st.lists(st.lists(cell, min_size=13, max_size=13), max_size=6))
def test_random_cells_in_903_episodes(tmp_path, rows):
    _read(tmp_path, "episodes.csv", B.csv_bytes([B.EPISODES_903, *rows]))


@FUZZ
@given(values=st.lists(cell, min_size=6, max_size=6))
def test_random_values_in_cin_elements(tmp_path, values):
    from xml.sax.saxutils import escape

    v = [escape(x) for x in values]
    child = B.CinChild(
        la_child_id=v[0] or "X", gender=v[1], ethnicity=v[2], source=v[3], nfa=v[4], referral=v[5] or "2021-01-01"
    )
    _read(tmp_path, "cin.xml", B.cin_xml([child]))


SCHOOL_HEADER = [
    "la_child_id",
    "term",
    "termlysessionspossible",
    "termlysessionsauthorised",
    "termlysessionsunauthorised",
    "fsmeligible",
    "pupilpremium",
    "dob",
    "surname",
]


@FUZZ
@given(rows=st.lists(st.lists(cell, min_size=9, max_size=9), max_size=6))
def test_random_cells_in_a_school_census(tmp_path, rows):
    _read(tmp_path, "2022_spring_pupilonroll.csv", B.csv_bytes([SCHOOL_HEADER, *rows]))


@FUZZ
@given(
    data=mutated(
        b"<?xml version='1.0'?><EXPSSDA903><CHILD><HEADER><CHILDID>9</CHILDID><SEX>2</SEX><DOB>15/06/2012</DOB>"
        b"<ETHNIC>BAFR</ETHNIC></HEADER><EPISODE><DECOM>01/03/2021</DECOM><RNE>S</RNE><LS>V2</LS><PL>U3</PL>"
        b"<DEC>01/06/2021</DEC><REC>E4B</REC></EPISODE></CHILD></EXPSSDA903>"
    )
)
def test_mutated_903_xml(tmp_path, data):
    _read(tmp_path, "903.xml", data)
