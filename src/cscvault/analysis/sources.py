"""Which outcomes the delivered returns can derive, per LA, and why an outcome cannot be.

An outcome needs every table it reads. A table counts as delivered for an LA when a loaded (not rejected)
delivery of that LA carried it (even with no rows: an SSDA903 return with no period of care is still an
SSDA903 return) or when the analysis view holds rows of that LA. Without its tables an outcome is not
"no event": a CIN-census-only vault has no periods of care, so every child would look never looked
after. Such an outcome (or an LA's part of it) is left out and named, never estimated as zero.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import duckdb

from cscvault.errors import DataError
from cscvault.study import Study

PRIMARY_OUTCOME = "cla_18m"

# The return that supplies each table (for the user's message: what to deliver).
TABLE_RETURNS: dict[str, str] = {
    "referrals": "CIN census (referrals)",
    "assessments": "CIN census (assessments)",
    "cin_plans": "CIN census (CIN plans)",
    "cp_plans": "CIN census (child protection plans)",
    "pre_proceedings": "CIN census (pre-proceedings)",
    "care_proceedings": "care proceedings",
    "cla_episodes": "SSDA903 (periods of care)",
    "attendance_terms": "school census (attendance)",
}

# The tables each outcome needs delivered. Only tables that every delivery of their return carries are
# listed: a CIN census without a pre-proceedings record or a CIN plan is complete (those are sparse
# events), but one without referrals, or an SSDA903 return without periods of care, is not that return.
OUTCOME_TABLES: dict[str, tuple[str, ...]] = {
    PRIMARY_OUTCOME: ("referrals", "cla_episodes"),
    "returned_after_cpp": ("referrals", "cp_plans", "cla_episodes"),  # a care start is a return
    "cpp_days_single": ("referrals", "cp_plans"),
    "cpp_days_total": ("referrals", "cp_plans"),
    "proceedings_16wk": ("referrals",),
    "rereferral_18m_parental": ("referrals", "assessments"),
    "unauthorised_absence_3terms": ("referrals", "attendance_terms"),
}


@dataclass(frozen=True)
class NotDerived:
    """An outcome left out, for every LA (`local_authorities` empty) or for the LAs named."""

    outcome: str
    missing: tuple[str, ...]  # the returns (TABLE_RETURNS wording) that were not delivered
    local_authorities: tuple[str, ...] = ()

    @property
    def everywhere(self) -> bool:
        return not self.local_authorities

    @property
    def reason(self) -> str:
        where = "any LA" if self.everywhere else ", ".join(self.local_authorities)
        return f"no {' or '.join(self.missing)} delivered for {where}"

    def to_json(self) -> dict[str, object]:
        return {
            "outcome": self.outcome,
            "local_authorities": list(self.local_authorities) or None,
            "missing": list(self.missing),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Availability:
    """The tables delivered per LA (by LA name, in the study's order)."""

    tables: Mapping[str, frozenset[str]]

    @property
    def las(self) -> tuple[str, ...]:
        return tuple(self.tables)

    def delivered(self, la: str, table: str) -> bool:
        return table in self.tables.get(la, frozenset())

    def las_with(self, outcome: str) -> tuple[str, ...]:
        """The LAs whose returns derive `outcome`."""
        need = OUTCOME_TABLES[outcome]
        return tuple(la for la in self.las if all(self.delivered(la, t) for t in need))

    def not_derived(self, outcome: str) -> NotDerived | None:
        """Why `outcome` cannot be derived (for all LAs or some), or None when every LA has its tables."""
        need = OUTCOME_TABLES[outcome]
        lacking = tuple(la for la in self.las if not all(self.delivered(la, t) for t in need))
        if not lacking:
            return None
        missing = tuple(dict.fromkeys(TABLE_RETURNS[t] for t in need for la in lacking if not self.delivered(la, t)))
        everywhere = len(lacking) == len(self.las)
        return NotDerived(outcome, missing, () if everywhere else lacking)

    def report(self, outcomes: Iterable[str] = OUTCOME_TABLES) -> list[NotDerived]:
        return [nd for o in outcomes if (nd := self.not_derived(o)) is not None]


def availability_from(study: Study, delivered: Mapping[str, Iterable[str]]) -> Availability:
    """From {ONS code: tables delivered}; every LA of the study appears (an LA with no delivery has none)."""
    return Availability({la.name: frozenset(delivered.get(la.ons_code, ())) for la in study.local_authorities})


def load_availability(con: duckdb.DuckDBPyConnection, study: Study) -> Availability:
    """What the vault's loaded deliveries and analysis views hold, per LA. Raises DataError (exit 3) when
    the vault has no loaded delivery at all."""
    delivered: dict[str, set[str]] = {}
    rows = con.execute("SELECT la_code, tables FROM deliveries WHERE NOT rejected").fetchall()
    if not rows:
        raise DataError("the vault holds no loaded deliveries: run cscvault ingest first")
    for la_code, tables in rows:
        if la_code is not None:
            delivered.setdefault(str(la_code), set()).update(json.loads(tables))
    # A delivery without one LA code (a multi-LA extract) shows in the views under each LA's code.
    for table in TABLE_RETURNS:
        try:
            present = con.execute(f"SELECT DISTINCT la_code FROM analysis.{table}").fetchall()
        except duckdb.CatalogException:
            continue
        for (la_code,) in present:
            if la_code is not None:
                delivered.setdefault(str(la_code), set()).add(table)
    return availability_from(study, delivered)
