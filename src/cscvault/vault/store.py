"""The vault: a directory holding the encrypted database, its key slots and its audit head.

    VAULT/keys.json           key slots (Argon2id + AES-256-GCM wrapped keys), no personal data
    VAULT/vault.duckdb        DuckDB database, AES-256-GCM (WAL too)
    VAULT/tmp/                DuckDB spill files, encrypted
    VAULT/audit.head          authenticated head of the audit chain
    VAULT/.lock               advisory lock: one process at a time

`Vault.create` builds everything in a hidden sibling directory and renames it into place only when
complete, so a failure (bad study, disk full, read-only parent) never leaves a half-made vault.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import duckdb

from cscvault import audit, notices
from cscvault.errors import (
    AuthError,
    PermissionDenied,
    StorageError,
    TamperedError,
    UsageError,
    VaultInUse,
    VaultStateError,
)
from cscvault.fileio import publish_directory, storage_error
from cscvault.roles import ROLES
from cscvault.study import Study, parse_study
from cscvault.study.load import study_sources
from cscvault.study.retention import retention_warning
from cscvault.vault import keys as keymod, migrations, subjects
from cscvault.vault.database import DB_FILE, TMP_DIR, connect, private_modes, translate_errors
from cscvault.vault.integrity import damaged, read_every_block
from cscvault.vault.pseudonyms import child_key

LOCK_FILE = ".lock"
SEALED_MARKER = "keys_sealed"  # in `meta`: this vault's key file carries a seal (so its removal is tampering)


@dataclass(frozen=True)
class Credentials:
    """Who is opening the vault: a user and password, or the recovery code."""

    user: str
    secret: str
    recovery: bool = False

    @classmethod
    def recovery_code(cls, code: str) -> Credentials:
        return cls(user=keymod.RECOVERY_USER, secret=keymod.normalise_recovery_code(code), recovery=True)


@dataclass(frozen=True)
class User:
    name: str
    role: str
    created_at: dt.datetime
    created_by: str


class Vault:
    """An open vault. Use as a context manager; all access goes through one DuckDB connection."""

    def __init__(
        self,
        path: Path,
        con: duckdb.DuckDBPyConnection,
        vault_keys: keymod.VaultKeys,
        keyfile: keymod.KeyFile,
        actor: str,
        role: str,
        lock: TextIO,
    ) -> None:
        self.path = path
        self.con = con
        self.keys = vault_keys
        self.keyfile = keyfile
        self.actor = actor
        self.role = role
        self._lock = lock
        self._in_tx = False
        self._study: Study | None = None
        self.seal_problem: str | None = None  # set only when opened `verifying`

    # -- lifecycle ----------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: Path,
        admin: str,
        password: str,
        study_path: Path | None = None,
    ) -> tuple[Path, str, str]:
        """Create a vault; returns (path, vault id, recovery code). The recovery code is shown once."""
        path = Path(path)
        keymod.check_password_strength(password)
        _check_user_name(admin)
        sources = study_sources(study_path)
        # validate before any write
        parse_study(sources.study, source=sources.name, dictionary_text=sources.dictionary, plan_text=sources.plan)
        if path.exists() or path.is_symlink():
            if (path / "keys.json").exists():
                raise UsageError(f"{path}: a vault already exists here")
            raise UsageError(f"{path}: already exists; choose a new directory for the vault")
        parent = path.parent.resolve()
        if not parent.is_dir():
            raise UsageError(f"{parent}: parent directory does not exist")
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.creating-", dir=parent))
        except OSError as exc:
            raise storage_error(exc, parent) from None
        try:
            vault_keys = keymod.new_keys()
            vault_id = os.urandom(16).hex()
            recovery = keymod.new_recovery_code()
            now = dt.datetime.now(dt.UTC)
            admin_slot = keymod.make_slot(vault_id, "user", admin, password, vault_keys)
            recovery_slot = keymod.make_slot(
                vault_id,
                "recovery",
                keymod.RECOVERY_USER,
                keymod.normalise_recovery_code(recovery),
                vault_keys,
            )
            keyfile = keymod.KeyFile(
                vault_id=vault_id,
                created=now.isoformat(timespec="seconds"),
                state="active",
                slots=(admin_slot, recovery_slot),
            )
            try:
                (staging / TMP_DIR).mkdir(mode=0o700)
                (staging / LOCK_FILE).touch(mode=0o600)
            except OSError as exc:
                raise storage_error(exc, path) from None
            keymod.write_keyfile(staging, keyfile)
            con = connect(staging, vault_keys.data_key)
            try:
                with translate_errors(path):
                    con.execute("BEGIN TRANSACTION")
                    for m in migrations.pending(con):
                        migrations.apply(con, m)
                    meta = {
                        "vault_id": vault_id,
                        "created_at": now.isoformat(timespec="seconds"),
                        "study_toml": sources.study,
                        "data_dictionary_toml": sources.dictionary,
                        "analysis_plan_toml": sources.plan,
                        "study_file_name": sources.name,
                    }
                    con.executemany("INSERT INTO meta VALUES (?, ?)", list(meta.items()))
                    con.execute(
                        "INSERT INTO users VALUES (?, 'admin', ?, ?, ?, ?)",
                        [admin, admin_slot.id, admin_slot.fingerprint(), now, admin],
                    )
                    con.execute("INSERT INTO meta VALUES (?, '1')", [SEALED_MARKER])
                    entry = audit.append(con, admin, "vault.init", {"vault_id": vault_id}, {"users": 1, "key_slots": 2})
                    audit.write_head(staging, vault_keys.derive("audit-head"), vault_id, entry.seq, entry.hash)
                    keymod.write_keyfile(staging, keymod.sealed(keyfile, vault_keys, entry.seq, entry.hash))
                    con.execute("COMMIT")
                    con.execute("CHECKPOINT")
            finally:
                con.close()
            publish_directory(staging, path)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return path, vault_id, recovery

    @classmethod
    def open(
        cls, path: Path, credentials: Credentials, memory_limit: str | None = None, *, verifying: bool = False
    ) -> Vault:
        """Open the vault. A key file whose seal disagrees with the database (a rollback, or files mixed from
        different moments) is refused with TamperedError, except `verifying`, which opens it read-as-is so that
        `audit verify` can name every problem (see `Vault.verify_audit`)."""
        path = Path(path)
        if not path.is_dir():
            raise VaultStateError(f"{path}: no vault here")
        keyfile = keymod.read_keyfile(path)
        if not (path / DB_FILE).is_file():
            raise TamperedError(f"{path}: the vault database file is missing")
        slot = keyfile.slot_for(credentials.user)
        if credentials.recovery != (slot.kind == "recovery"):
            raise AuthError(f"no user '{credentials.user}' in this vault (or wrong password)")
        vault_keys = keymod.unwrap(keyfile, slot, credentials.secret)
        lock = _acquire_lock(path)
        try:
            con = connect(path, vault_keys.data_key, memory_limit=memory_limit)
            try:
                with translate_errors(path):
                    pend = migrations.pending(con)
                    if pend:
                        con.execute("BEGIN TRANSACTION")
                        for m in pend:
                            migrations.apply(con, m)
                        con.execute("COMMIT")
                    audit.reconcile_pending(con, path, vault_keys.derive("audit-head"), keyfile.vault_id)
                    seal_problem = None
                    try:
                        keyfile = check_seal(con, path, keyfile, vault_keys)
                    except TamperedError as exc:
                        if not verifying:
                            raise
                        seal_problem = exc.message
                    # Views change only with the schema (migrations, new tables) and with corrections, which
                    # refresh them when recorded; rebuilding them on every open would cost every command.
                    if pend or not subjects.views_current(con):
                        subjects.refresh_views(con)
                    role = _role_for(con, slot, credentials)
            except BaseException:
                con.close()
                raise
        except BaseException:
            _release_lock(lock)
            raise
        vault = cls(path, con, vault_keys, keyfile, credentials.user, role, lock)
        vault.seal_problem = seal_problem

        try:
            with translate_errors(path):
                warning = retention_warning(vault.study)
        except BaseException:
            vault.close()
            raise
        if warning:
            notices.emit(warning)
        return vault

    def close(self) -> None:
        if self.con is not None:
            with contextlib.suppress(duckdb.Error):
                self.con.close()
        _release_lock(self._lock)

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- access ---------------------------------------------------------------------------------------

    @property
    def study(self) -> Study:
        """The study this vault was created for (its study.toml is stored inside the vault)."""
        if self._study is None:
            meta = dict(self.con.execute("SELECT key, value FROM meta").fetchall())
            self._study = parse_study(
                meta["study_toml"],
                source=meta.get("study_file_name", "study.toml"),
                dictionary_text=meta["data_dictionary_toml"],
                plan_text=meta["analysis_plan_toml"],
            )
        return self._study

    @property
    def vault_id(self) -> str:
        return self.keyfile.vault_id

    def child_key(self, la_code: str, la_child_id: str) -> str:
        """The pseudonym of an LA's child id (the same function ingest uses)."""
        return child_key(self.keys.pseudonym_key, la_code, la_child_id)

    def require_role(self, *roles: str) -> None:
        """Refuse before doing any work when the user's role is not one of `roles`."""
        if self.role not in roles:
            allowed = " or ".join(roles)
            raise PermissionDenied(f"user '{self.actor}' (role {self.role}) may not do this; it needs {allowed}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One all-or-nothing unit of work. Audit entries appended inside commit with it."""
        if self._in_tx:
            raise RuntimeError("transactions do not nest")
        if self.seal_problem:
            raise TamperedError(self.seal_problem)  # never seal over a rollback
        self._in_tx = True
        before = audit.last(self.con)
        head_key = self.keys.derive("audit-head")
        try:
            with translate_errors(self.path):
                self.con.execute("BEGIN TRANSACTION")
                try:
                    yield self.con
                    after = audit.last(self.con)
                    if after != before:
                        audit.write_head(self.path, head_key, self.vault_id, after[0], after[1], pending=True)
                    self.con.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(duckdb.Error):
                        self.con.execute("ROLLBACK")
                    (self.path / audit.PENDING_FILE).unlink(missing_ok=True)
                    raise
                private_modes(self.path)  # the WAL is created by the first write after an open
                if after != before:
                    (self.path / audit.PENDING_FILE).replace(self.path / audit.HEAD_FILE)
                    # Last, and only after the commit: a crash before this leaves the key file one commit
                    # behind, which the next open recognises (a prefix of the chain) and brings forward.
                    self.keyfile = keymod.sealed(self.keyfile, self.keys, after[0], after[1])
                    keymod.write_keyfile(self.path, self.keyfile)
        finally:
            self._in_tx = False

    def record(
        self,
        action: str,
        objects: dict[str, Any] | None = None,
        counts: dict[str, int] | None = None,
        at: str | None = None,
    ) -> None:
        """Append an audit entry; must be called inside `transaction()`."""
        if not self._in_tx:
            raise RuntimeError("audit entries are written inside a transaction")
        audit.append(self.con, self.actor, action, objects, counts, at)

    def verify_audit(self, expect: str | None = None) -> audit.AuditReport:
        """The audit chain against the authenticated head and the key file's seal, after reading every block of
        the database (damage anywhere raises TamperedError); with `expect`, also against a head kept outside."""
        try:
            read_every_block(self.con)
        except duckdb.Error:
            raise damaged(self.path) from None
        with translate_errors(self.path):
            report = audit.verify(self.con, self.path, self.keys.derive("audit-head"), self.vault_id)
            if self.seal_problem and report.ok:  # the chain's own problems already explain a disagreeing seal
                report.problems.append(self.seal_problem)
            if expect is not None:
                report.problems += audit.check_expected(self.con, self.vault_id, expect)
        return report

    def head(self) -> str:
        """The current head as one token to keep outside the vault: `audit verify --expect` checks against it."""
        count, head = audit.last(self.con)
        return audit.format_head(self.vault_id, count, head)

    # -- users ----------------------------------------------------------------------------------------

    def users(self) -> list[User]:
        rows = self.con.execute("SELECT name, role, created_at, created_by FROM users ORDER BY name").fetchall()
        return [User(str(r[0]), str(r[1]), r[2], str(r[3])) for r in rows]

    def add_user(self, name: str, role: str, password: str) -> None:
        self.require_role("admin")
        _check_user_name(name)
        if role not in ROLES:
            raise UsageError(f"unknown role '{role}' (roles: {', '.join(ROLES)})")
        keymod.check_password_strength(password)
        slot = keymod.make_slot(self.vault_id, "user", name, password, self.keys)
        new_keyfile = keymod.add_slot(self.keyfile, slot)
        with self._rewrapping(new_keyfile) as con:
            con.execute(
                "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)",
                [name, role, slot.id, slot.fingerprint(), dt.datetime.now(dt.UTC), self.actor],
            )
            self.record("user.add", {"user": name, "role": role})

    def change_password(self, name: str, new_password: str) -> None:
        """Rewrap the keys under a new password. Users change their own; admins (or the recovery code)
        may reset anyone's. The data are not re-encrypted."""
        if name != self.actor:
            self.require_role("admin")
        keymod.check_password_strength(new_password)
        old = self.keyfile.slot_for(name)
        if old.kind != "user":
            raise UsageError("the recovery code cannot be changed with passwd")
        slot = keymod.make_slot(self.vault_id, "user", name, new_password, self.keys, slot_id=old.id)
        with self._rewrapping(keymod.replace_slot(self.keyfile, slot)) as con:
            con.execute("UPDATE users SET slot_fingerprint = ? WHERE name = ?", [slot.fingerprint(), name])
            self.record("user.passwd", {"user": name})

    @contextlib.contextmanager
    def _rewrapping(self, new_keyfile: keymod.KeyFile) -> Iterator[duckdb.DuckDBPyConnection]:
        """A transaction that also replaces keys.json: the file is written last, just before the commit,
        and put back if the commit fails, so the slots and the users table never disagree."""
        old_keyfile = self.keyfile
        try:
            with self.transaction() as con:
                yield con
                keymod.write_keyfile(self.path, new_keyfile)
                self.keyfile = new_keyfile  # the commit then seals this one
        except BaseException:
            self.keyfile = old_keyfile
            with contextlib.suppress(Exception):
                keymod.write_keyfile(self.path, old_keyfile)
            raise


def check_seal(
    con: duckdb.DuckDBPyConnection, path: Path, keyfile: keymod.KeyFile, keys: keymod.VaultKeys
) -> keymod.KeyFile:
    """The key file's seal must name an entry of the database's audit chain: the last one, or (after a crash
    between the commit and the key file's rewrite) an earlier one, which is then brought forward. A seal ahead
    of the database, or naming another chain, means files from different moments: TamperedError."""
    count, head = audit.last(con)
    seal = keymod.seal_of(keyfile, keys)
    if seal is None:
        marked = con.execute("SELECT 1 FROM meta WHERE key = ?", [SEALED_MARKER]).fetchone()
        if marked is not None:
            raise TamperedError(f"{path}: keys.json lost its record of the latest commit (an older or edited copy)")
        # A vault made before seals existed: mark it, so that a seal removed later is noticed.
        con.execute("BEGIN TRANSACTION")
        con.execute("INSERT INTO meta VALUES (?, '1')", [SEALED_MARKER])
        con.execute("COMMIT")
    else:
        sealed_count, sealed_head = seal
        if sealed_count > count:
            raise TamperedError(
                f"{path}: the database and audit head are older than keys.json (entry {count} of {sealed_count}):"
                " a rollback, or files from different moments"
            )
        row = con.execute("SELECT hash FROM audit WHERE seq = ?", [sealed_count]).fetchone()
        if row is None or str(row[0]) != sealed_head:
            raise TamperedError(f"{path}: keys.json and the database record different histories (files were mixed)")
        if sealed_count == count:
            return keyfile
    fresh = keymod.sealed(keyfile, keys, count, head)
    keymod.write_keyfile(path, fresh)
    return fresh


def _check_user_name(name: str) -> None:
    if not name or len(name) > 64 or not all(c.isalnum() or c in "._-" for c in name) or name[0] in ".-":
        raise UsageError("user names are 1-64 letters, digits, '.', '_' or '-'")
    if name == keymod.RECOVERY_USER:
        raise UsageError(f"'{keymod.RECOVERY_USER}' is reserved")


def _role_for(con: duckdb.DuckDBPyConnection, slot: keymod.Slot, credentials: Credentials) -> str:
    """The role comes from the encrypted database, and only if the slot used is the one it pins."""
    if credentials.recovery:
        return "admin"  # the recovery code exists to regain administration of the vault
    row = con.execute("SELECT role, slot_id, slot_fingerprint FROM users WHERE name = ?", [slot.user]).fetchone()
    if row is None:
        raise TamperedError(f"user '{slot.user}' has a key slot but no account in the database")
    role, slot_id, fingerprint = str(row[0]), str(row[1]), str(row[2])
    if slot_id != slot.id or fingerprint != slot.fingerprint():
        raise TamperedError(f"the key slot of '{slot.user}' in keys.json does not match the vault's record")
    return role


def _acquire_lock(path: Path) -> TextIO:
    try:
        handle = (path / LOCK_FILE).open("a")
    except OSError as exc:
        raise storage_error(exc, path / LOCK_FILE) from None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise VaultInUse(f"{path}: vault in use by another process") from None
    except OSError as exc:
        handle.close()
        raise StorageError(f"{path}: cannot lock the vault ({exc.strerror})") from None
    return handle


def _release_lock(handle: TextIO) -> None:
    with contextlib.suppress(OSError):
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    with contextlib.suppress(OSError):
        handle.close()
