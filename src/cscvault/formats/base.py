"""What every reader shares: finding and quarantine records, the collector, the staged output.

A reader turns one file into *staged* canonical tables: canonical column names, raw text values
(None for empty), one `_loc` column naming the row or XPath each record came from. The pure
ingest steps (`cscvault.ingest.pipeline`) then screen, parse, recode and minimise them.
Findings never hold a value from the data; a value that fails goes to the quarantine list,
which the caller encrypts.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import pandas as pd

from cscvault.formats.rules import Severity, rule

if TYPE_CHECKING:
    from cscvault.study.model import Study

LOC = "_loc"
"""Column naming where each staged record came from (a row number or an XPath)."""

MAX_CELL_CHARS = 32_768
MAX_QUARANTINE_CHARS = 4_096
MAX_FILE_BYTES = 4 * 1024**3  # streamed XML
MAX_TEXT_BYTES = 512 * 1024**2  # CSV and workbooks, which are read whole
# One CSV line, checked by a streamed scan before a text file is read whole (a 10 MB cell is still read, FMT-009).
MAX_LINE_BYTES = 16 * 1024**2

# A formula (=...), or a +, -, @, tab or CR lead followed by a call, a DDE pipe or a sheet reference.
_FORMULA = re.compile(r"^=|^[+\-@\t\r][\s\S]*[(|!]")


@dataclass(frozen=True)
class Finding:
    """One problem found: where, which field, which rule. Never the value."""

    file: str
    location: str
    field: str
    rule_id: str
    severity: Severity
    message: str


@dataclass(frozen=True)
class QuarantineItem:
    """A raw value that failed a rule; the caller encrypts it before it is stored."""

    file: str
    location: str
    field: str
    rule_id: str
    value: str
    # The LA's child id of the row, when known, so the vault can key the item to the child (a subject-access
    # package includes the child's quarantined values; erasure removes them). Never shown anywhere.
    la_child_id: str | None = None


@dataclass
class Collector:
    """Collects findings and quarantined values for one file."""

    file: str
    findings: list[Finding] = field(default_factory=list)
    quarantine: list[QuarantineItem] = field(default_factory=list)
    dropped_columns: list[str] = field(default_factory=list)
    # (location, field, rule) already reported: a value staged into several tables (a DR2 row feeds
    # children, referrals and assessments) is reported and quarantined once.
    _seen: set[tuple[str, str, str]] = field(default_factory=set, repr=False)

    def add(
        self,
        rule_id: str,
        location: str = "",
        field: str = "",
        value: object | None = None,
        child_id: object | None = None,
        **params: object,
    ) -> Finding | None:
        r = rule(rule_id)
        params.setdefault("field", field)
        if location:
            key = (location, field, rule_id)
            if key in self._seen:
                return None
            self._seen.add(key)
        finding = Finding(self.file, location, field, rule_id, r.severity, r.message(**params))
        self.findings.append(finding)
        if value is not None and str(value) != "":
            text = str(value)[:MAX_QUARANTINE_CHARS]
            owner = None if child_id is None or str(child_id) == "" else str(child_id)
            self.quarantine.append(QuarantineItem(self.file, location, field, rule_id, text, owner))
        return finding

    def drop_column(self, column: str) -> None:
        if column not in self.dropped_columns:
            self.dropped_columns.append(column)

    @property
    def fatal(self) -> bool:
        return any(f.severity == "fatal" for f in self.findings)


@dataclass
class Staged:
    """A reader's output for one file, before the pure ingest steps."""

    format: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    rows_read: int = 0
    la: str | None = None  # anything `Study.la()` accepts; resolved by the pipeline
    return_label: str | None = None
    collection_year: str | None = None


class Reader(ABC):
    """One reader per format. `sniff` decides by content; `read` never raises on bad data."""

    format: ClassVar[str]
    description: ClassVar[str] = ""

    @abstractmethod
    def sniff(self, head: bytes, path: Path) -> int:
        """Confidence 0..100 that the file is this format, from its first bytes."""

    @abstractmethod
    def read(self, path: Path, sink: Collector, study: Study) -> Staged:
        """Stage the file's records; report problems to `sink` (fatal ones stop the read)."""


def clean_cell(value: object) -> str | None:
    """A cell as stripped text; None when empty. Integral floats lose their '.0'."""
    if value is None:
        return None
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if hasattr(value, "isoformat") and not isinstance(value, str):
        text = str(value.isoformat())
        # Excel datetimes at midnight are dates.
        return text[:10] if text.endswith("T00:00:00") else text
    text = str(value).strip()
    return text or None


def looks_like_formula(text: str) -> bool:
    return bool(_FORMULA.match(text))


def screen_cell(text: str | None, sink: Collector, location: str, field_name: str) -> str | None:
    """Refuse oversized cells and spreadsheet formulas; return the usable text."""
    if text is None:
        return None
    if len(text) > MAX_CELL_CHARS:
        sink.add("FMT-009", location, field_name)
        return None
    if looks_like_formula(text):
        sink.add("FMT-010", location, field_name, value=text)
        return None
    return text


def frame(records: Iterable[dict[str, object]], columns: Iterable[str]) -> pd.DataFrame:
    """Build a staged frame once (object columns, None for missing)."""
    cols = [LOC, *[c for c in columns if c != LOC]]
    df = pd.DataFrame.from_records(list(records), columns=cols)
    return df.astype(object).where(df.notna(), None)


def frame_from_columns(columns: Mapping[str, Iterable[object]]) -> pd.DataFrame:
    """Build a staged frame from column lists that already hold text or None (no copy-and-mask)."""
    return pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in columns.items()})


def normalise_label(text: str) -> str:
    """Header/label comparison key: case-folded, punctuation removed, whitespace collapsed."""
    text = re.sub(r"[^0-9a-z]+", " ", text.casefold())
    return " ".join(text.split())
