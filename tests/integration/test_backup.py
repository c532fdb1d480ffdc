"""Encrypted backups: exact round trip, no resurrection of erased children, clear failures."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
from pyrage import x25519

from cscvault import api
from cscvault.errors import AuthError, TamperedError, UsageError, VaultStateError
from cscvault.vault import Credentials, Vault
from cscvault.vault.backup import backup_vault, read_manifest, restore_backup
from cscvault.vault.identity import vault_identity
from tests.helpers import PASSWORD, files_containing, open_raw_vault

ADMIN = Credentials("admin", PASSWORD)
KIDS = [(f"ck{i:03d}", f"CANARYNOTE{i:03d}") for i in range(30)]
ERASED, RESTRICTED = "ck007", "ck011"


@pytest.fixture(autouse=True)
def _cli_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI has no built-in user name (a vault's users are its own): these tests run it as the admin."""
    monkeypatch.setenv("CSCVAULT_USER", "admin")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, x25519.Identity]:
    """One vault with a child-level test table and its age identity; tests copy it (init costs seconds)."""
    created = api.init_vault(tmp_path_factory.mktemp("template") / "v", PASSWORD).path
    with open_raw_vault(created, ADMIN) as v:
        with v.transaction() as con:
            con.execute("CREATE TABLE kids (child_key VARCHAR, note VARCHAR)")
            con.executemany("INSERT INTO kids VALUES (?, ?)", [list(k) for k in KIDS])
        ident = vault_identity(v)
    return created, ident


def _copy(template: tuple[Path, x25519.Identity], tmp_path: Path) -> tuple[Path, x25519.Identity]:
    shutil.copytree(template[0], tmp_path / "v")
    (tmp_path / "b").mkdir()
    return tmp_path / "v", template[1]


def _erase_and_restrict(path: Path) -> None:
    """What the rights module does: a tombstone plus deletion, and a restriction flag."""
    with open_raw_vault(path, ADMIN) as v:
        with v.transaction() as con:
            con.execute("INSERT INTO subject_status VALUES (?, 'erased', now(), 'REQ-1')", [ERASED])
            con.execute("INSERT INTO subject_status VALUES (?, 'restricted', now(), 'REQ-2')", [RESTRICTED])
            con.execute("DELETE FROM kids WHERE child_key = ?", [ERASED])


def _dump(v: Vault, skip: tuple[str, ...] = ("audit", "backups")) -> dict[str, list[tuple[Any, ...]]]:
    tables = [
        str(r[0])
        for r in v.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' ORDER BY 1"
        ).fetchall()
    ]
    return {t: sorted(v.con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables if t not in skip}


def _head(path: Path) -> str:
    """The head a DPO keeps outside the vault (`cscvault audit head`)."""
    with open_raw_vault(path, ADMIN) as v:
        return v.head()


def _kids(path: Path) -> set[str]:
    with open_raw_vault(path, ADMIN) as v:
        return {str(r[0]) for r in v.con.execute("SELECT child_key FROM kids").fetchall()}


def test_round_trip_equals_the_original(template: tuple[Path, x25519.Identity], tmp_path: Path) -> None:
    vault, ident = _copy(template, tmp_path)
    result = backup_vault(vault, ADMIN, tmp_path / "b")
    with open_raw_vault(vault, ADMIN) as v:
        before, audit_before = _dump(v), v.con.execute("SELECT * FROM audit ORDER BY seq").fetchall()
        registered = v.con.execute("SELECT backup_id, sha256, delete_by FROM backups").fetchall()
    assert registered == [(result.backup_id, result.sha256, dt.date(2033, 10, 31))]
    # The backup holds only ciphertext: no planted value is readable in the file.
    assert files_containing(tmp_path / "b", [n.encode() for _, n in KIDS]) == []
    # the head kept right after the backup is the backup's own entry, recomputed from its manifest and file
    assert result.head == _head(vault)
    restored = restore_backup(result.path, tmp_path / "copy", ADMIN, identity=ident, expect=result.head)
    assert restored.head_reached_by == result.path.name
    assert restored.statuses_reapplied == 0 and restored.rows_purged == {}
    with open_raw_vault(tmp_path / "copy", ADMIN) as v:
        after = _dump(v)
        audit_after = v.con.execute("SELECT * FROM audit ORDER BY seq").fetchall()
        assert v.verify_audit().ok
        registered_copy = v.con.execute("SELECT backup_id, sha256 FROM backups").fetchall()
    assert after == before
    # the restored chain is the chain at the snapshot (before the backup's own entry) plus the restore entry
    assert audit_after[: len(audit_before) - 1] == audit_before[: len(audit_before) - 1]
    assert audit_after[-1][3] == "vault.restore"
    assert registered_copy == [(result.backup_id, result.sha256)]  # the backup it came from must expire too


def test_restore_over_the_live_vault_does_not_resurrect_an_erased_child(
    template: tuple[Path, x25519.Identity], tmp_path: Path
) -> None:
    vault, _ = _copy(template, tmp_path)
    backup = backup_vault(vault, ADMIN, tmp_path / "b")
    _erase_and_restrict(vault)
    with open_raw_vault(vault, ADMIN) as v:
        vault_id = v.vault_id
    with pytest.raises(VaultStateError, match="rollback"):  # a live vault older than the kept head is no source
        restore_backup(backup.path, vault, ADMIN, replace=True, expect=f"{vault_id}:9999:{'0' * 64}")
    # the live vault's identity decrypts; a head kept now is reached by the live vault itself
    result = restore_backup(backup.path, vault, ADMIN, replace=True, expect=_head(vault))
    assert result.sources == ["current vault"]
    assert result.statuses_reapplied == 2 and result.rows_purged == {"kids": 1}
    with open_raw_vault(vault, ADMIN) as v:
        kids = {str(r[0]) for r in v.con.execute("SELECT child_key FROM kids").fetchall()}
        assert ERASED not in kids and RESTRICTED in kids
        statuses = set(v.con.execute("SELECT child_key, status FROM subject_status").fetchall())
        assert statuses == {(ERASED, "erased"), (RESTRICTED, "restricted")}
        registered = v.con.execute("SELECT backup_id, file_name FROM backups ORDER BY created_at").fetchall()
    # the backup restored from and the replaced vault (moved aside, still encrypted) must both expire
    assert registered[0][0] == backup.backup_id
    assert registered[1][0].startswith("replaced-") and registered[1][1].startswith("v.before-restore-")
    assert result.replaced_vault_moved_to is not None and result.replaced_vault_moved_to.is_dir()


def test_restore_after_losing_the_vault_uses_newer_backups_as_the_tombstone_ledger(
    template: tuple[Path, x25519.Identity], tmp_path: Path
) -> None:
    vault, ident = _copy(template, tmp_path)
    old = backup_vault(vault, ADMIN, tmp_path / "b")
    _erase_and_restrict(vault)
    backup_vault(vault, ADMIN, tmp_path / "b")
    head = _head(vault)
    shutil.rmtree(vault)  # the disk is lost; only the backups, the identity and the DPO's head remain
    result = restore_backup(old.path, vault, ADMIN, identity=ident, expect=head)
    assert len(result.sources) == 1 and result.sources[0].endswith(".age")
    kids = _kids(vault)
    assert ERASED not in kids and RESTRICTED in kids and len(kids) == len(KIDS) - 1


def test_tampered_backup_or_wrong_identity_fails_clearly(
    template: tuple[Path, x25519.Identity], tmp_path: Path
) -> None:
    vault, ident = _copy(template, tmp_path)
    backup = backup_vault(vault, ADMIN, tmp_path / "b")
    head = _head(vault)
    data = bytearray(backup.path.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered = tmp_path / "tampered.age"
    tampered.write_bytes(bytes(data))
    with pytest.raises(TamperedError, match="damaged or altered") as exc:
        restore_backup(tampered, tmp_path / "t1", ADMIN, identity=ident, expect=head)
    assert "\n" not in str(exc.value)
    with pytest.raises(AuthError, match="wrong key"):
        restore_backup(backup.path, tmp_path / "t2", ADMIN, identity=x25519.Identity.generate(), expect=head)
    (tmp_path / "junk.age").write_bytes(b"not a backup at all")
    with pytest.raises(TamperedError, match="not an age-encrypted"):
        restore_backup(tmp_path / "junk.age", tmp_path / "t3", ADMIN, identity=ident, expect=head)
    with pytest.raises(UsageError, match="--replace"):
        restore_backup(backup.path, vault, ADMIN, identity=ident)
    # nothing half-made was left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "junk.age", "tampered.age", "v"]


def test_backups_refuse_to_restore_from_the_deletion_date(
    template: tuple[Path, x25519.Identity], tmp_path: Path
) -> None:
    vault, ident = _copy(template, tmp_path)
    backup = backup_vault(vault, ADMIN, tmp_path / "b")
    assert read_manifest(backup.path, [ident])["delete_by"] == "2033-10-31"
    with pytest.raises(VaultStateError, match="due for deletion on 2033-10-31"):
        restore_backup(
            backup.path, tmp_path / "late", ADMIN, identity=ident, today=dt.date(2033, 10, 31), expect=_head(vault)
        )
    assert not (tmp_path / "late").exists()


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from cscvault.cli import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def test_cli_backup_to_an_offline_recipient_and_restore_with_its_identity(
    template: tuple[Path, x25519.Identity],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    vault, _ = _copy(template, tmp_path)
    offline = x25519.Identity.generate()
    (tmp_path / "offline.key").write_text(f"# offline backup key\n{offline}\n")
    monkeypatch.setenv("CSCVAULT_PASSWORD", PASSWORD)
    code, out, err = _main(
        ["backup", str(vault), "--to", str(tmp_path / "b"), "--recipient", str(offline.to_public()), "--json"], capsys
    )
    assert code == 0, err
    doc = json.loads(out)
    assert len(doc["recipients"]) == 2 and doc["delete_by"] == "2033-10-31"
    restore = ["restore", doc["backup"], "--to", str(tmp_path / "r"), "--identity", str(tmp_path / "offline.key")]
    # Into a new folder, without the head the DPO kept: no proof that no later backup is missing.
    code, out, err = _main(restore, capsys)
    assert code == 5 and "--expect" in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "r").exists()
    code, head, err = _main(["audit", "head", str(vault)], capsys)
    assert code == 0, err
    code, out, err = _main([*restore, "--expect", head.strip()], capsys)
    assert code == 0, err
    assert "Restored backup" in out
    assert _kids(tmp_path / "r") == {k for k, _ in KIDS}
    code, _, err = _main(["backup", str(vault), "--to", str(tmp_path / "b"), "--recipient", "age1nope"], capsys)
    assert code == 2 and "age1" in err
