"""`retention status`: the study's retention schedule seen from one open vault, and what destruction would remove."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from cscvault.roles import ROLES
from cscvault.study.retention import Schedule, retention_warning, schedule
from cscvault.vault.inventory import registered_backups, table_counts, vault_files
from cscvault.vault.store import Vault


@dataclass
class VaultRetention:
    """`retention status` for one vault: the schedule and what destruction would remove."""

    schedule: Schedule
    vault_id: str
    study: str
    files: list[dict[str, Any]] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)
    key_slots: int = 0
    backups: list[dict[str, Any]] = field(default_factory=list)
    warning: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "vault_id": self.vault_id,
            "study": self.study,
            **self.schedule.as_dict(),
            "warning": self.warning,
            "will_destroy": {
                "key_slots": self.key_slots,
                "files": self.files,
                "tables": self.tables,
                "rows": sum(self.tables.values()),
            },
            "backups_to_expire": self.backups,
        }


def vault_status(vault: Vault, today: dt.date | None = None) -> VaultRetention:
    """The retention status of an open vault (any role may see it: it holds counts, not data)."""
    vault.require_role(*ROLES)
    study = vault.study
    s = schedule(study, today)
    files = [
        {"name": p.relative_to(vault.path).as_posix(), "size_bytes": p.stat().st_size} for p in vault_files(vault.path)
    ]
    return VaultRetention(
        schedule=s,
        vault_id=vault.vault_id,
        study=study.id,
        files=files,
        tables=table_counts(vault),
        key_slots=len(vault.keyfile.slots),
        backups=registered_backups(vault),
        warning=retention_warning(study, s.today),
    )
