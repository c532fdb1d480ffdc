"""Overwriting before removal, and finishing a destruction that was interrupted after the keys went."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cscvault.errors import VaultDestroyed
from cscvault.vault import Credentials
from cscvault.vault.destroy import destroy_vault, shred


def test_shred_overwrites_the_bytes_in_place_before_unlinking(tmp_path: Path) -> None:
    secret = b"CANARY-" * 5000
    target = tmp_path / "vault.duckdb"
    target.write_bytes(secret)
    witness = tmp_path / "witness"
    os.link(target, witness)  # a second name for the same inode shows what happened to the bytes
    shred(target)
    assert not target.exists()
    left = witness.read_bytes()
    assert len(left) == len(secret) and b"CANARY" not in left


def test_shred_removes_a_symlink_without_touching_its_target(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    link = tmp_path / "link"
    link.symlink_to(outside)
    shred(link)
    assert not link.is_symlink() and outside.read_text() == "keep me"


def test_rerunning_destroy_finishes_an_interrupted_destruction(tmp_path: Path) -> None:
    vault = tmp_path / "v"
    (vault / "tmp").mkdir(parents=True)
    marker = {"format": "cscvault-keys", "version": 1, "vault_id": "x", "created": "", "state": "destroyed"}
    marker["destroyed_at"] = "2033-10-31T10:00:00+00:00"
    (vault / "keys.json").write_text(json.dumps(marker))
    (vault / "vault.duckdb").write_bytes(b"ciphertext left behind")
    (vault / "tmp" / "spill.tmp").write_bytes(b"more")
    (vault / ".lock").touch()
    creds = Credentials("admin", "irrelevant-password")
    with pytest.raises(VaultDestroyed, match="destroyed on 2033-10-31.*2 leftover file"):
        destroy_vault(vault, creds, Credentials("dana", "irrelevant-password"), signing_key=tmp_path / "k.pem")
    assert sorted(p.name for p in vault.rglob("*")) == [".lock", "keys.json"]
    with pytest.raises(VaultDestroyed, match=r"destroyed on 2033-10-31T10:00:00\+00:00$"):
        destroy_vault(vault, creds, Credentials("dana", "irrelevant-password"), signing_key=tmp_path / "k.pem")
