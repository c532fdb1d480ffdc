"""The treatment effect is really in the data: a logistic model on the true sample recovers it.

The care model conditions on a latent risk; fitting it with that risk as a covariate (plus LA, period,
age group, previous CPPs, disability, UASC, ethnicity and the trend absorbed by the periods) estimates
the conditional odds ratio the generator used. Tolerance: 3.5 standard errors of the estimate.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from cscvault.study import load_study
from cscvault.synth import dgp
from cscvault.synth.generate import _default_per_la
from cscvault.synth.rates import load_rates
from cscvault.synth.truth import sample_frame

STUDY = load_study()


def _frame(effect_or: float, seed: int, factor: float) -> pd.DataFrame:
    rates = load_rates(STUDY)
    s = dgp.calibrate(STUDY, rates.common, rates.las, seed, effect_or, False)
    per_la = _default_per_la(STUDY, rates)
    parts = []
    for i, la in enumerate(rates.las):
        for k, (size, first) in enumerate(dgp.batch_plan(int(per_la[la.la.ons_code] * factor))):
            parts.append(pd.DataFrame(sample_frame(dgp.simulate_batch(s, la, i, k, size, first), STUDY)))
    df = pd.concat(parts, ignore_index=True)
    df = df[df.period >= 0].copy()
    df["age"] = pd.cut(df.age_years, [-2, -1, 0, 4, 9, 12], labels=["unborn", "0", "1-4", "5-9", "10-12"])
    df["prev"] = np.minimum(df.previous_cpp, 3)
    for c in ("treated", "cared_18m", "disabled", "uasc"):
        df[c] = df[c].astype(int)
    return df


@pytest.mark.parametrize(("effect_or", "seed"), [(0.6, 31), pytest.param(1.0, 32, marks=pytest.mark.slow)])
def test_logistic_model_recovers_the_odds_ratio(effect_or, seed):
    df = _frame(effect_or, seed, 2.0)
    fit = smf.logit(
        "cared_18m ~ treated + C(la) + C(period) + C(age) + risk + prev + disabled + uasc + C(eth_group)", df
    ).fit(disp=0)
    est, se = fit.params["treated"], fit.bse["treated"]
    assert abs(est - np.log(effect_or)) < 3.5 * se, (np.exp(est), se)


def test_cpp_durations_shortened_by_the_true_ratio():
    """Completed CPPs (not ended by care) of treated referrals last `cpp_duration_ratio` times as long."""
    rates = load_rates(STUDY)
    s = dgp.calibrate(STUDY, rates.common, rates.las, 77, 0.85, False)
    logs = {True: [], False: []}
    for i, la in enumerate(rates.las):
        b = dgp.simulate_batch(s, la, i, 0, 15_000, 0)
        start, end = b.r_cpp_start, b.r_cpp_end
        # plans started by the end of 2022 are all but complete by the end of the data (median ~10 months)
        done = (start != dgp.NO_DATE) & (end != dgp.NO_DATE) & (start < dgp.day(dt.date(2023, 1, 1)))
        done &= b.care_start[b.r_child] == dgp.NO_DATE  # care ends a plan early
        for treated in (True, False):
            sel = done & (b.r_treated == treated)
            logs[treated].append(np.log(np.maximum(end[sel] - start[sel], 1)))
    t, u = np.concatenate(logs[True]), np.concatenate(logs[False])
    diff = t.mean() - u.mean()
    se = np.sqrt(t.var() / t.size + u.var() / u.size)
    assert abs(diff - np.log(rates.common.cpp_duration_ratio)) < 3.5 * se + 0.01, (np.exp(diff), se)
