"""The small .xlsx writer produces workbooks that openpyxl and calamine read, reproducibly."""

from __future__ import annotations

import datetime as dt
import hashlib

import openpyxl
from python_calamine import CalamineWorkbook

from cscvault.synth.xlsx import Decimal, Workbook


def _write(path):
    wb = Workbook(path)
    sh = wb.sheet("Data - CLA start (Primary Outco")
    sh.write_row(["title & <notes>"])
    sh.skip(2)
    sh.write_row(["Child ID", "Date", "Serial", "Rate", "Text date"])
    sh.write_row(["001", 43981.0, 43981, Decimal(0.125), "01/05/2020"])
    sh.write_row([None, "", " spaced ", None, None])
    return wb.close()


def test_types_and_layout_round_trip(tmp_path):
    path = _write(tmp_path / "a.xlsx")
    ws = openpyxl.load_workbook(path).worksheets[0]
    assert ws.title == "Data - CLA start (Primary Outco"
    assert ws["A1"].value == "title & <notes>"
    assert ws["A4"].value == "Child ID"
    assert ws["A5"].value == "001"  # ids stay text
    assert ws["B5"].value == dt.datetime(2020, 5, 30)  # a float is a formatted date
    assert ws["C5"].value == 43981  # an int is a bare serial, as messy returns have it
    assert ws["D5"].value == 0.125
    assert ws["C6"].value == " spaced "
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    assert rows[3][0] == "Child ID" and rows[4][1] == dt.date(2020, 5, 30)


def test_byte_identical(tmp_path):
    a = hashlib.sha256(_write(tmp_path / "a.xlsx").read_bytes()).hexdigest()
    b = hashlib.sha256(_write(tmp_path / "b.xlsx").read_bytes()).hexdigest()
    assert a == b
