"""School census attendance CSVs: the LA-held census tables (pupilonroll / pupilnolongeronroll with
termly session totals) and a plain attendance CSV (child id, term, sessions, FSM, pupil premium).

Absence is collected one term in arrears: an autumn census reports the summer term (and the second
half of summer separately), spring reports autumn, summer reports spring. Pupil identity columns
(names, UPN, ULN, date of birth) are dropped at read time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from cscvault.formats.base import LOC, MAX_TEXT_BYTES, Collector, Reader, Staged, frame, normalise_label
from cscvault.formats.tabular import map_columns, records
from cscvault.formats.text import csv_rows, read_text

if TYPE_CHECKING:
    from cscvault.study.model import Study

_MARKERS = {
    "termlysessionspossible",
    "summerhalfterm2sessionspossible",
    "sessions possible",
    "sessions_possible",
    "attendancereason",
    "pupilonrolltableid",
    "pupilnolongeronrolltableid",
    "sessions authorised absence",
    "sessions unauthorised absence",
}
_CENSUS = re.compile(r"(?i)(?<!\d)(\d{4})[_\- ](autumn|spring|summer)")

ALIASES: dict[str, list[str]] = {
    "la_child_id": ["la_child_id", "Child ID", "LAchildID", "child_id", "CHILD"],
    "table_id": ["pupilonrolltableid", "pupilnolongeronrolltableid"],
    "term": ["term", "Term", "attendance term"],
    "census_date": ["census_date", "Census date"],
    "sessions_possible": ["sessions_possible", "Sessions possible", "termlysessionspossible"],
    "sessions_authorised_absence": [
        "sessions_authorised_absence",
        "Sessions authorised absence",
        "termlysessionsauthorised",
    ],
    "sessions_unauthorised_absence": [
        "sessions_unauthorised_absence",
        "Sessions unauthorised absence",
        "termlysessionsunauthorised",
    ],
    "half2_possible": ["summerhalfterm2sessionspossible"],
    "half2_authorised": ["summerhalfterm2sessionsauthorised"],
    "half2_unauthorised": ["summerhalfterm2sessionsunauthorised"],
    "fsm_eligible": ["fsm_eligible", "FSM eligible", "Free school meals eligible", "fsmeligible"],
    "pupil_premium": ["pupil_premium", "Pupil premium", "pupil premium eligible", "pupilpremium"],
    "birth_month": ["dob", "date of birth", "birth_month"],
}
_DETAIL_TABLES = ("sessiondetails", "exclusions", "fsmperiod", "senneeds", "learnerfam")


def _header_labels(text: str) -> set[str]:
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    return {c.strip().strip('"').casefold() for c in first.split(",")} | {normalise_label(c) for c in first.split(",")}


def attendance_term(census_year: int, census_term: str) -> str:
    """The term whose absence a census reports (one term in arrears)."""
    if census_term == "autumn":
        return f"{census_year}-summer"
    if census_term == "spring":
        return f"{census_year - 1}-autumn"
    return f"{census_year}-spring"


def census_month(census_year: int, census_term: str) -> str:
    """The census month (autumn October, spring January, summer May), as its first day."""
    month = {"autumn": 10, "spring": 1, "summer": 5}[census_term]
    return f"{census_year}-{month:02d}-01"


class SchoolCensusReader(Reader):
    format = "school_census"
    description = "School census attendance CSV"

    def sniff(self, head: bytes, path: Path) -> int:
        labels = _header_labels(head.decode("utf-8", errors="replace"))
        return 85 if labels & _MARKERS else 0

    def read(self, path: Path, sink: Collector, study: Study) -> Staged:
        staged = Staged(format=self.format)
        if path.stat().st_size > MAX_TEXT_BYTES:
            sink.add("FMT-021")
            return staged
        text = read_text(path, sink)
        if text is None:
            return staged
        rows: list[list[object]] = [list(r) for r in csv_rows(text)]
        if not rows:
            sink.add("FMT-002")
            return staged
        labels = {str(c).strip().casefold() for c in rows[0]}
        census = _CENSUS.search(path.stem)
        if census:
            staged.return_label = f"{census.group(1)}_{census.group(2).lower()}"
        if "attendancereason" in labels or any(
            any(t in lab for t in _DETAIL_TABLES) for lab in labels if lab.endswith("tableid")
        ):
            staged.format = "school_census:detail"
            staged.rows_read = sum(1 for r in rows[1:] if any(str(c).strip() for c in r))
            sink.add("FMT-015", table="school census detail")
            return staged
        cmap = map_columns(rows[0], ALIASES, sink)
        if "la_child_id" not in cmap.fields and "table_id" not in cmap.fields:
            sink.add("FMT-008", field="la_child_id")
            return staged
        if "la_child_id" not in cmap.fields:
            sink.add("LINK-003", table="attendance_terms")
        default_term = attendance_term(int(census.group(1)), census.group(2).lower()) if census else None
        default_census = census_month(int(census.group(1)), census.group(2).lower()) if census else None
        att: list[dict[str, object]] = []
        fsm: list[dict[str, object]] = []
        for loc, v, _ in records(rows, cmap, sink, "", ragged=True):
            staged.rows_read += 1
            cid = v.get("la_child_id") or v.get("table_id")
            term = v.get("term") or default_term
            base = {LOC: loc, "la_child_id": cid, "birth_month": v.get("birth_month")}
            if any(
                v.get(k) for k in ("sessions_possible", "sessions_authorised_absence", "sessions_unauthorised_absence")
            ):
                att.append(
                    {
                        **base,
                        "term": term,
                        "sessions_possible": v.get("sessions_possible"),
                        "sessions_authorised_absence": v.get("sessions_authorised_absence"),
                        "sessions_unauthorised_absence": v.get("sessions_unauthorised_absence"),
                    }
                )
            if any(v.get(k) for k in ("half2_possible", "half2_authorised", "half2_unauthorised")):
                att.append(
                    {
                        **base,
                        "term": f"{term}-half2" if term else None,
                        "sessions_possible": v.get("half2_possible"),
                        "sessions_authorised_absence": v.get("half2_authorised"),
                        "sessions_unauthorised_absence": v.get("half2_unauthorised"),
                    }
                )
            if v.get("fsm_eligible") is not None or v.get("pupil_premium") is not None:
                fsm.append(
                    {
                        **base,
                        "census_date": v.get("census_date") or default_census,
                        "fsm_eligible": v.get("fsm_eligible"),
                        "pupil_premium": v.get("pupil_premium"),
                    }
                )
        cols = [
            "la_child_id",
            "term",
            "sessions_possible",
            "sessions_authorised_absence",
            "sessions_unauthorised_absence",
            "birth_month",
        ]
        if att:
            staged.tables["attendance_terms"] = frame(att, cols)
        if fsm:
            staged.tables["fsm_pupil_premium"] = frame(
                fsm, ["la_child_id", "census_date", "fsm_eligible", "pupil_premium", "birth_month"]
            )
        return staged
