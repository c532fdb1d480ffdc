"""Recompute the not-yet-treated mpdta reference used in test_did_mpdta_reference.py (run by hand).

The R `did` package is not installable here (no CRAN), so its Python port csdid 0.4.3 is the oracle.
It is not a cscvault dependency: install it outside the project environment, e.g.
    .venv/bin/pip install --target /tmp/oracle --no-deps csdid==0.4.3 drdid==1.1.7 joblib cloudpickle
    PYTHONPATH=/tmp/oracle .venv/bin/python tests/unit/analysis/did/make_notyettreated_reference.py tests/data/did-mpdta/mpdta.csv
"""

from __future__ import annotations

import contextlib
import io
import sys

import numpy as np
import pandas as pd
from csdid.att_gt import ATTgt  # type: ignore[import-not-found]


def main(path: str) -> None:
    data = pd.read_csv(path)
    data.columns = [c.replace(".", "_") for c in data.columns]
    fit = ATTgt(
        yname="lemp", gname="first_treat", idname="countyreal", tname="year", data=data, control_group="notyettreated"
    ).fit(est_method="reg", bstrap=False)
    print("att(g,t)", np.round(np.asarray(fit.results["att"], dtype=float), 8).tolist())
    print("se(g,t)", np.round(np.asarray(fit.results["se"], dtype=float), 8).tolist())
    for kind in ("simple", "dynamic", "group", "calendar"):
        with contextlib.redirect_stdout(io.StringIO()):
            fit.aggte(typec=kind, bstrap=False)
        agg = fit.atte
        print(kind, round(float(agg["overall_att"]), 8), round(float(agg["overall_se"]), 8))
        if kind != "simple":
            print("  parts", np.round(np.asarray(agg["att_egt"], dtype=float), 8).tolist())
            print("  se", np.round(np.asarray(agg["se_egt"], dtype=float), 8).tolist())


if __name__ == "__main__":
    main(sys.argv[1])
