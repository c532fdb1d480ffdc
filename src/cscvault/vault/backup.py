"""Encrypted backups of a vault, and restores that never bring an erased child back.

A backup is one age file (X25519, via pyrage) holding a tar of the vault's own files - keys.json,
the (already AES-256-GCM encrypted) database and the audit head - and a manifest: vault id, the
retention due date, the audit head and the SHA-256 of every file. It is encrypted to the vault's own
age recipient plus any `--recipient` given; keep an offline recipient whose identity is stored apart
from the vault, otherwise losing the vault also loses the means to read its backups.

Restoring puts the backed-up vault in place, then re-applies every erasure tombstone and restriction
recorded after the backup was taken, from the current vault (when it exists) and from every newer
backup of the same vault in the backup's folder, and deletes the erased children's rows again. Into a
new folder it must also prove that folder holds every later backup: the head the DPO kept outside
(`--expect`) must be reached by one of them (see `reaches_head`), else it refuses. A
backup refuses to restore on or after the study's deletion date. Passwords are those valid when the
backup was taken (a key slot is part of the snapshot).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyrage
from pyrage import x25519

from cscvault import audit, clock
from cscvault.errors import AuthError, TamperedError, UsageError, VaultStateError
from cscvault.fileio import fsync_dir, publish_directory, storage_error
from cscvault.vault import keys as keymod, migrations, subjects
from cscvault.vault.database import DB_FILE, TMP_DIR, connect, translate_errors
from cscvault.vault.identity import parse_recipient, vault_identity, vault_recipient
from cscvault.vault.store import LOCK_FILE, Credentials, Vault

BACKUP_FORMAT = "cscvault-backup"
BACKUP_VERSION = 1
MANIFEST = "manifest.json"
BACKUP_FILES = ("keys.json", DB_FILE, f"{DB_FILE}.wal", audit.HEAD_FILE)
SUFFIX = ".cscvault-backup.age"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    backup_id: str
    sha256: str
    size_bytes: int
    recipients: tuple[str, ...]
    delete_by: dt.date
    head: str = ""  # the vault's head after this backup: kept outside, a restore's `--expect` proves this backup


@dataclass
class RestoreResult:
    path: Path
    backup_id: str
    backup_created_at: str
    statuses_reapplied: int = 0
    rows_purged: dict[str, int] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    unreadable_backups: int = 0
    override_by: str | None = None  # the second person who accepted restoring without every later backup
    head_reached_by: str | None = None  # the source whose chain holds the head given with --expect
    register_rows: int = 0  # rows of the rights register and rectifications carried from the newest source
    replaced_vault_moved_to: Path | None = None


# -- writing ---------------------------------------------------------------------------------------------


def backup_vault(
    vault_dir: Path,
    credentials: Credentials,
    to_dir: Path,
    recipients: list[str] | None = None,
) -> BackupResult:
    """Write an age-encrypted snapshot of the vault into `to_dir` and register it inside the vault."""
    to_dir = Path(to_dir)
    extra = [parse_recipient(r) for r in recipients or []]
    if not to_dir.is_dir():
        raise UsageError(f"{to_dir}: backup folder does not exist")
    root = Path(vault_dir).resolve()
    if to_dir.resolve() == root or root in to_dir.resolve().parents:
        raise UsageError(f"{to_dir}: backups must be written outside the vault directory")
    with Vault.open(Path(vault_dir), credentials) as vault:
        vault.require_role("admin")
        own = vault_recipient(vault)
        all_recipients = tuple(dict.fromkeys([own, *(str(r) for r in extra)]))
        study = vault.study
        entries, head_hash = audit.last(vault.con)
        with translate_errors(vault.path):
            vault.con.execute("CHECKPOINT")  # fold the WAL into the database so the snapshot is one file
        backup_id = uuid.uuid4().hex
        now = dt.datetime.now(dt.UTC)
        files = [vault.path / n for n in BACKUP_FILES if (vault.path / n).is_file()]
        manifest: dict[str, Any] = {
            "format": BACKUP_FORMAT,
            "version": BACKUP_VERSION,
            "backup_id": backup_id,
            "vault_id": vault.vault_id,
            "created_at": now.isoformat(timespec="microseconds"),
            "created_by": vault.actor,
            "study_id": study.id,
            "final_report": study.retention.final_report.isoformat(),
            "delete_by": study.retention.delete_by.isoformat(),
            "audit_entries": entries,
            "audit_head": head_hash,
            "recipients": list(all_recipients),
            "files": [{"name": p.name, "size_bytes": p.stat().st_size, "sha256": _sha256(p)} for p in files],
        }
        name = f"cscvault-backup-{vault.vault_id[:8]}-{now:%Y%m%dT%H%M%SZ}-{backup_id[:8]}{SUFFIX}"
        final = to_dir / name
        _write_encrypted_tar(final, manifest, files, [parse_recipient(r) for r in all_recipients])
        try:
            digest, size = _sha256(final), final.stat().st_size
            with vault.transaction() as con:
                con.execute(
                    "INSERT INTO backups VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        backup_id,
                        name,
                        str(to_dir.resolve()),
                        digest,
                        size,
                        json.dumps(list(all_recipients)),
                        now,
                        vault.actor,
                        study.retention.delete_by,
                        entries,
                    ],
                )
                # Stamped with the manifest's time: a restore can then recompute this entry from the backup
                # file and its manifest, so a head kept right after a backup is reached by that backup.
                vault.record(
                    "vault.backup",
                    {"backup_id": backup_id, "sha256": digest},
                    {"files": len(files)},
                    at=str(manifest["created_at"]),
                )
        except BaseException:
            final.unlink(missing_ok=True)
            raise
        head = vault.head()
    return BackupResult(final, backup_id, digest, size, all_recipients, study.retention.delete_by, head)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_encrypted_tar(
    final: Path, manifest: dict[str, Any], files: list[Path], recips: list[x25519.Recipient]
) -> None:
    """tar (manifest first, then the files) -> age -> a temporary file beside `final` -> rename."""
    tmp_tar = final.with_name(f".{final.name}.tar-{os.getpid()}")
    tmp_age = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    try:
        with tarfile.open(tmp_tar, "w", format=tarfile.PAX_FORMAT) as tar:
            _add_bytes(tar, MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
            for p in files:
                tar.add(p, arcname=p.name, recursive=False)
        with tmp_tar.open("rb") as src, tmp_age.open("wb") as dst:
            pyrage.encrypt_io(src, dst, recips)
            dst.flush()
            os.fsync(dst.fileno())
        tmp_age.replace(final)
        fsync_dir(final.parent)
    except OSError as exc:
        tmp_age.unlink(missing_ok=True)
        raise storage_error(exc, final) from None
    finally:
        tmp_tar.unlink(missing_ok=True)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


# -- reading --------------------------------------------------------------------------------------------


def unpack_backup(path: Path, identities: list[x25519.Identity], into: Path) -> dict[str, Any]:
    """Decrypt and verify a backup, extracting its vault files into `into` (which must exist)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: backup file not found")
    with path.open("rb") as fh:
        if not fh.read(64).startswith(b"age-encryption.org/"):
            raise TamperedError(f"{path.name}: not an age-encrypted backup (damaged or wrong file)")
    tmp_tar = into / f".backup-{os.getpid()}.tar"
    try:
        try:
            with path.open("rb") as src, tmp_tar.open("wb") as dst:
                pyrage.decrypt_io(src, dst, identities)
        except pyrage.DecryptError as exc:
            if "no matching keys" in str(exc).lower():
                raise AuthError(f"{path.name}: not encrypted to this identity (wrong key)") from None
            raise TamperedError(
                f"{path.name}: damaged or altered after encryption (age authentication failed)"
            ) from None
        except OSError as exc:
            if exc.errno is None:  # pyrage reports a failed chunk tag mid-stream as a bare OSError
                raise TamperedError(
                    f"{path.name}: damaged or altered after encryption (age authentication failed)"
                ) from None
            raise storage_error(exc, into) from None
        manifest = _extract(path.name, tmp_tar, into)
    finally:
        tmp_tar.unlink(missing_ok=True)
    return manifest


def _extract(label: str, tar_path: Path, into: Path) -> dict[str, Any]:
    try:
        with tarfile.open(tar_path, "r:") as tar:
            members = tar.getmembers()
            names = [m.name for m in members]
            if not names or names[0] != MANIFEST or len(set(names)) != len(names):
                raise TamperedError(f"{label}: the backup has no manifest or repeats a file")
            fh = tar.extractfile(members[0])
            manifest = json.loads(fh.read().decode("utf-8")) if fh else None
            if not isinstance(manifest, dict) or manifest.get("format") != BACKUP_FORMAT:
                raise TamperedError(f"{label}: not a cscvault backup (manifest format)")
            listed = {str(f["name"]): f for f in manifest["files"]}
            for m in members[1:]:
                if m.name not in BACKUP_FILES or not m.isfile() or m.name not in listed:
                    raise TamperedError(f"{label}: unexpected file '{m.name}' in the backup")
                src = tar.extractfile(m)
                if src is None:
                    raise TamperedError(f"{label}: unreadable file '{m.name}' in the backup")
                target = into / m.name
                with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
                    shutil.copyfileobj(src, out)
                if _sha256(target) != listed[m.name]["sha256"]:
                    raise TamperedError(f"{label}: file '{m.name}' does not match the backup's manifest")
            missing = sorted(set(listed) - set(names))
            if missing:
                raise TamperedError(f"{label}: file '{missing[0]}' listed in the manifest is missing")
    except (tarfile.TarError, json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        raise TamperedError(f"{label}: the backup's contents are malformed") from None
    return manifest


def read_manifest(path: Path, identities: list[x25519.Identity]) -> dict[str, Any]:
    """Decrypt a backup and return its verified manifest (the files are checked and discarded)."""
    with tempfile.TemporaryDirectory(prefix=".cscvault-manifest-", dir=Path(path).parent) as tmp:
        return unpack_backup(path, identities, Path(tmp))


# -- restoring ------------------------------------------------------------------------------------------


def restore_backup(
    backup: Path,
    vault_dir: Path,
    credentials: Credentials,
    *,
    identity: x25519.Identity | None = None,
    replace: bool = False,
    today: dt.date | None = None,
    accept_data_loss: Credentials | None = None,
    expect: str | None = None,
) -> RestoreResult:
    """Restore `backup` as the vault at `vault_dir`, re-applying later erasures and restrictions.

    Into a new folder the later backups beside `backup` are the only record of later erasures, so the restore
    must prove it has them all: `expect` (a head printed by `cscvault audit head` and kept outside) must be an
    entry of the chain of one of those sources, else it refuses (VaultStateError) - unless a second person
    with the dpo role accepts the loss (`accept_data_loss`), which the restore's audit entry records.

    When a vault exists at `vault_dir` (only with `replace`), it is opened with `credentials` first:
    its tombstones, restrictions and backup register are carried into the restored vault, its age
    identity decrypts the backup unless `identity` is given, and it is moved aside (still encrypted)
    to a sibling `NAME.before-restore-TIMESTAMP` directory.
    """
    backup, vault_dir = Path(backup), Path(vault_dir)
    day = today or clock.today()
    current: _Current | None = None
    if expect is not None:
        audit.parse_head(expect)  # a malformed head is a usage error before anything is decrypted
    if vault_dir.exists() or vault_dir.is_symlink():
        keymod.read_keyfile(vault_dir)  # a destroyed vault says so here, and is never restored over
        if not replace:
            raise UsageError(f"{vault_dir}: a vault exists here; add --replace to restore over it")
        current = _read_current(vault_dir, credentials, expect)
    elif expect is None and accept_data_loss is None:
        raise VaultStateError(
            f"{vault_dir}: restoring into a new folder needs --expect HEAD (printed by `cscvault audit head`"
            " after the latest erasure, kept outside) to prove no later backup is missing (nothing was restored)"
        )
    identities = [i for i in (identity, current.identity if current else None) if i is not None]
    if not identities:
        raise UsageError("no identity to decrypt the backup: give --identity FILE (or restore over the live vault)")
    parent = vault_dir.resolve().parent
    if not parent.is_dir():
        raise UsageError(f"{parent}: parent directory does not exist")
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{vault_dir.name}.restoring-", dir=parent))
    except OSError as exc:
        raise storage_error(exc, parent) from None
    try:
        manifest = unpack_backup(backup, identities, staging)
        delete_by = dt.date.fromisoformat(str(manifest["delete_by"]))
        if day >= delete_by:
            raise VaultStateError(
                f"{backup.name}: the study's data were due for deletion on {delete_by.isoformat()};"
                " this backup must not be restored (destroy it)"
            )
        if current is not None and manifest["vault_id"] != current.vault_id:
            raise UsageError(f"{backup.name}: this backup is of another vault than {vault_dir}")
        (staging / TMP_DIR).mkdir(mode=0o700)
        (staging / LOCK_FILE).touch(mode=0o600)
        keys = current.keys if current else None
        aside: Path | None = None
        if current is not None:
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
            aside = vault_dir.with_name(f"{vault_dir.name}.before-restore-{stamp}")
        result = RestoreResult(vault_dir, str(manifest["backup_id"]), str(manifest["created_at"]))
        with _open_staging(staging, credentials, keys) as vault:
            if vault.study.retention.delete_by <= day:
                raise VaultStateError(
                    f"{backup.name}: the study's data were due for deletion on"
                    f" {vault.study.retention.delete_by.isoformat()}; this backup must not be restored"
                )
            statuses: set[tuple[str, str, Any, Any]] = set()
            backups_rows: list[tuple[Any, ...]] = []
            register: Register | None = None
            if current is not None:
                statuses |= current.statuses
                backups_rows += current.backups
                register = current.register
                result.sources.append("current vault")
            if expect is not None and reaches_head(vault.con, manifest, backup, expect):
                result.head_reached_by = backup.name
            newer, unreadable = _newer_backups_state(backup, manifest, identities, vault.keys.data_key, expect)
            for label, st, bk, reg, reached in newer:  # oldest first: the newest backup's register stands
                statuses |= st
                backups_rows += bk
                if current is None:
                    register = reg
                result.sources.append(label)
                if reached:
                    result.head_reached_by = label
            result.unreadable_backups = unreadable
            unproven = current is None and result.head_reached_by is None
            if (unreadable or unproven) and current is None and accept_data_loss is not None:
                result.override_by = _second_person(vault, accept_data_loss)
            elif unreadable and current is None:
                # Without the live vault, later backups are the only record of later erasures: one that cannot
                # be read may hold an erasure this restore would undo.
                raise VaultStateError(
                    f"{backup.parent}: {unreadable} other backup file(s) there cannot be read with the identity"
                    " given, so erasures made after this backup cannot be re-applied; give an --identity that"
                    " opens them (nothing was restored)"
                )
            elif unproven:
                # The chain of every source ends before the head the DPO kept: a backup taken after some erasure
                # is missing from this folder, and restoring would bring the erased child back.
                _, count, _ = audit.parse_head(str(expect))
                raise VaultStateError(
                    f"{backup.parent}: no backup there reaches the expected head (entry {count}); a later backup is"
                    " missing, so erasures made since could come back (nothing was restored)"
                )
            backups_rows.append(_register_row(backup, manifest))  # the restored-from backup must expire too
            if aside is not None:  # the replaced vault is one more encrypted copy that must go by the due date
                backups_rows.append(_aside_row(aside, vault_dir / DB_FILE, credentials.user, delete_by))
            _reapply(vault, statuses, backups_rows, result, register)
        (staging / LOCK_FILE).touch(mode=0o600)
        if aside is not None:
            vault_dir.rename(aside)
            result.replaced_vault_moved_to = aside
        publish_directory(staging, vault_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result


@dataclass
class _Current:
    vault_id: str
    keys: keymod.VaultKeys
    identity: x25519.Identity
    statuses: set[tuple[str, str, Any, Any]]
    backups: list[tuple[Any, ...]]
    register: Register


# The rights register and the rectification layer: carried whole from the newest source (the live vault, else
# the newest later backup), so no request is lost, no request id is issued twice, and every rectification made
# after the backup is applied again.
REGISTER_TABLES = ("requests", "request_events", "corrections", "complaints")
Register = dict[str, list[tuple[Any, ...]]]


def _register(con: duckdb.DuckDBPyConnection) -> Register:
    return {t: [tuple(r) for r in con.execute(f"SELECT * FROM main.{t}").fetchall()] for t in REGISTER_TABLES}


def _read_current(vault_dir: Path, credentials: Credentials, expect: str | None = None) -> _Current:
    with Vault.open(vault_dir, credentials) as vault:
        vault.require_role("admin")
        problems = audit.check_expected(vault.con, vault.vault_id, expect) if expect is not None else []
        if problems:  # the live vault is the source of later erasures: it must itself reach the kept head
            raise VaultStateError(f"{vault_dir}: {problems[0]} (nothing was restored)")
        return _Current(
            vault_id=vault.vault_id,
            keys=vault.keys,
            identity=vault_identity(vault),
            statuses=_statuses(vault.con),
            register=_register(vault.con),
            backups=_backup_rows(vault.con),
        )


def _statuses(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str, Any, Any]]:
    rows = con.execute("SELECT child_key, status, since, request_id FROM subject_status").fetchall()
    return {(str(r[0]), str(r[1]), r[2], r[3]) for r in rows}


def _backup_rows(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    try:
        return [tuple(r) for r in con.execute("SELECT * FROM backups").fetchall()]
    except duckdb.CatalogException:  # a snapshot taken before the backups register existed
        return []


@contextlib.contextmanager
def _open_staging(staging: Path, credentials: Credentials, keys: keymod.VaultKeys | None) -> Iterator[Vault]:
    """Open the unpacked snapshot: with the live vault's keys when we have them (same vault, same data
    key, whatever passwords changed since), else with the credentials valid when the backup was taken."""
    if keys is None:
        with Vault.open(staging, credentials) as vault:
            vault.require_role("admin")
            yield vault
        return
    keyfile = keymod.read_keyfile(staging)
    lock = (staging / LOCK_FILE).open("a")
    con = connect(staging, keys.data_key)
    try:
        with translate_errors(staging):
            pend = migrations.pending(con)
            if pend:
                con.execute("BEGIN TRANSACTION")
                for m in pend:
                    migrations.apply(con, m)
                con.execute("COMMIT")
            audit.reconcile_pending(con, staging, keys.derive("audit-head"), keyfile.vault_id)
            subjects.refresh_views(con)
        vault = Vault(staging, con, keys, keyfile, credentials.user, "admin", lock)
        yield vault
    finally:
        with contextlib.suppress(duckdb.Error):
            con.close()
        lock.close()


_Newer = tuple[str, set[tuple[str, str, Any, Any]], list[tuple[Any, ...]], Register, bool]


def _newer_backups_state(
    backup: Path,
    manifest: dict[str, Any],
    identities: list[x25519.Identity],
    data_key: bytes,
    expect: str | None = None,
) -> tuple[list[_Newer], int]:
    """Tombstones, backup registers, rights registers and whether the chain reaches `expect`, from later
    backups of the same vault in the same folder, oldest first."""
    found: list[tuple[str, _Newer]] = []
    unreadable = 0
    for other in sorted(backup.parent.glob(f"*{SUFFIX}")):
        if other.resolve() == backup.resolve():
            continue
        with tempfile.TemporaryDirectory(prefix=".cscvault-newer-", dir=backup.parent) as tmp:
            try:
                m = unpack_backup(other, identities, Path(tmp))
            except (AuthError, TamperedError):
                unreadable += 1
                continue
            if m.get("vault_id") != manifest["vault_id"] or str(m["created_at"]) <= str(manifest["created_at"]):
                continue
            (Path(tmp) / TMP_DIR).mkdir()
            con = connect(Path(tmp), data_key)
            try:
                with translate_errors(Path(tmp)):
                    reached = expect is not None and reaches_head(con, m, other, expect)
                    state = (other.name, _statuses(con), _backup_rows(con), _register(con), reached)
                    found.append((str(m["created_at"]), state))
            finally:
                con.close()
    found.sort(key=lambda f: f[0])
    return [state for _, state in found], unreadable


def reaches_head(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any], file: Path, expect: str) -> bool:
    """Whether the backup `file` (its snapshot open on `con`) proves the history up to the head `expect`.

    Either the snapshot's chain holds that entry, or the head is the backup's own `vault.backup` entry, written
    just after the snapshot: it is recomputed from the manifest and the file's SHA-256. The chain lives inside the
    AES-GCM database, so no one without the data key can make a copy that holds a head it did not reach; the
    recomputed entry binds the exact file, so a forged manifest cannot match.
    """
    if not audit.check_expected(con, str(manifest["vault_id"]), expect):
        return True
    want_id, count, head = audit.parse_head(expect)
    entries, last_hash = audit.last(con)
    if want_id != manifest["vault_id"] or count != entries + 1 or last_hash != manifest.get("audit_head"):
        return False
    own = audit.payload_hash(
        count,
        str(manifest["created_at"]),
        str(manifest.get("created_by", "")),
        "vault.backup",
        {"backup_id": str(manifest["backup_id"]), "sha256": _sha256(file)},
        {"files": len(manifest["files"])},
        last_hash,
    )
    return own == head


def _second_person(vault: Vault, second: Credentials) -> str:
    """The override needs a second, different person holding the dpo role in the restored vault (the first,
    who restores, is an admin): their password is checked against the snapshot's own key slot."""
    if second.user == vault.actor:
        raise AuthError("the override needs a second person, not the user restoring")
    keymod.unwrap(vault.keyfile, vault.keyfile.slot_for(second.user), second.secret)
    row = vault.con.execute("SELECT role FROM users WHERE name = ?", [second.user]).fetchone()
    if row is None or str(row[0]) != "dpo":
        raise AuthError(f"the override needs a user with the dpo role; '{second.user}' is not one")
    return second.user


def purge_erased(con: duckdb.DuckDBPyConnection, child_keys: list[str]) -> dict[str, int]:
    """Erase each child again (the rights module's own erasure), inside the caller's transaction."""
    total: dict[str, int] = {}
    for key in child_keys:
        for table, n in subjects.erase(con, key).items():
            if n:
                total[table] = total.get(table, 0) + n
    return total


def _register_row(backup: Path, manifest: dict[str, Any]) -> tuple[Any, ...]:
    """The `backups` row of a backup file, rebuilt from its manifest (its own snapshot predates it)."""
    return (
        str(manifest["backup_id"]),
        backup.name,
        str(backup.resolve().parent),
        _sha256(backup),
        backup.stat().st_size,
        json.dumps(manifest.get("recipients", [])),
        dt.datetime.fromisoformat(str(manifest["created_at"])),
        str(manifest.get("created_by", "")),
        dt.date.fromisoformat(str(manifest["delete_by"])),
        int(manifest.get("audit_entries", 0)),
    )


def _aside_row(aside: Path, db: Path, actor: str, delete_by: dt.date) -> tuple[Any, ...]:
    return (
        f"replaced-{uuid.uuid4().hex[:12]}",
        aside.name,
        str(aside.resolve().parent),
        _sha256(db),
        db.stat().st_size,
        "[]",
        dt.datetime.now(dt.UTC),
        actor,
        delete_by,
        0,
    )


def _reapply(
    vault: Vault,
    statuses: set[tuple[str, str, Any, Any]],
    backup_rows: list[tuple[Any, ...]],
    result: RestoreResult,
    register: Register | None = None,
) -> None:
    with vault.transaction() as con:
        if register is not None:
            for table, rows in register.items():
                con.execute(f"DELETE FROM main.{table}")
                if rows:
                    marks = ", ".join("?" * len(rows[0]))
                    con.executemany(f"INSERT INTO main.{table} VALUES ({marks})", [list(r) for r in rows])
            result.register_rows = sum(len(rows) for rows in register.values())
        have = {(k, s) for k, s, _, _ in _statuses(con)}
        added = 0
        for key, status, since, request_id in sorted(statuses, key=lambda r: (r[0], r[1])):
            if (key, status) not in have:
                con.execute("INSERT INTO subject_status VALUES (?, ?, ?, ?)", [key, status, since, request_id])
                have.add((key, status))
                added += 1
        erased = sorted({k for k, s in have if s == "erased"})
        result.rows_purged = purge_erased(con, erased)
        subjects.refresh_views(con)  # the carried corrections change what the views apply
        known = {str(r[0]) for r in con.execute("SELECT backup_id FROM backups").fetchall()}
        for row in backup_rows:
            if str(row[0]) not in known:
                con.execute("INSERT INTO backups VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", list(row))
                known.add(str(row[0]))
        result.statuses_reapplied = added
        objects: dict[str, Any] = {"backup_id": result.backup_id}
        if result.override_by:
            objects["override_by"] = result.override_by
        if result.head_reached_by:
            objects["head_reached_by"] = result.head_reached_by
        vault.record(
            "vault.restore",
            objects,
            {
                "statuses_reapplied": added,
                "rows_purged": sum(result.rows_purged.values()),
                "unreadable_backups": result.unreadable_backups,
            },
        )
