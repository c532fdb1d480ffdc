"""Synthetic returns have the shapes of the real files (public fixtures) and carry planted identifiers."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import openpyxl
import pytest
from lxml import etree

from cscvault.synth import generate
from cscvault.synth.identifiers import nhs_number_valid, upn_valid
from cscvault.synth.ssda903 import COLUMNS


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth")
    generate(d, seed=3, children=4000, with_identifiers=True)
    return d


def _paths(xml: Path) -> set[str]:
    found = set()
    for _ev, el in etree.iterparse(str(xml), events=("start",)):
        parts, e = [], el
        while e is not None:
            parts.append(e.tag)
            e = e.getparent()
        found.add("/".join(reversed(parts)))
    return found


def test_layout_truth_beside_returns(out):
    assert (out / "truth.json").is_file() and (out / "bait_manifest.json").is_file()
    assert not list((out / "returns").rglob("truth.json"))
    las = sorted(p.name for p in (out / "returns").iterdir())
    assert las == ["lancashire", "swindon", "telford", "walsall", "wandsworth"]
    truth = json.loads((out / "truth.json").read_text())
    listed = set(truth["files"])
    written = {str(p.relative_to(out)) for p in (out / "returns").rglob("*") if p.is_file()}
    assert listed == written


def test_cin_xml_has_fixture_element_paths(out, test_data):
    fixtures = set()
    for f in sorted((test_data / "csc-validator-be-cin").glob("*.xml")):
        fixtures |= _paths(f)
    ours = set()
    files = sorted((out / "returns").glob("*/cin/*.xml"))
    assert len(files) == 5 * 7  # five LAs x collection years 2019/20..2025/26
    for f in files:
        ours |= _paths(f)
    assert ours <= fixtures, sorted(ours - fixtures)
    core = {
        "Message/Header/CollectionDetails/ReferenceDate",
        "Message/Header/Source/LEA",
        "Message/Children/Child/ChildIdentifiers/LAchildID",
        "Message/Children/Child/CINdetails/CINreferralDate",
        "Message/Children/Child/CINdetails/Assessments/FactorsIdentifiedAtAssessment/AssessmentFactors",
        "Message/Children/Child/CINdetails/CINPlanDates/CINPlanStartDate",
        "Message/Children/Child/CINdetails/Section47/S47ActualStartDate",
        "Message/Children/Child/CINdetails/ChildProtectionPlans/CPPstartDate",
        "Message/Children/Child/CINdetails/ChildProtectionPlans/Reviews/CPPreviewDate",
        "Message/Children/Child/ChildIdentifiers/UPN",
    }
    assert core <= ours


def test_cin_year_differences(out):
    base = out / "returns" / "telford" / "cin"
    y2024 = (base / "telford_cin_census_2023-24.xml").read_text()
    y2025 = (base / "telford_cin_census_2024-25.xml").read_text()
    y2021 = (base / "telford_cin_census_2020-21.xml").read_text()
    assert "<GenderCurrent>" in y2024 and "<Sex>" not in y2024
    assert "<Sex>" in y2025 and "<GenderCurrent>" not in y2025
    assert "<CINPlanDates>" not in y2021 and "<CINPlanDates>" in y2024
    assert "<AssessmentFactors>24A</AssessmentFactors>" not in y2021
    assert "<ReasonForClosure>RC9</ReasonForClosure>" not in y2021
    assert "<ReferenceDate>2025-03-31</ReferenceDate>" in y2025
    assert "<LEA>894</LEA>" in y2025


def _header(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8-sig")
    return next(csv.reader([text.splitlines()[0]]))


def test_903_headers_equal_fixture_headers(out, test_data):
    fixtures = test_data / "csc-validator-be-903"
    years = sorted((out / "returns" / "walsall" / "ssda903").iterdir())
    assert next(y.name for y in years) == "2019-20" and [y.name for y in years][-1] == "2025-26"
    for year in years:
        for f in sorted(year.glob("*.csv")):
            assert _header(f) == _header(fixtures / f.name), f
        assert (year / "sw_episodes.csv").exists() == (year.name >= "2023-24")
    # the code table in the generator equals the fixtures too (so no table is left unchecked)
    for table, cols in COLUMNS.items():
        assert list(cols) == _header(fixtures / f"{table}.csv"), table


def test_903_sex_codes_change_in_2024_25(out):
    base = out / "returns" / "lancashire" / "ssda903"
    old = {r["SEX"] for r in csv.DictReader((base / "2023-24" / "header.csv").open(encoding="utf-8-sig"))}
    new = {r["SEX"] for r in csv.DictReader((base / "2024-25" / "header.csv").open(encoding="utf-8-sig"))}
    assert old <= {"1", "2"} and new <= {"M", "F", "U"} and new


def test_903_episodes_are_valid(out):
    for f in (out / "returns").glob("*/ssda903/*/episodes.csv"):
        rows = list(csv.DictReader(f.open(encoding="utf-8-sig")))
        for r in rows:
            assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", r["DECOM"])
            assert r["RNE"] in {"S", "L", "P", "T", "B", "U"}
            assert (r["DEC"] == "") == (r["REC"] == "")


def test_dr_workbooks_have_template_layout(out):
    dr = out / "returns" / "walsall" / "dr"
    names = sorted(p.name for p in dr.glob("*.xlsx"))
    assert "walsall_dr2_nov20.xlsx" in names and "walsall_dr3_jul24.xlsx" in names
    assert len([n for n in names if "_dr1_" in n]) == 6 and len([n for n in names if "_dr2_" in n]) == 4
    wb = openpyxl.load_workbook(dr / "walsall_dr2_nov21.xlsx", read_only=True)
    ws = wb["DR2 - Data - sample pop"]
    rows = list(ws.iter_rows(min_row=4, max_row=5, values_only=True))
    assert rows[0][:3] == ("Child ID", "Referral ID (or Case ID)", "Referral Date")
    wb3 = openpyxl.load_workbook(dr / "walsall_dr3_nov22.xlsx", read_only=True)
    assert [s for s in wb3.sheetnames if s.startswith("Data")] == [
        "Data - CLA start (Primary Outco",
        "Data - Child protection plans (",
        "Data - Care proceedings (Second",
        "Data - school attendance",
    ]
    cla = next(iter(wb3["Data - CLA start (Primary Outco"].iter_rows(min_row=5, max_row=5, values_only=True)))
    assert cla == ("Child ID", "Start date of CLA (Period of care start date)")


def test_dr_quirks_applied(out):
    lanc = openpyxl.load_workbook(out / "returns" / "lancashire" / "dr" / "lancashire_dr2_nov21.xlsx", read_only=True)
    header = next(iter(lanc["DR2 - Data - sample pop"].iter_rows(min_row=4, max_row=4, values_only=True)))
    assert "Factors identified at the end of assessment 3C" in header
    swindon = openpyxl.load_workbook(out / "returns" / "swindon" / "dr" / "swindon_dr2_nov22.xlsx", read_only=True)
    assert "DR2" in swindon.sheetnames
    assert next(swindon["DR2"].iter_rows(max_row=1, values_only=True))[0] == "Child ID"
    assert (out / "returns" / "wandsworth" / "dr" / "wands_dr3_jul24.xlsx").exists()
    dr1 = openpyxl.load_workbook(out / "returns" / "lancashire" / "dr" / "lancashire_dr1_nov20.xlsx", read_only=True)
    first = list(dr1.active.iter_rows(max_row=2, values_only=True))
    assert first[1][0] == "Month"  # header one row down


def _sheet_rows(path: Path) -> dict[str, list[tuple]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in wb.worksheets}


def test_bait_manifest_values_are_in_the_files(out):
    manifest = json.loads((out / "bait_manifest.json").read_text())
    kinds = {e["identifier"] for e in manifest["entries"]}
    assert {"name", "address", "postcode", "upn", "nhs_number", "date_of_birth"} <= kinds
    placements = {e["placement"] for e in manifest["entries"]}
    assert placements == {"extra_column", "hidden_in_allowed_column"}
    by_file: dict[str, list[dict]] = {}
    for e in manifest["entries"]:
        by_file.setdefault(e["file"], []).append(e)
    for file, entries in by_file.items():
        path = out / "returns" / file
        if path.suffix == ".xlsx":
            sheets = _sheet_rows(path)
            cells = {str(c) for rows in sheets.values() for row in rows for c in row if c is not None}
        else:
            text = path.read_text(encoding="utf-8-sig")
        for e in entries:
            values = e.get("values") or e.get("sample_values") or []
            if e["identifier"] == "nhs_number":
                assert values and all(nhs_number_valid(v) for v in values)
            if e["identifier"] == "upn":
                assert values and all(upn_valid(v) for v in values)
            if path.suffix != ".xlsx":
                assert all(v in text for v in values), (file, e["column"])
                continue
            assert all(v in cells for v in values), (file, e["column"])
            if e["placement"] == "hidden_in_allowed_column":
                name = next(s for s in sheets if s.startswith("DR2"))
                rows = sheets[name]
                header = list(rows[3] if name != "DR2" else rows[0])
                col = header.index(e["column"])
                for r, v in zip(e["row_numbers"], e["values"], strict=True):
                    assert str(rows[r - 1][col]) == v


def test_dr1_fsm_is_blank_for_about_half_the_months(out):
    truth = json.loads((out / "truth.json").read_text())
    shares = [t["rates"]["dr1_fsm_missing_months"] for t in truth["local_authorities"].values()]
    # STUDY.md: FSM ~48% missing (42 LA-months each, so a binomial spread of about +-8 points)
    assert all(0.25 <= s <= 0.72 for s in shares)
    assert abs(sum(shares) / len(shares) - 0.48) < 0.1


def test_clean_returns_have_the_plain_template(tmp_path):
    generate(tmp_path, seed=3, children=800, formats="dr", clean=True)
    dr = tmp_path / "returns"
    lanc = openpyxl.load_workbook(dr / "lancashire" / "dr" / "lancashire_dr2_nov21.xlsx", read_only=True)
    header = next(lanc["DR2 - Data - sample pop"].iter_rows(min_row=4, max_row=4, values_only=True))
    assert list(header) == [
        "Child ID",
        "Referral ID (or Case ID)",
        "Referral Date",
        "Referral No further action",
        "Assessment actual start date",
        "Outcome of Single Assessment",
        "Factors identified at the end of assessment",
        "Number of previous child protection plans",
        "Gender",
        "Year and month of birth of the child",
        "Ethnicity",
        "Disabled status",
        "Unaccompanied Asylum Seeker",
    ]
    swindon = openpyxl.load_workbook(dr / "swindon" / "dr" / "swindon_dr2_nov22.xlsx", read_only=True)
    assert "DR2 - Data - sample pop" in swindon.sheetnames
    assert (dr / "wandsworth" / "dr" / "wandsworth_dr3_jul24.xlsx").exists()
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert all(m["reused_child_ids_in_dr_returns"] == 0 for m in truth["mess"].values())


def test_truth_sample_matches_the_returns(out):
    truth = json.loads((out / "truth.json").read_text())
    rows = list(csv.DictReader((out / "truth_sample.csv").open(encoding="utf-8")))
    assert len(rows) == truth["totals"]["sample_children"]
    assert sum(int(r["cared_18m"]) for r in rows) == truth["totals"]["sample_cared_18m"]
    # every sample child's anchor referral is in the CIN census of its LA, under its id and date
    by_la: dict[str, set[tuple[str, str]]] = {}
    key_of = {t["name"]: code for code, t in truth["local_authorities"].items()}
    for la_dir in (out / "returns").iterdir():
        pairs: set[tuple[str, str]] = set()
        for f in la_dir.glob("cin/*.xml"):
            for _ev, child in etree.iterparse(str(f), tag="Child"):
                cid = child.findtext("ChildIdentifiers/LAchildID")
                pairs |= {(cid, d.text) for d in child.iterfind("CINdetails/CINreferralDate")}
                child.clear()
        code = next(c for n, c in key_of.items() if n.split()[0].casefold() == la_dir.name)
        by_la[code] = pairs
    for r in rows[::7]:
        assert (r["la_child_id"], r["referral_date"]) in by_la[r["la_code"]]
    # and the outcome agrees with the looked-after episodes (S = start of a period of care)
    starts: dict[str, set[tuple[str, str]]] = {}
    for la_dir in (out / "returns").iterdir():
        code = next(c for n, c in key_of.items() if n.split()[0].casefold() == la_dir.name)
        s = starts.setdefault(code, set())
        for f in la_dir.glob("ssda903/*/episodes.csv"):
            for e in csv.DictReader(f.open(encoding="utf-8-sig")):
                if e["RNE"] == "S":
                    d, m, y = e["DECOM"].split("/")
                    s.add((e["CHILD"], f"{y}-{m}-{d}"))
    for r in rows:
        if r["cared_18m"] == "1":
            assert (r["la_child_id"], r["care_start"]) in starts[r["la_code"]]
