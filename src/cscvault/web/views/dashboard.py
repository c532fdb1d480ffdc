"""The dashboard: what needs attention, per role, in one vault open (several `api` calls would open it
several times; each open costs about a second on a busy machine)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from cscvault import retention
from cscvault.disclosure.release import READ_ROLES, list_releases
from cscvault.ingest.quality import quality_report
from cscvault.rights import requests as rights_requests
from cscvault.vault import ROLES
from cscvault.web.auth import current_session
from cscvault.web.console import Console
from cscvault.web.pages import render, route

router = APIRouter()

QUALITY_ROLES = ("admin", "analyst", "dpo")


@route(router, "GET", "/", ROLES)
def dashboard(request: Request) -> HTMLResponse:
    console: Console = request.app.state.console
    session = current_session(request)
    today = retention.today_utc()
    summary: dict[str, Any] = {}
    with console.vault(session.credentials) as vault:
        summary["retention"] = retention.schedule(vault.study, today)
        summary["warning"] = retention.retention_warning(vault.study, today)
        if session.role in QUALITY_ROLES:
            deliveries = quality_report(vault)["deliveries"]
            severities: dict[str, int] = {}
            for d in deliveries:
                for severity, n in d["findings_by_severity"].items():
                    severities[severity] = severities.get(severity, 0) + n
            summary["deliveries"] = len(deliveries)
            summary["rejected"] = sum(1 for d in deliveries if d["rejected"])
            summary["findings"] = dict(sorted(severities.items()))
        if session.role == "dpo":
            due = rights_requests.list_requests(vault, today, overdue=True, due_soon=True)
            summary["due"] = [(r, r.deadline_status(today)) for r in due][:25]
            summary["due_total"] = len(due)
        if session.role in READ_ROLES:
            summary["releases_waiting"] = len(list_releases(vault, "requested"))
    return render(request, "dashboard.html", session, summary=summary, today=today)
