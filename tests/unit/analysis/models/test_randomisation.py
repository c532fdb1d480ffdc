"""Exact randomisation inference over admissible stratified stepped-wedge sequences."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from cscvault.analysis.models.randomisation import (
    admissible_sequences,
    describe_design,
    fe_logit_statistic,
    inversion_p_value,
    randomisation_ci,
    randomisation_test,
    study_design,
)
from cscvault.errors import UsageError
from cscvault.study import load_study


@pytest.fixture(scope="module")
def study():
    return load_study()


def _cells(names, observed, seed=11, effect=-0.35):
    """LA x period binomial cells (period 0 = baseline) with a true treatment effect."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, la in enumerate(names):
        u = rng.normal(0, 0.2)
        for t in range(6):
            n = int(rng.integers(150, 400))
            treated = t >= observed[la]
            eta = -2.3 + 0.05 * t + u + (effect if treated else 0.0) + 0.1 * i
            rows.append({"la": la, "period": t, "events": int(rng.binomial(n, 1 / (1 + np.exp(-eta)))), "n": n})
    return pd.DataFrame(rows)


def test_default_study_has_twelve_admissible_sequences(study):
    sequences, observed = study_design(study)
    assert len(sequences) == 12  # 2! (high readiness, wedges 1-2) x 3! (low, wedges 3-5)
    assert observed in sequences
    assert len({tuple(sorted(s.items())) for s in sequences}) == 12
    for s in sequences:
        for la in study.local_authorities:
            stratum = next(st for st in study.strata if st.name == la.stratum)
            assert s[la.name] in stratum.wedges
    assert "0.0833" in describe_design(12) and "unbounded" in describe_design(12)


def test_p_value_equals_brute_force_enumeration(study):
    sequences, observed = study_design(study)
    names = sorted(observed)
    data = _cells(names, observed)
    stat = fe_logit_statistic(data, cluster="la", period_index="period", events="events", trials="n", observed=observed)
    result = randomisation_test(sequences, observed, lambda s: stat(s, 0.0))

    # Brute force: every permutation of wedges 1..5 over the LAs, kept when each LA stays in its stratum.
    stratum_wedges = {st.name: set(st.wedges) for st in study.strata}
    la_stratum = {la.name: la.stratum for la in study.local_authorities}
    null = []
    for perm in itertools.permutations(range(1, 6)):
        assignment = dict(zip(names, perm, strict=True))
        if all(assignment[la] in stratum_wedges[la_stratum[la]] for la in names):
            null.append(stat(assignment, 0.0))
    assert len(null) == 12
    t_obs = stat(observed, 0.0)
    expected = sum(abs(t) >= abs(t_obs) - 1e-12 for t in null) / len(null)
    assert result.p_value == pytest.approx(expected)
    assert result.estimate == pytest.approx(t_obs)
    assert sorted(result.null_distribution) == pytest.approx(sorted(null))
    assert result.min_attainable_p == pytest.approx(1 / 12)


def test_generic_strata_count_and_validation():
    strata = {"a": (1, 2, 3), "b": (4, 5), "c": (6,)}
    clusters = {"x1": "a", "x2": "a", "x3": "a", "y1": "b", "y2": "b", "z": "c"}
    assert len(admissible_sequences(strata, clusters)) == 6 * 2 * 1
    # a stratum may own more wedges than clusters: injective maps (3 * 2 here)
    assert len(admissible_sequences({"a": (1, 2, 3)}, {"p": "a", "q": "a"})) == 6
    with pytest.raises(UsageError, match="only 1 wedges"):
        admissible_sequences({"a": (1,)}, {"p": "a", "q": "a"})
    with pytest.raises(UsageError, match="strata the design does not define"):
        admissible_sequences({"a": (1,)}, {"p": "zzz"})


def test_ci_by_inversion_unbounded_when_design_cannot_reach_alpha(study):
    sequences, observed = study_design(study)
    data = _cells(sorted(observed), observed)
    stat = fe_logit_statistic(data, cluster="la", period_index="period", events="events", trials="n", observed=observed)
    res = randomisation_ci(sequences, observed, stat, level=0.95, scale=0.1)
    assert res.ci_low is None and res.ci_high is None
    assert res.as_dict()["ci_bounded"] is False


def test_ci_by_inversion_with_an_unstratified_design():
    names = [f"L{i}" for i in range(5)]
    observed = {n: i + 1 for i, n in enumerate(names)}
    sequences = admissible_sequences({"all": (1, 2, 3, 4, 5)}, dict.fromkeys(names, "all"))
    assert len(sequences) == 120
    data = _cells(names, observed, seed=5, effect=-0.6)
    stat = fe_logit_statistic(data, cluster="la", period_index="period", events="events", trials="n", observed=observed)
    res = randomisation_ci(sequences, observed, stat, level=0.9, scale=0.1, tol=1e-3)
    assert res.ci_low is not None and res.ci_high is not None
    assert res.ci_low < res.estimate < res.ci_high
    # just outside each bound the test rejects at 10%; just inside it does not
    assert inversion_p_value(sequences, observed, stat, res.ci_low - 0.01) <= 0.1
    assert inversion_p_value(sequences, observed, stat, res.ci_high + 0.01) <= 0.1
    assert inversion_p_value(sequences, observed, stat, res.estimate) > 0.1


def test_period_names_map_to_step_indices(study):
    from cscvault.analysis.models.randomisation import period_index

    names = pd.Series([p.name for p in study.periods])
    assert period_index(study, names).tolist() == list(range(len(study.periods)))
    from cscvault.errors import DataError

    with pytest.raises(DataError, match="not periods"):
        period_index(study, pd.Series(["no-such-period"]))
