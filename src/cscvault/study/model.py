"""The study definition as frozen dataclasses.

A `Study` is built only by `cscvault.study.load` which validates it; code downstream can rely on
every invariant listed in `load.py` (ordered dates, unique codes, go-live inside the trial window...).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from cscvault.errors import UsageError
from cscvault.study.plan import AnalysisPlan


@dataclass(frozen=True)
class Contact:
    name: str
    email: str
    phone: str = ""
    address: tuple[str, ...] = ()


@dataclass(frozen=True)
class SupervisoryAuthority:
    name: str
    short_name: str
    address: tuple[str, ...]
    helpline: str
    website: str


@dataclass(frozen=True)
class LawfulBasis:
    article: str
    basis: str
    purpose_test: str
    necessity_test: str
    balancing_test: str


@dataclass(frozen=True)
class SpecialCategoryCondition:
    condition: str
    reason: str


@dataclass(frozen=True)
class LocalAuthority:
    name: str
    ons_code: str
    dfe_code: str
    go_live: dt.date
    stratum: str
    notice_name: str  # how the notice writes the name (e.g. "Telford & Wrekin")


@dataclass(frozen=True)
class Period:
    name: str
    start: dt.date
    end: dt.date  # inclusive

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Stratum:
    name: str
    wedges: tuple[int, ...]


@dataclass(frozen=True)
class Windows:
    data_start: dt.date
    data_end: dt.date
    trial_start: dt.date
    trial_end: dt.date


@dataclass(frozen=True)
class Retention:
    final_report: dt.date
    final_report_label: str
    delete_by: dt.date
    delete_by_label: str
    reason: str

    @property
    def years_after_final_report(self) -> int:
        """Whole years from final reporting to the deletion date (the notice's promise, from the dates)."""
        start, end = self.final_report, self.delete_by
        return end.year - start.year - ((end.month, end.day) < (start.month, start.day))

    @property
    def years_text(self) -> str:
        """'five years', from the dates."""
        words = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
        n = self.years_after_final_report
        return f"{words[n] if 0 <= n < len(words) else n} year{'s' if n != 1 else ''}"

    @property
    def period_text(self) -> str:
        """'five years after final reporting', from the dates: the one wording every document uses."""
        return f"{self.years_text} after final reporting"


@dataclass(frozen=True)
class SpecialField:
    field: str
    label: str


@dataclass(frozen=True)
class Category:
    id: str
    label: str
    description: str
    fields: tuple[str, ...]
    special: tuple[SpecialField, ...] = ()
    personal: bool = True
    # Fields an intruder could know from elsewhere and match on (re-identification risk keys).
    quasi_identifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnalysisVariable:
    """A variable the analysis derives from dictionary fields, with the words reports use for it."""

    name: str
    label: str
    fields: tuple[str, ...]
    levels: tuple[tuple[str, str], ...] = ()  # (coded level, label)

    def level_label(self, level: str) -> str:
        return dict(self.levels).get(level, level)


@dataclass(frozen=True)
class DataDictionary:
    version: int
    categories: tuple[Category, ...]
    # The default key set of the re-identification risk measures (each a quasi-identifier), and the
    # sensitive attributes whose diversity within a key combination is measured (l-diversity).
    risk_keys: tuple[str, ...] = ()
    sensitive: tuple[SpecialField, ...] = ()

    @property
    def quasi_identifiers(self) -> tuple[str, ...]:
        return tuple(q for c in self.categories for q in c.quasi_identifiers)

    variables: tuple[AnalysisVariable, ...] = ()

    def variable(self, name: str) -> AnalysisVariable | None:
        return next((v for v in self.variables if v.name == name), None)

    @property
    def fields(self) -> frozenset[str]:
        """Every allowed "table.column"."""
        return frozenset(f for c in self.categories for f in c.fields)

    @property
    def special_fields(self) -> tuple[SpecialField, ...]:
        return tuple(s for c in self.categories for s in c.special)

    def allows(self, table: str, column: str) -> bool:
        return f"{table}.{column}" in self.fields


@dataclass(frozen=True)
class PrimaryAnalysis:
    min_age_years: int
    max_age_years: int
    include_unborn: bool
    follow_up_months: int


@dataclass(frozen=True)
class Study:
    id: str
    title: str
    intervention: str
    design: str
    purpose: str
    protocol_url: str
    notice_written: dt.date
    disclosure_profile: str
    controller: Contact
    controller_kind: str
    dpo: Contact
    supervisory_authority: SupervisoryAuthority
    lawful_basis: LawfulBasis
    special_category: SpecialCategoryCondition
    source_collection: str
    source_description: str
    storage: str
    windows: Windows
    retention: Retention
    strata: tuple[Stratum, ...]
    local_authorities: tuple[LocalAuthority, ...]
    periods: tuple[Period, ...]
    primary: PrimaryAnalysis
    data_dictionary: DataDictionary
    source_sha256: str  # hash of the study.toml and data dictionary text it was loaded from
    analysis_plan: AnalysisPlan = field(default_factory=AnalysisPlan.empty, compare=False, repr=False)
    plan_sha256: str = ""  # hash of the analysis plan text: recorded with every analysis run
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    # -- lookups used across the package -------------------------------------------------------

    def la(self, name_or_code: str) -> LocalAuthority:
        """Find an LA by name, notice name, ONS code or DfE code (case-insensitive)."""
        key = name_or_code.strip().casefold()
        for la in self.local_authorities:
            if key in {
                la.name.casefold(),
                la.notice_name.casefold(),
                la.ons_code.casefold(),
                la.dfe_code.casefold(),
            }:
                return la
        known = ", ".join(la.name for la in self.local_authorities)
        raise UsageError(f"unknown local authority '{name_or_code}' (this study has: {known})")

    def period_of(self, day: dt.date) -> Period | None:
        for p in self.periods:
            if p.contains(day):
                return p
        return None

    def wedge_of(self, la: LocalAuthority) -> int:
        """1-based wedge in which the LA goes live (its position in go-live order)."""
        order = sorted(self.local_authorities, key=lambda x: x.go_live)
        return order.index(la) + 1
