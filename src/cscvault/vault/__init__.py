"""The encrypted vault: key slots, the encrypted DuckDB store, migrations."""

from cscvault.roles import ROLES
from cscvault.vault.store import Credentials, User, Vault

__all__ = ["ROLES", "Credentials", "User", "Vault"]
