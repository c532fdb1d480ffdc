"""The checker's review of a release, file by file.

Every file of a release can be opened by a checker (and by the analyst who requested it). A checker's first
opening of each file is recorded in the vault (`release_file_opens`, plus an audit entry holding ids only);
`approve_release(..., require_opened=True)` (the console's) is refused until the deciding checker has opened
every file, and each decision is recorded per file (`release_file_decisions`) with when it was opened.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cscvault.disclosure.release import CHECK_ROLES, REQUEST_ROLES, ReleaseFile, get_file, get_release
from cscvault.errors import PermissionDenied
from cscvault.vault import Vault

REVIEW_ROLES = (*CHECK_ROLES, *REQUEST_ROLES)


@dataclass(frozen=True)
class ReviewState:
    """The files of a release the current user has opened, and per file the decision recorded (if any)."""

    opened: frozenset[int]
    files: int
    decisions: dict[int, tuple[str, str, dt.datetime | None]]  # position -> (decision, by, opened at)

    @property
    def missing(self) -> int:
        return self.files - len(self.opened)


def _may_review(vault: Vault, release_id: str) -> None:
    """Checkers review any release; an analyst only their own request (an admin sees verdicts, not files)."""
    vault.require_role(*REVIEW_ROLES)
    if vault.role in CHECK_ROLES:
        return
    if get_release(vault, release_id).release.requested_by != vault.actor:
        raise PermissionDenied(
            f"user '{vault.actor}' may not open the files of release {release_id}: only checkers and its requester"
        )


def open_file(vault: Vault, release_id: str, position: int) -> ReleaseFile:
    """One verified file of a release for review; a checker's first opening of it is recorded."""
    _may_review(vault, release_id)
    file = get_file(vault, release_id, position)  # verified: a tampered stored file is exit 5
    if vault.role in CHECK_ROLES and position not in review_state(vault, release_id).opened:
        with vault.transaction() as con:
            con.execute(
                "INSERT INTO release_file_opens VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [release_id, position, vault.actor, dt.datetime.now(dt.UTC)],
            )
            vault.record("release.file_open", {"release": release_id, "position": position})
    return file


def review_state(vault: Vault, release_id: str) -> ReviewState:
    """What the current user has opened of a release (only a checker's openings are recorded)."""
    detail = get_release(vault, release_id)
    opened = vault.con.execute(
        "SELECT position FROM release_file_opens WHERE release_id = ? AND checker = ?", [release_id, vault.actor]
    ).fetchall()
    decided = vault.con.execute(
        "SELECT position, decision, decided_by, opened_at FROM release_file_decisions WHERE release_id = ?",
        [release_id],
    ).fetchall()
    return ReviewState(
        frozenset(int(r[0]) for r in opened),
        len(detail.outputs),
        {int(r[0]): (str(r[1]), str(r[2]), r[3]) for r in decided},
    )
