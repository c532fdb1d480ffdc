"""`cscvault analyse`: the pre-registered analysis inside the vault (or the DiD supplement on public data)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cscvault import api
from cscvault.cli.credentials import credentials
from cscvault.cli.options import JsonOption, RecoveryOption, StudyOption, UserOption, existing_vault
from cscvault.cli.output import analysis_progress, err, print_json
from cscvault.errors import UsageError


def analyse(
    vault: Annotated[
        Path | None,
        typer.Argument(help="The vault (not needed for --plan did).", metavar="[VAULT]", show_default=False),
    ] = None,
    plan: Annotated[
        str, typer.Option("--plan", help="primary, all (the whole plan), or did (public DfE data, no vault).")
    ] = "primary",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="--plan did: folder for its report. Vault plans write nothing outside the vault: --out asks for "
            "the release of the run's outputs (as --request-release) and names where to export them once approved.",
        ),
    ] = None,
    request_release: Annotated[
        str | None,
        typer.Option("--request-release", help="Ask for the release of every output of the run, with this reason."),
    ] = None,
    study: StudyOption = None,
    user: UserOption = None,
    recovery: RecoveryOption = False,
    json_: JsonOption = False,
) -> None:
    """Run the pre-registered analysis inside the vault; its report, tables, figures and results stay there."""
    if plan == "did":
        target = out or Path("analysis")
        doc = api.analyse_did(target, study)
        if json_:
            print_json(doc)
            return
        typer.echo(f"difference-in-differences on published DfE statistics: {target / 'did_report.html'}")
        return
    if vault is None:
        raise UsageError(f"--plan {plan} runs inside a vault: give VAULT")
    existing_vault(vault)
    why = request_release
    if why is None and out is not None:
        why = f"analyse --out {out.name}: the run's report, tables, figures and results"
    creds = credentials(user, recovery)
    # Progress goes to stderr under --json too: stdout keeps the one JSON document.
    with analysis_progress("analyse") as advance:
        output = api.analyse(vault, creds, plan, request_release=why, progress=advance)
    for nd in output.not_derived:
        err(f"warning: outcome {nd.outcome} not derived: {nd.reason}")
    head = output.run.headline.fit.effect
    small = output.run.headline.fit.small_sample
    release_id = output.release.release_id if output.release else None
    if json_:
        print_json(
            {
                "run_id": output.run.run_id,
                "outputs": [o.to_json() for o in output.outputs],
                "release_id": release_id,
                "odds_ratio": head.odds_ratio,
                # the headline test: t with between-within df when the fit has it, else the Wald z
                "test": f"t, {small.df:g} df ({small.df_method})" if small else "Wald z",
                "ci_low": small.ci_low if small else head.ci_low,
                "ci_high": small.ci_high if small else head.ci_high,
                "p_value": small.p_value if small else head.p_value,
                "wald_z": {"ci_low": head.ci_low, "ci_high": head.ci_high, "p_value": head.p_value},
                "not_derived": [nd.to_json() for nd in output.not_derived],
            }
        )
        return
    if small:
        typer.echo(
            f"primary odds ratio {head.odds_ratio:.3f} (95% CI {small.ci_low:.3f} to {small.ci_high:.3f}, "
            f"p {small.p_value:.3f}; t test, {small.df:g} between-within df); Wald z: 95% CI "
            f"{head.ci_low:.3f} to {head.ci_high:.3f}, p {head.p_value:.3f}"
        )
    else:
        typer.echo(f"primary odds ratio {head.odds_ratio:.3f} (95% CI {head.ci_low:.3f} to {head.ci_high:.3f})")
    typer.echo(f"run {output.run.run_id}: outputs stored in the vault: {', '.join(output.names())}")
    if release_id:
        typer.echo(
            f"release requested: {release_id} (a checker reviews it: cscvault release show {vault} {release_id})"
        )
        typer.echo(f"once approved: cscvault release export {vault} {release_id} --out {out or 'DIR'}")
    else:
        typer.echo(f"to release them: cscvault release request {vault} --run {output.run.run_id} NAME... --why TEXT")
