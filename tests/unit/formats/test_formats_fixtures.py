"""Every public sample file in tests/data (the upstream tools' fixtures) reads: findings allowed, never a crash."""

from __future__ import annotations

import pytest

from cscvault.ingest.pipeline import read_and_screen
from cscvault.study import load_study
from tests.public_data import format_fixture_files

STUDY = load_study()


def _fixtures():
    files = format_fixture_files()
    assert len(files) >= 25
    return files


def test_every_fixture_reads(test_data):
    formats = {}
    for path in _fixtures():
        d = read_and_screen(path, STUDY, debug=True)
        formats[path.relative_to(test_data).as_posix()] = d.format
        for f in d.findings:
            assert f.rule_id and f.severity in {"fatal", "error", "warning", "info"}
    # Detection is by content: each family is recognised whatever the file is called.
    assert formats["csc-validator-be-cin/fake_CIN_data.xml"] == "cin_census"
    assert formats["liia-tools/cin-2022.xml"] == "cin_census"
    assert formats["csc-validator-be-903/fake_903.xml"] == "ssda903_xml"
    assert formats["csc-validator-be-903/episodes.csv"] == "ssda903_csv:episodes"
    assert formats["csc-validator-be-903/sw_episodes.csv"] == "ssda903_csv:sw_episodes"  # starts with a BOM
    assert formats["csc-validator-be-903/DoLo.csv"] == "ssda903_csv:dolo"  # no final newline
    assert formats["liia-tools-pipeline/2024_autumn_pupilnolongeronroll.csv"] == "school_census"
    # Annex A is a different return (not a DR template): reported, not guessed.
    assert formats["liia-tools/Annex_A.xlsx"] == "unknown"


def test_fake_cin_census_reads_every_child(test_data):
    d = read_and_screen(test_data / "csc-validator-be-cin/fake_CIN_data.xml", STUDY, la="Walsall")
    assert d.rows_read == 332
    assert len(d.tables["children"]) == 332
    kids = d.tables["children"]
    assert set(kids["gender"].dropna()) <= {"male", "female", "indeterminate", "unknown", "unborn_or_unknown"}
    assert (kids["la_code"] == "E08000030").all()
    # ReferralNFA written true/false is recoded (1 = no further action).
    assert set(d.tables["referrals"]["nfa"].dropna()) <= {True, False}
    assert "UPN" in d.dropped_columns and "PersonBirthDate" in d.dropped_columns


def test_cin_2024_uses_sex_and_reads_cin_plans(test_data):
    d = read_and_screen(test_data / "csc-validator-be-cin/CIN_Census_2024.xml", STUDY, la="Swindon")
    assert d.collection_year == "2023/24"
    assert "cin_plans" in d.tables
    # The file mixes Sex with a 2023/24 header: a warning, not a rejection.
    assert "FMT-020" in d.findings_by_rule() and not d.rejected


def test_903_header_drops_upn_and_splits_reused_ids(test_data):
    d = read_and_screen(test_data / "liia-tools-pipeline/SSDA903_2020_header.csv", STUDY, la="Telford and Wrekin")
    assert {"UPN", "MOTHER", "MC_DOB"} <= set(d.dropped_columns)
    assert "LINK-001" in d.findings_by_rule()
    ids = d.tables["children"]["la_child_id"].tolist()
    assert all("#" in i for i in ids if i.startswith("689661"))


def test_school_census_has_no_child_id_so_links_nothing(test_data):
    d = read_and_screen(test_data / "liia-tools-pipeline/2024_autumn_pupilnolongeronroll.csv", STUDY, la="Walsall")
    assert "LINK-003" in d.findings_by_rule()
    names = {"surname", "forename", "upn", "uniquelearnernumber", "dob"}
    assert names <= set(d.dropped_columns)
    att = d.tables["attendance_terms"]
    assert set(att["term"]) <= {"2024-summer", "2024-summer-half2"}
    assert (att["sessions_possible"].dropna() >= 0).all()


@pytest.mark.parametrize("name", ["episodes.csv", "header.csv", "reviews.csv"])
def test_903_fixture_findings_carry_no_values(test_data, name):
    d = read_and_screen(test_data / "csc-validator-be-903" / name, STUDY, la="Walsall")
    values = {q.value for q in d.quarantine}
    messages = {f.message for f in d.findings}
    for m in messages:
        assert not any(v and v in m for v in values)
