"""The DfE CIN rules as data: ids, messages without values, census years, findings, generated docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cscvault.la.check import check_file
from cscvault.la.dfe_cin import PREFIX, all_rules, coverage, dfe_cin_findings, rule
from cscvault.la.dfe_cin.checks import CHECKS
from cscvault.la.dfe_cin.doc import main as doc_main, render
from cscvault.la.dfe_cin.tables import read_tables
from cscvault.study import load_study

TESTS = Path(__file__).resolve().parents[2]
DATA = TESTS / "data" / "dfe_cin"
XPATH = re.compile(r"^/Message(/[A-Za-z0-9]+(\[\d+\])?)*$")


def test_ids_are_stable_namespaced_dfe_numbers_and_every_check_has_a_rule() -> None:
    ids = [r.id for r in all_rules()]
    assert len(ids) == len(set(ids)) == 109
    assert all(re.fullmatch(r"DFE-CIN-\d{3,4}Q?", i) for i in ids)
    assert set(CHECKS) <= {r.code for r in all_rules()}
    assert rule("8500").id == "DFE-CIN-8500" and rule("DFE-CIN-2885").code == "2885"
    assert {r.severity for r in all_rules() if r.code.endswith("Q")} == {"warning"}
    assert {r.severity for r in all_rules() if not r.code.endswith("Q")} == {"error"}


def test_messages_are_the_dfes_without_placeholders_or_values() -> None:
    for r in all_rules():
        for m in (r.message, r.message_before or ""):
            assert "{" not in m and not re.search(r"\d{4}-\d{2}-\d{2}", m), r.id
    assert rule("8525Q").message == "Either Date of Birth or Expected Date of Birth must be provided (but not both)"


def test_sex_replaced_gender_in_2024_25() -> None:
    """One rule id across the change: GenderCurrent 1/2/0/9 to 2023/24, Sex M/F/U from 2024/25."""
    path = DATA / "CIN_Census_2024.xml"  # child 1 has <Sex>1</Sex>, child 2 <Sex>M</Sex>, no GenderCurrent
    before = [f for f in dfe_cin_findings(path, year=2024) if f.rule_id == "DFE-CIN-4180"]
    after = [f for f in dfe_cin_findings(path, year=2025) if f.rule_id == "DFE-CIN-4180"]
    assert [(f.location, f.field, f.message) for f in before] == [
        ("/Message/Children/Child[1]", "GenderCurrent", "Gender is missing"),
        ("/Message/Children/Child[2]", "GenderCurrent", "Gender is missing"),
    ]
    assert [(f.location, f.field, f.message) for f in after] == [
        ("/Message/Children/Child[1]", "Sex", "Sex must be provided and equal M, F, or U")
    ]
    # Rules new in 2024/25 (LA child id length and characters) apply from then on only.
    codes_2024 = {f.rule_id for f in dfe_cin_findings(DATA / "rule_cases_2024.xml")}
    codes_2025 = {f.rule_id for f in dfe_cin_findings(DATA / "rule_cases_2025.xml")}
    assert {"DFE-CIN-1570", "DFE-CIN-1580", "DFE-CIN-8945Q"} <= codes_2025 - codes_2024


def test_census_years_before_the_first_public_pack_use_its_rules() -> None:
    r = rule("1570")
    assert not r.applies(2020) and not r.applies(2024) and r.applies(2025)
    assert rule("8500").applies(2020) and rule("8500").applies(2026)
    cov = coverage(range(2020, 2026))
    assert cov == {"rules": 109, "implemented": len(CHECKS)}


@pytest.mark.parametrize("name", ["CIN_Census_2024.xml", "rule_cases_2024.xml", "fake_CIN_data.xml"])
def test_findings_carry_no_values(name: str) -> None:
    path = DATA / name
    text = path.read_text(encoding="utf-8")
    tables = read_tables(path)
    values = {str(v) for v in tables["children"]["LAchildID"].dropna()}
    values |= set(re.findall(r">(\d{4}-\d{2}-\d{2})<", text))
    findings = dfe_cin_findings(path)
    assert findings
    for f in findings:
        assert f.rule_id.startswith(PREFIX) and XPATH.match(f.location), f.location
        assert f.message in {rule(f.rule_id).message, rule(f.rule_id).message_before}
        blob = " ".join((f.location, f.field, f.message))
        assert not any(v in blob for v in values)


def test_la_check_runs_the_dfe_rules_on_a_cin_census_only() -> None:
    study = load_study()
    cin = check_file(DATA / "CIN_Census_2021.xml", study, la="Walsall")
    dfe = [f for f in cin.findings if f.rule_id.startswith(PREFIX)]
    assert {f.rule_id for f in dfe} >= {"DFE-CIN-1103", "DFE-CIN-8565", "DFE-CIN-8930"}
    assert cin.error_rules["DFE-CIN-8565"] == 3 and cin.errors >= len([f for f in dfe if f.severity == "error"])


def test_an_unreadable_census_gives_no_dfe_findings(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text("<Message><Header><CollectionDetails><Collection>CIN</Collection>", encoding="utf-8")
    assert dfe_cin_findings(broken) == []
    dtd = tmp_path / "dtd.xml"
    dtd.write_text('<!DOCTYPE x [<!ENTITY e "v">]><Message><Children/></Message>', encoding="utf-8")
    assert dfe_cin_findings(dtd) == []


def test_committed_docs_are_current_and_the_coverage_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    docs = TESTS.parent / "docs" / "dfe_rules.md"
    assert docs.read_text(encoding="utf-8") == render(), "run: python -m cscvault.la.dfe_cin.doc"
    assert all(f"`{PREFIX}{code}`" in docs.read_text(encoding="utf-8") for code in CHECKS)
    assert doc_main(["--coverage"]) == 0
    out = capsys.readouterr().out
    assert f"study years: {len(CHECKS)} of 109" in out and f"2024/25: {len(CHECKS)} of 109" in out


HEADER = "<Header><CollectionDetails><Collection>CIN</Collection><Year>2024</Year>{ref}</CollectionDetails></Header>"


@pytest.mark.parametrize(
    ("ref", "children"),
    [
        ("<ReferenceDate>2024-03-31</ReferenceDate>", ""),  # no children
        ("<ReferenceDate>2024-03-31</ReferenceDate>", "<Child><ChildIdentifiers/></Child>"),  # nothing in it
        ("", "<Child><ChildIdentifiers><LAchildID>A1</LAchildID></ChildIdentifiers><CINdetails/></Child>"),
        (
            "<ReferenceDate>not a date</ReferenceDate>",
            "<Child><CINdetails><Assessments/><Section47/></CINdetails></Child>",
        ),
    ],
)
def test_every_rule_runs_on_sparse_censuses(tmp_path: Path, ref: str, children: str) -> None:
    """Empty tables, empty records and a missing or broken reference date: findings, never an exception."""
    path = tmp_path / "sparse.xml"
    path.write_text(f"<Message>{HEADER.format(ref=ref)}<Children>{children}</Children></Message>", encoding="utf-8")
    tables = read_tables(path)
    for code, fn in CHECKS.items():
        for hit in fn(tables):
            assert hit.return_level or all(0 <= r < len(tables[hit.table]) for r in hit.rows), code
    found = {f.rule_id for f in dfe_cin_findings(path)}
    assert ("DFE-CIN-100" in found) == (ref != "<ReferenceDate>2024-03-31</ReferenceDate>")
