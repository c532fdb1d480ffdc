"""`cscvault analyse --plan did` runs the supplementary analysis on the shipped public panel, with no vault."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import run_cli


def test_analyse_plan_did_needs_no_vault(tmp_path: Path) -> None:
    proc = run_cli("analyse", "--plan", "did", "--out", str(tmp_path / "did"), "--json", password=None)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert {r["outcome"] for r in doc["headline"]} and doc["rows"] > 0
    results = json.loads((tmp_path / "did" / "results.json").read_text())
    assert (tmp_path / "did" / "did_report.html").is_file()
    assert len({r["outcome"] for r in results["rows"]}) == 3
    assert "Open Government Licence" in json.dumps(results["data"])


def test_analyse_primary_needs_a_vault(tmp_path: Path) -> None:
    proc = run_cli("analyse", "--out", str(tmp_path / "x"), password=None)
    assert proc.returncode == 2
    assert "give VAULT" in proc.stderr
