"""Helpers shared by tests: running the CLI (in-process or in a subprocess), scanning files for planted values."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

from cscvault.vault.store import Credentials, Vault

PASSWORD = "correct horse battery staple"

# Only a guard against a hung child process: a shared, loaded machine can take minutes to start Python and run a
# command, so no test should fail for being slow.
HANG_GUARD_SECONDS = 1800


def open_raw_vault(path: Path, credentials: Credentials, memory_limit: str | None = None) -> Vault:
    """The vault's storage object (a context manager), for tests that set up or inspect state the API does not
    expose (front ends use `api.open_vault`, which gives a session)."""
    return Vault.open(Path(path), credentials, memory_limit=memory_limit)


# The CLI has no built-in user name (a vault's users are its own). Tests build their vaults with these names,
# so a test that gives neither --user nor CSCVAULT_USER runs as the user the command's role suggests.
_TEST_USERS = {"rights": "dpo", "complaint": "dpo", "analyse": "analyst", "release": "analyst"}
_TEST_RELEASE_USERS = {"approve": "checker", "reject": "checker"}


def role_user_for(args: tuple[str, ...]) -> str:
    if args[:1] == ("release",) and len(args) > 1 and args[1] in _TEST_RELEASE_USERS:
        return _TEST_RELEASE_USERS[args[1]]
    return _TEST_USERS.get(args[0], "admin") if args else "admin"


def run_cli(
    *args: str,
    password: str | None = PASSWORD,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = HANG_GUARD_SECONDS,
    role_user: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m cscvault ARGS` with no terminal (passwords come from the environment)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CSCVAULT_")}
    if password is not None:
        full_env["CSCVAULT_PASSWORD"] = password
    if role_user and "--user" not in args and "-u" not in args:
        full_env["CSCVAULT_USER"] = role_user_for(args)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "cscvault", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )


def cli_in_process(
    *args: str,
    password: str | None = PASSWORD,
    env: dict[str, str] | None = None,
    role_user: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run `cscvault ARGS` through `cscvault.cli.main` in this process, with the same environment rules, exit code
    and captured output as `run_cli`. A subprocess costs seconds of imports on a loaded machine and adds nothing
    where the test is about a command's behaviour; keep `run_cli` for what only a real process shows (no
    terminal, the entry point itself)."""
    from cscvault.cli import main

    saved = dict(os.environ)
    out, err = io.StringIO(), io.StringIO()
    try:
        for name in [k for k in os.environ if k.startswith("CSCVAULT_")]:
            del os.environ[name]
        if password is not None:
            os.environ["CSCVAULT_PASSWORD"] = password
        if role_user and "--user" not in args and "-u" not in args:
            os.environ["CSCVAULT_USER"] = role_user_for(args)
        os.environ.update(env or {})
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return subprocess.CompletedProcess(["cscvault", *args], code, out.getvalue(), err.getvalue())


def files_containing(root: Path, needles: list[bytes]) -> list[tuple[Path, bytes]]:
    """Every (file, needle) where a file under `root` contains the needle anywhere in its bytes."""
    hits = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            hits.extend((path, n) for n in needles if n in data)
    return hits
