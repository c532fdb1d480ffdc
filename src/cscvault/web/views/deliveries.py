"""Deliveries and data quality per LA and return (counts only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from cscvault import api
from cscvault.web.auth import current_session
from cscvault.web.console import Console
from cscvault.web.pages import paginate, render, route

router = APIRouter()


@route(router, "GET", "/deliveries", ("admin", "analyst", "dpo"))
def deliveries(request: Request, page: Annotated[int, Query(ge=1, le=1_000_000)] = 1) -> HTMLResponse:
    console: Console = request.app.state.console
    session = current_session(request)
    report = console.call(api.quality, console.vault_path, session.credentials)
    listing = paginate(report["deliveries"], page)  # type: ignore[arg-type]
    return render(
        request,
        "deliveries.html",
        session,
        page=listing,
        linkage=report["linkage"],
        summary=report["summary"],
        rows_explained=report["rows_explained"],
    )
