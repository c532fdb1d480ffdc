"""Recovery of truth by the primary analysis over synthetic trials made by `cscvault synth`'s generator.

Issue 5's validation (`make validate`, not `make test`): each trial is the synthetic generator at the
real sample size (about 28,000 children in the primary sample) with a new seed; its children go through
the product's own primary-sample code (`primary_sample_from_frames`, fed in memory by
`cscvault.synth.frames`) and the plan's primary model (complete case, Laplace). Bias of the log odds ratio
and 95% CI coverage are measured against truth.json's `care_18m_odds_ratio`, the per-referral odds ratio
the generator applies.

The pre-registered procedure does not recover that parameter, for reasons of design and model that
docs/analysis.md ("Design checks") sets out: re-referrals after go-live dilute the intention-to-treat
effect (tests/validation/dilution_check.py), no model sees the generator's latent risk, and with the
generator's fixed LA effects and the trial's fixed wedge order, the LA random intercept and the LA-month
White share let part of the LAs' differences pull the estimate towards 1. The test therefore asserts what must hold whatever the estimand: every fit converges,
the model's standard error describes the spread of its estimates, and the estimate is attenuated, never
exaggerated or reversed, on average. The estimator's own bias and coverage, where the model is right, are
checked in tests/unit/analysis/test_glmm_recovery.py.

Run: `python tests/validation/test_primary_recovery.py [N_TRIALS] [--workers K]` prints the figures;
`pytest -m slow tests/validation/test_primary_recovery.py -s` asserts them (200 trials).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pytest

from cscvault.analysis.primary import fit_primary_models
from cscvault.analysis.samples import PrimarySample
from cscvault.study import load_study
from cscvault.synth import frames
from cscvault.synth.truth import TruthAccumulator, build_truth

STUDY = load_study()
EFFECT_OR = 0.85  # the synth default, as in the trial's protocol
FIRST_SEED = 50_000


def simulate(seed: int, scale: float = 1.0, effect_or: float = EFFECT_OR) -> tuple[PrimarySample, dict[str, Any]]:
    """One synthetic trial (clean data): its primary sample, derived by the product's code, and its truth.json."""
    settings, batches = frames.simulate(seed, study=STUDY, effect_or=effect_or, scale=scale)
    acc = TruthAccumulator(STUDY)
    for b in batches:
        acc.add(b)
    per_la: dict[str, int] = {}
    for b in batches:
        per_la[b.la.la.ons_code] = per_la.get(b.la.la.ons_code, 0) + b.n
    truth = build_truth(
        settings,
        acc,
        children_requested=sum(per_la.values()),
        children_per_la=per_la,
        formats=(),
        files=[],
        dr1_fsm_missing_share={},
    )
    sample = frames.vault_frames(batches, settings, STUDY, with_school=False).product_sample(STUDY)
    return sample, truth


def fit(sample: PrimarySample) -> dict[str, float]:
    (fitted,) = fit_primary_models(sample, STUDY, strategies=("complete_case",), estimations=("laplace",))
    e = fitted.fit.effect
    return {
        "estimate": e.estimate,
        "se": e.se,
        "low": e.log_ci_low,
        "high": e.log_ci_high,
        "n": fitted.fit.n,
        "converged": fitted.fit.converged,
        "optimisers_agree": fitted.fit.optimisers_agree,
        "max_param_difference": fitted.fit.max_param_difference,
        "sparse_terms": [t.term for t in fitted.fit.terms if t.se > 5],  # separated levels, if any
    }


def one_trial(seed: int) -> dict[str, Any]:
    sample, truth = simulate(seed)
    out = fit(sample)
    out["true_log_or"] = math.log(truth["true_parameters"]["treatment_effects"]["care_18m_odds_ratio"])
    out["sample_children"] = truth["totals"]["sample_children"]
    return out


def _summary(est: np.ndarray, low: np.ndarray, high: np.ndarray, target: float) -> dict[str, float]:
    n = est.size
    return {
        "target": target,
        "bias": float(est.mean() - target),
        "bias_mc_se": float(est.std(ddof=1) / math.sqrt(n)),
        "coverage": float(np.mean((low <= target) & (target <= high))),
    }


def recovery(n_trials: int, workers: int = 2) -> dict[str, Any]:
    t0 = time.perf_counter()
    seeds = range(FIRST_SEED, FIRST_SEED + n_trials)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        trials = []
        for k, r in enumerate(pool.map(one_trial, seeds), start=1):
            trials.append(r)
            if k % 10 == 0 or k == n_trials:
                print(f"  {k}/{n_trials} trials, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    est = np.array([t["estimate"] for t in trials])
    low = np.array([t["low"] for t in trials])
    high = np.array([t["high"] for t in trials])
    truth = trials[0]["true_log_or"]
    return {
        "n_trials": n_trials,
        "mean_sample_children": float(np.mean([t["n"] for t in trials])),
        "all_converged": all(t["converged"] for t in trials),
        "not_converged": [
            {"seed": s, **{k: t[k] for k in ("optimisers_agree", "max_param_difference", "sparse_terms")}}
            for s, t in zip(seeds, trials, strict=True)
            if not t["converged"]
        ],
        "empirical_sd": float(est.std(ddof=1)),
        "mean_model_se": float(np.mean([t["se"] for t in trials])),
        "mean_estimate": float(est.mean()),
        "against_truth_json": _summary(est, low, high, truth),
        "seconds": round(time.perf_counter() - t0, 1),
    }


@pytest.mark.slow
def test_primary_analysis_over_synthetic_trials():
    n = 200
    res = recovery(n)
    print(res)
    assert res["all_converged"], res["not_converged"]
    assert res["mean_model_se"] == pytest.approx(res["empirical_sd"], rel=0.2)
    truth = res["against_truth_json"]
    # attenuated towards 1 (see the module docstring), never exaggerated or reversed
    assert res["mean_estimate"] < 0 and 0 < truth["bias"] < abs(truth["target"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("n_trials", nargs="?", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(recovery(args.n_trials, args.workers))
