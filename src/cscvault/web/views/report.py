"""The latest analysis report, read from the vault (`cscvault analyse` stores it there, never in a folder)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from cscvault import api
from cscvault.web.auth import current_session
from cscvault.web.console import Console
from cscvault.web.pages import render, route

router = APIRouter()
REPORT_ROLES = ("admin", "analyst", "checker")
REPORT_NAME = "report.html"
# The report is self-contained: inline styles and data: images, never scripts; it may not be framed.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; sandbox"


@route(router, "GET", "/report", REPORT_ROLES)
def report_page(request: Request) -> HTMLResponse:
    console: Console = request.app.state.console
    session = current_session(request)
    outputs = console.call(api.run_outputs, console.vault_path, session.credentials)
    latest = next((o for o in outputs if o.name == REPORT_NAME), None)
    written = latest.created_at if latest else None
    folder = f"run {latest.run_id}" if latest else None
    return render(request, "report.html", session, latest=latest, written=written, folder=folder, outputs=outputs)


@route(router, "GET", "/report/view", REPORT_ROLES)
def report_view(request: Request) -> HTMLResponse:
    console: Console = request.app.state.console
    session = current_session(request)
    outputs = console.call(api.run_outputs, console.vault_path, session.credentials)
    latest = next((o for o in outputs if o.name == REPORT_NAME), None)
    if latest is None:
        return render(request, "error.html", session, 404, title="No report", message="no analysis report yet")
    _, data = console.call(api.run_output, console.vault_path, session.credentials, latest.run_id, REPORT_NAME)
    return HTMLResponse(data.decode("utf-8"), headers={"Content-Security-Policy": REPORT_CSP})
