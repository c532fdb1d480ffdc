"""The audit chain, newest first, with its verification status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from cscvault.web.auth import current_session
from cscvault.web.console import Console
from cscvault.web.pages import PAGE_SIZE, Page, render, route

router = APIRouter()


@route(router, "GET", "/audit", ("admin", "dpo"))
def audit_page(request: Request, page: Annotated[int, Query(ge=1, le=1_000_000)] = 1) -> HTMLResponse:
    console: Console = request.app.state.console
    session = current_session(request)
    with console.vault(session.credentials) as vault:
        report = vault.verify_audit()
        pages = max(1, -(-report.entries // PAGE_SIZE))
        number = min(page, pages)
        rows = vault.audit_entries(limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    listing = Page(rows, number, pages, report.entries)
    return render(request, "audit.html", session, report=report, page=listing)
