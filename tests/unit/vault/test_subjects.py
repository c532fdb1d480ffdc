"""Restriction, objection, erasure and rectification: the analysis views and the erasure, on a small in-memory
database shaped like the vault's (a child-level table is any base table with a child_key column)."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from cscvault.vault.subjects import child_tables, erase, records_of, refresh_views, views_current

SCHEMA = """
CREATE TABLE subject_status (child_key VARCHAR, status VARCHAR, since TIMESTAMPTZ, request_id VARCHAR);
CREATE TABLE corrections (correction_id VARCHAR, child_key VARCHAR, table_name VARCHAR, field VARCHAR,
    value VARCHAR, request_id VARCHAR, made_at TIMESTAMPTZ, made_by VARCHAR);
CREATE TABLE requests (request_id VARCHAR, child_key VARCHAR);
CREATE TABLE children (child_key VARCHAR, la_code VARCHAR, birth_month DATE, gender VARCHAR);
CREATE TABLE referrals (child_key VARCHAR, referral_date DATE, nfa BOOLEAN);
CREATE TABLE deliveries (delivery_id VARCHAR, rows_read INTEGER);
INSERT INTO children VALUES
    ('k1', 'E1', DATE '2015-03-01', 'female'), ('k2', 'E1', DATE '2016-04-01', 'male'),
    ('k3', 'E1', DATE '2017-05-01', 'male'), ('k4', 'E1', DATE '2018-06-01', 'female'),
    ('k5', 'E1', DATE '2019-07-01', 'male');
INSERT INTO referrals VALUES ('k1', DATE '2020-01-02', false), ('k2', DATE '2020-02-03', true),
    ('k3', DATE '2020-03-04', false), ('k4', DATE '2020-04-05', false), ('k4', DATE '2021-04-05', true);
INSERT INTO subject_status VALUES ('k2', 'restricted', now(), 'r1'), ('k3', 'objected', now(), 'r2'),
    ('k4', 'erased', now(), 'r3');
"""


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect(":memory:")
    c.execute(SCHEMA)
    refresh_views(c)
    yield c
    c.close()


def _keys(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"SELECT DISTINCT child_key FROM analysis.{table} ORDER BY 1").fetchall()]


def _correct(con: duckdb.DuckDBPyConnection, cid: str, key: str, field: str, value: str, at: str) -> None:
    con.execute(
        "INSERT INTO corrections VALUES (?, ?, 'children', ?, ?, 'r9', CAST(? AS TIMESTAMPTZ), 'dpo')",
        [cid, key, field, value, at],
    )


def test_child_tables_are_the_data_tables_with_a_child_key(con: duckdb.DuckDBPyConnection) -> None:
    # Bookkeeping tables name a child key but are not research data; views are not tables.
    assert child_tables(con) == ["children", "referrals"]


def test_analysis_views_leave_out_restricted_objecting_and_erased_children(con: duckdb.DuckDBPyConnection) -> None:
    assert _keys(con, "children") == ["k1", "k5"]
    assert _keys(con, "referrals") == ["k1"]
    # Lifting a restriction brings the child back at once: the views are queries, not copies.
    con.execute("DELETE FROM subject_status WHERE child_key = 'k2'")
    assert _keys(con, "children") == ["k1", "k2", "k5"]


def test_views_current_notices_a_new_child_table(con: duckdb.DuckDBPyConnection) -> None:
    assert views_current(con)
    con.execute("CREATE TABLE episodes (child_key VARCHAR, start DATE)")
    assert not views_current(con)
    refresh_views(con)
    assert views_current(con)


def test_the_latest_correction_replaces_the_delivered_value_typed(con: duckdb.DuckDBPyConnection) -> None:
    _correct(con, "c1", "k1", "birth_month", "2015-01-01", "2026-01-01 10:00:00+00")
    _correct(con, "c2", "k1", "birth_month", "2015-02-01", "2026-02-01 10:00:00+00")  # later: wins
    _correct(con, "c3", "k5", "gender", "female", "2026-01-01 10:00:00+00")
    refresh_views(con)
    rows = dict(con.execute("SELECT child_key, CAST(birth_month AS VARCHAR) FROM analysis.children").fetchall())
    assert rows == {"k1": "2015-02-01", "k5": "2019-07-01"}
    assert con.execute("SELECT typeof(birth_month) FROM analysis.children LIMIT 1").fetchone() == ("DATE",)
    genders = dict(con.execute("SELECT child_key, gender FROM analysis.children").fetchall())
    assert genders == {"k1": "female", "k5": "female"}
    # The delivered value itself is kept, with the correction beside it (provenance).
    assert con.execute("SELECT gender FROM main.children WHERE child_key = 'k5'").fetchone() == ("male",)


def test_records_of_a_restricted_child_are_still_given_to_them(con: duckdb.DuckDBPyConnection) -> None:
    _correct(con, "c1", "k2", "gender", "female", "2026-01-01 10:00:00+00")
    records = records_of(con, "k2")
    assert set(records) == {"children", "referrals"}
    assert [r["gender"] for r in records["children"]] == ["female"]
    assert len(records["referrals"]) == 1
    assert records_of(con, "nobody") == {"children": [], "referrals": []}


def test_erasure_deletes_every_row_and_correction_but_keeps_the_tombstone(con: duckdb.DuckDBPyConnection) -> None:
    _correct(con, "c1", "k4", "gender", "male", "2026-01-01 10:00:00+00")
    _correct(con, "c2", "k1", "gender", "male", "2026-01-01 10:00:00+00")
    assert erase(con, "k4") == {"children": 1, "referrals": 2}
    assert records_of(con, "k4") == {"children": [], "referrals": []}
    assert con.execute("SELECT child_key FROM corrections").fetchall() == [("k1",)]
    # The keyed tombstone stays, so a later delivery of the same child is dropped on arrival.
    assert con.execute("SELECT status FROM subject_status WHERE child_key = 'k4'").fetchall() == [("erased",)]
    assert erase(con, "k4") == {"children": 0, "referrals": 0}
