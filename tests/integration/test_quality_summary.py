"""`cscvault quality` for a data manager (issue 20): a labelled summary per LA x return x year first,
the linkage section, SSDA903 files with their return, same-named files told apart, details on request;
and `backup --to DIR` creating its folder."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from cscvault import api
from cscvault.cli import main
from cscvault.synth.generate import generate
from cscvault.vault import Credentials
from tests.helpers import PASSWORD

ADMIN = Credentials("admin", PASSWORD)


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("quality")
    synth = generate(root / "synth", seed=11, children=400)
    path = api.init_vault(root / "v", PASSWORD).path
    # Two LAs' returns: both send SSDA903 tables named episodes.csv.
    api.ingest(path, ADMIN, [synth.returns_dir / "walsall", synth.returns_dir / "swindon"])
    return path


def _run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    monkeypatch.setenv("CSCVAULT_PASSWORD", PASSWORD)
    monkeypatch.setenv("CSCVAULT_USER", "admin")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out = capsys.readouterr()
    return int(exited.value.code or 0), out.out, out.err


def test_quality_gives_a_labelled_summary_first(vault, capsys, monkeypatch):
    code, out, err = _run(capsys, monkeypatch, "quality", str(vault))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"Data quality of {vault}: ") and " files, " in lines[0]
    assert "Rows read are the data rows in a file. Rows loaded are the rows written" in out
    summary_at = out.index("== Summary by local authority, return and year ==")
    linkage_at = out.index("== Linkage to referrals by local authority")
    assert summary_at < linkage_at
    header = lines[lines.index("== Summary by local authority, return and year ==") + 1]
    for column in ("local authority", "return", "year", "files", "rows read", "rows loaded", "rejected", "linked",
                   "top findings"):  # fmt: skip
        assert column in header
    summary = out[summary_at:linkage_at]
    assert any(line.startswith("Walsall") and " SSDA903 " in line for line in summary.splitlines())
    assert any(line.startswith("Swindon") and " cin2021-22 " in line for line in summary.splitlines())
    assert " ? " not in out
    assert "episodes.csv" not in out  # one line per file only on request
    assert "cscvault quality VAULT --details" in out


def test_details_tell_same_named_files_apart(vault, capsys, monkeypatch):
    code, out, _ = _run(capsys, monkeypatch, "quality", str(vault), "--details")
    assert code == 0
    files = out[out.index("== Files ==") :].splitlines()[2:]
    episodes = [line for line in files if "episodes.csv" in line and "sw_episodes" not in line]
    assert sum("episodes.csv (Walsall; delivery " in line for line in episodes) >= 2  # one per year
    labels = [line[line.index("episodes.csv") :] for line in episodes]
    assert len(labels) == len(set(labels))  # every one told apart
    assert all(" SSDA903 (episodes) " in line for line in episodes)


def test_json_keeps_its_keys_and_adds_the_summary(vault, capsys, monkeypatch):
    _, out, _ = _run(capsys, monkeypatch, "quality", str(vault), "--json")
    doc = json.loads(out)
    assert {"deliveries", "linkage", "summary", "rows_explained"} <= set(doc)
    for key in ("sha256", "file_name", "la", "return", "format", "rows_read", "rows_loaded", "findings"):
        assert key in doc["deliveries"][0]
    assert sum(g["files"] for g in doc["summary"]) == len(doc["deliveries"])
    assert sum(g["rows_loaded"] for g in doc["summary"]) == sum(d["rows_loaded"] for d in doc["deliveries"])
    ssda = [g for g in doc["summary"] if g["return"] == "SSDA903"]
    assert {g["la"] for g in ssda} == {"Walsall", "Swindon"}
    assert all(g["linkage_rate"] is None or 0 <= g["linkage_rate"] <= 1 for g in doc["summary"])
    assert all(len(g["top_findings"]) <= 3 for g in doc["summary"])


def test_backup_creates_a_missing_folder_private(vault, tmp_path, capsys, monkeypatch):
    target = tmp_path / "new" / "backups"
    code, out, err = _run(capsys, monkeypatch, "backup", str(vault), "--to", str(target), "--json")
    assert code == 0, err
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert Path(json.loads(out)["backup"]).parent == target
