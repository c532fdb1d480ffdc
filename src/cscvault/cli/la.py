"""CLI for the LA side: `la check` (no vault needed) and `la package`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cscvault import api
from cscvault.cli.options import JsonOption, StudyOption
from cscvault.cli.output import print_json
from cscvault.errors import DataError

if TYPE_CHECKING:
    from cscvault.api import FileCheck

app = typer.Typer(help="The local authority's side: check a return, package it encrypted.", no_args_is_help=True)

FilesArg = Annotated[list[Path], typer.Argument(help="Return files.", metavar="FILE...", show_default=False)]
LaOption = Annotated[str | None, typer.Option("--la", help="The LA (name or code), when the files do not say.")]
ReturnOption = Annotated[
    str | None, typer.Option("--return", help="Return label (e.g. nov22), when the names do not say.")
]


@app.command("check")
def check(
    files: FilesArg,
    study: StudyOption = None,
    la: LaOption = None,
    return_label: ReturnOption = None,
    json_: JsonOption = False,
) -> None:
    """Run ingest's readers, identifier screening and validation; print findings (never values); exit 3 on errors."""
    results = api.la_check_files(files, api.study(study), la=la, return_label=return_label)
    errors = sum(r.errors for r in results)
    if json_:
        print_json({"files": [r.as_dict() for r in results], "errors": errors})
    else:
        _print_checks(results)
    if errors:
        failing = sum(1 for r in results if r.errors)
        raise DataError(f"{errors} error(s) in {failing} file(s); fix them before packaging")


def _print_checks(results: list[FileCheck], *, err: bool = False) -> None:
    """`la check`'s report: a line per file, then a line per rule and field (never a value)."""
    for r in results:
        typer.echo(
            f"{r.file}: {r.format}, LA {r.la or 'unknown'}, return {r.return_label or 'unknown'},"
            f" {r.rows_read} rows read, {r.errors} error(s)",
            err=err,
        )
        if r.failure:
            typer.echo(f"  fatal   {r.failure}", err=err)
        ids = r.identifier_columns()
        if ids:
            typer.echo(f"  identifier columns (dropped, never sent on): {', '.join(ids)}", err=err)
        for g in r.grouped():
            where = ", ".join(x for x in g["locations"] if x)
            more = f" (+{g['count'] - len(g['locations'])} more)" if g["count"] > len(g["locations"]) else ""
            field = f" [{g['field']}]" if g["field"] else ""
            typer.echo(f"  {g['severity']:<7} {g['rule_id']}{field} x{g['count']}: {g['message']}", err=err)
            if where:
                typer.echo(f"          at {where}{more}", err=err)


@app.command("package")
def package(
    files: FilesArg,
    recipient: Annotated[str, typer.Option("--recipient", help="The vault's age recipient (age1...).")],
    out: Annotated[Path, typer.Option("--out", help="The package file to write (e.g. walsall-nov22.age).")],
    study: StudyOption = None,
    la: LaOption = None,
    return_label: ReturnOption = None,
    allow_errors: Annotated[
        bool,
        typer.Option("--allow-errors", help="Package even when `la check` finds errors (the manifest records it)."),
    ] = False,
) -> None:
    """Check the files as `la check` does; refuse on errors (exit 3) unless --allow-errors; write the package."""
    api.la_package_preflight(
        files, recipient, out
    )  # a wrong key or an existing --out is said before the files are checked
    the_study = api.study(study)
    code = the_study.la(la).ons_code if la else None
    results = api.la_check_files(files, the_study, la=code, return_label=return_label)
    if any(r.errors for r in results) and not allow_errors:
        _print_checks([r for r in results if r.errors], err=True)
    result = api.build_package(
        files,
        recipient,
        out,
        the_study,
        la=la,
        return_label=return_label,
        allow_errors=allow_errors,
        checks=results,
    )
    m = result.manifest
    typer.echo(f"Package written: {result.path} ({len(m['files'])} file(s) from {m['la']['name']})")
    for f in m["files"]:
        rows = "?" if f["rows"] is None else f["rows"]
        typer.echo(f"  {f['name']}  sha256 {f['sha256']}  {rows} rows  return {f['return_label'] or 'unknown'}")
    if result.errors:
        typer.echo(f"warning: packaged with {result.errors} error(s) (--allow-errors; the manifest says so)", err=True)
