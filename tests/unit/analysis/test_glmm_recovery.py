"""Recovery of a known truth: bias and 95% CI coverage of the treatment log-OR over simulated trials.

Slow (about 0.3 s per trial): run with `pytest -m slow tests/unit/analysis/test_glmm_recovery.py -s`,
or as a script, `python tests/unit/analysis/test_glmm_recovery.py [N_TRIALS]`, which prints the figures.
Trials have the real trial's shape (5 LAs, 6 periods, 27,000 children, true OR 0.85, cluster SD 0.2,
three child covariates); each is fitted on its binomial rows (exact) with the Laplace approximation.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from cscvault.analysis.models.glmm import fit_glmm_frame
from cscvault.analysis.simulate import SteppedWedgeSpec, simulate_stepped_wedge

SPEC = SteppedWedgeSpec()
COVS = list(SPEC.covariates)


def recovery(n_trials: int, first_seed: int = 10_000, nagq: int = 1) -> dict[str, float]:
    estimates, covered, ses = [], [], []
    for seed in range(first_seed, first_seed + n_trials):
        trial = simulate_stepped_wedge(SPEC, seed=seed)
        fit = fit_glmm_frame(
            trial.binomial(),
            events="events",
            trials="trials",
            treatment="treatment",
            period="period",
            cluster="cluster",
            covariates=COVS,
            nagq=nagq,
        )
        eff = fit.effect
        estimates.append(eff.estimate)
        ses.append(eff.se)
        covered.append(eff.log_ci_low <= SPEC.log_or <= eff.log_ci_high)
    est = np.array(estimates)
    return {
        "n_trials": n_trials,
        "true_log_or": SPEC.log_or,
        "bias": float(est.mean() - SPEC.log_or),
        "bias_mc_se": float(est.std(ddof=1) / math.sqrt(n_trials)),
        "empirical_sd": float(est.std(ddof=1)),
        "mean_model_se": float(np.mean(ses)),
        "coverage": float(np.mean(covered)),
    }


@pytest.mark.slow
def test_treatment_effect_is_recovered():
    n = 200
    res = recovery(n)
    print(res)
    # Goals of issue 5: |bias| < 0.02 and coverage 93-97%. With 200 trials the Monte Carlo error of
    # coverage is 1.5 points, so the test accepts the 99% band around 95% (91-99%) and asserts the
    # bias goal with its Monte Carlo error allowed for.
    assert abs(res["bias"]) < 0.02 + 2.58 * res["bias_mc_se"]
    assert 0.95 - 2.58 * math.sqrt(0.95 * 0.05 / n) <= res["coverage"] <= 0.95 + 2.58 * math.sqrt(0.95 * 0.05 / n)
    # the model SE should describe the spread of the estimates
    assert res["mean_model_se"] == pytest.approx(res["empirical_sd"], rel=0.2)


if __name__ == "__main__":
    print(recovery(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
