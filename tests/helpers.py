"""Helpers shared by tests: running the CLI in a subprocess, scanning files for planted values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PASSWORD = "correct horse battery staple"

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
    timeout: float = 120,
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


def files_containing(root: Path, needles: list[bytes]) -> list[tuple[Path, bytes]]:
    """Every (file, needle) where a file under `root` contains the needle anywhere in its bytes."""
    hits = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            hits.extend((path, n) for n in needles if n in data)
    return hits
