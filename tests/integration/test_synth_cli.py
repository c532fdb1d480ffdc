"""`cscvault synth` as scripts call it: summary, --json, usage errors with exit code 2."""

from __future__ import annotations

import json

import pytest

from cscvault.cli import main
from tests.helpers import run_cli


def _run(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main(["synth", *args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_synth_subprocess_writes_and_summarises(tmp_path):
    out = tmp_path / "s"
    proc = run_cli("synth", str(out), "--children", "500", "--formats", "cin,903", "--seed", "4", "--clean")
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout and "truth" in proc.stdout
    truth = json.loads((out / "truth.json").read_text())
    assert truth["seed"] == 4 and truth["clean"] is True and truth["formats"] == ["cin", "903"]
    assert truth["children_requested"] == 500
    assert not list(out.rglob("*.xlsx"))


def test_synth_json_and_effect(tmp_path, capsys):
    out = tmp_path / "j"
    code, stdout, _err = _run(
        capsys, str(out), "--children", "300", "--formats", "school", "--effect-or", "0.7", "--json"
    )
    assert code == 0
    doc = json.loads(stdout)
    assert doc["effect_or"] == 0.7 and doc["children"] == 300
    truth = json.loads((out / "truth.json").read_text())
    assert truth["true_parameters"]["treatment_effects"]["care_18m_odds_ratio"] == 0.7


def test_synth_usage_errors(tmp_path, capsys):
    code, _out, err = _run(capsys, str(tmp_path / "b"), "--formats", "dr,xml")
    assert code == 2 and err.count("\n") == 1 and "xml" in err
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    code, _out, err = _run(capsys, str(foreign), "--children", "100")
    assert code == 2 and (foreign / "notes.txt").exists()
    code, _out, _err = _run(capsys, str(tmp_path / "few"), "--children", "2")
    assert code == 2
    code, _out, _err = _run(capsys, str(tmp_path / "neg"), "--effect-or", "-1")
    assert code == 2
