"""Destruction at retention end: nothing readable remains, every open says "destroyed", the certificate verifies."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from cscvault import api
from cscvault.errors import AuthError, PermissionDenied, TamperedError, UsageError, VaultDestroyed
from cscvault.vault import Credentials, Vault
from cscvault.vault.backup import backup_vault
from cscvault.vault.destroy import destroy_vault, verify_certificate
from tests.helpers import PASSWORD, files_containing, open_raw_vault

DPO_PASSWORD = "dpo-password-long-enough"
ADMIN = Credentials("admin", PASSWORD)
DPO = Credentials("dana", DPO_PASSWORD)


@pytest.fixture(autouse=True)
def _cli_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI has no built-in user name (a vault's users are its own): these tests run it as the admin."""
    monkeypatch.setenv("CSCVAULT_USER", "admin")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A vault with an admin, a dpo and an analyst; tests copy it (init and new key slots cost seconds)."""
    result = api.init_vault(tmp_path_factory.mktemp("template") / "v", PASSWORD)
    with open_raw_vault(result.path, ADMIN) as v:
        v.add_user("dana", "dpo", DPO_PASSWORD)
        v.add_user("ann", "analyst", DPO_PASSWORD)
    return result.path, result.recovery_code


def _copy(template: tuple[Path, str], dest: Path) -> Path:
    shutil.copytree(template[0], dest)
    return dest


@pytest.fixture(scope="module")
def destroyed(tmp_path_factory: pytest.TempPathFactory, template: tuple[Path, str]) -> dict[str, object]:
    """One vault with canaries and a registered backup, destroyed early by the DPO and an admin."""
    root = tmp_path_factory.mktemp("destroy")
    canaries = [f"CANARY{i:04d}ZQX{os.urandom(4).hex()}" for i in range(40)]
    path, recovery = _copy(template, root / "v"), template[1]
    with open_raw_vault(path, ADMIN) as v:
        with v.transaction() as con:
            con.execute("CREATE TABLE canary (child_key VARCHAR, note VARCHAR)")
            con.executemany("INSERT INTO canary VALUES (?, ?)", [[c, c + " free text"] for c in canaries])
    (root / "backups").mkdir()
    backup = backup_vault(path, ADMIN, root / "backups")
    old_keys = json.loads((path / "keys.json").read_text())
    wrapped = [s["wrapped"] for s in old_keys["slots"]] + [s["salt"] for s in old_keys["slots"]]
    result = destroy_vault(
        path,
        DPO,
        Credentials("admin", PASSWORD),
        early_reason="trial closed early by the steering group; DPO decision 2026-11",
        certificate_out=root / "cert.json",
        signing_key=root / "keys" / "signing.pem",
    )
    return {
        "root": root,
        "path": path,
        "recovery": recovery,
        "canaries": canaries,
        "wrapped": wrapped,
        "result": result,
        "backup": backup,
    }


def test_no_vault_file_remains_readable(destroyed: dict[str, object]) -> None:
    path = destroyed["path"]
    assert isinstance(path, Path)
    left = sorted(p.relative_to(path).as_posix() for p in path.rglob("*"))
    assert left == [".lock", "keys.json"]
    assert (path / ".lock").stat().st_size == 0
    marker = json.loads((path / "keys.json").read_text())
    assert marker["state"] == "destroyed" and marker["slots"] == [] and marker["destroyed_at"]
    text = (path / "keys.json").read_text()
    assert not any(w in text for w in destroyed["wrapped"])  # type: ignore[attr-defined]


def test_no_canary_anywhere_in_the_vault_directory(destroyed: dict[str, object]) -> None:
    canaries = destroyed["canaries"]
    assert isinstance(canaries, list)
    needles = [c.encode() for c in canaries] + [c.encode("utf-16-le") for c in canaries[:5]]
    assert files_containing(destroyed["path"], needles) == []  # type: ignore[arg-type]


def test_every_open_fails_with_destroyed(destroyed: dict[str, object]) -> None:
    path, recovery = destroyed["path"], destroyed["recovery"]
    assert isinstance(path, Path) and isinstance(recovery, str)
    for creds in (ADMIN, DPO, Credentials.recovery_code(recovery), Credentials("nobody", "x" * 20)):
        with pytest.raises(VaultDestroyed, match="destroyed"):
            Vault.open(path, creds)


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI in-process (a subprocess costs seconds of imports on a shared machine)."""
    from cscvault.cli import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def test_cli_commands_exit_5_saying_destroyed(
    destroyed: dict[str, object], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(destroyed["path"])
    monkeypatch.delenv("CSCVAULT_PASSWORD", raising=False)
    # no password is needed to learn the vault is gone
    for args in (["retention", "status", path], ["backup", path, "--to", "."], ["restore", "x.age", "--to", path]):
        code, _, err = _main(args, capsys)
        assert code == 5, (args, err)
        assert "destroyed" in err and err.count("\n") == 1
    monkeypatch.setenv("CSCVAULT_PASSWORD", PASSWORD)
    for args in (["audit", "verify", path], ["user", "list", path]):
        code, _, err = _main(args, capsys)
        assert code == 5 and "destroyed" in err, (args, err)


def test_certificate_verifies_and_describes_the_destruction(destroyed: dict[str, object]) -> None:
    root, result = destroyed["root"], destroyed["result"]
    assert isinstance(root, Path)
    body = verify_certificate(root / "cert.json", root / "keys" / "signing.pem.pub")
    assert body["vault"]["vault_id"] == json.loads((root / "v" / "keys.json").read_text())["vault_id"]
    assert {(a["user"], a["role"]) for a in body["authorised_by"]} == {("dana", "dpo"), ("admin", "admin")}
    assert body["early"] is True and "steering group" in body["early_reason"]
    names = {f["name"] for f in body["destroyed"]["files"]}
    assert {"keys.json", "vault.duckdb", "audit.head"} <= names
    assert all(len(f["sha256"]) == 64 for f in body["destroyed"]["files"])
    assert body["destroyed"]["tables"]["canary"] == 40 and body["destroyed"]["key_slots"] == 4
    backup = destroyed["backup"]
    assert [b["backup_id"] for b in body["backups_to_expire"]] == [backup.backup_id]  # type: ignore[attr-defined]
    assert body["backups_to_expire"][0]["sha256"] == hashlib.sha256(backup.path.read_bytes()).hexdigest()  # type: ignore[attr-defined]
    # no child-level value: none of the planted canaries, nothing but counts for the tables
    text = (root / "cert.json").read_text()
    assert not any(c in text for c in destroyed["canaries"])  # type: ignore[attr-defined]
    assert result.key_id == json.loads(text)["signature"]["key_id"]  # type: ignore[attr-defined]
    assert oct((root / "keys" / "signing.pem").stat().st_mode & 0o777) == "0o600"


def test_edited_certificate_fails_to_verify(
    destroyed: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = destroyed["root"]
    assert isinstance(root, Path)
    doc = json.loads((root / "cert.json").read_text())
    doc["certificate"]["destroyed_at"] = "2033-10-31T00:00:00+00:00"
    (tmp_path / "edited.json").write_text(json.dumps(doc))
    with pytest.raises(TamperedError, match="does not verify"):
        verify_certificate(tmp_path / "edited.json", root / "keys" / "signing.pem.pub")
    pub = str(root / "keys" / "signing.pem.pub")
    code, _, err = _main(["retention", "verify", str(tmp_path / "edited.json"), "--public-key", pub], capsys)
    assert code == 5 and "does not verify" in err
    code, out, _ = _main(["retention", "verify", str(root / "cert.json"), "--public-key", pub], capsys)
    assert code == 0 and "certificate valid" in out


def test_refusals_leave_the_vault_intact(template: tuple[Path, str], tmp_path: Path) -> None:
    path = _copy(template, tmp_path / "v")
    sk = tmp_path / "sk.pem"
    with pytest.raises(UsageError, match="--early-reason"):
        destroy_vault(path, DPO, ADMIN, signing_key=sk, today=dt.date(2030, 1, 1))
    with pytest.raises(PermissionDenied, match="one dpo and one admin"):
        destroy_vault(path, ADMIN, Credentials("ann", DPO_PASSWORD), early_reason="x", signing_key=sk)
    with pytest.raises(AuthError, match="wrong password"):
        destroy_vault(path, ADMIN, Credentials("dana", "wrong-password-here"), early_reason="x", signing_key=sk)
    with pytest.raises(UsageError, match="two different users"):
        destroy_vault(path, ADMIN, ADMIN, early_reason="x", signing_key=sk)
    with pytest.raises(UsageError, match="outside the vault"):
        destroy_vault(path, ADMIN, DPO, early_reason="x", signing_key=path / "sk.pem")
    assert not sk.exists()
    with open_raw_vault(path, ADMIN) as v:  # still a working vault
        assert v.role == "admin"
    # From the due date on, no reason is needed (and none is recorded).
    result = destroy_vault(
        path, ADMIN, DPO, certificate_out=tmp_path / "c.json", signing_key=sk, today=dt.date(2033, 10, 31)
    )
    body = verify_certificate(result.certificate_path, tmp_path / "sk.pem.pub")
    assert body["early"] is False and body["early_reason"] is None
    with pytest.raises(VaultDestroyed):
        Vault.open(path, ADMIN)


def test_cli_destroy_with_second_password_from_the_environment(
    template: tuple[Path, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through the CLI: the second user's password comes from CSCVAULT_SECOND_PASSWORD, never argv."""
    path = _copy(template, tmp_path / "v")
    monkeypatch.setenv("CSCVAULT_PASSWORD", PASSWORD)
    monkeypatch.setenv("CSCVAULT_SECOND_PASSWORD", DPO_PASSWORD)
    args = ["retention", "destroy", str(path), "--second-user", "dana", "--early-reason", "cli test"]
    args += ["--certificate-out", str(tmp_path / "c.json"), "--signing-key", str(tmp_path / "k.pem")]
    code, out, err = _main(args, capsys)
    assert code == 0, err
    assert "destroyed" in out
    verify_certificate(tmp_path / "c.json", tmp_path / "k.pem.pub")
    code, _, err = _main(["retention", "destroy", str(path), "--second-user", "dana"], capsys)
    assert code == 5 and "destroyed" in err
