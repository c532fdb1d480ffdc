"""`cscvault design power|null-sim`: properties of the study's design, no vault needed (thin CLI)."""

from __future__ import annotations

from typing import Annotated

import typer

from cscvault import api
from cscvault.cli.options import StudyOption
from cscvault.cli.output import print_json, progress_bar

app = typer.Typer(no_args_is_help=True, help="Power and type I error of the study's stepped-wedge design.")


@app.command("power")
def power(
    study: StudyOption = None,
    children: Annotated[int, typer.Option("--children", help="Children in the primary sample.")] = 27_000,
    baseline_risk: Annotated[float, typer.Option("--baseline-risk", help="Control risk of the outcome.")] = 0.06,
    risk_difference: Annotated[
        float, typer.Option("--risk-difference", help="Effect to detect, treated minus control.")
    ] = -0.01,
    icc: Annotated[float, typer.Option("--icc", help="Intra-cluster correlation (risk scale).")] = 0.01,
    cac: Annotated[float, typer.Option("--cac", help="Cluster autocorrelation (1 = no period variance).")] = 1.0,
    alpha: Annotated[float, typer.Option("--alpha")] = 0.05,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Power to detect a risk difference, and the minimum detectable effect at 80% power (Hussey-Hughes GLS)."""
    out = api.design_power(study, children, baseline_risk, risk_difference, icc, cac, alpha)
    if json_out:
        print_json(out)
        return
    typer.echo(
        f"power {out['power']:.3f} to detect a risk difference of {risk_difference:+.4f} (SE {out['se']:.4f}); "
        f"minimum detectable at 80%: {out['minimum_detectable_risk_difference_80']:.4f}"
    )
    wedges = ", ".join(str(w) for w in out["wedges"])
    typer.echo(
        "assumptions:\n"
        f"  baseline risk (control): {out['baseline_risk']:g}\n"
        f"  clusters (local authorities): {out['clusters']}, periods: {out['periods']} "
        f"(go-live period per cluster: {wedges})\n"
        f"  children: {out['children']}, cluster-period size: {out['cluster_period_size']:.1f} (spread evenly)\n"
        f"  ICC (risk scale): {out['icc']:g}, cluster autocorrelation (CAC): {out['cac']:g}\n"
        f"  alpha: {out['alpha']:g}\n"
        f"  test: {out['test']}"
    )


@app.command("null-sim")
def null_sim(
    study: StudyOption = None,
    reps: Annotated[int, typer.Option("--reps", help="Replications under the null.")] = 1000,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes.")] = 2,
    children: Annotated[int, typer.Option("--children", help="Children per trial.")] = 27_000,
    baseline_risk: Annotated[float, typer.Option("--baseline-risk")] = 0.06,
    cluster_sd: Annotated[float, typer.Option("--cluster-sd", help="LA random-intercept SD (log-odds).")] = 0.3,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Type I error of the headline test over re-randomised replications of the design under the null."""
    spec = api.NullSimulationSpec(
        replications=reps, seed=seed, children=children, baseline_risk=baseline_risk, cluster_sd=cluster_sd
    )
    with progress_bar("null simulation", enabled=not json_out) as advance:
        res = api.run_null_simulation(
            api.study(study), spec, workers=workers, progress=lambda done, total: advance("", done, total)
        )
    if json_out:
        print_json(res.as_dict())
        return
    rates = [res.wald_z] if res.small_sample is None else [res.small_sample, res.wald_z]
    for rate in rates:
        label = f"t test, {res.df:g} between-within df" if rate.test.startswith("t-") else "Wald z-test"
        typer.echo(
            f"{label}: type I error {rate.type_i_error:.4f} ({rate.rejections} of {reps} replications rejected "
            f"at {spec.alpha:g}; exact 95% CI {rate.ci_low:.4f}-{rate.ci_high:.4f})"
        )
    typer.echo(f"{res.not_converged} fits not converged; {res.seconds:.0f} s")
