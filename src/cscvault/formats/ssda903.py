"""SSDA903 (children looked after) returns: the CSV set (one file per table, recognised by its
header, BOM and a missing final newline tolerated) and the single-file XML form (EXPSSDA903).

Used by the study: Header (sex, ethnicity, date of birth -> age), UASC (status), Episodes (legal
status, placement, reasons). The other tables are recognised and reported as not used.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

from cscvault.formats.base import LOC, MAX_FILE_BYTES, MAX_TEXT_BYTES, Collector, Reader, Staged, frame, screen_cell
from cscvault.formats.tabular import map_columns, records
from cscvault.formats.text import csv_rows, read_text

if TYPE_CHECKING:
    from cscvault.study.model import Study

# Table -> its columns (the DfE / validator column names). A file is this table when it carries the
# table's key columns; extra columns are tolerated and reported.
TABLES: dict[str, tuple[str, ...]] = {
    "header": ("CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB"),
    "episodes": (
        "CHILD",
        "DECOM",
        "RNE",
        "LS",
        "CIN",
        "PLACE",
        "PLACE_PROVIDER",
        "DEC",
        "REC",
        "REASON_PLACE_CHANGE",
        "HOME_POST",
        "PL_POST",
        "URN",
    ),
    "reviews": ("CHILD", "DOB", "REVIEW", "REVIEW_CODE"),
    "uasc": ("CHILD", "SEX", "DOB", "DUC"),
    "oc2": (
        "CHILD",
        "DOB",
        "SDQ_SCORE",
        "SDQ_REASON",
        "CONVICTED",
        "HEALTH_CHECK",
        "IMMUNISATIONS",
        "TEETH_CHECK",
        "HEALTH_ASSESSMENT",
        "SUBSTANCE_MISUSE",
        "INTERVENTION_RECEIVED",
        "INTERVENTION_OFFERED",
    ),
    "oc3": ("CHILD", "DOB", "IN_TOUCH", "ACTIV", "ACCOM"),
    "ad1": ("CHILD", "DOB", "DATE_INT", "DATE_MATCH", "FOSTER_CARE", "NB_ADOPTR", "SEX_ADOPTR", "LS_ADOPTR"),
    "placed_for_adoption": ("CHILD", "DOB", "DATE_PLACED", "DATE_PLACED_CEASED", "REASON_PLACED_CEASED"),
    "previous_permanence": ("CHILD", "DOB", "PREV_PERM", "LA_PERM", "DATE_PERM"),
    "missing": ("CHILD", "DOB", "MISSING", "MIS_START", "MIS_END"),
    "sw_episodes": ("CHILD", "DOB", "SW_ID", "SW_DECOM", "SW_DEC", "SW_REASON"),
    "dolo": ("CHILD", "DOB", "DOLO_START", "DOLO_END"),
}
# The columns that decide which table a file is (enough to tell uasc from header, etc.).
_KEYS: dict[str, frozenset[str]] = {
    "header": frozenset({"CHILD", "SEX", "DOB", "ETHNIC"}),
    "episodes": frozenset({"CHILD", "DECOM", "RNE", "LS", "PLACE", "REC"}),
    "reviews": frozenset({"CHILD", "REVIEW", "REVIEW_CODE"}),
    "uasc": frozenset({"CHILD", "DUC"}),
    "oc2": frozenset({"CHILD", "SDQ_SCORE", "CONVICTED"}),
    "oc3": frozenset({"CHILD", "IN_TOUCH", "ACTIV", "ACCOM"}),
    "ad1": frozenset({"CHILD", "DATE_INT", "DATE_MATCH"}),
    "placed_for_adoption": frozenset({"CHILD", "DATE_PLACED"}),
    "previous_permanence": frozenset({"CHILD", "PREV_PERM"}),
    "missing": frozenset({"CHILD", "MISSING", "MIS_START"}),
    "sw_episodes": frozenset({"CHILD", "SW_ID", "SW_DECOM"}),
    "dolo": frozenset({"CHILD", "DOLO_START"}),
}

_ALIASES: dict[str, dict[str, list[str]]] = {
    "header": {"la_child_id": ["CHILD"], "gender": ["SEX"], "ethnicity": ["ETHNIC"], "birth_month": ["DOB"]},
    "uasc": {"la_child_id": ["CHILD"], "gender": ["SEX"], "birth_month": ["DOB"]},
    "episodes": {
        "la_child_id": ["CHILD"],
        "start_date": ["DECOM"],
        "reason_start": ["RNE"],
        "legal_status": ["LS"],
        "placement_type": ["PLACE"],
        "end_date": ["DEC"],
        "reason_end": ["REC"],
    },
}
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def table_of(header: list[str]) -> str | None:
    cols = {h.strip().upper() for h in header}
    best: tuple[int, str] | None = None
    for name, keys in _KEYS.items():
        if keys <= cols:
            score = len(keys) * 100 + len(cols & set(TABLES[name]))
            if best is None or score > best[0]:
                best = (score, name)
    return best[1] if best else None


def _first_line(text: str) -> list[str]:
    line = text.lstrip("\ufeff").split("\n", 1)[0].strip("\r")
    return [c.strip().strip('"') for c in line.split(",")]


class Ssda903CsvReader(Reader):
    format = "ssda903_csv"
    description = "SSDA903 CSV tables (recognised by header)"

    def sniff(self, head: bytes, path: Path) -> int:
        text = head.decode("utf-8", errors="replace")
        return 90 if table_of(_first_line(text)) else 0

    def read(self, path: Path, sink: Collector, study: Study) -> Staged:
        staged = Staged(format=self.format)
        if path.stat().st_size > MAX_TEXT_BYTES:
            sink.add("FMT-021")
            return staged
        text = read_text(path, sink)
        if text is None:
            return staged
        rows: list[list[object]] = [list(r) for r in csv_rows(text)]
        name = table_of([str(c) for c in rows[0]]) if rows else None
        if name is None:
            sink.add("FMT-001")
            return staged
        staged.format = f"ssda903_csv:{name}"
        aliases = _ALIASES.get(name)
        if aliases is None:
            staged.rows_read = sum(1 for r in rows[1:] if any(str(c).strip() for c in r))
            sink.add("FMT-015", table=name)
            for col in rows[0]:
                sink.drop_column(str(col).strip())
            return staged
        cmap = map_columns(rows[0], aliases, sink)
        if "la_child_id" not in cmap.fields:
            sink.add("FMT-008", field="la_child_id")
            return staged
        recs: list[dict[str, object]] = []
        for loc, values, _ in records(rows, cmap, sink, "", first_row_number=1, ragged=True):
            staged.rows_read += 1
            recs.append({LOC: loc, **values})
        _emit(name, recs, staged)
        return staged


def _emit(name: str, recs: list[dict[str, object]], staged: Staged) -> None:
    if name == "header":
        cols = ["la_child_id", "gender", "ethnicity", "birth_month"]
        staged.tables["children"] = frame(recs, cols)
    elif name == "uasc":
        # Listed in the UASC table = was an unaccompanied asylum-seeking child.
        for r in recs:
            r["uasc"] = "1"
        staged.tables["children"] = frame(recs, ["la_child_id", "gender", "uasc", "birth_month"])
    elif name == "episodes":
        cols = [
            "la_child_id",
            "start_date",
            "end_date",
            "legal_status",
            "placement_type",
            "reason_start",
            "reason_end",
        ]
        staged.tables["cla_episodes"] = frame(recs, cols)


class Ssda903XmlReader(Reader):
    format = "ssda903_xml"
    description = "SSDA903 XML (EXPSSDA903)"

    def sniff(self, head: bytes, path: Path) -> int:
        return 95 if b"<EXPSSDA903" in head or (b"<CHILDID>" in head and b"<EPISODE" in head) else 0

    def read(self, path: Path, sink: Collector, study: Study) -> Staged:
        staged = Staged(format=self.format)
        if path.stat().st_size > MAX_FILE_BYTES:
            sink.add("FMT-021")
            return staged
        with path.open("rb") as fh:
            if _DTD.search(fh.read(1 << 20)):
                sink.add("FMT-005")
                return staged
        children: list[dict[str, object]] = []
        episodes: list[dict[str, object]] = []
        reported: set[str] = set()

        def once(key: str, rule_id: str, **params: object) -> None:
            if key not in reported:
                reported.add(key)
                sink.add(rule_id, **params)  # type: ignore[arg-type]

        keep = {
            "CHILDID",
            "SEX",
            "DOB",
            "ETHNIC",
            "UASC",
            "DECOM",
            "RNE",
            "LS",
            "PL",
            "DEC",
            "REC",
            "HEADER",
            "EPISODE",
            "CHILD",
        }
        try:
            context = etree.iterparse(
                str(path),
                events=("end",),
                tag="{*}CHILD",
                resolve_entities=False,
                no_network=True,
                huge_tree=False,
                load_dtd=False,
            )
            for n, (_, child) in enumerate(context, start=1):
                loc = f"/EXPSSDA903/CHILD[{n}]"
                for el in child.iter():
                    tag = el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""
                    if tag and tag not in keep:
                        if tag in {"UPN", "HOME_POST", "PL_POST", "URN"}:
                            once(
                                tag,
                                "ID-001",
                                column=tag,
                                kind="a UPN"
                                if tag == "UPN"
                                else "a postcode"
                                if tag.endswith("POST")
                                else "another personal identifier",
                            )
                        elif el.getparent() is not None and el.getparent().tag in {"HEADER", "EPISODE"}:
                            once(tag, "MIN-001", column=tag)
                        sink.drop_column(tag)
                header = child.find("{*}HEADER")
                cid = _t(header, "CHILDID", loc, sink) if header is not None else None
                dob = _t(header, "DOB", loc, sink) if header is not None else None
                if dob:
                    once("DOB", "ID-002", column="DOB")
                uasc_el = header.find("{*}UASC") if header is not None else None
                uasc = _t(header, "UASC", loc, sink) if uasc_el is not None else None
                children.append(
                    {
                        LOC: loc,
                        "la_child_id": cid,
                        "gender": _t(header, "SEX", loc, sink),
                        "ethnicity": _t(header, "ETHNIC", loc, sink),
                        "uasc": uasc,
                        "birth_month": dob,
                    }
                )
                for i, ep in enumerate(child.findall("{*}EPISODE"), start=1):
                    eloc = f"{loc}/EPISODE[{i}]"
                    episodes.append(
                        {
                            LOC: eloc,
                            "la_child_id": cid,
                            "start_date": _t(ep, "DECOM", eloc, sink),
                            "end_date": _t(ep, "DEC", eloc, sink),
                            "legal_status": _t(ep, "LS", eloc, sink),
                            "placement_type": _t(ep, "PL", eloc, sink),
                            "reason_start": _t(ep, "RNE", eloc, sink),
                            "reason_end": _t(ep, "REC", eloc, sink),
                            "birth_month": dob,
                        }
                    )
                child.clear(keep_tail=True)
                while child.getprevious() is not None:
                    del child.getparent()[0]
        except etree.XMLSyntaxError as exc:
            sink.add("FMT-004", line=exc.lineno or 0)
            return staged
        staged.rows_read = len(children)
        if children:
            staged.tables["children"] = frame(children, ["la_child_id", "gender", "ethnicity", "uasc", "birth_month"])
        if episodes:
            staged.tables["cla_episodes"] = frame(
                episodes,
                [
                    "la_child_id",
                    "start_date",
                    "end_date",
                    "legal_status",
                    "placement_type",
                    "reason_start",
                    "reason_end",
                    "birth_month",
                ],
            )
        return staged


def _t(el: Any, name: str, loc: str, sink: Collector) -> str | None:
    if el is None:
        return None
    found = el.find("{*}" + name)
    if found is None or found.text is None:
        return None
    return screen_cell(found.text.strip() or None, sink, loc, name)
