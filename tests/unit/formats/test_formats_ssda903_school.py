"""SSDA903 CSV sets and XML; school census attendance."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path

from cscvault.formats.ssda903 import table_of
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


def test_table_recognised_by_header_not_name():
    assert table_of(B.HEADER_903) == "header"
    assert table_of(B.EPISODES_903) == "episodes"
    assert table_of(["CHILD", "SEX", "DOB", "DUC"]) == "uasc"
    assert table_of([*B.EPISODES_903, "LA", "YEAR"]) == "episodes"  # extra columns tolerated
    assert table_of(["CHILD", "SEX"]) is None


def test_episodes_with_bom_crlf_and_no_final_newline(tmp_path):
    rows = [
        B.EPISODES_903,
        B.episode(),
        B.episode(decom="01/09/2021", rne="P", place="U4", dec="01/08/2021", rec="E8"),
        B.episode(place="Q1", rec="E99", decom="01/10/2021", dec="01/11/2021"),
    ]
    data = b"\xef\xbb\xbf" + B.csv_bytes(rows, newline="\r\n", final_newline=False)
    path = tmp_path / "anything.txt"
    path.write_bytes(data)
    d = read_and_screen(path, STUDY, la="E06000030", return_label="2022", debug=True)
    assert d.format == "ssda903_csv:episodes" and d.la.name == "Swindon"
    eps = d.tables["cla_episodes"]
    assert len(eps) == 3
    assert eps["kinship"].tolist() == [True, False, True]
    assert eps["returned_home"].tolist() == [True, False, False]
    assert eps["legal_status"].tolist() == ["C2"] * 3
    rules = d.findings_by_rule()
    assert rules["DATE-005"] == 1  # ends before it starts
    assert rules["CODE-016"] == 2  # Q1 placement and E99 reason are legacy codes
    assert {"HOME_POST", "PL_POST", "URN"} <= set(d.dropped_columns)


def test_episodes_take_ages_from_known_birth_months(tmp_path):
    path = tmp_path / "e.csv"
    path.write_bytes(B.csv_bytes([B.EPISODES_903, B.episode(child="7")]))
    d = read_and_screen(path, STUDY, la="Walsall", known_birth_months={"7": dt.date(2010, 5, 1)}, debug=True)
    assert d.tables["cla_episodes"]["age_months"].tolist() == [132]


def test_unknown_codes_are_findings_never_silent(tmp_path):
    path = tmp_path / "e.csv"
    path.write_bytes(B.csv_bytes([B.EPISODES_903, B.episode(ls="ZZ", place="Z9", rne="Q", rec="E0")]))
    d = read_and_screen(path, STUDY, la="Walsall", debug=True)
    rules = d.findings_by_rule()
    assert {"CODE-009", "CODE-010", "CODE-011", "CODE-012"} <= set(rules)
    eps = d.tables["cla_episodes"]
    assert eps[["legal_status", "placement_type", "reason_start", "reason_end"]].isna().all().all()


def test_uasc_table_marks_children(tmp_path):
    path = tmp_path / "u.csv"
    path.write_bytes(B.csv_bytes([["CHILD", "SEX", "DOB", "DUC"], ["5", "M", "01/02/2008", "01/02/2026"]]))
    d = read_and_screen(path, STUDY, la="Walsall", debug=True)
    kids = d.tables["children"]
    assert kids["uasc"].tolist() == [True] and kids["gender"].tolist() == ["male"]
    assert "DUC" in d.dropped_columns


def test_903_xml(tmp_path):
    xml = (
        b"<?xml version='1.0'?><EXPSSDA903><CHILD><HEADER><CHILDID>9</CHILDID><UPN>A123456789012</UPN>"
        b"<SEX>2</SEX><DOB>15/06/2012</DOB><ETHNIC>BAFR</ETHNIC><UASC>0</UASC></HEADER>"
        b"<EPISODE><DECOM>01/03/2021</DECOM><RNE>S</RNE><LS>V2</LS><CIN>N1</CIN><PL>U3</PL>"
        b"<HOME_POST>SW1A 1AA</HOME_POST><DEC>01/06/2021</DEC><REC>E4B</REC></EPISODE></CHILD></EXPSSDA903>"
    )
    path = tmp_path / "x.xml"
    path.write_bytes(xml)
    d = read_and_screen(path, STUDY, la="Walsall", debug=True)
    assert d.format == "ssda903_xml"
    ep = d.tables["cla_episodes"].iloc[0]
    assert ep["placement_type"] == "U3" and ep["kinship"] and ep["returned_home"] and ep["age_months"] == 105
    assert {"UPN", "HOME_POST"} <= set(d.dropped_columns)


def test_plain_attendance_csv(tmp_path):
    rows = [
        [
            "Child ID",
            "term",
            "sessions_possible",
            "sessions_authorised_absence",
            "sessions_unauthorised_absence",
            "fsm_eligible",
            "pupil_premium",
            "census_date",
        ],
        ["C1", "2021-autumn", "140", "6", "3", "Y", "N", "2021-10-07"],
        ["C2", "2021-autumn", "140.0", "x", "2", "maybe", "", "2021-10-07"],
    ]
    path = tmp_path / "attendance.csv"
    path.write_bytes(B.csv_bytes(rows))
    d = read_and_screen(path, STUDY, la="Walsall", return_label="2021_autumn", debug=True)
    att = d.tables["attendance_terms"].set_index("la_child_id")
    assert att.loc["C1", "sessions_unauthorised_absence"] == 3 and att.loc["C2", "sessions_possible"] == 140
    fsm = d.tables["fsm_pupil_premium"].set_index("la_child_id")
    assert fsm.loc["C1", "fsm_eligible"] == True  # noqa: E712
    rules = d.findings_by_rule()
    assert rules["NUM-001"] == 1 and rules["CODE-015"] == 1


def test_school_census_term_is_one_in_arrears(tmp_path):
    rows = [
        ["pupilonrolltableid", "upn", "surname", "termlysessionspossible", "termlysessionsunauthorised"],
        ["t1", "A123456789012", "SUR1", "120", "4"],
    ]
    path = tmp_path / "2025_spring_pupilonroll.csv"
    path.write_bytes(B.csv_bytes(rows))
    d = read_and_screen(path, STUDY, la="Walsall", debug=True)
    assert d.tables["attendance_terms"]["term"].tolist() == ["2024-autumn"]
    assert "LINK-003" in d.findings_by_rule()


def test_a_903_set_read_together_gives_episodes_ages(tmp_path):
    from cscvault.errors import CscvaultError
    from cscvault.ingest.pipeline import read_and_screen_all

    folder = tmp_path / "walsall" / "ssda903"
    folder.mkdir(parents=True)
    (folder / "episodes.csv").write_bytes(B.csv_bytes([B.EPISODES_903, B.episode(child="7")]))
    (folder / "header.csv").write_bytes(B.csv_bytes([B.HEADER_903, ["7", "1", "15/05/2010", "WBRI", "", "", ""]]))
    (folder / "junk.csv").write_bytes(b"")
    results = read_and_screen_all([folder / "episodes.csv", folder / "header.csv", folder / "junk.csv"], STUDY)
    assert [p.name for p, _ in results] == ["episodes.csv", "header.csv", "junk.csv"]
    episodes = results[0][1]
    assert not isinstance(episodes, CscvaultError)
    assert episodes.tables["cla_episodes"]["age_months"].tolist() == [132]
    assert results[2][1].rejected
    assert "birth_months" not in repr(episodes)
