"""Every risk measure of one key frame, overall and per local authority, as counts and rates.

`measure` holds per-record arrays only in its local variables; what it returns is aggregates: counts of
records and combinations, sums of risks, the largest risk and SUDA score. The thresholds are stated here:
k-anonymity at k = 2, 3, 5; a special unique is a record with a SUDA score above 0 (unique on a proper subset
of the keys); a homogeneous group is a key combination shared by at least two children who all have the same
value of a sensitive attribute (distinct l-diversity 1: the attribute is disclosed without re-identifying).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cscvault.risk.frequencies import FloatArray, combine, distinct_l, encode_keys, frequencies
from cscvault.risk.individual import global_risk, individual_risk
from cscvault.risk.suda import suda_scores

K_LEVELS = (2, 3, 5)
SPECIAL_UNIQUE_THRESHOLD = 0.0  # SUDA score strictly above this: unique on a proper subset of the keys
HIGH_RISK = 0.5  # individual risk at or above which a record is counted as high risk


@dataclass(frozen=True)
class Measures:
    keys: tuple[str, ...]
    records: int
    combinations: int
    sample_uniques: int
    below_k: dict[int, int]
    expected_reidentifications: float
    global_risk: float
    max_individual_risk: float
    high_risk_records: int
    special_uniques: int | None
    single_key_uniques: int | None  # records with an MSU of one key
    max_suda_score: float | None
    homogeneous: dict[str, int]  # sensitive label -> records in homogeneous groups
    per_la: pd.DataFrame  # one row per LA: counts and expected re-identifications


def measure(
    frame: pd.DataFrame,
    key_columns: Sequence[str],
    weights: FloatArray | None,
    sensitive: Mapping[str, pd.Series],
    la: pd.Series,
    *,
    with_suda: bool = True,
    max_msu_size: int | None = None,
) -> Measures:
    codes = encode_keys(frame, key_columns)
    freq = frequencies(codes, weights)
    risk = individual_risk(freq.fk, freq.Fk)
    g = global_risk(risk)
    exact_codes = codes + 1  # combinations counted with missing as a value
    _, combos = combine(exact_codes)
    cols: dict[str, np.ndarray] = {
        "children": np.ones(len(frame), dtype=np.int64),
        "sample_uniques": (freq.fk == 1).astype(np.int64),
    }
    for k in K_LEVELS[1:]:
        cols[f"below_k{k}"] = (freq.fk < k).astype(np.int64)
    cols["high_risk"] = (risk >= HIGH_RISK).astype(np.int64)
    special = single = None
    max_score = None
    if with_suda:
        suda = suda_scores(codes, max_msu_size)
        cols["special_uniques"] = (suda.score > SPECIAL_UNIQUE_THRESHOLD).astype(np.int64)
        special = int(cols["special_uniques"].sum())
        cols["single_key_uniques"] = (suda.min_msu_size == 1).astype(np.int64)
        single = int(cols["single_key_uniques"].sum())
        max_score = float(suda.score.max()) if len(frame) else 0.0
    homogeneous: dict[str, int] = {}
    for label, values in sensitive.items():
        ell = distinct_l(codes, values.to_numpy())
        flag = (ell == 1) & (freq.fk >= 2)
        cols[f"homogeneous_{label}"] = flag.astype(np.int64)
        homogeneous[label] = int(flag.sum())
    cols["expected_reidentifications"] = risk
    per = pd.DataFrame(cols)
    per["la"] = la.to_numpy()
    per_la = per.groupby("la", dropna=False, sort=True).sum().reset_index()
    return Measures(
        keys=tuple(key_columns),
        records=len(frame),
        combinations=combos,
        sample_uniques=int(cols["sample_uniques"].sum()),
        below_k={2: int(cols["sample_uniques"].sum()), **{k: int(cols[f"below_k{k}"].sum()) for k in K_LEVELS[1:]}},
        expected_reidentifications=g.expected_reidentifications,
        global_risk=g.global_risk,
        max_individual_risk=float(risk.max()) if len(risk) else 0.0,
        high_risk_records=int(cols["high_risk"].sum()),
        special_uniques=special,
        single_key_uniques=single,
        max_suda_score=max_score,
        homogeneous=homogeneous,
        per_la=per_la,
    )
