"""`la check`: run ingest's readers, identifier screening and validation on the LA's own machine.

No vault and no key are needed. The LA sees exactly the findings the evaluator would see: file,
location, field, rule id and message, never a value from the data.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cscvault.errors import DataError
from cscvault.formats.base import Finding
from cscvault.ingest.pipeline import read_and_screen
from cscvault.la.dfe_cin import dfe_cin_findings
from cscvault.study import Study

FAILING = ("fatal", "error")
_ID_RULES = ("ID-001", "ID-002")
_COLUMN = re.compile(r"column '(.+?)' (?:holds|was) ")  # the rule templates name the header, never a cell value
_ORDER = {"fatal": 0, "error": 1, "warning": 2, "info": 3}


@dataclass
class FileCheck:
    file: str
    format: str
    la: str | None
    return_label: str | None
    rows_read: int
    findings: list[Finding] = field(default_factory=list)
    failure: str | None = None  # the reader itself failed (one line, no values)
    la_code: str | None = None  # the study LA's ONS code, when the file (or the caller) names one

    @property
    def error_rules(self) -> dict[str, int]:
        """Rule id -> number of error or fatal findings (what blocks packaging; no values)."""
        return dict(sorted(Counter(f.rule_id for f in self.findings if f.severity in FAILING).items()))

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity in FAILING) + (1 if self.failure else 0)

    def identifier_columns(self) -> list[str]:
        """Header names of the columns dropped because they held identifiers (rules ID-001/ID-002)."""
        found = set()
        for f in self.findings:
            if f.rule_id in _ID_RULES:
                m = _COLUMN.search(f.message)
                found.add(m.group(1) if m else f.field)
        return sorted(c for c in found if c)

    def grouped(self) -> list[dict[str, Any]]:
        """Findings grouped by rule, field and message: count and the first few locations."""
        groups: dict[tuple[str, str, str, str], list[str]] = {}
        for f in self.findings:
            groups.setdefault((f.severity, f.rule_id, f.field, f.message), []).append(f.location)
        out = [
            {"severity": s, "rule_id": r, "field": fld, "message": m, "count": len(locs), "locations": locs[:3]}
            for (s, r, fld, m), locs in groups.items()
        ]
        out.sort(key=lambda g: (_ORDER.get(str(g["severity"]), 9), str(g["rule_id"]), str(g["field"])))
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "la": self.la,
            "return": self.return_label,
            "rows_read": self.rows_read,
            "errors": self.errors,
            "failure": self.failure,
            "by_severity": dict(Counter(f.severity for f in self.findings)),
            "identifier_columns": self.identifier_columns(),
            "findings": [
                {
                    "location": f.location,
                    "field": f.field,
                    "rule_id": f.rule_id,
                    "severity": f.severity,
                    "message": f.message,
                }
                for f in self.findings
            ],
        }


def check_file(path: Path, study: Study, *, la: str | None = None, return_label: str | None = None) -> FileCheck:
    """Ingest's screening plus, for a CIN census, the DfE's statutory validation rules (`DFE-CIN-*`)."""
    try:
        d = read_and_screen(path, study, la=la, return_label=return_label)
    except DataError as exc:
        return FileCheck(Path(path).name, "unknown", la, return_label, 0, failure=exc.message)
    findings = list(d.findings)
    if d.format == "cin_census" and not d.rejected:
        findings += dfe_cin_findings(Path(path))
    return FileCheck(
        d.file,
        d.format,
        d.la.name if d.la else None,
        d.return_label,
        d.rows_read,
        findings,
        la_code=d.la.ons_code if d.la else None,
    )


def check_files(
    paths: list[Path], study: Study, *, la: str | None = None, return_label: str | None = None
) -> list[FileCheck]:
    return [check_file(Path(p), study, la=la, return_label=return_label) for p in paths]
