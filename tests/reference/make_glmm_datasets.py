"""Regenerate the GLMM reference datasets (binomial rows) with cscvault's simulator.

Run from the repository root: `.venv/bin/python tests/reference/make_glmm_datasets.py`, then
`Rscript tests/reference/glmm_lme4.R tests/reference/data tests/reference/glmm_lme4_results.json`.
The committed CSVs are the inputs of the committed R results; regenerate both together.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from cscvault.analysis.simulate import SteppedWedgeSpec, simulate_stepped_wedge

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

_NULL_VARIANCE = SteppedWedgeSpec(
    n_clusters=8,
    n_periods=6,
    n_children=10_000,
    log_or=math.log(0.7),
    cluster_sd=0.0,
    covariates=("age_band",),
)

# name -> (spec, seed, random-effects structures to fit in R)
DATASETS: dict[str, tuple[SteppedWedgeSpec, int, list[str]]] = {
    # the trial's shape: 5 LAs, 6 periods, real sample size, three child covariates
    "glmm_a": (
        SteppedWedgeSpec(n_clusters=5, n_periods=6, n_children=27_000, log_or=math.log(0.85)),
        11,
        ["cluster"],
    ),
    # more clusters, a harmful effect, a larger cluster SD
    "glmm_b": (
        SteppedWedgeSpec(
            n_clusters=12,
            n_periods=5,
            n_children=8_000,
            log_or=math.log(1.4),
            cluster_sd=0.5,
            baseline_risk=0.2,
            covariates=("female",),
        ),
        22,
        ["cluster"],
    ),
    # no cluster variance at all; with this seed the ML estimate sits on the boundary sigma = 0 (singular)
    "glmm_c": (_NULL_VARIANCE, 34, ["cluster"]),
    # same design, another seed: a small positive estimate (0.065) just off the boundary
    "glmm_e": (_NULL_VARIANCE, 33, ["cluster"]),
    # cluster and cluster-period random effects (issue 6, item 1)
    "glmm_d": (
        SteppedWedgeSpec(
            n_clusters=6,
            n_periods=7,
            n_children=12_000,
            log_or=math.log(0.8),
            cluster_sd=0.3,
            cluster_period_sd=0.2,
            covariates=(),
            baseline_risk=0.15,
        ),
        44,
        ["cluster", "cluster-period"],
    ),
}


def main() -> None:
    DATA.mkdir(exist_ok=True)
    manifest = {}
    for name, (spec, seed, structures) in DATASETS.items():
        trial = simulate_stepped_wedge(spec, seed=seed)
        rows = trial.binomial()
        rows.to_csv(DATA / f"{name}.csv", index=False)
        manifest[name] = {
            "covariates": list(spec.covariates),
            "random_effects": structures,
            "truth": {k: trial.truth[k] for k in ("seed", "log_or", "cluster_sd", "cluster_period_sd")},
        }
    (DATA / "glmm_manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
