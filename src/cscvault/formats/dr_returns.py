"""Trial data returns DR1-DR3 (.xlsx or .csv), read by the layouts declared in `dr_layouts.toml`.

Sheets are found by name pattern, header rows by content, columns by label. Layout differences
between LAs or returns are `[[overrides]]` in the TOML, chosen by the LA and return label.
"""

from __future__ import annotations

import functools
import re
import tomllib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from python_calamine import CalamineWorkbook

from cscvault.formats.base import (
    LOC,
    MAX_TEXT_BYTES,
    Collector,
    Reader,
    Staged,
    clean_cell,
    frame,
    normalise_label,
)
from cscvault.formats.recode import recode, table
from cscvault.formats.tabular import ColumnMap, alias_index, find_header, map_columns, records
from cscvault.formats.text import csv_rows, read_text
from cscvault.formats.workbook import SheetTooLarge, read_sheets

if TYPE_CHECKING:
    from cscvault.study.model import Study

Rows = list[list[object]]
_CENSUS_SUFFIX = re.compile(r"(?i)\s*census\s*(\d{4})\s*$")
_RETURN_LABEL = re.compile(
    r"(?i)(?<![a-z])(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*[_\- ]?(\d{4}|\d{2})(?!\d)"
)


@functools.cache
def layouts() -> dict[str, Any]:
    text = (resources.files("cscvault.formats") / "dr_layouts.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@dataclass(frozen=True)
class Part:
    """One sheet-shaped part of a return (DR1, DR2, or one of DR3's sheets)."""

    kind: str  # dr1, dr2, dr3
    name: str
    spec: dict[str, Any]

    @property
    def aliases(self) -> dict[str, list[str]]:
        if self.kind == "dr1":
            return {"month": self.spec["month"], **self.spec["measures"]}
        return dict(self.spec["columns"])

    @property
    def patterns(self) -> list[re.Pattern[str]]:
        return [re.compile(p) for p in self.spec["sheets"]]


def parts() -> list[Part]:
    lay = layouts()
    out = [Part("dr1", "dr1", lay["dr1"]), Part("dr2", "dr2", lay["dr2"])]
    out += [Part("dr3", p["name"], p) for p in lay["dr3"]["parts"]]
    return out


def return_label_from_name(path: Path) -> str | None:
    m = _RETURN_LABEL.search(path.stem)
    if not m:
        return None
    year = m.group(2)[-2:]
    return f"{m.group(1).lower()}{year}"


def la_from_name(path: Path, study: Study) -> str | None:
    """An LA named by the file's first word (e.g. 'lancashire_dr2_nov20', 'wands_dr3_july24')."""
    tokens = [t for t in re.split(r"[_\-\s.]+", path.stem.casefold()) if t]
    squashed = path.stem.casefold().replace(" ", "").replace("_", "").replace("-", "")
    for la in study.local_authorities:
        names = {la.name.casefold().replace(" ", ""), la.notice_name.casefold().replace(" ", "")}
        if any(squashed.startswith(n) for n in names):
            return la.name
        if tokens and len(tokens[0]) >= 5 and any(n.startswith(tokens[0]) for n in names):
            return la.name
    return None


def la_from_content(sheets: Sequence[tuple[str, Rows]], study: Study) -> str | None:
    """A cell in the top rows naming a study LA (by name, ONS or DfE code next to an LA label)."""
    names = {}
    for la in study.local_authorities:
        names[normalise_label(la.name)] = la.name
        names[normalise_label(la.notice_name)] = la.name
    for _, rows in sheets:
        for row in rows[:12]:
            cells = [clean_cell(c) for c in row[:12]]
            for i, cell in enumerate(cells):
                if cell is None:
                    continue
                label = normalise_label(cell)
                if label in names and i < 2:
                    return names[label]  # a title cell naming the LA (data cells sit further right)
                if label.startswith("local authority") and label[len("local authority") :].strip() in names:
                    return names[label[len("local authority") :].strip()]
                if label in {"local authority", "la", "la name", "local authority name"} and i + 1 < len(cells):
                    nxt = cells[i + 1]
                    if nxt and normalise_label(nxt) in names:
                        return names[normalise_label(nxt)]
    return None


def _open_workbook(path: Path, sink: Collector) -> list[tuple[str, Rows]] | None:
    """The sheets that match a return part (only those are read), or None after a fatal finding."""
    names = _sheet_names(path)
    wanted = list(dict.fromkeys(n for p in parts() if (n := _match_sheet(p, names)) is not None))
    try:
        return read_sheets(path, wanted)
    except SheetTooLarge as exc:
        sink.add("FMT-023", where=str(exc)[:80])
        return None
    except Exception:  # zipfile, lxml and calamine raise several types for corrupt files
        sink.add("FMT-017")
        return None


def _sheet_names(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as z:
            if "xl/workbook.xml" not in z.namelist():
                return []
        return list(CalamineWorkbook.from_path(str(path)).sheet_names)
    except Exception:  # any failure means "not a workbook we can read"
        return []


def _match_sheet(part: Part, names: Sequence[str]) -> str | None:
    for pattern in part.patterns:
        for name in names:
            if pattern.search(name):
                return name
    return None


class DrReturnReader(Reader):
    format = "dr_return"
    description = "Trial data returns DR1-DR3 (.xlsx or .csv)"

    def sniff(self, head: bytes, path: Path) -> int:
        if head.startswith(b"PK\x03\x04"):
            names = _sheet_names(path)
            return 90 if any(_match_sheet(p, names) for p in parts()) else 0
        text = head.decode("utf-8", errors="replace")
        rows = csv_rows(text)[: layouts()["header_search_rows"]]
        return 80 if _best_part_for_rows(rows) is not None else 0

    def read(self, path: Path, sink: Collector, study: Study) -> Staged:
        staged = Staged(format=self.format, return_label=return_label_from_name(path))
        if path.stat().st_size > MAX_TEXT_BYTES:
            sink.add("FMT-021")
            return staged
        sheets: list[tuple[str, Rows]]
        with path.open("rb") as fh:
            magic = fh.read(4)
        if magic == b"PK\x03\x04":
            opened = _open_workbook(path, sink)
            if opened is None:
                return staged
            sheets = opened
            chosen = [(p, _match_sheet(p, [n for n, _ in sheets])) for p in parts()]
            by_name = dict(sheets)
            matches = [(p, by_name[n], f"{n}!") for p, n in chosen if n is not None]
        else:
            text = read_text(path, sink)
            if text is None:
                return staged
            rows: Rows = [list(r) for r in csv_rows(text)]
            sheets = [("", rows)]
            part = _best_part_for_rows(rows)
            matches = [(part, rows, "")] if part else []
        if not matches:
            sink.add("FMT-013", return_kind="DR1-DR3")
            return staged
        staged.la = la_from_content(sheets, study) or la_from_name(path, study)
        kinds = sorted({p.kind for p, _, _ in matches})
        staged.format = "dr_return:" + "+".join(kinds)
        buckets: dict[str, list[dict[str, object]]] = {}
        for part, rows, where in matches:
            n = _stage_part(part, rows, where, sink, staged, buckets)
            staged.rows_read += n
        for name, recs in buckets.items():
            staged.tables[name] = frame(recs, _columns(recs))
        return staged


def _columns(recs: list[dict[str, object]]) -> list[str]:
    cols: dict[str, None] = {}
    for r in recs[:1000]:
        cols.update(dict.fromkeys(r))
    return list(cols)


def _best_part_for_rows(rows: Sequence[Sequence[object]]) -> Part | None:
    search = layouts()["header_search_rows"]
    best: tuple[int, Part] | None = None
    for p in parts():
        if find_header(rows, p.aliases, search, p.spec.get("min_header_matches", 2)) is None:
            continue
        hits = _hits(rows, p, search)
        if best is None or hits > best[0]:
            best = (hits, p)
    return best[1] if best else None


def _hits(rows: Sequence[Sequence[object]], p: Part, search: int) -> int:
    index = alias_index(p.aliases)
    best = 0
    for row in rows[:search]:
        labels = {normalise_label(str(c)) for c in row if c is not None}
        best = max(best, len({index[x] for x in labels if x in index}))
    return best


def _override(part: Part, staged: Staged) -> dict[str, Any]:
    """The merged overrides for this part, LA and return (later entries win)."""
    merged: dict[str, Any] = {}
    for o in layouts().get("overrides", []):
        if o.get("kind") != part.kind:
            continue
        if staged.la is None or normalise_label(o["la"]) != normalise_label(staged.la):
            continue
        if "return" in o and o["return"] != staged.return_label:
            continue
        for k, v in o.items():
            if isinstance(v, dict):
                merged.setdefault(k, {}).update(v)
            else:
                merged[k] = v
    return merged


def _stage_part(
    part: Part,
    rows: Rows,
    where: str,
    sink: Collector,
    staged: Staged,
    out: dict[str, list[dict[str, object]]],
) -> int:
    lay = layouts()
    ov = _override(part, staged)
    aliases = part.aliases
    aliases.update(ov.get("columns", {}))
    parts_of_birth = ov.get("birth_month_parts")
    if parts_of_birth:
        aliases.pop("birth_month", None)
        aliases["_birth_month_part"] = [parts_of_birth["month"]]
        aliases["_birth_year_part"] = [parts_of_birth["year"]]
        # The label of the year column is also an alias of ethnicity in the base layout.
        aliases["ethnicity"] = [a for a in aliases["ethnicity"] if a != parts_of_birth["year"]]
    extra = _extra_matcher(part)
    header = find_header(rows, aliases, lay["header_search_rows"], part.spec.get("min_header_matches", 2), extra)
    if header is None:
        sink.add("FMT-007", where=where.rstrip("!") or "file")
        return 0
    cmap = map_columns(rows[header], aliases, sink, extra=extra)
    cmap.header_row = header
    if parts_of_birth and "_birth_month_part" in cmap.fields:
        sink.add("ID-002", column=parts_of_birth["month"])
        sink.drop_column(parts_of_birth["month"])
        sink.drop_column(parts_of_birth["year"])
    for required in part.spec.get("required", []):
        if required not in cmap.fields:
            sink.add("FMT-008", field=required)
            return 0
    n = 0
    for loc, values, extras in records(rows, cmap, sink, where):
        n += 1
        if "_birth_month_part" in values:
            m, y = values.pop("_birth_month_part"), values.pop("_birth_year_part", None)
            values["birth_month"] = f"{m}/{y}" if m and y else None
        if part.kind == "dr1":
            _dr1_row(loc, values, out)
        elif part.kind == "dr2":
            _dr2_row(loc, values, extras, sink, out)
        else:
            _dr3_row(part, loc, values, extras, cmap, out)
    return n


def _extra_matcher(part: Part) -> Any:
    if part.kind == "dr2":
        prefixes = [normalise_label(p) for p in part.spec.get("factor_column_prefix", [])]
        codes = {c.casefold(): c for c in table("factors").mapping.values()}

        def factor_column(label: str) -> str | None:
            lab = normalise_label(label)
            for p in prefixes:
                if lab.startswith(p + " "):
                    code = lab[len(p) + 1 :].replace(" ", "")
                    if code in codes:
                        return "factor:" + codes[code]
            return None

        return factor_column
    pattern = part.spec.get("term_pattern")
    if pattern:
        rx = re.compile(pattern)
        by_census = {
            name: [normalise_label(a) for a in part.spec["columns"].get(name, [])]
            for name in ("fsm_ever", "pupil_premium")
        }

        def term_column(label: str) -> str | None:
            m = rx.search(label)
            if m:
                return f"term:{m.group(2)}-{m.group(1).lower()}"
            # Lancashire splits FSM and pupil premium by census year: "<label> Census 2021".
            c = _CENSUS_SUFFIX.search(label)
            if c:
                stem = normalise_label(label[: c.start()])
                for name, labels in by_census.items():
                    if stem in labels:
                        return f"{name}@{c.group(1)}"
            return None

        return term_column
    return None


def _dr1_row(loc: str, values: dict[str, str | None], out: dict[str, list[dict[str, object]]]) -> None:
    month = values.get("month")
    for measure, value in values.items():
        if measure == "month" or value is None:
            continue
        out.setdefault("la_month_aggregates", []).append(
            {LOC: f"{loc}, {measure}", "month": month, "measure": measure, "value": value}
        )


def _dr2_row(
    loc: str,
    v: dict[str, str | None],
    extras: dict[str, str | None],
    sink: Collector,
    out: dict[str, list[dict[str, object]]],
) -> None:
    cid, birth = v.get("la_child_id"), v.get("birth_month")
    factors = v.get("factors")
    yes_codes = []
    for name, raw in sorted(extras.items()):
        if not name.startswith("factor:"):
            continue
        res = recode("yes_no", raw)
        if res.status == "unmapped":
            sink.add("CODE-008", loc, "factors", value=raw)
        elif res.value is True:
            yes_codes.append(name.split(":", 1)[1])
    if yes_codes:
        factors = ",".join([factors, *yes_codes] if factors else yes_codes)
    out.setdefault("children", []).append(
        {
            LOC: loc,
            "la_child_id": cid,
            "gender": v.get("gender"),
            "ethnicity": v.get("ethnicity"),
            "disability": v.get("disability"),
            "uasc": v.get("uasc"),
            "birth_month": birth,
        }
    )
    out.setdefault("referrals", []).append(
        {
            LOC: loc,
            "la_child_id": cid,
            "referral_date": v.get("referral_date"),
            "source": v.get("source"),
            "nfa": v.get("nfa"),
            "previous_cpps": v.get("previous_cpps"),
            "birth_month": birth,
        }
    )
    if any(v.get(k) for k in ("assessment_start", "assessment_authorised", "assessment_outcome")) or factors:
        out.setdefault("assessments", []).append(
            {
                LOC: loc,
                "la_child_id": cid,
                "referral_date": v.get("referral_date"),
                "start_date": v.get("assessment_start"),
                "authorised_date": v.get("assessment_authorised"),
                "outcome": v.get("assessment_outcome"),
                "factors": factors,
                "birth_month": birth,
            }
        )


def _dr3_row(
    part: Part,
    loc: str,
    v: dict[str, str | None],
    extras: dict[str, str | None],
    cmap: ColumnMap,
    out: dict[str, list[dict[str, object]]],
) -> None:
    cid = v.get("la_child_id")
    skip = part.spec.get("skip_without")
    if skip and v.get(skip) is None:
        return  # pre-filled templates: an empty date means "did not happen"
    if part.name in {"cla", "cpp"}:
        rec: dict[str, object] = {LOC: loc, **v}
        out.setdefault(part.spec["table"], []).append(rec)
    elif part.name == "proceedings":
        if v.get("pre_start") or v.get("pre_end"):
            out.setdefault("pre_proceedings", []).append(
                {LOC: loc, "la_child_id": cid, "start_date": v.get("pre_start"), "end_date": v.get("pre_end")}
            )
        if v.get("care_issue") or v.get("care_end"):
            out.setdefault("care_proceedings", []).append(
                {
                    LOC: loc,
                    "la_child_id": cid,
                    "issue_date": v.get("care_issue"),
                    "end_date": v.get("care_end"),
                }
            )
    elif part.name == "attendance":
        for name, raw in extras.items():
            if name.startswith("term:") and raw is not None:
                term = name.split(":", 1)[1].split("@", 1)[0]
                out.setdefault("attendance_terms", []).append(
                    {LOC: loc, "la_child_id": cid, "term": term, "unauthorised_pct": raw}
                )
        years = sorted({k.split("@", 1)[1] for k in extras if "@" in k})
        for year in years:
            fsm, pp = extras.get(f"fsm_ever@{year}"), extras.get(f"pupil_premium@{year}")
            if fsm is not None or pp is not None:
                # The census year's January (spring) census, when FSM eligibility is counted.
                out.setdefault("fsm_pupil_premium", []).append(
                    {
                        LOC: loc,
                        "la_child_id": cid,
                        "census_date": f"{year}-01-01",
                        "fsm_eligible": fsm,
                        "pupil_premium": pp,
                    }
                )
        if v.get("fsm_ever") is not None or v.get("pupil_premium") is not None:
            out.setdefault("fsm_pupil_premium", []).append(
                {
                    LOC: loc,
                    "la_child_id": cid,
                    "census_date": None,
                    "fsm_eligible": v.get("fsm_ever"),
                    "pupil_premium": v.get("pupil_premium"),
                }
            )
