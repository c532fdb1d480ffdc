"""Who is running a command: passwords and recovery codes from a prompt or the environment, never from argv.

argv is visible to every user of the machine through the process list and lands in shell history, so secrets
come from an interactive prompt or an environment variable (CSCVAULT_PASSWORD, CSCVAULT_NEW_PASSWORD,
CSCVAULT_SECOND_PASSWORD, CSCVAULT_RECOVERY_CODE).
"""

from __future__ import annotations

import contextvars
import getpass
import os
import sys
from pathlib import Path

import typer

from cscvault import api
from cscvault.errors import UsageError

# The vault the running command works on, remembered by the VAULT argument's check so that `credentials`
# can tell whether the login name is one of its users (one command per process; tests run in-process too,
# and each command's argument check sets it afresh).
command_vault: contextvars.ContextVar[Path | None] = contextvars.ContextVar("command_vault", default=None)


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


def resolve_user(user: str | None, vault: Path | None) -> str:
    """Who is running the command: --user or CSCVAULT_USER; else the login name when the vault has a user of
    that name; else a prompt. A vault's users are its own, so there is no built-in default name."""
    if user:
        return user
    login = _login_name()
    if login and vault is not None and login in api.vault_user_names(vault):
        return login
    if not sys.stdin.isatty():
        raise UsageError(
            "no vault user given: pass --user NAME or set CSCVAULT_USER (your login name is not a user of this vault)"
        )
    name = str(typer.prompt("Vault user name")).strip()
    if not name:
        raise UsageError("no vault user given")
    return name


def credentials(user: str | None, recovery: bool = False) -> api.Credentials:
    if recovery:
        return api.Credentials.recovery_code(secret("CSCVAULT_RECOVERY_CODE", "Recovery code"))
    name = resolve_user(user, command_vault.get())
    return api.Credentials(user=name, secret=secret("CSCVAULT_PASSWORD", f"Password for {name}"))
