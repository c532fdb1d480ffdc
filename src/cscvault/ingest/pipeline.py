"""The pure half of ingest: one file in, screened canonical tables and findings out.

`read_and_screen(path, study)` detects the format by content, reads, screens identifiers, parses
and checks dates, recodes, repairs ids, derives ages, de-duplicates and minimises. It touches no
vault: the caller pseudonymises `la_child_id` (see `pseudonymise.pseudonymise_frame`), encrypts
the quarantine and commits everything in one transaction - or nothing when `rejected`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from cscvault.errors import CscvaultError, DataError, UsageError
from cscvault.formats.base import LOC, Collector, Finding, QuarantineItem, Staged
from cscvault.formats.dr_returns import la_from_name
from cscvault.formats.recode import table as code_table
from cscvault.formats.registry import detect, read_head
from cscvault.formats.text import looks_binary
from cscvault.ingest.clean import clean_tables
from cscvault.ingest.link import collapse_children, drop_duplicates, split_conflicting_ids
from cscvault.ingest.minimise import birth_months, derive_ages, minimise
from cscvault.ingest.schema import TABLES, FieldSpec
from cscvault.study.model import LocalAuthority, Study

_BOOL_FIELDS = frozenset({"unborn", "kinship", "returned_home"})
_INT_FIELDS = frozenset({"age_months"})


@dataclass
class ScreenedDelivery:
    """Everything the caller needs to load one file (or to refuse it)."""

    file: str
    sha256: str
    format: str
    la: LocalAuthority | None
    return_label: str | None
    collection_year: str | None
    rows_read: int
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    dropped_columns: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    quarantine: list[QuarantineItem] = field(default_factory=list)
    # LA child id -> birth month, for later files of the same LA without dates of birth (held in
    # memory only; never stored, never printed).
    birth_months: dict[str, dt.date] = field(default_factory=dict, repr=False)
    # The tables as Arrow, when they crossed from a worker process that way (`tables` is then empty).
    arrow: dict[str, pa.Table] = field(default_factory=dict, repr=False)

    @property
    def rejected(self) -> bool:
        """A fatal finding: load nothing from this file."""
        return any(f.severity == "fatal" for f in self.findings)

    @property
    def la_code(self) -> str | None:
        return self.la.ons_code if self.la else None

    @property
    def rows_loaded(self) -> int:
        return 0 if self.rejected else sum(self.table_rows().values())

    def table_rows(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.tables.items()} or {k: v.num_rows for k, v in self.arrow.items()}

    def findings_by_rule(self) -> dict[str, int]:
        return dict(sorted(Counter(f.rule_id for f in self.findings).items()))

    def findings_by_severity(self) -> dict[str, int]:
        return dict(Counter(f.severity for f in self.findings))

    def summary(self) -> dict[str, Any]:
        """The delivery fields of `cscvault quality --json` (no child-level value)."""
        return {
            "sha256": self.sha256,
            "file_name": self.file,
            "la": self.la.name if self.la else None,
            "la_code": self.la_code,
            "return": self.return_label,
            "collection_year": self.collection_year,
            "format": self.format,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rejected": self.rejected,
            "tables": self.table_rows(),
            "dropped_columns": list(self.dropped_columns),
            "findings": self.findings_by_rule(),
            "findings_by_severity": self.findings_by_severity(),
            "quarantined": len(self.quarantine),
        }


def to_arrow(delivery: ScreenedDelivery) -> dict[str, pa.Table]:
    """The delivery's tables as Arrow (what the vault load reads), without the pandas index."""
    if delivery.arrow and not delivery.tables:
        return dict(delivery.arrow)
    return {name: pa.Table.from_pandas(df, preserve_index=False) for name, df in delivery.tables.items()}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_and_screen(
    path: str | Path,
    study: Study,
    *,
    la: str | None = None,
    return_label: str | None = None,
    known_birth_months: Mapping[str, dt.date] | None = None,
    debug: bool = False,
) -> ScreenedDelivery:
    """Read one return file and run every pure ingest step on it.

    `la` / `return_label` override what the file says (from a package manifest, say).
    `known_birth_months` (LA child id -> birth month) lets files without dates of birth (903
    episodes) get ages. Bad data gives findings; a reader failure gives a one-line `DataError`
    (with `debug`, the original exception propagates, for tests).
    """
    p = Path(path)
    if la is not None:
        study.la(la)  # an LA the caller names must be one of the study's (UsageError otherwise)
    if not p.exists():
        raise UsageError(f"{p.name}: file not found")
    if not p.is_file():
        raise UsageError(f"{p.name}: not a file")
    try:
        digest = sha256_of(p)
        head = read_head(p)
    except OSError as exc:
        raise UsageError(f"{p.name}: cannot be read ({exc.strerror})") from None
    sink = Collector(file=p.name)
    delivery = ScreenedDelivery(p.name, digest, "unknown", None, return_label, None, 0)
    try:
        _run(p, head, study, sink, delivery, la, return_label, known_birth_months)
    except CscvaultError:
        raise
    except Exception as exc:
        if debug:
            raise
        raise DataError(
            f"{p.name}: the {delivery.format} reader failed ({type(exc).__name__}); nothing was loaded"
        ) from None
    delivery.findings = sink.findings
    delivery.quarantine = sink.quarantine
    delivery.dropped_columns = sink.dropped_columns
    if delivery.rejected:
        delivery.tables = {}
    return delivery


def _run(
    p: Path,
    head: bytes,
    study: Study,
    sink: Collector,
    delivery: ScreenedDelivery,
    la: str | None,
    return_label: str | None,
    known_birth_months: Mapping[str, dt.date] | None,
) -> None:
    if not head.strip():
        sink.add("FMT-002")
        return
    reader = detect(p, head)
    if reader is None:
        if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") and (b"<!DOCTYPE" in head or b"<!ENTITY" in head):
            sink.add("FMT-005")
        elif looks_binary(head) and not head.startswith(b"PK"):
            sink.add("FMT-018")
        else:
            sink.add("FMT-001")
        return
    delivery.format = reader.format
    staged = reader.read(p, sink, study)
    delivery.format = staged.format
    delivery.rows_read = staged.rows_read
    delivery.collection_year = staged.collection_year
    delivery.return_label = return_label or staged.return_label
    if sink.fatal:
        return
    delivery.la = _resolve_la(la or staged.la or la_from_path(p, study), study, sink)
    if delivery.return_label is None:
        sink.add("FMT-022")
    delivery.tables = screen_tables(staged, study, sink, delivery.la, known_birth_months, delivery.birth_months)


def la_from_path(path: Path, study: Study) -> str | None:
    """An LA named by the file name or one of its folders (e.g. returns/lancashire/cin/...)."""
    for part in [path, *list(path.parents)[:3]]:
        found = la_from_name(part, study)
        if found:
            return found
    return None


def _resolve_la(name: str | None, study: Study, sink: Collector) -> LocalAuthority | None:
    if name is not None:
        try:
            return study.la(name)
        except UsageError:
            pass
    sink.add("FMT-014")
    return None


def screen_tables(
    staged: Staged,
    study: Study,
    sink: Collector,
    la: LocalAuthority | None = None,
    known_birth_months: Mapping[str, dt.date] | None = None,
    births_out: dict[str, dt.date] | None = None,
) -> dict[str, pd.DataFrame]:
    """The pure steps on staged tables, in order: check fields, split ids, ages, de-duplicate,
    minimise, type."""
    year = staged.collection_year
    census_year = int(year[:4]) + 1 if year and year[:4].isdigit() else None
    tables = clean_tables(staged.tables, sink, study, census_year)
    tables = split_conflicting_ids(tables, sink)
    tables = derive_ages(tables, sink, known_birth_months)
    if births_out is not None:
        births_out.update(birth_months(tables))
    if "children" in tables:
        children = collapse_children(tables["children"])
        if la is not None:
            children["la_code"] = la.ons_code
        tables["children"] = children
    tables = {name: drop_duplicates(df, name, sink) for name, df in tables.items()}
    tables = minimise(tables, study.data_dictionary, sink)
    return {name: typed(name, df) for name, df in tables.items() if not df.empty}


def typed(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """Arrow-friendly dtypes: dates as date32, flags as boolean, counts as Int64, text as string."""
    df = df.drop(columns=[c for c in (LOC,) if c in df.columns]).reset_index(drop=True)
    kinds = {f.name: f for f in TABLES.get(table, ())}
    for col in df.columns:
        spec = kinds.get(col)
        series = df[col]
        if col in _BOOL_FIELDS or (spec and spec.kind == "code" and code_table(spec.code_table or "").kind == "bool"):
            df[col] = series.astype("boolean")
        elif col in _INT_FIELDS or (spec and _is_count(spec)):
            df[col] = pd.array(series.tolist(), dtype="Int64")
        elif spec and spec.kind in {"date", "link_date", "month"}:
            df[col] = pd.Series(pa.array(series.tolist(), type=pa.date32()), dtype=pd.ArrowDtype(pa.date32()))
        elif spec and spec.kind == "number":
            df[col] = pd.array(series.tolist(), dtype="Float64")
        else:
            df[col] = series.astype("string")
    return df


def _is_count(spec: FieldSpec) -> bool:
    return spec.kind == "count" or (spec.kind == "code" and code_table(spec.code_table or "").kind == "count")


def read_and_screen_all(
    paths: Iterable[str | Path], study: Study, *, debug: bool = False
) -> list[tuple[Path, ScreenedDelivery | CscvaultError]]:
    """Read several files, those that carry dates of birth first (SSDA903 header/UASC tables, CIN
    census, DR2), so that files without them (903 episodes) get ages from the same LA's children.
    Each result is the delivery or the error that file raised; the others still read."""
    files = [Path(p) for p in paths]
    order = sorted(range(len(files)), key=lambda i: (_birth_rank(files[i]), i))
    births: dict[str, dict[str, dt.date]] = {}
    results: dict[int, tuple[Path, ScreenedDelivery | CscvaultError]] = {}
    for i in order:
        p = files[i]
        la = la_from_path(p, study)
        known = births.get(study.la(la).ons_code, {}) if la else {}
        try:
            d = read_and_screen(p, study, known_birth_months=known, debug=debug)
        except CscvaultError as exc:
            results[i] = (p, exc)
            continue
        if d.la is not None and d.birth_months:
            births.setdefault(d.la.ons_code, {}).update(d.birth_months)
        results[i] = (p, d)
    return [results[i] for i in range(len(files))]


def _birth_rank(path: Path) -> int:
    """0 for files whose content carries dates of birth, 1 otherwise (by a cheap look at the head)."""
    try:
        head = read_head(path, 4096)
    except OSError:
        return 1
    first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].upper()
    if b"<MESSAGE" in head.upper() or b"<EXPSSDA903" in head.upper():
        return 0
    if b"CHILD" in first and b"DOB" in first and (b"ETHNIC" in first or b"DUC" in first):
        return 0
    return 1
