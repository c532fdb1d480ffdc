"""Pieces shared by every command module: JSON printing, secrets from prompt or environment, common options.

Passwords come from an interactive prompt or an environment variable, never from argv (argv is visible to
every user of the machine through the process list and lands in shell history).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cscvault.errors import UsageError
from cscvault.vault import Credentials

StudyOption = Annotated[
    Path | None, typer.Option("--study", help="A study.toml (default: the shipped Family Safeguarding study).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document and nothing else.")]
UserOption = Annotated[
    str, typer.Option("--user", "-u", envvar="CSCVAULT_USER", help="Vault user name (env CSCVAULT_USER).")
]
RecoveryOption = Annotated[
    bool,
    typer.Option("--recovery", help="Open with the recovery code (prompt or env CSCVAULT_RECOVERY_CODE)."),
]
VaultArg = Annotated[Path, typer.Argument(help="The vault directory.", metavar="VAULT", show_default=False)]


def print_json(document: Any) -> None:
    """`--json` prints one JSON document on stdout and nothing else."""
    typer.echo(json.dumps(document, indent=2, sort_keys=False, default=str))


def err(message: str) -> None:
    typer.echo(message, err=True)


def secret(env: str, prompt: str, confirm: bool = False) -> str:
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise UsageError(f"no {prompt.lower()} given: set {env} or run in a terminal to be prompted")
    first = getpass.getpass(f"{prompt}: ")
    if confirm and getpass.getpass(f"{prompt} (again): ") != first:
        raise UsageError("the two entries differ")
    return first


def credentials(user: str, recovery: bool = False) -> Credentials:
    if recovery:
        return Credentials.recovery_code(secret("CSCVAULT_RECOVERY_CODE", "Recovery code"))
    return Credentials(user=user, secret=secret("CSCVAULT_PASSWORD", f"Password for {user}"))


def parse_date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option}: dates are written YYYY-MM-DD") from None


def required_date(value: str, option: str) -> dt.date:
    parsed = parse_date(value, option)
    assert parsed is not None
    return parsed
