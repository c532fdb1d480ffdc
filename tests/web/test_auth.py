"""Login, sessions, CSRF and the security headers."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from cscvault.web.app import create_app
from cscvault.web.auth import LOGIN_FAILURES, LoginLimiter, SessionStore
from cscvault.web.console import Console
from tests.web.support import CSRF, DPO, WebVault, login


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _login_post(client: TestClient, user: str, password: str) -> int:
    token = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/login", data={"user": user, "password": password, "csrf_token": token}, follow_redirects=False
    )
    return response.status_code


def test_wrong_password_is_refused_and_repeated_failures_are_rate_limited(web_vault: WebVault) -> None:
    app = create_app(web_vault.path)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        for _ in range(LOGIN_FAILURES):
            assert _login_post(client, DPO.user, "wrong password") == 401
        # Blocked now, even with the right password: no vault open is attempted.
        assert _login_post(client, DPO.user, DPO.secret) == 429
        assert client.get("/", follow_redirects=False).status_code == 303
        # Another user from the same address is not blocked.
        assert _login_post(client, "admin", "wrong password") == 401


def test_login_limiter_window_slides() -> None:
    clock = FakeClock()
    limiter = LoginLimiter(failures=2, window=300, clock=clock)
    limiter.failed("u", "ip")
    limiter.failed("u", "ip")
    assert limiter.blocked("u", "ip") and not limiter.blocked("u", "other-ip")
    clock.now += 301
    assert not limiter.blocked("u", "ip")


def test_login_form_needs_its_token(web_app) -> None:  # type: ignore[no-untyped-def]
    with TestClient(web_app, base_url="http://127.0.0.1") as client:
        response = client.post("/login", data={"user": DPO.user, "password": DPO.secret}, follow_redirects=False)
        assert response.status_code == 403


def test_session_cookie_flags_and_logout(web_app) -> None:  # type: ignore[no-untyped-def]
    with TestClient(web_app, base_url="http://127.0.0.1") as client:
        token = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
        response = client.post(
            "/login",
            data={"user": DPO.user, "password": DPO.secret, "csrf_token": token, "next": "//evil.example/x"},
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/"  # never an open redirect
        cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and "cscvault_session" in v)
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        assert "Secure" not in cookie  # plain http on loopback; --tls-cert turns it on
        csrf = CSRF.search(client.get("/complaints").text).group(1)  # type: ignore[union-attr]
        assert client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
        assert client.get("/complaints", follow_redirects=False).status_code == 303


def test_posts_without_the_session_csrf_token_are_refused(web_vault: WebVault, as_role) -> None:  # type: ignore[no-untyped-def]
    dpo = as_role("dpo")
    before = dpo.client.get("/complaints").text.count("<tr>")
    for data in ({}, {"csrf_token": "forged"}):
        response = dpo.client.post("/complaints/new", data={"received": "2026-01-02", **data}, follow_redirects=False)
        assert response.status_code == 403
        assert "security token" in response.text
    assert dpo.client.get("/complaints").text.count("<tr>") == before


def test_sessions_expire_when_idle_and_absolutely(web_vault: WebVault) -> None:
    clock = FakeClock()
    console = Console(web_vault.path, sessions=SessionStore(idle=900, absolute=8 * 3600, clock=clock))
    app = create_app(web_vault.path, console=console)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        login(client, DPO)
        clock.now += 899
        assert client.get("/complaints", follow_redirects=False).status_code == 200
        clock.now += 901
        assert client.get("/complaints", follow_redirects=False).status_code == 303
    store = SessionStore(idle=900, absolute=3600, clock=clock)
    session = store.create(DPO, "dpo")
    for _ in range(5):  # kept busy, it still ends after the absolute limit
        clock.now += 800
        store.get(session.token)
    assert store.get(session.token) is None


def test_security_headers_on_every_response(as_role) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin").client
    for path in ("/", "/login", "/audit", "/notice", "/report/view", "/static/console.css", "/no-such-page"):
        response = client.get(path)
        h = response.headers
        assert h["x-frame-options"] == "DENY", path
        assert h["x-content-type-options"] == "nosniff", path
        assert h["referrer-policy"] == "same-origin", path
        csp = h["content-security-policy"]
        assert "script-src" not in csp and "'unsafe-eval'" not in csp, path
        assert "frame-ancestors 'none'" in csp, path
        if not path.startswith("/static"):
            assert h["cache-control"] == "no-store", path
    assert as_role("admin").client.get("/").headers["content-security-policy"].startswith("default-src 'self'")


def test_pages_load_nothing_from_elsewhere(as_role) -> None:  # type: ignore[no-untyped-def]
    for role in ("dpo", "admin"):
        html = as_role(role).client.get("/").text
        assert not re.search(r'(src|href)="(https?:)?//', html)
        assert "<script" not in html
