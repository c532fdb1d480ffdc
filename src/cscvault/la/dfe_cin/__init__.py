"""The DfE's statutory validation rules for the CIN census, run by `la check` on the LA's machine.

Rules are data (`rules.toml`: DfE number, message, module, data items, census years) plus one small
vectorised check per implemented rule (`checks.py`). Findings use cscvault's `Finding` record with
the rule id `DFE-CIN-<number>`, the XPath of the record and the DfE message; never a value.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from cscvault.formats.base import Finding
from cscvault.formats.rules import Severity
from cscvault.la.dfe_cin.checks import CHECKS
from cscvault.la.dfe_cin.tables import NotCinCensus, Tables, read_tables

PREFIX = "DFE-CIN-"
FIRST_PACK = 2023  # the earliest census year with a public machine-readable rule pack (2022/23)


@dataclass(frozen=True)
class DfeRule:
    code: str
    message: str
    module: str
    fields: tuple[str, ...]
    since: int
    until: int | None = None
    changed: int | None = None
    message_before: str | None = None

    @property
    def id(self) -> str:
        return PREFIX + self.code

    @property
    def severity(self) -> Severity:
        # The DfE's "Q" rules are queries: the LA may confirm the data with a reason instead of changing it.
        return "warning" if self.code.endswith("Q") else "error"

    @property
    def implemented(self) -> bool:
        return self.code in CHECKS

    def applies(self, year: int | None) -> bool:
        y = max(year or FIRST_PACK, FIRST_PACK)
        return self.since <= y and (self.until is None or y <= self.until)

    def message_for(self, year: int | None) -> str:
        if self.changed is not None and self.message_before and (year or FIRST_PACK) < self.changed:
            return self.message_before
        return self.message


@cache
def all_rules() -> tuple[DfeRule, ...]:
    text = resources.files(__package__).joinpath("rules.toml").read_text(encoding="utf-8")
    rules = tuple(
        DfeRule(
            code=str(r["code"]),
            message=str(r["message"]),
            module=str(r["module"]),
            fields=tuple(r["fields"]),
            since=int(r["since"]),
            until=r.get("until"),
            changed=r.get("changed"),
            message_before=r.get("message_before"),
        )
        for r in tomllib.loads(text)["rule"]
    )
    unknown = set(CHECKS) - {r.code for r in rules}
    if unknown:
        raise RuntimeError(f"checks without a rule in rules.toml: {sorted(unknown)}")
    return rules


def rule(code: str) -> DfeRule:
    for r in all_rules():
        if r.code == code or r.id == code:
            return r
    raise KeyError(code)


def coverage(years: range = range(2020, 2026)) -> dict[str, int]:
    """How many catalogued DfE CIN rules apply in any of `years`, and how many cscvault implements."""
    applicable = [r for r in all_rules() if any(r.applies(y) for y in years)]
    return {"rules": len(applicable), "implemented": sum(r.implemented for r in applicable)}


def run_rules(tables: Tables, file: str, *, year: int | None = None) -> list[Finding]:
    """Every implemented rule that applies to the census year (the header's, unless `year` is given)."""
    if year is not None:
        tables.rules_year = year
    year = tables.year
    findings: list[Finding] = []
    for r in all_rules():
        if not r.implemented or not r.applies(year):
            continue
        message = r.message_for(year)
        for hit in CHECKS[r.code](tables):
            if hit.return_level:
                where = "/Message/Header" if hit.table == "header" else "/Message"
                findings.append(Finding(file, where, hit.field, r.id, r.severity, message))
                continue
            paths = tables[hit.table]["xpath"]
            for row in hit.rows:
                findings.append(Finding(file, str(paths.iloc[row]), hit.field, r.id, r.severity, message))
    return findings


def dfe_cin_findings(path: Path, *, year: int | None = None) -> list[Finding]:
    """The DfE rules' findings for one CIN census file; none when it cannot be read as one (ingest says why)."""
    try:
        tables = read_tables(Path(path))
    except NotCinCensus:
        return []
    return run_rules(tables, Path(path).name, year=year)
