"""Pieces shared by every command module: JSON printing, secrets from prompt or environment, common options.

Passwords come from an interactive prompt or an environment variable, never from argv (argv is visible to
every user of the machine through the process list and lands in shell history).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from cscvault.errors import UsageError, VaultStateError
from cscvault.vault import Credentials

StudyOption = Annotated[
    Path | None, typer.Option("--study", help="A study.toml (default: the shipped Family Safeguarding study).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document and nothing else.")]
UserOption = Annotated[
    str | None,
    typer.Option(
        "--user",
        "-u",
        envvar="CSCVAULT_USER",
        show_default=False,
        help="Vault user name (default: env CSCVAULT_USER, else your login name if it is a user of the vault, "
        "else you are asked).",
    ),
]
RecoveryOption = Annotated[
    bool,
    typer.Option("--recovery", help="Open with the recovery code (prompt or env CSCVAULT_RECOVERY_CODE)."),
]


# The vault the running command works on, remembered by the VAULT argument's check so that `credentials`
# can tell whether the login name is one of its users (one command per process; tests run in-process too,
# and each command's argument check sets it afresh).
_command_vault: contextvars.ContextVar[Path | None] = contextvars.ContextVar("command_vault", default=None)


def _existing_vault(path: Path) -> Path:
    """Say 'no vault here' or 'destroyed' before asking anyone for a password."""
    from cscvault.vault.keys import read_keyfile

    if not path.is_dir():
        raise VaultStateError(f"{path}: no vault here")
    read_keyfile(path)
    _command_vault.set(path)
    return path


VaultArg = Annotated[
    Path, typer.Argument(help="The vault directory.", metavar="VAULT", show_default=False, callback=_existing_vault)
]
NewVaultArg = Annotated[Path, typer.Argument(help="The new vault's directory.", metavar="VAULT", show_default=False)]


def print_json(document: Any) -> None:
    """`--json` prints one JSON document on stdout and nothing else."""
    typer.echo(json.dumps(document, indent=2, sort_keys=False, default=str))


def err(message: str) -> None:
    typer.echo(message, err=True)


def secret(env: str, prompt: str, confirm: bool = False, fallback_env: str | None = None) -> str:
    """A secret from `env` (else `fallback_env`, kept for scripts written before `env` existed) or a prompt."""
    value = os.environ.get(env) or (os.environ.get(fallback_env) if fallback_env else None)
    if value:
        return value
    if not sys.stdin.isatty():
        raise UsageError(f"no {prompt.lower()} given: set {env} or run in a terminal to be prompted")
    first = getpass.getpass(f"{prompt}: ")
    if confirm and getpass.getpass(f"{prompt} (again): ") != first:
        raise UsageError("the two entries differ")
    return first


def _login_name() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER: a container, a cron job
        return None


def _vault_users(vault: Path) -> set[str]:
    """The vault's user names, from keys.json's slots (readable without a password; names staff only)."""
    from cscvault.vault.keys import read_keyfile

    return {slot.user for slot in read_keyfile(vault).slots if slot.kind == "user"}


def resolve_user(user: str | None, vault: Path | None) -> str:
    """Who is running the command: --user or CSCVAULT_USER; else the login name when the vault has a user of
    that name; else a prompt. A vault's users are its own, so there is no built-in default name."""
    if user:
        return user
    login = _login_name()
    if login and vault is not None and login in _vault_users(vault):
        return login
    if not sys.stdin.isatty():
        raise UsageError(
            "no vault user given: pass --user NAME or set CSCVAULT_USER "
            "(your login name is not a user of this vault)"
        )
    name = str(typer.prompt("Vault user name")).strip()
    if not name:
        raise UsageError("no vault user given")
    return name


def credentials(user: str | None, recovery: bool = False) -> Credentials:
    if recovery:
        return Credentials.recovery_code(secret("CSCVAULT_RECOVERY_CODE", "Recovery code"))
    name = resolve_user(user, _command_vault.get())
    return Credentials(user=name, secret=secret("CSCVAULT_PASSWORD", f"Password for {name}"))


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


@contextlib.contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar on stderr, driven by callbacks (what, done, total). It shows counts and file names,
    never data. Disabled for --json and when stderr is not a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda what, done, total: None
        return
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def advance(what: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=what[:40])

        yield advance
