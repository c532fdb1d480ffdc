"""CIN census XML: every collection year 2019/20..2025/26, schema changes, streaming, security."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path

import pytest

from cscvault.formats.registry import detect
from cscvault.ingest.pipeline import read_and_screen
from cscvault.study import load_study

STUDY = load_study()


def load_builders():
    name = "cscvault_tests_malformed_build"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parent / "malformed" / "build.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


B = load_builders()


def _third_factor(year: int) -> str:
    """A factor code valid in the census ending in `year`: 18A until 2019/20, 18B in 2020/21, then 24A."""
    return "18A" if year <= 2020 else "18B" if year == 2021 else "24A"


def child(year: int, **kw):
    """A child whose events fall inside the census year ending 31 March `year`."""
    start = f"{year - 1}-06-01"
    base = dict(
        referral=start,
        gender="M" if year >= 2025 else "1",
        assessments=((f"{year - 1}-06-02", f"{year - 1}-06-20", ("1B", "3A", _third_factor(year))),),
        s47=((f"{year - 1}-06-03", f"{year - 1}-06-25", "false"),),
        cpps=((f"{year - 1}-06-26", None, "NEG", "1"),),
        cin_plans=((f"{year - 1}-07-01", f"{year - 1}-12-01"),) if year >= 2022 else (),
    )
    base.update(kw)
    return B.CinChild(**base)


@pytest.mark.parametrize("year", range(2020, 2027), ids=lambda y: f"{y - 1}/{y % 100:02d}")
def test_every_collection_year_reads(tmp_path, year):
    path = tmp_path / "census.xml"
    path.write_bytes(
        B.cin_xml(
            [child(year), child(year, la_child_id="CH2", gender="F" if year >= 2025 else "2")], year=year, lea="894"
        )
    )
    d = read_and_screen(path, STUDY, debug=True)
    assert d.format == "cin_census" and not d.rejected
    assert d.la.name == "Telford and Wrekin"
    assert d.collection_year == f"{year - 1}/{year % 100:02d}"
    assert "FMT-020" not in d.findings_by_rule()
    kids = d.tables["children"].set_index("la_child_id")
    assert kids.loc["CH1", "gender"] == "male" and kids.loc["CH2", "gender"] == "female"
    assert kids.loc["CH1", "disability"] == False  # noqa: E712 - NONE
    refs = d.tables["referrals"]
    assert refs["referral_date"].tolist() == [dt.date(year - 1, 6, 1)] * 2
    ass = d.tables["assessments"]
    assert ass["factors"].iloc[0] == "1B,3A," + _third_factor(year)
    assert "CODE-017" not in d.findings_by_rule()
    assert ass["referral_date"].iloc[0] == dt.date(year - 1, 6, 1)
    assert d.tables["s47_enquiries"]["outcome"].tolist() == ["icpc_required"] * 2
    cpp = d.tables["cp_plans"]
    assert cpp["category"].tolist() == ["NEG"] * 2 and cpp["previous_cpps"].tolist() == [1, 1]
    assert ("cin_plans" in d.tables) == (year >= 2022)
    if year <= 2020:
        assert "CODE-016" in d.findings_by_rule()  # retired 18A kept and reported


def test_gender_element_outside_its_years_is_a_warning(tmp_path):
    path = tmp_path / "c.xml"
    path.write_bytes(B.cin_xml([child(2025, gender="1")], year=2025, gender_element="GenderCurrent"))
    d = read_and_screen(path, STUDY, debug=True)
    assert "FMT-020" in d.findings_by_rule()
    assert d.tables["children"]["gender"].tolist() == ["male"]


def test_cin_plans_before_2021_22_are_flagged(tmp_path):
    path = tmp_path / "c.xml"
    path.write_bytes(B.cin_xml([child(2021, cin_plans=(("2020-07-01", None),))], year=2021))
    d = read_and_screen(path, STUDY, debug=True)
    assert "FMT-020" in d.findings_by_rule()


def test_namespaced_document_and_unborn_child(tmp_path):
    unborn = child(2022, la_child_id="U1", birth=None, expected="2021-09-15", gender="0")
    path = tmp_path / "c.xml"
    path.write_bytes(B.cin_xml([unborn], year=2022, ns="http://www.dfes.gov.uk/CIN"))
    d = read_and_screen(path, STUDY, debug=True)
    assert d.tables["referrals"]["unborn"].tolist() == [True]
    assert "ExpectedPersonBirthDate" in d.dropped_columns


def test_unknown_disability_and_sex_codes_are_findings(tmp_path):
    path = tmp_path / "c.xml"
    path.write_bytes(B.cin_xml([child(2025, gender="X", disabilities=("NONE", "WINGS"))], year=2025))
    d = read_and_screen(path, STUDY, debug=True)
    rules = d.findings_by_rule()
    assert rules["CODE-001"] == 1 and rules["CODE-003"] == 1
    assert {q.rule_id for q in d.quarantine} >= {"CODE-001", "CODE-003"}


def test_many_children_stream(tmp_path):
    kids = [child(2023, la_child_id=f"K{i}") for i in range(3000)]
    path = tmp_path / "big.xml"
    path.write_bytes(B.cin_xml(kids, year=2023))
    d = read_and_screen(path, STUDY, debug=True)
    assert d.rows_read == 3000 and len(d.tables["children"]) == 3000
    assert len(d.tables["referrals"]) == 3000


def test_detection_ignores_file_name(tmp_path):
    path = tmp_path / "episodes.csv"
    path.write_bytes(B.cin_xml([child(2023)], year=2023))
    assert detect(path).format == "cin_census"


@pytest.mark.parametrize(
    ("year", "source", "factor", "flagged"),
    [
        (2022, "5D", "1B", True),
        (2023, "5D", "1B", False),
        (2021, "1A", "24A", True),
        (2022, "1A", "24A", False),
        (2022, "1A", "19A", True),
    ],
)
def test_codes_outside_their_collection_years(tmp_path, year, source, factor, flagged):
    path = tmp_path / "c.xml"
    kid = child(year, source=source, assessments=((f"{year - 1}-06-02", None, (factor,)),))
    path.write_bytes(B.cin_xml([kid], year=year))
    d = read_and_screen(path, STUDY, debug=True)
    assert ("CODE-017" in d.findings_by_rule()) == flagged
    # The value is kept: an out-of-date code list is reported, not lost.
    assert d.tables["referrals"]["source"].tolist() == [source]
