"""The output airlock: release requests, two-person approval, export of an approved bundle.

request (analyst) -> the gate (`gate.py`) refuses what must never leave -> the SDC checks
(`release_checks.py`) record pass/fail/review per output and the version that may leave -> the files and
their released versions are stored inside the vault -> approve or reject (a checker who is not the
requester) -> export (only approved releases): the released versions, an ACRO-format `results.json`, the
profile and SHA-256 checksums.

What a checker approves is exactly what is exported: the export writes the stored released bytes and
refuses if rebuilding the checks would give anything else. Audit entries carry ids, rule ids and counts,
never file contents, cell values or the free-text reasons and notes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cscvault.analysis.primary import delivery_set
from cscvault.analysis.samples import build_primary_sample
from cscvault.disclosure import release_checks as rc
from cscvault.disclosure.check import EarlierTable
from cscvault.disclosure.gate import (
    MAX_BYTES,
    RULE_FILE_TYPE,
    RULE_OVERSIZE,
    RULE_PDF_SOURCE,
    Refusal,
    RunFile,
    screen,
    screen_printed,
)
from cscvault.disclosure.profiles import get_profile
from cscvault.errors import DataError, PermissionDenied, TamperedError, UsageError, VaultStateError
from cscvault.vault import Vault

STATES = ("requested", "approved", "rejected", "exported")
REQUEST_ROLES = ("analyst",)
CHECK_ROLES = ("checker",)
READ_ROLES = ("admin", "analyst", "checker")
EXPORT_ROLES = ("admin", "analyst", "checker")
MAX_TEXT = 2000
_ID = re.compile(r"^REL-\d{4}-\d{4,}$")


@dataclass(frozen=True)
class Release:
    release_id: str
    state: str
    why: str
    requested_by: str
    requested_at: dt.datetime
    profile: str
    profile_version: str
    verdict: str
    outputs: int
    decided_by: str | None = None
    decided_at: dt.datetime | None = None
    decision_note: str | None = None
    exports: int = 0
    exported_at: dt.datetime | None = None
    exported_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "release_id": self.release_id,
            "state": self.state,
            "verdict": self.verdict,
            "why": self.why,
            "requested_by": self.requested_by,
            "requested_at": _iso(self.requested_at),
            "profile": self.profile,
            "profile_version": self.profile_version,
            "outputs": self.outputs,
            "decided_by": self.decided_by,
            "decided_at": _iso(self.decided_at),
            "decision_note": self.decision_note,
            "exports": self.exports,
            "exported_at": _iso(self.exported_at),
            "exported_by": self.exported_by,
        }


@dataclass(frozen=True)
class ReleaseOutput:
    position: int
    name: str
    kind: str
    sha256: str
    size: int
    verdict: str
    reasons: list[str]
    released_sha256: str | None
    checks: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def releasable(self) -> bool:
        return self.released_sha256 is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "name": self.name,
            "kind": self.kind,
            "sha256": self.sha256,
            "size": self.size,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "released_sha256": self.released_sha256,
            "checks": self.checks,
            "run_id": self.run_id,
            "meta": self.meta,
        }


@dataclass(frozen=True)
class ReleaseDetail:
    release: Release
    outputs: list[ReleaseOutput]
    subjects: int

    def to_json(self) -> dict[str, Any]:
        return {**self.release.to_json(), "subjects": self.subjects, "files": [o.to_json() for o in self.outputs]}


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _text(value: str, option: str) -> str:
    cleaned = " ".join((value or "").split())
    if not cleaned:
        raise UsageError(f"{option}: give a short reason")
    if len(cleaned) > MAX_TEXT:
        raise UsageError(f"{option}: at most {MAX_TEXT} characters")
    return cleaned


# -- request -----------------------------------------------------------------------------------------


RULE_NOT_RUN_OUTPUT = "not-a-run-output"
RULE_CHANGED = "changed-after-check"
_RUN_REF = re.compile(r"^([0-9a-f]{12}):(.+)$")


@dataclass(frozen=True)
class _Item:
    """One file of a request: a stored output of an analysis run (never an arbitrary file)."""

    name: str
    data: bytes
    run_id: str
    meta: dict[str, Any]


def _read_path(path: Path) -> bytes | None:
    """A named file's bytes (None when it is over the size limit: refused without being read)."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file, and not RUN:NAME of a stored run output")
    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        return path.read_bytes()
    except OSError:
        raise UsageError(f"{path}: cannot be read") from None


def _match_file(vault: Vault, name: str, data: bytes, run: str | None) -> tuple[_Item | None, Refusal | None]:
    """The stored run output a file on disk is a copy of; a refusal when it is none (or was changed)."""
    where, params = ("", []) if run is None else (" AND run_id = ?", [run])
    found = vault.con.execute(
        f"SELECT run_id, name FROM run_outputs WHERE sha256 = ?{where} ORDER BY created_at DESC, run_id",
        [_sha256(data), *params],
    ).fetchall()
    if found:
        return _stored_item(vault, str(found[0][0]), str(found[0][1])), None
    named = vault.con.execute(
        f"SELECT run_id FROM run_outputs WHERE name = ?{where} ORDER BY created_at DESC LIMIT 1", [name, *params]
    ).fetchone()
    if named:
        return None, Refusal(
            name, RULE_CHANGED, f"differs from the output of run {named[0]} of that name; request the stored output"
        )
    scope = f"run {run}" if run else "any analysis run in this vault"
    return None, Refusal(name, RULE_NOT_RUN_OUTPUT, f"not a stored output of {scope}")


def _stored_item(vault: Vault, run_id: str, name: str) -> _Item:
    from cscvault.vault.run_outputs import load_output

    stored, data = load_output(vault, run_id, name)  # verified against the audit chain
    return _Item(stored.name, data, run_id, stored.meta)


def _resolve(vault: Vault, items: Sequence[str | Path], run: str | None) -> tuple[list[_Item], list[Refusal]]:
    """Each requested item as a stored run output: RUN:NAME, NAME with --run, or a copy of one on disk.

    A file on disk that is not byte for byte a stored output (an arbitrary file, or one changed after the
    run stored and checked it) is refused; so is anything the gate refuses (row-level data, child keys)."""
    if not items:
        raise UsageError("release request: name at least one output (RUN:NAME, or NAME with --run)")
    out: list[_Item] = []
    refusals: list[Refusal] = []
    for item in items:
        text = str(item)
        path = Path(text)
        ref = _RUN_REF.match(text)
        if ref and not path.exists():
            out.append(_stored_item(vault, ref.group(1), ref.group(2)))
            continue
        if run is not None and not path.exists() and "/" not in text:
            out.append(_stored_item(vault, run, text))
            continue
        data = _read_path(path)
        if data is None:
            refusals.append(Refusal(path.name, RULE_OVERSIZE, f"larger than {MAX_BYTES // (1024 * 1024)} MB"))
            continue
        gated = screen(path.name, data)
        if gated is not None:
            refusals.append(gated)
            continue
        matched, refusal = _match_file(vault, path.name, data, run)
        if refusal is not None:
            refusals.append(refusal)
        elif matched is not None:
            out.append(matched)
    names = [i.name for i in out]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise UsageError(f"{duplicate}: named twice; a release needs distinct file names")
    return out, refusals


def _refuse(vault: Vault, refusals: list[Refusal], files: int) -> None:
    """Record the refusal (rule ids and counts only) and raise naming the first refused file."""
    with vault.transaction():
        vault.record(
            "release.refused",
            {"rules": sorted({r.rule for r in refusals})},
            {"files": files, "refused": len(refusals)},
        )
    first = refusals[0]
    more = f" (and {len(refusals) - 1} more refused file(s))" if len(refusals) > 1 else ""
    if first.rule in (RULE_FILE_TYPE, RULE_OVERSIZE, RULE_PDF_SOURCE):  # the request's shape, not its data
        raise UsageError(first.text() + more)
    raise DataError(first.text() + more)


def _earlier_tables(vault: Vault, names: Sequence[str]) -> dict[str, dict[str, bytes]]:
    """Released versions of same-named tables in earlier releases that were not rejected."""
    if not names:
        return {}
    marks = ", ".join("?" for _ in names)
    rows = vault.con.execute(
        "SELECT o.name, o.release_id, o.released FROM release_outputs o JOIN releases r USING (release_id) "
        f"WHERE r.state <> 'rejected' AND o.kind = 'table' AND o.released IS NOT NULL AND o.name IN ({marks}) "
        "ORDER BY r.requested_at, o.release_id",
        list(names),
    ).fetchall()
    out: dict[str, dict[str, bytes]] = {}
    for name, release_id, data in rows:
        out.setdefault(str(name), {})[str(release_id)] = bytes(data)
    return out


def published_tables(
    vault: Vault, items: Sequence[tuple[str, dict[str, Any]]], only: Sequence[str] | None = None
) -> tuple[list[EarlierTable], list[str]]:
    """The tables earlier releases published that bear on a release of `items` (name, meta), and their
    release ids (what the release check used; the export rebuilds from exactly those).

    Every table of each earlier release that holds a table of the same name, or of a name a new table
    links to. Releases not rejected count, whether approved, exported or still requested: a requested
    release may be approved after this one, and the later request is the one that must allow for the
    earlier (so whichever is approved first, neither exposes the other). Ordered by request time, then
    release id and position, so the joint check is deterministic. `only`: exactly these release ids."""
    names = {name for name, _ in items} | {
        str(link.get("other")) for _, meta in items for link in (meta or {}).get("links", []) if isinstance(link, dict)
    }
    if only is not None:
        if not only:
            return [], []
        marks = ", ".join("?" for _ in only)
        where, params = f"r.release_id IN ({marks})", list(only)
    else:
        where, params = "r.state <> 'rejected'", []
    rows = vault.con.execute(
        "SELECT o.release_id, o.name, o.content, o.released, o.meta FROM release_outputs o JOIN releases r "
        f"USING (release_id) WHERE {where} AND o.kind = 'table' AND o.released IS NOT NULL "
        "ORDER BY r.requested_at, o.release_id, o.position",
        params,
    ).fetchall()
    relevant = {str(r[0]) for r in rows if str(r[1]) in names}
    tables: list[EarlierTable] = []
    used: list[str] = []
    for release_id, name, content, released, meta in rows:
        if str(release_id) not in relevant:
            continue
        try:
            table = rc.earlier_table(
                f"{release_id}/{name}", str(name), bytes(content), bytes(released), json.loads(meta) if meta else {}
            )
        except (DataError, UsageError):
            continue  # an earlier table that never parsed published nothing checkable
        if table is not None:
            tables.append(table)
            if str(release_id) not in used:
                used.append(str(release_id))
    return tables, used


def _next_id(vault: Vault, now: dt.datetime) -> str:
    prefix = f"REL-{now.year}-"
    row = vault.con.execute(
        "SELECT max(CAST(substr(release_id, ?) AS INTEGER)) FROM releases WHERE release_id LIKE ?",
        [len(prefix) + 1, prefix + "%"],
    ).fetchone()
    return f"{prefix}{(int(row[0]) if row and row[0] is not None else 0) + 1:04d}"


def _subjects(vault: Vault, run_ids: set[str]) -> set[str]:
    """Children of the primary sample behind the runs whose outputs are in this release.

    Only when the run's delivery set is still the vault's (the sample rebuilt now is then the run's);
    otherwise nothing is recorded for that run.
    """
    if not run_ids:
        return set()
    current, _ = delivery_set(vault)
    marks = ", ".join("?" for _ in run_ids)
    matching = vault.con.execute(
        f"SELECT count(*) FROM runs WHERE run_id IN ({marks}) AND deliveries_sha256 = ?", [*sorted(run_ids), current]
    ).fetchone()
    if not matching or not matching[0]:
        return set()
    sample = build_primary_sample(vault.con, vault.study)
    return {str(k) for k in sample.analysed["child_key"].unique()}


def _outputs_digest(rows: Sequence[tuple[int, str, str, str | None]]) -> str:
    """One SHA-256 over the files of a release (position, name, requested and released SHA-256): recorded
    in the audit chain at request time and checked whenever the release is read."""
    text = "\n".join(f"{pos}  {name}  {sha}  {rel or '-'}" for pos, name, sha, rel in sorted(rows))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def request_release(vault: Vault, items: Sequence[str | Path], why: str, run: str | None = None) -> Release:
    """Gate, check and store a release of stored run outputs; returns it (state `requested`)."""
    vault.require_role(*REQUEST_ROLES)
    reason = _text(why, "--why")
    resolved, refusals = _resolve(vault, items, run)
    refusals += [r for r in (screen(i.name, i.data) for i in resolved) if r is not None]
    refusals += screen_printed([RunFile(i.name, i.data, i.run_id, i.meta) for i in resolved])
    if refusals:
        _refuse(vault, refusals, len(items))
    profile = get_profile(vault.study.disclosure_profile)
    earlier = _earlier_tables(vault, [i.name for i in resolved])
    published, used = published_tables(vault, [(i.name, i.meta) for i in resolved])
    checks = rc.check_outputs([rc.Requested(i.name, i.data, i.meta) for i in resolved], profile, earlier, published)
    for check in checks:
        if check.table is not None:
            check.checks["earlier_releases"] = used  # the export rebuilds the joint check from these
    rc.printed_verdicts(checks, [i.meta for i in resolved])
    subjects = _subjects(vault, {i.run_id for i in resolved})
    verdict = rc.worst([c.verdict for c in checks])
    now = dt.datetime.now(dt.UTC)
    shas = [
        (pos, i.name, _sha256(i.data), _sha256(c.released) if c.released is not None else None)
        for pos, (c, i) in enumerate(zip(checks, resolved, strict=True))
    ]
    with vault.transaction() as con:
        release_id = _next_id(vault, now)
        con.execute(
            "INSERT INTO releases (release_id, state, why, requested_by, requested_at, profile, profile_version, "
            "verdict) VALUES (?, 'requested', ?, ?, ?, ?, ?, ?)",
            [release_id, reason, vault.actor, now, profile.name, profile.version, verdict],
        )
        for pos, (check, item) in enumerate(zip(checks, resolved, strict=True)):
            con.execute(
                "INSERT INTO release_outputs (release_id, position, name, kind, sha256, size_bytes, content, verdict, "
                "reasons, released, released_sha256, checks, run_id, meta) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    release_id, pos, item.name, check.kind, shas[pos][2], len(item.data), item.data, check.verdict,
                    json.dumps(check.reasons), check.released, shas[pos][3], json.dumps(check.checks, default=str),
                    item.run_id, json.dumps(item.meta, sort_keys=True),
                ],
            )  # fmt: skip
        if subjects:
            con.executemany("INSERT INTO release_subjects VALUES (?, ?)", [[release_id, k] for k in sorted(subjects)])
        vault.record(
            "release.request",
            {
                "release": release_id,
                "profile": profile.name,
                "profile_version": profile.version,
                "runs": sorted({i.run_id for i in resolved}),
                "outputs_sha256": _outputs_digest(shas),
            },
            {
                "outputs": len(checks),
                "pass": sum(c.verdict == "pass" for c in checks),
                "review": sum(c.verdict == "review" for c in checks),
                "fail": sum(c.verdict == "fail" for c in checks),
                "subjects": len(subjects),
            },
        )
    return get_release(vault, release_id).release


def verify_stored(vault: Vault, release_id: str) -> None:
    """The stored files of a release are the ones requested and checked, or TamperedError (exit 5).

    Each file's bytes must match its checksum columns, and the columns the digest the audit chain recorded
    at request time (so changing a file and its checksum together is caught too)."""
    rows = vault.con.execute(
        "SELECT position, name, sha256, released_sha256, content, released FROM release_outputs "
        "WHERE release_id = ? ORDER BY position",
        [release_id],
    ).fetchall()
    for _pos, name, sha, rel_sha, content, released in rows:
        if _sha256(bytes(content)) != sha or (released is not None and _sha256(bytes(released)) != rel_sha):
            raise TamperedError(f"release {release_id}: stored file {name} does not match what was checked")
        if (released is None) != (rel_sha is None):
            raise TamperedError(f"release {release_id}: stored file {name} does not match what was checked")
    recorded = None
    for (objects,) in vault.con.execute(
        "SELECT objects FROM audit WHERE action = 'release.request' ORDER BY seq"
    ).fetchall():
        doc = json.loads(objects)
        if isinstance(doc, dict) and doc.get("release") == release_id:
            recorded = doc.get("outputs_sha256")
    if recorded is not None and recorded != _outputs_digest([(int(r[0]), str(r[1]), str(r[2]), r[3]) for r in rows]):
        raise TamperedError(f"release {release_id}: stored files differ from those recorded when it was requested")


# -- reading -----------------------------------------------------------------------------------------

_RELEASE_COLS = (
    "r.release_id, r.state, r.why, r.requested_by, r.requested_at, r.profile, r.profile_version, r.verdict, "
    "(SELECT count(*) FROM release_outputs o WHERE o.release_id = r.release_id), r.decided_by, r.decided_at, "
    "r.decision_note, r.exports, r.exported_at, r.exported_by"
)


def _release(row: Sequence[Any]) -> Release:
    return Release(
        release_id=str(row[0]),
        state=str(row[1]),
        why=str(row[2]),
        requested_by=str(row[3]),
        requested_at=row[4],
        profile=str(row[5]),
        profile_version=str(row[6]),
        verdict=str(row[7]),
        outputs=int(row[8]),
        decided_by=row[9],
        decided_at=row[10],
        decision_note=row[11],
        exports=int(row[12]),
        exported_at=row[13],
        exported_by=row[14],
    )


def list_releases(vault: Vault, state: str | None = None) -> list[Release]:
    vault.require_role(*READ_ROLES)
    if state is not None and state not in STATES:
        raise UsageError(f"--state: one of {', '.join(STATES)}")
    sql = f"SELECT {_RELEASE_COLS} FROM releases r"
    params: list[Any] = []
    if state is not None:
        sql += " WHERE r.state = ?"
        params.append(state)
    rows = vault.con.execute(sql + " ORDER BY r.requested_at, r.release_id", params).fetchall()
    return [_release(r) for r in rows]


def _load(vault: Vault, release_id: str) -> Release:
    if not _ID.match(release_id or ""):
        raise UsageError(f"{release_id!r} is not a release id (REL-YYYY-NNNN)")
    row = vault.con.execute(f"SELECT {_RELEASE_COLS} FROM releases r WHERE r.release_id = ?", [release_id]).fetchone()
    if row is None:
        raise UsageError(f"no release {release_id} in this vault")
    return _release(row)


def _outputs(vault: Vault, release_id: str) -> list[ReleaseOutput]:
    rows = vault.con.execute(
        "SELECT position, name, kind, sha256, size_bytes, verdict, reasons, released_sha256, checks, run_id, meta "
        "FROM release_outputs WHERE release_id = ? ORDER BY position",
        [release_id],
    ).fetchall()
    return [
        ReleaseOutput(int(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4]), str(r[5]), json.loads(r[6]), r[7],
                      json.loads(r[8]), r[9], json.loads(r[10]) if r[10] else {})
        for r in rows
    ]  # fmt: skip


def get_release(vault: Vault, release_id: str) -> ReleaseDetail:
    vault.require_role(*READ_ROLES)
    release = _load(vault, release_id)
    verify_stored(vault, release_id)  # a reviewer never sees a file other than the one checked
    row = vault.con.execute("SELECT count(*) FROM release_subjects WHERE release_id = ?", [release_id]).fetchone()
    return ReleaseDetail(release, _outputs(vault, release_id), int(row[0]) if row else 0)


@dataclass(frozen=True)
class ReleaseFile:
    """One file of a release as the checker reviews it: the requested bytes and the version that may leave."""

    output: ReleaseOutput
    content: bytes
    released: bytes | None


def get_file(vault: Vault, release_id: str, position: int) -> ReleaseFile:
    """One file of a release, verified (role admin, analyst or checker)."""
    detail = get_release(vault, release_id)
    match = [o for o in detail.outputs if o.position == position]
    if not match:
        raise UsageError(f"release {release_id} has no file {position}")
    row = vault.con.execute(
        "SELECT content, released FROM release_outputs WHERE release_id = ? AND position = ?", [release_id, position]
    ).fetchone()
    assert row is not None  # the output was just listed
    return ReleaseFile(match[0], bytes(row[0]), bytes(row[1]) if row[1] is not None else None)


# -- decisions ---------------------------------------------------------------------------------------


def _decidable(vault: Vault, release_id: str, verb: str) -> Release:
    vault.require_role(*CHECK_ROLES, *REQUEST_ROLES)
    release = _load(vault, release_id)
    # The two-person rule first, whatever the role: the requester hears why, not just that a role is missing.
    if release.requested_by == vault.actor:
        raise PermissionDenied(
            f"release {release_id}: user '{vault.actor}' requested it and may not {verb} it (two-person rule)"
        )
    vault.require_role(*CHECK_ROLES)
    if release.state != "requested":
        raise VaultStateError(f"release {release_id} is {release.state}; only a requested release can be {verb}d")
    return release


def _unopened(vault: Vault, release_id: str) -> int:
    """How many files of a release the current checker has not opened (release_review.open_file records)."""
    row = vault.con.execute(
        "SELECT count(*) FROM release_outputs o WHERE o.release_id = ? AND NOT EXISTS (SELECT 1 FROM "
        "release_file_opens f WHERE f.release_id = o.release_id AND f.position = o.position AND f.checker = ?)",
        [release_id, vault.actor],
    ).fetchone()
    return int(row[0]) if row else 0


def _record_file_decisions(con: Any, vault: Vault, release_id: str, decision: str, now: dt.datetime) -> None:
    """One decision row per file, with when the deciding checker opened it (NULL: decided without opening)."""
    con.execute(
        "INSERT INTO release_file_decisions (release_id, position, decision, decided_by, opened_at, decided_at) "
        "SELECT o.release_id, o.position, ?, ?, f.opened_at, ? FROM release_outputs o LEFT JOIN release_file_opens f "
        "ON f.release_id = o.release_id AND f.position = o.position AND f.checker = ? WHERE o.release_id = ?",
        [decision, vault.actor, now, vault.actor, release_id],
    )


def approve_release(vault: Vault, release_id: str, note: str = "", require_opened: bool = False) -> Release:
    """Approve (a checker other than the requester). Tables leave in their suppressed, rounded version;
    an output with no safe version (an unreadable table) blocks approval: reject and ask again.
    With `require_opened` (the console) it is refused until this checker has opened every file."""
    _decidable(vault, release_id, "approve")
    verify_stored(vault, release_id)
    if require_opened:
        missing = _unopened(vault, release_id)
        if missing:
            raise VaultStateError(f"release {release_id}: open every file before approving ({missing} not opened yet)")
    blocked = [o for o in _outputs(vault, release_id) if not o.releasable]
    if blocked:
        raise VaultStateError(
            f"release {release_id}: {blocked[0].name} has no releasable version ({blocked[0].verdict}); "
            "reject it instead"
        )
    cleaned = " ".join((note or "").split())[:MAX_TEXT] or None
    now = dt.datetime.now(dt.UTC)
    with vault.transaction() as con:
        con.execute(
            "UPDATE releases SET state = 'approved', decided_by = ?, decided_at = ?, decision_note = ? "
            "WHERE release_id = ?",
            [vault.actor, now, cleaned, release_id],
        )
        _record_file_decisions(con, vault, release_id, "approved", now)
        vault.record("release.approve", {"release": release_id}, {"outputs": len(_outputs(vault, release_id))})
    return _load(vault, release_id)


def reject_release(vault: Vault, release_id: str, reason: str) -> Release:
    """Reject (a checker other than the requester); the reason is kept with the release, not in the audit."""
    _decidable(vault, release_id, "reject")
    cleaned = _text(reason, "--reason")
    now = dt.datetime.now(dt.UTC)
    with vault.transaction() as con:
        con.execute(
            "UPDATE releases SET state = 'rejected', decided_by = ?, decided_at = ?, decision_note = ? "
            "WHERE release_id = ?",
            [vault.actor, now, cleaned, release_id],
        )
        _record_file_decisions(con, vault, release_id, "rejected", now)
        vault.record("release.reject", {"release": release_id}, {"outputs": len(_outputs(vault, release_id))})
    return _load(vault, release_id)
