"""Generate the two committed synthetic datasets that fe_cr2_reference.R analyses (run once; seeded).

Usage: .venv/bin/python tests/reference/robust/make_data.py
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def stepped_wedge(rng, n_clusters, n_periods, covariate):
    rows = []
    cluster_effect = rng.normal(0, 0.3, n_clusters)
    for c in range(n_clusters):
        start = 1 + c * (n_periods - 1) // n_clusters  # every cluster treated by the last period
        for t in range(n_periods):
            treated = int(t >= start)
            for sex in ("F", "M") if covariate else ("all",):
                trials = int(rng.integers(20, 81))
                eta = -1.6 + 0.1 * t + cluster_effect[c] - 0.4 * treated + (0.3 if sex == "M" else 0.0)
                events = int(rng.binomial(trials, 1 / (1 + np.exp(-eta))))
                row = {"cluster": f"C{c + 1}", "period": t, "treatment": treated, "events": events, "trials": trials}
                if covariate:
                    row["sex"] = sex
                rows.append(row)
    return pd.DataFrame(rows)


if __name__ == "__main__":
    rng = np.random.default_rng(20261127)
    stepped_wedge(rng, 6, 5, covariate=True).to_csv(HERE / "cells_6x5_sex.csv", index=False)
    stepped_wedge(rng, 5, 6, covariate=False).to_csv(HERE / "cells_5x6.csv", index=False)
