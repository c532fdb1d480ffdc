"""The one registry of ingest validation rules.

Each rule has a stable id (never reused), a severity, a message template and a docs line.
Templates may name structural things only ({field}, {table}, {column}, {kind}, {year}...);
they never carry a value from the data. `docs/rules.md` is generated from this registry
(`python -m cscvault.ingest.rules_doc`), and a test fails when a rule lacks docs or a test.

Severities:
- fatal: the whole file is rejected; the caller loads nothing from it.
- error: a value or a row is rejected (the value is nulled and quarantined, or the row dropped).
- warning: the value is kept or repaired, but a person should look.
- info: recorded for the delivery report only.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Literal

Severity = Literal["fatal", "error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("fatal", "error", "warning", "info")


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    template: str
    doc: str

    @property
    def params(self) -> frozenset[str]:
        return frozenset(name for _, name, _, _ in string.Formatter().parse(self.template) if name)

    def message(self, **params: object) -> str:
        """Fill the template; unknown or missing parameters are an internal error."""
        missing = self.params - params.keys()
        if missing:
            raise KeyError(f"rule {self.id}: missing template parameters {sorted(missing)}")
        return self.template.format(**{k: params[k] for k in self.params})


def _r(rule_id: str, severity: Severity, template: str, doc: str) -> Rule:
    return Rule(rule_id, severity, template, doc)


_RULES: tuple[Rule, ...] = (
    # -- file and format ----------------------------------------------------------------------------
    _r(
        "FMT-001",
        "fatal",
        "the file's format was not recognised",
        "The content matches none of the readers (DR1-DR3, CIN census XML, SSDA903 CSV/XML, school census).",
    ),
    _r(
        "FMT-002",
        "fatal",
        "the file is empty",
        "A zero-byte file, or a file with no header row and no records.",
    ),
    _r(
        "FMT-003",
        "warning",
        "the file is not UTF-8; it was read as {encoding}",
        "Text files should be UTF-8; a legacy Windows encoding is accepted and reported.",
    ),
    _r(
        "FMT-004",
        "fatal",
        "the XML is not well-formed (line {line})",
        "Truncated or broken XML; nothing from the file is loaded.",
    ),
    _r(
        "FMT-005",
        "fatal",
        "the XML declares a DTD or entities, which returns must not use",
        "DOCTYPE/ENTITY declarations are refused so that no entity is expanded and nothing is fetched.",
    ),
    _r(
        "FMT-006",
        "error",
        "column '{column}' appears more than once; later copies were dropped",
        "Duplicated header names make a row ambiguous; only the first copy is read.",
    ),
    _r(
        "FMT-007",
        "fatal",
        "no header row was found in sheet or file '{where}'",
        "The reader looks for the template's header labels in the first rows of the sheet.",
    ),
    _r(
        "FMT-008",
        "fatal",
        "required column for '{field}' is missing",
        "A column the return must carry (such as the child id) is absent.",
    ),
    _r(
        "FMT-009",
        "error",
        "a cell in field '{field}' is larger than the limit and was dropped",
        "Cells over 32 KB are refused (they are never a code, date or id).",
    ),
    _r(
        "FMT-010",
        "error",
        "a cell in field '{field}' holds a spreadsheet formula and was quarantined",
        "Values starting with =, +, -, @ followed by a formula shape are formula injection, never data.",
    ),
    _r(
        "FMT-011",
        "warning",
        "row has {n_cells} cells but the header has {n_header}",
        "Ragged CSV rows are padded or cut to the header length.",
    ),
    _r(
        "FMT-012",
        "info",
        "element '{element}' is not read by this study",
        "An XML element outside the modules cscvault reads; its content is ignored.",
    ),
    _r(
        "FMT-013",
        "fatal",
        "no sheet matching the {return_kind} template was found",
        "The workbook has no sheet whose name matches the return's sheet-name patterns.",
    ),
    _r(
        "FMT-014",
        "error",
        "the local authority could not be identified or is not in this study",
        "The LA comes from the file (CIN LEA, a cell naming the LA) or the file name; the caller may pass it.",
    ),
    _r(
        "FMT-015",
        "info",
        "table '{table}' is recognised but not used by this study; its rows were not kept",
        "SSDA903 tables such as reviews or OC2 hold nothing the data dictionary allows.",
    ),
    _r(
        "FMT-016",
        "warning",
        "text was found between XML elements near line {line} and ignored",
        "Stray character data between child elements (seen in public CIN samples).",
    ),
    _r(
        "FMT-017",
        "fatal",
        "the file could not be read as a spreadsheet",
        "A corrupt or encrypted .xlsx, or a file whose extension does not match its content.",
    ),
    _r(
        "FMT-018",
        "fatal",
        "the file is binary, not text",
        "NUL bytes or other control bytes in a file expected to be CSV text.",
    ),
    _r(
        "FMT-019",
        "warning",
        "the collection year could not be determined",
        "The CIN header has no ReferenceDate or Year; year-specific checks are skipped.",
    ),
    _r(
        "FMT-020",
        "warning",
        "element '{element}' is not part of the {year} collection",
        "E.g. GenderCurrent after 2023/24, Sex before 2024/25, CINPlanDates before 2021/22.",
    ),
    _r(
        "FMT-021",
        "fatal",
        "the file is larger than the reader's limit",
        "Files above the configured size limit are refused before reading.",
    ),
    _r(
        "FMT-023",
        "fatal",
        "sheet '{where}' is too large or too sparse to read safely",
        "A sheet whose used range exceeds 20 million cells, or whose XML inflates beyond 512 MB, is "
        "refused before it is read (a stray far-away cell would otherwise exhaust memory).",
    ),
    _r(
        "FMT-024",
        "fatal",
        "line {line} is longer than the reader's limit",
        "A CSV line above 16 MiB (no real return has one) is refused after a streamed scan, before the file "
        "is read into memory, so one giant cell cannot exhaust memory or time.",
    ),
    _r(
        "FMT-022",
        "warning",
        "the return label could not be determined",
        "The return (e.g. nov22) comes from the file name or the caller; without it de-duplication is weaker.",
    ),
    # -- identifiers --------------------------------------------------------------------------------
    _r(
        "ID-001",
        "info",
        "column '{column}' holds {kind} and was dropped at read time",
        "Names, addresses, postcodes, UPNs, NHS numbers, other personal ids and free text never enter "
        "the vault; the column is reported by name only.",
    ),
    _r(
        "ID-002",
        "info",
        "date of birth column '{column}' was converted to age in months and dropped",
        "Date or month of birth is used only to compute age in months at each event, then discarded.",
    ),
    _r(
        "ID-101",
        "error",
        "field '{field}' holds a value shaped like an NHS number; it was quarantined",
        "Ten digits with a valid modulus-11 check digit.",
    ),
    _r(
        "ID-102",
        "error",
        "field '{field}' holds a value shaped like a UPN; it was quarantined",
        "A letter, 11 digits and a final digit or letter (the unique pupil number pattern).",
    ),
    _r(
        "ID-103",
        "error",
        "field '{field}' holds a value shaped like a postcode; it was quarantined",
        "A UK postcode (full form).",
    ),
    _r(
        "ID-104",
        "error",
        "field '{field}' holds an e-mail address; it was quarantined",
        "Anything shaped like local@domain.tld.",
    ),
    _r(
        "ID-105",
        "error",
        "field '{field}' holds a phone number; it was quarantined",
        "UK phone numbers (07..., 01..., 02..., +44...).",
    ),
    _r(
        "ID-106",
        "error",
        "coded field '{field}' holds what looks like a personal name; it was quarantined",
        "A code field's value that matches no code and is shaped like a capitalised name.",
    ),
    _r(
        "ID-107",
        "warning",
        "the child ids in table '{table}' are shaped like {kind}",
        "Most ids pass the NHS number check or match the UPN pattern: the LA may be sending a national "
        "identifier as its tracking code. They are pseudonymised like any id, but the LA should be asked.",
    ),
    # -- minimisation -------------------------------------------------------------------------------
    _r(
        "MIN-001",
        "info",
        "column '{column}' is not in the data dictionary and was dropped",
        "Only fields the study's data dictionary allows are kept.",
    ),
    _r(
        "MIN-002",
        "warning",
        "field '{table}.{field}' is not in the data dictionary and was dropped",
        "A canonical field the reader produced is not allowed by this study's data dictionary.",
    ),
    # -- dates --------------------------------------------------------------------------------------
    _r(
        "DATE-001",
        "error",
        "field '{field}' is not a date",
        "Accepted: ISO dates, dd/mm/yyyy (also - and .), Excel serials, '16-Oct-2024', month-year forms.",
    ),
    _r(
        "DATE-002",
        "warning",
        "field '{field}' has an ambiguous date; read as {reading}",
        "Two-digit years, or day/month order that the column does not settle.",
    ),
    _r(
        "DATE-003",
        "error",
        "field '{field}' is outside the study data window",
        "Event dates must lie inside the study's data window (e.g. 2019-01-01..2025-12-31).",
    ),
    _r(
        "DATE-004",
        "error",
        "field '{field}' has an implausible year",
        "Birth months before 1990 or after the data window (placeholders such as 1900-01-01).",
    ),
    _r(
        "DATE-005",
        "warning",
        "in table '{table}' the end date is before the start date",
        "Event order: an end before its start is kept but reported.",
    ),
    _r(
        "DATE-006",
        "warning",
        "in table '{table}' the event is dated before the referral it belongs to",
        "Event order: assessments, plans and enquiries should not precede their referral.",
    ),
    _r(
        "DATE-007",
        "error",
        "row dropped: the event date in table '{table}' is missing or rejected",
        "A record without its defining date (referral date, start date) cannot be used.",
    ),
    # -- ages ---------------------------------------------------------------------------------------
    _r(
        "AGE-001",
        "warning",
        "age at an event in table '{table}' is impossible; age was left missing",
        "Age over 25 years, or an event more than 10 months before birth.",
    ),
    # -- codes (recode tables) ----------------------------------------------------------------------
    _r(
        "CODE-001",
        "error",
        "field '{field}': gender/sex value not in the code table",
        "Gender (1/2/0/9, labels) and sex (M/F/U) are recoded from cscvault/formats/codes/gender.toml.",
    ),
    _r(
        "CODE-002",
        "error",
        "field '{field}': ethnicity value not in the code table",
        "The 20 DfE ethnicity codes and their labels (codes/ethnicity.toml).",
    ),
    _r(
        "CODE-003",
        "error",
        "field '{field}': disability value not in the code table",
        "Yes/No and the CIN disability codes (codes/disability.toml).",
    ),
    _r(
        "CODE-004",
        "error",
        "field '{field}': UASC value not in the code table",
        "Yes/No, 0/1 and immigration-status labels (codes/uasc.toml).",
    ),
    _r(
        "CODE-005",
        "error",
        "field '{field}': referral NFA value not in the code table",
        "Per the template, 1 (or true) = no further action (codes/nfa.toml).",
    ),
    _r(
        "CODE-006",
        "error",
        "field '{field}': number of previous CPPs is not a count",
        "A whole number of previous child protection plans, or '3+' style.",
    ),
    _r(
        "CODE-007",
        "error",
        "field '{field}': assessment outcome not in the code table",
        "Outcome of single assessment (codes/assessment_outcome.toml).",
    ),
    _r(
        "CODE-008",
        "error",
        "field '{field}': an assessment factor is not in the code table",
        "Factor codes 1A..24A, 20, 21 as lists, Yes/No columns or words (codes/factors.toml).",
    ),
    _r(
        "CODE-009",
        "error",
        "field '{field}': CLA legal status not in the code table",
        "SSDA903 LS codes (codes/legal_status.toml).",
    ),
    _r(
        "CODE-010",
        "error",
        "field '{field}': placement type not in the code table",
        "SSDA903 PLACE codes incl. historic ones; kinship placements are flagged (codes/placement.toml).",
    ),
    _r(
        "CODE-011",
        "error",
        "field '{field}': reason for new episode not in the code table",
        "SSDA903 RNE codes (codes/reason_start.toml).",
    ),
    _r(
        "CODE-012",
        "error",
        "field '{field}': reason episode ceased not in the code table",
        "SSDA903 REC codes; returns home are flagged (codes/reason_end.toml).",
    ),
    _r(
        "CODE-013",
        "error",
        "field '{field}': referral source not in the code table",
        "CIN ReferralSource codes (codes/referral_source.toml).",
    ),
    _r(
        "CODE-014",
        "error",
        "field '{field}': category of abuse not in the code table",
        "NEG/PHY/SAB/EMO/MUL and labels (codes/abuse_category.toml).",
    ),
    _r(
        "CODE-015",
        "error",
        "field '{field}': yes/no value not in the code table",
        "Generic yes/no fields (ICPC not required, FSM, pupil premium) (codes/yes_no.toml).",
    ),
    _r(
        "CODE-016",
        "warning",
        "field '{field}' holds a legacy code that was mapped to its successor",
        "E.g. factors 18A/19A, placement Q1/Q2, ethnicity WEUR; kept but reported.",
    ),
    _r(
        "CODE-017",
        "warning",
        "field '{field}' holds a code that is not part of the {year} collection",
        "Codes have years (codes/*.toml [years]): e.g. factor 24A from 2021/22, referral source 5D from "
        "2022/23, factors 18A/19A until 2019/20. The value is kept; the LA's system may be out of date.",
    ),
    # -- numbers ------------------------------------------------------------------------------------
    _r(
        "NUM-001",
        "error",
        "field '{field}' is not a number",
        "Counts and measures must be numeric (text such as 'Currently unavailable' is rejected).",
    ),
    _r(
        "NUM-002",
        "error",
        "field '{field}' is out of range",
        "Negative counts, absence above possible sessions, proportions above 100%.",
    ),
    _r(
        "NUM-003",
        "warning",
        "field '{field}' holds percentages where the template asks for a proportion; divided by 100",
        "Declared per measure in formats/dr_layouts.toml ([dr1.proportions]); applied to the whole file.",
    ),
    # -- keys, duplicates and linkage ---------------------------------------------------------------
    _r(
        "KEY-001",
        "error",
        "row dropped: the child id is missing",
        "Every child-level record needs the LA's child id.",
    ),
    _r(
        "DUP-001",
        "info",
        "duplicate record in table '{table}' stored once",
        "Identical records within one delivery (or the same referral in overlapping returns) are kept once.",
    ),
    _r(
        "LINK-001",
        "warning",
        "a child id carries conflicting birth months and was split",
        "An LA id reused for different children is split by birth month before pseudonymisation.",
    ),
    _r(
        "LINK-002",
        "info",
        "first referral tie broken deterministically",
        "Two referrals on the child's first referral date: the one with the smallest sort key is first.",
    ),
    _r(
        "LINK-003",
        "warning",
        "records in table '{table}' carry no LA child id and cannot link",
        "E.g. school census tables keyed only by their own table ids.",
    ),
    # -- rules applied when a delivery is loaded into the vault (cscvault.ingest.delivery) ------------
    _r(
        "LINK-010",
        "info",
        "records in table '{table}' belong to erased children and were dropped on arrival",
        "Erasure tombstones: a child erased earlier never re-enters; only the count is kept.",
    ),
    _r(
        "LINK-011",
        "warning",
        "field '{field}' of a child disagrees with the value already held; the held value stands",
        "A later delivery's characteristic that conflicts with an earlier one is reported, not applied.",
    ),
    _r(
        "LINK-012",
        "warning",
        "field '{field}' of a child disagrees with a recorded rectification; the rectification stands",
        "Corrections made under a rights request are never overwritten by a later delivery.",
    ),
    _r(
        "LINK-013",
        "info",
        "records in table '{table}' were already held from an overlapping return and stored once",
        "The same event delivered in two returns (same child and natural key) is kept once.",
    ),
)

RULES: dict[str, Rule] = {r.id: r for r in _RULES}
if len(RULES) != len(_RULES):  # pragma: no cover - guarded by tests too
    raise RuntimeError("duplicate rule id in cscvault.formats.rules")


def rule(rule_id: str) -> Rule:
    return RULES[rule_id]


def all_rules() -> tuple[Rule, ...]:
    return _RULES
