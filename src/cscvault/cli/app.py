"""The `cscvault` command line: the root app, one module per command group, and `main`.

Every command parses its arguments, calls `cscvault.api` and prints the result.
User errors (`CscvaultError`) print one line on stderr and exit with their documented code;
a traceback is shown only with `--debug`.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated

import typer

from cscvault import __version__, api, notices
from cscvault.cli import (
    analyse,
    demo,
    design,
    disclosure,
    la,
    model,
    model_did,
    model_robust,
    release,
    retention,
    rights,
    risk,
    serve,
    study,
    synth,
    vault,
)
from cscvault.cli.output import err
from cscvault.errors import EXIT_INTERNAL, CscvaultError

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


vault.register(app)
app.command()(analyse.analyse)
app.add_typer(rights.rights_app, name="rights")
app.add_typer(rights.complaint_app, name="complaint")
app.command()(study.record)
app.command()(study.notice)
app.command()(demo.demo)
app.add_typer(model.app, name="model")
model.app.command("did")(model_did.did)
model.app.command("gee")(model_robust.gee)
model.app.command("fe-cr2")(model_robust.fe_cr2)
app.add_typer(disclosure.app, name="disclosure")
app.add_typer(retention.app, name="retention")
app.command("backup")(retention.backup)
app.command("restore")(retention.restore)
app.add_typer(la.app, name="la")
app.command("synth")(synth.synth)
app.add_typer(release.release_app, name="release")
app.command("serve")(serve.serve)
app.add_typer(design.app, name="design")
app.command("risk")(risk.risk)


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
        mapped = api.as_vault_error(exc)  # a damaged database file read outside a vault transaction
        if isinstance(mapped, CscvaultError):
            err(f"error: {mapped.message}")
            sys.exit(mapped.exit_code)
        # The exception text may carry data (e.g. from a library), so only its type is printed.
        err(f"error: internal error ({type(exc).__name__}); run with --debug for details")
        sys.exit(EXIT_INTERNAL)
    sys.exit(0)
