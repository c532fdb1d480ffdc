"""Releases (the output airlock): the checker's view with the SDC verdicts, approve or reject.

Each file is opened on its own page (`release_files.py`); "approve" is offered, and accepted, only once the
checker has opened every file. The two-person rule is the API's: the requester may not decide their own
release. The page says so before anyone tries, and a forced POST gets the API's refusal (403) with its reason.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cscvault import api
from cscvault.web.auth import current_session
from cscvault.web.console import Console
from cscvault.web.pages import paginate, render, route

router = APIRouter()
# The requester (an analyst) may reach the decision routes so that the API can tell them why not.
DECIDE_ROLES = (*api.CHECK_ROLES, *api.REQUEST_ROLES)
ReleaseId = Annotated[str, Path(pattern=r"^REL-\d{4}-\d{4,8}$", max_length=20)]
State = Literal["all", "requested", "approved", "rejected", "exported"]


@route(router, "GET", "/releases", api.READ_ROLES)
def releases(
    request: Request,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    state: Annotated[State, Query()] = "requested",
) -> HTMLResponse:
    console: Console = request.app.state.console
    session = current_session(request)
    found = console.call(api.release_list, console.vault_path, session.credentials, None if state == "all" else state)
    found.sort(key=lambda r: r.requested_at, reverse=True)
    return render(request, "releases.html", session, page=paginate(found, page), state=state)


@route(router, "GET", "/releases/{release_id}", api.READ_ROLES)
def show(request: Request, release_id: ReleaseId) -> HTMLResponse:
    console: Console = request.app.state.console
    session = current_session(request)
    with console.vault(session.credentials) as vault:
        detail = vault.release_show(release_id)
        state = vault.release_review_state(release_id)
    release = detail.release
    own = release.requested_by == session.user
    if release.state != "requested":
        why_not = f"This release is {release.state}: there is nothing left to decide."
    elif own:
        why_not = (
            "You requested this release, so you may not approve or reject it: a second person must (two-person rule)."
        )
    elif session.role not in api.CHECK_ROLES:
        why_not = "Only an output checker can approve or reject a release."
    else:
        why_not = None
    # Approval waits until this checker has opened every file (the API refuses it too); rejecting never waits.
    not_opened = None
    if why_not is None and state.missing:
        not_opened = f"Open every file before approving: {state.missing} of {state.files} not opened yet."
    may_open = session.role in api.CHECK_ROLES or own
    return render(
        request, "release_show.html", session, detail=detail, r=release, why_not=why_not, not_opened=not_opened,
        state=state, may_open=may_open,
    )  # fmt: skip


@route(router, "POST", "/releases/{release_id}/approve", DECIDE_ROLES)
def approve(request: Request, release_id: ReleaseId, note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    console: Console = request.app.state.console
    session = current_session(request)
    console.call(api.release_approve, console.vault_path, session.credentials, release_id, note, require_opened=True)
    session.flash.append(f"Release {release_id} approved.")
    return RedirectResponse(f"/releases/{release_id}", status_code=303)


@route(router, "POST", "/releases/{release_id}/reject", DECIDE_ROLES)
def reject(
    request: Request, release_id: ReleaseId, reason: Annotated[str, Form(min_length=1, max_length=2000)]
) -> Response:
    console: Console = request.app.state.console
    session = current_session(request)
    console.call(api.release_reject, console.vault_path, session.credentials, release_id, reason)
    session.flash.append(f"Release {release_id} rejected.")
    return RedirectResponse(f"/releases/{release_id}", status_code=303)
