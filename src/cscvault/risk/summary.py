"""The risk report: aggregates only, passed through the study's disclosure profile.

`assess` reads the key frame inside the vault, measures the current data and (on request) each candidate
generalisation with its effect on the trial's primary analysis, and returns a frozen `RiskReport`. The
per-LA counts go through `disclosure.apply_profile` (threshold, rounding, secondary suppression), and the
overall counts shown are that table's released "All" row. Per-record values are never returned or stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from cscvault.disclosure.check import apply_profile, released_records
from cscvault.disclosure.profiles import Profile, get_profile
from cscvault.disclosure.rules import round_to_base
from cscvault.errors import DataError
from cscvault.risk.keyframe import FIELD_COLUMNS, load_key_frame, population_weights, resolve_keys
from cscvault.risk.measures import HIGH_RISK, K_LEVELS, Measures, measure
from cscvault.risk.recode import CANDIDATES, Generalisation, apply_to_key_frame
from cscvault.study.model import Study

COUNT_COLUMNS = (
    "children",
    "sample_uniques",
    "below_k3",
    "below_k5",
    "high_risk",
    "special_uniques",
    "single_key_uniques",
)
THRESHOLDS = {
    "k_anonymity": "records in key combinations shared by fewer than k children, k = 2 (sample uniques), 3, 5",
    "individual_risk": "Benedetti-Franconi E(1/F | fk), population frame: DfE children in need per LA and year; "
    f"high risk at r >= {HIGH_RISK}",
    "special_unique": "SUDA score > 0: unique on a proper subset of the keys (an MSU of at most m-1 keys, "
    "scores (m-k)! per MSU of size k; Elliot et al.)",
    "l_diversity": "homogeneous: a combination shared by 2 or more children who all have the same value of "
    "the sensitive attribute (distinct l = 1)",
}


@dataclass(frozen=True)
class RiskLine:
    """The released measures of one version of the data (the current data, or one recoding)."""

    id: str
    label: str
    children: int | None
    combinations: int
    sample_uniques: int | None
    below_k3: int | None
    below_k5: int | None
    expected_reidentifications: float
    global_risk_pct: float
    max_individual_risk: float
    high_risk_records: int | None
    special_uniques: int | None
    single_key_uniques: int | None
    max_suda_score: float | None
    homogeneous: dict[str, int | None]


@dataclass(frozen=True)
class WhatIf:
    generalisation: str
    label: str
    risk: RiskLine
    estimate: float | None  # log odds ratio of the treatment, complete-case Laplace fit
    se: float | None
    estimate_change: float | None
    se_change_pct: float | None
    analysed: int | None


@dataclass(frozen=True)
class RiskReport:
    generated_at: str
    deliveries_sha256: str
    profile: dict[str, str]
    keys: tuple[str, ...]
    sensitive: tuple[str, ...]
    thresholds: dict[str, str]
    current: RiskLine
    per_la: tuple[dict[str, Any], ...]
    suppressed_cells: int
    what_if: tuple[WhatIf, ...] = ()
    primary_estimate: float | None = None
    primary_se: float | None = None
    primary_note: str | None = None  # why the primary model could not be re-fitted (a small vault), if so

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _released_line(
    m: Measures, id_: str, label: str, profile: Profile, study: Study
) -> tuple[RiskLine, list[dict[str, Any]], int]:
    names = {la.ons_code: la.name for la in study.local_authorities}
    table = m.per_la.copy()
    table["la"] = [names.get(str(c), "unknown LA") if pd.notna(c) else "unknown LA" for c in table["la"]]
    table = table.groupby("la", sort=True).sum().reset_index()
    count_cols = [c for c in (*COUNT_COLUMNS, *(f"homogeneous_{s}" for s in m.homogeneous)) if c in table.columns]
    total = {"la": "All", **{c: table[c].sum() for c in table.columns if c != "la"}}
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    table["expected_reidentifications"] = table["expected_reidentifications"].round(2)
    checked = apply_profile(
        table[["la", *count_cols]], profile, count_cols=count_cols, label_cols=["la"], name=f"risk_{id_}"
    )
    released = checked.released.copy()
    # Expected re-identifications are a sum of probabilities, shown only where the row's children count is.
    released["expected_reidentifications"] = [
        er if pd.notna(n) else None
        for er, n in zip(table["expected_reidentifications"], released["children"], strict=True)
    ]
    rows = released_records(released)
    all_row = rows[-1]

    def count(col: str) -> int | None:
        v = all_row.get(col)
        return None if v is None or pd.isna(v) else int(v)

    line = RiskLine(
        id=id_,
        label=label,
        children=count("children"),
        combinations=int(round_to_base(m.combinations, profile.round_base)),
        sample_uniques=count("sample_uniques"),
        below_k3=count("below_k3"),
        below_k5=count("below_k5"),
        expected_reidentifications=round(m.expected_reidentifications, 2),
        global_risk_pct=round(100 * m.global_risk, 3),
        max_individual_risk=round(m.max_individual_risk, 4),
        high_risk_records=count("high_risk"),
        special_uniques=count("special_uniques") if m.special_uniques is not None else None,
        single_key_uniques=count("single_key_uniques") if m.single_key_uniques is not None else None,
        max_suda_score=m.max_suda_score,
        homogeneous={s: count(f"homogeneous_{s}") for s in m.homogeneous},
    )
    return line, rows[:-1], checked.suppressed_count


def _sensitive(frame: pd.DataFrame, study: Study) -> dict[str, pd.Series]:
    out = {}
    for s in study.data_dictionary.sensitive:
        col = FIELD_COLUMNS.get(s.field)
        if col is not None:
            out[s.label.replace(" ", "_")] = frame[col].notna()
    return out


def assess(
    con: Any,
    study: Study,
    deliveries_sha256: str,
    keys: Sequence[str] | None = None,
    *,
    what_if: bool = False,
    with_suda: bool = True,
) -> RiskReport:
    fields = resolve_keys(study.data_dictionary, keys)
    columns = [FIELD_COLUMNS[f] for f in fields]
    frame = load_key_frame(con)
    weights = population_weights(frame)
    sensitive = _sensitive(frame, study)
    profile = get_profile(study.disclosure_profile)
    m = measure(frame, columns, weights, sensitive, frame["la_code"], with_suda=with_suda)
    current, per_la, suppressed = _released_line(m, "current", "the data as held", profile, study)
    lines: list[WhatIf] = []
    base_estimate = base_se = None
    note: str | None = None
    if what_if:
        from cscvault.risk.whatif import primary_effect

        try:
            base = primary_effect(con, study, None)
        except DataError as exc:
            # A vault too small for the model (e.g. a rank-deficient design) still gets the risk measures.
            base, note = None, exc.message
        base_estimate, base_se = (base[0], base[1]) if base else (None, None)
        for g in CANDIDATES:
            lines.append(_what_if(con, study, frame, columns, weights, sensitive, profile, g, base, with_suda))
    return RiskReport(
        generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        deliveries_sha256=deliveries_sha256,
        profile=profile.stamp,
        keys=tuple(fields),
        sensitive=tuple(sensitive),
        thresholds=THRESHOLDS,
        current=current,
        per_la=tuple(per_la),
        suppressed_cells=suppressed,
        what_if=tuple(lines),
        primary_estimate=base_estimate,
        primary_se=base_se,
        primary_note=note,
    )


def _what_if(
    con: Any,
    study: Study,
    frame: pd.DataFrame,
    columns: list[str],
    weights: Any,
    sensitive: dict[str, pd.Series],
    profile: Profile,
    g: Generalisation,
    base: tuple[float, float, int] | None,
    with_suda: bool,
) -> WhatIf:
    from cscvault.risk.whatif import primary_effect

    recoded = apply_to_key_frame(frame, g)
    m = measure(recoded, columns, weights, sensitive, recoded["la_code"], with_suda=with_suda)
    line, _, _ = _released_line(m, g.id, g.label, profile, study)
    try:
        fit = primary_effect(con, study, g) if base is not None else None
    except DataError:  # this recoding leaves the model unidentifiable: its risk measures still stand
        fit = None
    if fit is None or base is None:
        return WhatIf(g.id, g.label, line, None, None, None, None, None)
    est, se, n = fit
    return WhatIf(
        g.id,
        g.label,
        line,
        round(est, 4),
        round(se, 4),
        round(est - base[0], 4),
        round(100 * (se - base[1]) / base[1], 2),
        n,
    )


__all__ = ["K_LEVELS", "RiskLine", "RiskReport", "WhatIf", "assess"]
