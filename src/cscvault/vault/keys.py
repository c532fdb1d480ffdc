"""Key slots: the vault's two random keys, wrapped once per user and once for the recovery code.

keys.json holds, per slot, an Argon2id salt and parameters and the AES-256-GCM encryption of
(data key || pseudonymisation key) under the key derived from that slot's secret. The slot's
identity (vault id, slot id, kind, user name) is the GCM associated data, so renaming or moving a
slot in the file makes it fail to open. Changing a password rewraps the same keys: data are never
re-encrypted. The file holds no personal data about children; it names staff accounts only.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cscvault.errors import AuthError, TamperedError, UsageError, VaultDestroyed, VaultStateError
from cscvault.fileio import write_atomic

KEYS_FORMAT = "cscvault-keys"
KEYS_VERSION = 1
KEY_BYTES = 32
MIN_PASSWORD_LENGTH = 12
RECOVERY_USER = "recovery"

# OWASP password storage cheat sheet, Argon2id: m=19 MiB, t=2, p=1. Stored per slot so they can be raised
# later without breaking existing slots.
DEFAULT_ARGON2 = {"time_cost": 2, "memory_cost_kib": 19 * 1024, "parallelism": 1}


@dataclass(frozen=True)
class VaultKeys:
    data_key: bytes  # encrypts the database (DuckDB AES-256-GCM)
    pseudonym_key: bytes  # HMAC key for child_key; separate so it can never decrypt anything

    def derive(self, label: str) -> bytes:
        """A sub-key for a named purpose (e.g. authenticating the audit head)."""
        return hashlib.blake2b(label.encode(), key=self.data_key, digest_size=32).digest()


@dataclass(frozen=True)
class Slot:
    id: str
    kind: str  # "user" or "recovery"
    user: str
    salt: str
    argon2: dict[str, int]
    nonce: str
    wrapped: str
    created: str

    def fingerprint(self) -> str:
        """Hash of the whole slot; the database stores it so a swapped or forged slot is detected."""
        canonical = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True)
class KeyFile:
    vault_id: str
    created: str
    state: str  # "active" or "destroyed"
    slots: tuple[Slot, ...]
    destroyed_at: str | None = None
    # The audit head (count, hash) the database had at the last commit, with a MAC under a vault key: the
    # key file changes with every commit, so an older database and head put back beside it disagree.
    seal: dict[str, Any] | None = None

    def slot_for(self, user: str) -> Slot:
        for slot in self.slots:
            if slot.user == user:
                return slot
        raise AuthError(f"no user '{user}' in this vault (or wrong password)")

    def to_json(self) -> str:
        doc: dict[str, Any] = {
            "format": KEYS_FORMAT,
            "version": KEYS_VERSION,
            "vault_id": self.vault_id,
            "created": self.created,
            "state": self.state,
            "slots": [asdict(s) for s in self.slots],
        }
        if self.destroyed_at:
            doc["destroyed_at"] = self.destroyed_at
        if self.seal is not None:
            doc["seal"] = self.seal
        return json.dumps(doc, indent=2) + "\n"


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UsageError(f"password too weak: it must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(set(password)) < 4:
        raise UsageError("password too weak: it repeats too few distinct characters")


def new_keys() -> VaultKeys:
    return VaultKeys(data_key=secrets.token_bytes(KEY_BYTES), pseudonym_key=secrets.token_bytes(KEY_BYTES))


def new_recovery_code() -> str:
    """160 random bits as 8 groups of 4 base32 characters (easy to write down)."""
    raw = base64.b32encode(secrets.token_bytes(20)).decode()
    return "-".join(raw[i : i + 4] for i in range(0, 32, 4))


def normalise_recovery_code(code: str) -> str:
    compact = "".join(code.split()).replace("-", "").upper()
    return "-".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def _kek(secret: str, salt: bytes, params: dict[str, int]) -> bytes:
    return hash_secret_raw(
        secret.encode("utf-8"),
        salt,
        time_cost=params["time_cost"],
        memory_cost=params["memory_cost_kib"],
        parallelism=params["parallelism"],
        hash_len=KEY_BYTES,
        type=Type.ID,
    )


def _aad(vault_id: str, slot_id: str, kind: str, user: str) -> bytes:
    return f"cscvault-slot:v1:{vault_id}:{slot_id}:{kind}:{user}".encode()


def make_slot(vault_id: str, kind: str, user: str, secret: str, keys: VaultKeys, slot_id: str | None = None) -> Slot:
    salt = secrets.token_bytes(16)
    nonce = secrets.token_bytes(12)
    params = dict(DEFAULT_ARGON2)
    sid = slot_id or uuid.uuid4().hex
    kek = _kek(secret, salt, params)
    wrapped = AESGCM(kek).encrypt(nonce, keys.data_key + keys.pseudonym_key, _aad(vault_id, sid, kind, user))
    return Slot(
        id=sid,
        kind=kind,
        user=user,
        salt=base64.b64encode(salt).decode(),
        argon2=params,
        nonce=base64.b64encode(nonce).decode(),
        wrapped=base64.b64encode(wrapped).decode(),
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )


def unwrap(keyfile: KeyFile, slot: Slot, secret: str) -> VaultKeys:
    try:
        salt = base64.b64decode(slot.salt, validate=True)
        nonce = base64.b64decode(slot.nonce, validate=True)
        wrapped = base64.b64decode(slot.wrapped, validate=True)
        kek = _kek(secret, salt, slot.argon2)
        plain = AESGCM(kek).decrypt(nonce, wrapped, _aad(keyfile.vault_id, slot.id, slot.kind, slot.user))
    except InvalidTag:
        # A wrong secret and an edited slot look the same to AES-GCM; say both.
        what = "recovery code" if slot.kind == "recovery" else "password"
        raise AuthError(f"wrong {what} for '{slot.user}' (or its key slot was altered)") from None
    except (ValueError, KeyError, TypeError):
        raise TamperedError(f"key slot of '{slot.user}' in keys.json is malformed") from None
    if len(plain) != 2 * KEY_BYTES:
        raise TamperedError(f"key slot of '{slot.user}' in keys.json is malformed")
    return VaultKeys(data_key=plain[:KEY_BYTES], pseudonym_key=plain[KEY_BYTES:])


def read_keyfile(vault_dir: Path) -> KeyFile:
    path = vault_dir / "keys.json"
    if not path.is_file():
        raise VaultStateError(f"{vault_dir}: not a cscvault vault (no keys.json)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise TamperedError(f"{path}: keys.json is unreadable or not JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != KEYS_FORMAT:
        raise VaultStateError(f"{vault_dir}: not a cscvault vault (keys.json has another format)")
    if doc.get("state") == "destroyed":
        raise VaultDestroyed(f"{vault_dir}: vault destroyed on {doc.get('destroyed_at', 'an unrecorded date')}")
    if doc.get("version") != KEYS_VERSION:
        raise VaultStateError(f"{path}: keys.json version {doc.get('version')} is not supported")
    try:
        slots = tuple(
            Slot(
                id=str(s["id"]),
                kind=str(s["kind"]),
                user=str(s["user"]),
                salt=str(s["salt"]),
                argon2={k: int(v) for k, v in dict(s["argon2"]).items()},
                nonce=str(s["nonce"]),
                wrapped=str(s["wrapped"]),
                created=str(s["created"]),
            )
            for s in doc["slots"]
        )
        return KeyFile(
            vault_id=str(doc["vault_id"]),
            created=str(doc["created"]),
            state=str(doc["state"]),
            slots=slots,
            destroyed_at=doc.get("destroyed_at"),
            seal=_seal_of(doc.get("seal")),
        )
    except (KeyError, TypeError, ValueError):
        raise TamperedError(f"{path}: keys.json is malformed") from None


def _seal_of(raw: object) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValueError("seal")
    return {"count": int(raw["count"]), "hash": str(raw["hash"]), "mac": str(raw["mac"])}


def seal_mac(keys: VaultKeys, vault_id: str, count: int, head: str) -> str:
    return hmac.new(keys.derive("keys-seal"), f"{vault_id}:{count}:{head}".encode(), hashlib.sha256).hexdigest()


def sealed(keyfile: KeyFile, keys: VaultKeys, count: int, head: str) -> KeyFile:
    """The key file carrying the audit head (count, hash) of the database's latest commit."""
    mac = seal_mac(keys, keyfile.vault_id, count, head)
    return replace(keyfile, seal={"count": count, "hash": head, "mac": mac})


def seal_of(keyfile: KeyFile, keys: VaultKeys) -> tuple[int, str] | None:
    """The authenticated (count, hash) the key file records, None when it has none; a bad MAC is tampering."""
    if keyfile.seal is None:
        return None
    count, head = int(keyfile.seal["count"]), str(keyfile.seal["hash"])
    if not hmac.compare_digest(str(keyfile.seal["mac"]), seal_mac(keys, keyfile.vault_id, count, head)):
        raise TamperedError("keys.json: its record of the latest commit failed its authentication check")
    return count, head


def write_keyfile(vault_dir: Path, keyfile: KeyFile) -> None:
    write_atomic(vault_dir / "keys.json", keyfile.to_json().encode())


def replace_slot(keyfile: KeyFile, new: Slot) -> KeyFile:
    slots = tuple(new if s.id == new.id else s for s in keyfile.slots)
    return replace(keyfile, slots=slots)


def add_slot(keyfile: KeyFile, new: Slot) -> KeyFile:
    if any(s.user == new.user for s in keyfile.slots):
        raise UsageError(f"user '{new.user}' already exists")
    return replace(keyfile, slots=(*keyfile.slots, new))
