"""Reading every used block of the vault database, so damage anywhere in it is found now, not mid-analysis.

DuckDB checks a block's AES-GCM tag only when it reads the block, and it reads lazily: a query touches the
columns and row groups it needs, and a primary-key index is loaded only along the paths a lookup follows.
`read_every_block` therefore (1) reads every column of every table in full and (2) probes every primary-key
and unique index with every key it holds, inside a transaction that is always rolled back. Any block that
fails its tag (or a structure DuckDB cannot decode) raises; callers turn that into `TamperedError` (exit 5).
Blocks on DuckDB's free list hold no data and are not read.
"""

from __future__ import annotations

import contextlib

import duckdb

from cscvault.errors import TamperedError

PROBE_ROWS = 2048  # one DuckDB vector: an INSERT checks all of a chunk's keys before it reports a conflict


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' "
        "ORDER BY table_name"
    ).fetchall()
    return [str(r[0]) for r in rows]


def _unique_constraints(con: duckdb.DuckDBPyConnection) -> dict[str, list[list[str]]]:
    rows = con.execute(
        "SELECT table_name, constraint_column_names FROM duckdb_constraints() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND constraint_type IN ('PRIMARY KEY', 'UNIQUE') ORDER BY table_name"
    ).fetchall()
    found: dict[str, list[list[str]]] = {}
    for table, columns in rows:
        found.setdefault(str(table), []).append([str(c) for c in columns])
    return found


def _varchar_columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' "
        "AND table_name = ? AND data_type = 'VARCHAR'",
        [table],
    ).fetchall()
    return {str(r[0]) for r in rows}


def read_every_block(con: duckdb.DuckDBPyConnection) -> int:
    """Read all table data and every index entry; returns the number of rows read. Raises duckdb.Error."""
    rows = 0
    for table in _tables(con):
        got = con.execute(f'SELECT count(*), bit_xor(hash(COLUMNS(*))) FROM main."{table}"').fetchone()
        rows += int(got[0]) if got else 0
    for table, constraints in _unique_constraints(con).items():
        n = con.execute(f'SELECT count(*) FROM main."{table}"').fetchone()
        total = int(n[0]) if n else 0
        varchar = _varchar_columns(con, table)
        for probed in constraints:
            # Change the other unique columns so that only this index reports the (expected) conflicts.
            others = {c for cs in constraints if cs is not probed for c in cs if c not in probed}
            if not others <= varchar:
                continue  # cannot make the other keys unique: that index is probed through its own pass
            select = "*" + (
                " REPLACE (" + ", ".join(f'"{c}" || chr(31) || \'probe\' AS "{c}"' for c in sorted(others)) + ")"
                if others
                else ""
            )
            for offset in range(0, total, PROBE_ROWS):
                _probe(con, table, select, offset)
    return rows


def _probe(con: duckdb.DuckDBPyConnection, table: str, select: str, offset: int) -> None:
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            f'INSERT INTO main."{table}" SELECT {select} FROM main."{table}" ORDER BY ALL LIMIT ? OFFSET ?',
            [PROBE_ROWS, offset],
        )
    except duckdb.ConstraintException:
        pass  # the expected answer: every key is already there (and every index node on the way was read)
    finally:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")


def damaged(where: object) -> TamperedError:
    return TamperedError(f"{where}: the database is tampered or damaged (a block failed its integrity check)")
