"""Secondary suppression and its LP audit on small tables worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from cscvault.disclosure.suppression import (
    Interval,
    Relation,
    audit_suppression,
    feasible_intervals,
    is_protected,
    secondary_suppression,
)


def table_with_margins(t: np.ndarray) -> tuple[list[float], list[Relation], dict]:
    """Flattened interior, then row totals, column totals, grand total; relations between them."""
    r, c = t.shape
    values = [*t.ravel().tolist(), *t.sum(1).tolist(), *t.sum(0).tolist(), float(t.sum())]
    cell = {(i, j): i * c + j for i in range(r) for j in range(c)}
    row_tot = {i: r * c + i for i in range(r)}
    col_tot = {j: r * c + r + j for j in range(c)}
    grand = r * c + r + c
    rels = [Relation(row_tot[i], tuple(cell[i, j] for j in range(c))) for i in range(r)]
    rels += [Relation(col_tot[j], tuple(cell[i, j] for i in range(r))) for j in range(c)]
    rels += [Relation(grand, tuple(row_tot.values())), Relation(grand, tuple(col_tot.values()))]
    return values, rels, {"cell": cell, "row": row_tot, "col": col_tot, "grand": grand}


def test_a_lone_suppressed_cell_is_recovered_exactly_from_its_row_total():
    values, rels, ix = table_with_margins(np.array([[3.0, 20.0], [15.0, 25.0]]))
    supp = np.zeros(len(values), bool)
    supp[ix["cell"][0, 0]] = True
    interval = feasible_intervals(values, supp, rels)[ix["cell"][0, 0]]
    assert interval == Interval(3.0, 3.0)
    assert audit_suppression(values, supp, rels, [ix["cell"][0, 0]], 5) == [ix["cell"][0, 0]]


def test_a_rectangle_of_four_gives_the_interval_worked_by_hand():
    # [[3, 20], [15, 25]] with all four interior cells withheld and the margins released:
    # x00 = 3 + t with x01 = 20 - t, x10 = 15 - t, x11 = 25 + t, all >= 0: t in [-3, 15] -> [0, 18].
    values, rels, ix = table_with_margins(np.array([[3.0, 20.0], [15.0, 25.0]]))
    supp = np.zeros(len(values), bool)
    supp[list(ix["cell"].values())] = True
    got = feasible_intervals(values, supp, rels)
    assert got[ix["cell"][0, 0]].lo == pytest.approx(0.0)
    assert got[ix["cell"][0, 0]].hi == pytest.approx(18.0)
    assert got[ix["cell"][1, 1]].lo == pytest.approx(22.0)
    assert got[ix["cell"][1, 1]].hi == pytest.approx(40.0)


def test_secondary_suppression_protects_the_primary_cell_and_picks_small_cells():
    t = np.array([[3.0, 20.0, 30.0], [15.0, 25.0, 12.0], [40.0, 11.0, 50.0]])
    values, rels, ix = table_with_margins(t)
    primary = np.zeros(len(values), bool)
    primary[ix["cell"][0, 0]] = True
    supp = secondary_suppression(values, primary, rels, protection=5)
    assert supp[ix["cell"][0, 0]]
    assert not any(supp[i] for i in (*ix["row"].values(), *ix["col"].values(), ix["grand"]))
    assert supp.sum() == 4  # one rectangle is enough here
    interval = feasible_intervals(values, supp, rels, [ix["cell"][0, 0]])[ix["cell"][0, 0]]
    assert is_protected(3.0, interval, 5)


def test_two_primaries_in_one_row_still_need_a_second_row():
    # Row 0 has two small cells; hiding just those two leaves each column total pinning them.
    t = np.array([[4.0, 6.0, 50.0], [30.0, 40.0, 20.0]])
    values, rels, ix = table_with_margins(t)
    primary = np.zeros(len(values), bool)
    primary[[ix["cell"][0, 0], ix["cell"][0, 1]]] = True
    assert audit_suppression(values, primary, rels, list(np.flatnonzero(primary)), 3)
    supp = secondary_suppression(values, primary, rels, protection=3)
    assert not audit_suppression(values, supp, rels, list(np.flatnonzero(primary)), 3)
    assert supp[ix["cell"][1, 0]] and supp[ix["cell"][1, 1]]


def test_inexact_relation_gives_the_attacker_only_an_upper_bound():
    # total 50 counts more than the parts (e.g. "not known" cases): parts sum <= total.
    values = [50.0, 3.0, 30.0]
    rels = [Relation(0, (1, 2), exact=False)]
    supp = np.array([False, True, False])
    got = feasible_intervals(values, supp, rels)[1]
    assert (got.lo, got.hi) == (pytest.approx(0.0), pytest.approx(20.0))


def test_no_relation_means_unbounded_and_protected():
    got = feasible_intervals([3.0, 40.0], [True, False], [])[0]
    assert got.lo == 0.0 and got.hi == float("inf")
    assert is_protected(3.0, got, 5)


def test_linked_tables_share_a_total():
    # Table A: x + y = T (T released in table B only). Linking makes x recoverable unless y is hidden.
    values = [3.0, 40.0, 43.0, 43.0]  # x, y, T_in_A(hidden total cell), T_in_B
    rels = [Relation(2, (0, 1)), Relation(3, (2,))]
    primary = np.array([True, False, True, False])  # x and A's total withheld, B's total released
    assert audit_suppression(values, primary, rels, [0], 5) == [0]
    supp = secondary_suppression(values, primary, rels, protection=5)
    assert supp[1] or supp[3]
    assert not audit_suppression(values, supp, rels, [0], 5)


def test_never_suppress_that_blocks_every_way_out_withholds_all_it_may_and_audit_tells():
    values = [43.0, 3.0, 40.0]
    rels = [Relation(0, (1, 2))]
    locked = [True, False, True]
    supp = secondary_suppression(values, [False, True, False], rels, 5, never_suppress=locked)
    assert supp.tolist() == [False, True, False]
    assert audit_suppression(values, supp, rels, [1], 5) == [1]


def test_structural_zeros_cannot_be_protected_and_everything_is_withheld():
    # An all-zero table: the relations alone pin nothing (all withheld -> unbounded above).
    values = [0.0, 0.0, 0.0]
    rels = [Relation(0, (1, 2))]
    supp = secondary_suppression(values, [True, True, True], rels, 5)
    assert supp.all()
    assert audit_suppression(values, supp, rels, [0, 1, 2], 5) == []


def test_inconsistent_release_is_reported():
    with pytest.raises(ValueError, match="inconsistent"):
        feasible_intervals([10.0, 3.0, 40.0], [False, True, False], [Relation(0, (1, 2))])
