"""The hash-chained audit log on a bare table: what an entry may carry, the chain, the authenticated head."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from cscvault.audit import (
    GENESIS,
    HEAD_FILE,
    PENDING_FILE,
    append,
    entries,
    last,
    read_head,
    reconcile_pending,
    verify,
    write_head,
)
from cscvault.errors import TamperedError

KEY = b"k" * 32
VAULT = "vault-1"
TABLE = (
    "CREATE TABLE audit (seq BIGINT, occurred_at VARCHAR, actor VARCHAR, action VARCHAR, objects VARCHAR, "
    "counts VARCHAR, prev_hash VARCHAR, hash VARCHAR)"
)


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect(":memory:")
    c.execute(TABLE)
    yield c
    c.close()


def _log(con: duckdb.DuckDBPyConnection, vault_dir: Path, n: int = 3) -> None:
    for i in range(n):
        append(con, "admin", "ingest.delivery", {"delivery": f"d{i}"}, {"rows": 10 * i})
    write_head(vault_dir, KEY, VAULT, *last(con))


def test_entries_chain_from_genesis(con: duckdb.DuckDBPyConnection) -> None:
    assert last(con) == (0, GENESIS)
    a = append(con, "admin", "vault.init")
    b = append(con, "admin", "user.add", {"user": "analyst"}, {"users": 2})
    assert (a.seq, a.prev_hash) == (1, GENESIS)
    assert (b.seq, b.prev_hash) == (2, a.hash)
    assert b.objects == '{"user":"analyst"}' and b.counts == '{"users":2}'
    assert last(con) == (2, b.hash)
    assert [e.seq for e in entries(con)] == [2, 1]  # newest first
    assert [e.seq for e in entries(con, limit=1, offset=1)] == [1]


@pytest.mark.parametrize(
    ("action", "objects", "counts"),
    [
        ("ingest delivery!", {}, {}),  # not a dotted identifier
        ("rights.access", {"note": "child called Alice Smith"}, {}),  # free text
        ("rights.access", {"Bad Key": "r1"}, {}),
        ("rights.access", {"flag": True}, {}),  # not an id
        ("rights.access", {"ids": ["r1", 2.5]}, {}),
        ("ingest.delivery", {}, {"rows": "ten"}),
        ("ingest.delivery", {}, {"rows": True}),
    ],
)
def test_entries_refuse_anything_but_ids_and_counts(
    con: duckdb.DuckDBPyConnection, action: str, objects: dict[str, object], counts: dict[str, object]
) -> None:
    with pytest.raises(ValueError, match="audit"):
        append(con, "admin", action, objects, counts)  # type: ignore[arg-type]
    assert last(con) == (0, GENESIS)  # nothing was written


def test_an_honest_log_verifies(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _log(con, tmp_path)
    report = verify(con, tmp_path, KEY, VAULT)
    assert report.ok, report.problems
    assert (report.entries, report.head_entries) == (3, 3)


def test_an_edited_entry_is_named(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _log(con, tmp_path)
    con.execute("""UPDATE audit SET counts = '{"rows":999}' WHERE seq = 2""")
    assert verify(con, tmp_path, KEY, VAULT).problems == [
        "entry 2 (ingest.delivery) was edited: its hash does not match its content"
    ]


def test_deleted_last_entries_are_truncation(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _log(con, tmp_path)
    con.execute("DELETE FROM audit WHERE seq = 3")
    problems = verify(con, tmp_path, KEY, VAULT).problems
    assert any("truncated" in p for p in problems), problems


def test_a_deleted_middle_entry_is_named(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _log(con, tmp_path)
    con.execute("DELETE FROM audit WHERE seq = 2")
    problems = verify(con, tmp_path, KEY, VAULT).problems
    assert "entries 2..2 are missing (deleted)" in problems
    assert any("entry 3 (ingest.delivery) does not follow entry 2" in p for p in problems), problems


def test_entries_added_outside_cscvault_are_detected(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _log(con, tmp_path)
    append(con, "mallory", "vault.export")  # appended without updating the authenticated head
    assert any("outside cscvault" in p for p in verify(con, tmp_path, KEY, VAULT).problems)


def test_the_head_is_authenticated(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _log(con, tmp_path)
    assert read_head(tmp_path, KEY, VAULT) == last(con)
    with pytest.raises(TamperedError, match="authentication"):
        read_head(tmp_path, b"x" * 32, VAULT)  # another key (e.g. another vault's)
    with pytest.raises(TamperedError, match="authentication"):
        read_head(tmp_path, KEY, "vault-2")
    (tmp_path / HEAD_FILE).write_text("garbage", encoding="utf-8")
    assert not verify(con, tmp_path, KEY, VAULT).ok
    (tmp_path / HEAD_FILE).unlink()
    assert verify(con, tmp_path, KEY, VAULT).problems == ["the authenticated audit head (audit.head) is missing"]


def test_a_pending_head_is_promoted_when_the_commit_happened(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _log(con, tmp_path)
    append(con, "admin", "user.add", {"user": "checker"})
    write_head(tmp_path, KEY, VAULT, *last(con), pending=True)  # crash before promotion
    reconcile_pending(con, tmp_path, KEY, VAULT)
    assert not (tmp_path / PENDING_FILE).exists()
    assert read_head(tmp_path, KEY, VAULT) == last(con)
    assert verify(con, tmp_path, KEY, VAULT).ok


def test_a_pending_head_is_discarded_when_the_commit_did_not_happen(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    _log(con, tmp_path)
    before = read_head(tmp_path, KEY, VAULT)
    write_head(tmp_path, KEY, VAULT, 4, "f" * 64, pending=True)  # the database never got entry 4
    reconcile_pending(con, tmp_path, KEY, VAULT)
    assert not (tmp_path / PENDING_FILE).exists()
    assert read_head(tmp_path, KEY, VAULT) == before
    assert verify(con, tmp_path, KEY, VAULT).ok
