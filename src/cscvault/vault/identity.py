"""The vault's age identity: the key local authorities encrypt their deliveries to.

It is created on first use and kept (secret half included) in the `vault_identity` table, inside the
encrypted database, so it is protected by the same key slots as the data and is shredded with them.
The public recipient (`age1...`) is what `cscvault init` prints for the LAs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyrage
from pyrage import x25519

from cscvault.errors import AuthError, TamperedError, UsageError
from cscvault.vault.store import Credentials, Vault

DELIVERY = "delivery"


def _stored(vault: Vault) -> tuple[str, str] | None:
    row = vault.con.execute("SELECT identity, recipient FROM vault_identity WHERE name = ?", [DELIVERY]).fetchone()
    return (str(row[0]), str(row[1])) if row else None


def _ensure(vault: Vault) -> tuple[str, str]:
    found = _stored(vault)
    if found is not None:
        return found
    identity = x25519.Identity.generate()
    pair = (str(identity), str(identity.to_public()))
    with vault.transaction() as con:
        con.execute(
            "INSERT INTO vault_identity VALUES (?, ?, ?, ?, ?)",
            [DELIVERY, pair[0], pair[1], dt.datetime.now(dt.UTC), vault.actor],
        )
        vault.record("vault.identity.create", {"recipient": pair[1]})
    return pair


def vault_recipient(vault: Vault) -> str:
    """The vault's public age recipient (`age1...`), creating the identity on first use."""
    return _ensure(vault)[1]


def recipient_for(path: Path, credentials: Credentials) -> str:
    """Open the vault at `path` and return its age recipient (for `cscvault init` to print)."""
    with Vault.open(Path(path), credentials) as vault:
        return vault_recipient(vault)


def vault_identity(vault: Vault) -> x25519.Identity:
    """The vault's secret age identity (for opening LA packages and the vault's own backups)."""
    vault.require_role("admin")
    secret, recipient = _ensure(vault)
    identity = x25519.Identity.from_str(secret)
    if str(identity.to_public()) != recipient:
        raise TamperedError(f"{vault.path}: the stored age identity does not match its recipient")
    return identity


def parse_recipient(text: str) -> x25519.Recipient:
    """An age X25519 recipient from its `age1...` text, or a one-line UsageError."""
    try:
        return x25519.Recipient.from_str(text.strip())
    except Exception:  # pyrage raises RecipientError (and ValueError on odd input)
        raise UsageError("not an age X25519 recipient (expected text starting 'age1')") from None


def parse_identity(text: str, source: str = "identity") -> x25519.Identity:
    """An age X25519 identity from an identity file's text (comment lines allowed)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if len(lines) != 1:
        raise UsageError(f"{source}: expected exactly one AGE-SECRET-KEY-1... line")
    try:
        return x25519.Identity.from_str(lines[0])
    except Exception:
        raise UsageError(f"{source}: not an age X25519 identity (expected AGE-SECRET-KEY-1...)") from None


def decrypt_age(data: bytes, identities: list[x25519.Identity], what: str) -> bytes:
    """Decrypt an age file, turning pyrage's errors into one line naming `what`."""
    if not data.startswith(b"age-encryption.org/"):
        raise TamperedError(f"{what}: not an age-encrypted file (damaged or wrong file)")
    try:
        plain: bytes = pyrage.decrypt(data, identities)
        return plain
    except pyrage.DecryptError as exc:
        if "no matching keys" in str(exc).lower():
            raise AuthError(f"{what}: not encrypted to this identity (wrong key)") from None
        raise TamperedError(f"{what}: damaged or altered after encryption (age authentication failed)") from None


def encrypt_age(data: bytes, recipients: list[x25519.Recipient]) -> bytes:
    if not recipients:
        raise UsageError("at least one age recipient is needed")
    cipher: bytes = pyrage.encrypt(data, list(recipients))
    return cipher
