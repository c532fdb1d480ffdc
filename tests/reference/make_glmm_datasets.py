"""Regenerate the GLMM reference datasets (binomial rows): cscvault's model simulator and `cscvault synth`.

Run from the repository root: `.venv/bin/python tests/reference/make_glmm_datasets.py`, then
`Rscript tests/reference/glmm_lme4.R tests/reference/data tests/reference/glmm_lme4_results.json`.
The committed CSVs are the inputs of the committed R results; regenerate both together.

Datasets `glmm_*` come from the Hussey-Hughes simulator (`cscvault.analysis.simulate`). Datasets `synth_*`
come from `cscvault synth` (the full synthetic LA returns' generator): its truth_sample.csv, the true
primary sample one row per child, is turned into the primary model's covariates (age band, sex, disability,
UASC, previous CPPs, ethnicity group as 0/1 columns) and summed to binomial rows per LA, period and
covariate pattern. `--la-spread 0` gives a dataset with no LA variance at all.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from cscvault.analysis.simulate import SteppedWedgeSpec, simulate_stepped_wedge
from cscvault.study import load_study
from cscvault.synth import codes
from cscvault.synth.generate import generate

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


# name -> (seed, true odds ratio, LA spread, random-effects structures); real sample size (about 28,000)
SYNTH_DATASETS: dict[str, tuple[int, float, float, list[str]]] = {
    "synth_a": (101, 0.85, 1.0, ["cluster", "cluster-period"]),  # the trial as planned
    "synth_b": (202, 0.6, 2.0, ["cluster"]),  # a larger effect, LAs twice as different
    "synth_c": (303, 1.0, 0.0, ["cluster"]),  # no effect and no LA variance at all
}
SYNTH_COVARIATES = [
    "age_unborn",
    "age_0",
    "age_5_9",
    "age_10_12",
    "female",
    "disabled",
    "uasc",
    "prev_cpp",
    "eth_mixed",
    "eth_asian",
    "eth_black",
    "eth_other",
]
_GROUP_OF_CODE = {code: group for code, group, _share in codes.ETHNICITY}


def synth_rows(sample: pd.DataFrame, period_names: list[str]) -> pd.DataFrame:
    """The truth sample as binomial rows of the primary model's covariates (1-4 year olds, male, White:
    the reference levels)."""
    age = sample["age_years"]
    group = sample["ethnicity"].map(_GROUP_OF_CODE)
    child = pd.DataFrame(
        {
            "cluster": sample["la_code"],
            "period": sample["period"].map({name: k + 1 for k, name in enumerate(period_names)}),
            "treatment": sample["treated"],
            "age_unborn": (age < 0).astype(int),
            "age_0": (age == 0).astype(int),
            "age_5_9": age.between(5, 9).astype(int),
            "age_10_12": age.between(10, 12).astype(int),
            "female": (sample["sex"] == "F").astype(int),
            "disabled": sample["disabled"],
            "uasc": sample["uasc"],
            "prev_cpp": np.minimum(sample["previous_cpps"], 3),
            "eth_mixed": (group == 1).astype(int),
            "eth_asian": (group == 2).astype(int),
            "eth_black": (group == 3).astype(int),
            "eth_other": (group == 4).astype(int),
            "events": sample["cared_18m"],
        }
    )
    keys = ["cluster", "period", "treatment", *SYNTH_COVARIATES]
    rows = child.groupby(keys, as_index=False).agg(events=("events", "sum"), trials=("events", "size"))
    return rows.sort_values(keys, kind="stable").reset_index(drop=True)


def make_synth(name: str, seed: int, effect_or: float, la_spread: float) -> tuple[pd.DataFrame, dict[str, object]]:
    periods = [p.name for p in load_study().periods]
    with tempfile.TemporaryDirectory() as tmp:
        summary = generate(
            Path(tmp) / name, seed=seed, effect_or=effect_or, la_spread=la_spread, formats="903", clean=True
        )
        truth = json.loads(summary.truth_path.read_text())
        sample = pd.read_csv(summary.truth_path.with_name("truth_sample.csv"))
    care = truth["true_parameters"]["care_model"]
    return synth_rows(sample, periods), {
        "generator": "cscvault synth --clean",
        "seed": seed,
        "log_or": math.log(effect_or),
        "cluster_sd": care["la_random_effect_sd"],
        "la_spread": la_spread,
        "cluster_period_sd": 0.0,
        "note": "log_or is conditional on the latent risk the model cannot see (see truth.json)",
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
    for name, (seed, effect_or, spread, structures) in SYNTH_DATASETS.items():
        rows, truth = make_synth(name, seed, effect_or, spread)
        rows.to_csv(DATA / f"{name}.csv", index=False)
        manifest[name] = {"covariates": SYNTH_COVARIATES, "random_effects": structures, "truth": truth}
    (DATA / "glmm_manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
