"""Pieces shared by every command module: JSON printing, secrets from prompt or environment, common options.

Passwords come from an interactive prompt or an environment variable, never from argv (argv is visible to
every user of the machine through the process list and lands in shell history).
"""

from __future__ import annotations

import contextlib
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
    str, typer.Option("--user", "-u", envvar="CSCVAULT_USER", help="Vault user name (env CSCVAULT_USER).")
]
RecoveryOption = Annotated[
    bool,
    typer.Option("--recovery", help="Open with the recovery code (prompt or env CSCVAULT_RECOVERY_CODE)."),
]


def _existing_vault(path: Path) -> Path:
    """Say 'no vault here' or 'destroyed' before asking anyone for a password."""
    from cscvault.vault.keys import read_keyfile

    if not path.is_dir():
        raise VaultStateError(f"{path}: no vault here")
    read_keyfile(path)
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


@contextlib.contextmanager
def analysis_progress(label: str) -> Iterator[Callable[[str, int, int], None]]:
    """Progress of an analysis on stderr: a rich bar on a terminal, else one plain line per step (a log or a
    pipe still shows where a long run is). Steps name analyses, never data."""
    from rich.console import Console

    if Console(stderr=True).is_terminal:
        with progress_bar(label) as advance:
            yield advance
        return

    def line(what: str, done: int, total: int) -> None:
        err(f"{label}: [{done}/{total}] {what}")

    yield line
