"""Arguments and options shared by the command modules, and how their values are parsed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from cscvault import api
from cscvault.cli.credentials import command_vault
from cscvault.errors import UsageError

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


def existing_vault(path: Path) -> Path:
    """Say 'no vault here' or 'destroyed' before asking anyone for a password."""
    checked = api.check_vault_dir(path)
    command_vault.set(checked)  # so `credentials` can tell whether the login name is one of its users
    return checked


VaultArg = Annotated[
    Path, typer.Argument(help="The vault directory.", metavar="VAULT", show_default=False, callback=existing_vault)
]
KeysOption = Annotated[
    list[str] | None,
    typer.Option(
        "--keys",
        help="Key variables (quasi-identifiers of the data dictionary, e.g. children.gender or gender); "
        "repeat or separate with commas. Default: the dictionary's \\[risk] keys.",
    ),
]


def key_list(keys: list[str] | None) -> list[str] | None:
    """`--keys a,b --keys c` as [a, b, c]; None (the dictionary's default set) when none were given."""
    return [k.strip() for item in keys or [] for k in item.split(",") if k.strip()] or None


def optional_vault(path: Path | None) -> Path | None:
    return None if path is None else existing_vault(path)


NewVaultArg = Annotated[Path, typer.Argument(help="The new vault's directory.", metavar="VAULT", show_default=False)]


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
