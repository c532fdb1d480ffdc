"""Re-identification risk for the DPO (roles dpo, admin): the same released summary as `cscvault risk` and the
DPIA annex, in tables with plain words; the what-if comparison only when the button asks for it (it re-fits the
primary model once per generalisation). Aggregates only: the report has passed the disclosure profile."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from cscvault import api
from cscvault.web.auth import current_session
from cscvault.web.console import Console
from cscvault.web.pages import render, route

router = APIRouter()
RISK_ROLES = ("dpo", "admin")


@route(router, "GET", "/risk", RISK_ROLES)
def risk_page(request: Request, what_if: Annotated[bool, Query()] = False) -> HTMLResponse:
    console: Console = request.app.state.console
    session = current_session(request)
    with console.vault(session.credentials) as vault:
        report = vault.risk(what_if=what_if)
        vault_id = vault.vault_id
    return render(
        request,
        "risk.html",
        session,
        report=report,
        vault_id=vault_id,
        words=api.risk_in_plain_words(report),
        measures=api.risk_measure_rows(report.current),
        per_la=api.risk_la_table(report),
        what_if=api.risk_what_if_table(report),
        asked_what_if=what_if,
    )
