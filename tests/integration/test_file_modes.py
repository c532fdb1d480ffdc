"""Every vault file is owner-only (0600, folders 0700), the database and its WAL included; a package written into
a missing folder is a usage error (exit 2)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pyrage import x25519

from cscvault import api
from cscvault.vault import Credentials
from tests.helpers import PASSWORD, open_raw_vault

ADMIN = Credentials("admin", PASSWORD)


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]}


def test_every_vault_file_is_owner_only_while_open_and_after(tmp_path: Path) -> None:
    vault = api.init_vault(tmp_path / "v", PASSWORD).path
    with open_raw_vault(vault, ADMIN) as v:
        with v.transaction() as con:
            con.execute("CREATE TABLE scratch (x INTEGER)")
            con.execute("INSERT INTO scratch VALUES (1)")
            v.record("test.step")
        modes = _modes(vault)
        assert "vault.duckdb.wal" in modes  # the write above left a WAL while the vault is open
        wrong = {name: oct(m) for name, m in modes.items() if m != (0o700 if (vault / name).is_dir() else 0o600)}
        assert wrong == {}
    after = _modes(vault)
    assert {n: oct(m) for n, m in after.items() if m not in (0o600, 0o700)} == {}


def test_la_package_into_a_missing_folder_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cscvault.cli import main

    (tmp_path / "r.csv").write_text("CHILD,DOB\n1,2020-01-01\n")
    recipient = str(x25519.Identity.generate().to_public())
    out = tmp_path / "missing" / "x.age"
    with pytest.raises(SystemExit) as exc:
        main(["la", "package", str(tmp_path / "r.csv"), "--recipient", recipient, "--out", str(out), "--la", "Walsall"])
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    assert "folder does not exist" in err and not out.parent.exists()
