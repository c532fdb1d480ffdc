"""An independent LP attacker (written here, not the product's code) against the report's flow table.

The attacker knows every released cell, the relations the flow table obeys (referred = excluded for age +
excluded for care before referral + in sample; in sample = censored + analysed; events <= analysed; ties,
missing ages <= in sample) and that counts are non-negative. For each suppressed cell it solves two LPs;
the cell is recovered when its minimum equals its maximum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from cscvault.disclosure import apply_profile
from cscvault.report.relations import FLOW_RELATIONS

COLUMNS = [
    "referred_in_window", "excluded_age", "excluded_care_before_referral", "in_sample", "censored", "analysed",
    "events", "first_referral_ties", "age_missing",
]  # fmt: skip
# (total, parts, exact): the arithmetic an attacker knows, restated independently of the product's declaration.
ARITHMETIC = [
    ("referred_in_window", ("excluded_age", "excluded_care_before_referral", "in_sample"), True),
    ("in_sample", ("censored", "analysed"), True),
    ("analysed", ("events",), False),
    ("in_sample", ("first_referral_ties",), False),
    ("in_sample", ("age_missing",), False),
]


def flow_table(rng: np.random.Generator, las: int) -> pd.DataFrame:
    rows = []
    for i in range(las):
        in_sample = int(rng.integers(30, 900))
        analysed = in_sample - int(rng.integers(0, 15))
        rows.append(
            {
                "la": f"LA{i}",
                "excluded_age": int(rng.integers(1, 14)),
                "excluded_care_before_referral": int(rng.integers(1, 30)),
                "in_sample": in_sample,
                "censored": in_sample - analysed,
                "analysed": analysed,
                "events": int(rng.integers(3, max(4, analysed // 4))),
                "first_referral_ties": int(rng.integers(0, 12)),
                "age_missing": int(rng.integers(0, 9)),
            }
        )
    frame = pd.DataFrame(rows)
    frame["referred_in_window"] = frame["excluded_age"] + frame["excluded_care_before_referral"] + frame["in_sample"]
    return frame[["la", *COLUMNS]]


def attacker_intervals(released: pd.DataFrame) -> dict[tuple[int, str], tuple[float, float]]:
    unknown = [(r, c) for r in range(len(released)) for c in COLUMNS if pd.isna(released.iloc[r][c])]
    index = {cell: i for i, cell in enumerate(unknown)}
    a_eq, b_eq, a_ub, b_ub = [], [], [], []
    for r in range(len(released)):
        for total, parts, exact in ARITHMETIC:
            row = np.zeros(len(unknown))
            rhs = 0.0
            for col, sign in [(total, 1.0), *((p, -1.0) for p in parts)]:
                if (r, col) in index:
                    row[index[(r, col)]] += sign
                else:
                    rhs -= sign * float(released.iloc[r][col])
            if not row.any():
                continue
            if exact:
                a_eq.append(row)
                b_eq.append(rhs)
            else:
                a_ub.append(-row)
                b_ub.append(-rhs)
    out = {}
    for cell, i in index.items():
        bounds = []
        for sense in (1.0, -1.0):
            c = np.zeros(len(unknown))
            c[i] = sense
            res = linprog(
                c,
                A_ub=np.array(a_ub) if a_ub else None,
                b_ub=np.array(b_ub) if b_ub else None,
                A_eq=np.array(a_eq) if a_eq else None,
                b_eq=np.array(b_eq) if b_eq else None,
                bounds=[(0, None)] * len(unknown),
                method="highs",
            )
            bounds.append(sense * res.fun if res.status == 0 else (np.inf if sense < 0 else -np.inf))
        out[cell] = (bounds[0], bounds[1])
    return out


@pytest.mark.parametrize(("seed", "profile"), [(s, p) for s in range(6) for p in ("dfe", "ons")])
def test_no_suppressed_flow_cell_is_recovered_exactly(seed: int, profile: str) -> None:
    frame = flow_table(np.random.default_rng(seed), las=5)
    checked = apply_profile(frame, profile, COLUMNS, label_cols=["la"], name="flow", relations=FLOW_RELATIONS)
    original = checked.original
    released = pd.DataFrame(
        {c: [None if v is None else float(v) for v in checked.released[c]] for c in COLUMNS}, dtype=float
    )
    if checked.profile.round_base == 1:
        assert checked.suppressed_count > 0  # the test is not vacuous
    for (r, col), (lo, hi) in attacker_intervals(released).items():
        value = float(original.iloc[r][col])
        assert lo <= value + 1e-6 and hi >= value - 1e-6
        assert hi - lo > 0.5, f"seed {seed}: {col} of row {r} recovered exactly"


def test_without_the_declared_relations_subtraction_recovers_a_cell() -> None:
    """The issue's finding: suppression that ignores the flow arithmetic leaves cells recoverable."""
    frame = flow_table(np.random.default_rng(1), las=5)
    checked = apply_profile(frame, "dfe", COLUMNS, label_cols=["la"], name="flow")
    released = pd.DataFrame({c: [None if v is None else float(v) for v in checked.released[c]] for c in COLUMNS})
    intervals = attacker_intervals(released.astype(float))
    assert any(hi - lo < 0.5 for lo, hi in intervals.values())
