"""The hash-chained audit log.

Every state-changing API call appends an entry: time, actor, action, object ids and counts. Entries
never carry a child-level value: callers pass request ids, delivery hashes, user names and counts.

Each entry's hash covers its fields and the previous entry's hash. The latest (count, hash) is also
kept outside the table, in `audit.head`, authenticated with a key derived from the vault's data key,
so deleting the last entries (truncation) is detected too. The head is written as `audit.head.pending`
before the database commits and promoted after, so a crash between the two is recognised and repaired
on the next open instead of being mistaken for tampering.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from cscvault.errors import TamperedError, UsageError
from cscvault.fileio import write_atomic

GENESIS = "0" * 64
HEAD_FILE = "audit.head"
PENDING_FILE = "audit.head.pending"

# Object ids and counts are identifiers of the system's own objects. Keys must look like identifiers,
# and values must be numbers or short tokens, which keeps free text (and child-level values) out.
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_.:@+\-]{0,128}$")


@dataclass(frozen=True)
class Entry:
    seq: int
    at: str
    actor: str
    action: str
    objects: str  # canonical JSON
    counts: str  # canonical JSON
    prev_hash: str
    hash: str


@dataclass
class AuditReport:
    entries: int
    head_entries: int | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _canonical(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def entry_hash(seq: int, at: str, actor: str, action: str, objects: str, counts: str, prev_hash: str) -> str:
    material = "\x1f".join([str(seq), at, actor, action, objects, counts, prev_hash])
    return hashlib.sha256(material.encode()).hexdigest()


def _check_payload(action: str, objects: dict[str, Any], counts: dict[str, int]) -> None:
    if not _KEY.match(action.replace(".", "_")):
        raise ValueError("audit action must be a dotted identifier")
    for k, v in objects.items():
        if not _KEY.match(k):
            raise ValueError("audit object keys must be identifiers")
        values = v if isinstance(v, list) else [v]
        for item in values:
            if isinstance(item, bool) or not isinstance(item, (str, int)):
                raise ValueError("audit object ids must be strings or integers")
            if isinstance(item, str) and not _TOKEN.match(item):
                raise ValueError("audit object ids must be short tokens, not free text")
    for k, n in counts.items():
        if not _KEY.match(k) or isinstance(n, bool) or not isinstance(n, int):
            raise ValueError("audit counts must map identifiers to integers")


def last(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    row = con.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


def append(
    con: duckdb.DuckDBPyConnection,
    actor: str,
    action: str,
    objects: dict[str, Any] | None = None,
    counts: dict[str, int] | None = None,
    at: str | None = None,
) -> Entry:
    """Append one entry inside the caller's transaction (`at`: a time already recorded elsewhere, e.g. in a
    backup's manifest, so the entry can be recomputed from that record)."""
    objects = objects or {}
    counts = counts or {}
    _check_payload(action, objects, counts)
    seq, prev = last(con)
    seq += 1
    at = at or dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    obj, cnt = _canonical(objects), _canonical(counts)
    digest = entry_hash(seq, at, actor, action, obj, cnt, prev)
    con.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [seq, at, actor, action, obj, cnt, prev, digest])
    return Entry(seq, at, actor, action, obj, cnt, prev, digest)


# -- the authenticated head ------------------------------------------------------------------------


def _head_mac(key: bytes, vault_id: str, count: int, head: str) -> str:
    return hmac.new(key, f"{vault_id}:{count}:{head}".encode(), hashlib.sha256).hexdigest()


def write_head(vault_dir: Path, key: bytes, vault_id: str, count: int, head: str, pending: bool = False) -> None:
    doc = {"count": count, "hash": head, "mac": _head_mac(key, vault_id, count, head)}
    write_atomic(vault_dir / (PENDING_FILE if pending else HEAD_FILE), (json.dumps(doc) + "\n").encode())


def read_head(vault_dir: Path, key: bytes, vault_id: str, name: str = HEAD_FILE) -> tuple[int, str] | None:
    """The authenticated (count, hash), or None when the file is absent. A bad MAC is tampering."""
    path = vault_dir / name
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        count, head, mac = int(doc["count"]), str(doc["hash"]), str(doc["mac"])
    except (OSError, ValueError, KeyError, TypeError):
        raise TamperedError(f"{path}: the audit head is unreadable") from None
    if not hmac.compare_digest(mac, _head_mac(key, vault_id, count, head)):
        raise TamperedError(f"{path}: the audit head failed its authentication check")
    return count, head


def reconcile_pending(con: duckdb.DuckDBPyConnection, vault_dir: Path, key: bytes, vault_id: str) -> None:
    """Finish or discard a head update interrupted by a crash (see module docstring)."""
    pending_path = vault_dir / PENDING_FILE
    if not pending_path.exists():
        return
    pending = read_head(vault_dir, key, vault_id, PENDING_FILE)
    if pending is not None and last(con) == pending:
        pending_path.replace(vault_dir / HEAD_FILE)  # the commit happened: promote
    else:
        pending_path.unlink()  # the commit did not happen: the old head stands


def verify(con: duckdb.DuckDBPyConnection, vault_dir: Path, key: bytes, vault_id: str) -> AuditReport:
    """Recompute the chain and compare it with the authenticated head; name every bad entry."""
    rows = con.execute(
        "SELECT seq, occurred_at, actor, action, objects, counts, prev_hash, hash FROM audit ORDER BY seq, hash"
    ).fetchall()
    try:
        head = read_head(vault_dir, key, vault_id)
    except TamperedError as exc:
        return AuditReport(entries=len(rows), head_entries=None, problems=[str(exc)])
    report = AuditReport(entries=len(rows), head_entries=head[0] if head else None)
    if head is None:
        report.problems.append("the authenticated audit head (audit.head) is missing")
    prev_hash = GENESIS
    expected = 1
    for row in rows:
        e = Entry(int(row[0]), *(str(x) for x in row[1:]))
        if e.seq != expected:
            if e.seq > expected:
                report.problems.append(f"entries {expected}..{e.seq - 1} are missing (deleted)")
            else:
                report.problems.append(f"entry {e.seq} appears more than once (duplicated or reordered)")
        recomputed = entry_hash(e.seq, e.at, e.actor, e.action, e.objects, e.counts, e.prev_hash)
        if recomputed != e.hash:
            report.problems.append(f"entry {e.seq} ({e.action}) was edited: its hash does not match its content")
        elif e.prev_hash != prev_hash:
            report.problems.append(
                f"entry {e.seq} ({e.action}) does not follow entry {e.seq - 1}: "
                "entries were deleted, inserted or reordered"
            )
        prev_hash = e.hash
        expected = e.seq + 1
    if head is not None:
        count, head_hash = head
        if len(rows) < count:
            report.problems.append(
                f"the chain was truncated: it ends at entry {len(rows)} but the head records {count} entries"
            )
        elif len(rows) > count:
            report.problems.append(f"entries after {count} were added outside cscvault (the head records {count})")
        elif rows and prev_hash != head_hash:
            report.problems.append(f"entry {count} does not match the authenticated head (replaced)")
    return report


def entries(con: duckdb.DuckDBPyConnection, limit: int = 100, offset: int = 0) -> list[Entry]:
    rows = con.execute(
        "SELECT seq, occurred_at, actor, action, objects, counts, prev_hash, hash FROM audit "
        "ORDER BY seq DESC LIMIT ? OFFSET ?",
        [limit, offset],
    ).fetchall()
    return [Entry(int(r[0]), *(str(x) for x in r[1:])) for r in rows]


# -- a head kept outside the vault ------------------------------------------------------------------------


def payload_hash(
    seq: int, at: str, actor: str, action: str, objects: dict[str, Any], counts: dict[str, int], prev_hash: str
) -> str:
    """The hash an entry with this payload has: recomputes an entry that a copy does not itself hold."""
    return entry_hash(seq, at, actor, action, _canonical(objects), _canonical(counts), prev_hash)


def parse_head(expected: str) -> tuple[str, int, str]:
    """(vault id, entry count, hash) of a head printed by `cscvault audit head`."""
    parts = expected.strip().split(":")
    if len(parts) != 3 or not parts[1].isdigit() or not re.fullmatch(r"[0-9a-f]{64}", parts[2]):
        raise UsageError("--expect takes a head printed by `cscvault audit head` (VAULT_ID:COUNT:HASH)")
    return parts[0], int(parts[1]), parts[2]


def format_head(vault_id: str, count: int, head: str) -> str:
    return f"{vault_id}:{count}:{head}"


def check_expected(con: duckdb.DuckDBPyConnection, vault_id: str, expected: str) -> list[str]:
    """Problems when the chain does not contain the head a DPO kept outside (printed by `audit head`): the
    vault is then another vault, or an older or different copy of this one (a whole-directory rollback)."""
    want_id, count, head = parse_head(expected)
    if want_id != vault_id:
        return [f"this is vault {vault_id}, not the vault {want_id} of the expected head"]
    row = con.execute("SELECT hash FROM audit WHERE seq = ?", [count]).fetchone()
    if row is None:
        have = last(con)[0]
        return [f"the chain ends at entry {have}, before the expected head's entry {count}: an older copy (rollback)"]
    if str(row[0]) != head:
        return [f"entry {count} differs from the expected head: another history (the vault was replaced)"]
    return []
