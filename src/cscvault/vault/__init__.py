"""The encrypted vault: key slots, the encrypted DuckDB store, migrations."""

from cscvault.vault.store import ROLES, Credentials, User, Vault

__all__ = ["ROLES", "Credentials", "User", "Vault"]
