"""`cscvault model did` and `cscvault did-plan` through the real entry point."""

from __future__ import annotations

import json

import pytest

from cscvault.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out, out.err


def test_model_did_json_on_mpdta(capsys, test_data) -> None:
    path = str(test_data / "did-mpdta" / "mpdta.csv")
    code, out, err = run(
        capsys, "model", "did", path, "--outcome", "lemp", "--time", "year", "--unit", "countyreal",
        "--group", "first.treat", "--bootstrap", "0", "--json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["control_group"] == "nevertreated"
    assert len(doc["group_time"]) == 12
    assert round(doc["aggregations"]["simple"]["overall"]["estimate"], 4) == -0.0400
    assert round(doc["aggregations"]["dynamic"]["overall"]["estimate"], 4) == -0.0772
    assert round(doc["pretest"]["p_value"], 5) == 0.16812


def test_model_did_text_with_not_yet_treated(capsys, test_data) -> None:
    path = str(test_data / "did-mpdta" / "mpdta.csv")
    code, out, _ = run(
        capsys, "model", "did", path, "--outcome", "lemp", "--time", "year", "--unit", "countyreal",
        "--group", "first.treat", "--control", "notyettreated", "--bootstrap", "49",
    )  # fmt: skip
    assert code == 0
    for heading in ("group-time effects", "aggregation: simple", "aggregation: dynamic", "aggregation: group",
                    "aggregation: calendar", "simultaneous bands"):  # fmt: skip
        assert heading in out
    assert "comparison: notyettreated" in out


def test_model_did_errors_exit_with_documented_codes(capsys, tmp_path) -> None:
    csv = tmp_path / "p.csv"
    csv.write_text("id,t,g,y\na,1,0,1\na,2,0,2\nb,1,2,1\nb,2,2,3\n")
    code, _, err = run(
        capsys, "model", "did", str(csv), "--outcome", "nope", "--time", "t", "--unit", "id", "--group", "g"
    )
    assert code == 2 and "column 'nope'" in err
    code, _, err = run(
        capsys, "model", "did", str(csv), "--outcome", "y", "--time", "t", "--unit", "id", "--group", "g",
        "--control", "everyone",
    )  # fmt: skip
    assert code == 2 and "--control" in err
    code, _, err = run(capsys, "model", "did", str(tmp_path / "x.csv"), "--outcome", "y", "--time", "t",
                       "--unit", "id", "--group", "g")  # fmt: skip
    assert code == 2 and "no such file" in err


def test_did_plan_writes_both_files(tmp_path) -> None:
    """The plan behind `cscvault analyse --plan did` (few draws here; tests/e2e runs the command itself)."""
    from cscvault.api import DidPlanConfig, run_did_plan
    from cscvault.study import load_study

    doc = run_did_plan(tmp_path, load_study(), config=DidPlanConfig(bootstrap_iterations=19, placebo_draws=9))
    assert len(doc["headline"]) == 9
    assert (tmp_path / "results.json").is_file() and (tmp_path / "did_report.html").is_file()
