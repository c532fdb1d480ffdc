"""The access package's records in words a child or parent can read: a section per kind of record, field
names in plain English, codes with their meaning, dates written out; keys and delivery fingerprints kept
apart for the technical appendix.

Section names follow the data dictionary's categories; code meanings come from the code tables the ingest
uses (`formats/codes/*.toml`, their label -> code map read backwards).
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from cscvault.study.notice import long_date

# One section per kind of record, in the order a life story is told.
SECTIONS: dict[str, tuple[str, str]] = {
    "children": ("About you", "What the records say about you as a person."),
    "referrals": ("Referrals to children's social care", "Each time someone contacted children's services."),
    "assessments": ("Assessments", "When a social worker looked at what help was needed, and what they found."),
    "cin_plans": ("Child in need plans", "Plans for help and support from children's services."),
    "s47_enquiries": ("Child protection enquiries", "Enquiries into whether a child was at risk of harm."),
    "cp_plans": ("Child protection plans", "Plans to keep a child safe from harm."),
    "pre_proceedings": ("Pre-proceedings", "Meetings before a possible court case about a child's care."),
    "care_proceedings": ("Care proceedings", "Court cases about a child's care."),
    "cla_episodes": ("Time in care", "Each period of being looked after by the local authority."),
    "attendance_terms": ("School attendance", "School sessions in each term, and how many were missed."),
    "fsm_pupil_premium": ("Free school meals and pupil premium", "Whether free school meals or pupil premium applied."),
}

FIELDS: dict[str, str] = {
    "gender": "Gender",
    "ethnicity": "Ethnicity",
    "disability": "Disability",
    "uasc": "Came to the UK as an unaccompanied child seeking asylum",
    "birth_month": "Month of birth",
    "referral_date": "Date of the referral",
    "source": "Who made the referral",
    "nfa": "No further action was taken",
    "previous_cpps": "Number of earlier child protection plans",
    "unborn": "The referral was made before birth",
    "age_months": "Age at the time (in months)",
    "start_date": "Started on",
    "end_date": "Ended on",
    "authorised_date": "Completed on",
    "factors": "What the assessment found",
    "outcome": "Outcome",
    "icpc_date": "Date of the child protection conference",
    "category": "Kind of harm the plan was about",
    "issue_date": "Date the court case began",
    "legal_status": "Legal status",
    "placement_type": "Where you lived",
    "reason_start": "Why the time in care began",
    "reason_end": "Why the time in care ended",
    "kinship": "Lived with family or friends",
    "returned_home": "Went back home",
    "term": "School term",
    "sessions_possible": "School sessions in the term",
    "sessions_authorised_absence": "Sessions missed with the school's permission",
    "sessions_unauthorised_absence": "Sessions missed without permission",
    "unauthorised_pct": "Share of sessions missed without permission (%)",
    "census_date": "Date of the school census",
    "fsm_eligible": "Could have free school meals",
    "pupil_premium": "School received pupil premium",
}

# Which code table explains which field (formats/codes/NAME.toml).
CODE_TABLES: dict[str, str] = {
    "factors": "factors",
    "legal_status": "legal_status",
    "placement_type": "placement",
    "reason_start": "reason_start",
    "reason_end": "reason_end",
    "source": "referral_source",
    "category": "abuse_category",
    "gender": "gender",
    "ethnicity": "ethnicity",
    "disability": "disability",
}

# Identifiers and fingerprints: kept out of the readable sections, listed in the technical appendix.
TECHNICAL = frozenset({"child_key", "delivery", "la_code", "sha256", "row_id"})
_HEX_KEY = re.compile(r"^[0-9a-f]{32,}$")
_CODE_SPLIT = re.compile(r"[,;/| ]+")


@dataclass(frozen=True)
class Field:
    label: str
    value: str


@dataclass(frozen=True)
class Section:
    table: str
    heading: str
    intro: str
    records: list[list[Field]]


# Meanings the code tables do not spell out (they list the codes, or map codes to canonical words).
EXTRA_MEANINGS: dict[str, dict[str, str]] = {
    "placement": {
        "U1": "Foster placement with a relative or friend",
        "U2": "Foster placement with a relative or friend",
        "U3": "Foster placement with a relative or friend",
        "U4": "Foster placement with another foster carer",
        "U5": "Foster placement with another foster carer",
        "U6": "Foster placement with another foster carer",
        "P1": "Placed with own parent(s) or other person with parental responsibility",
        "H5": "Semi-independent living",
        "K2": "Children's home",
        "R1": "Residential care home",
        "A3": "Placed for adoption",
        "A4": "Placed for adoption",
        "A5": "Placed for adoption",
        "A6": "Placed for adoption",
    },
    "gender": {"1": "Male", "2": "Female", "M": "Male", "F": "Female", "0": "Not known", "9": "Not stated"},
}


@cache
def code_meanings(table: str) -> dict[str, str]:
    """Code -> meaning: the first label the code table maps to each of its codes (only where the table lists
    its codes, so a table mapping codes to canonical words is not read backwards), plus EXTRA_MEANINGS."""
    text = (resources.files("cscvault.formats") / "codes" / f"{table}.toml").read_text("utf-8")
    doc = tomllib.loads(text)
    codes = {str(c).upper() for c in doc.get("codes", [])}
    out: dict[str, str] = {}
    for label, code in doc.get("map", {}).items():
        key = str(code).upper()
        if key in codes and key not in out and str(label).upper() != key:
            out[key] = str(label)[:1].upper() + str(label)[1:]
    for key, meaning in EXTRA_MEANINGS.get(table, {}).items():
        out.setdefault(key.upper(), meaning)
    return out


def explain_code(field: str, value: str) -> str:
    table = CODE_TABLES.get(field)
    if table is None:
        return value
    meanings = code_meanings(table)
    parts = [p for p in _CODE_SPLIT.split(value) if p]
    explained = [f"{meanings[p.upper()]} ({p})" if p.upper() in meanings else p for p in parts]
    return "; ".join(explained)


def plain_value(field: str, value: Any) -> str:
    if value is None or value == "":
        return "not recorded"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return long_date(value.date())
    if isinstance(value, dt.date):
        return long_date(value)
    if field == "birth_month" and isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", value):
        return dt.date.fromisoformat(value[:7] + "-01").strftime("%B %Y")
    term = re.fullmatch(r"(\d{4})_(autumn|spring|summer)", str(value)) if field == "term" else None
    if term:
        return f"{term.group(2).capitalize()} term {term.group(1)}"
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return long_date(dt.date.fromisoformat(value))
    return explain_code(field, str(value))


def field_label(field: str) -> str:
    return FIELDS.get(field, field.replace("_", " ").capitalize())


def is_technical(field: str, value: Any) -> bool:
    return field in TECHNICAL or (isinstance(value, str) and bool(_HEX_KEY.match(value)))


def sections(records: dict[str, list[dict[str, Any]]]) -> list[Section]:
    """The readable sections, one per kind of record the vault holds about the child (empty ones included,
    so the reader sees what was looked at)."""
    out = []
    for table, rows in records.items():
        heading, intro = SECTIONS.get(table, (field_label(table), "Other records."))
        readable = [
            [Field(field_label(k), plain_value(k, v)) for k, v in row.items() if not is_technical(k, v)] for row in rows
        ]
        out.append(Section(table, heading, intro, readable))
    return out


def technical_rows(records: dict[str, list[dict[str, Any]]]) -> list[dict[str, str]]:
    """For the appendix: per record, its table and the identifiers left out of the readable sections."""
    out = []
    for table, rows in records.items():
        for n, row in enumerate(rows, start=1):
            ids = {k: str(v) for k, v in row.items() if is_technical(k, v) and v is not None}
            out.append({"table": table, "record": str(n), **ids})
    return out
