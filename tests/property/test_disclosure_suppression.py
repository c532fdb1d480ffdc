"""Property tests: for random tables, no released cell breaks the profile and no withheld cell can
be recovered from what is released with it (totals, linked tables).

The attacker is modelled independently of cscvault's own audit: a separate LP (scipy linprog)
built from the table's structure, using the exact (unrounded) released values, which is
conservative: real readers only see rounded values. For every primary-withheld cell with value v,
the attacker's interval [min, max] must reach max(0, v - P) and v + P (P = profile protection).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings, strategies as st
from scipy.optimize import linprog

from cscvault.disclosure import apply_profile, apply_release, get_profile, load_profiles
from cscvault.disclosure.rules import check_cell, round_to_base, verdict_of

PROFILES = sorted(load_profiles())
SLACK = 1e-6

count = st.one_of(st.integers(0, 12), st.integers(0, 200))


@st.composite
def tables(draw):
    rows = draw(st.integers(1, 5))
    cols = draw(st.integers(1, 4))
    grid = np.array(draw(st.lists(st.lists(count, min_size=cols, max_size=cols), min_size=rows, max_size=rows)))
    return grid


def wide_frame(grid: np.ndarray, prefix: str = "c") -> pd.DataFrame:
    rows, cols = grid.shape
    frame = pd.DataFrame(grid, columns=[f"{prefix}{j}" for j in range(cols)])
    frame["Total"] = grid.sum(1)
    frame.insert(0, "group", [f"g{i}" for i in range(rows)])
    total = ["Total", *grid.sum(0).tolist(), int(grid.sum())]
    frame.loc[rows] = total
    return frame


def attacker_intervals(full: np.ndarray, withheld: np.ndarray, equalities: list[list[tuple[int, float]]]):
    """min/max of every withheld cell given released cells, x >= 0 and the equalities."""
    flat_vals = full.ravel()
    var = {int(c): i for i, c in enumerate(np.flatnonzero(withheld.ravel()))}
    rows, rhs = [], []
    for eq in equalities:
        row = np.zeros(len(var))
        const = 0.0
        for cell, coef in eq:
            if cell in var:
                row[var[cell]] += coef
            else:
                const += coef * flat_vals[cell]
        if row.any():
            rows.append(row)
            rhs.append(-const)
    out = {}
    for cell, i in var.items():
        c = np.zeros(len(var))
        c[i] = 1.0
        ends = []
        for sign in (1, -1):
            res = linprog(
                sign * c,
                A_eq=np.array(rows) if rows else None,
                b_eq=np.array(rhs) if rows else None,
                bounds=[(0, None)] * len(var),
                method="highs",
            )
            ends.append(np.inf if res.status == 3 else sign * res.fun)
        out[cell] = (ends[0], ends[1])
    return out


def margin_equalities(shape: tuple[int, int], offset: int = 0) -> list[list[tuple[int, float]]]:
    """Rows of a table with a total row and column: each total minus its parts is 0."""
    n_rows, n_cols = shape  # including the total row/column (last)
    idx = lambda i, j: offset + i * n_cols + j  # noqa: E731
    eqs = []
    for i in range(n_rows):
        eqs.append([(idx(i, n_cols - 1), 1.0)] + [(idx(i, j), -1.0) for j in range(n_cols - 1)])
    for j in range(n_cols):
        eqs.append([(idx(n_rows - 1, j), 1.0)] + [(idx(i, j), -1.0) for i in range(n_rows - 1)])
    return eqs


def assert_released_cells_are_safe(checked, profile):
    for cell in checked.cells:
        if cell.released is None:
            continue
        assert verdict_of(check_cell(profile, cell.value)) == "pass"
        assert cell.released == round_to_base(cell.value, profile.round_base)


def assert_primary_cells_protected(values, withheld, primary, equalities, protection):
    intervals = attacker_intervals(values, withheld, equalities)
    flat = values.ravel()
    for cell in np.flatnonzero(primary.ravel()):
        lo, hi = intervals[int(cell)]
        v = flat[cell]
        assert hi - lo > SLACK, f"cell {cell} is recoverable exactly"
        assert lo <= max(0.0, v - protection) + SLACK, f"cell {cell}: lower bound too tight"
        assert hi >= v + protection - SLACK, f"cell {cell}: upper bound too tight"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grid=tables(), name=st.sampled_from(PROFILES))
def test_random_tables_with_margins(grid, name):
    profile = get_profile(name)
    frame = wide_frame(grid)
    checked = apply_profile(frame, profile)
    assert_released_cells_are_safe(checked, profile)
    count_cols = checked.count_cols
    values = frame[count_cols].to_numpy(float)
    withheld = np.array([[checked.cell(i, c).released is None for c in count_cols] for i in range(len(frame))])
    primary = np.array([[checked.cell(i, c).verdict != "pass" for c in count_cols] for i in range(len(frame))])
    assert not (primary & ~withheld).any(), "a failing cell was released"
    assert_primary_cells_protected(values, withheld, primary, margin_equalities(values.shape), profile.protection)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=tables(), b_cols=st.integers(1, 3), data=st.data(), name=st.sampled_from(PROFILES))
def test_linked_tables_sharing_row_totals(a, b_cols, data, name):
    """Two tables on the same groups (e.g. LA x arm and LA x period): their row totals are equal."""
    profile = get_profile(name)
    rows = a.shape[0]
    # Table B splits each row total of A differently over b_cols columns.
    b = np.zeros((rows, b_cols), dtype=int)
    for i in range(rows):
        cuts = sorted(data.draw(st.lists(st.integers(0, int(a[i].sum())), min_size=b_cols - 1, max_size=b_cols - 1)))
        edges = [0, *cuts, int(a[i].sum())]
        b[i] = np.diff(edges)
    fa, fb = wide_frame(a, "arm"), wide_frame(b, "period")
    # Row totals of the two tables share keys (group, "Total") and values: linked automatically.
    checked = apply_release({"a": fa, "b": fb}, profile, link_equal_keys=True)
    for table in checked.values():
        assert_released_cells_are_safe(table, profile)
    va, vb = fa[checked["a"].count_cols].to_numpy(float), fb[checked["b"].count_cols].to_numpy(float)
    values = np.concatenate([va.ravel(), vb.ravel()])
    withheld = np.concatenate(
        [
            np.array(
                [[checked[t].cell(i, c).released is None for c in checked[t].count_cols] for i in range(len(f))]
            ).ravel()
            for t, f in (("a", fa), ("b", fb))
        ]
    )
    primary = np.concatenate(
        [
            np.array(
                [[checked[t].cell(i, c).verdict != "pass" for c in checked[t].count_cols] for i in range(len(f))]
            ).ravel()
            for t, f in (("a", fa), ("b", fb))
        ]
    )
    eqs = margin_equalities(va.shape) + margin_equalities(vb.shape, offset=va.size)
    # the link: row totals (and the grand total) of A and B are the same numbers
    for i in range(va.shape[0]):
        eqs.append([(i * va.shape[1] + va.shape[1] - 1, 1.0), (va.size + i * vb.shape[1] + vb.shape[1] - 1, -1.0)])
    assert_primary_cells_protected(values, withheld, primary, eqs, profile.protection)
