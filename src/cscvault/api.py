"""The public Python API. The CLI (`cli.py`) and the web console (`web/`) call only this module.

Every function that changes state checks the caller's role before doing any work and appends to the
audit chain in the same transaction as the change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cscvault.audit import AuditReport
from cscvault.errors import TamperedError
from cscvault.study import Study, load_study
from cscvault.study.notice import render_notice as _render_notice
from cscvault.vault import ROLES, Credentials, User, Vault

__all__ = [
    "ROLES",
    "Credentials",
    "InitResult",
    "add_user",
    "change_password",
    "init_vault",
    "list_users",
    "open_vault",
    "render_notice",
    "verify_audit",
]


@dataclass(frozen=True)
class InitResult:
    path: Path
    vault_id: str
    admin: str
    recovery_code: str  # shown once; never stored in clear


def init_vault(path: Path, password: str, admin: str = "admin", study_path: Path | None = None) -> InitResult:
    """Create a new encrypted vault with one admin user."""
    created, vault_id, recovery = Vault.create(Path(path), admin=admin, password=password, study_path=study_path)
    return InitResult(path=created, vault_id=vault_id, admin=admin, recovery_code=recovery)


@contextlib.contextmanager
def open_vault(path: Path, credentials: Credentials, memory_limit: str | None = None) -> Iterator[Vault]:
    """Open a vault for the duration of a `with` block."""
    vault = Vault.open(Path(path), credentials, memory_limit=memory_limit)
    try:
        yield vault
    finally:
        vault.close()


def add_user(path: Path, credentials: Credentials, name: str, role: str, password: str) -> None:
    with open_vault(path, credentials) as vault:
        vault.add_user(name, role, password)


def list_users(path: Path, credentials: Credentials) -> list[User]:
    with open_vault(path, credentials) as vault:
        vault.require_role("admin", "dpo")
        return vault.users()


def change_password(path: Path, credentials: Credentials, new_password: str, user: str | None = None) -> None:
    """Change `user`'s password (default: the caller's own)."""
    with open_vault(path, credentials) as vault:
        vault.change_password(user or vault.actor, new_password)


def verify_audit(path: Path, credentials: Credentials) -> AuditReport:
    """Recompute the audit chain. Raises nothing for a broken chain: the report lists the problems."""
    with open_vault(path, credentials) as vault:
        return vault.verify_audit()


def require_intact(report: AuditReport) -> None:
    if not report.ok:
        raise TamperedError(f"audit chain broken: {report.problems[0]}")


def study_for(study_path: Path | None) -> Study:
    return load_study(study_path)


def render_notice(study_path: Path | None = None, fmt: str = "md") -> str:
    """The privacy notice for a study, as Markdown or HTML."""
    return _render_notice(load_study(study_path), fmt)
