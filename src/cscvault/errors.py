"""One exception hierarchy for cscvault.

Every error a user can cause maps to a documented exit code (see README "Exit codes").
Messages are one line and never carry a child-level value: they name files, rows,
fields, keys and rule ids, never the data found there.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_BAD_DATA = 3
EXIT_AUTH = 4
EXIT_VAULT_STATE = 5


class CscvaultError(Exception):
    """Base of every error cscvault raises on purpose."""

    exit_code: int = EXIT_INTERNAL

    def __init__(self, message: str) -> None:
        # Keep messages to one line: they are printed as-is by the CLI.
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self)


class UsageError(CscvaultError):
    """Bad arguments, bad configuration, a path that cannot be used."""

    exit_code = EXIT_USAGE


class StudyError(UsageError):
    """A study.toml that is missing, malformed or inconsistent."""


class DataError(CscvaultError):
    """Input data that fails validation (findings were recorded)."""

    exit_code = EXIT_BAD_DATA


class AuthError(CscvaultError):
    """Wrong password, unknown user, or a role that does not allow the action."""

    exit_code = EXIT_AUTH


class PermissionDenied(AuthError):
    """The user is known but their role does not allow the action."""


class VaultStateError(CscvaultError):
    """The vault cannot be used as asked: not a vault, locked, in use, destroyed."""

    exit_code = EXIT_VAULT_STATE


class VaultInUse(VaultStateError):
    """Another process holds the vault."""


class TamperedError(VaultStateError):
    """Stored data failed an integrity check (AES-GCM tag, key slot binding, audit chain)."""


class VaultDestroyed(VaultStateError):
    """The vault was crypto-shredded at retention end."""


class StorageError(VaultStateError):
    """The file system refused a write: disk full, read-only directory, file too large."""
