"""DR1-DR3 returns: sheets by name, header rows by content, LA differences declared as data."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path

import pandas as pd

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


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_dr2_xlsx_offset_header_bullets_mixed_dates(tmp_path):
    rows = [
        B.dr2_row(
            "C1",
            "R1",
            dt.date(2021, 6, 15),
            "1",
            dt.date(2021, 6, 16),
            "No",
            "1B; 3A",
            "2",
            "a) Male",
            "03/2015",
            "s) REFU",
            "b) No",
            "N",
        ),
        B.dr2_row("C2", "R2", "44378", "#MULTIVALUE", None, None, None, None, "b) Female", "2021-09", "WBRI", "Y", "1"),
        B.dr2_row(
            "C3",
            "R3",
            "2021-07-01",
            "0",
            "02/07/2021",
            "Yes",
            "Domestic violence: parent, Mental health: parent",
            "3+",
            "Unborn",
            None,
            "NOBT",
            "N",
            "0",
        ),
    ]
    path = write(tmp_path, "lancashire_dr2_nov21.xlsx", B.dr2_xlsx(rows))
    d = read_and_screen(path, STUDY, debug=True)
    assert d.format == "dr_return:dr2"
    assert d.la.name == "Lancashire" and d.la_code == "E10000017"
    assert d.return_label == "nov21"
    assert d.rows_read == 3
    refs = d.tables["referrals"].set_index("la_child_id")
    assert refs.loc["C1", "referral_date"] == dt.date(2021, 6, 15)
    assert refs.loc["C2", "referral_date"] == dt.date(2021, 7, 1)  # Excel serial 44378
    assert refs.loc["C1", "nfa"] == True  # noqa: E712 - template: 1 = no further action
    assert pd.isna(refs.loc["C2", "nfa"])  # '#MULTIVALUE' is a finding, not a silent value
    assert "CODE-005" in d.findings_by_rule()
    # Born 2021-09, referred 2021-07: unborn, negative age in months.
    assert refs.loc["C2", "unborn"] == True  # noqa: E712
    assert refs.loc["C2", "age_months"] == -2
    assert refs.loc["C1", "age_months"] == 75
    # Unborn with no birth month: flagged from the gender code.
    assert refs.loc["C3", "unborn"] == True  # noqa: E712
    kids = d.tables["children"].set_index("la_child_id")
    assert kids.loc["C1", "gender"] == "male" and kids.loc["C2", "gender"] == "female"
    assert kids.loc["C1", "ethnicity"] == "REFU" and kids.loc["C2", "disability"] == True  # noqa: E712
    assert kids.loc["C2", "uasc"] == True and kids.loc["C3", "uasc"] == False  # noqa: E712
    ass = d.tables["assessments"].set_index("la_child_id")
    assert ass.loc["C1", "factors"] == "1B,3A"
    assert ass.loc["C3", "factors"] == "3B,4B"  # words, matched whole
    assert ass.loc["C3", "outcome"] == "further_action"
    # The DOB column is named, never a value.
    assert "Year and month of birth of the child" in d.dropped_columns
    assert "birth_month" not in d.tables["referrals"].columns
    assert refs.loc["C1", "previous_cpps"] == 2 and refs.loc["C3", "previous_cpps"] == 3


def test_factor_yes_no_columns(tmp_path):
    header = [
        *B.DR2_HEADER[:6],
        "Factors identified at the end of assessment 1B",
        "Factors identified at the end of assessment 3C",
        "Factors identified at the end of assessment 4B",
        *B.DR2_HEADER[7:],
    ]
    base = B.dr2_row()
    row = [*base[:6], "Yes", "No", "Y", *base[7:]]
    bad = [*B.dr2_row(child="C9")[:6], "Maybe", "No", "No", *base[7:]]
    path = write(tmp_path, "lancashire_dr2_nov20.xlsx", B.dr2_xlsx([row, bad], header=header))
    d = read_and_screen(path, STUDY, debug=True)
    ass = d.tables["assessments"].set_index("la_child_id")
    assert ass.loc["C1", "factors"] == "1B,4B"
    assert "CODE-008" in d.findings_by_rule()


def test_telford_nov22_override_splits_birth_month(tmp_path):
    header = [*B.DR2_HEADER, "Ethnicity_2"]
    row = [*B.dr2_row(birth="3", eth="2015"), "APKN"]
    path = write(tmp_path, "telford_dr2_nov22.xlsx", B.dr2_xlsx([row], header=header))
    d = read_and_screen(path, STUDY, debug=True)
    assert d.la.name == "Telford and Wrekin" and d.return_label == "nov22"
    assert d.tables["children"]["ethnicity"].tolist() == ["APKN"]
    assert d.tables["referrals"]["age_months"].tolist() == [75]
    # Without the override (another return), "Ethnicity" holding a year is an unmapped code.
    path2 = write(tmp_path, "telford_dr2_nov21.xlsx", B.dr2_xlsx([row], header=header))
    d2 = read_and_screen(path2, STUDY, debug=True)
    assert "CODE-002" in d2.findings_by_rule()


def test_la_from_content_beats_file_name(tmp_path):
    data = B.dr2_xlsx([B.dr2_row()], preamble=("Local authority:", "Swindon"))
    d = read_and_screen(write(tmp_path, "walsall_copy.xlsx", data), STUDY, debug=True)
    assert d.la.name == "Swindon"


def test_duplicates_missing_ids_and_impossible_ages(tmp_path):
    rows = [B.dr2_row(), B.dr2_row(), B.dr2_row(child=None), B.dr2_row(child="OLD", birth="01/1995")]
    d = read_and_screen(write(tmp_path, "swindon_dr2_apr23.xlsx", B.dr2_xlsx(rows)), STUDY, debug=True)
    rules = d.findings_by_rule()
    assert rules["DUP-001"] >= 1 and rules["KEY-001"] >= 1 and rules["AGE-001"] >= 1
    refs = d.tables["referrals"]
    assert sorted(refs["la_child_id"]) == ["C1", "OLD"]
    assert refs.set_index("la_child_id")["age_months"].isna()["OLD"]


def test_reused_id_with_two_birth_months_is_split(tmp_path):
    rows = [B.dr2_row(child="X", birth="03/2015"), B.dr2_row(child="X", ref="R2", birth="07/2019", date="01/09/2021")]
    d = read_and_screen(write(tmp_path, "walsall_dr2_nov21.xlsx", B.dr2_xlsx(rows)), STUDY, debug=True)
    assert d.findings_by_rule()["LINK-001"] == 1
    assert sorted(d.tables["children"]["la_child_id"]) == ["X#2015-03", "X#2019-07"]


def test_ambiguous_dates_in_a_csv_return(tmp_path):
    rows = [
        B.DR2_HEADER,
        B.dr2_row(date="01/02/21"),
        B.dr2_row(child="C2", date="12/25/2021"),
        B.dr2_row(child="C3", date="25/12/2021"),
    ]
    d = read_and_screen(write(tmp_path, "wandsworth_dr2_nov22.csv", B.csv_bytes(rows)), STUDY, debug=True)
    assert d.format == "dr_return:dr2"
    rules = d.findings_by_rule()
    # Two-digit year, and a column whose day/month order is contradicted (12/25 and 25/12).
    assert rules["DATE-002"] >= 2


def test_dr1_monthly_aggregates_with_offset_header(tmp_path):
    header = [
        "Month",
        "Number of assessments completed (by CSC)",
        "CLA rate per 10,000 children",
        "Number of children looked after at the end of the  month in the LA",
        "Local note",
    ]
    rows = [
        [],
        ["DR1 return"],
        header,
        ["01/10/2019", 120, 71.5, 900, "x"],
        ["2019-11", "Currently unavailable", 70.1, 905, None],
    ]
    data = B.xlsx_bytes([("DR1 - Data - aggregate level", rows)])
    d = read_and_screen(write(tmp_path, "lancashire_dr1_nov20.xlsx", data), STUDY, debug=True)
    agg = d.tables["la_month_aggregates"]
    assert set(agg["measure"]) == {"assessments_completed", "cla_rate_per_10000", "cla_end_of_month"}
    assert len(agg) == 5  # the text cell is rejected
    assert "NUM-001" in d.findings_by_rule()
    assert set(agg["month"]) == {dt.date(2019, 10, 1), dt.date(2019, 11, 1)}
    assert "Local note" in d.dropped_columns


def test_dr3_workbook_with_several_parts(tmp_path):
    cla = [
        ["DR3"],
        [],
        [],
        ["Child ID", "Start date of CLA (Period of care start date)"],
        ["C1", "14/02/2022"],
        ["C2", None],
    ]
    cpp = [[], [], [], [], ["Child ID", "CPP Start Date", "CPP End Date"], ["C1", "01/03/2021", "01/01/2021"]]
    proc = [
        [
            "Child ID",
            "Start date of pre-proceedings (date of pre-proceedings meeting)",
            "Start date of care proceedings",
        ],
        ["C1", "01/05/2021", "01/08/2021"],
    ]
    att = [
        [
            "Child ID",
            "Summer term 2020",
            "Autumn term 2020",
            "Free school meal eligibility - ever FSM",
            "Pupil Premium eligibility (for Reception, Year 1 and Year 2)",
        ],
        ["C1", "2.5", "150", "Y", "N"],
    ]
    data = B.xlsx_bytes(
        [
            ("Data - CLA start (Primary Outco", cla),
            ("Data - Child protection plans (", cpp),
            ("Data - Care proceedings (Second", proc),
            ("Data - school attendance", att),
        ]
    )
    d = read_and_screen(write(tmp_path, "wands_dr3_nov22.xlsx", data), STUDY, debug=True)
    assert d.la.name == "Wandsworth"
    assert d.format == "dr_return:dr3"
    assert d.tables["cla_episodes"]["start_date"].tolist() == [dt.date(2022, 2, 14)]  # empty = not looked after
    assert "DATE-005" in d.findings_by_rule()  # CPP ends before it starts
    assert d.tables["pre_proceedings"]["start_date"].tolist() == [dt.date(2021, 5, 1)]
    assert d.tables["care_proceedings"]["issue_date"].tolist() == [dt.date(2021, 8, 1)]
    assert "NUM-002" in d.findings_by_rule()  # 150% unauthorised absence
    fsm = d.tables["fsm_pupil_premium"]
    assert fsm["fsm_eligible"].tolist() == [True] and fsm["pupil_premium"].tolist() == [False]


def test_dr1_proportion_given_as_percentage_is_rescaled(tmp_path):
    label = (
        "Proportion of children / young people eligible and claiming for Free School Meals for all school-age "
        "children and young people in the LA, out of all pupils."
    )
    header = ["Month", "Number of assessments completed (by CSC)", label, "CLA rate per 10,000 children"]
    rows = [header, ["11/2022", 100, 23.5, 60], ["12/2022", 110, 24.0, 61], ["01/2023", 90, 250, 62]]
    data = B.xlsx_bytes([("DR1 - Data - aggregate level", rows)])
    d = read_and_screen(write(tmp_path, "walsall_dr1_nov22.xlsx", data), STUDY, debug=True)
    agg = d.tables["la_month_aggregates"]
    fsm = agg[agg["measure"] == "fsm_eligible_proportion"]["value"].tolist()
    assert fsm == [0.235, 0.24]
    rules = d.findings_by_rule()
    assert rules["NUM-003"] == 1 and rules["NUM-002"] == 1
