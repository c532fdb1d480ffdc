"""Loading deliveries into the vault: one file, one transaction, all or nothing.

`read_and_screen` (pure) has already read the file, screened identifiers, recoded, validated and minimised it.
Here, inside the vault:
- a delivery is identified by its SHA-256: loading the same file again does nothing (idempotent);
- the LA's child id becomes the keyed pseudonym `child_key`, and the LA id is dropped;
- children erased earlier (tombstones) are dropped on arrival and only counted;
- rows already held from an overlapping return (same child and natural key) are stored once;
- a child's attributes fill gaps from later deliveries; a later value that disagrees with a held one, or with
  a rectification, is a finding (the held value and the correction stand);
- findings and quarantined values are stored with the delivery; the audit entry carries counts only.
A crash at any point leaves the delivery wholly loaded or not at all (one DuckDB transaction).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import stat
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from cscvault.errors import EXIT_BAD_DATA, CscvaultError, UsageError
from cscvault.formats.base import Finding
from cscvault.formats.rules import rule
from cscvault.ingest.clean import forget_checked
from cscvault.ingest.package import extracted_package, looks_like_package
from cscvault.ingest.pipeline import ScreenedDelivery, read_and_screen, sha256_of, to_arrow
from cscvault.ingest.workers import default_workers, screened_in_order
from cscvault.vault import Vault
from cscvault.vault.identity import vault_identity
from cscvault.vault.pseudonyms import child_key, child_keys

# Rows with equal natural keys are the same record seen in two deliveries (overlapping returns).
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "referrals": ("child_key", "referral_date"),
    "assessments": ("child_key", "start_date"),
    "cin_plans": ("child_key", "start_date"),
    "s47_enquiries": ("child_key", "start_date"),
    "cp_plans": ("child_key", "start_date"),
    "pre_proceedings": ("child_key", "start_date"),
    "care_proceedings": ("child_key", "issue_date"),
    "cla_episodes": ("child_key", "start_date"),
    "attendance_terms": ("child_key", "term"),
    "fsm_pupil_premium": ("child_key", "census_date"),
    "la_month_aggregates": ("la_code", "month", "measure"),
}
CHILD_ATTRIBUTES = ("gender", "ethnicity", "disability", "uasc")
# Files that sit beside returns but are not returns (synthetic truth, bait manifests, package manifests).
NOT_RETURNS = frozenset({"truth.json", "bait_manifest.json", "manifest.json"})

Progress = Callable[[str, int, int], None]  # (file name, done, total)


@dataclass
class DeliveryResult:
    sha256: str
    file_name: str
    status: str  # "loaded", "rejected", "already loaded"
    rows_read: int = 0
    rows_loaded: int = 0
    findings: dict[str, int] = field(default_factory=dict)
    tombstoned: int = 0
    duplicates: int = 0
    reason: str | None = None  # why a file that could not be read at all was rejected (no rule id)


@dataclass
class IngestReport:
    deliveries: list[DeliveryResult] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        return sum(d.status == "loaded" for d in self.deliveries)

    @property
    def rejected(self) -> int:
        return sum(d.status == "rejected" for d in self.deliveries)

    @property
    def skipped(self) -> int:
        return sum(d.status == "already loaded" for d in self.deliveries)


def check_inputs(paths: Iterable[Path]) -> None:
    """Refuse, before anything is read or loaded, a path that is missing or is not a regular file or a folder.

    `os.stat` never opens the file, so a FIFO (which would block the first read forever), a device or a socket
    is refused at once; a folder with no return file in it is refused too, so a typo is never "0 deliveries".
    """
    for p in paths:
        try:
            mode = Path(p).stat().st_mode
        except FileNotFoundError:
            raise UsageError(f"{p}: no such file or folder; nothing was loaded") from None
        except OSError as exc:
            raise UsageError(f"{p}: cannot be read ({exc.strerror}); nothing was loaded") from None
        if stat.S_ISDIR(mode):
            if not expand_paths([p]):
                raise UsageError(f"{p}: a folder with no return files in it; nothing was loaded")
        elif not stat.S_ISREG(mode):
            raise UsageError(f"{p}: not a regular file (a FIFO, device or socket); nothing was loaded")


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given, and every regular file under a folder (sorted, so runs are reproducible)."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if _regular(f) and not f.name.startswith("."))
        else:
            found.append(p)
    return [f for f in found if f.name not in NOT_RETURNS]


def ingest_files(
    vault: Vault, paths: Iterable[Path], progress: Progress | None = None, *, workers: int | None = None
) -> IngestReport:
    """Load each file (or package) as one delivery, in order. Files are read and screened in worker
    processes (`workers`; default: one per core for a large job, none for a small one) while earlier
    files are committed here; the result is the same as reading them one by one."""
    vault.require_role("admin")
    paths = list(paths)
    check_inputs(paths)
    files = expand_paths(paths)
    report = IngestReport()
    # A file already in the vault is not read again (re-runs are cheap and change nothing).
    held: dict[Path, str] = {}
    to_screen: list[Path] = []
    for path in files:
        if looks_like_package(path):
            continue
        try:
            digest = sha256_of(path) if path.is_file() else ""
        except OSError:
            digest = ""  # read_and_screen names the problem when this file's turn comes
        if digest and already_loaded(vault.con, digest):
            held[path] = digest
        else:
            to_screen.append(path)
    n_workers = default_workers(to_screen) if workers is None else workers
    with (
        contextlib.closing(screened_in_order(to_screen, vault.study, n_workers)) as screened,
        _forgetting_checked_values(),
    ):
        for i, path in enumerate(files):
            if progress:
                progress(path.name, i, len(files))
            if path in held:
                report.deliveries.append(DeliveryResult(held[path], path.name, "already loaded"))
            elif looks_like_package(path):
                report.deliveries += ingest_package(vault, path)
            else:
                got_path, result = next(screened)
                assert got_path == path
                if isinstance(result, CscvaultError):
                    if result.exit_code != EXIT_BAD_DATA:
                        raise result
                    # A file no reader could get through is rejected like any other; the rest still load.
                    report.deliveries.append(DeliveryResult("", path.name, "rejected", reason=result.message))
                    continue
                report.deliveries.append(load_screened(vault, result))
    if progress:
        progress("", len(files), len(files))
    return report


@contextlib.contextmanager
def _forgetting_checked_values() -> Iterator[None]:
    try:
        yield
    finally:
        forget_checked()


def ingest_package(vault: Vault, path: Path) -> list[DeliveryResult]:
    """An LA's age-encrypted package: its manifest is verified (an altered file is refused, naming it), then each
    file is a delivery. The decrypted files live only in a private RAM-backed folder while they are read."""
    results = []
    with extracted_package(path, vault_identity(vault)) as (package, files):
        for f in files:
            results.append(ingest_file(vault, f, la=package.la, return_label=package.return_label(f.name)))
    return results


def already_loaded(con: duckdb.DuckDBPyConnection, sha256: str) -> bool:
    """A file whose content was loaded before. A rejected file is never "already loaded": the same bytes are
    screened (and, if still bad, rejected) again, so an empty or broken file cannot shadow a later one."""
    row = con.execute("SELECT 1 FROM deliveries WHERE sha256 = ? AND NOT rejected", [sha256]).fetchone()
    return row is not None


def ingest_file(vault: Vault, path: Path, la: str | None = None, return_label: str | None = None) -> DeliveryResult:
    digest = sha256_of(path) if path.is_file() else ""
    if digest and already_loaded(vault.con, digest):
        return DeliveryResult(digest, path.name, "already loaded")
    screened = read_and_screen(path, vault.study, la=la, return_label=return_label)
    return load_screened(vault, screened)


def load_screened(vault: Vault, screened: ScreenedDelivery) -> DeliveryResult:
    """Commit one screened delivery (or, when rejected, its findings only) in one transaction."""
    if already_loaded(vault.con, screened.sha256):
        return DeliveryResult(screened.sha256, screened.file, "already loaded")
    extra: list[Finding] = []
    counts: Counter[str] = Counter()
    loaded_tables: dict[str, int] = {}
    with vault.transaction() as con:
        if not screened.rejected and screened.la is not None:
            tables = to_arrow(screened)
            # One HMAC per distinct child per delivery, not per table (the same ids recur in every table).
            ids, keys = _child_keys(tables.values(), vault.keys.pseudonym_key, screened.la.ons_code)
            for table, frame in tables.items():
                if frame.num_rows == 0:
                    continue
                if "la_child_id" in frame.column_names:
                    frame = _with_child_key(frame, ids, keys)
                loaded_tables[table] = _load_table(
                    con, table, frame, screened.la.ons_code, screened.sha256, screened.file, counts, extra
                )
        _store_delivery(vault, con, screened, loaded_tables, counts, extra)
    findings = Counter(f.rule_id for f in [*screened.findings, *extra])
    return DeliveryResult(
        screened.sha256,
        screened.file,
        "rejected" if screened.rejected else "loaded",
        screened.rows_read,
        sum(loaded_tables.values()),
        dict(sorted(findings.items())),
        counts["tombstoned"],
        counts["duplicates"],
    )


def _child_keys(frames: Iterable[pa.Table], key: bytes, la_code: str) -> tuple[pa.Array, pa.Array]:
    """The distinct LA ids of the delivery's tables and their `child_key`s (computed once each)."""
    ids = [f["la_child_id"].cast(pa.string()) for f in frames if "la_child_id" in f.column_names]
    if not ids:
        return pa.array([], pa.string()), pa.array([], pa.string())
    distinct = pc.drop_null(pc.unique(pa.chunked_array([c for i in ids for c in i.chunks], pa.string())))
    return distinct, pa.array(child_keys(key, la_code, distinct.to_pylist()), pa.string())


def _with_child_key(frame: pa.Table, ids: pa.Array, keys: pa.Array) -> pa.Table:
    """As `pseudonymise_frame`, from precomputed keys: `child_key` first, in place of the LA id."""
    where = pc.index_in(frame["la_child_id"].cast(pa.string()), value_set=ids)
    child = pc.take(keys, where)
    return frame.drop_columns(["la_child_id"]).add_column(0, "child_key", child)


_COLUMN_CACHE: dict[tuple[int, str], list[str]] = {}


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The table's columns (cached per connection: the schema changes only through migrations at open)."""
    cache_key = (id(con), table)
    if cache_key in _COLUMN_CACHE:
        return _COLUMN_CACHE[cache_key]
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ? "
        "ORDER BY ordinal_position",
        [table],
    ).fetchall()
    _COLUMN_CACHE[cache_key] = [str(r[0]) for r in rows]
    return _COLUMN_CACHE[cache_key]


def _load_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pa.Table,
    la_code: str,
    delivery: str,
    file_name: str,
    counts: Counter[str],
    extra: list[Finding],
) -> int:
    present = set(frame.column_names) | {"la_code", "delivery"}
    columns = [c for c in _columns(con, table) if c in present]
    # Copy the Arrow table once into a temporary table: the queries below read it up to four times.
    # The delivery's LA code and SHA-256 are the same on every row: added here, as parameters.
    own = [c for c in columns if c in frame.column_names and c not in {"la_code", "delivery"}]
    select = ", ".join([*(f'"{c}"' for c in own), "?::VARCHAR AS la_code", "?::VARCHAR AS delivery"])
    con.register("incoming_frame", frame.select(own))
    try:
        con.execute(f"CREATE TEMP TABLE incoming AS SELECT {select} FROM incoming_frame", [la_code, delivery])
    finally:
        con.unregister("incoming_frame")
    try:
        if "child_key" in columns:
            erased = "(SELECT child_key FROM subject_status WHERE status = 'erased')"
            dropped = con.execute(f"SELECT count(*) FROM incoming WHERE child_key IN {erased}").fetchone()
            n_dropped = int(dropped[0]) if dropped else 0
            if n_dropped:
                counts["tombstoned"] += n_dropped
                extra.append(_finding("LINK-010", file_name, table, "child_key", table=table))
            source = f"(SELECT * FROM incoming WHERE child_key NOT IN {erased})"
        else:
            source = "incoming"
        cols = ", ".join(f'"{c}"' for c in columns)
        if table == "children":
            return _load_children(con, source, cols, file_name, counts, extra)
        keys = NATURAL_KEYS.get(table, ())
        match = " AND ".join(f't."{k}" IS NOT DISTINCT FROM n."{k}"' for k in keys)
        new_rows = f"SELECT {cols} FROM {source} n" + (
            f" WHERE NOT EXISTS (SELECT 1 FROM main.{table} t WHERE {match})" if keys else ""
        )
        before = con.execute(f"SELECT count(*) FROM {source} n").fetchone()
        # INSERT answers the number of rows it wrote: this delivery's rows in the table (it is new, and each
        # table is loaded once per delivery), without scanning the whole table for them.
        after = con.execute(f"INSERT INTO main.{table} ({cols}) {new_rows}").fetchone()
        inserted = int(after[0]) if after else 0
        duplicates = (int(before[0]) if before else 0) - inserted
        if duplicates and keys:
            counts["duplicates"] += duplicates
            extra.append(_finding("LINK-013", file_name, table, ",".join(keys), table=table))
            # The same record from another return or format may carry fields the held row lacks (a DR2
            # referral has previous plans, the CIN census one does not): fill the gaps, never overwrite.
            fillable = [c for c in columns if c not in keys and c not in {"delivery", "la_code"}]
            if fillable:
                sets = ", ".join(f'"{c}" = coalesce(t."{c}", n."{c}")' for c in fillable)
                con.execute(
                    f"UPDATE main.{table} t SET {sets} FROM {source} n WHERE {match} AND t.delivery <> ?",
                    [delivery],
                )
        return inserted
    finally:
        con.execute("DROP TABLE IF EXISTS temp.incoming")


def _load_children(
    con: duckdb.DuckDBPyConnection, source: str, cols: str, file_name: str, counts: Counter[str], extra: list[Finding]
) -> int:
    con.execute(f"CREATE TEMP TABLE incoming_children AS SELECT {cols} FROM {source} n")
    try:
        present = [c for c in CHILD_ATTRIBUTES if f'"{c}"' in cols]
        conflicts: tuple[Any, ...] = ()
        if present:
            # One join with the held children for every attribute (the table grows with each delivery).
            counted = ", ".join(
                f'count(*) FILTER (WHERE t."{a}" IS NOT NULL AND n."{a}" IS NOT NULL AND t."{a}" <> n."{a}")'
                for a in present
            )
            conflicts = (
                con.execute(
                    f"SELECT {counted} FROM incoming_children n JOIN main.children t USING (child_key)"
                ).fetchone()
                or ()
            )
        for attr, conflict in zip(present, conflicts, strict=True):
            if conflict:
                counts["conflicts"] += int(conflict)
                extra.append(_finding("LINK-011", file_name, "children", attr, field=attr))
            corrected = con.execute(
                f"SELECT count(*) FROM incoming_children n JOIN main.corrections c ON c.child_key = n.child_key "
                f"AND c.table_name = 'children' AND c.field = '{attr}' "
                f'WHERE n."{attr}" IS NOT NULL AND CAST(n."{attr}" AS VARCHAR) IS DISTINCT FROM c.value'
            ).fetchone()
            if corrected and corrected[0]:
                extra.append(_finding("LINK-012", file_name, "children", attr, field=attr))
        if present:
            # Fill each attribute the held row lacks; a held value is never overwritten.
            sets = ", ".join(f'"{a}" = coalesce(t."{a}", n."{a}")' for a in present)
            gaps = " OR ".join(f'(t."{a}" IS NULL AND n."{a}" IS NOT NULL)' for a in present)
            con.execute(
                f"UPDATE main.children t SET {sets} FROM incoming_children n "
                f"WHERE t.child_key = n.child_key AND ({gaps})"
            )
        inserted = con.execute(
            f"INSERT INTO main.children ({cols}) SELECT {cols} FROM incoming_children n "
            "WHERE NOT EXISTS (SELECT 1 FROM main.children t WHERE t.child_key = n.child_key)"
        ).fetchone()
        return int(inserted[0]) if inserted else 0
    finally:
        con.execute("DROP TABLE incoming_children")


def _finding(rule_id: str, file_name: str, location: str, field_name: str, **params: object) -> Finding:
    r = rule(rule_id)
    return Finding(file_name, location, field_name, r.id, r.severity, r.message(**params))


def _store_delivery(
    vault: Vault,
    con: duckdb.DuckDBPyConnection,
    screened: ScreenedDelivery,
    loaded_tables: dict[str, int],
    counts: Counter[str],
    extra: list[Finding],
) -> None:
    findings = [*screened.findings, *extra]
    by_rule = dict(sorted(Counter(f.rule_id for f in findings).items()))
    # The same bytes rejected before: this screening replaces that record (and its findings).
    for table, column in (("findings", "delivery"), ("quarantine", "delivery"), ("deliveries", "sha256")):
        con.execute(f"DELETE FROM {table} WHERE {column} = ?", [screened.sha256])
    con.execute(
        "INSERT INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            screened.sha256,
            screened.file,
            screened.la_code,
            screened.return_label,
            screened.collection_year,
            screened.format,
            screened.rows_read,
            sum(loaded_tables.values()),
            screened.rejected,
            json.dumps(screened.dropped_columns),
            json.dumps(by_rule),
            json.dumps(loaded_tables),
            counts["tombstoned"],
            counts["duplicates"],
            len(screened.quarantine),
            dt.datetime.now(dt.UTC),
            vault.actor,
        ],
    )
    if findings:
        con.executemany(
            "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?)",
            [[screened.sha256, f.location, f.field, f.rule_id, f.severity, f.message] for f in findings],
        )
    if screened.quarantine:
        key = vault.keys.pseudonym_key
        erased = {
            str(r[0]) for r in con.execute("SELECT child_key FROM subject_status WHERE status = 'erased'").fetchall()
        }
        rows = []
        for q in screened.quarantine:
            owner = None
            if q.la_child_id and screened.la is not None:
                owner = child_key(key, screened.la.ons_code, q.la_child_id)
            if owner in erased:
                continue  # an erased child's values never come back, not even into quarantine
            rows.append([screened.sha256, owner, q.location, q.field, q.rule_id, q.value])
        if rows:
            con.executemany("INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?)", rows)
    vault.record(
        "ingest.delivery",
        {"sha256": screened.sha256, "la": screened.la_code or "unknown", "format": screened.format},
        {
            "rows_read": screened.rows_read,
            "rows_loaded": sum(loaded_tables.values()),
            "findings": len(findings),
            "rejected": int(screened.rejected),
            "tombstoned": counts["tombstoned"],
            "duplicates": counts["duplicates"],
            "quarantined": len(screened.quarantine),
        },
    )
