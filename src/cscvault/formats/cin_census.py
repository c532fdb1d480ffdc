"""CIN census XML (collection years 2019/20 to 2025/26, plus the draft 2026/27 pre-proceedings block).

Streamed with `lxml.etree.iterparse`, one <Child> at a time, with entity expansion, DTD loading,
network access and huge-tree mode all off; a document declaring a DTD or entities is refused.
Schema changes handled: GenderCurrent (1/2/0/9, to 2023/24) vs Sex (M/F/U, from 2024/25),
CINPlanDates (from 2021/22), PreProceedingsandFGDM (draft 2026/27). Both are read in every year;
an element outside its years is a warning, not a rejection.

A file in exactly the DfE's shape is read column-wise instead (`cin_census_columnar`, about twice as fast
for the same result); `_Parse.from_columns` does the walk's bookkeeping for it. Every other file is walked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

from cscvault.errors import UsageError
from cscvault.formats import cin_census_columnar as columnar
from cscvault.formats.base import (
    LOC,
    MAX_FILE_BYTES,
    Collector,
    Reader,
    Staged,
    frame_from_columns,
    screen_cell,
)

if TYPE_CHECKING:
    from cscvault.study.model import Study

_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_ROOT_HINTS = (b"<Message", b"<CINdetails", b"<LAchildID", b"<Collection>CIN")

# Elements whose content the study never keeps: reported once per file by name.
_IDENTIFIERS = {
    "UPN": "a UPN",
    "FormerUPN": "a UPN",
}
_NOT_KEPT = {
    "UPNunknown",
    "PersonDeathDate",
    "PrimaryNeedCode",
    "CINclosureDate",
    "ReasonForClosure",
    "DateOfInitialCPC",
    "AssessmentInternalReviewDate",
    "InitialCPCtarget",
    "LatestCategoryOfAbuse",
    "Reviews",
    "CPPreviewDate",
    "LBPSentDate",
    "FGDMMeetingOffer",
    "FGDMMeetingFac",
    "InitialPPMeetingDate",
    "ReviewMeetingsCount",
    "PPOutcome",
    "LetterInitCPDate",
}
_KNOWN = (
    {
        "ChildIdentifiers",
        "LAchildID",
        "PersonBirthDate",
        "ExpectedPersonBirthDate",
        "GenderCurrent",
        "Sex",
        "ChildCharacteristics",
        "Ethnicity",
        "Disabilities",
        "Disability",
        "CINdetails",
        "CINreferralDate",
        "ReferralSource",
        "ReferralNFA",
        "Assessments",
        "AssessmentActualStartDate",
        "AssessmentAuthorisationDate",
        "FactorsIdentifiedAtAssessment",
        "AssessmentFactors",
        "CINPlanDates",
        "CINPlanStartDate",
        "CINPlanEndDate",
        "Section47",
        "S47ActualStartDate",
        "ICPCnotRequired",
        "ChildProtectionPlans",
        "CPPstartDate",
        "CPPendDate",
        "InitialCategoryOfAbuse",
        "NumberOfPreviousCPP",
        "PreProceedingsandFGDM",
        "PPStartDate",
        "StepDecisionDate",
        "CourtAppDate",
    }
    | set(_IDENTIFIERS)
    | _NOT_KEPT
)

# (element, first census end-year it belongs to, last census end-year) -- None = open.
_YEARS: dict[str, tuple[int | None, int | None]] = {
    "GenderCurrent": (None, 2024),
    "Sex": (2025, None),
    "CINPlanDates": (2022, None),
    "PreProceedingsandFGDM": (2027, None),
}

TABLE_COLUMNS: dict[str, list[str]] = {
    "children": ["la_child_id", "gender", "ethnicity", "disability", "uasc", "birth_month", "expected_birth"],
    "referrals": ["la_child_id", "referral_date", "source", "nfa", "birth_month"],
    "assessments": [
        "la_child_id",
        "referral_date",
        "start_date",
        "authorised_date",
        "factors",
        "birth_month",
    ],
    "cin_plans": ["la_child_id", "referral_date", "start_date", "end_date", "birth_month"],
    "s47_enquiries": ["la_child_id", "referral_date", "start_date", "icpc_date", "outcome", "birth_month"],
    "cp_plans": [
        "la_child_id",
        "referral_date",
        "start_date",
        "end_date",
        "category",
        "previous_cpps",
        "birth_month",
    ],
    "pre_proceedings": ["la_child_id", "referral_date", "start_date", "end_date", "birth_month"],
    "care_proceedings": ["la_child_id", "issue_date", "end_date", "birth_month"],
}


# Containers that open a record, and leaves that fill one: element -> (table, field).
_MODULES: dict[str, str] = {
    "CINdetails": "referrals",
    "Assessments": "assessments",
    "CINPlanDates": "cin_plans",
    "Section47": "s47_enquiries",
    "ChildProtectionPlans": "cp_plans",
    "PreProceedingsandFGDM": "pre_proceedings",
}
_LEAVES: dict[str, tuple[str, str]] = {
    "LAchildID": ("children", "la_child_id"),
    "PersonBirthDate": ("children", "birth_month"),
    "ExpectedPersonBirthDate": ("children", "expected_birth"),
    "Sex": ("children", "gender"),
    "GenderCurrent": ("children", "gender"),
    "Ethnicity": ("children", "ethnicity"),
    "Disability": ("children", "disability"),
    "CINreferralDate": ("referrals", "referral_date"),
    "ReferralSource": ("referrals", "source"),
    "ReferralNFA": ("referrals", "nfa"),
    "AssessmentActualStartDate": ("assessments", "start_date"),
    "AssessmentAuthorisationDate": ("assessments", "authorised_date"),
    "AssessmentFactors": ("assessments", "factors"),
    "CINPlanStartDate": ("cin_plans", "start_date"),
    "CINPlanEndDate": ("cin_plans", "end_date"),
    "S47ActualStartDate": ("s47_enquiries", "start_date"),
    "DateOfInitialCPC": ("s47_enquiries", "icpc_date"),
    "ICPCnotRequired": ("s47_enquiries", "outcome"),
    "CPPstartDate": ("cp_plans", "start_date"),
    "CPPendDate": ("cp_plans", "end_date"),
    "InitialCategoryOfAbuse": ("cp_plans", "category"),
    "NumberOfPreviousCPP": ("cp_plans", "previous_cpps"),
    "PPStartDate": ("pre_proceedings", "start_date"),
    "StepDecisionDate": ("pre_proceedings", "end_date"),
    "CourtAppDate": ("pre_proceedings", "issue_date"),
}
# Children of a dropped container: dropped with it, reported once under the container's name.
_SILENT = frozenset({"CPPreviewDate"})

# Elements that need no bookkeeping beyond being collected (the hot path of a large census).
_PLAIN = frozenset(_KNOWN - set(_IDENTIFIERS) - _NOT_KEPT - set(_YEARS))
_LOCAL_CACHE: dict[object, str] = {}
# Element kinds in `_Parse.child`: not an element, a container with no fields, a record opener, a leaf,
# and one that needs bookkeeping first (identifier, dropped, unknown, out of its years).
_NODE, _CONTAINER, _OPEN, _LEAF, _FLAG = range(5)


def _local(tag: object) -> str:
    name = _LOCAL_CACHE.get(tag)
    if name is None:
        name = tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
        if len(_LOCAL_CACHE) < 10_000:
            _LOCAL_CACHE[tag] = name
    return name


class CinCensusReader(Reader):
    format = "cin_census"
    description = "Children in need census XML (2019/20 to 2025/26)"

    def sniff(self, head: bytes, path: Path) -> int:
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not start.startswith(b"<"):
            return 0
        hits = sum(h in head for h in _ROOT_HINTS)
        return 95 if hits >= 2 else (60 if b"<LAchildID" in head else 0)

    def read(self, path: Path, sink: Collector, study: Study) -> Staged:
        staged = Staged(format=self.format)
        if path.stat().st_size > MAX_FILE_BYTES:
            sink.add("FMT-021")
            return staged
        with path.open("rb") as fh:
            head = fh.read(1 << 20)
        if _DTD.search(head):
            sink.add("FMT-005")
            return staged
        parser = _Parse(sink, study, staged)
        found = columnar.extract(path, lambda text, where, name: screen_cell(text, sink, where, name))
        if found is not None:
            return parser.from_columns(found)
        try:
            for event_el in _iter(path):
                parser.element(event_el)
        except etree.XMLSyntaxError as exc:
            line = exc.lineno if exc.lineno else 0
            sink.add("FMT-004", line=line)
            return staged
        staged.rows_read = parser.n_children
        if parser.year is None:
            sink.add("FMT-019", "/Message/Header")
        for name, cols in parser.cols.items():
            if cols[LOC]:
                staged.tables[name] = frame_from_columns(cols)
        return staged


def _iter(path: Path) -> Iterator[Any]:
    context = etree.iterparse(
        str(path),
        events=("end",),
        tag=("{*}Child", "{*}Header"),
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )
    for _, el in context:
        yield el
        # Free what has been read: the element and the siblings before it.
        el.clear(keep_tail=True)
        parent = el.getparent()
        if parent is not None:
            while el.getprevious() is not None:
                del parent[0]


class _Parse:
    def __init__(self, sink: Collector, study: Study, staged: Staged) -> None:
        self.sink = sink
        self.study = study
        self.staged = staged
        # Column lists per table (far smaller than a dict per record for a million children).
        self.cols: dict[str, dict[str, list[object]]] = {
            t: {c: [] for c in [LOC, *cols]} for t, cols in TABLE_COLUMNS.items()
        }
        # Codes and dates repeat: keep one string object per distinct value.
        self.interned: dict[str, str] = {}
        self.appenders = {t: [(c, values.append) for c, values in cols.items()] for t, cols in self.cols.items()}
        self.n_children = 0
        self.year: int | None = None
        self.reported: set[str] = set()
        self.roles: dict[object, tuple[int, str, str, str]] = {}
        self.flagged: set[str] = set()  # reported by `flag` with the year known: nothing more to say
        self.births_reported: set[str] = set()

    # -- helpers ---------------------------------------------------------------------------------

    def once(self, key: str, rule_id: str, **params: object) -> None:
        if key not in self.reported:
            self.reported.add(key)
            self.sink.add(rule_id, **params)  # type: ignore[arg-type]

    def check_year(self, name: str) -> None:
        span = _YEARS.get(name)
        if span is None or self.year is None:
            return
        lo, hi = span
        if (lo is not None and self.year < lo) or (hi is not None and self.year > hi):
            self.once(f"year:{name}", "FMT-020", element=name, year=f"{self.year - 1}/{self.year % 100:02d}")

    # -- elements --------------------------------------------------------------------------------

    def element(self, el: Any) -> None:
        name = _local(el.tag)
        if name == "Header":
            self.header(el)
        elif name == "Child":
            self.n_children += 1
            self.child(el, f"/Message/Children/Child[{self.n_children}]")

    def header(self, el: Any) -> None:
        self.header_values((_local(sub.tag), (sub.text or "").strip()) for sub in el.iter())

    def header_values(self, values: Iterable[tuple[str, str]]) -> None:
        ref = year = lea = None
        for n, t in values:
            if n == "ReferenceDate" and re.match(r"^\d{4}-\d{2}-\d{2}", t):
                ref = int(t[:4])
            elif n == "Year" and re.fullmatch(r"\d{4}", t):
                year = int(t)
            elif n == "LEA" and re.fullmatch(r"\d{3}", t):
                lea = t
        self.year = ref or year
        if self.year is not None:
            self.staged.collection_year = f"{self.year - 1}/{self.year % 100:02d}"
            self.staged.return_label = f"cin{self.year - 1}-{self.year % 100:02d}"
        if lea is not None:
            try:
                self.staged.la = self.study.la(lea).name
            except UsageError:
                # The file names an LA outside the study: that is a finding, never a guess from the path.
                self.staged.la = f"LEA {lea}"

    def role(self, tag: object) -> tuple[int, str, str, str]:
        """What an element tag does in `child`: (kind, local name, table, field), cached per file.
        An element that needs bookkeeping (`flag`) keeps the _FLAG kind until it has been reported
        with the year known; after that the report would be a repeat and it is read like any other."""
        name = _local(tag)
        if not name:
            kind, table, field = _NODE, "", ""
        elif name not in _PLAIN and not (name in self.flagged and name != "DateOfInitialCPC"):
            kind, table, field = _FLAG, "", ""
        elif name in _MODULES:
            kind, table, field = _OPEN, _MODULES[name], ""
        elif name in _LEAVES:
            kind, (table, field) = _LEAF, _LEAVES[name]
        else:
            kind, table, field = _CONTAINER, "", ""
        found = (kind, name, table, field)
        self.roles[tag] = found
        return found

    def child(self, el: Any, loc: str) -> None:
        """One pass over the child's subtree in document order: a container opens a record, a leaf
        fills a field of the innermost open record of its kind."""
        kid: dict[str, object] = {
            LOC: loc,
            "la_child_id": None,
            "gender": None,
            "ethnicity": None,
            "disability": None,
            "uasc": None,
            "birth_month": None,
            "expected_birth": None,
        }
        disabilities: list[str] = []
        referrals: list[dict[str, object]] = []
        events: list[tuple[str, dict[str, object]]] = []
        current: dict[str, dict[str, object]] = {}
        counters: dict[str, int] = {}
        ref_loc = loc
        roles = self.roles
        interned = self.interned
        for sub in el.iterdescendants():
            tag = sub.tag
            role = roles.get(tag)
            if role is None:
                role = self.role(tag)
            kind = role[0]
            if kind == _NODE:
                continue
            tail = sub.tail
            if tail and not tail.isspace():
                self.once(f"tail:{role[1]}", "FMT-016", line=sub.sourceline or 0)
            if kind == _CONTAINER:
                continue
            if kind == _FLAG:
                name = role[1]
                if name == "DateOfInitialCPC" and _local(sub.getparent().tag) == "Section47":
                    role = (_LEAF, name, *_LEAVES[name])
                else:
                    self.flag(name)
                    if self.year is not None:
                        self.flagged.add(name)
                        del roles[tag]  # looked up afresh next time (see `role`)
                    if name == "DateOfInitialCPC" or (name not in _MODULES and name not in _LEAVES):
                        continue
                    role = (_OPEN, name, _MODULES[name], "") if name in _MODULES else (_LEAF, name, *_LEAVES[name])
                kind = role[0]
            if kind == _OPEN:
                name, module = role[1], role[2]
                if module == "referrals":
                    counters = {}
                    ref_loc = f"{loc}/CINdetails[{len(referrals) + 1}]"
                    rec: dict[str, object] = {LOC: ref_loc, "referral_date": None, "source": None, "nfa": None}
                    referrals.append(rec)
                    current = {"referrals": rec}
                else:
                    n = counters[name] = counters.get(name, 0) + 1
                    rec = {LOC: f"{ref_loc}/{name}[{n}]", "_ref": current.get("referrals")}
                    if module == "assessments":
                        rec["_factors"] = []
                    current[module] = rec
                    events.append((module, rec))
                continue
            # A leaf. Most values are short codes or dates with nothing to screen (the fast path).
            module, field = role[2], role[3]
            if module == "children":
                rec_open: dict[str, object] | None = kid
                where = loc
            else:
                rec_open = current.get(module)
                if rec_open is None:
                    continue  # a leaf outside its module (schema-invalid nesting): ignored
                where = str(rec_open[LOC])
            raw: str | None = sub.text
            value: str | None = None
            if raw is not None:
                raw = raw.strip()
                if raw:
                    if len(raw) < 200 and raw[0] not in "=+-@":
                        # Ids are unique: not interned. Codes and dates repeat: one string per value.
                        value = raw if field == "la_child_id" or len(raw) > 40 else interned.setdefault(raw, raw)
                    else:
                        value = screen_cell(raw, self.sink, where, field)
            if module == "children":
                if field == "disability":
                    if value:
                        disabilities.append(value)
                elif field == "gender":
                    if kid["gender"] is None:
                        kid["gender"] = value
                else:
                    kid[field] = value
                if field == "birth_month" or field == "expected_birth":
                    name = role[1]
                    if name not in self.births_reported:
                        self.births_reported.add(name)
                        self.once(f"birth:{name}", "ID-002", column=name)
                        self.sink.drop_column(name)
            elif rec_open is None:
                continue
            elif field == "factors":
                if value:
                    factors_list = rec_open["_factors"]
                    assert isinstance(factors_list, list)
                    factors_list.append(value)
            else:
                rec_open[field] = value
        if disabilities:
            # Any code other than NONE means disabled; the recode step validates the code.
            kid["disability"] = next((c for c in disabilities if c.upper() != "NONE"), disabilities[0])
        cid, birth = kid["la_child_id"], kid["birth_month"]
        self.add("children", kid)
        for rec in referrals:
            rec["la_child_id"], rec["birth_month"] = cid, birth
            self.add("referrals", rec)
        for module, rec in events:
            ref = rec.pop("_ref", None)
            rec["la_child_id"], rec["birth_month"] = cid, birth
            rec["referral_date"] = ref.get("referral_date") if isinstance(ref, dict) else None
            if module == "assessments":
                found = rec.pop("_factors")
                rec["factors"] = ",".join(found) if isinstance(found, list) and found else None
            if module == "pre_proceedings":
                court = rec.pop("issue_date", None)
                if court:
                    self.add(
                        "care_proceedings",
                        {
                            LOC: rec[LOC],
                            "la_child_id": cid,
                            "birth_month": birth,
                            "issue_date": court,
                            "end_date": None,
                        },
                    )
            self.add(module, rec)

    def flag(self, name: str) -> None:
        """Bookkeeping for an element that is not simply read: identifiers, dropped, unknown, out of year."""
        if name in _IDENTIFIERS:
            self.once(f"id:{name}", "ID-001", column=name, kind=_IDENTIFIERS[name])
            self.sink.drop_column(name)
        elif name in _NOT_KEPT:
            if name == "DateOfInitialCPC":
                # Read inside Section47; at CINdetails level it is dropped (reported once).
                self.once("min:DateOfInitialCPC:details", "MIN-001", column="CINdetails/DateOfInitialCPC")
                self.sink.drop_column("CINdetails/DateOfInitialCPC")
            elif name not in _SILENT:
                self.once(f"min:{name}", "MIN-001", column=name)
                self.sink.drop_column(name)
        elif name not in _KNOWN:
            self.once(f"unknown:{name}", "FMT-012", element=name)
        self.check_year(name)

    def from_columns(self, found: columnar.Extract) -> Staged:
        """The walk's bookkeeping for a file read column-wise: the header, then each element that needs
        reporting once, in order of first appearance (as the walk meets them), then the tables."""
        self.header_values(found.header.items())
        for seen in found.present:
            parent, _, name = seen.rpartition("/")
            if name == "DateOfInitialCPC":
                if parent == "CINdetails":
                    self.flag(name)
                continue
            if name in ("PersonBirthDate", "ExpectedPersonBirthDate"):
                self.once(f"birth:{name}", "ID-002", column=name)
                self.sink.drop_column(name)
            if name not in _PLAIN:
                self.flag(name)
        staged = self.staged
        staged.rows_read = found.n_children
        if self.year is None:
            self.sink.add("FMT-019", "/Message/Header")
        for name, cols in found.tables.items():
            rows = len(cols[LOC])
            staged.tables[name] = frame_from_columns(
                {c: cols[c] if c in cols else [None] * rows for c in [LOC, *TABLE_COLUMNS[name]]}
            )
        return staged

    def add(self, table: str, rec: dict[str, object]) -> None:
        get = rec.get
        for column, append in self.appenders[table]:
            append(get(column))
