"""Every route of the console refuses an anonymous request (303 to /login) and every role it does not allow
(403), before doing any work; /openapi.json lists every route."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount

from cscvault.vault import ROLES
from cscvault.web.app import PUBLIC_PATHS, route_roles
from tests.web.support import WebVault

TODAY = dt.date.today().isoformat()
# Plausible form fields for every POST, so a 403 proves the guard (not validation) refused the request.
FORM = {
    "on": TODAY, "asked": TODAY, "answered": TODAY, "notice": TODAY, "received": TODAY, "months": "1",
    "reason": "test", "decision": "test", "outcome": "test", "note": "test", "type": "access", "la": "Walsall",
    "la_child_id": "NOTAREALID", "recipient": "age1invalid", "user": "x", "password": "y",
}  # fmt: skip
# Routes every signed-in user may use: there is no wrong role to try on these.
OPEN_TO_ALL_ROLES = {("GET", "/"), ("POST", "/logout"), ("GET", "/openapi.json")}


def _routes(app) -> list[tuple[str, str, APIRoute]]:  # type: ignore[no-untyped-def]
    return [(m, r.path, r) for r in app.routes if isinstance(r, APIRoute) for m in sorted(r.methods)]


def _concrete(path: str, web_vault: WebVault) -> str:
    # Ids of objects that exist, so that a missing guard would reach real work.
    return (
        path.replace("{request_id}", web_vault.access_request)
        .replace("{complaint_id}", "C-" + TODAY[:4] + "-0001")
        .replace("{release_id}", web_vault.releases[1])
        .replace("{position}", "0")
    )


def test_the_app_has_the_pages_the_issue_asks_for(web_app) -> None:  # type: ignore[no-untyped-def]
    paths = {p for _, p, _ in _routes(web_app)}
    for wanted in ("/login", "/logout", "/", "/deliveries", "/rights", "/rights/new", "/rights/{request_id}",
                   "/complaints", "/releases", "/releases/{release_id}", "/report", "/audit", "/risk", "/notice",
                   "/openapi.json"):  # fmt: skip
        assert wanted in paths
    mounts = [r.path for r in web_app.routes if isinstance(r, Mount)]
    assert mounts == ["/static"]  # the stylesheet: public on purpose (the login page needs it)
    assert not any(p.startswith("/docs") or p.startswith("/redoc") for p in paths)


def test_every_route_rejects_anonymous_requests(web_app, web_vault: WebVault) -> None:  # type: ignore[no-untyped-def]
    checked = 0
    with TestClient(web_app, base_url="http://127.0.0.1") as anonymous:
        for method, path, _ in _routes(web_app):
            if path in PUBLIC_PATHS:
                continue
            url = _concrete(path, web_vault)
            response = anonymous.request(method, url, data=FORM if method == "POST" else None, follow_redirects=False)
            assert response.status_code == 303, (method, path, response.status_code)
            assert response.headers["location"].startswith("/login"), (method, path)
            checked += 1
    assert checked >= 20


@pytest.mark.parametrize("role", ROLES)
def test_every_route_rejects_the_wrong_roles(web_app, web_vault: WebVault, as_role, role: str) -> None:  # type: ignore[no-untyped-def]
    signed = as_role(role)
    refused = 0
    for method, path, r in _routes(web_app):
        if path in PUBLIC_PATHS:
            continue
        allowed = route_roles(r)
        assert allowed, path
        if set(allowed) == set(ROLES):
            assert (method, path) in OPEN_TO_ALL_ROLES
            continue
        if role in allowed:
            continue
        url = _concrete(path, web_vault)
        data = {**FORM, "csrf_token": signed.csrf} if method == "POST" else None
        response = signed.client.request(method, url, data=data, follow_redirects=False)
        assert response.status_code == 403, (role, method, path, response.status_code)
        assert f"your role ({role}) may not open this page" in response.text
        refused += 1
    assert refused >= 3


def test_public_routes_need_no_login(web_app) -> None:  # type: ignore[no-untyped-def]
    with TestClient(web_app, base_url="http://127.0.0.1") as anonymous:
        assert anonymous.get("/notice").status_code == 200
        assert anonymous.get("/login").status_code == 200
        assert anonymous.get("/static/console.css").status_code == 200


def test_openapi_lists_every_route_and_its_roles(web_app, as_role) -> None:  # type: ignore[no-untyped-def]
    doc = as_role("checker").client.get("/openapi.json").json()
    listed = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert listed == {(m, p) for m, p, _ in _routes(web_app)}
    for _, p, r in _routes(web_app):
        for op in doc["paths"][p].values():
            assert op.get("x-roles", []) == list(route_roles(r))


def test_an_unguarded_route_stops_the_app_from_being_built(web_vault: WebVault) -> None:
    from cscvault.web import app as app_module
    from cscvault.web.views import report

    @report.router.get("/unguarded-for-test")
    def unguarded() -> str:
        return "oops"

    try:
        with pytest.raises(RuntimeError, match="/unguarded-for-test has no role guard"):
            app_module.create_app(web_vault.path)
    finally:
        report.router.routes.pop()
