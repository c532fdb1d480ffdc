"""Regenerate the exposure-time reference datasets (binomial rows) from cscvault's stepped-wedge simulator.

Run from the repository root: `.venv/bin/python tests/reference/exposure_time_make_datasets.py`, then
`Rscript tests/reference/exposure_time_lme4.R tests/reference/data tests/reference/exposure_time_lme4_results.json`.
The committed CSVs are the inputs of the committed R results; regenerate both together.
"""

from __future__ import annotations

import json
from pathlib import Path

from cscvault.analysis.simulate import SteppedWedgeSpec, simulate_stepped_wedge

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

# name -> (spec, seed, random-effect structures R fits)
DATASETS: dict[str, tuple[SteppedWedgeSpec, int, list[str]]] = {
    # the trial's shape (5 LAs, baseline + 5 wedges, 27,000 children) with an effect that builds up
    "exposure_a": (
        SteppedWedgeSpec(
            n_clusters=5,
            n_periods=6,
            n_children=27_000,
            covariates=("female", "prev_cpp"),
            exposure_log_ors=(-0.05, -0.15, -0.25, -0.35, -0.45),
        ),
        61,
        ["cluster"],
    ),
    # more clusters and periods, an effect that peaks then wanes, and a cluster-period random effect
    "exposure_b": (
        SteppedWedgeSpec(
            n_clusters=8,
            n_periods=7,
            n_children=16_000,
            covariates=(),
            cluster_sd=0.3,
            cluster_period_sd=0.15,
            baseline_risk=0.15,
            exposure_log_ors=(-0.1, -0.4, -0.5, -0.3, -0.2, -0.1),
        ),
        62,
        ["cluster", "cluster-period"],
    ),
}


def main() -> None:
    DATA.mkdir(exist_ok=True)
    manifest = {}
    for name, (spec, seed, structures) in DATASETS.items():
        trial = simulate_stepped_wedge(spec, seed=seed)
        trial.binomial().to_csv(DATA / f"{name}.csv", index=False)
        truth = trial.truth
        manifest[name] = {
            "covariates": list(spec.covariates),
            "random_effects": structures,
            "truth": {
                "seed": seed,
                "exposure_log_ors": truth["exposure_log_ors"],
                "time_averaged_log_or": truth["time_averaged_log_or"],
                "cluster_sd": truth["cluster_sd"],
                "cluster_period_sd": truth["cluster_period_sd"],
                "step_start": truth["step_start"],
            },
        }
    (DATA / "exposure_manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
