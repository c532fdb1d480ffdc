"""The encrypted vault: no plaintext on disk, clear failures, key slots that cannot be abused."""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cscvault import api
from cscvault.errors import (
    AuthError,
    PermissionDenied,
    StorageError,
    StudyError,
    TamperedError,
    UsageError,
    VaultInUse,
    VaultStateError,
)
from cscvault.vault import Credentials, Vault
from tests.helpers import HANG_GUARD_SECONDS, PASSWORD, cli_in_process, files_containing, open_raw_vault

ADMIN = Credentials("admin", PASSWORD)


@pytest.fixture
def vault(tmp_path: Path) -> tuple[Path, str]:
    """A fresh vault; returns (path, recovery code)."""
    result = api.init_vault(tmp_path / "v", PASSWORD)
    return result.path, result.recovery_code


def _canaries(n: int = 50) -> list[str]:
    return [f"CANARY{i:04d}ZQX{os.urandom(4).hex()}" for i in range(n)]


class _SpillWatcher(threading.Thread):
    """Reads every spill file while DuckDB is using it (they are deleted afterwards)."""

    def __init__(self, folder: Path, needles: list[bytes]) -> None:
        super().__init__(daemon=True)
        self.folder, self.needles = folder, needles
        self.seen: set[str] = set()
        self.hits: set[str] = set()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for f in list(self.folder.rglob("*")):
                try:
                    data = f.read_bytes()
                except OSError:
                    continue
                self.seen.add(f.name)
                if any(n in data for n in self.needles):
                    self.hits.add(f.name)
            time.sleep(0.005)


def test_no_plaintext_anywhere_after_writing_canaries(tmp_path: Path) -> None:
    path = api.init_vault(tmp_path / "v", PASSWORD).path
    canaries = _canaries()
    needles = [c.encode() for c in canaries] + [c.encode("utf-16-le") for c in canaries[:5]]
    watcher = _SpillWatcher(path / "tmp", needles)
    watcher.start()
    # A low memory limit forces DuckDB to spill a large sort to the vault's tmp/ directory.
    with open_raw_vault(path, ADMIN, memory_limit="64MB") as v:
        with v.transaction() as con:
            con.execute("CREATE TABLE canary (child_key VARCHAR, note VARCHAR)")
            con.executemany("INSERT INTO canary VALUES (?, ?)", [[c, c + " free text"] for c in canaries])
            v.record("test.write", counts={"rows": len(canaries)})
        v.con.execute(
            "CREATE TABLE bulk AS SELECT ? || '-' || (i * 7919 % 1000003)::VARCHAR || repeat('x', 40) AS v "
            "FROM range(1500000) r(i)",
            [canaries[0]],
        )
        v.con.execute("CREATE TABLE sorted AS SELECT v FROM bulk ORDER BY v DESC")
    watcher.stop.set()
    watcher.join()
    assert watcher.seen, "the sort did not spill, so spill encryption was not exercised"
    assert watcher.hits == set()
    hits = files_containing(path, needles)
    assert hits == [], f"plaintext found in {[str(p.relative_to(path)) for p, _ in hits]}"
    # ... and the data are really there, readable with the key.
    with open_raw_vault(path, ADMIN) as v:
        assert v.con.execute("SELECT count(*) FROM canary").fetchone() == (len(canaries),)
        assert v.con.execute("SELECT count(*) FROM sorted").fetchone() == (1500000,)


def test_wrong_password_is_one_line_exit_4(vault: tuple[Path, str]) -> None:
    path, _ = vault
    proc = cli_in_process("audit", "verify", str(path), password="not the password at all")
    assert proc.returncode == 4
    assert proc.stderr.strip().count("\n") == 0
    assert "wrong password" in proc.stderr
    assert "Traceback" not in proc.stderr
    with pytest.raises(AuthError):
        Vault.open(path, Credentials("nobody", PASSWORD))


def _first_data_block_offset(path: Path) -> int:
    """An offset inside a block DuckDB has written (past the three 4 KiB headers, not all zero)."""
    data = (path / "vault.duckdb").read_bytes()
    for off in range(3 * 4096 + 64, len(data), 4096):
        if any(data[off : off + 64]):
            return off
    raise AssertionError("no data block found")


def test_flipped_byte_in_a_used_block_is_tampering_exit_5(vault: tuple[Path, str]) -> None:
    path, _ = vault
    db = path / "vault.duckdb"
    data = bytearray(db.read_bytes())
    off = _first_data_block_offset(path)
    data[off] ^= 0x01
    db.write_bytes(bytes(data))
    proc = cli_in_process("audit", "verify", str(path))
    assert proc.returncode == 5, proc.stderr
    assert "tamper" in proc.stderr
    assert proc.stderr.strip().count("\n") == 0


def _hold_vault(path: str, ready: multiprocessing.synchronize.Event, done: multiprocessing.synchronize.Event) -> None:
    with open_raw_vault(Path(path), ADMIN):
        ready.set()
        done.wait(HANG_GUARD_SECONDS)


def test_second_process_gets_in_use_exit_5(vault: tuple[Path, str]) -> None:
    path, _ = vault
    ctx = multiprocessing.get_context("spawn")
    ready, done = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_vault, args=(str(path), ready, done))
    holder.start()
    try:
        assert ready.wait(HANG_GUARD_SECONDS)
        proc = cli_in_process("audit", "verify", str(path))
        assert proc.returncode == 5
        assert "in use" in proc.stderr
        with pytest.raises(VaultInUse):
            Vault.open(path, ADMIN)
    finally:
        done.set()
        holder.join(30)
    assert cli_in_process("audit", "verify", str(path)).returncode == 0


def test_recovery_code_opens_the_vault_and_resets_a_password(vault: tuple[Path, str]) -> None:
    path, code = vault
    messy = code.lower().replace("-", " ")  # as someone might type it back
    with open_raw_vault(path, Credentials.recovery_code(messy)) as v:
        assert v.role == "admin"
        v.change_password("admin", "a brand new password")
    with pytest.raises(AuthError):
        Vault.open(path, ADMIN)
    with open_raw_vault(path, Credentials("admin", "a brand new password")) as v:
        entries = v.con.execute("SELECT actor, action FROM audit ORDER BY seq").fetchall()
    assert entries[-1] == ("recovery", "user.passwd")
    with pytest.raises(AuthError, match="wrong recovery code"):
        Vault.open(path, Credentials.recovery_code("AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA"))


def test_passwd_rewraps_without_reencrypting_data(vault: tuple[Path, str]) -> None:
    path, _ = vault
    with open_raw_vault(path, ADMIN) as v, v.transaction() as con:
        con.execute("CREATE TABLE t AS SELECT range AS i FROM range(100000)")
    with open_raw_vault(path, ADMIN) as v:
        v.con.execute("CHECKPOINT")
    keys_before = json.loads((path / "keys.json").read_text())
    blocks_before = (path / "vault.duckdb").read_bytes()[3 * 4096 :]
    api.change_password(path, ADMIN, "my second password")
    keys_after = json.loads((path / "keys.json").read_text())
    admin_before = next(s for s in keys_before["slots"] if s["user"] == "admin")
    admin_after = next(s for s in keys_after["slots"] if s["user"] == "admin")
    assert admin_before["id"] == admin_after["id"]
    assert admin_before["wrapped"] != admin_after["wrapped"]
    # The data blocks were not rewritten with a new key: the bulk table's blocks are byte-identical.
    blocks_after = (path / "vault.duckdb").read_bytes()[3 * 4096 :]
    same = sum(a == b for a, b in zip(blocks_before, blocks_after, strict=False))
    assert same / len(blocks_before) > 0.9
    with open_raw_vault(path, Credentials("admin", "my second password")) as v:
        assert v.con.execute("SELECT count(*) FROM t").fetchone() == (100000,)


def _slots(path: Path) -> dict[str, object]:
    return json.loads((path / "keys.json").read_text())


def test_a_user_cannot_change_their_role_by_editing_files(vault: tuple[Path, str]) -> None:
    path, _ = vault
    api.add_user(path, ADMIN, "ana", "analyst", "analyst password 1")
    ana = Credentials("ana", "analyst password 1")
    with open_raw_vault(path, ana) as v:
        assert v.role == "analyst"
        with pytest.raises(PermissionDenied):
            v.add_user("mallory", "admin", "mallory password 1")
    original = (path / "keys.json").read_text()

    # 1. Rename her slot to "admin" (and the real admin's away): the slot's identity is authenticated.
    doc = json.loads(original)
    for s in doc["slots"]:
        if s["user"] == "admin":
            s["user"] = "old-admin"
        elif s["user"] == "ana":
            s["user"] = "admin"
    (path / "keys.json").write_text(json.dumps(doc))
    with pytest.raises((AuthError, TamperedError)):
        Vault.open(path, Credentials("admin", "analyst password 1"))

    # 2. Add a role field to her slot: roles are not read from the file at all.
    doc = json.loads(original)
    for s in doc["slots"]:
        if s["user"] == "ana":
            s["role"] = "admin"
    (path / "keys.json").write_text(json.dumps(doc))
    with open_raw_vault(path, ana) as v:
        assert v.role == "analyst"

    # 3. A slot she forges herself (she knows the keys) under the admin's name is not the one the
    #    database pins for admin.
    (path / "keys.json").write_text(original)
    with open_raw_vault(path, ana) as v:
        forged = __import__("cscvault.vault.keys", fromlist=["make_slot"]).make_slot(
            v.vault_id,
            "user",
            "admin",
            "analyst password 1",
            v.keys,
            slot_id=next(s["id"] for s in json.loads(original)["slots"] if s["user"] == "admin"),
        )
    doc = json.loads(original)
    doc["slots"] = [s for s in doc["slots"] if s["user"] != "admin"] + [forged.__dict__]
    (path / "keys.json").write_text(json.dumps(doc))
    with pytest.raises(TamperedError, match="does not match the vault's record"):
        Vault.open(path, Credentials("admin", "analyst password 1"))

    (path / "keys.json").write_text(original)
    with open_raw_vault(path, ana) as v:
        assert v.role == "analyst"


def test_role_checks(vault: tuple[Path, str]) -> None:
    path, _ = vault
    api.add_user(path, ADMIN, "dee", "dpo", "dpo password 12")
    api.add_user(path, ADMIN, "ana", "analyst", "analyst password 1")
    assert [u.name for u in api.list_users(path, Credentials("dee", "dpo password 12"))] == [
        "admin",
        "ana",
        "dee",
    ]
    with pytest.raises(PermissionDenied):
        api.list_users(path, Credentials("ana", "analyst password 1"))
    with pytest.raises(PermissionDenied):
        api.change_password(path, Credentials("ana", "analyst password 1"), "something long!!", user="dee")
    with pytest.raises(UsageError, match="already exists"):
        api.add_user(path, ADMIN, "dee", "dpo", "dpo password 12")
    with pytest.raises(UsageError, match="unknown role"):
        api.add_user(path, ADMIN, "eve", "superuser", "eve password 123")


# -- bad input: each a clear error and no half-made vault ----------------------------------------------


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


def test_existing_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "v").mkdir()
    with pytest.raises(UsageError, match="already exists"):
        api.init_vault(tmp_path / "v", PASSWORD)
    assert _leftovers(tmp_path) == ["v"]
    api.init_vault(tmp_path / "w", PASSWORD)
    with pytest.raises(UsageError, match="a vault already exists"):
        api.init_vault(tmp_path / "w", PASSWORD)


def test_not_a_vault(tmp_path: Path) -> None:
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "keys.json").write_text('{"format": "something-else"}')
    with pytest.raises(VaultStateError, match="not a cscvault vault"):
        Vault.open(tmp_path / "junk", ADMIN)
    proc = cli_in_process("audit", "verify", str(tmp_path / "nothing-here"))
    assert proc.returncode == 5
    assert "no vault here" in proc.stderr


def test_weak_password(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="at least 12 characters"):
        api.init_vault(tmp_path / "v", "short")
    proc = cli_in_process("init", str(tmp_path / "v"), password="elevenchars")
    assert proc.returncode == 2
    assert _leftovers(tmp_path) == []


def test_bad_study_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "study.toml").write_text("[study]\nid = 3\n")
    with pytest.raises(StudyError, match=r"study\.toml: controller: is missing"):
        api.init_vault(tmp_path / "v", PASSWORD, study_path=tmp_path / "study.toml")
    proc = cli_in_process("init", str(tmp_path / "v2"), "--study", str(tmp_path / "missing.toml"))
    assert proc.returncode == 2
    assert "missing.toml: file not found" in proc.stderr
    assert _leftovers(tmp_path) == ["study.toml"]


def test_read_only_directory(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    cmd = [sys.executable, "-m", "cscvault", "init", str(ro / "v")]
    if os.geteuid() == 0:
        # Root ignores permission bits: mount a read-only file system there, in a private mount namespace
        # so nothing outlives the command.
        if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"], check=False).returncode:
            pytest.skip("needs unshare -m to mount a read-only file system as root")
        script = f'mount -t tmpfs -o ro,size=1m tmpfs "{ro}" && exec "$@"'
        cmd = ["unshare", "-m", "sh", "-c", script, "sh", *cmd]
    else:
        ro.chmod(0o555)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSCVAULT_")}
    proc = subprocess.run(
        cmd,
        env={**env, "CSCVAULT_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=HANG_GUARD_SECONDS,
        check=False,
    )
    ro.chmod(0o755)
    assert proc.returncode == 5, proc.stderr
    assert "cannot write here" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(ro.iterdir()) == []


def _init_with_file_size_limit(path: str, limit: int, queue: multiprocessing.Queue[str]) -> None:
    """Simulate a full disk: writes past `limit` bytes fail with EFBIG, as ENOSPC would."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        api.init_vault(Path(path), PASSWORD)
        queue.put("created")
    except StorageError as exc:
        queue.put(f"StorageError: {exc}")
    except Exception as exc:
        queue.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("limit", [2_000, 300_000])
def test_full_disk_is_a_clear_error_and_leaves_nothing(tmp_path: Path, limit: int) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[str] = ctx.Queue()
    proc = ctx.Process(target=_init_with_file_size_limit, args=(str(tmp_path / "v"), limit, queue))
    proc.start()
    outcome = queue.get(timeout=HANG_GUARD_SECONDS)
    proc.join(30)
    assert outcome.startswith("StorageError: "), outcome
    assert "disk full" in outcome or "cannot write" in outcome
    assert _leftovers(tmp_path) == []
