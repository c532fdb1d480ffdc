"""Secure destruction at retention end: crypto-shred the vault, then sign a deletion certificate.

The data are encrypted under a data key that exists only wrapped in the key slots of keys.json, so
destroying the slots makes every copy of the database unreadable (crypto-shredding). The files are
also overwritten with random bytes before they are removed; on SSDs and copy-on-write file systems an
overwrite may not reach the old blocks, which is why the key destruction, not the overwrite, is the
guarantee. keys.json is left behind holding only the vault id and `state: destroyed`, so every later
command says "destroyed" with the date instead of "not a vault".

Destruction needs two people (one `dpo`, one `admin`), is refused before the study's deletion date
unless an early reason is given (it is written into the certificate), and ends with a certificate
signed by an Ed25519 key kept outside the vault. The certificate names files, hashes, counts, staff
accounts, backups and every exported release (what left, where and when); it holds no child-level data.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cscvault import __version__, audit
from cscvault.errors import AuthError, PermissionDenied, TamperedError, UsageError, VaultDestroyed
from cscvault.fileio import fsync_dir, storage_error, write_atomic
from cscvault.study.retention import schedule
from cscvault.vault import inventory, keys as keymod
from cscvault.vault.store import Credentials, Vault

CERT_FORMAT = "cscvault-deletion-certificate"
CERT_VERSION = 1
MAX_REASON = 500
_CHUNK = 1 << 20

METHOD = (
    "crypto-shred: every key slot in keys.json overwritten with random bytes and removed, so the data key "
    "is gone; then the database, its write-ahead log, temporary files and the audit head each overwritten "
    "with random bytes, flushed to disk and removed"
)


@dataclass(frozen=True)
class DestructionResult:
    certificate_path: Path
    certificate: dict[str, Any]
    public_key_path: Path
    key_id: str


# -- the signing key (kept outside the vault) -------------------------------------------------------------


def default_signing_key_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "cscvault" / "deletion-signing-key.pem"


def public_key_path(signing_key: Path) -> Path:
    return signing_key.with_name(signing_key.name + ".pub")


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """Load the Ed25519 signing key at `path` (PEM), generating it (mode 0600) and `PATH.pub` on first use."""
    path = Path(path).expanduser()
    if path.exists():
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError):
            raise UsageError(f"{path}: not a readable unencrypted PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise UsageError(f"{path}: the signing key must be an Ed25519 key")
        return key
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise storage_error(exc, path.parent) from None
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    write_atomic(path, pem, mode=0o600)
    write_atomic(public_key_path(path), public_pem(key.public_key()), mode=0o644)
    return key


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(source: Ed25519PublicKey | bytes | str | Path) -> Ed25519PublicKey:
    """A public key from a key object, PEM bytes, raw 32 bytes, a base64 string or a PEM file path."""
    if isinstance(source, Ed25519PublicKey):
        return source
    data: bytes
    if isinstance(source, Path) or (isinstance(source, str) and Path(source).is_file()):
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise UsageError(f"{source}: cannot read the public key ({exc.strerror})") from None
    elif isinstance(source, str):
        try:
            data = base64.b64decode(source.strip(), validate=True)
        except ValueError:
            raise UsageError("public key: not a PEM file or base64 Ed25519 key") from None
    else:
        data = source
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
            if not isinstance(key, Ed25519PublicKey):
                raise UsageError("public key: not an Ed25519 key")
            return key
        return Ed25519PublicKey.from_public_bytes(data)
    except ValueError:
        raise UsageError("public key: not a PEM file or raw Ed25519 key") from None


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign_certificate(body: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    public = key.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "certificate": body,
        "signature": {
            "algorithm": "Ed25519",
            "signed": "canonical JSON of 'certificate' (sorted keys, no spaces, ASCII)",
            "key_id": key_id(public),
            "public_key": base64.b64encode(raw).decode(),
            "value": base64.b64encode(key.sign(_canonical(body))).decode(),
        },
    }


def verify_certificate(path: Path | str, public_key: Ed25519PublicKey | bytes | str | Path) -> dict[str, Any]:
    """Check a deletion certificate against the signer's public key; return its body or raise TamperedError.

    The key embedded in the certificate is only a hint: trust comes from the key you pass in.
    """
    path = Path(path)
    expected = load_public_key(public_key)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        body, sig = doc["certificate"], doc["signature"]
        value = base64.b64decode(sig["value"], validate=True)
        if sig.get("algorithm") != "Ed25519" or not isinstance(body, dict):
            raise ValueError
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the certificate ({exc.strerror})") from None
    except (ValueError, KeyError, TypeError):
        raise TamperedError(f"{path}: not a cscvault deletion certificate (malformed)") from None
    if body.get("format") != CERT_FORMAT:
        raise TamperedError(f"{path}: not a cscvault deletion certificate (format)")
    if sig.get("key_id") != key_id(expected):
        raise TamperedError(f"{path}: signed by key {sig.get('key_id')}, not by the given key {key_id(expected)}")
    try:
        expected.verify(value, _canonical(body))
    except InvalidSignature:
        raise TamperedError(f"{path}: the certificate's signature does not verify (edited after signing)") from None
    return dict(body)


# -- shredding ------------------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def overwrite(path: Path) -> None:
    """Overwrite a regular file's bytes in place with random data and flush them (symlinks are not followed)."""
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
    try:
        remaining = os.fstat(fd).st_size
        while remaining > 0:
            n = min(_CHUNK, remaining)
            os.write(fd, os.urandom(n))
            remaining -= n
        os.fsync(fd)
    finally:
        os.close(fd)


def shred(path: Path) -> None:
    """Overwrite then remove one file."""
    try:
        if not path.is_symlink():
            overwrite(path)
        path.unlink()
    except OSError as exc:
        raise storage_error(exc, path) from None


# -- destruction ------------------------------------------------------------------------------------------


def _check_second_user(vault: Vault, second: Credentials) -> str:
    """Authenticate the second person against their own key slot; return their role."""
    if second.recovery:
        raise UsageError("destruction needs two named users; the recovery code cannot be one of them")
    if second.user == vault.actor:
        raise UsageError("destruction needs two different users; --second-user names the same user")
    slot = vault.keyfile.slot_for(second.user)
    if slot.kind != "user":
        raise AuthError(f"no user '{second.user}' in this vault (or wrong password)")
    keymod.unwrap(vault.keyfile, slot, second.secret)  # raises AuthError on a wrong password
    row = vault.con.execute(
        "SELECT role, slot_id, slot_fingerprint FROM users WHERE name = ?", [second.user]
    ).fetchone()
    if row is None or str(row[1]) != slot.id or str(row[2]) != slot.fingerprint():
        raise TamperedError(f"the key slot of '{second.user}' in keys.json does not match the vault's record")
    return str(row[0])


def _check_paths(vault_dir: Path, certificate_out: Path, signing_key: Path) -> None:
    root = vault_dir.resolve()
    for what, p in (("--certificate-out", certificate_out), ("--signing-key", signing_key)):
        resolved = p.expanduser().resolve()
        if resolved == root or root in resolved.parents:
            raise UsageError(f"{what} {p}: must be outside the vault directory")
    if certificate_out.exists():
        raise UsageError(f"{certificate_out}: already exists; choose a new path for the certificate")
    parent = certificate_out.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise UsageError(f"{parent}: cannot write the certificate here")


def default_certificate_path(vault_dir: Path) -> Path:
    vault_dir = vault_dir.resolve()
    return vault_dir.parent / f"{vault_dir.name}-deletion-certificate.json"


def destroy_vault(
    vault_dir: Path,
    first: Credentials,
    second: Credentials,
    *,
    early_reason: str | None = None,
    certificate_out: Path | None = None,
    signing_key: Path | None = None,
    today: dt.date | None = None,
) -> DestructionResult:
    """Destroy a vault for good and write its signed deletion certificate."""
    vault_dir = Path(vault_dir)
    cert_path = Path(certificate_out) if certificate_out else default_certificate_path(vault_dir)
    key_path = Path(signing_key).expanduser() if signing_key else default_signing_key_path()
    reason = " ".join((early_reason or "").split()) or None
    if reason and len(reason) > MAX_REASON:
        raise UsageError(f"--early-reason: at most {MAX_REASON} characters")
    if first.recovery:
        raise UsageError("destruction needs two named users; the recovery code cannot be one of them")
    try:
        opened = Vault.open(vault_dir, first)
    except VaultDestroyed as exc:
        shredded = finish_interrupted(vault_dir)
        if shredded:
            raise VaultDestroyed(f"{exc.message}; {shredded} leftover file(s) were shredded now") from None
        raise
    with opened as vault:
        vault.require_role("admin", "dpo")
        second_role = _check_second_user(vault, second)
        if {vault.role, second_role} != {"admin", "dpo"}:
            raise PermissionDenied(
                f"destruction needs one dpo and one admin; '{vault.actor}' is {vault.role},"
                f" '{second.user}' is {second_role}"
            )
        study = vault.study
        sched = schedule(study, today)
        if not sched.destruction_allowed and not reason:
            raise UsageError(
                f"deletion is due on {sched.delete_by.isoformat()} ({sched.days_remaining} days left);"
                " to destroy earlier give --early-reason TEXT (the DPO's recorded reason)"
            )
        _check_paths(vault_dir, cert_path, key_path)
        private = load_or_create_signing_key(key_path)  # before anything irreversible

        tables = inventory.table_counts(vault)
        backups = inventory.registered_backups(vault)
        exports = inventory.release_exports(vault)
        slots = len(vault.keyfile.slots)
        dpo_user = vault.actor if vault.role == "dpo" else second.user
        with vault.transaction():
            vault.record(
                "retention.destroy",
                {"dpo": dpo_user, "second_user": second.user, "early": "yes" if reason else "no"},
                {"tables": len(tables), "backups": len(backups)},
            )
        entries, head_hash = audit.last(vault.con)
        vault.con.execute("CHECKPOINT")
        vault.con.close()  # the lock stays held until the `with` block ends

        files = inventory.vault_files(vault_dir)
        hashed = [
            {"name": p.relative_to(vault_dir).as_posix(), "size_bytes": p.stat().st_size, "sha256": sha256_file(p)}
            for p in files
        ]
        destroyed_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        _crypto_shred(vault_dir, vault.keyfile, files, destroyed_at)

        body: dict[str, Any] = {
            "format": CERT_FORMAT,
            "version": CERT_VERSION,
            "certificate_id": uuid.uuid4().hex,
            "statement": (
                "The vault named here was destroyed: its keys were crypto-shredded and its files overwritten"
                " and removed. It cannot be opened by any password or the recovery code."
            ),
            "vault": {
                "vault_id": vault.vault_id,
                "created": vault.keyfile.created,
                "directory": str(vault_dir.resolve()),
            },
            "study": {
                "id": study.id,
                "title": study.title,
                "final_report": sched.final_report.isoformat(),
                "delete_by": sched.delete_by.isoformat(),
            },
            "destroyed_at": destroyed_at,
            "early": not sched.destruction_allowed,
            "early_reason": reason if not sched.destruction_allowed else None,
            "authorised_by": [
                {"user": vault.actor, "role": vault.role},
                {"user": second.user, "role": second_role},
            ],
            "method": METHOD,
            "destroyed": {"key_slots": slots, "files": hashed, "tables": tables, "rows": sum(tables.values())},
            "audit": {"entries": entries, "last_hash": head_hash},
            "backups_to_expire": backups,
            # What left the vault through the airlock (approved releases): destruction cannot recall it.
            "released_exports": exports,
            "software": {"cscvault": __version__},
        }
        signed = sign_certificate(body, private)
        text = (json.dumps(signed, indent=2, sort_keys=False) + "\n").encode()
        write_atomic(cert_path, text, mode=0o644)
        pub_path = public_key_path(key_path)
        if not pub_path.exists():
            write_atomic(pub_path, public_pem(private.public_key()), mode=0o644)
    return DestructionResult(cert_path, signed, pub_path, key_id(private.public_key()))


def _crypto_shred(vault_dir: Path, keyfile: keymod.KeyFile, files: list[Path], destroyed_at: str) -> None:
    """Keys first (after that nothing is decryptable), then every other vault file."""
    keys_path = vault_dir / "keys.json"
    try:
        overwrite(keys_path)
    except OSError as exc:
        raise storage_error(exc, keys_path) from None
    marker = keymod.KeyFile(
        vault_id=keyfile.vault_id, created=keyfile.created, state="destroyed", slots=(), destroyed_at=destroyed_at
    )
    keymod.write_keyfile(vault_dir, marker)  # replaces the overwritten file: the old inode is unlinked
    for path in files:
        if path != keys_path:
            shred(path)
    for sub in sorted((p for p in vault_dir.rglob("*") if p.is_dir() and not p.is_symlink()), reverse=True):
        with contextlib.suppress(OSError):
            sub.rmdir()
    fsync_dir(vault_dir)


def finish_interrupted(vault_dir: Path) -> int:
    """Shred what an interrupted destruction left beside a "destroyed" keys.json; returns the count.

    The keys went first, so those files were already unreadable; this removes them for good."""
    try:
        doc = json.loads((vault_dir / "keys.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    if not isinstance(doc, dict) or doc.get("state") != "destroyed":
        return 0
    leftovers = [p for p in inventory.vault_files(vault_dir) if p.name != "keys.json" or p.parent != vault_dir]
    for path in leftovers:
        shred(path)
    for sub in sorted((p for p in vault_dir.rglob("*") if p.is_dir() and not p.is_symlink()), reverse=True):
        with contextlib.suppress(OSError):
            sub.rmdir()
    return len(leftovers)
