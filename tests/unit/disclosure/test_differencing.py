"""Differencing against earlier releases on the same cohort."""

from __future__ import annotations

import pandas as pd

from cscvault.disclosure import apply_differencing, apply_profile, differencing_flags


def release(counts: list[int], total: int) -> pd.DataFrame:
    return pd.DataFrame({"la": ["A", "B", "C", "Total"], "n": [*counts, total]})


def test_a_small_difference_in_one_cell_is_flagged_for_review():
    march = apply_profile(release([120, 200, 300], 620), "ons")
    april = apply_profile(release([124, 200, 330], 654), "ons")
    flags = differencing_flags(april, {"march": march}, "ons")
    assert [(f.key, f.column, f.difference) for f in flags] == [(("A",), "n", 4.0)]
    assert flags[0].verdict == "review"


def test_differences_at_threshold_minus_one_threshold_and_zero():
    old = apply_profile(release([100, 200, 300], 600), "ons")  # ons: threshold 10, no rounding
    assert [f.difference for f in differencing_flags(release([109, 200, 300], 609), {"o": old}, "ons")] == [
        9.0,
        9.0,
    ]  # the cell and the grand total
    assert differencing_flags(release([110, 200, 300], 610), {"o": old}, "ons") == []
    assert differencing_flags(release([100, 200, 300], 600), {"o": old}, "ons") == []


def test_grand_totals_are_compared_even_when_labels_differ():
    old = pd.DataFrame({"arm": ["control", "treated", "Total"], "n": [300, 320, 620]})
    new = pd.DataFrame({"la": ["A", "B", "Total"], "n": [400, 223, 623]})
    flags = differencing_flags(new, {"old": old}, "acro-default")
    assert len(flags) == 1 and flags[0].difference == 3.0 and flags[0].row == 2


def test_withheld_cells_are_not_compared():
    old = pd.DataFrame({"la": ["A", "B"], "n": [None, 200]})
    new = pd.DataFrame({"la": ["A", "B"], "n": [12.0, 200.0]})
    assert differencing_flags(new, {"old": old}, "acro-default") == []


def test_apply_differencing_turns_passing_cells_into_review():
    march = apply_profile(release([120, 200, 300], 620), "ons")
    april = apply_profile(release([124, 200, 330], 654), "ons")
    apply_differencing(april, {"march": march})
    assert april.cell(0).verdict == "review"
    assert april.cell(0).reasons[-1].startswith("differencing:")
    assert april.status == "review"
