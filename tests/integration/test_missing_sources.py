"""`analyse` on vaults that lack a return type: what the returns derive is analysed, what they cannot is
named (report, results.json, a warning on stderr) and never counted as "no event"; exit 0, or exit 3 when the
primary outcome itself cannot be derived or nothing was delivered."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cscvault import api, cli
from cscvault.analysis import whole_plan as full
from cscvault.errors import EXIT_BAD_DATA, EXIT_OK
from cscvault.synth.generate import generate
from cscvault.vault import Credentials
from tests.helpers import PASSWORD, open_raw_vault

ADMIN = Credentials("admin", PASSWORD)
CHILDREN = 1500


def make_vault(root: Path, formats: str, drop_las: tuple[str, ...] = ()) -> Path:
    summary = generate(root / "synth", seed=11, children=CHILDREN, clean=True, formats=formats)
    for folder in drop_las:
        shutil.rmtree(summary.returns_dir / folder)
    vault = api.init_vault(root / "v", PASSWORD).path
    api.ingest(vault, ADMIN, [summary.returns_dir])
    return vault


def analyse_cli(
    vault: Path, out: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("CSCVAULT_PASSWORD", PASSWORD)
    try:
        cli.main(["analyse", str(vault), "--user", "admin", "--json", *extra])  # outputs stay in the vault
        code = EXIT_OK
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def cin_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_vault(tmp_path_factory.mktemp("cin_only"), "cin")


@pytest.fixture(scope="module")
def one_la_missing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_vault(tmp_path_factory.mktemp("one_la"), "dr,cin,903", drop_las=("swindon",))


@pytest.fixture(scope="module")
def no_school_census(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_vault(tmp_path_factory.mktemp("no_school"), "cin,903")


def test_cin_only_vault_exits_3_naming_the_primary_outcome(
    cin_only: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = analyse_cli(cin_only, tmp_path / "out", monkeypatch, capsys)
    assert code == EXIT_BAD_DATA and out == ""
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: the primary outcome cla_18m cannot be derived: no SSDA903 (periods of care) delivered for any LA"
    ]
    assert "Traceback" not in err and api.run_outputs(cin_only, ADMIN) == []


def test_vault_with_no_deliveries_exits_3_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    vault = api.init_vault(tmp_path / "v", PASSWORD).path
    code, _, err = analyse_cli(vault, tmp_path / "out", monkeypatch, capsys)
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == EXIT_BAD_DATA
    assert lines == ["error: the vault holds no loaded deliveries: run cscvault ingest first"]


def test_vault_missing_one_la_analyses_the_others_and_names_it(
    one_la_missing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = analyse_cli(one_la_missing, tmp_path / "out", monkeypatch, capsys)
    assert code == EXIT_OK, err
    assert "warning: outcome cla_18m not derived: no CIN census (referrals) or SSDA903 (periods of care) " \
           "delivered for Swindon" in err  # fmt: skip
    # progress shows on stderr under --json too; stdout holds only the JSON document
    assert "analyse: [0/2] primary analysis" in err and "analyse: [2/2] done" in err
    doc = json.loads(api.run_output(one_la_missing, ADMIN, None, "results.json")[1])
    (nd,) = doc["not_derived"]
    assert nd["outcome"] == "cla_18m" and nd["local_authorities"] == ["Swindon"]
    assert json.loads(out)["not_derived"] == doc["not_derived"]
    html = api.run_output(one_la_missing, ADMIN, None, "report.html")[1].decode("utf-8")
    assert "Outcomes not derived" in html and "delivered for Swindon" in html
    assert any(r["term"] == "treatment" and r["odds_ratio"] is not None for r in doc["results"])


def test_vault_without_school_census_names_absence_and_fits_the_rest(no_school_census: Path) -> None:
    with open_raw_vault(no_school_census, ADMIN) as v:
        run = full.run_all(v, m=(), sensitivity_analyses=False, exposure_analyses=False)
    names = {nd.outcome: nd for nd in run.not_derived}
    assert set(names) == {"unauthorised_absence_3terms"}
    assert names["unauthorised_absence_3terms"].reason == "no school census (attendance) delivered for any LA"
    assert run.summary is not None and run.summary.secondary is not None
    fitted = {r.outcome for r in run.summary.secondary}
    assert "unauthorised_absence_3terms" not in fitted
    assert {"returned_after_cpp", "cpp_days_single", "rereferral_18m_parental"} <= fitted
    # without the data request returns the previous-CPP count is not recorded: left out of the models, said so
    assert "previous_cpps" in run.primary.covariates_left_out
    assert any("previous_cpps" in n for n in run.primary.sample.notes)
