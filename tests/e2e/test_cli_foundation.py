"""The command line as scripts use it: init, users, passwords, audit, notice, demo.

A real subprocess where only a process shows the behaviour (printing the recovery code, no terminal, the demo
end to end); the rest runs the same CLI in-process (`cli_in_process`), which costs no start-up.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.helpers import PASSWORD, cli_in_process, run_cli


def test_init_prints_recovery_code_once_and_it_works(tmp_path: Path) -> None:
    proc = run_cli("init", str(tmp_path / "v"))
    assert proc.returncode == 0, proc.stderr
    codes = re.findall(r"\b(?:[A-Z2-7]{4}-){7}[A-Z2-7]{4}\b", proc.stdout)
    assert len(codes) == 1
    # The recovery code is not stored anywhere in the vault in clear.
    for f in (tmp_path / "v").rglob("*"):
        if f.is_file():
            assert codes[0].encode() not in f.read_bytes()
    again = run_cli(
        "audit",
        "verify",
        str(tmp_path / "v"),
        "--recovery",
        password=None,
        env={"CSCVAULT_RECOVERY_CODE": codes[0]},
    )
    assert again.returncode == 0, again.stderr


def test_users_roles_and_passwords(tmp_path: Path) -> None:
    vault = str(tmp_path / "v")
    assert cli_in_process("init", vault).returncode == 0
    add = cli_in_process("user", "add", vault, "dee", "--role", "dpo", env={"CSCVAULT_NEW_PASSWORD": "dee's password!"})
    assert add.returncode == 0, add.stderr
    listed = cli_in_process("user", "list", vault, "--json")
    assert json.loads(listed.stdout)[1]["name"] == "dee"
    assert [u["role"] for u in json.loads(listed.stdout)] == ["admin", "dpo"]
    as_dee = cli_in_process(
        "user",
        "passwd",
        vault,
        "--user",
        "dee",
        password="dee's password!",
        env={"CSCVAULT_NEW_PASSWORD": "dee's new password"},
    )
    assert as_dee.returncode == 0, as_dee.stderr
    old = cli_in_process("user", "list", vault, "--user", "dee", password="dee's password!")
    assert old.returncode == 4
    denied = cli_in_process(
        "user",
        "add",
        vault,
        "eve",
        "--role",
        "admin",
        "--user",
        "dee",
        password="dee's new password",
        env={"CSCVAULT_NEW_PASSWORD": "eve's password!!"},
    )
    assert denied.returncode == 4
    assert "may not do this" in denied.stderr
    weak = cli_in_process("user", "add", vault, "eve", "--role", "analyst", env={"CSCVAULT_NEW_PASSWORD": "short"})
    assert weak.returncode == 2
    audit = cli_in_process("audit", "verify", vault, "--json")
    # vault.init, the age identity for LA packages, user.add, user.passwd
    assert json.loads(audit.stdout) == {"ok": True, "entries": 4, "head_entries": 4, "problems": []}


def test_password_is_never_taken_from_argv(tmp_path: Path) -> None:
    proc = cli_in_process("init", str(tmp_path / "v"), "--password", PASSWORD)
    assert proc.returncode == 2
    assert not (tmp_path / "v").exists()


def test_no_password_and_no_terminal_is_a_clear_error(tmp_path: Path) -> None:
    proc = run_cli("init", str(tmp_path / "v"), password=None)
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == "error: no new password for admin given: set CSCVAULT_NEW_PASSWORD or run in a terminal to be prompted"
    )


def test_debug_shows_traceback_only_when_asked(tmp_path: Path) -> None:
    plain = cli_in_process("audit", "verify", str(tmp_path / "none"))
    debug = cli_in_process("--debug", "audit", "verify", str(tmp_path / "none"))
    assert plain.returncode == debug.returncode == 5
    assert "Traceback" not in plain.stderr
    assert "Traceback" in debug.stderr


def test_notice_formats() -> None:
    md = cli_in_process("notice")
    html = cli_in_process("notice", "--format", "html")
    assert md.returncode == html.returncode == 0
    assert md.stdout.startswith("# Family Safeguarding privacy notice")
    assert html.stdout.startswith("<!doctype html>")
    bad = cli_in_process("notice", "--format", "pdf")
    assert bad.returncode == 2


def test_demo_runs_and_can_be_rerun(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    first = run_cli("demo", "--out", str(out), "--children", "800", password=None)
    assert first.returncode == 0, first.stderr
    assert "Generated password" in first.stdout
    assert "Primary odds ratio of care within 18 months" in first.stdout
    assert (out / "vault" / "keys.json").is_file()
    assert not (out / "analysis").exists()  # analyse writes nothing outside the vault
    (bundle,) = (out / "releases").iterdir()  # only the approved, exported release is readable
    assert (bundle / "outputs" / "report.html").is_file() and (bundle / "manifest.json").is_file()
    assert f"Open the released report: {bundle / 'outputs' / 'report.html'}" in first.stdout
    assert "approved the release" in first.stdout
    second = run_cli("demo", "--out", str(out), "--children", "800", timeout=900)
    assert second.returncode == 0, second.stderr
    assert "Generated password" not in second.stdout
    # It never overwrites a folder that is not a demo.
    other = tmp_path / "precious"
    other.mkdir()
    (other / "data.txt").write_text("keep me")
    refused = cli_in_process("demo", "--out", str(other))
    assert refused.returncode == 2
    assert (other / "data.txt").read_text() == "keep me"
