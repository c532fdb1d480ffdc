"""A small, fast, reproducible .xlsx writer (streamed rows, inline strings, fixed zip metadata).

xlsxwriter spends ~20 us per text cell; the DR2 returns at the real sizes hold millions of cells, so
the sheets are written here as SpreadsheetML directly: each sheet streams to a temporary file, and the
package is zipped with fixed timestamps, so the same seed gives byte-identical workbooks.

Cell values: `str` -> text, `int` or `Decimal` -> a bare number, `float` -> an Excel date serial shown
with a dd/mm/yyyy format, `None` or "" -> empty.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from pathlib import Path
from typing import IO, Any

_COLS: list[str] = []
for _i in range(702):  # A..ZZ is plenty for the returns
    _n, _s = _i + 1, ""
    while _n:
        _n, _r = divmod(_n - 1, 26)
        _s = chr(65 + _r) + _s
    _COLS.append(_s)

_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class Decimal(float):
    """A float meant as a plain decimal number (a bare float is written as a date)."""


def _esc(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if _BAD_XML.search(text):
        text = _BAD_XML.sub("", text)
    return text


def _cell(ref: str, v: Any) -> str:
    if isinstance(v, str):
        if not v:
            return ""
        space = ' xml:space="preserve"' if v[0] == " " or v[-1] == " " else ""
        return f'<c r="{ref}" t="inlineStr"><is><t{space}>{_esc(v)}</t></is></c>'
    if isinstance(v, Decimal):
        return f'<c r="{ref}"><v>{float(v)!r}</v></c>'
    if isinstance(v, float):
        return f'<c r="{ref}" s="1"><v>{int(v)}</v></c>'
    return f'<c r="{ref}"><v>{int(v)}</v></c>'


class Sheet:
    def __init__(self, name: str, tmp: IO[str]) -> None:
        self.name = name
        self.tmp = tmp
        self.row = 0

    def write_row(self, values: list[Any]) -> int:
        """Write one row at the current position; returns its 1-based Excel row number."""
        r = self.row + 1
        cells = "".join(_cell(f"{_COLS[c]}{r}", v) for c, v in enumerate(values) if v is not None)
        if cells:
            self.tmp.write(f'<row r="{r}">{cells}</row>')
        self.row += 1
        return r

    def skip(self, n: int = 1) -> None:
        self.row += n


_OD = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "{sheets}"
    '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_OD}/officeDocument" Target="xl/workbook.xml"/>'
    f'<Relationship Id="rId2" Type="{_PKG}/metadata/core-properties" Target="docProps/core.xml"/>'
    "</Relationships>"
)
_CORE = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    "<dc:creator>cscvault synth</dc:creator>"
    '<dcterms:created xsi:type="dcterms:W3CDTF">2020-01-01T00:00:00Z</dcterms:created>'
    "</cp:coreProperties>"
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheetData>'
)
_SHEET_TAIL = "</sheetData></worksheet>"


class Workbook:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.sheets: list[Sheet] = []

    def sheet(self, name: str) -> Sheet:
        if len(name) > 31 or any(ch in name for ch in "[]:*?/\\"):
            raise ValueError("invalid worksheet name")
        # closed in close(), after the sheet is copied into the package
        tmp = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        sh = Sheet(name, tmp)
        self.sheets.append(sh)
        return sh

    def _put(self, zf: zipfile.ZipFile, name: str, data: str) -> None:
        info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        zf.writestr(info, data.encode("utf-8"))

    def close(self) -> Path:
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(1, len(self.sheets) + 1)
        )
        sheets_xml = "".join(
            f'<sheet name="{_esc(s.name)}" sheetId="{i}" r:id="rId{i}"/>' for i, s in enumerate(self.sheets, 1)
        )
        workbook = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f"<sheets>{sheets_xml}</sheets></workbook>"
        )
        n = len(self.sheets)
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{_OD}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, n + 1)
        )
        rels += f'<Relationship Id="rId{n + 1}" Type="{_OD}/styles" Target="styles.xml"/>'
        wb_rels = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>'
        )
        with zipfile.ZipFile(self.path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            self._put(zf, "[Content_Types].xml", _CONTENT_TYPES.format(sheets=overrides))
            self._put(zf, "_rels/.rels", _ROOT_RELS)
            self._put(zf, "docProps/core.xml", _CORE)
            self._put(zf, "xl/workbook.xml", workbook)
            self._put(zf, "xl/_rels/workbook.xml.rels", wb_rels)
            self._put(zf, "xl/styles.xml", _STYLES)
            for i, s in enumerate(self.sheets, 1):
                info = zipfile.ZipInfo(f"xl/worksheets/sheet{i}.xml", date_time=_ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o600 << 16
                s.tmp.seek(0)
                with zf.open(info, "w") as dst:
                    dst.write(_SHEET_HEAD.encode("utf-8"))
                    while chunk := s.tmp.read(1 << 20):
                        dst.write(chunk.encode("utf-8"))
                    dst.write(_SHEET_TAIL.encode("utf-8"))
                s.tmp.close()
        return self.path
