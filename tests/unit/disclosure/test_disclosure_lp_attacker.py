"""The tests' independent LP attacker (`tests/lp_attacker.py`, not the product's code) against the flow table.

The attacker knows every released cell (its true value, as a worst case), the relations the flow table
obeys (referred = excluded for age + excluded for care before referral + in sample; in sample = censored +
analysed; events <= analysed; ties, missing ages <= in sample) and that counts are non-negative. For each suppressed cell it solves two LPs;
the cell is recovered when its minimum equals its maximum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cscvault.disclosure import apply_profile
from cscvault.disclosure.check import CheckedTable
from cscvault.report.relations import FLOW_RELATIONS
from tests.lp_attacker import Cell, Knowledge, flow_arithmetic

COLUMNS = [
    "referred_in_window", "excluded_age", "excluded_care_before_referral", "in_sample", "censored", "analysed",
    "events", "first_referral_ties", "age_missing",
]  # fmt: skip


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


def recovered(checked: CheckedTable) -> list[Cell]:
    """Withheld cells the attacker (`tests.lp_attacker`) pins to one value, knowing the flow arithmetic."""
    truth = {((str(row["la"]),), c): float(row[c]) for _, row in checked.original.iterrows() for c in COLUMNS}
    knowledge = Knowledge()
    knowledge.see("flow", checked.released.to_dict("records"), ["la"], COLUMNS, truth)
    flow_arithmetic(knowledge, "flow")
    return knowledge.recovered()


@pytest.mark.parametrize(("seed", "profile"), [(s, p) for s in range(6) for p in ("dfe", "ons")])
def test_no_suppressed_flow_cell_is_recovered_exactly(seed: int, profile: str) -> None:
    frame = flow_table(np.random.default_rng(seed), las=5)
    checked = apply_profile(frame, profile, COLUMNS, label_cols=["la"], name="flow", relations=FLOW_RELATIONS)
    if checked.profile.round_base == 1:
        assert checked.suppressed_count > 0  # the test is not vacuous
    assert recovered(checked) == [], f"seed {seed}: a withheld cell is recovered exactly"


def test_without_the_declared_relations_subtraction_recovers_a_cell() -> None:
    """The issue's finding: suppression that ignores the flow arithmetic leaves cells recoverable."""
    frame = flow_table(np.random.default_rng(1), las=5)
    checked = apply_profile(frame, "dfe", COLUMNS, label_cols=["la"], name="flow")
    assert recovered(checked) != []
