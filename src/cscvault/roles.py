"""The vault's roles. Who may do what is checked where each operation runs (`Vault.require_role`); this module
only names them, so the front ends can list them without loading the vault."""

ROLES = ("admin", "analyst", "checker", "dpo")
