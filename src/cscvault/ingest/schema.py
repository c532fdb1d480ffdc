"""The canonical tables the readers stage, and how each field is checked.

Kinds: id (the LA's child id), date (an event date inside the study window), link_date (the
referral date an event belongs to), month (a birth month: used for ages, then dropped), code
(recoded through a code table), factors, count, number, text (screened for identifiers only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["id", "date", "link_date", "month", "code", "factors", "count", "number", "text", "derived"]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: Kind
    code_table: str | None = None


def _f(name: str, kind: Kind, code_table: str | None = None) -> FieldSpec:
    return FieldSpec(name, kind, code_table)


ID = _f("la_child_id", "id")
BIRTH = _f("birth_month", "month")

TABLES: dict[str, tuple[FieldSpec, ...]] = {
    "children": (
        ID,
        _f("gender", "code", "gender"),
        _f("ethnicity", "code", "ethnicity"),
        _f("disability", "code", "disability"),
        _f("uasc", "code", "uasc"),
        BIRTH,
        _f("expected_birth", "month"),
    ),
    "referrals": (
        ID,
        _f("referral_date", "date"),
        _f("source", "code", "referral_source"),
        _f("nfa", "code", "nfa"),
        _f("previous_cpps", "code", "previous_cpps"),
        BIRTH,
    ),
    "assessments": (
        ID,
        _f("referral_date", "link_date"),
        _f("start_date", "date"),
        _f("authorised_date", "date"),
        _f("factors", "factors", "factors"),
        _f("outcome", "code", "assessment_outcome"),
        BIRTH,
    ),
    "cin_plans": (
        ID,
        _f("referral_date", "link_date"),
        _f("start_date", "date"),
        _f("end_date", "date"),
        BIRTH,
    ),
    "s47_enquiries": (
        ID,
        _f("referral_date", "link_date"),
        _f("start_date", "date"),
        _f("icpc_date", "date"),
        _f("outcome", "code", "s47_outcome"),
        BIRTH,
    ),
    "cp_plans": (
        ID,
        _f("referral_date", "link_date"),
        _f("start_date", "date"),
        _f("end_date", "date"),
        _f("category", "code", "abuse_category"),
        _f("previous_cpps", "code", "previous_cpps"),
        BIRTH,
    ),
    "pre_proceedings": (
        ID,
        _f("referral_date", "link_date"),
        _f("start_date", "date"),
        _f("end_date", "date"),
        BIRTH,
    ),
    "care_proceedings": (ID, _f("issue_date", "date"), _f("end_date", "date"), BIRTH),
    "cla_episodes": (
        ID,
        _f("start_date", "date"),
        _f("end_date", "date"),
        _f("legal_status", "code", "legal_status"),
        _f("placement_type", "code", "placement"),
        _f("reason_start", "code", "reason_start"),
        _f("reason_end", "code", "reason_end"),
        BIRTH,
    ),
    "attendance_terms": (
        ID,
        _f("term", "text"),
        _f("sessions_possible", "count"),
        _f("sessions_authorised_absence", "count"),
        _f("sessions_unauthorised_absence", "count"),
        _f("unauthorised_pct", "number"),
        BIRTH,
    ),
    "fsm_pupil_premium": (
        ID,
        _f("census_date", "date"),
        _f("fsm_eligible", "code", "yes_no"),
        _f("pupil_premium", "code", "yes_no"),
        BIRTH,
    ),
    "la_month_aggregates": (_f("month", "month"), _f("measure", "text"), _f("value", "number")),
}

# The date that defines a record: without it (missing or rejected) the row is dropped.
PRIMARY_DATE: dict[str, str] = {
    "referrals": "referral_date",
    "assessments": "start_date",
    "cin_plans": "start_date",
    "s47_enquiries": "start_date",
    "cp_plans": "start_date",
    "pre_proceedings": "start_date",
    "care_proceedings": "issue_date",
    "cla_episodes": "start_date",
    "la_month_aggregates": "month",
}
# (start, end) pairs checked for order.
ORDER: dict[str, tuple[str, str]] = {
    "assessments": ("start_date", "authorised_date"),
    "cin_plans": ("start_date", "end_date"),
    "s47_enquiries": ("start_date", "icpc_date"),
    "cp_plans": ("start_date", "end_date"),
    "pre_proceedings": ("start_date", "end_date"),
    "care_proceedings": ("issue_date", "end_date"),
    "cla_episodes": ("start_date", "end_date"),
}
# Child-level event tables: each gets age_months (the data dictionary's events.age_months).
EVENT_TABLES = tuple(t for t in TABLES if t not in {"children", "la_month_aggregates"})
# Columns kept for structure although not themselves data-dictionary fields: the key the caller
# pseudonymises, and the referral an event belongs to (a date already held in referrals).
STRUCTURAL = frozenset({"la_child_id"})
LINK = "referral_date"


def spec(table: str, field: str) -> FieldSpec | None:
    for f in TABLES.get(table, ()):
        if f.name == field:
            return f
    return None
