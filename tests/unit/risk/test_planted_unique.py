"""A planted unique child is found and ranked first; generalisation removes uniques exactly as an
independent count says it should."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from cscvault.risk.frequencies import encode_keys, frequencies
from cscvault.risk.individual import individual_risk
from cscvault.risk.measures import measure
from cscvault.risk.recode import age_band, candidate, coarsen_dates, ethnicity_five
from cscvault.risk.suda import suda_scores

KEYS = ["la_code", "gender", "ethnicity", "age_months", "referral_date"]


def _children(seed: int, n: int = 4000) -> pd.DataFrame:
    """Common combinations only: few LAs, two genders, two ethnicities, ages and dates on a coarse grid, so
    every combination is shared by many children."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "la_code": rng.choice(["E08000030", "E06000030"], n),
            "gender": rng.choice(["male", "female"], n),
            "ethnicity": rng.choice(["WBRI", "WIRI"], n),
            "age_months": rng.choice([12, 13, 24, 25], n),
            "referral_date": pd.to_datetime(rng.choice(["2021-01-04", "2021-01-05", "2021-04-06"], n)).date,
        }
    )


def _plant(frame: pd.DataFrame) -> pd.DataFrame:
    # Nobody else is 7 months old or Black Caribbean: a combination no other child has.
    planted = {
        "la_code": "E08000030",
        "gender": "female",
        "ethnicity": "BCRB",
        "age_months": 7,
        "referral_date": pd.Timestamp("2021-01-04").date(),
    }
    return pd.concat([frame, pd.DataFrame([planted])], ignore_index=True)


def independent_uniques(frame: pd.DataFrame, keys: list[str]) -> int:
    rows = [tuple(r) for r in frame[keys].itertuples(index=False)]
    counts = Counter(rows)
    return sum(1 for r in rows if counts[r] == 1)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_planted_child_is_a_sample_unique_with_the_highest_risk(seed: int) -> None:
    frame = _plant(_children(seed))
    planted = len(frame) - 1
    weights = np.full(len(frame), 3.0)  # a population three times the sample
    f = frequencies(encode_keys(frame, KEYS), weights)
    risk = individual_risk(f.fk, f.Fk)
    assert f.fk[planted] == 1
    assert f.uniques == independent_uniques(frame, KEYS) == 1
    assert risk[planted] == risk.max()
    assert np.sum(risk == risk.max()) == 1
    suda = suda_scores(encode_keys(frame, KEYS))
    assert suda.score[planted] == suda.score.max() > 0
    assert suda.min_msu_size[planted] == 1  # unique on ethnicity (or age) alone


def test_generalisation_reduces_uniques_as_an_independent_count_says() -> None:
    rng = np.random.default_rng(7)
    n = 3000
    frame = pd.DataFrame(
        {
            "la_code": rng.choice(["E08000030", "E06000030", "E09000032"], n),
            "gender": rng.choice(["male", "female"], n),
            "ethnicity": rng.choice(["WBRI", "WIRI", "BCRB", "BAFR", "AIND", "MWBC"], n),
            "age_months": rng.integers(-3, 156, n),
            "referral_date": (pd.Timestamp("2020-04-01") + pd.to_timedelta(rng.integers(0, 730, n), "D")).date,
        }
    )
    frame = _plant(frame)
    before = independent_uniques(frame, KEYS)
    f = frequencies(encode_keys(frame, KEYS))
    assert f.uniques == before
    # The same generalisations written out independently: 12-month bands, quarter start, five groups.
    groups = {"WBRI": "White", "WIRI": "White", "BCRB": "Black", "BAFR": "Black", "AIND": "Asian", "MWBC": "Mixed"}
    independent = frame.assign(
        age_months=[m // 12 for m in frame["age_months"]],
        referral_date=[(d.year, (d.month - 1) // 3) for d in frame["referral_date"]],
        ethnicity=[groups[e] for e in frame["ethnicity"]],
    )
    expected = independent_uniques(independent, KEYS)
    assert expected < before
    ours = frame.assign(
        age_months=age_band(frame["age_months"], 12),
        referral_date=coarsen_dates(frame["referral_date"], "quarter"),
        ethnicity=ethnicity_five(frame["ethnicity"]),
    )
    assert frequencies(encode_keys(ours, KEYS)).uniques == expected
    g = candidate("combined")
    assert (g.age_band_months, g.date_unit, g.ethnicity_groups) == (12, "quarter", True)


def test_measure_returns_aggregates_per_la_that_add_up() -> None:
    frame = _plant(_children(4))
    frame["cla_start"] = None
    frame.loc[::3, "cla_start"] = pd.Timestamp("2022-01-01").date()
    m = measure(frame, KEYS, None, {"care_entry": frame["cla_start"].notna()}, frame["la_code"])
    assert m.records == len(frame)
    assert m.sample_uniques == 1
    assert m.per_la["children"].sum() == len(frame)
    assert m.per_la["sample_uniques"].sum() == 1
    assert m.expected_reidentifications == pytest.approx(m.per_la["expected_reidentifications"].sum())
    assert m.special_uniques == 1
    assert set(m.per_la.columns) >= {"la", "children", "sample_uniques", "below_k3", "below_k5", "special_uniques"}
