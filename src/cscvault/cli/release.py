"""`cscvault release ...`: the output airlock (request, list, show, approve, reject, export) over `cscvault.api`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cscvault import api
from cscvault.cli.credentials import credentials
from cscvault.cli.options import JsonOption, RecoveryOption, UserOption, VaultArg
from cscvault.cli.output import print_json

if TYPE_CHECKING:
    from cscvault.api import Release, ReleaseDetail, ReleaseFile

release_app = typer.Typer(
    help="Releases: nothing leaves the vault unchecked, and never on one person's say.", no_args_is_help=True
)

ReleaseArg = Annotated[str, typer.Argument(help="The release id (e.g. REL-2026-0001).", metavar="ID")]


def _line(r: Release) -> str:
    when = f"{r.requested_at:%Y-%m-%d %H:%M}"
    return f"{r.release_id}  {r.state:<9} {r.verdict:<6} {r.outputs:>2} file(s)  by {r.requested_by}  {when}"


def _print_detail(detail: ReleaseDetail) -> None:
    r = detail.release
    typer.echo(_line(r))
    typer.echo(f"  why: {r.why}")
    typer.echo(f"  profile: {r.profile} {r.profile_version}")
    if detail.subjects:
        typer.echo(f"  children whose data the outputs used: {detail.subjects}")
    if r.decided_by:
        typer.echo(f"  {r.state if r.state != 'exported' else 'approved'} by {r.decided_by}: {r.decision_note or ''}")
    if r.exports:
        typer.echo(f"  exported {r.exports} time(s), last by {r.exported_by}")
    for o in detail.outputs:
        typer.echo(f"  [{o.verdict}] {o.name} ({o.kind}, {o.size} bytes, sha256 {o.sha256[:16]})")
        for reason in o.reasons:
            typer.echo(f"      {reason}")
        if o.kind == "table" and "cells" in o.checks:
            c = o.checks
            typer.echo(
                f"      cells: {c['cells']} ({c['pass']} pass, {c['review']} review, {c['fail']} fail); "
                f"{c['suppressed']} suppressed in the released version"
            )
        if not o.releasable:
            typer.echo("      no releasable version: this release cannot be approved")


@release_app.command("request")
def release_request(
    vault: VaultArg,
    items: Annotated[
        list[str],
        typer.Argument(
            help="Stored outputs of an analysis run: RUN:NAME, or NAME with --run (a file on disk is accepted only "
            "when it is byte for byte a stored output).",
            metavar="OUTPUT...",
        ),
    ],
    why: Annotated[str, typer.Option("--why", help="Why these outputs should leave the vault.")],
    run: Annotated[str | None, typer.Option("--run", help="The run whose outputs are named.")] = None,
    user: UserOption = None,
    recovery: RecoveryOption = False,
    json_: JsonOption = False,
) -> None:
    """Gate and check stored run outputs and ask for their release; prints the release id."""
    release = api.release_request(vault, credentials(user, recovery), items, why, run=run)
    if json_:
        print_json(release.to_json())
        return
    typer.echo(release.release_id)


@release_app.command("list")
def release_list(
    vault: VaultArg,
    state: Annotated[str | None, typer.Option("--state", help="requested|approved|rejected|exported")] = None,
    user: UserOption = None,
    recovery: RecoveryOption = False,
    json_: JsonOption = False,
) -> None:
    """Releases, oldest first."""
    found = api.release_list(vault, credentials(user, recovery), state)
    if json_:
        print_json([r.to_json() for r in found])
        return
    for r in found:
        typer.echo(_line(r))
    if not found:
        typer.echo("no releases")


@release_app.command("show")
def release_show(
    vault: VaultArg,
    release_id: ReleaseArg,
    user: UserOption = None,
    recovery: RecoveryOption = False,
    json_: JsonOption = False,
) -> None:
    """One release: its files, their verdicts and reasons, and its decision."""
    creds = credentials(user, recovery)
    detail = api.release_show(vault, creds, release_id)
    if json_:
        print_json(detail.to_json())
        return
    _print_detail(detail)
    for o in detail.outputs:  # the per-cell view of each table: the released value, verdict and reasons
        if o.kind == "table" and o.checks.get("cell_verdicts"):
            _print_cells(api.release_file(vault, creds, release_id, o.position))


def _print_cells(file: ReleaseFile) -> None:
    import io

    import pandas as pd

    released = pd.read_csv(io.BytesIO(file.released)) if file.released else None
    typer.echo(f"  cells of {file.output.name} that are not released as they are:")
    for cell in file.output.checks["cell_verdicts"]:
        row, column = int(cell["row"]), str(cell["column"])
        label = column
        shown = "withheld"
        if released is not None and row < len(released):
            text_cols = [c for c in released.columns if released[c].dtype == object and c != column]
            label = " / ".join(str(released.iloc[row][c]) for c in text_cols) + f" / {column}"
            value = released.iloc[row][column] if column in released.columns else None
            shown = "withheld" if value is None or pd.isna(value) else f"released as {value:g}"
        reasons = "; ".join(cell.get("reasons") or cell["rules"])
        typer.echo(f"    [{cell['verdict']}] {label}: {shown}; {reasons}")


@release_app.command("approve")
def release_approve(
    vault: VaultArg,
    release_id: ReleaseArg,
    note: Annotated[str, typer.Option("--note", help="The checker's note.")] = "",
    user: UserOption = None,
    recovery: RecoveryOption = False,
) -> None:
    """Approve a release (a checker who did not request it). Tables leave in their suppressed version."""
    r = api.release_approve(vault, credentials(user, recovery), release_id, note)
    typer.echo(f"{r.release_id} approved by {r.decided_by}")


@release_app.command("reject")
def release_reject(
    vault: VaultArg,
    release_id: ReleaseArg,
    reason: Annotated[str, typer.Option("--reason", help="Why the release is refused.")],
    user: UserOption = None,
    recovery: RecoveryOption = False,
) -> None:
    """Reject a release (a checker who did not request it)."""
    r = api.release_reject(vault, credentials(user, recovery), release_id, reason)
    typer.echo(f"{r.release_id} rejected by {r.decided_by}")


@release_app.command("export")
def release_export(
    vault: VaultArg,
    release_id: ReleaseArg,
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write the bundle into (OUT/ID); created (0700) when missing.")
    ],
    user: UserOption = None,
    recovery: RecoveryOption = False,
) -> None:
    """Write an approved release's bundle: released files, ACRO results.json, profile, manifest, checksums."""
    bundle = api.release_export(vault, credentials(user, recovery), release_id, out)
    typer.echo(str(bundle))


@release_app.command("verify")
def release_verify(
    bundle: Annotated[Path, typer.Argument(help="An exported bundle folder (OUT/ID).")],
    json_: JsonOption = False,
) -> None:
    """Check a bundle against its manifest: every file present with its SHA-256, nothing added."""
    manifest = api.release_verify(bundle)
    if json_:
        print_json(manifest)
        return
    outputs = manifest.get("outputs")
    count = len(outputs) if isinstance(outputs, list) else 0
    typer.echo(
        f"{manifest.get('release_id')}: {count} released file(s) verified; approved by {manifest.get('approved_by')} "
        f"at {manifest.get('decided_at')}"
    )
