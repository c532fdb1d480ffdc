"""The supplementary DiD plan on published DfE statistics: estimates, checks, results.json, report.

`run_did_plan(out_dir, study)` needs no vault: the panel is public, aggregate data shipped with the
package (or a newer DfE release laid over it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cscvault.analysis.did.diagnostics import (
    PlaceboInSpace,
    PlaceboInTime,
    placebo_in_space,
    placebo_in_time,
    pre_stat,
)
from cscvault.analysis.did.estimator import (
    AGGREGATIONS,
    CONTROLS,
    Aggregate,
    DidResult,
    aggregate,
    att_gt,
    json_safe,
    make_panel,
)
from cscvault.analysis.did.loader import ATTRIBUTION, OUTCOMES, Outcome, load_panel
from cscvault.analysis.did.pool import AnalysisPanel, Pool, analysis_panel, build_pool, with_first_full_year
from cscvault.analysis.did.synthetic_control import SyntheticControl, synthetic_control
from cscvault.errors import UsageError
from cscvault.study.model import Study

RESULTS_FILE = "results.json"
REPORT_FILE = "did_report.html"
ANALYSIS = "did_supplementary"


@dataclass(frozen=True)
class DidPlanConfig:
    """Settings of the plan; the defaults are the pre-specified ones."""

    outcomes: tuple[str, ...] = tuple(o.id for o in OUTCOMES)
    bootstrap_iterations: int = 999
    seed: int = 20200901
    alpha: float = 0.05
    placebo_draws: int = 499  # placebo-in-space assignments for permutation inference
    placebo_shifts: tuple[int, ...] = (5, 6)  # placebo-in-time: go-live moved this many years earlier
    placebo_last_year: int = 2019  # ... keeping only years up to this one (all before any go-live)
    placebo_time_draws: int = 199
    synthetic_placebos: bool = True
    newer_release: Path | None = None

    def __post_init__(self) -> None:
        if self.bootstrap_iterations < 0 or self.placebo_draws < 0 or self.placebo_time_draws < 0:
            raise UsageError("bootstrap and placebo counts must be >= 0")


@dataclass
class OutcomeResults:
    outcome: Outcome
    panel: AnalysisPanel
    did: dict[str, DidResult] = field(default_factory=dict)
    aggregates: dict[str, dict[str, Aggregate]] = field(default_factory=dict)
    space: PlaceboInSpace | None = None
    placebos_time: list[PlaceboInTime] = field(default_factory=list)
    synthetic: list[SyntheticControl] = field(default_factory=list)
    comparison_mean: dict[int, float] = field(default_factory=dict)
    # Sensitivity: treated from the first full DfE year after go-live (simple ATT, bootstrap + permutation).
    full_year: Aggregate | None = None
    full_year_space: PlaceboInSpace | None = None


def estimate_outcome(panel_df: Any, pool: Pool, outcome: Outcome, config: DidPlanConfig) -> OutcomeResults:
    ap = analysis_panel(panel_df, pool, outcome)
    res = OutcomeResults(outcome, ap)
    panel = make_panel(ap.data, outcome="y", time="year", unit="la_code", group="group")
    for control in CONTROLS:
        r = att_gt(
            panel,
            control=control,
            bootstrap_iterations=config.bootstrap_iterations,
            seed=config.seed,
            alpha=config.alpha,
        )
        res.did[control] = r
        res.aggregates[control] = {k: aggregate(r, k) for k in AGGREGATIONS}
    if config.placebo_draws > 0:
        res.space = placebo_in_space(panel, draws=config.placebo_draws, seed=config.seed)
    for shift in config.placebo_shifts:
        res.placebos_time.append(
            placebo_in_time(
                ap.data,
                shift=shift,
                last_year=config.placebo_last_year,
                bootstrap_iterations=config.bootstrap_iterations,
                seed=config.seed,
                space_draws=config.placebo_time_draws,
            )
        )
    wide = ap.data.pivot(index="la_code", columns="year", values="y")
    donors = {c: wide.loc[c].to_numpy(dtype=float) for c in wide.index if c in pool.comparison}
    for t in pool.treated:
        res.synthetic.append(
            synthetic_control(
                t.name,
                wide.loc[t.dfe_code].to_numpy(dtype=float),
                donors,
                ap.years,
                t.first_year,
                placebos=config.synthetic_placebos,
            )
        )
    late = with_first_full_year(pool)
    late_panel = analysis_panel(panel_df, late, outcome, years=(ap.years[0], ap.years[-1]))
    lp = make_panel(late_panel.data, outcome="y", time="year", unit="la_code", group="group")
    late_res = att_gt(lp, bootstrap_iterations=config.bootstrap_iterations, seed=config.seed, alpha=config.alpha)
    res.full_year = aggregate(late_res, "simple")
    if config.placebo_time_draws > 0:
        res.full_year_space = placebo_in_space(lp, draws=config.placebo_time_draws, seed=config.seed)
    comp = ap.data[ap.data["group"] == 0]
    res.comparison_mean = {int(k): float(v) for k, v in comp.groupby("year")["y"].mean().items()}
    return res


Renderer = Callable[[list[OutcomeResults], Pool, DidPlanConfig], str]


def run_did_plan(
    out_dir: str | Path, study: Study, *, render: Renderer, config: DidPlanConfig | None = None
) -> dict[str, Any]:
    """Run the supplementary DiD, write results.json and did_report.html into `out_dir`, return a summary.
    `render` writes the report (`cscvault.report.did.render_document`: the report layer sits above this
    one, so the caller passes it; `cscvault.api.run_did_plan` does)."""
    config = config or DidPlanConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    panel_df = load_panel(config.newer_release)
    pool = build_pool(panel_df, study)
    outcomes = [o for o in OUTCOMES if o.id in config.outcomes]
    unknown = set(config.outcomes) - {o.id for o in OUTCOMES}
    if unknown:
        raise UsageError(f"unknown outcome(s): {', '.join(sorted(unknown))}")
    results = [estimate_outcome(panel_df, pool, o, config) for o in outcomes]
    rows = [row for r in results for row in result_rows(r, config)]
    document = {
        "analysis": ANALYSIS,
        "study": study.id,
        "data": {
            "source": "DfE LA statistics: children looked after; characteristics of children in need",
            "licence": "Open Government Licence v3.0",
            "attribution": ATTRIBUTION,
            "newer_release": str(config.newer_release) if config.newer_release else None,
        },
        "treated": [
            {
                "la": t.name,
                "dfe_code": t.dfe_code,
                "go_live": t.go_live.isoformat(),
                "first_year": t.first_year,
            }
            for t in pool.treated
        ],
        "excluded": [{"la": e.name, "dfe_code": e.dfe_code, "reason": e.reason} for e in pool.excluded],
        "n_comparison_pool": len(pool.comparison),
        "settings": {
            "bootstrap_iterations": config.bootstrap_iterations,
            "seed": config.seed,
            "alpha": config.alpha,
            "placebo_draws": config.placebo_draws,
            "placebo_shifts": list(config.placebo_shifts),
            "placebo_last_year": config.placebo_last_year,
        },
        "rows": rows,
    }
    (out / RESULTS_FILE).write_text(json.dumps(json_safe(document), indent=2) + "\n", encoding="utf-8")
    (out / REPORT_FILE).write_text(render(results, pool, config), encoding="utf-8")
    return {
        "results": str(out / RESULTS_FILE),
        "report": str(out / REPORT_FILE),
        "rows": len(rows),
        "headline": [json_safe(r) for r in rows if _is_headline(r)],
    }


def _is_headline(row: dict[str, Any]) -> bool:
    """The main estimates: simple ATT, both comparison groups and the permutation version."""
    model = str(row["model"])
    return row["term"] == "ATT (simple)" and model.startswith("CS-DiD") and "first full" not in model


def _row(
    outcome: Outcome,
    sample: str,
    model: str,
    term: str,
    estimate: float,
    se: float | None,
    ci: tuple[float, float] | None,
    p: float | None,
    n: int,
) -> dict[str, Any]:
    return {
        "analysis": ANALYSIS,
        "outcome": outcome.id,
        "sample": sample,
        "model": model,
        "term": term,
        "estimate": estimate,
        "se": se,
        "ci_low": ci[0] if ci else None,
        "ci_high": ci[1] if ci else None,
        "p_value": p,
        "n": n,
    }


def sample_label(r: OutcomeResults) -> str:
    years = r.panel.years
    n_las = r.panel.data["la_code"].nunique()
    return f"LA-years {years[0]}-{years[-1]}; 5 study LAs and {n_las - 5} comparison LAs"


def result_rows(r: OutcomeResults, config: DidPlanConfig) -> list[dict[str, Any]]:
    o = r.outcome
    sample = sample_label(r)
    n = int(r.panel.data["la_code"].nunique())
    rows: list[dict[str, Any]] = []
    for control, aggs in r.aggregates.items():
        model = f"CS-DiD, {control} comparison, cluster (LA) multiplier bootstrap"
        for kind, agg in aggs.items():
            e = agg.overall
            rows.append(_row(o, sample, model, f"ATT ({kind})", e.estimate, e.se, (e.ci_low, e.ci_high), e.p_value, n))
            for part in agg.parts:
                rows.append(
                    _row(
                        o,
                        sample,
                        model,
                        f"{kind} {part.label}",
                        part.estimate,
                        part.se,
                        (part.ci_low, part.ci_high),
                        part.p_value,
                        n,
                    )
                )
        did = r.did[control]
        for c in did.cells:
            rows.append(_row(o, sample, model, c.label, c.estimate, c.se, (c.ci_low, c.ci_high), c.p_value, n))
        rows.append(
            _row(
                o,
                sample,
                model,
                f"pre-trend Wald chi2({did.pretest_df}) (analytic)",
                did.pretest_stat or math.nan,
                None,
                None,
                did.pretest_p,
                n,
            )
        )
    if r.space is not None:
        sp = r.space
        model = f"CS-DiD, nevertreated comparison, placebo-in-space permutation ({sp.draws} draws)"
        simple = r.aggregates["nevertreated"]["simple"].overall.estimate
        rows.append(
            _row(
                o,
                sample,
                model,
                "ATT (simple)",
                simple,
                float(np.std(sp.overall, ddof=1)),
                sp.interval(simple, config.alpha),
                sp.p_value(simple),
                n,
            )
        )
        dyn = r.aggregates["nevertreated"]["dynamic"]
        for part in dyn.parts:
            assert part.event_time is not None
            e_time = part.event_time
            rows.append(
                _row(
                    o,
                    sample,
                    model,
                    f"dynamic e={e_time}",
                    part.estimate,
                    float(np.std(sp.dynamic[e_time], ddof=1)),
                    sp.band(e_time, part.estimate, config.alpha),
                    None,
                    n,
                )
            )
        observed = pre_stat(dyn)
        rows.append(
            _row(
                o,
                sample,
                model,
                "pre-trend: sum of squared pre-period event-study effects",
                observed,
                None,
                None,
                sp.pretrend_p(observed),
                n,
            )
        )
    if r.full_year is not None:
        model = "CS-DiD, nevertreated comparison, treated from the first full DfE year after go-live"
        e = r.full_year.overall
        rows.append(_row(o, sample, model + ", bootstrap", "ATT (simple)", e.estimate, e.se,
                         (e.ci_low, e.ci_high), e.p_value, n))  # fmt: skip
        if r.full_year_space is not None:
            sp = r.full_year_space
            rows.append(_row(o, sample, model + f", permutation ({sp.draws} draws)", "ATT (simple)", e.estimate,
                             float(np.std(sp.overall, ddof=1)), sp.interval(e.estimate, config.alpha),
                             sp.p_value(e.estimate), n))  # fmt: skip
    for pt in r.placebos_time:
        model = (
            f"placebo in time: go-live {pt.shift} years earlier (fake years "
            f"{', '.join(map(str, pt.fake_groups))}), data to {pt.last_year}, nevertreated"
        )
        e = pt.aggregates["simple"].overall
        rows.append(
            _row(
                o,
                sample,
                model + ", bootstrap",
                "ATT (simple)",
                e.estimate,
                e.se,
                (e.ci_low, e.ci_high),
                e.p_value,
                n,
            )
        )
        if pt.space is not None:
            rows.append(
                _row(
                    o,
                    sample,
                    model + f", permutation ({pt.space.draws} draws)",
                    "ATT (simple)",
                    e.estimate,
                    float(np.std(pt.space.overall, ddof=1)),
                    pt.space.interval(e.estimate, config.alpha),
                    pt.space.p_value(e.estimate),
                    n,
                )
            )
    for sc in r.synthetic:
        model = "synthetic control (pre-period outcome path), placebo-in-space ratio test"
        rows.append(
            _row(
                o,
                sample,
                model,
                f"{sc.unit}: mean post-period gap",
                sc.effect,
                None,
                None,
                sc.p_value if config.synthetic_placebos else None,
                len(sc.placebo_ratios) + 1,
            )
        )
        rows.append(
            _row(
                o,
                sample,
                model,
                f"{sc.unit}: pre-period RMSPE",
                sc.pre_rmspe,
                None,
                None,
                None,
                len(sc.placebo_ratios) + 1,
            )
        )
    return rows
