"""`cscvault disclosure check FILE --profile NAME [--count-col COL] --json` and its errors."""

from __future__ import annotations

import json

import pytest

from cscvault.cli import main
from cscvault.disclosure import get_profile

TABLE = "la,control,treated,Total\nWalsall,3,30,33\nLancashire,40,45,85\nTelford,25,12,37\nTotal,68,87,155\n"


def run(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


@pytest.fixture
def table_file(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text(TABLE)
    return path


def test_json_with_one_count_column_has_exactly_the_contract_keys(table_file, capsys):
    code, out, err = run(
        ["disclosure", "check", str(table_file), "--profile", "acro-default", "--count-col", "control", "--json"],
        capsys,
    )
    assert code == 3 and err == ""  # a failing cell: not releasable as is; the JSON is unchanged
    doc = json.loads(out)
    assert list(doc) == ["profile", "profile_version", "cells", "table"]
    assert doc["profile"] == "acro-default" and doc["profile_version"] == get_profile("acro-default").version
    assert [list(c) for c in doc["cells"]] == [["row", "value", "released", "verdict", "reasons"]] * 4
    assert doc["cells"][0] == {
        "row": 0,
        "value": 3,
        "released": None,
        "verdict": "fail",
        "reasons": ["threshold: count is below 10"],
    }
    assert doc["table"][0] == {"la": "Walsall", "control": None}
    assert doc["table"][3] == {"la": "Total", "control": 70}


def test_json_wide_table_names_the_column(table_file, capsys):
    code, out, _ = run(["disclosure", "check", str(table_file), "--profile", "dfe", "--json"], capsys)
    assert code == 3
    doc = json.loads(out)
    assert doc["profile"] == "dfe"
    assert {c["column"] for c in doc["cells"]} == {"control", "treated", "Total"}
    walsall_control = doc["cells"][0]
    assert walsall_control["verdict"] == "fail" and walsall_control["released"] is None


def test_readable_output(table_file, capsys):
    code, out, _ = run(["disclosure", "check", str(table_file), "--profile", "opensafely"], capsys)
    assert code == 3
    assert "opensafely" in out and "withheld" in out and "threshold" in out


@pytest.mark.parametrize(
    ("argv", "code", "fragment"),
    [
        (["--profile", "nope"], 2, "unknown disclosure profile 'nope'"),
        (["--count-col", "missing"], 2, "no column named 'missing'"),
        (["--count-col", "la"], 3, "count column 'la' is not numeric (row 0)"),
    ],
)
def test_one_line_errors(table_file, capsys, argv, code, fragment):
    got, out, err = run(["disclosure", "check", str(table_file), *argv, "--json"], capsys)
    assert got == code
    assert out == ""
    assert err.count("\n") == 1 and fragment in err
    assert "Walsall" not in err


def test_missing_file(tmp_path, capsys):
    code, _, err = run(["disclosure", "check", str(tmp_path / "nope.csv")], capsys)
    assert code == 2 and "no such file" in err and err.count("\n") == 1


def test_non_numeric_count_value_is_named_by_row_not_value(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text("la,n\nA,12\nB,secret-text\n")
    code, _, err = run(["disclosure", "check", str(path), "--count-col", "n"], capsys)
    assert code == 3 and "(row 1)" in err and "secret-text" not in err


def test_profiles_json(capsys):
    code, out, _ = run(["disclosure", "profiles", "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["opensafely"]["min_count"] == 8 and doc["acro-default"]["round_base"] == 5


def test_numeric_label_column(tmp_path, capsys):
    path = tmp_path / "years.csv"
    path.write_text("year,n\n2021,42\n2022,3\n")
    code, out, _ = run(["disclosure", "check", str(path), "--label-col", "year", "--json"], capsys)
    assert code == 3  # the 3 fails
    doc = json.loads(out)
    assert doc["table"] == [{"year": 2021, "n": 40}, {"year": 2022, "n": None}]
    assert [c["row"] for c in doc["cells"]] == [0, 1]  # one count column: no "column" key
    assert "column" not in doc["cells"][0]


def test_earlier_release_differencing(tmp_path, capsys):
    old = tmp_path / "march.csv"
    old.write_text("la,n\nA,120\nB,200\nTotal,320\n")
    new = tmp_path / "april.csv"
    new.write_text("la,n\nA,124\nB,200\nTotal,324\n")
    code, out, _ = run(["disclosure", "check", str(new), "--profile", "ons", "--earlier", str(old), "--json"], capsys)
    assert code == 3  # cells to review: not releasable as is
    cells = json.loads(out)["cells"]
    assert cells[0]["verdict"] == "review" and cells[0]["reasons"][0].startswith("differencing:")
    assert cells[1]["verdict"] == "pass"
    assert cells[2]["verdict"] == "review"  # the totals differ by 4 as well


def test_exit_code_is_zero_only_when_every_cell_passes(tmp_path, capsys):
    safe = tmp_path / "safe.csv"
    safe.write_text("la,children\nWalsall,120\nWigan,55\n")
    code, out, _ = run(["disclosure", "check", str(safe), "--profile", "dfe", "--json"], capsys)
    assert code == 0 and {c["verdict"] for c in json.loads(out)["cells"]} == {"pass"}
    code, out, _ = run(["disclosure", "check", str(safe), "--profile", "dfe"], capsys)
    assert code == 0 and "table verdict pass" in out
    unsafe = tmp_path / "unsafe.csv"
    unsafe.write_text("la,children\nWalsall,120\nWigan,5\n")
    code, out, _ = run(["disclosure", "check", str(unsafe), "--profile", "dfe", "--json"], capsys)
    assert code == 3 and json.loads(out)["cells"][1]["verdict"] == "fail"
    code, out, _ = run(["disclosure", "check", str(unsafe), "--profile", "dfe"], capsys)
    assert code == 3 and "table verdict fail" in out
