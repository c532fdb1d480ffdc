"""Key slots: wrapping the vault's keys per user and for the recovery code, and reading keys.json safely."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

import pytest

from cscvault.errors import AuthError, TamperedError, UsageError, VaultDestroyed, VaultStateError
from cscvault.vault.keys import (
    KEY_BYTES,
    RECOVERY_USER,
    KeyFile,
    VaultKeys,
    add_slot,
    check_password_strength,
    make_slot,
    new_keys,
    new_recovery_code,
    normalise_recovery_code,
    read_keyfile,
    replace_slot,
    unwrap,
    write_keyfile,
)

PASSWORD = "correct horse battery staple"
VAULT_ID = "0f3c2a9e6b1d4c7a8e5f0a1b2c3d4e5f"


@pytest.fixture(scope="module")
def keys() -> VaultKeys:
    return new_keys()


@pytest.fixture(scope="module")
def keyfile(keys: VaultKeys) -> KeyFile:
    slot = make_slot(VAULT_ID, "user", "admin", PASSWORD, keys)
    return KeyFile(vault_id=VAULT_ID, created="2026-01-01T00:00:00+00:00", state="active", slots=(slot,))


def test_new_keys_are_random_and_separate() -> None:
    a, b = new_keys(), new_keys()
    assert len(a.data_key) == len(a.pseudonym_key) == KEY_BYTES
    assert a.data_key != a.pseudonym_key  # the pseudonym key can never decrypt anything
    assert a != b


def test_derived_subkeys_depend_on_label_and_key(keys: VaultKeys) -> None:
    head = keys.derive("audit-head")
    assert head == keys.derive("audit-head") and len(head) == 32
    assert head != keys.derive("something-else")
    assert head != keys.data_key
    assert head != new_keys().derive("audit-head")


def test_the_right_password_unwraps_the_same_keys(keyfile: KeyFile, keys: VaultKeys) -> None:
    assert unwrap(keyfile, keyfile.slot_for("admin"), PASSWORD) == keys


def test_a_wrong_password_is_an_auth_error_that_does_not_echo_it(keyfile: KeyFile) -> None:
    with pytest.raises(AuthError, match="wrong password for 'admin'") as err:
        unwrap(keyfile, keyfile.slot_for("admin"), "not the password at all")
    assert "not the password" not in str(err.value)


def test_an_unknown_user_is_an_auth_error(keyfile: KeyFile) -> None:
    with pytest.raises(AuthError, match="no user 'mallory'"):
        keyfile.slot_for("mallory")


@pytest.mark.parametrize(
    "change",
    [
        {"user": "analyst"},  # a slot renamed to another account
        {"kind": "recovery"},  # a user slot relabelled as the recovery slot
        {"id": "another-slot-id"},
    ],
)
def test_a_renamed_or_relabelled_slot_does_not_open(keyfile: KeyFile, change: dict[str, str]) -> None:
    moved = dataclasses.replace(keyfile.slot_for("admin"), **change)
    with pytest.raises(AuthError, match="altered"):
        unwrap(keyfile, moved, PASSWORD)


def test_a_slot_moved_into_another_vault_does_not_open(keyfile: KeyFile) -> None:
    other = dataclasses.replace(keyfile, vault_id="another-vault")
    with pytest.raises(AuthError):
        unwrap(other, keyfile.slot_for("admin"), PASSWORD)


def test_a_malformed_slot_is_tampering(keyfile: KeyFile) -> None:
    broken = dataclasses.replace(keyfile.slot_for("admin"), salt="***not base64***")
    with pytest.raises(TamperedError, match="malformed"):
        unwrap(keyfile, broken, PASSWORD)


def test_recovery_code_unwraps_whatever_its_spacing_and_case(keys: VaultKeys) -> None:
    code = new_recovery_code()
    groups = code.split("-")
    assert len(groups) == 8 and all(len(g) == 4 for g in groups)
    base64.b32decode("".join(groups))  # 160 bits of base32
    assert new_recovery_code() != code
    slot = make_slot(VAULT_ID, "recovery", RECOVERY_USER, code, keys)
    kf = KeyFile(VAULT_ID, "2026-01-01T00:00:00+00:00", "active", (slot,))
    typed = " ".join(groups).lower()
    assert normalise_recovery_code(typed) == code
    assert unwrap(kf, slot, normalise_recovery_code(typed)) == keys
    with pytest.raises(AuthError, match="wrong recovery code"):
        unwrap(kf, slot, normalise_recovery_code(new_recovery_code()))


@pytest.mark.parametrize("weak", ["short1!", "aaaaaaaaaaaaaaaa", "abababababababab"])
def test_weak_passwords_are_refused_without_echoing_them(weak: str) -> None:
    with pytest.raises(UsageError, match="password too weak") as err:
        check_password_strength(weak)
    assert weak not in str(err.value)


def test_a_long_varied_password_is_accepted() -> None:
    check_password_strength(PASSWORD)


def test_fingerprint_changes_with_any_field(keyfile: KeyFile) -> None:
    slot = keyfile.slot_for("admin")
    assert slot.fingerprint() == dataclasses.replace(slot).fingerprint()
    for field in ("user", "salt", "nonce", "wrapped", "created"):
        assert dataclasses.replace(slot, **{field: "x"}).fingerprint() != slot.fingerprint(), field


def test_keyfile_round_trips_and_holds_no_key_material(tmp_path: Path, keyfile: KeyFile, keys: VaultKeys) -> None:
    write_keyfile(tmp_path, keyfile)
    assert read_keyfile(tmp_path) == keyfile
    raw = (tmp_path / "keys.json").read_bytes()
    for secret in (keys.data_key, keys.pseudonym_key):
        assert secret not in raw
        assert base64.b64encode(secret) not in raw
    assert PASSWORD.encode() not in raw


def test_add_and_replace_slots(keyfile: KeyFile, keys: VaultKeys) -> None:
    analyst = make_slot(VAULT_ID, "user", "analyst", "another long passphrase", keys)
    two = add_slot(keyfile, analyst)
    assert [s.user for s in two.slots] == ["admin", "analyst"]
    with pytest.raises(UsageError, match="already exists"):
        add_slot(two, make_slot(VAULT_ID, "user", "analyst", "a third passphrase!", keys))
    # A password change rewraps the same keys in a slot with the same id.
    old = two.slot_for("admin")
    new = make_slot(VAULT_ID, "user", "admin", "a brand new passphrase", keys, slot_id=old.id)
    changed = replace_slot(two, new)
    assert [s.user for s in changed.slots] == ["admin", "analyst"]
    assert unwrap(changed, changed.slot_for("admin"), "a brand new passphrase") == keys
    with pytest.raises(AuthError):
        unwrap(changed, changed.slot_for("admin"), PASSWORD)


def _write(tmp_path: Path, doc: object) -> Path:
    (tmp_path / "keys.json").write_text(json.dumps(doc), encoding="utf-8")
    return tmp_path


def test_reading_keys_json_names_the_problem(tmp_path: Path, keyfile: KeyFile) -> None:
    with pytest.raises(VaultStateError, match="no keys.json"):
        read_keyfile(tmp_path)
    (tmp_path / "keys.json").write_text("{ not json", encoding="utf-8")
    with pytest.raises(TamperedError, match="not JSON"):
        read_keyfile(tmp_path)
    with pytest.raises(VaultStateError, match="another format"):
        read_keyfile(_write(tmp_path, {"format": "something-else"}))
    good = json.loads(keyfile.to_json())
    with pytest.raises(VaultStateError, match="version 99"):
        read_keyfile(_write(tmp_path, {**good, "version": 99}))
    with pytest.raises(VaultDestroyed, match="2026-02-03"):
        read_keyfile(_write(tmp_path, {**good, "state": "destroyed", "destroyed_at": "2026-02-03"}))
    no_salt = [{k: v for k, v in s.items() if k != "salt"} for s in good["slots"]]
    with pytest.raises(TamperedError, match="malformed"):
        read_keyfile(_write(tmp_path, {**good, "slots": no_salt}))
