"""The `cscvault` command line: argument parsing and printing only.

Every command calls `cscvault.api` (or a capability's public function) and prints the result.
User errors (`CscvaultError`) print one line on stderr and exit with their documented code;
a traceback is shown only with `--debug`.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer

from cscvault import __version__, api, notices
from cscvault import demo as demo_mod
from cscvault.cli_support import (
    JsonOption,
    NewVaultArg,
    RecoveryOption,
    StudyOption,
    UserOption,
    VaultArg,
    credentials,
    err,
    print_json,
    progress_bar,
    secret,
)

__all__ = ["app", "main", "print_json"]  # print_json is re-exported for command modules
from cscvault.cli_support import _existing_vault
from cscvault.errors import EXIT_INTERNAL, CscvaultError, UsageError
from cscvault.rights import cli as rights_cli

app = typer.Typer(
    name="cscvault",
    help="The secure evaluation environment for children's social care trials.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_DEBUG = False


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cscvault {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    global _DEBUG
    _DEBUG = debug or os.environ.get("CSCVAULT_DEBUG") == "1"
    # Notices raised when a vault opens (e.g. the retention countdown) go to stderr, never stdout.
    notices.set_sink(lambda message: err(f"warning: {message}"))


# -- vault ------------------------------------------------------------------------------------------------


@app.command()
def init(
    vault: NewVaultArg,
    study: StudyOption = None,
    admin: Annotated[str, typer.Option("--admin", help="Name of the first (admin) user.")] = "admin",
) -> None:
    """Create an encrypted vault. Prints the recovery code once: write it down and keep it safe."""
    password = secret("CSCVAULT_PASSWORD", f"New password for {admin}", confirm=True)
    result = api.init_vault(vault, password, admin=admin, study_path=study)
    typer.echo(f"Created vault {result.path} (id {result.vault_id}) with admin user '{result.admin}'.")
    typer.echo(
        f"Age recipient for the local authorities' packages (cscvault la package --recipient): {result.recipient}"
    )
    typer.echo("Recovery code (shown once; store it offline, it opens the vault if every password is lost):")
    typer.echo(f"  {result.recovery_code}")


user_app = typer.Typer(help="Vault users and their roles.", no_args_is_help=True)
app.add_typer(user_app, name="user")


@user_app.command("add")
def user_add(
    vault: VaultArg,
    name: Annotated[str, typer.Argument(help="The new user's name.")],
    role: Annotated[str, typer.Option("--role", help=f"One of: {', '.join(api.ROLES)}.")],
    user: UserOption = "admin",
    recovery: RecoveryOption = False,
) -> None:
    """Add a user (admin only). Their password comes from a prompt or CSCVAULT_NEW_PASSWORD."""
    creds = credentials(user, recovery)
    new_password = secret("CSCVAULT_NEW_PASSWORD", f"New password for {name}", confirm=True)
    api.add_user(vault, creds, name, role, new_password)
    typer.echo(f"Added user '{name}' with role {role}.")


@user_app.command("list")
def user_list(
    vault: VaultArg, user: UserOption = "admin", recovery: RecoveryOption = False, json_: JsonOption = False
) -> None:
    """List users and roles (admin or dpo)."""
    users = api.list_users(vault, credentials(user, recovery))
    if json_:
        print_json(
            [{"name": u.name, "role": u.role, "created_at": u.created_at, "created_by": u.created_by} for u in users]
        )
        return
    for u in users:
        typer.echo(f"{u.name:<20} {u.role:<8} added {u.created_at:%Y-%m-%d} by {u.created_by}")


@user_app.command("passwd")
def user_passwd(
    vault: VaultArg,
    target: Annotated[str | None, typer.Argument(help="Whose password (default: your own; others need admin).")] = None,
    user: UserOption = "admin",
    recovery: RecoveryOption = False,
) -> None:
    """Change a password. Rewraps the keys; the data are not re-encrypted."""
    creds = credentials(user, recovery)
    who = target or creds.user
    new_password = secret("CSCVAULT_NEW_PASSWORD", f"New password for {who}", confirm=True)
    api.change_password(vault, creds, new_password, user=who)
    typer.echo(f"Password changed for '{who}'.")


audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    vault: VaultArg, user: UserOption = "admin", recovery: RecoveryOption = False, json_: JsonOption = False
) -> None:
    """Recompute the audit chain; exit 5 naming each edited, deleted, reordered or truncated entry."""
    report = api.verify_audit(vault, credentials(user, recovery))
    if json_:
        print_json(
            {
                "ok": report.ok,
                "entries": report.entries,
                "head_entries": report.head_entries,
                "problems": report.problems,
            }
        )
    elif report.ok:
        typer.echo(f"audit chain intact: {report.entries} entries, matching the authenticated head")
    else:
        for problem in report.problems:
            err(f"audit: {problem}")
    api.require_intact(report)


@app.command()
def ingest(
    vault: VaultArg,
    paths: Annotated[list[Path], typer.Argument(help="Return files or folders of them.", metavar="PATH...")],
    user: UserOption = "admin",
    recovery: RecoveryOption = False,
    json_: JsonOption = False,
) -> None:
    """Load returns into the vault: each file one all-or-nothing delivery, identified by its SHA-256."""
    creds = credentials(user, recovery)
    with progress_bar("ingest", enabled=not json_) as advance:
        report = api.ingest(vault, creds, paths, advance)
    if json_:
        print_json([d.__dict__ for d in report.deliveries])
        return
    typer.echo(
        f"{report.loaded} deliveries loaded, {report.rejected} rejected, {report.skipped} already loaded "
        f"({sum(d.rows_loaded for d in report.deliveries)} rows)"
    )
    for d in report.deliveries:
        if d.status == "rejected":
            rules = ", ".join(f"{k} x{v}" for k, v in d.findings.items())
            err(f"rejected: {d.file_name}: {rules}")


@app.command()
def quality(
    vault: VaultArg, user: UserOption = "admin", recovery: RecoveryOption = False, json_: JsonOption = False
) -> None:
    """Data quality per LA and return: rows read and loaded, columns dropped, findings by rule, linkage."""
    doc = api.quality(vault, credentials(user, recovery))
    if json_:
        print_json(doc)
        return
    deliveries: list[dict[str, Any]] = doc["deliveries"]  # type: ignore[assignment]
    for d in deliveries:
        status = "REJECTED" if d["rejected"] else "loaded"
        typer.echo(
            f"{d['la'] or '?':<20} {d['return'] or '?':<14} {d['format']:<10} {d['rows_read']:>8} read "
            f"{d['rows_loaded']:>8} loaded  {sum(d['findings'].values()):>6} findings  {status}  {d['file_name']}"
        )


@app.command()
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
    user: UserOption = "analyst",
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
    _existing_vault(vault)
    why = request_release
    if why is None and out is not None:
        why = f"analyse --out {out.name}: the run's report, tables, figures and results"
    output = api.analyse(vault, credentials(user, recovery), plan, request_release=why)
    head = output.run.headline.fit.effect
    release_id = output.release.release_id if output.release else None
    if json_:
        print_json(
            {
                "run_id": output.run.run_id,
                "outputs": [o.to_json() for o in output.outputs],
                "release_id": release_id,
                "odds_ratio": head.odds_ratio,
                "ci_low": head.ci_low,
                "ci_high": head.ci_high,
                "p_value": head.p_value,
            }
        )
        return
    typer.echo(f"primary odds ratio {head.odds_ratio:.3f} (95% CI {head.ci_low:.3f} to {head.ci_high:.3f})")
    typer.echo(f"run {output.run.run_id}: outputs stored in the vault: {', '.join(output.names())}")
    if release_id:
        typer.echo(
            f"release requested: {release_id} (a checker reviews it: cscvault release show {vault} {release_id})"
        )
        typer.echo(f"once approved: cscvault release export {vault} {release_id} --out {out or 'DIR'}")
    else:
        typer.echo(f"to release them: cscvault release request {vault} --run {output.run.run_id} NAME... --why TEXT")


app.add_typer(rights_cli.rights_app, name="rights")
app.add_typer(rights_cli.complaint_app, name="complaint")


@app.command()
def record(
    study: StudyOption = None,
    format_: Annotated[str, typer.Option("--format", help="md or html.")] = "md",
) -> None:
    """Print the record of processing activities (UK GDPR Article 30) rendered from the study."""
    typer.echo(api.render_record(study, format_), nl=False)


@app.command()
def notice(
    study: StudyOption = None,
    format_: Annotated[str, typer.Option("--format", help="md or html.")] = "md",
) -> None:
    """Print the privacy notice rendered from the study and its data dictionary."""
    typer.echo(api.render_notice(study, format_), nl=False)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Where to put the demo.")] = Path("cscvault-demo"),
    children: Annotated[int | None, typer.Option("--children", help="Number of synthetic children.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the synthetic data.")] = 2020,
) -> None:
    """The main job on built-in synthetic data: a vault, users, and (as they land) synth, ingest, analyse, report."""
    password = os.environ.get("CSCVAULT_PASSWORD")
    result = demo_mod.run_demo(out, password=password, children=children, seed=seed, echo=typer.echo)
    if result.generated_password:
        typer.echo(f"Generated password for every demo user (shown once): {result.generated_password}")


from cscvault.analysis.models.cli import app as model_app  # noqa: E402

app.add_typer(model_app, name="model")

from cscvault.analysis.did import cli as did_cli  # noqa: E402

model_app.command("did")(did_cli.did)

from cscvault.analysis.models import robust_cli  # noqa: E402

model_app.command("gee")(robust_cli.gee)
model_app.command("fe-cr2")(robust_cli.fe_cr2)

from cscvault.disclosure.cli import app as disclosure_app  # noqa: E402

app.add_typer(disclosure_app, name="disclosure")

from cscvault import retention_cli  # noqa: E402
from cscvault.la import cli as la_cli  # noqa: E402

app.add_typer(retention_cli.app, name="retention")
app.command("backup")(retention_cli.backup)
app.command("restore")(retention_cli.restore)
app.add_typer(la_cli.app, name="la")

from cscvault.synth import cli as synth_cli  # noqa: E402

app.command("synth")(synth_cli.synth)

from cscvault.disclosure.release_cli import release_app  # noqa: E402

app.add_typer(release_app, name="release")

from cscvault.web import cli as web_cli  # noqa: E402

app.command("serve")(web_cli.serve)

from cscvault.analysis import design_cli  # noqa: E402

app.add_typer(design_cli.app, name="design")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, mapping errors to one line and an exit code."""
    try:
        # Outside standalone mode click returns a command's `typer.Exit(code)` instead of raising it.
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except CscvaultError as exc:
        if _DEBUG:
            traceback.print_exc()
        err(f"error: {exc.message}")
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err("error: aborted")
        sys.exit(EXIT_INTERNAL)
    except KeyboardInterrupt:
        err("error: interrupted")
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument...
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err(f"error: {exc.format_message()}")
        sys.exit(exc.exit_code)
    except Exception as exc:
        if _DEBUG or "--debug" in (argv or sys.argv):
            traceback.print_exc()
        # The exception text may carry data (e.g. from a library), so only its type is printed.
        err(f"error: internal error ({type(exc).__name__}); run with --debug for details")
        sys.exit(EXIT_INTERNAL)
    sys.exit(0)
