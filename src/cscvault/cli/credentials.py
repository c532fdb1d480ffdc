"""Who is running a command: passwords and recovery codes from a prompt or the environment, never from argv.

argv is visible to every user of the machine through the process list and lands in shell history, so secrets
come from an interactive prompt or an environment variable (CSCVAULT_PASSWORD, CSCVAULT_NEW_PASSWORD,
CSCVAULT_SECOND_PASSWORD, CSCVAULT_RECOVERY_CODE).
"""

from __future__ import annotations

import getpass
import os
import sys

from cscvault import api
from cscvault.errors import UsageError


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


def credentials(user: str, recovery: bool = False) -> api.Credentials:
    if recovery:
        return api.Credentials.recovery_code(secret("CSCVAULT_RECOVERY_CODE", "Recovery code"))
    return api.Credentials(user=user, secret=secret("CSCVAULT_PASSWORD", f"Password for {user}"))
