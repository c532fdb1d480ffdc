"""Restriction, objection, erasure and rectification, enforced in one place.

Every table in the vault's main schema with a `child_key` column holds child-level data. For each one the
`analysis` schema has a view of the same name that (1) leaves out every child who is restricted, has
objected or was erased, and (2) applies the child's corrections (rectifications) over the delivered value.
Analysis code reads only `analysis.<table>`; the exclusions live in the views, so no query can forget them.

Erasure deletes the child's rows from every child-level table and leaves a keyed tombstone in
`subject_status` so that later deliveries carrying the same LA id are dropped on arrival.
"""

from __future__ import annotations

import duckdb

ANALYSIS_SCHEMA = "analysis"
# Bookkeeping tables that name a child key but are not data about the child held for the research.
BOOKKEEPING = frozenset({"subject_status", "requests", "corrections", "request_events"})
EXCLUDED_STATUSES = ("restricted", "objected", "erased")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def child_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Tables in the main schema holding child-level data (those with a child_key column)."""
    rows = con.execute(
        "SELECT DISTINCT c.table_name FROM information_schema.columns c "
        "JOIN information_schema.tables t ON t.table_name = c.table_name AND t.table_schema = c.table_schema "
        "WHERE c.table_schema = 'main' AND c.column_name = 'child_key' AND t.table_type = 'BASE TABLE' "
        "ORDER BY 1"
    ).fetchall()
    return [str(r[0]) for r in rows if str(r[0]) not in BOOKKEEPING]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def _corrected_fields(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    rows = con.execute("SELECT DISTINCT table_name, field FROM main.corrections").fetchall()
    return {(str(t), str(f)) for t, f in rows}


def _select_sql(con: duckdb.DuckDBPyConnection, table: str, corrected: set[tuple[str, str]], filtered: bool) -> str:
    """SELECT for one child-level table with the latest correction of each corrected field applied, and
    (when `filtered`) without restricted, objecting or erased children."""
    replacements = []
    for column, dtype in _columns(con, table).items():
        if (table, column) not in corrected or column == "child_key":
            continue
        match = (
            f"FROM main.corrections c WHERE c.child_key = t.child_key "
            f"AND c.table_name = '{table}' AND c.field = '{column}'"
        )
        latest = f"(SELECT TRY_CAST(c.value AS {dtype}) {match} ORDER BY c.made_at DESC LIMIT 1)"
        replacements.append(
            f"CASE WHEN EXISTS (SELECT 1 {match}) THEN {latest} ELSE t.{_ident(column)} END AS {_ident(column)}"
        )
    select = "t.*" + (f" REPLACE ({', '.join(replacements)})" if replacements else "")
    sql = f"SELECT {select} FROM main.{_ident(table)} t"
    if filtered:
        excluded = ", ".join(f"'{s}'" for s in EXCLUDED_STATUSES)
        sql += (
            f" WHERE t.child_key NOT IN (SELECT s.child_key FROM main.subject_status s WHERE s.status IN ({excluded}))"
        )
    return sql


def views_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether every child-level table has its analysis view (cheap: one catalog query)."""
    views = {
        str(r[0])
        for r in con.execute("SELECT view_name FROM duckdb_views() WHERE schema_name = ?", [ANALYSIS_SCHEMA]).fetchall()
    }
    return set(child_tables(con)) <= views


def refresh_views(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the analysis views. Call after schema changes and after a correction is recorded."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {ANALYSIS_SCHEMA}")
    corrected = _corrected_fields(con)
    for table in child_tables(con):
        con.execute(
            f"CREATE OR REPLACE VIEW {ANALYSIS_SCHEMA}.{_ident(table)} AS {_select_sql(con, table, corrected, True)}"
        )


def records_of(con: duckdb.DuckDBPyConnection, child_key: str) -> dict[str, list[dict[str, object]]]:
    """Every row held about one child, per table, corrections applied. Restriction does not hide a child
    from their own access request, so this reads past the exclusions."""
    corrected = _corrected_fields(con)
    out: dict[str, list[dict[str, object]]] = {}
    for table in child_tables(con):
        cur = con.execute(
            f"SELECT * FROM ({_select_sql(con, table, corrected, False)}) WHERE child_key = ?", [child_key]
        )
        names = [d[0] for d in cur.description or []]
        out[table] = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    return out


def erase(con: duckdb.DuckDBPyConnection, child_key: str) -> dict[str, int]:
    """Delete the child from every child-level table and their corrections; returns rows deleted per table."""
    deleted: dict[str, int] = {}
    for table in child_tables(con):
        count = con.execute(f"SELECT count(*) FROM main.{_ident(table)} WHERE child_key = ?", [child_key]).fetchone()
        n = int(count[0]) if count else 0
        if n:
            con.execute(f"DELETE FROM main.{_ident(table)} WHERE child_key = ?", [child_key])
        deleted[table] = n
    con.execute("DELETE FROM corrections WHERE child_key = ?", [child_key])
    return deleted
