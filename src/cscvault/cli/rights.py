"""`cscvault rights ...` and `cscvault complaint ...` (role dpo): parsing and printing over `cscvault.api`."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cscvault import api, clock
from cscvault.cli.credentials import credentials
from cscvault.cli.options import JsonOption, RecoveryOption, UserOption, VaultArg, parse_date, required_date
from cscvault.cli.output import print_json
from cscvault.errors import UsageError

if TYPE_CHECKING:
    from cscvault.api import Request

rights_app = typer.Typer(
    help="Data-subject requests: access, rectification, erasure, restriction, objection.", no_args_is_help=True
)
complaint_app = typer.Typer(
    help="Complaints: logged, acknowledged within 30 days, answered with the ICO route.", no_args_is_help=True
)

DateOption = Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today).")]
RequestArg = Annotated[str, typer.Argument(help="The request id (e.g. R-2026-0001).", metavar="ID")]


def _child_id(value: str) -> str:
    """`-` reads the LA child id from stdin, keeping it out of the process list and shell history."""
    if value == "-":
        line = sys.stdin.readline().strip()
        if not line:
            raise UsageError("--child-id -: nothing on standard input")
        return line
    return value


def _summary(r: Request, today: dt.date) -> str:
    due = r.due_date.isoformat() if r.due_date else "clock not started"
    return f"{r.request_id}  {r.type:<13} {r.state:<24} due {due:<17} {r.deadline_status(today)}"


@rights_app.command("open")
def rights_open(
    vault: VaultArg,
    type_: Annotated[str, typer.Option("--type", help="access|rectification|erasure|restriction|objection")],
    la: Annotated[str, typer.Option("--la", help="The LA's name or ONS code, as in the study.")],
    child_id: Annotated[str, typer.Option("--child-id", help="The LA's child id as the LA confirms it ('-' = stdin).")],
    received: Annotated[str | None, typer.Option("--received", help="YYYY-MM-DD (default today).")] = None,
    identified: Annotated[
        str | None, typer.Option("--identified", help="YYYY-MM-DD the LA confirmed the id (starts the clock).")
    ] = None,
    requester_ref: Annotated[str | None, typer.Option("--requester-ref", help="A reference, never a name.")] = None,
    user: UserOption = None,
    recovery: RecoveryOption = False,
) -> None:
    """Log a request and print its id."""
    request = api.rights_open(
        vault,
        credentials(user, recovery),
        type_,
        la,
        _child_id(child_id),
        parse_date(received, "--received"),
        parse_date(identified, "--identified"),
        requester_ref,
    )
    typer.echo(request.request_id)


@rights_app.command("list")
def rights_list(
    vault: VaultArg,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only overdue requests.")] = False,
    due_soon: Annotated[bool, typer.Option("--due-soon", help="Only requests due within 7 days.")] = False,
    today: DateOption = None,
    user: UserOption = None,
    recovery: RecoveryOption = False,
    json_: JsonOption = False,
) -> None:
    """The register, oldest first."""
    day = parse_date(today, "--today") or clock.today()
    found = api.rights_list(vault, credentials(user, recovery), overdue, due_soon, day)
    if json_:
        print_json([r.to_json(day) for r in found])
        return
    for r in found:
        typer.echo(_summary(r, day))
    if not found:
        typer.echo("no requests")


@rights_app.command("summary")
def rights_summary(
    vault: VaultArg,
    year: Annotated[int, typer.Option("--year", help="Requests received in this calendar year (YYYY).")],
    user: UserOption = None,
    recovery: RecoveryOption = False,
    json_: JsonOption = False,
) -> None:
    """The DPO's annual summary: requests received, answered on time or late (and how late), still open."""
    if not 1900 <= year <= 9999:
        raise UsageError("--year is a year written YYYY")
    doc: dict[str, Any] = api.rights_summary(vault, credentials(user, recovery), year)
    if json_:
        print_json(doc)
        return
    typer.echo(f"Data-subject requests received in {year}: {doc['received']}")
    late = f", at most {doc['days_late_max']} days late" if doc["answered_late"] else ""
    typer.echo(f"  answered on time: {doc['answered_on_time']}; answered late: {doc['answered_late']}{late}")
    typer.echo(f"  still open: {doc['open']} ({doc['open_overdue']} overdue)")
    typer.echo(f"  {'type':<14}{'received':>9}{'on time':>9}{'late':>6}{'open':>6}")
    for kind, row in doc["by_type"].items():
        typer.echo(
            f"  {kind:<14}{row['received']:>9}{row['answered_on_time']:>9}{row['answered_late']:>6}{row['open']:>6}"
        )


@rights_app.command("show")
def rights_show(
    vault: VaultArg,
    request_id: RequestArg,
    user: UserOption = None,
    recovery: RecoveryOption = False,
    json_: JsonOption = False,
) -> None:
    """One request with its deadline and history."""
    view = api.rights_show(vault, credentials(user, recovery), request_id)
    if json_:
        print_json(view.to_json())
        return
    typer.echo(_summary(view.request, view.today))
    for e in view.events:
        typer.echo(
            f"  {e['seq']:>3} {e['at_time']:%Y-%m-%d %H:%M} {e['actor']:<10} {e['event']}"
            + (f" ({e['detail']})" if e["detail"] else "")
        )


@rights_app.command("identify")
def rights_identify(
    vault: VaultArg,
    request_id: RequestArg,
    on: Annotated[str | None, typer.Option("--date", help="When the LA confirmed the id (default today).")] = None,
    user: UserOption = None,
    recovery: RecoveryOption = False,
) -> None:
    """Record that the LA confirmed the child's id: the one-month clock starts."""
    r = api.rights_identify(vault, credentials(user, recovery), request_id, parse_date(on, "--date") or clock.today())
    typer.echo(f"{r.request_id} identified; due {r.due_date}")


@rights_app.command("clarify")
def rights_clarify(
    vault: VaultArg,
    request_id: RequestArg,
    asked: Annotated[str, typer.Option("--asked", help="YYYY-MM-DD clarification was asked for.")],
    answered: Annotated[str, typer.Option("--answered", help="YYYY-MM-DD it arrived.")],
    user: UserOption = None,
    recovery: RecoveryOption = False,
) -> None:
    """Stop the clock for the days spent awaiting clarification."""
    r = api.rights_clarification(
        vault,
        credentials(user, recovery),
        request_id,
        required_date(asked, "--asked"),
        required_date(answered, "--answered"),
    )
    typer.echo(f"{r.request_id}: clock stopped {r.clock_stopped_days} days in all; due {r.due_date}")


@rights_app.command("extend")
def rights_extend(
    vault: VaultArg,
    request_id: RequestArg,
    months: Annotated[int, typer.Option("--months", help="1 or 2 further months.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (complexity, number of requests).")],
    notice: Annotated[str | None, typer.Option("--notice-date", help="When the requester was told.")] = None,
    user: UserOption = None,
    recovery: RecoveryOption = False,
) -> None:
    """Extend the deadline (the requester must be told within the first month)."""
    r = api.rights_extend(
        vault,
        credentials(user, recovery),
        request_id,
        months,
        parse_date(notice, "--notice-date") or clock.today(),
        reason,
    )
    typer.echo(f"{r.request_id} extended by {r.extension_months} months; due {r.due_date}")


@rights_app.command("refuse")
def rights_refuse(
    vault: VaultArg,
    request_id: RequestArg,
    decision: Annotated[str, typer.Option("--decision", help="The decision and its reasoning.")],
    legal_basis: Annotated[str | None, typer.Option("--legal-basis", help="Default: the research exemption.")] = None,
    user: UserOption = None,
    recovery: RecoveryOption = False,
) -> None:
    """Refuse or limit a right for this request, recording the decision and its legal basis."""
    r = api.rights_refuse(vault, credentials(user, recovery), request_id, decision, legal_basis)
    typer.echo(f"{r.request_id} refused under {r.legal_basis}")


@rights_app.command("act")
def rights_act(
    vault: VaultArg,
    request_id: RequestArg,
    out: Annotated[Path | None, typer.Option("--out", help="Access: folder for the encrypted package.")] = None,
    recipient: Annotated[str | None, typer.Option("--recipient", help="Access: age public key to encrypt to.")] = None,
    field: Annotated[str | None, typer.Option("--field", help="Rectification: TABLE.COLUMN.")] = None,
    value: Annotated[str | None, typer.Option("--value", help="Rectification: the corrected value.")] = None,
    decision: Annotated[str | None, typer.Option("--decision", help="Objection: 'uphold' or the grounds.")] = None,
    legal_basis: Annotated[str | None, typer.Option("--legal-basis", help="Objection: basis to continue.")] = None,
    user: UserOption = None,
    recovery: RecoveryOption = False,
    json_: JsonOption = False,
) -> None:
    """Carry out the request (its type decides what happens)."""
    result = api.rights_act(
        vault, credentials(user, recovery), request_id, out, recipient, field, value, decision, legal_basis
    )
    if json_:
        print_json(
            {
                "request_id": request_id,
                "state": result.request.state,
                "counts": result.counts,
                "package": str(result.package) if result.package else None,
                "releases": result.releases,
                "message": result.message,
            }
        )
        return
    typer.echo(f"{request_id}: {result.message}")
    if result.releases:
        typer.echo(f"  past releases that used this child's data (not recalled): {', '.join(result.releases)}")


@rights_app.command("close")
def rights_close(
    vault: VaultArg, request_id: RequestArg, user: UserOption = None, recovery: RecoveryOption = False
) -> None:
    """Close a completed or refused request."""
    r = api.rights_close(vault, credentials(user, recovery), request_id)
    typer.echo(f"{r.request_id} closed")


@complaint_app.command("open")
def complaint_open(
    vault: VaultArg,
    received: DateOption = None,
    ref: Annotated[str | None, typer.Option("--ref", help="A reference to the complaint file, never a name.")] = None,
    user: UserOption = None,
    recovery: RecoveryOption = False,
) -> None:
    """Log a complaint; prints its id and the acknowledgement text with the ICO route."""
    complaint, text = api.complaint_open(vault, credentials(user, recovery), parse_date(received, "--received"), ref)
    typer.echo(complaint.complaint_id)
    typer.echo(f"acknowledge by {complaint.ack_due.isoformat()}")
    typer.echo(text)


@complaint_app.command("ack")
def complaint_ack(
    vault: VaultArg,
    complaint_id: Annotated[str, typer.Argument(metavar="ID")],
    on: DateOption = None,
    user: UserOption = None,
    recovery: RecoveryOption = False,
) -> None:
    """Record the acknowledgement."""
    c = api.complaint_acknowledge(vault, credentials(user, recovery), complaint_id, parse_date(on, "--on"))
    typer.echo(f"{c.complaint_id} acknowledged on {c.acknowledged}")


@complaint_app.command("list")
def complaint_list(
    vault: VaultArg, user: UserOption = None, recovery: RecoveryOption = False, json_: JsonOption = False
) -> None:
    """All complaints with their acknowledgement deadlines."""
    found = api.complaint_list(vault, credentials(user, recovery))
    if json_:
        print_json([c.to_json() for c in found])
        return
    for c in found:
        state = f"closed {c.closed}" if c.closed else ("acknowledged" if c.acknowledged else f"ack due {c.ack_due}")
        typer.echo(f"{c.complaint_id}  received {c.received}  {state}")
    if not found:
        typer.echo("no complaints")


@complaint_app.command("close")
def complaint_close(
    vault: VaultArg,
    complaint_id: Annotated[str, typer.Argument(metavar="ID")],
    outcome: Annotated[str, typer.Option("--outcome", help="The outcome given to the complainant.")],
    on: DateOption = None,
    user: UserOption = None,
    recovery: RecoveryOption = False,
) -> None:
    """Close with the outcome; prints the response, which always includes the ICO route."""
    c, text = api.complaint_close(vault, credentials(user, recovery), complaint_id, outcome, parse_date(on, "--on"))
    typer.echo(f"{c.complaint_id} closed")
    typer.echo(text)
