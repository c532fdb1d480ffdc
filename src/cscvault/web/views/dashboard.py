"""The dashboard: what needs attention, per role, from one vault open (several one-shot `api` calls would open
it several times; each open costs about a second on a busy machine)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from cscvault import api
from cscvault.web.auth import current_session
from cscvault.web.console import Console
from cscvault.web.pages import render, route

router = APIRouter()


@route(router, "GET", "/", api.ROLES)
def dashboard(request: Request) -> HTMLResponse:
    console: Console = request.app.state.console
    session = current_session(request)
    with console.vault(session.credentials) as vault:
        summary = vault.dashboard()
    return render(request, "dashboard.html", session, summary=summary, today=summary.schedule.today)
