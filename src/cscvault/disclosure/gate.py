"""The automatic gate of the output airlock: what must never enter a release request.

Pure functions over a file's name and bytes. A refused file stops the whole request; the reason names the
file, the rule and (for tables) the column, never a value found in it. The gate is deliberately blunt:
it looks for the shapes of child-level data (pseudonyms, identifier columns, day-level dates, one row per
person) rather than trying to prove a file safe; the SDC checks and the checker do the rest.

Rules (stable ids, in release records and audit entries):
- `file-type`: only .csv, .json, .html, .png, .pdf, .txt and .md may be released, and the content must
  match the type (a PNG or PDF signature, UTF-8 text, parseable JSON and CSV);
- `pdf-source`: a PDF cannot be screened (its text is compressed), so it is released only as a print of
  an HTML report requested with it: the same run's `report.html` in the same request, whose SHA-256 is
  the one the run recorded for the PDF's source (`source_sha256`); its verdict is then the HTML's;
- `oversize`: files above `MAX_BYTES`;
- `child-key`: a column named like a person identifier, or any 64-hex-digit token (the shape of a
  `child_key` pseudonym) outside a field or line that names a SHA-256 checksum;
- `child-date`: a column of day-level dates with more than `MAX_DISTINCT_DAYS` distinct days that are
  not month starts (event dates, not reporting periods), or a column named like a date of birth;
- `row-level`: more than `MAX_TABLE_ROWS` rows, a column of unique identifier-like codes, or only 0/1
  indicators over many rows (one row per child).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

ALLOWED_SUFFIXES = (".csv", ".json", ".html", ".png", ".pdf", ".txt", ".md")
MAX_BYTES = 5 * 1024 * 1024
MAX_TABLE_ROWS = 2000
MAX_DISTINCT_DAYS = 12
MIN_ROWS_FOR_UNIQUE_IDS = 20
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PDF_SIGNATURE = b"%PDF-"

RULE_FILE_TYPE = "file-type"
RULE_OVERSIZE = "oversize"
RULE_CHILD_KEY = "child-key"
RULE_CHILD_DATE = "child-date"
RULE_ROW_LEVEL = "row-level"
RULE_PDF_SOURCE = "pdf-source"

_HEX64 = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{64}(?![0-9A-Fa-f])")
_CHECKSUM_CONTEXT = re.compile(r"sha-?256|checksum|hash", re.IGNORECASE)
_ID_COLUMNS = frozenset(
    {
        "child_key", "childkey", "child_id", "childid", "la_child_id", "person_id", "pupil_id", "upn",
        "nhs_number", "nhs_no", "uln", "case_id", "record_id", "subject_id", "id", "pseudonym", "pseudo_id",
    }
)  # fmt: skip
_BIRTH_COLUMNS = re.compile(r"(^|_)(dob|date_of_birth|birth_date|birthdate|dateofbirth)($|_)")
# Geographic codes are unique per row of an LA-level table without being about people.
_AREA_CODE = re.compile(r"^([EWSN]\d{8}|\d{3})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$|^\d{1,2}/\d{1,2}/\d{4}$")


@dataclass(frozen=True)
class Refusal:
    """Why the gate refused a file: the rule id and a message that names the file, never data."""

    name: str
    rule: str
    detail: str

    def text(self) -> str:
        return f"{self.name}: refused at the release gate ({self.rule}): {self.detail}"


def kind_of(name: str) -> str:
    """The output kind from the file name: table, json, html, figure or text."""
    suffix = Path(name).suffix.lower()
    return {".csv": "table", ".json": "json", ".html": "html", ".png": "figure", ".pdf": "document"}.get(suffix, "text")


def screen(name: str, data: bytes) -> Refusal | None:
    """The first reason `data` may not enter a release, or None when the gate lets it through."""
    suffix = Path(name).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        shown = suffix or "(no extension)"
        return Refusal(
            name, RULE_FILE_TYPE, f"{shown} files may not be released (allowed: {', '.join(ALLOWED_SUFFIXES)})"
        )
    if len(data) > MAX_BYTES:
        return Refusal(name, RULE_OVERSIZE, f"larger than {MAX_BYTES // (1024 * 1024)} MB")
    if suffix == ".png":
        if not data.startswith(PNG_SIGNATURE):
            return Refusal(name, RULE_FILE_TYPE, "not a PNG image")
        return None
    if suffix == ".pdf":
        # Only the signature here: whether it may leave is `screen_printed`'s question (its source HTML).
        return None if data.startswith(PDF_SIGNATURE) else Refusal(name, RULE_FILE_TYPE, "not a PDF document")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Refusal(name, RULE_FILE_TYPE, "not UTF-8 text")
    if suffix == ".csv":
        return _screen_csv(name, text)
    if suffix == ".json":
        return _screen_json(name, text)
    return _screen_text(name, text)


@dataclass(frozen=True)
class RunFile:
    """One file of a release request as `screen_printed` sees it: name, bytes, run and the run's metadata."""

    name: str
    data: bytes
    run_id: str
    meta: Mapping[str, Any]


def screen_printed(items: Sequence[RunFile]) -> list[Refusal]:
    """A refusal for each PDF that is not requested together with the HTML it was printed from: the same
    run's output named in its `from` (report.html), whose SHA-256 equals its recorded `source_sha256`."""
    refusals = []
    by_run = {(i.run_id, i.name): i for i in items}
    for item in items:
        if Path(item.name).suffix.lower() != ".pdf":
            continue
        source_name = str(item.meta.get("from") or "")
        recorded = str(item.meta.get("source_sha256") or "")
        source = by_run.get((item.run_id, source_name))
        if not source_name or not recorded:
            refusals.append(Refusal(item.name, RULE_PDF_SOURCE, "no recorded source HTML: a PDF cannot be checked"))
        elif source is None:
            refusals.append(
                Refusal(item.name, RULE_PDF_SOURCE, f"request it together with {source_name} of the same run")
            )
        elif hashlib.sha256(source.data).hexdigest() != recorded:
            refusals.append(Refusal(item.name, RULE_PDF_SOURCE, f"was not printed from this {source_name}"))
    return refusals


def read_csv_text(text: str) -> pd.DataFrame:
    """A CSV as the gate and the checks read it (empty cells as missing)."""
    return pd.read_csv(io.StringIO(text))


def _screen_csv(name: str, text: str) -> Refusal | None:
    try:
        frame = read_csv_text(text)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        return Refusal(name, RULE_FILE_TYPE, "cannot be read as a CSV table")
    return screen_table(name, frame)


def screen_table(name: str, frame: pd.DataFrame, where: str = "") -> Refusal | None:
    """Column-wise checks for child keys, child-level dates and one-row-per-child shape."""
    prefix = f"{where}: " if where else ""
    for col in frame.columns:
        label = str(col)
        norm = re.sub(r"[^a-z0-9]+", "_", label.strip().lower()).strip("_")
        if norm in _ID_COLUMNS:
            return Refusal(name, RULE_CHILD_KEY, f"{prefix}column {label!r} is a person identifier")
        if _BIRTH_COLUMNS.search(norm):
            return Refusal(name, RULE_CHILD_DATE, f"{prefix}column {label!r} is a date of birth")
        if _HEX64.search(label):
            return Refusal(name, RULE_CHILD_KEY, f"{prefix}a column name has the form of a child key")
        values = frame[col].dropna()
        if values.empty:
            continue
        if not _CHECKSUM_CONTEXT.search(label):
            texts = values.astype(str)
            hits = texts[texts.str.contains(_HEX64)]
            if not hits.empty:
                row = int(hits.index[0])
                return Refusal(name, RULE_CHILD_KEY, f"{prefix}column {label!r} row {row} holds a child key")
        if _child_dates(values):
            return Refusal(
                name, RULE_CHILD_DATE, f"{prefix}column {label!r} holds day-level dates (child-level events)"
            )
    if len(frame) > MAX_TABLE_ROWS:
        return Refusal(name, RULE_ROW_LEVEL, f"{prefix}{len(frame)} rows (more than {MAX_TABLE_ROWS}): row-level data")
    if len(frame) >= MIN_ROWS_FOR_UNIQUE_IDS:
        for col in frame.columns:
            if _unique_codes(frame[col]):
                return Refusal(
                    name,
                    RULE_ROW_LEVEL,
                    f"{prefix}column {str(col)!r} has a distinct code on every row: one row per person",
                )
        numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
        if numeric and all(frame[c].dropna().isin([0, 1]).all() for c in numeric):
            return Refusal(
                name, RULE_ROW_LEVEL, f"{prefix}only 0/1 indicators over {len(frame)} rows: one row per person"
            )
    return None


def _child_dates(values: pd.Series) -> bool:
    """Day-level dates that are not reporting periods: many distinct days, not month starts."""
    if pd.api.types.is_numeric_dtype(values):
        return False
    texts = values.astype(str).str.strip()
    dated = texts[texts.str.match(_DAY)]
    if len(dated) < 0.8 * len(texts):
        return False
    days: set[dt.date] = set()
    for text in dated.unique():
        parsed = _parse_day(str(text))
        if parsed is not None and parsed.day != 1:
            days.add(parsed)
    return len(days) > MAX_DISTINCT_DAYS


def _parse_day(text: str) -> dt.date | None:
    try:
        if "/" in text:
            d, m, y = (int(x) for x in text.split("/"))
            return dt.date(y, m, d)
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _unique_codes(column: pd.Series) -> bool:
    """Every row carries a different identifier-like code (letters and digits), not an area code."""
    if pd.api.types.is_numeric_dtype(column) or column.isna().any():
        return False
    texts = column.astype(str).str.strip()
    if texts.nunique() != len(texts):
        return False
    looks_like_id = texts.str.contains(r"\d") & texts.str.fullmatch(r"[A-Za-z0-9_\-/.]+")
    return bool(looks_like_id.all()) and not bool(texts.str.match(_AREA_CODE).all())


def _screen_json(name: str, text: str) -> Refusal | None:
    try:
        document = json.loads(text)
    except ValueError:
        return Refusal(name, RULE_FILE_TYPE, "not valid JSON")
    return _walk_json(name, document, "$")


def _walk_json(name: str, node: Any, path: str) -> Refusal | None:
    if isinstance(node, dict):
        for key, value in node.items():
            norm = re.sub(r"[^a-z0-9]+", "_", str(key).lower()).strip("_")
            if norm in _ID_COLUMNS:
                return Refusal(name, RULE_CHILD_KEY, f"field {path}.{key} is a person identifier")
            if _BIRTH_COLUMNS.search(norm):
                return Refusal(name, RULE_CHILD_DATE, f"field {path}.{key} is a date of birth")
            if isinstance(value, str) and _HEX64.search(value) and not _CHECKSUM_CONTEXT.search(str(key)):
                return Refusal(name, RULE_CHILD_KEY, f"field {path}.{key} holds a child key")
            found = _walk_json(name, value, f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(node, list):
        if node and all(isinstance(item, dict) for item in node):
            found = screen_table(name, pd.DataFrame(node), where=path)
            if found:
                return found
        for i, item in enumerate(node):
            if isinstance(item, str) and _HEX64.search(item):
                return Refusal(name, RULE_CHILD_KEY, f"field {path}[{i}] holds a child key")
            found = _walk_json(name, item, f"{path}[{i}]") if isinstance(item, dict | list) else None
            if found:
                return found
    return None


def _screen_text(name: str, text: str) -> Refusal | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if _HEX64.search(line) and not _CHECKSUM_CONTEXT.search(line):
            return Refusal(name, RULE_CHILD_KEY, f"line {number} holds a child key")
    return None
