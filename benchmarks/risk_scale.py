"""Re-identification risk at national scale: the whole `risk.measures.measure` (fk, Fk, Benedetti-Franconi
risk, k-anonymity, l-diversity, SUDA) on a 1,000,000-child key frame, with wall time, CPU time and load.

The key frame is drawn at random with the cardinalities of the default key set (150 LAs, 4 genders,
20 ethnicities, disability, asylum status, age 0-215 months, referral dates over 3 years), with the DfE-like
population weights of 1-20. Baseline in the same run: the frequency counts by a pandas groupby-transform
(what a straightforward implementation does); sdcMicro is not installed here (no r-cran-sdcmicro package and
CRAN unreachable), so its SUDA2 could not be the baseline.

    .venv/bin/python benchmarks/risk_scale.py [--children 1000000]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from cscvault.risk.frequencies import encode_keys, frequencies
from cscvault.risk.measures import measure

KEYS = ["la_code", "gender", "ethnicity", "disability", "uasc", "age_months", "referral_date"]


def frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "la_code": rng.integers(0, 150, n),
            "gender": rng.choice(4, n, p=[0.49, 0.49, 0.01, 0.01]),
            "ethnicity": rng.choice(20, n, p=np.r_[0.6, np.full(19, 0.4 / 19)]),
            "disability": rng.random(n) < 0.08,
            "uasc": rng.random(n) < 0.02,
            "age_months": rng.integers(-6, 216, n),
            "referral_date": rng.integers(0, 1096, n),
            "cla_start": np.where(rng.random(n) < 0.1, 1.0, np.nan),
        }
    )


def timed(label: str, fn: object) -> float:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()  # type: ignore[operator]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:<46} wall {wall:7.2f} s  cpu {cpu:7.2f} s  load {os.getloadavg()[0]:.2f}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--children", type=int, default=1_000_000)
    n = parser.parse_args().children
    data = frame(n)
    weights = np.random.default_rng(1).uniform(1, 20, n)
    print(f"children {n:,}; keys {len(KEYS)}; cores {os.cpu_count()}; load before {os.getloadavg()}")
    base = timed(
        "baseline: fk, Fk by pandas groupby-transform",
        lambda: data.assign(w=weights).groupby(KEYS, dropna=False)["w"].transform("size"),
    )
    ours = timed("ours: fk, Fk (dense codes, bincount)", lambda: frequencies(encode_keys(data, KEYS), weights))
    print(f"ratio baseline/ours (frequencies): {base / ours:.1f}")
    timed(
        "ours: everything incl. SUDA and l-diversity",
        lambda: measure(data, KEYS, weights, {"care": data["cla_start"].notna()}, data["la_code"]),
    )


if __name__ == "__main__":
    main()
