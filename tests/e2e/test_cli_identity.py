"""Who runs a command: the new vault's password variable and the `--user` default (issue 20)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cscvault import api
from cscvault.vault import Credentials
from tests.helpers import PASSWORD, run_cli

DEE = Credentials("dee", "dee's password 123")


def test_init_reads_the_new_password_variable(tmp_path: Path) -> None:
    proc = run_cli("init", str(tmp_path / "v"), password=None, env={"CSCVAULT_NEW_PASSWORD": PASSWORD})
    assert proc.returncode == 0, proc.stderr
    opened = run_cli("user", "list", str(tmp_path / "v"), "--user", "admin", "--json")
    assert opened.returncode == 0, opened.stderr
    assert [u["name"] for u in json.loads(opened.stdout)] == ["admin"]


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = api.init_vault(tmp_path_factory.mktemp("identity") / "v", PASSWORD).path
    api.add_user(path, Credentials("admin", PASSWORD), DEE.user, "dpo", DEE.secret)
    return path


def _as_login(name: str) -> dict[str, str]:
    # getpass.getuser() reads LOGNAME first, then USER.
    return {"LOGNAME": name, "USER": name}


def test_the_login_name_is_the_default_user_when_the_vault_has_it(vault: Path) -> None:
    proc = run_cli("rights", "list", str(vault), "--json", password=DEE.secret, env=_as_login("dee"), role_user=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_cscvault_user_wins_over_the_login_name(vault: Path) -> None:
    env = {**_as_login("dee"), "CSCVAULT_USER": "admin"}
    proc = run_cli("user", "list", str(vault), "--json", env=env, role_user=False)
    assert proc.returncode == 0, proc.stderr


def test_no_user_and_no_terminal_is_one_clear_line(vault: Path) -> None:
    proc = run_cli("rights", "list", str(vault), password=DEE.secret, env=_as_login("mallory"), role_user=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: no vault user given: pass --user NAME or set CSCVAULT_USER "
        "(your login name is not a user of this vault)"
    ]
