"""Every malformed input gives findings or a clear DataError - never another exception - and a
file with a fatal finding loads nothing."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from cscvault.errors import DataError
from cscvault.ingest.pipeline import read_and_screen
from cscvault.study import load_study


def load_builders():
    name = "cscvault_tests_malformed_build"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).parent / "malformed" / "build.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


B = load_builders()
STUDY = load_study()


def test_corpus_has_at_least_40_cases():
    assert len(B.CASES) >= 40
    assert len({c.name for c in B.CASES}) == len(B.CASES)


@pytest.mark.parametrize("case", B.CASES, ids=lambda c: c.name)
def test_malformed_input_gives_findings_not_crashes(case, tmp_path):
    path = tmp_path / case.filename
    path.write_bytes(case.make())
    try:
        # debug=True: a reader bug surfaces as its own exception and fails this test.
        d = read_and_screen(path, STUDY, debug=True)
    except DataError as exc:
        assert "\n" not in str(exc)
        return
    assert d.findings, "a malformed input must produce at least one finding"
    got = {f.rule_id for f in d.findings}
    assert case.expect <= got, f"expected {case.expect - got} among {sorted(got)}"
    if case.fatal:
        assert d.rejected
        assert d.tables == {} and d.rows_loaded == 0
    for f in d.findings:
        assert "\n" not in f.message


def test_fatal_file_loads_nothing_even_when_records_were_read(tmp_path):
    # A truncated CIN file whose first children parsed fine: nothing partial is handed back.
    good = B.cin_xml([B.CinChild(la_child_id=f"C{i}") for i in range(50)])
    path = tmp_path / "cin.xml"
    path.write_bytes(good[: len(good) // 2])
    d = read_and_screen(path, STUDY, debug=True)
    assert d.rejected and "FMT-004" in d.findings_by_rule()
    assert d.tables == {} and d.rows_loaded == 0


def test_oversized_file_is_refused_before_reading(tmp_path, monkeypatch):
    import cscvault.formats.ssda903 as s903

    monkeypatch.setattr(s903, "MAX_TEXT_BYTES", 10)
    path = tmp_path / "header.csv"
    path.write_bytes(B.csv_bytes([B.HEADER_903, ["1", "1", "01/02/2015", "WBRI", "", "", ""]]))
    d = read_and_screen(path, STUDY, debug=True)
    assert "FMT-021" in d.findings_by_rule() and d.rejected


def test_reader_failure_is_a_one_line_data_error(tmp_path, monkeypatch):
    import cscvault.formats.ssda903 as s903

    def boom(*a, **k):
        raise RuntimeError("secret value 9434765919")

    monkeypatch.setattr(s903, "csv_rows", boom)
    path = tmp_path / "header.csv"
    path.write_bytes(B.csv_bytes([B.HEADER_903, ["1", "1", "01/02/2015", "WBRI", "", "", ""]]))
    with pytest.raises(DataError) as info:
        read_and_screen(path, STUDY)
    assert "9434765919" not in str(info.value)
    assert "header.csv" in str(info.value) and "RuntimeError" in str(info.value)
