"""The demo-size report follows the CONSORT stepped-wedge checklist: every section and figure the checklist
names is in the report (figures as embedded images), and every count shown in its tables is one the
disclosure profile released (zero, or at least the threshold and a multiple of the rounding base)."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from cscvault import api
from cscvault.disclosure.profiles import get_profile
from cscvault.report.consort import CHECKLIST, FULL_PLAN_SECTIONS
from cscvault.report.pdf import CHROMIUM, MEMORY_DIR
from cscvault.study import load_study
from cscvault.synth.generate import generate
from cscvault.vault import Credentials
from tests.helpers import PASSWORD

ADMIN = Credentials("admin", PASSWORD)
ANALYST = Credentials("ana", "analyst password 1")
VOID = {"img", "meta", "br", "input", "link", "hr", "col"}
# Table columns that hold released counts (headers as the report prints them).
COUNT_HEADERS = {"Children", "Events", "Rows read", "Rows loaded", "Findings", "Linked to a referral"}
COUNT_TABLE_SECTIONS = {"baseline", "baseline-la", "flow-table", "rates", "quality"}


class ReportParser(HTMLParser):
    """Element ids with the images inside each, and every table's header and body cells with the ids of the
    elements it sits in."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str | None] = []
        self.images: dict[str, list[str]] = {}
        self.tables: list[tuple[set[str], list[str], list[list[str]]]] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._head: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            for i in self.stack:
                if i:
                    self.images.setdefault(i, []).append(a.get("src") or "")
        if tag in VOID:
            return
        self.stack.append(a.get("id"))
        if a.get("id"):
            self.images.setdefault(str(a["id"]), [])
        if tag == "table":
            self.tables.append(({i for i in self.stack if i}, [], []))
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            if not self.tables[-1][1]:
                self.tables[-1][1].extend(self._row)
            else:
                self.tables[-1][2].append(self._row)
            self._row = None
        if self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The demo-size run's stored outputs, by name."""
    root = tmp_path_factory.mktemp("consort")
    summary = generate(root / "synth", seed=7, children=3000, clean=True)
    vault = api.init_vault(root / "v", PASSWORD).path
    api.add_user(vault, ADMIN, "ana", "analyst", ANALYST.secret)
    api.ingest(vault, ADMIN, [summary.returns_dir])
    out = api.analyse(vault, ANALYST, request_release="the report, its tables and figures")
    assert out.release is not None
    detail = api.release_show(vault, ADMIN, out.release.release_id)
    verdicts = {o.name: o.verdict for o in detail.outputs}
    assert set(verdicts) == {o.name for o in out.outputs}  # the PDF too, beside its HTML
    if "report.pdf" in verdicts:
        assert verdicts["report.pdf"] == verdicts["report.html"]
    return {o.name: api.run_output(vault, ANALYST, out.run.run_id, o.name)[1] for o in out.outputs}


@pytest.fixture(scope="module")
def report(stored: dict[str, bytes]) -> tuple[str, ReportParser]:
    html = stored["report.html"].decode()
    parser = ReportParser()
    parser.feed(html)
    return html, parser


def test_every_checklist_section_and_figure_is_in_the_report(report: tuple[str, ReportParser]) -> None:
    html, parser = report
    listed = set(re.findall(r'data-section="([^"]+)"', html))
    assert listed == {c.section for c in CHECKLIST}  # the rendered checklist is the declared one
    for item in CHECKLIST:
        assert item.section in parser.images, f"item {item.item}: no element with id {item.section!r}"
        if item.figure:
            images = parser.images[item.section]
            assert images and all(s.startswith("data:image/png;base64,") for s in images), item.section


def test_full_plan_sections_say_they_did_not_run(report: tuple[str, ReportParser]) -> None:
    html, _ = report
    for section, _title in FULL_PLAN_SECTIONS:
        block = re.search(rf'<section id="{section}">(.*?)</section>', html, re.S)
        assert block is not None and "Not run in this analysis" in block.group(1), section


def test_every_count_in_the_report_tables_was_released(report: tuple[str, ReportParser]) -> None:
    _, parser = report
    profile = get_profile(load_study().disclosure_profile)
    checked = 0
    for ids, header, rows in parser.tables:
        if not ids & COUNT_TABLE_SECTIONS:
            continue
        baseline = bool(ids & {"baseline", "baseline-la"}) or "flow-table" in ids
        columns = [i for i, h in enumerate(header) if i > 0 and (baseline or h in COUNT_HEADERS)]
        for row in rows:
            if len(row) != len(header):
                continue  # a group heading row of the baseline table
            for i in columns:
                m = re.match(r"^(\d+)(?: \([\d.]+%\))?$", row[i])
                if m is None:
                    assert row[i] in ("suppressed", "–", ""), (header[i], row[i])
                    continue
                value = int(m.group(1))
                checked += 1
                assert value == 0 or (value >= profile.min_count and value % profile.round_base == 0), (
                    header[i],
                    value,
                )
    assert checked > 50  # the walk did find the tables


def test_participant_flow_figure_is_stored_as_a_run_output(
    report: tuple[str, ReportParser], stored: dict[str, bytes]
) -> None:
    _, parser = report
    flow_images = parser.images["flow"]  # by LA, and by LA and period (inside the flow section)
    assert len(flow_images) == 2 and all(len(i) > 2000 for i in flow_images)
    assert len(parser.images["flow-period"]) == 1
    assert stored["flow_period.png"].startswith(b"\x89PNG")
    periods = stored["flow_period.csv"].decode().splitlines()
    assert periods[0].startswith("la,period,referred_in_window") and len(periods) > 6


def test_the_pdf_is_a_stored_output_with_the_section_headings(stored: dict[str, bytes]) -> None:
    if not CHROMIUM.exists():
        pytest.skip("no Chromium: the run stores no report.pdf (its report.html meta says why)")
    pdf = stored["report.pdf"]
    assert pdf.startswith(b"%PDF") and len(pdf) > 50_000
    assert not list(MEMORY_DIR.glob("cscvault-pdf-*"))  # the private print directory is gone
    if shutil.which("pdftotext") is None:
        return  # no text extractor here: the headings assertion needs poppler-utils
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    for heading in ("CONSORT stepped-wedge checklist", "Participant flow", "Baseline characteristics by condition",
                    "Primary outcome", "Appendix: data quality"):  # fmt: skip
        assert heading in " ".join(text.split()), heading
