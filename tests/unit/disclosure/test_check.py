"""Checking tables: verdicts, released table, totals, percentages, linked tables, microdata."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cscvault.disclosure import apply_profile, apply_release, check_microdata, get_profile
from cscvault.disclosure.check import DominanceColumns, tabulate
from cscvault.disclosure.suppression import Relation, feasible_intervals, is_protected
from cscvault.disclosure.table_file import check_file
from cscvault.errors import DataError, UsageError


def wide_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "la": ["Walsall", "Lancashire", "Telford", "Total"],
            "control": [3, 40, 25, 68],
            "treated": [30, 45, 12, 87],
            "Total": [33, 85, 37, 155],
        }
    )


def test_wide_table_with_margins_json_contract():
    checked = apply_profile(wide_table(), "acro-default")
    doc = checked.to_json()
    assert list(doc) == ["profile", "profile_version", "cells", "table"]
    assert doc["profile"] == "acro-default"
    assert doc["profile_version"] == get_profile("acro-default").version
    first = doc["cells"][0]
    assert set(first) == {"row", "column", "value", "released", "verdict", "reasons"}
    assert (first["row"], first["column"], first["value"], first["released"], first["verdict"]) == (
        0,
        "control",
        3,
        None,
        "fail",
    )
    assert first["reasons"] == ["threshold: count is below 10"]
    assert len(doc["table"]) == 4 and doc["table"][0]["la"] == "Walsall"


def test_wide_table_released_cells_are_rounded_and_suppressed_cells_protected():
    checked = apply_profile(wide_table(), "acro-default")
    walsall_treated = checked.cell(0, "treated")
    assert walsall_treated.released is None and walsall_treated.verdict == "pass" and walsall_treated.secondary
    assert checked.cell(1, "control").released == 40
    assert checked.cell(3, "treated").released == 85  # 87 rounded to 5
    assert checked.cell(3, "Total").released == 155
    assert checked.status == "fail"  # the unmitigated table breaks the rules, as ACRO reports it
    # Every released count is a multiple of 5
    for cell in checked.cells:
        if cell.released is not None:
            assert cell.released % 5 == 0


def test_released_table_never_recovers_a_withheld_cell_from_its_margins():
    checked = apply_profile(wide_table(), "acro-default")
    grid = checked.original[["control", "treated", "Total"]].to_numpy(float)
    values = grid.ravel().tolist()
    rels = []
    for i in range(4):
        rels.append(Relation(i * 3 + 2, (i * 3, i * 3 + 1)))
    for j in range(3):
        rels.append(Relation(9 + j, (j, 3 + j, 6 + j)))
    supp = np.array([checked.cell(i, c).released is None for i in range(4) for c in ("control", "treated", "Total")])
    intervals = feasible_intervals(values, supp, rels)
    assert is_protected(3.0, intervals[0], get_profile("acro-default").protection)


def test_margins_are_added_checked_and_protected():
    table = pd.DataFrame({"la": ["Walsall", "Lancashire", "Telford"], "control": [3, 40, 25], "treated": [30, 45, 12]})
    checked = apply_profile(table, "acro-default", margins=True)
    assert list(checked.released.columns) == ["la", "control", "treated", "Total"]
    assert checked.released["la"].tolist()[-1] == "Total"
    assert checked.cell(3, "Total").value == 155
    same = apply_profile(wide_table(), "acro-default")
    assert [c.released for c in checked.cells] == [c.released for c in same.cells]
    with pytest.raises(UsageError, match="already has totals"):
        apply_profile(wide_table(), "acro-default", margins=True)


def test_long_table_with_total_row():
    table = pd.DataFrame({"ethnicity": ["White", "Black", "Asian", "Mixed", "Total"], "n": [120, 14, 9, 30, 173]})
    checked = apply_profile(table, "acro-default", count_cols=["n"])
    assert checked.cell(2).verdict == "fail"
    assert checked.cell(2).released is None
    # One more cell must go so 9 cannot be read off the total: the cheapest is Black (14)
    assert checked.cell(1).released is None and checked.cell(1).secondary
    assert checked.cell(4).released == 175
    doc = checked.to_json()
    assert set(doc["cells"][0]) == {"row", "value", "released", "verdict", "reasons"}


def test_implied_totals_protect_against_a_total_published_elsewhere():
    table = pd.DataFrame({"ethnicity": ["White", "Black", "Asian"], "n": [120, 14, 9]})
    plain = apply_profile(table, "acro-default", count_cols=["n"])
    assert plain.cell(1).released == 15  # no relation known: nothing else to hide
    implied = apply_profile(table, "acro-default", count_cols=["n"], implied_totals=True)
    assert implied.cell(1).released is None  # the cohort size is known, so Black must go too
    assert len(implied.released) == 3  # the implied total is not shown


def test_cells_pinned_by_a_total_published_elsewhere_are_reported():
    # Implied total 0 pins every cell to 0: withholding cannot help, so the reason says so.
    table = pd.DataFrame({"g": ["a", "b"], "n": [0, 0]})
    checked = apply_profile(table, "acro-default", implied_totals=True)
    assert all(c.released is None for c in checked.cells)
    assert any("totals published elsewhere" in r for r in checked.cell(0).reasons)


def test_percentages_come_only_from_released_counts():
    table = pd.DataFrame({"la": ["A", "B", "C"], "cla": [4, 30, 52], "referred": [120, 300, 521]})
    checked = apply_profile(table, "acro-default")
    pct = checked.percentages("cla", "referred")
    assert pct[0] is None  # the numerator was withheld
    assert pct[1] == 10.0  # 30 / 300
    assert pct[2] == pytest.approx(100 * 50 / 520, abs=0.05)  # released 50 / 520, not 52 / 521
    with pytest.raises(UsageError):
        checked.percentages("la", "referred")


def test_non_count_numeric_columns_are_withheld_when_count_cols_are_named():
    table = pd.DataFrame({"la": ["A", "B"], "n": [40, 50], "pct": [44.4, 55.6]})
    checked = apply_profile(table, "acro-default", count_cols=["n"])
    assert list(checked.released.columns) == ["la", "n"]
    assert checked.withheld_cols == ["pct"]


def test_totals_smaller_than_parts_are_a_data_error():
    table = pd.DataFrame({"g": ["a", "b", "Total"], "n": [20, 30, 40]})
    with pytest.raises(DataError, match="smaller than the sum"):
        apply_profile(table, "acro-default")


def test_total_larger_than_parts_is_only_an_upper_bound():
    # The total also counts cases not shown (85 >= 9 + 30 + 40): an attacker learns only
    # 0 <= x <= 15 for the withheld 9, which covers [9 - 5, 9 + 5], so nothing else is withheld.
    table = pd.DataFrame({"g": ["a", "b", "c", "Total"], "n": [9, 30, 40, 85]})
    checked = apply_profile(table, "acro-default")
    assert checked.cell(0).released is None
    assert [c.released for c in checked.cells[1:]] == [30, 40, 85]
    # With the total exact (79), 9 would be pinned, so a partner must go.
    exact = apply_profile(pd.DataFrame({"g": ["a", "b", "c", "Total"], "n": [9, 30, 40, 79]}), "acro-default")
    assert exact.cell(1).released is None


def test_non_integer_counts_are_rejected():
    table = pd.DataFrame({"g": ["a", "b"], "n": [1.5, 30.0]})
    with pytest.raises(DataError, match="whole numbers"):
        apply_profile(table, "acro-default")


def test_magnitude_table_with_dominance_evidence():
    table = pd.DataFrame(
        {
            "la": ["A", "B", "C"],
            "n": [25, 30, 40],
            "cost": [1000.0, 900.0, 1200.0],
            "top1": [950.0, 100.0, 100.0],
            "top2": [20.0, 90.0, 80.0],
        }
    )
    dom = DominanceColumns(total="cost", top1="top1", top2="top2")
    checked = apply_profile(table, "acro-default", count_cols=["n"], value_cols=["cost"], dominance=dom)
    assert checked.cell(0).verdict == "fail"
    assert {r.split(":")[0] for r in checked.cell(0).reasons} == {"nk-dominance", "p-ratio"}
    assert checked.released.loc[0, "cost"] is None  # the magnitude goes with its count
    assert "top1" not in checked.released.columns  # evidence is never released
    assert checked.cell(1).verdict == "pass"


def test_linked_tables_in_one_release_protect_each_other():
    # Table B reveals Walsall's total; in table A Walsall's 3 must then not be derivable from it.
    a = pd.DataFrame({"la": ["Walsall", "Lancashire"], "control": [3, 40], "treated": [30, 45]})
    b = pd.DataFrame({"la": ["Walsall", "Lancashire"], "Total": [33, 85]})
    alone = apply_profile(a, "acro-default")
    assert alone.cell(0, "treated").released == 30  # no relation inside table A
    links = [(("a", ("Walsall", "Total")), [("a", ("Walsall", "control")), ("a", ("Walsall", "treated"))])]
    with pytest.raises(UsageError, match="no cell"):
        apply_release({"a": a, "b": b}, "acro-default", links=links)
    # b has one count column, so its cells are keyed by the labels alone
    links = [(("b", ("Walsall",)), [("a", ("Walsall", "control")), ("a", ("Walsall", "treated"))])]
    both = apply_release({"a": a, "b": b}, "acro-default", links=links)
    withheld_a = both["a"].cell(0, "treated").released is None
    withheld_b = both["b"].cell(0, "Total").released is None
    assert withheld_a or withheld_b


def test_equal_keys_link_tables_when_asked():
    # b withholds W (3) and L (40) against its total. If a releases L = 40 and the reader knows
    # a's L is b's L, then b's W = 43 - 40 = 3: with the link, a's L must be withheld too.
    a = pd.DataFrame({"la": ["W", "L"], "n": [3, 40]})
    b = pd.DataFrame({"la": ["W", "L", "Total"], "n": [3, 40, 43]})
    unlinked = apply_release({"a": a, "b": b}, "acro-default")
    assert unlinked["a"].cell(1).released == 40
    linked = apply_release({"a": a, "b": b}, "acro-default", link_equal_keys=True)
    assert linked["a"].cell(1).released is None or linked["b"].cell(2).released is None
    assert linked["b"].cell(0).released is None and linked["a"].cell(0).released is None


def test_tabulate_includes_empty_combinations():
    data = pd.DataFrame({"la": ["A", "A", "B"], "sex": ["F", "M", "F"], "cost": [1.0, 2.0, 3.0]})
    frame, dom = tabulate(data, "la", "sex")
    assert dom is None
    assert frame.to_dict("records") == [
        {"la": "A", "sex": "F", "n": 1},
        {"la": "A", "sex": "M", "n": 1},
        {"la": "B", "sex": "F", "n": 1},
        {"la": "B", "sex": "M", "n": 0},
    ]
    frame, dom = tabulate(data, "la", None, values="cost", aggfunc="sum")
    assert dom is not None and frame["sum"].tolist() == [3.0, 3.0]


def test_tabulate_with_margins_and_secondary_suppression():
    data = pd.DataFrame({"la": ["A"] * 3 + ["B"] * 40 + ["C"] * 30, "arm": (["c", "t"] * 40)[:73]})
    frame, _ = tabulate(data, "la", "arm", margins=True)
    totals = frame.set_index(["la", "arm"])["n"]
    assert totals["Total", "Total"] == 73
    assert totals["A", "Total"] == 3 and totals["Total", "c"] == (data.arm == "c").sum()
    checked = check_microdata(data, "la", "arm", "acro-default", margins=True)
    withheld = {tuple(checked.original.iloc[c.row][["la", "arm"]]) for c in checked.cells if c.released is None}
    assert ("A", "Total") in withheld  # 3 is below 10
    # A's cells are withheld and so is enough of B/C to stop recovery from the column totals
    assert {("A", "c"), ("A", "t")} <= withheld
    assert any(la in {"B", "C"} for la, _ in withheld)
    bad = pd.DataFrame({"la": ["Total", "B"], "arm": ["c", "t"]})
    with pytest.raises(UsageError, match="named like a total"):
        tabulate(bad, "la", "arm", margins=True)


def test_check_microdata_counts():
    rng = np.random.default_rng(3)
    data = pd.DataFrame({"la": rng.choice(["A", "B", "C"], 200), "arm": rng.choice(["c", "t"], 200)})
    checked = check_microdata(data, "la", "arm", "opensafely")
    for cell in checked.cells:
        if cell.value is not None and cell.value <= 7 and cell.value > 0:
            assert cell.released is None
        if cell.released is not None:
            assert cell.released % 5 == 0


def test_check_file_errors(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        check_file(tmp_path / "missing.csv", "acro-default")
    bad = tmp_path / "bad.csv"
    bad.write_text("la,n\nA,12\nB,lots\n")
    with pytest.raises(DataError, match=r"'n' is not numeric \(row 1\)") as info:
        check_file(bad, "acro-default", ["n"])
    assert "lots" not in info.value.message  # never echo the data value
    with pytest.raises(UsageError, match="no column"):
        check_file(bad, "acro-default", ["count"])
