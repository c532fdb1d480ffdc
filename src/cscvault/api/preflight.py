"""Checks a command makes before it asks anyone for a password. Light on purpose: a mistyped path must be
answered at once, without loading the vault's storage stack."""

from __future__ import annotations

from pathlib import Path

from cscvault.errors import VaultStateError


def check_vault_dir(path: Path) -> Path:
    """Say 'no vault here' or 'destroyed' before anyone is asked for a password."""
    path = Path(path)
    if not path.is_dir():
        raise VaultStateError(f"{path}: no vault here")
    # Only now load the storage stack (DuckDB): there is a vault to look at.
    from cscvault.vault.keys import read_keyfile

    read_keyfile(path)
    return path


def vault_user_names(path: Path) -> set[str]:
    """The vault's user names, from its key file's slots (readable without a password; they name staff only)."""
    from cscvault.vault.keys import read_keyfile  # the storage stack, only once there is a vault

    return {slot.user for slot in read_keyfile(Path(path)).slots if slot.kind == "user"}
