"""The output airlock end to end: request, gate, checks, two-person approval, export, differencing, audit."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from cscvault import api
from cscvault.cli import main
from cscvault.errors import DataError, PermissionDenied, UsageError, VaultStateError
from cscvault.vault import Credentials
from cscvault.vault.run_outputs import RunOutput, store_outputs
from tests.helpers import PASSWORD, open_raw_vault, run_cli

ADMIN = Credentials("admin", PASSWORD)
ANALYST = Credentials("ana", "analyst password 1")
CHECKER = Credentials("cheq", "checker password 1")
FLIP = Credentials("flip", "flipper password 1")  # an analyst who later becomes a checker


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Ran]:
    """The CLI in-process (a subprocess costs ~10 s of imports on a shared machine); one test runs it for real."""

    def run(*args: str, password: str) -> Ran:
        monkeypatch.setenv("CSCVAULT_PASSWORD", password)
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            main(list(args))
        out = capsys.readouterr()
        return Ran(int(exited.value.code or 0), out.out, out.err)

    return run


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = api.init_vault(tmp_path_factory.mktemp("vault") / "v", PASSWORD).path
    api.add_user(path, ADMIN, ANALYST.user, "analyst", ANALYST.secret)
    api.add_user(path, ADMIN, CHECKER.user, "checker", CHECKER.secret)
    api.add_user(path, ADMIN, FLIP.user, "analyst", FLIP.secret)
    return path


def _store(vault: Path, *files: Path) -> str:
    """Store files as the outputs of one analysis run (as `analyse` does); returns the run id.

    A release names stored run outputs; a copy on disk is accepted only when it is byte for byte one."""
    run_id = uuid.uuid4().hex[:12]
    kinds = {".csv": "table", ".json": "results", ".html": "html", ".png": "figure"}
    outputs = [RunOutput(f.name, kinds.get(f.suffix, "text"), f.read_bytes()) for f in files]
    with open_raw_vault(vault, ADMIN) as v:
        store_outputs(v, run_id, "test", "0" * 64, outputs)
    return run_id


def _table(folder: Path, name: str, rows: list[tuple[str, str, int]], vault: Path | None = None) -> Path:
    path = folder / name
    pd.DataFrame(rows, columns=["la", "arm", "children"]).to_csv(path, index=False)
    if vault is not None:
        _store(vault, path)
    return path


SMALL = [("Walsall", "control", 1234), ("Walsall", "intervention", 3), ("Lancashire", "control", 987)]


def test_small_count_fails_and_the_export_carries_the_suppressed_table(vault: Path, tmp_path: Path) -> None:
    table = _table(tmp_path, "small_counts.csv", SMALL, vault)
    release = api.release_request(vault, ANALYST, [table], "interim flow table")
    assert release.state == "requested" and release.verdict == "fail"
    detail = api.release_show(vault, CHECKER, release.release_id)
    (out,) = detail.outputs
    assert out.verdict == "fail" and out.sha256 == hashlib.sha256(table.read_bytes()).hexdigest()
    assert out.checks["fail"] == 1 and out.checks["suppressed"] >= 1
    assert any(c["rules"] == ["threshold"] for c in out.checks["cell_verdicts"])

    approved = api.release_approve(vault, CHECKER, release.release_id, "suppressed version only")
    assert approved.state == "approved" and approved.decided_by == CHECKER.user
    bundle = api.release_export(vault, ANALYST, release.release_id, tmp_path)
    exported = pd.read_csv(bundle / "outputs" / "small_counts.csv")
    small = exported[(exported["la"] == "Walsall") & (exported["arm"] == "intervention")]
    assert small["children"].isna().all()  # the 3 is withheld
    assert set(exported["children"].dropna()) == {1235.0, 985.0}  # rounded to 5
    assert hashlib.sha256((bundle / "outputs" / "small_counts.csv").read_bytes()).hexdigest() == out.released_sha256

    # checksums cover every file, and the profile is stamped
    sums = dict(reversed(line.split("  ", 1)) for line in (bundle / "SHA256SUMS").read_text().splitlines())
    for rel, digest in sums.items():
        assert hashlib.sha256((bundle / rel).read_bytes()).hexdigest() == digest
    assert "outputs/small_counts.csv" in sums and "results.json" in sums
    # each file once: the table lives only under outputs/, with no pandas index column
    csvs = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*.csv"))
    assert csvs == ["outputs/small_counts.csv"]
    assert list(exported.columns) == ["la", "arm", "children"]
    manifest = api.release_verify(bundle)
    assert manifest["requested_by"] == ANALYST.user and manifest["approved_by"] == CHECKER.user
    assert manifest["decided_at"] and manifest["profile"]["name"] == "acro-default"
    (entry_m,) = manifest["outputs"]
    assert entry_m == {
        "file": "outputs/small_counts.csv", "kind": "table", "sha256": out.released_sha256,
        "requested_sha256": out.sha256, "verdict": "fail", "reasons": out.reasons,
    }  # fmt: skip
    profile = json.loads((bundle / "profile.json").read_text())
    assert profile["name"] == "acro-default" and profile["min_count"] == 10 and profile["version"]

    # ACRO reads the bundle's results.json
    from acro import record

    logging.disable(logging.CRITICAL)
    try:
        records = record.load_records(str(bundle))
    finally:
        logging.disable(logging.NOTSET)
    entry = records.get("small_counts")
    assert entry.output_type == "table" and entry.status == "review"  # mitigated by suppression, as ACRO marks it
    assert entry.properties["profile"] == "acro-default"
    assert entry.sdc["summary"]["MinimumThresholdCheck"] == 1

    assert api.release_show(vault, ANALYST, release.release_id).release.state == "exported"
    with pytest.raises(UsageError, match="already exists"):
        api.release_export(vault, ANALYST, release.release_id, tmp_path)


def test_requester_cannot_approve_or_reject_their_own_release(vault: Path, tmp_path: Path) -> None:
    table = _table(tmp_path, "own.csv", [("Walsall", "control", 40), ("Walsall", "intervention", 50)], vault)
    release = api.release_request(vault, ANALYST, [table], "own release")
    with pytest.raises(PermissionDenied, match="two-person rule"):
        api.release_approve(vault, ANALYST, release.release_id, "self")
    with pytest.raises(PermissionDenied, match="two-person rule"):
        api.release_reject(vault, ANALYST, release.release_id, "self")

    # A requester whose role later became checker is still refused: the rule is about people, not roles.
    flipped = api.release_request(
        vault, FLIP, [_table(tmp_path, "flip.csv", [("Wigan", "control", 40)], vault)], "mine"
    )
    with open_raw_vault(vault, ADMIN) as v, v.transaction() as con:
        con.execute("UPDATE users SET role = 'checker' WHERE name = ?", [FLIP.user])
    with pytest.raises(PermissionDenied, match="two-person rule"):
        api.release_approve(vault, FLIP, flipped.release_id, "self")
    assert api.release_show(vault, CHECKER, flipped.release_id).release.state == "requested"

    # the CLI says the same, in one line, with the permission exit code
    done = run_cli("release", "approve", str(vault), release.release_id, "--user", ANALYST.user,
                   password=ANALYST.secret)  # fmt: skip
    assert done.returncode == 4
    assert "two-person rule" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_an_unapproved_release_cannot_be_exported(vault: Path, tmp_path: Path, cli: Callable[..., Ran]) -> None:
    table = _table(tmp_path, "pending.csv", [("Walsall", "control", 40), ("Walsall", "intervention", 50)], vault)
    release = api.release_request(vault, ANALYST, [table], "pending")
    with pytest.raises(VaultStateError, match="only an approved release"):
        api.release_export(vault, ANALYST, release.release_id, tmp_path)
    rejected = api.release_reject(vault, CHECKER, release.release_id, "not needed")
    assert rejected.state == "rejected" and rejected.decision_note == "not needed"
    with pytest.raises(VaultStateError, match="rejected"):
        api.release_export(vault, ANALYST, release.release_id, tmp_path)
    with pytest.raises(VaultStateError, match="only a requested release"):
        api.release_approve(vault, CHECKER, release.release_id, "late")
    assert not (tmp_path / release.release_id).exists()
    done = cli("release", "export", str(vault), release.release_id, "--out", str(tmp_path),
                   "--user", ANALYST.user, password=ANALYST.secret)  # fmt: skip
    assert done.returncode == 5 and "only an approved release" in done.stderr


def test_the_gate_refuses_child_keys_and_row_level_files(vault: Path, tmp_path: Path, cli: Callable[..., Ran]) -> None:
    before = len(api.release_list(vault, ADMIN))
    keyed = tmp_path / "keyed.csv"
    keyed.write_text("child_key,children\nabc,12\ndef,30\n")
    with pytest.raises(DataError, match=r"keyed\.csv.*child-key.*'child_key'"):
        api.release_request(vault, ANALYST, [keyed], "oops")
    people = tmp_path / "people.csv"
    people.write_text("ref,age_months,cla\n" + "".join(f"P{i:05d},{20 + i},{i % 2}\n" for i in range(40)))
    with pytest.raises(DataError, match=r"people\.csv.*row-level"):
        api.release_request(vault, ANALYST, [people], "oops")
    db = tmp_path / "copy.duckdb"
    db.write_bytes(b"x")
    with pytest.raises(UsageError, match=r"copy\.duckdb.*file-type"):
        api.release_request(vault, ANALYST, [_table(tmp_path, "fine.csv", SMALL, vault), db], "mixed")
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (5 * 1024 * 1024 + 1))
    with pytest.raises(UsageError, match=r"big\.txt.*oversize"):
        api.release_request(vault, ANALYST, [big], "too big")
    assert len(api.release_list(vault, ADMIN)) == before  # nothing stored for a refused request
    with open_raw_vault(vault, ADMIN) as v:
        refused = v.con.execute("SELECT objects, counts FROM audit WHERE action = 'release.refused'").fetchall()
    assert len(refused) == 4 and all("abc" not in o and "P00001" not in o for o, _ in refused)

    done = cli("release", "request", str(vault), str(keyed), "--why", "x", "--user", ANALYST.user,
                   password=ANALYST.secret)  # fmt: skip
    assert done.returncode == 3 and "child-key" in done.stderr and "abc" not in done.stderr


def test_roles_are_checked(vault: Path, tmp_path: Path) -> None:
    table = _table(tmp_path, "roles.csv", [("Walsall", "control", 40)], vault)
    with pytest.raises(PermissionDenied):
        api.release_request(vault, CHECKER, [table], "checker may not request")
    release = api.release_request(vault, ANALYST, [table], "roles")
    with pytest.raises(PermissionDenied):
        api.release_approve(vault, ADMIN, release.release_id, "admin is not a checker")


def test_differencing_flags_a_table_that_differs_by_a_small_count(vault: Path, tmp_path: Path) -> None:
    first = tmp_path / "a"
    second = tmp_path / "b"
    first.mkdir()
    second.mkdir()
    rows = [("Walsall", "control", 120), ("Walsall", "intervention", 200), ("Wigan", "control", 300)]
    r1 = api.release_request(vault, ANALYST, [_table(first, "cohort.csv", rows, vault)], "March")
    assert r1.verdict == "pass"
    api.release_approve(vault, CHECKER, r1.release_id, "")
    later = [("Walsall", "control", 126), ("Walsall", "intervention", 200), ("Wigan", "control", 300)]
    r2 = api.release_request(vault, ANALYST, [_table(second, "cohort.csv", later, vault)], "April")
    assert r2.verdict == "review"  # 125 released now vs 120 before: 5 children revealed
    (out,) = api.release_show(vault, CHECKER, r2.release_id).outputs
    (flag,) = out.checks["differencing"]
    assert flag["earlier"] == r1.release_id and flag["key"] == ["Walsall", "control"] and flag["difference"] == 5
    assert any(r.startswith("differencing:") for r in out.reasons)
    # the flag survives into the exported ACRO record
    api.release_approve(vault, CHECKER, r2.release_id, "reviewed: acceptable")
    bundle = api.release_export(vault, ANALYST, r2.release_id, second)
    results = json.loads((bundle / "results.json").read_text())["results"]
    assert results["cohort"]["outcome"]["children"]["Walsall / control"].startswith("PresenceOfLinkedTableCheck")


def test_model_results_and_custom_outputs(vault: Path, tmp_path: Path) -> None:
    rows = [
        {"analysis": "primary", "sample": "complete_case", "model": "glmm-laplace", "term": t, "estimate": 0.2,
         "n": 503, "n_events": 121}
        for t in ("treatment", "period2", "age")
    ]  # fmt: skip
    (tmp_path / "results.json").write_text(json.dumps({"run_id": "nosuchrun", "results": rows}))
    (tmp_path / "report.html").write_text("<html><body><p>report</p></body></html>")
    _store(vault, tmp_path / "results.json", tmp_path / "report.html")
    release = api.release_request(vault, ANALYST, [tmp_path / "results.json", tmp_path / "report.html"], "results")
    detail = api.release_show(vault, CHECKER, release.release_id)
    by_name = {o.name: o for o in detail.outputs}
    assert by_name["results.json"].verdict == "pass" and by_name["report.html"].verdict == "review"
    assert detail.subjects == 0  # the run is not in this vault
    api.release_approve(vault, CHECKER, release.release_id, "")
    bundle = api.release_export(vault, ANALYST, release.release_id, tmp_path)
    released = json.loads((bundle / "outputs" / "results.json").read_text())
    assert {r["n"] for r in released["results"]} == {505} and {r["n_events"] for r in released["results"]} == {120}
    acro_doc = json.loads((bundle / "results.json").read_text())
    kinds = {v["type"] for v in acro_doc["results"].values()}
    assert kinds == {"regression", "custom"}
    assert (bundle / "outputs" / "report.html").read_bytes() == (tmp_path / "report.html").read_bytes()
    assert not (bundle / "report.html").exists()  # each file once
    (model_file,) = (bundle / "models").iterdir()
    model = pd.read_csv(model_file)  # the model's released rows, not just its degrees of freedom
    assert list(model["term"]) == ["treatment", "period2", "age"]
    assert set(model["n"]) == {505} and set(model["estimate"]) == {0.2}
    assert not any(str(c).startswith("Unnamed") for c in model.columns)
    assert api.release_verify(bundle)["release_id"] == release.release_id


def test_audit_entries_carry_ids_and_counts_only(vault: Path, tmp_path: Path) -> None:
    table = _table(tmp_path, "audit_check.csv", [("Walsall", "control", 4321), ("Wigan", "control", 8765)], vault)
    release = api.release_request(vault, ANALYST, [table], "audit free text never logged")
    api.release_approve(vault, CHECKER, release.release_id, "checker note never logged")
    api.release_export(vault, ANALYST, release.release_id, tmp_path)
    with open_raw_vault(vault, ADMIN) as v:
        entries = v.con.execute(
            "SELECT action, objects, counts FROM audit WHERE action LIKE 'release.%' AND objects LIKE ?",
            [f"%{release.release_id}%"],
        ).fetchall()
        assert v.verify_audit().ok
    assert [e[0] for e in entries] == ["release.request", "release.approve", "release.export"]
    text = json.dumps(entries)
    for needle in ("4321", "8765", "4320", "8765", "Walsall", "never logged", "audit_check"):
        assert needle not in text


def test_cli_request_list_show_approve_export(vault: Path, tmp_path: Path, cli: Callable[..., Ran]) -> None:
    table = _table(tmp_path, "cli_table.csv", [("Walsall", "control", 40), ("Walsall", "intervention", 7)], vault)
    done = cli("release", "request", str(vault), str(table), "--why", "CLI", "--user", ANALYST.user,
                   password=ANALYST.secret)  # fmt: skip
    assert done.returncode == 0, done.stderr
    release_id = done.stdout.strip()
    assert release_id.startswith("REL-")
    shown = cli("release", "show", str(vault), release_id, "--json", "--user", CHECKER.user,
                    password=CHECKER.secret)  # fmt: skip
    doc = json.loads(shown.stdout)
    assert doc["files"][0]["verdict"] == "fail" and doc["state"] == "requested"
    listed = cli("release", "list", str(vault), "--state", "requested", "--json", "--user", CHECKER.user,
                     password=CHECKER.secret)  # fmt: skip
    assert release_id in {r["release_id"] for r in json.loads(listed.stdout)}
    approved = cli("release", "approve", str(vault), release_id, "--note", "ok", "--user", CHECKER.user,
                       password=CHECKER.secret)  # fmt: skip
    assert approved.returncode == 0, approved.stderr
    exported = cli("release", "export", str(vault), release_id, "--out", str(tmp_path), "--user", ANALYST.user,
                       password=ANALYST.secret)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert (Path(exported.stdout.strip()) / "outputs" / "cli_table.csv").is_file()


def test_an_output_with_no_safe_version_blocks_approval(vault: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad_totals.csv"
    bad.write_text("la,children\nWalsall,120\nWigan,55\nTotal,100\n")  # the total is below its parts
    _store(vault, bad)
    release = api.release_request(vault, ANALYST, [bad], "inconsistent")
    (out,) = api.release_show(vault, CHECKER, release.release_id).outputs
    assert out.verdict == "fail" and not out.releasable
    with pytest.raises(VaultStateError, match="no releasable version"):
        api.release_approve(vault, CHECKER, release.release_id, "")
    assert api.release_reject(vault, CHECKER, release.release_id, "fix the totals").state == "rejected"


def test_export_creates_the_folder_and_a_changed_bundle_fails_verification(
    vault: Path, tmp_path: Path, cli: Callable[..., Ran]
) -> None:
    table = _table(tmp_path, "verify_me.csv", [("Walsall", "control", 40), ("Wigan", "control", 50)], vault)
    release = api.release_request(vault, ANALYST, [table], "verify")
    api.release_approve(vault, CHECKER, release.release_id, "")
    target = tmp_path / "new" / "exports"
    done = cli("release", "export", str(vault), release.release_id, "--out", str(target), "--user", ANALYST.user,
               password=ANALYST.secret)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert target.is_dir() and (target.stat().st_mode & 0o777) == 0o700
    bundle = target / release.release_id
    ok = cli("release", "verify", str(bundle), password="")
    assert ok.returncode == 0 and "1 released file(s) verified" in ok.stdout
    (bundle / "outputs" / "verify_me.csv").write_text("la,arm,children\nWalsall,control,45\n")
    bad = cli("release", "verify", str(bundle), password="")
    assert bad.returncode == 3 and "verify_me.csv does not match" in bad.stderr and bad.stderr.count("\n") == 1
    (bundle / "extra.csv").write_text("x\n1\n")
    (bundle / "outputs" / "verify_me.csv").unlink()
    gone = cli("release", "verify", str(bundle), password="")
    assert gone.returncode == 3


def test_every_export_is_recorded_and_listed_on_the_destruction_certificate(tmp_path: Path) -> None:
    from cscvault.vault.destroy import destroy_vault

    path = api.init_vault(tmp_path / "v", PASSWORD).path
    api.add_user(path, ADMIN, ANALYST.user, "analyst", ANALYST.secret)
    api.add_user(path, ADMIN, CHECKER.user, "checker", CHECKER.secret)
    api.add_user(path, ADMIN, "dana", "dpo", "dpo password long 1")
    table = _table(tmp_path, "left.csv", [("Walsall", "control", 40), ("Wigan", "control", 50)], path)
    release = api.release_request(path, ANALYST, [table], "leaves")
    api.release_approve(path, CHECKER, release.release_id, "")
    first = api.release_export(path, ANALYST, release.release_id, tmp_path / "a")
    second = api.release_export(path, CHECKER, release.release_id, tmp_path / "b")
    digest = hashlib.sha256((first / "outputs" / "left.csv").read_bytes()).hexdigest()
    result = destroy_vault(
        path, ADMIN, Credentials("dana", "dpo password long 1"), early_reason="test",
        certificate_out=tmp_path / "cert.json", signing_key=tmp_path / "sk.pem",
    )  # fmt: skip
    exports = result.certificate["certificate"]["released_exports"]
    assert [(e["release_id"], e["export"], e["exported_by"]) for e in exports] == [
        (release.release_id, 1, ANALYST.user), (release.release_id, 2, CHECKER.user)
    ]  # fmt: skip
    assert exports[0]["destination"] == str(first.resolve()) and exports[1]["destination"] == str(second.resolve())
    assert exports[0]["files"] == [{"file": "outputs/left.csv", "sha256": digest}] and exports[0]["exported_at"]


def test_requests_name_stored_run_outputs_only(vault: Path, tmp_path: Path, cli: Callable[..., Ran]) -> None:
    before = len(api.release_list(vault, ADMIN))
    stored = _table(tmp_path, "stored.csv", [("Walsall", "control", 40), ("Wigan", "control", 50)], vault)
    (tmp_path / "x").mkdir()
    outside = _table(tmp_path / "x", "outside.csv", [("Derby", "control", 4321)])  # in no run
    done = cli("release", "request", str(vault), str(outside), "--why", "x", "--user", ANALYST.user,
               password=ANALYST.secret)  # fmt: skip
    assert done.returncode == 3 and "not a stored output" in done.stderr and done.stderr.count("\n") == 1
    stored.write_text("la,arm,children\nWalsall,control,41\nWigan,control,50\n")  # changed after the run stored it
    done = cli("release", "request", str(vault), str(stored), "--why", "x", "--user", ANALYST.user,
               password=ANALYST.secret)  # fmt: skip
    assert done.returncode == 3 and "changed-after-check" in done.stderr and "41" not in done.stderr
    run = _store(vault, _table(tmp_path / "x", "mine.csv", [("Walsall", "control", 40)]))
    done = cli("release", "request", str(vault), "nosuch.csv", "--run", run, "--why", "x", "--user", ANALYST.user,
               password=ANALYST.secret)  # fmt: skip
    assert done.returncode == 3 and f"not an output of run {run}" in done.stderr
    assert len(api.release_list(vault, ADMIN)) == before  # nothing requested, nothing to export
    ok = cli("release", "request", str(vault), f"{run}:mine.csv", "--why", "by name", "--user", ANALYST.user,
             password=ANALYST.secret)  # fmt: skip
    assert ok.returncode == 0, ok.stderr


def test_a_tampered_stored_output_is_detected_on_review(vault: Path, tmp_path: Path, cli: Callable[..., Ran]) -> None:
    table = _table(tmp_path, "tamper.csv", [("Walsall", "control", 40), ("Wigan", "control", 50)], vault)
    release = api.release_request(vault, ANALYST, [table], "tamper")
    forged = b"la,arm,children\nWalsall,control,400\nWigan,control,50\n"
    with open_raw_vault(vault, ADMIN) as v, v.transaction() as con:
        # content and its checksum column changed together: the audit chain's digest still catches it
        con.execute(
            "UPDATE release_outputs SET content = ?, sha256 = ? WHERE release_id = ?",
            [forged, hashlib.sha256(forged).hexdigest(), release.release_id],
        )
    shown = cli("release", "show", str(vault), release.release_id, "--user", CHECKER.user, password=CHECKER.secret)
    assert shown.returncode == 5 and release.release_id in shown.stderr and shown.stderr.count("\n") == 1
    approved = cli("release", "approve", str(vault), release.release_id, "--user", CHECKER.user,
                   password=CHECKER.secret)  # fmt: skip
    assert approved.returncode == 5


def test_release_show_gives_each_cells_verdict_and_reason(vault: Path, tmp_path: Path, cli: Callable[..., Ran]) -> None:
    table = _table(tmp_path, "cells.csv", [("Walsall", "control", 40), ("Walsall", "intervention", 7)], vault)
    release = api.release_request(vault, ANALYST, [table], "cells")
    shown = cli("release", "show", str(vault), release.release_id, "--user", CHECKER.user, password=CHECKER.secret)
    assert shown.returncode == 0, shown.stderr
    assert "[fail] Walsall / intervention / children: withheld; threshold: count is below 10" in shown.stdout
    assert "Walsall / control" not in shown.stdout  # a cell released as it is is not listed
