"""`cscvault analyse`: the pre-registered analysis inside the vault (or the DiD supplement on public data)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cscvault import api
from cscvault.cli.credentials import credentials
from cscvault.cli.options import JsonOption, RecoveryOption, StudyOption, UserOption
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
    out: Annotated[Path, typer.Option("--out", help="Folder for the report and results.json.")] = Path("analysis"),
    study: StudyOption = None,
    user: UserOption = None,
    recovery: RecoveryOption = False,
    json_: JsonOption = False,
) -> None:
    """Run the pre-registered analysis inside the vault; write the disclosure-checked report and results."""
    if plan == "did":
        doc = api.analyse_did(out, study)
        if json_:
            print_json(doc)
            return
        typer.echo(f"difference-in-differences on published DfE statistics: {out / 'did_report.html'}")
        return
    if vault is None:
        raise UsageError(f"--plan {plan} runs inside a vault: give VAULT")
    api.check_vault_dir(vault)
    creds = credentials(user, recovery)
    # Progress goes to stderr under --json too: stdout keeps the one JSON document.
    with analysis_progress("analyse") as advance:
        output = api.analyse(vault, creds, out, plan, progress=advance)
    for nd in output.not_derived:
        err(f"warning: outcome {nd.outcome} not derived: {nd.reason}")
    head = output.run.headline.fit.effect
    if json_:
        print_json(
            {
                "run_id": output.run.run_id,
                "report": str(output.report),
                "results": str(output.results),
                "odds_ratio": head.odds_ratio,
                "ci_low": head.ci_low,
                "ci_high": head.ci_high,
                "p_value": head.p_value,
                "not_derived": [nd.to_json() for nd in output.not_derived],
            }
        )
        return
    typer.echo(f"primary odds ratio {head.odds_ratio:.3f} (95% CI {head.ci_low:.3f} to {head.ci_high:.3f})")
    typer.echo(f"report: {output.report}")
    typer.echo(f"results: {output.results}")
