"""Safe opening of .xlsx workbooks.

calamine builds a dense grid from a sheet's first to its last cell and aborts the whole process
when that grid cannot be allocated (one stray cell at XFD1048576 is enough), and a zip entry can
inflate to many gigabytes. So before calamine sees a sheet, its zip entry size is checked and its
used range is measured by streaming the sheet XML (no entities, no network).
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lxml import etree
from python_calamine import CalamineWorkbook

MAX_SHEET_CELLS = 20_000_000  # rows x columns of the used range
MAX_SHEET_XML_BYTES = 512 * 1024 * 1024  # uncompressed size of one sheet's XML

_REF = re.compile(r"^([A-Z]{1,3})(\d+)$")
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


class SheetTooLarge(Exception):
    """The sheet's used range or XML is beyond the limits (carries the sheet name only)."""


@dataclass(frozen=True)
class Extent:
    rows: int
    cols: int


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n


def _secure_parse_args() -> dict[str, object]:
    return {"resolve_entities": False, "no_network": True, "huge_tree": False, "load_dtd": False}


def sheet_paths(z: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its XML path inside the zip (from workbook.xml and its relationships)."""
    wb = etree.fromstring(z.read("xl/workbook.xml"), etree.XMLParser(**_secure_parse_args()))  # type: ignore[arg-type]
    rels = etree.fromstring(  # type: ignore[arg-type]
        z.read("xl/_rels/workbook.xml.rels"), etree.XMLParser(**_secure_parse_args())
    )
    targets = {r.get("Id"): r.get("Target") for r in rels}
    out: dict[str, str] = {}
    for sheet in wb.iter("{*}sheet"):
        target = targets.get(sheet.get(f"{{{_REL_NS}}}id"))
        if not target:
            continue
        path = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
        out[str(sheet.get("name"))] = path
    return out


def sheet_extent(z: zipfile.ZipFile, member: str) -> Extent:
    """Rows and columns of the used range, measured from the cell references."""
    info = z.getinfo(member)
    if info.file_size > MAX_SHEET_XML_BYTES:
        raise SheetTooLarge(member)
    max_row = max_col = 0
    with z.open(member) as fh:
        context = etree.iterparse(fh, events=("end",), tag=("{*}c", "{*}row"), **_secure_parse_args())  # type: ignore[call-overload]
        for _, el in context:
            ref = el.get("r")
            if ref:
                if el.tag.endswith("}row") or el.tag == "row":
                    if ref.isdigit():
                        max_row = max(max_row, int(ref))
                else:
                    m = _REF.match(ref)
                    if m:
                        max_col = max(max_col, _col_number(m.group(1)))
                        max_row = max(max_row, int(m.group(2)))
            el.clear()
    return Extent(max_row, max_col)


def read_sheets(path: Path, wanted: list[str]) -> list[tuple[str, list[list[object]]]]:
    """The rows of the wanted sheets, each checked first. Raises SheetTooLarge or the zip/XML/calamine
    error of a corrupt file."""
    with zipfile.ZipFile(path) as z:
        paths = sheet_paths(z)
        for name in wanted:
            member = paths.get(name)
            if member is None or member not in z.namelist():
                continue
            extent = sheet_extent(z, member)
            if extent.rows * max(extent.cols, 1) > MAX_SHEET_CELLS:
                raise SheetTooLarge(name)
    wb = CalamineWorkbook.from_path(str(path))
    out: list[tuple[str, list[list[object]]]] = []
    for name in wanted:
        rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
        out.append((name, [list[object](r) for r in rows]))
    return out
