"""Recovery of truth by the primary analysis over synthetic trials made by `cscvault synth`'s generator.

Issue 5's validation (`make validate`, not `make test`): each trial is the synthetic generator at the
real sample size (about 28,000 children in the primary sample) with a new seed; its children go through
the product's own primary-sample code (`primary_sample_from_frames`, fed in memory by
`cscvault.synth.frames`) and the plan's primary model (complete case, Laplace). Bias of the log odds
ratio and 95% CI coverage are measured against two targets:

* truth.json's `care_18m_odds_ratio`: the per-referral odds ratio the generator applies. The primary
  analysis cannot recover it exactly, by design of the trial, not of the estimator: about a fifth of
  the care starts within 18 months of a child's first referral follow a later re-referral, and a child
  first referred shortly before go-live is re-referred under Family Safeguarding, so the control arm is
  partly treated (the intention-to-treat effect is diluted). Non-collapsibility over the latent risk
  the model cannot see adds a little more.
* the primary analysis's own estimand: the same model fitted to one synthetic population ten times the
  real size (the limit the estimator converges to under this design). Unbiasedness and coverage of the
  estimator are judged against it.

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
ESTIMAND_SEED = 999_999
ESTIMAND_SCALE = 10


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


def estimand() -> float:
    sample, _truth = simulate(ESTIMAND_SEED, scale=ESTIMAND_SCALE)
    return fit(sample)["estimate"]


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
        limit = pool.submit(estimand)
        trials = []
        for k, r in enumerate(pool.map(one_trial, seeds), start=1):
            trials.append(r)
            if k % 10 == 0 or k == n_trials:
                print(f"  {k}/{n_trials} trials, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        target = limit.result()
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
        "against_truth_json": _summary(est, low, high, truth),
        "against_estimand": _summary(est, low, high, target),
        "dilution": target / truth,
        "seconds": round(time.perf_counter() - t0, 1),
    }


@pytest.mark.slow
def test_primary_analysis_recovers_its_estimand():
    n = 200
    res = recovery(n)
    print(res)
    assert res["all_converged"]
    est = res["against_estimand"]
    # Goals of issue 5: |bias| < 0.02 and coverage 93-97%. With 200 trials the Monte Carlo error of
    # coverage is 1.5 points, so the test accepts the 99% band around 95% (91-99%) and allows the bias
    # its Monte Carlo error.
    assert abs(est["bias"]) < 0.02 + 2.58 * est["bias_mc_se"]
    assert 0.95 - 2.58 * math.sqrt(0.95 * 0.05 / n) <= est["coverage"] <= 0.95 + 2.58 * math.sqrt(0.95 * 0.05 / n)
    assert res["mean_model_se"] == pytest.approx(res["empirical_sd"], rel=0.2)
    # the design's dilution: the analysis targets a weaker effect than the per-referral truth, not a stronger one
    assert 0.5 < res["dilution"] <= 1.05


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("n_trials", nargs="?", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(recovery(args.n_trials, args.workers))
