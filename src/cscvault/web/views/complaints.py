"""Complaints (role dpo): log, acknowledge within 30 days, close with the outcome and the ICO route."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cscvault import api, clock
from cscvault.web.auth import current_session
from cscvault.web.console import Console
from cscvault.web.pages import paginate, render, route

router = APIRouter()
DPO = ("dpo",)
ComplaintId = Annotated[str, Path(pattern=r"^C-\d{4}-\d{4,6}$", max_length=16)]


def _back() -> RedirectResponse:
    return RedirectResponse("/complaints", status_code=303)


@route(router, "GET", "/complaints", DPO)
def complaints(request: Request, page: Annotated[int, Query(ge=1, le=1_000_000)] = 1) -> HTMLResponse:
    console: Console = request.app.state.console
    session = current_session(request)
    found = console.call(api.complaint_list, console.vault_path, session.credentials)
    found.sort(key=lambda c: (c.received, c.complaint_id), reverse=True)
    return render(request, "complaints.html", session, page=paginate(found, page), today=clock.today())


@route(router, "POST", "/complaints/new", DPO)
def open_complaint(
    request: Request,
    received: Annotated[dt.date, Form()],
    summary_ref: Annotated[str | None, Form(max_length=64)] = None,
) -> Response:
    console: Console = request.app.state.console
    session = current_session(request)
    complaint, letter = console.call(
        api.complaint_open, console.vault_path, session.credentials, received, summary_ref or None
    )
    session.flash.append(f"Complaint {complaint.complaint_id} logged; acknowledge by {complaint.ack_due}.")
    session.flash.append(letter)
    return _back()


@route(router, "POST", "/complaints/{complaint_id}/acknowledge", DPO)
def acknowledge(request: Request, complaint_id: ComplaintId, on: Annotated[dt.date, Form()]) -> Response:
    console: Console = request.app.state.console
    session = current_session(request)
    console.call(api.complaint_acknowledge, console.vault_path, session.credentials, complaint_id, on)
    session.flash.append(f"Complaint {complaint_id} acknowledged.")
    return _back()


@route(router, "POST", "/complaints/{complaint_id}/close", DPO)
def close(
    request: Request,
    complaint_id: ComplaintId,
    outcome: Annotated[str, Form(min_length=1, max_length=500)],
    on: Annotated[dt.date, Form()],
) -> Response:
    console: Console = request.app.state.console
    session = current_session(request)
    _, letter = console.call(api.complaint_close, console.vault_path, session.credentials, complaint_id, outcome, on)
    session.flash.append(f"Complaint {complaint_id} closed.")
    session.flash.append(letter)
    return _back()
