"""The audit chain: `audit verify` passes on an honest vault and names the entry for each kind of tampering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cscvault import api, audit
from cscvault.vault import Credentials
from tests.helpers import PASSWORD, cli_in_process, open_raw_vault

ADMIN = Credentials("admin", PASSWORD)


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    """A vault with nine audit entries: init, the vault's age identity, seven steps."""
    path = api.init_vault(tmp_path / "v", PASSWORD).path
    with open_raw_vault(path, ADMIN) as v:
        for i in range(7):
            with v.transaction():
                v.record("test.step", {"step": i}, {"rows": i * 10})
    return path


def _verify(path: Path) -> audit.AuditReport:
    return api.verify_audit(path, ADMIN)


def _tamper(path: Path, *sql: str) -> None:
    """Edit the audit table directly, as someone holding the key could (bypassing the API)."""
    with open_raw_vault(path, ADMIN) as v:
        for statement in sql:
            v.con.execute(statement)


def test_honest_vault_verifies(vault: Path) -> None:
    report = _verify(vault)
    assert report.ok, report.problems
    assert report.entries == report.head_entries == 9
    proc = cli_in_process("audit", "verify", str(vault))
    assert proc.returncode == 0
    assert "intact: 9 entries" in proc.stdout


def test_edited_entry_is_named(vault: Path) -> None:
    _tamper(vault, "UPDATE audit SET counts = '{\"rows\":999}' WHERE seq = 4")
    report = _verify(vault)
    assert report.problems == ["entry 4 (test.step) was edited: its hash does not match its content"]
    proc = cli_in_process("audit", "verify", str(vault))
    assert proc.returncode == 5
    assert "entry 4 (test.step) was edited" in proc.stderr


def test_edited_entry_with_recomputed_hash_breaks_the_link(vault: Path) -> None:
    with open_raw_vault(vault, ADMIN) as v:
        row = v.con.execute(
            "SELECT seq, occurred_at, actor, action, objects, counts, prev_hash FROM audit WHERE seq = 4"
        ).fetchone()
        forged = audit.entry_hash(row[0], row[1], "someone-else", *row[3:])
        v.con.execute("UPDATE audit SET actor = 'someone-else', hash = ? WHERE seq = 4", [forged])
    report = _verify(vault)
    assert any(p.startswith("entry 5 (test.step) does not follow entry 4") for p in report.problems)


def test_deleted_entry_is_named(vault: Path) -> None:
    _tamper(vault, "DELETE FROM audit WHERE seq = 3")
    report = _verify(vault)
    assert "entries 3..3 are missing (deleted)" in report.problems
    assert not report.ok


def test_swapped_entries_are_named(vault: Path) -> None:
    _tamper(
        vault,
        "UPDATE audit SET seq = -1 WHERE seq = 5",
        "UPDATE audit SET seq = 5 WHERE seq = 6",
        "UPDATE audit SET seq = 6 WHERE seq = -1",
    )
    report = _verify(vault)
    assert "entry 5 (test.step) was edited: its hash does not match its content" in report.problems
    assert "entry 6 (test.step) was edited: its hash does not match its content" in report.problems


def test_swapped_entries_with_renumbered_hashes_are_named(vault: Path) -> None:
    """Even if the forger recomputes each swapped entry's own hash, the chain links expose the swap."""
    with open_raw_vault(vault, ADMIN) as v:
        rows = {
            r[0]: r
            for r in v.con.execute(
                "SELECT seq, occurred_at, actor, action, objects, counts, prev_hash FROM audit WHERE seq IN (5, 6)"
            ).fetchall()
        }
        v.con.execute("DELETE FROM audit WHERE seq IN (5, 6)")
        for new_seq, old in ((5, rows[6]), (6, rows[5])):
            digest = audit.entry_hash(new_seq, *old[1:])
            v.con.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [new_seq, *old[1:], digest])
    report = _verify(vault)
    assert any(p.startswith("entry 5 (test.step) does not follow entry 4") for p in report.problems)


def test_truncated_chain_is_detected(vault: Path) -> None:
    _tamper(vault, "DELETE FROM audit WHERE seq >= 7")
    report = _verify(vault)
    assert report.problems == ["the chain was truncated: it ends at entry 6 but the head records 9 entries"]
    proc = cli_in_process("audit", "verify", str(vault), "--json")
    assert proc.returncode == 5
    doc = json.loads(proc.stdout)
    assert doc["ok"] is False
    assert doc["entries"] == 6
    assert doc["head_entries"] == 9


def test_forged_head_is_detected(vault: Path) -> None:
    head = json.loads((vault / "audit.head").read_text())
    head["count"] = 6
    (vault / "audit.head").write_text(json.dumps(head))
    report = _verify(vault)
    assert report.problems == [f"{vault / 'audit.head'}: the audit head failed its authentication check"]


def test_crash_between_commit_and_head_update_is_repaired(vault: Path) -> None:
    """A pending head that matches the database is promoted on open; a stale one is discarded."""
    with open_raw_vault(vault, ADMIN) as v:
        key = v.keys.derive("audit-head")
        with v.transaction():
            v.record("test.step", {"step": 99})
        count, digest = audit.last(v.con)
    # Simulate the crash: the head file still holds the previous state, the pending file the new one.
    audit.write_head(vault, key, v.vault_id, count, digest, pending=True)
    audit.write_head(vault, key, v.vault_id, count - 1, "0" * 64)
    assert _verify(vault).ok
    assert not (vault / audit.PENDING_FILE).exists()
    # A pending head from a transaction that never committed is thrown away.
    audit.write_head(vault, key, v.vault_id, count + 1, "f" * 64, pending=True)
    assert _verify(vault).ok


def test_audit_entries_refuse_free_text() -> None:
    with pytest.raises(ValueError, match="short tokens"):
        audit._check_payload("rights.open", {"request": "Jane Smith, 12 High Street"}, {})
    with pytest.raises(ValueError, match="integers"):
        audit._check_payload("ingest.delivery", {}, {"rows": "12"})  # type: ignore[dict-item]
    audit._check_payload("ingest.delivery", {"sha256": "ab" * 32, "la": "E08000030"}, {"rows": 12})
