"""The shipped DfE panel, newer releases laid over it, and the treated/comparison split."""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cscvault.analysis.did.loader import (
    OUTCOMES,
    PANEL_FILE,
    load_panel,
    local_authorities,
    overlay,
    read_release,
    sources_text,
)
from cscvault.analysis.did.pool import EARLY_ADOPTERS, analysis_panel, build_pool, year_ending_march
from cscvault.errors import DataError, StudyError, UsageError
from cscvault.study import load_study
from cscvault.study.load import default_study_path, parse_study

STUDY = load_study()
KEPT_LA_CODES = ("335", "888", "894", "212", "866", "835", "836", "837")  # as in make_subset.py


@pytest.fixture(scope="module")
def shipped() -> pd.DataFrame:
    return load_panel()


def test_shipped_panel_is_the_documented_file(shipped) -> None:
    data = resources.files("cscvault.analysis.did.data").joinpath(PANEL_FILE).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    assert digest in sources_text()
    assert "Open Government Licence v3.0" in sources_text()
    assert shipped.shape == (2141, 36)
    assert shipped["time_period"].between(2012, 2025).all()
    assert (shipped.loc[shipped["old_la_code"] == "999", "la_name"] == "England").all()


def test_shipped_panel_matches_the_development_copy(test_data) -> None:
    # The development panel (shared/realdata, not committed here) was byte-identical when tests/data was made;
    # its digest is recorded in tests/data/dfe-statistics/SOURCE.md.
    note = (test_data / "dfe-statistics" / "SOURCE.md").read_text(encoding="utf-8")
    recorded = re.search(r"la_year_panel_2012_2025\.csv` sha256 `([0-9a-f]{64})`", note)
    assert recorded, "SOURCE.md records the development panel's digest"
    data = resources.files("cscvault.analysis.did.data").joinpath(PANEL_FILE).read_bytes()
    assert hashlib.sha256(data).hexdigest() == recorded.group(1)


def test_study_las_have_complete_outcomes(shipped) -> None:
    for la in STUDY.local_authorities:
        rows = shipped[(shipped["old_la_code"] == la.dfe_code) & shipped["time_period"].between(2013, 2025)]
        assert len(rows) == 13
        assert set(rows["new_la_code"]) == {la.ons_code}
        for o in OUTCOMES:
            assert rows[o.column].notna().all(), (la.name, o.id)
    walsall = shipped[(shipped["old_la_code"] == "335") & (shipped["time_period"] == 2025)].iloc[0]
    assert walsall["cla31_rate"] == pytest.approx(80.5)  # published panel value, for a spot check


def test_rebuilding_from_the_published_csvs_reproduces_the_panel(shipped, test_data) -> None:
    # The committed published CSVs keep England and a few LAs (tests/data/dfe-statistics/make_subset.py); the
    # rebuild must reproduce the shipped panel on exactly those rows.
    columns = ["cla31", "cla31_rate", "cpp31", "cpp31_rate_derived", "rereferral_pct", "referrals", "cpp_started"]
    kept = shipped["old_la_code"].isin(["999", *KEPT_LA_CODES])
    # From 2018 every committed CSV covers these rows: blank them first, so the values must come from the CSVs.
    base = shipped.copy()
    base.loc[kept & (base["time_period"] >= 2018), columns] = np.nan
    rebuilt = overlay(base, read_release(test_data / "dfe-statistics"))
    a = shipped[kept].set_index(["time_period", "old_la_code"])
    b = rebuilt.set_index(["time_period", "old_la_code"]).reindex(a.index)
    # Old Dorset, Poole and Bournemouth codes in 2018: the ONS file (current geography) has no population
    # for them; the loader then uses DfE's own published denominator, the shipped panel leaves it empty.
    old_dorset = a.index.isin([(2018, c) for c in ("835", "836", "837")])
    for col in columns:
        x, y = a.loc[~old_dorset, col], b.loc[~old_dorset, col]
        assert (x.isna() == y.isna()).all(), col
        assert np.allclose(x.dropna(), y.dropna(), atol=0.051), col


def _cla_release(path: Path, year: int, walsall_count: int) -> None:
    """A minimal 'newer release' in the 2025 published layout (one LA and England)."""
    rows = [
        f"{year},Reporting year,National,E92000001,England,,,,,,Children looked after on 31 March each year,"
        "12183016,81000,66",
        f"{year},Reporting year,Local authority,E92000001,England,E12000005,West Midlands,335,Walsall,E08000030,"
        f"Children looked after on 31 March each year,70000,{walsall_count},c",
        f"{year},Reporting year,Local authority,E92000001,England,E12000005,West Midlands,335,Walsall,E08000030,"
        "Children starting to be looked after each year,70000,low,z",
    ]
    header = (
        "\ufefftime_period,time_identifier,geographic_level,country_code,country_name,region_code,region_name,"
        "old_la_code,la_name,new_la_code,population_type,population_estimate,children_count,rate_per_10000"
    )
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


def test_a_newer_release_is_laid_over_the_panel(tmp_path) -> None:
    release = tmp_path / "release2026"
    release.mkdir()
    _cla_release(release / "whatever_name.csv", 2026, 560)
    _cla_release(release / "also_any_name.csv", 2025, 600)  # revises 2025
    panel = load_panel(release)
    walsall = panel[panel["old_la_code"] == "335"].set_index("time_period")
    assert walsall.loc[2026, "cla31"] == 560
    assert walsall.loc[2026, "cla31_rate"] == pytest.approx(80.0)  # 560 / 70,000 x 10,000, DfE's denominator
    assert walsall.loc[2026, "cla31_rate_source"] == "derived"
    assert np.isnan(walsall.loc[2026, "cla31_rate_published"])  # 'c' = suppressed
    assert np.isnan(walsall.loc[2026, "cla_start"])  # 'low' = rounds to zero, read as missing
    # 2025 is revised: the count wins, and the rate is re-derived with the ONS denominator already held.
    pop_2025 = walsall.loc[2025, "pop_0_17_mid_prev_year"]
    assert walsall.loc[2025, "cla31"] == 600
    assert walsall.loc[2025, "pop_0_17_mid_prev_year"] == pop_2025
    assert walsall.loc[2024, "cla31_rate"] == pytest.approx(94.3)  # untouched years are kept
    # Other outcomes and LAs are untouched.
    base = load_panel()
    assert panel[panel["old_la_code"] == "888"].drop(columns=[]).shape[0] == base[base["old_la_code"] == "888"].shape[0]


def test_a_single_published_csv_is_a_release_too(tmp_path) -> None:
    path = tmp_path / "cla_number_and_rate_per_10k_children.csv"
    _cla_release(path, 2026, 700)
    walsall = load_panel(path).query("old_la_code == '335'").set_index("time_period")
    assert walsall.loc[2026, "cla31"] == 700
    assert walsall.loc[2026, "cla31_rate"] == pytest.approx(100.0)


def test_a_newer_panel_csv_in_the_shipped_layout(tmp_path) -> None:
    base = load_panel()
    newer = base[(base["old_la_code"] == "866") & (base["time_period"] == 2025)].copy()
    newer["time_period"] = 2026
    newer["rereferral_pct"] = 12.5
    path = tmp_path / "panel2026.csv"
    newer.to_csv(path, index=False)
    panel = load_panel(path)
    row = panel[(panel["old_la_code"] == "866") & (panel["time_period"] == 2026)]
    assert row["rereferral_pct"].item() == 12.5


def test_unrecognised_release_and_bad_numbers_are_one_line_errors(tmp_path) -> None:
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="no published DfE CSV recognised"):
        load_panel(tmp_path)
    with pytest.raises(UsageError, match="no such file or folder"):
        load_panel(tmp_path / "missing")
    bad = tmp_path / "bad"
    bad.mkdir()
    _cla_release(bad / "cla.csv", 2026, 560)
    text = (bad / "cla.csv").read_text(encoding="utf-8").replace(",560,", ",5six0,")
    (bad / "cla.csv").write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=r"cla.csv: column 'children_count' row 3:") as info:
        load_panel(bad)
    assert "5six0" not in str(info.value)


# -- pool -----------------------------------------------------------------------------------------


def test_treatment_year_is_the_dfe_year_containing_go_live(shipped) -> None:
    pool = build_pool(shipped, STUDY)
    years = {t.name: t.first_year for t in pool.treated}
    assert years == {
        "Walsall": 2021,
        "Lancashire": 2021,
        "Telford and Wrekin": 2022,
        "Wandsworth": 2022,
        "Swindon": 2023,
    }
    import datetime as dt

    assert year_ending_march(dt.date(2021, 3, 31)) == 2021
    assert year_ending_march(dt.date(2021, 4, 1)) == 2022


def test_comparison_pool_excludes_study_and_early_adopter_las(shipped) -> None:
    pool = build_pool(shipped, STUDY)
    excluded = {e.dfe_code for e in pool.excluded}
    assert {code for _, code in EARLY_ADOPTERS} <= excluded
    assert {la.dfe_code for la in STUDY.local_authorities} <= excluded
    assert not excluded & set(pool.comparison)
    assert "999" not in pool.comparison
    assert len(pool.comparison) == len(local_authorities(shipped)) - 11


def _study_with(extra: str):
    path = default_study_path()
    return parse_study(path.read_text(encoding="utf-8") + extra, base_dir=path.parent)


def test_study_file_can_exclude_more_las(shipped) -> None:
    study = _study_with('\n[did]\nexclude = ["Essex", "E06000015", "330"]\n')
    pool = build_pool(shipped, study)
    reasons = {e.name: e.reason for e in pool.excluded}
    assert reasons["Essex"].endswith("([did] exclude)")
    assert "Derby" in reasons and "Birmingham" in reasons
    assert len(pool.comparison) == len(build_pool(shipped, STUDY).comparison) - 3


@pytest.mark.parametrize("extra", ['\n[did]\nexclude = ["Atlantis"]\n', "\n[did]\nexclude = 3\n"])
def test_bad_study_exclusions_are_study_errors(shipped, extra) -> None:
    with pytest.raises(StudyError, match=r"\[did\] exclude"):
        build_pool(shipped, _study_with(extra))


def test_analysis_panel_is_balanced_and_reports_dropped_las(shipped) -> None:
    pool = build_pool(shipped, STUDY)
    ap = analysis_panel(shipped, pool, OUTCOMES[0])
    assert ap.years == tuple(range(2013, 2026))
    counts = ap.data.groupby("la_code")["year"].nunique()
    assert (counts == 13).all()
    assert "Northamptonshire" in ap.dropped_missing  # boundary change in 2021
    assert "Walsall" not in ap.dropped_missing
    groups = ap.data.drop_duplicates("la_code").set_index("la_code")["group"]
    assert groups["335"] == 2021 and groups["866"] == 2023
    assert (groups > 0).sum() == 5
