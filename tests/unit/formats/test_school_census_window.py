"""Synthetic school census files hold only censuses inside the study's data window, so a clean return
screens without date findings, and every term label it gives is one the absence outcome can date."""

from __future__ import annotations

import datetime as dt

import pytest

from cscvault.analysis.secondary_outcomes import term_dates
from cscvault.formats.school_census import attendance_term, census_month
from cscvault.ingest.pipeline import read_and_screen
from cscvault.study import load_study
from cscvault.synth.generate import generate
from cscvault.synth.school_census import census_date, delivered_terms, term_label, terms

STUDY = load_study()


@pytest.fixture(scope="module")
def school_files(tmp_path_factory):
    out = tmp_path_factory.mktemp("school")
    summary = generate(out / "synth", seed=11, children=400, clean=True, formats="school")
    files = sorted(summary.returns_dir.rglob("*_pupilonroll.csv"))
    assert files
    return files


def test_clean_school_returns_screen_without_date_findings(school_files):
    w = STUDY.windows
    for path in school_files:
        screened = read_and_screen(path, STUDY)
        rules = {f.rule_id for f in screened.findings}
        assert not {r for r in rules if r.startswith("DATE-")}, (path.name, sorted(rules))
        fsm = screened.tables["fsm_pupil_premium"]
        dates = {d for d in fsm["census_date"] if d is not None}
        assert dates and all(w.data_start <= d <= w.data_end for d in dates), path.name


def test_the_last_autumn_term_is_not_delivered_its_census_is_after_the_window(school_files):
    names = {p.name for p in school_files}
    assert "2025_autumn_pupilonroll.csv" in names  # the summer 2025 term
    assert "2026_spring_pupilonroll.csv" not in names  # the autumn 2025 term, collected in January 2026
    ts = terms(STUDY.windows.data_start, STUDY.windows.data_end)
    kept = delivered_terms(ts, STUDY)
    assert [term_label(t) for k, t in enumerate(ts) if k not in kept] == ["2025-autumn"]


def test_writer_and_reader_agree_on_census_dates_and_term_labels():
    for t in terms(STUDY.windows.data_start, STUDY.windows.data_end):
        year, season = t.census.split("_")
        # the reader dates a census row and labels its attendance term exactly as the writer means them
        assert census_month(int(year), season) == census_date(t.census).isoformat()
        assert attendance_term(int(year), season) == term_label(t)
        # and the absence outcome can place the term in time, around the generator's own dates
        start, end = term_dates(term_label(t))
        assert abs((start.date() - dt.date.fromordinal(dt.date(1970, 1, 1).toordinal() + t.start)).days) <= 7
        assert abs((end.date() - dt.date.fromordinal(dt.date(1970, 1, 1).toordinal() + t.end)).days) <= 7
