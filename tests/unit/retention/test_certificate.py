"""Deletion certificates: Ed25519 signature over canonical JSON; any edit or another key fails."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cscvault.errors import TamperedError, UsageError
from cscvault.vault.destroy import (
    load_or_create_signing_key,
    load_public_key,
    public_key_path,
    sign_certificate,
    verify_certificate,
)

BODY = {
    "format": "cscvault-deletion-certificate",
    "version": 1,
    "vault": {"vault_id": "abc"},
    "destroyed_at": "2033-10-31T09:00:00+00:00",
    "destroyed": {"files": [{"name": "vault.duckdb", "sha256": "0" * 64}]},
}


def _write(tmp_path: Path, doc: dict[str, object], name: str = "cert.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc, indent=2))
    return path


def test_signing_key_is_created_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "key.pem"
    key = load_or_create_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert public_key_path(path).read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    again = load_or_create_signing_key(path)
    assert again.public_key().public_bytes_raw() == key.public_key().public_bytes_raw()
    (tmp_path / "bad.pem").write_text("not a key")
    with pytest.raises(UsageError, match="not a readable"):
        load_or_create_signing_key(tmp_path / "bad.pem")


def test_signed_certificate_verifies_with_each_form_of_the_public_key(tmp_path: Path) -> None:
    key = load_or_create_signing_key(tmp_path / "k.pem")
    cert = _write(tmp_path, sign_certificate(BODY, key))
    pub_path = public_key_path(tmp_path / "k.pem")
    raw = key.public_key().public_bytes_raw()
    for form in (
        pub_path,
        str(pub_path),
        raw,
        key.public_key(),
        json.loads(cert.read_text())["signature"]["public_key"],
    ):
        assert verify_certificate(cert, form) == BODY
    assert load_public_key(pub_path.read_bytes()).public_bytes_raw() == raw


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["certificate"].__setitem__("destroyed_at", "2030-01-01T00:00:00+00:00"),
        lambda d: d["certificate"]["destroyed"]["files"][0].__setitem__("sha256", "1" * 64),
        lambda d: d["certificate"].__setitem__("extra", "added"),
        lambda d: d["signature"].__setitem__("value", d["signature"]["value"][:-4] + "AAA="),
    ],
)
def test_any_edit_breaks_the_signature(tmp_path: Path, edit: object) -> None:
    key = Ed25519PrivateKey.generate()
    doc = sign_certificate(BODY, key)
    edit(doc)  # type: ignore[operator]
    with pytest.raises(TamperedError, match="does not verify|malformed"):
        verify_certificate(_write(tmp_path, doc), key.public_key())


def test_another_key_is_refused_even_if_embedded(tmp_path: Path) -> None:
    mine, forger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    forged = _write(tmp_path, sign_certificate(BODY, forger))  # a valid signature by the wrong key
    with pytest.raises(TamperedError, match="not by the given key"):
        verify_certificate(forged, mine.public_key())
    with pytest.raises(TamperedError, match="malformed"):
        verify_certificate(_write(tmp_path, {"certificate": BODY}, "nosig.json"), mine.public_key())
