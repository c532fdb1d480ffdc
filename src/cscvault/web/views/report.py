"""The latest analysis report from the console's report folder (`cscvault analyse --out DIR`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from cscvault.web.auth import current_session
from cscvault.web.console import Console
from cscvault.web.pages import render, route

router = APIRouter()
REPORT_ROLES = ("admin", "analyst", "checker")
REPORT_NAME = "report.html"
# The report is self-contained: inline styles and data: images, never scripts; it may not be framed.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; sandbox"


def latest_report(report_dir: Path | None) -> Path | None:
    """The newest report.html in `report_dir` or one folder below it (one folder per `analyse --out`)."""
    if report_dir is None or not report_dir.is_dir():
        return None
    found = [p for p in (report_dir / REPORT_NAME, *report_dir.glob(f"*/{REPORT_NAME}")) if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime, default=None)


@route(router, "GET", "/report", REPORT_ROLES)
def report_page(request: Request) -> HTMLResponse:
    console: Console = request.app.state.console
    latest = latest_report(console.report_dir)
    written = dt.datetime.fromtimestamp(latest.stat().st_mtime, dt.UTC) if latest else None
    folder = latest.parent.name if latest else None
    return render(request, "report.html", current_session(request), latest=latest, written=written, folder=folder)


@route(router, "GET", "/report/view", REPORT_ROLES)
def report_view(request: Request) -> HTMLResponse:
    console: Console = request.app.state.console
    latest = latest_report(console.report_dir)
    if latest is None:
        return render(
            request, "error.html", current_session(request), 404, title="No report", message="no analysis report yet"
        )
    return HTMLResponse(latest.read_text(encoding="utf-8"), headers={"Content-Security-Policy": REPORT_CSP})
