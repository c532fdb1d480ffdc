"""Data-subject requests (role dpo): the register, logging a request, one request's page and its actions.

The LA child id typed into the new-request form is passed to the API and never shown again; acting on an
access request answers with the age-encrypted package as a download (the only child-level response).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path as FsPath
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cscvault import api, clock
from cscvault.errors import UsageError
from cscvault.web.auth import current_session
from cscvault.web.console import Console
from cscvault.web.pages import paginate, render, route

router = APIRouter()
DPO = ("dpo",)
RequestId = Annotated[str, Path(pattern=r"^R-\d{4}-\d{4,6}$", max_length=16)]
Text = Annotated[str, Form(max_length=500)]
ShortRef = Annotated[str, Form(max_length=64)]
RequestType = Literal["access", "rectification", "erasure", "restriction", "objection"]


def _console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def _back(request_id: str) -> RedirectResponse:
    return RedirectResponse(f"/rights/{request_id}", status_code=303)


@route(router, "GET", "/rights", DPO)
def register(
    request: Request,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    due: Annotated[Literal["all", "due"], Query()] = "all",
) -> HTMLResponse:
    console = _console(request)
    session = current_session(request)
    today = clock.today()
    found = console.call(
        api.rights_list, console.vault_path, session.credentials, overdue=due == "due", due_soon=due == "due"
    )
    rows = [(r, r.deadline_status(today)) for r in found]
    names = console.call(api.la_names, console.vault_path, session.credentials)
    return render(request, "rights_list.html", session, page=paginate(rows, page), due=due, la_names=names)


@route(router, "GET", "/rights/new", DPO)
def new_form(request: Request) -> HTMLResponse:
    console = _console(request)
    session = current_session(request)
    with console.vault(session.credentials) as vault:
        las = vault.local_authorities()
    return render(request, "rights_new.html", session, las=las, types=api.TYPES, today=clock.today())


EARLIEST_DATE = dt.date(2019, 1, 1)  # before any trial data: a typo, not a request date


def _check_dates(**dates: dt.date | None) -> None:
    """Console dates are events that have happened: not after today, not before 2019 (a typed 2099 would
    otherwise issue an id of that year and a deadline decades away)."""
    today = dt.date.today()
    for name, value in dates.items():
        if value is not None and not (EARLIEST_DATE <= value <= today):
            raise UsageError(f"{name} must be between {EARLIEST_DATE.isoformat()} and today ({today.isoformat()})")


@route(router, "POST", "/rights/new", DPO)
def open_request(
    request: Request,
    type_: Annotated[RequestType, Form(alias="type")],
    la: Annotated[str, Form(min_length=1, max_length=64)],
    la_child_id: Annotated[str, Form(min_length=1, max_length=64)],
    received: Annotated[dt.date, Form()],
    identified: Annotated[dt.date | None, Form()] = None,
    requester_ref: Annotated[str | None, Form(max_length=64)] = None,
) -> Response:
    _check_dates(received=received, identified=identified)
    console = _console(request)
    session = current_session(request)
    created = console.call(
        api.rights_open,
        console.vault_path,
        session.credentials,
        type_,
        la,
        la_child_id,
        received,
        identified,
        requester_ref or None,
    )
    session.flash.append(f"Request {created.request_id} logged ({created.type}, {created.state}).")
    return _back(created.request_id)


@route(router, "GET", "/rights/{request_id}", DPO)
def show(request: Request, request_id: RequestId) -> HTMLResponse:
    console = _console(request)
    session = current_session(request)
    view = console.call(api.rights_show, console.vault_path, session.credentials, request_id)
    r = view.request
    names = console.call(api.la_names, console.vault_path, session.credentials)
    return render(
        request,
        "rights_show.html",
        session,
        r=r,
        la_name=names.get(r.la_code, r.la_code),
        events=view.events,
        status=r.deadline_status(view.today),
        is_open=r.state in api.OPEN_STATES,
        is_final=r.state in api.FINAL_STATES,
        max_extension=api.MAX_EXTENSION_MONTHS,
        exemption=api.RESEARCH_EXEMPTION_BASIS,
        today=view.today,
    )


@route(router, "POST", "/rights/{request_id}/identify", DPO)
def identify(request: Request, request_id: RequestId, on: Annotated[dt.date, Form()]) -> Response:
    _check_dates(identified=on)
    console = _console(request)
    session = current_session(request)
    console.call(api.rights_identify, console.vault_path, session.credentials, request_id, on)
    session.flash.append("Identification recorded: the one-month clock has started.")
    return _back(request_id)


@route(router, "POST", "/rights/{request_id}/clarification", DPO)
def clarification(
    request: Request,
    request_id: RequestId,
    asked: Annotated[dt.date, Form()],
    answered: Annotated[dt.date, Form()],
) -> Response:
    _check_dates(asked=asked, answered=answered)
    console = _console(request)
    session = current_session(request)
    console.call(api.rights_clarification, console.vault_path, session.credentials, request_id, asked, answered)
    session.flash.append("Clarification recorded: the clock stood still for that time.")
    return _back(request_id)


@route(router, "POST", "/rights/{request_id}/extend", DPO)
def extend(
    request: Request,
    request_id: RequestId,
    months: Annotated[int, Form(ge=1, le=api.MAX_EXTENSION_MONTHS)],
    notice: Annotated[dt.date, Form()],
    reason: Text,
) -> Response:
    _check_dates(notice=notice)
    console = _console(request)
    session = current_session(request)
    console.call(api.rights_extend, console.vault_path, session.credentials, request_id, months, notice, reason)
    session.flash.append(f"Deadline extended by {months} month(s).")
    return _back(request_id)


@route(router, "POST", "/rights/{request_id}/refuse", DPO)
def refuse(
    request: Request,
    request_id: RequestId,
    decision: Text,
    legal_basis: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    console = _console(request)
    session = current_session(request)
    console.call(api.rights_refuse, console.vault_path, session.credentials, request_id, decision, legal_basis or None)
    session.flash.append("Refusal recorded with its legal basis.")
    return _back(request_id)


@route(router, "POST", "/rights/{request_id}/act", DPO, response_class=Response)
def act(
    request: Request,
    request_id: RequestId,
    recipient: Annotated[str | None, Form(max_length=200)] = None,
    field_name: Annotated[str | None, Form(max_length=100)] = None,
    value: Annotated[str | None, Form(max_length=500)] = None,
    decision: Annotated[str | None, Form(max_length=500)] = None,
    legal_basis: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    """Carry out the request. For access, the answer is the encrypted package itself (never kept on disk)."""
    console = _console(request)
    session = current_session(request)
    with tempfile.TemporaryDirectory(prefix="cscvault-web-") as tmp:
        result = console.call(
            api.rights_act,
            console.vault_path,
            session.credentials,
            request_id,
            out_dir=FsPath(tmp),
            recipient=recipient or None,
            field_name=field_name or None,
            value=value,
            decision=decision or None,
            legal_basis=legal_basis or None,
        )
        if result.package is not None:
            data = result.package.read_bytes()
            name = result.package.name
            return Response(
                data,
                media_type="application/octet-stream",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items()))
    # The action's own message can name a field; it never carries a value, but keep to state and counts.
    session.flash.append(f"Request {request_id} is now {result.request.state}" + (f" ({counts})." if counts else "."))
    return _back(request_id)


@route(router, "POST", "/rights/{request_id}/close", DPO)
def close(request: Request, request_id: RequestId) -> Response:
    console = _console(request)
    session = current_session(request)
    console.call(api.rights_close, console.vault_path, session.credentials, request_id)
    session.flash.append(f"Request {request_id} closed.")
    return _back(request_id)
