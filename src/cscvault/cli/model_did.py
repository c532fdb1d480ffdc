"""Command functions: `cscvault model did FILE.csv ...` and the (temporary) `cscvault did-plan --out DIR`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cscvault import api
from cscvault.cli.output import print_json

CONTROL_HELP = "Comparison units: nevertreated (group 0) or notyettreated (also units treated later)."


def did(
    file: Annotated[Path, typer.Argument(help="Long panel CSV: one row per unit and period.")],
    outcome: Annotated[str, typer.Option("--outcome", help="Outcome column (numeric).")],
    time: Annotated[str, typer.Option("--time", help="Period column (whole numbers, e.g. years).")],
    unit: Annotated[str, typer.Option("--unit", help="Unit id column.")],
    group: Annotated[str, typer.Option("--group", help="First treated period column; 0 or empty = never treated.")],
    control: Annotated[str, typer.Option("--control", help=CONTROL_HELP)] = "nevertreated",
    cluster: Annotated[
        str | None, typer.Option("--cluster", help="Cluster column for the bootstrap (default: the unit).")
    ] = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Multiplier-bootstrap draws; 0 = analytic standard errors.")
    ] = 999,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap draws.")] = 20210201,
    alpha: Annotated[float, typer.Option("--alpha", help="1 - confidence level.")] = 0.05,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document and nothing else.")] = False,
) -> None:
    """Callaway-Sant'Anna staggered DiD: ATT(g,t) and simple, dynamic, group and calendar aggregations."""
    data = api.read_model_csv(file)
    result, aggs = api.did_estimate(
        data,
        outcome=outcome,
        time=time,
        unit=unit,
        group=group,
        control=control,
        cluster=cluster,
        bootstrap_iterations=bootstrap,
        seed=seed,
        alpha=alpha,
    )
    doc = api.did_to_json(result, aggs)
    if json_out:
        print_json(doc)
        return
    typer.echo(f"{doc['estimator']}")
    typer.echo(
        f"comparison: {result.control}; units {result.panel.n}; periods {result.panel.times[0]}-"
        f"{result.panel.times[-1]}; inference: {doc['inference']}"
    )
    if result.panel.dropped_already_treated:
        typer.echo(f"dropped {len(result.panel.dropped_already_treated)} unit(s) treated in the first period")
    level = f"{100 * (1 - alpha):g}% CI"
    header = f"{'':<22}{'estimate':>11}{'se':>10}{level:>24}{'p':>9}"
    typer.echo("\ngroup-time effects")
    typer.echo(header)
    for c in result.cells:
        typer.echo(_line(c.label, c.estimate, c.se, c.ci_low, c.ci_high, c.p_value))
    if result.pretest_p is not None:
        typer.echo(
            f"pre-test of parallel trends: Wald chi2({result.pretest_df}) = {result.pretest_stat:.4f}, "
            f"p = {result.pretest_p:.5f}"
        )
    for kind, agg in aggs.items():
        typer.echo(f"\naggregation: {kind}")
        typer.echo(header)
        o = agg.overall
        typer.echo(_line("overall", o.estimate, o.se, o.ci_low, o.ci_high, o.p_value))
        for p in agg.parts:
            typer.echo(_line(p.label, p.estimate, p.se, p.ci_low, p.ci_high, p.p_value))
        if kind == "dynamic" and bootstrap > 0:
            typer.echo(f"(event-time intervals are simultaneous bands, critical value {agg.critical_value:.3f})")


def _line(label: str, est: float, se: float, lo: float, hi: float, p: float) -> str:
    ci = f"[{lo:.4f}, {hi:.4f}]"
    return f"{label:<22}{est:>11.4f}{se:>10.4f}{ci:>24}{p:>9.4f}"


def did_plan(
    out: Annotated[Path, typer.Option("--out", help="Folder for results.json and did_report.html.")],
    study: Annotated[Path | None, typer.Option("--study", help="A study.toml (default: the shipped study).")] = None,
    release: Annotated[
        Path | None,
        typer.Option("--release", help="A newer DfE release (panel CSV or folder of published CSVs)."),
    ] = None,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Multiplier-bootstrap draws.")] = 999,
    placebo_draws: Annotated[
        int, typer.Option("--placebo-draws", help="Placebo-in-space draws for permutation inference.")
    ] = 499,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document and nothing else.")] = False,
) -> None:
    """Supplementary staggered DiD on published DfE statistics (no vault needed)."""

    config = api.DidPlanConfig(bootstrap_iterations=bootstrap, placebo_draws=placebo_draws, newer_release=release)
    summary = api.run_did_plan(out, api.study(study), config=config)
    if json_out:
        print_json(summary)
        return
    typer.echo(f"wrote {summary['results']} ({summary['rows']} rows) and {summary['report']}")
    for row in summary["headline"]:
        lo, hi = row["ci_low"], row["ci_high"]
        ci = f"[{lo:.2f}, {hi:.2f}]" if lo is not None and hi is not None else ""
        p = row["p_value"]
        p_text = "" if p is None else ("p<0.001" if p < 0.001 else f"p={p:.3f}")
        typer.echo(f"{row['outcome']:<16}{row['estimate']:>8.2f} {ci:<18} {p_text:<8} {row['model']}")
