"""The login limit cannot be raced or used to lock a user out for good; cross-site POSTs are refused."""

from __future__ import annotations

import threading
from collections import Counter

from fastapi.testclient import TestClient

from cscvault.web.app import create_app
from cscvault.web.auth import LOGIN_FAILURES, LOGIN_WINDOW_SECONDS, LoginLimiter
from cscvault.web.console import Console
from tests.web.support import CSRF, DPO, WebVault

BASE = "http://127.0.0.1"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _attempt(app, password: str, headers: dict[str, str] | None = None) -> int:  # type: ignore[no-untyped-def]
    with TestClient(app, base_url=BASE) as client:
        token = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
        response = client.post(
            "/login",
            data={"user": DPO.user, "password": password, "csrf_token": token},
            headers=headers or {},
            follow_redirects=False,
        )
        return response.status_code


def test_parallel_wrong_passwords_are_checked_at_most_the_limit_then_the_window_reopens(web_vault: WebVault) -> None:
    clock = FakeClock()
    console = Console(web_vault.path, limiter=LoginLimiter(clock=clock))
    app = create_app(web_vault.path, console=console)
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def guess() -> None:
        start.wait()
        code = _attempt(app, "wrong password guess")
        with lock:
            statuses.append(code)

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    counted = Counter(statuses)
    assert sum(counted.values()) == 20
    assert counted[401] <= LOGIN_FAILURES and counted[401] + counted[429] == 20, counted
    # Locked for the window only: the right password is refused now, and works once the window has passed.
    assert _attempt(app, DPO.secret) == 429
    clock.now += LOGIN_WINDOW_SECONDS + 1
    assert _attempt(app, DPO.secret) == 303


def test_cross_origin_posts_are_refused(web_vault: WebVault) -> None:
    app = create_app(web_vault.path)
    assert _attempt(app, DPO.secret, {"Origin": "http://evil.example"}) == 403
    assert _attempt(app, DPO.secret, {"Referer": "http://evil.example/page"}) == 403
    with TestClient(app, base_url=BASE) as client:
        token = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
        ok = client.post(
            "/login",
            data={"user": DPO.user, "password": DPO.secret, "csrf_token": token},
            headers={"Origin": BASE},
            follow_redirects=False,
        )
        assert ok.status_code == 303
        csrf = CSRF.search(client.get("/complaints").text).group(1)  # type: ignore[union-attr]
        forged = client.post(
            "/logout", data={"csrf_token": csrf}, headers={"Origin": "https://evil.example"}, follow_redirects=False
        )
        assert forged.status_code == 403  # a valid token does not help a cross-site request
        assert client.get("/complaints", follow_redirects=False).status_code == 200  # still signed in


def test_state_errors_are_409_and_console_dates_are_range_checked(as_role) -> None:  # type: ignore[no-untyped-def]
    from cscvault.errors import TamperedError, VaultInUse
    from cscvault.web.app import error_status

    assert error_status(VaultInUse("vault in use by another process")) == 409
    assert error_status(TamperedError("tampered")) == 409
    dpo = as_role("dpo")
    page = dpo.client.get("/rights/new").text
    csrf = CSRF.search(page).group(1)  # type: ignore[union-attr]
    before = dpo.client.get("/rights").text.count("R-2099")
    for received in ("2099-01-01", "2018-12-31"):
        response = dpo.client.post(
            "/rights/new",
            data={"type": "access", "la": "Walsall", "la_child_id": "X1", "received": received, "csrf_token": csrf},
            follow_redirects=False,
        )
        assert response.status_code == 400
        assert "between 2019-01-01 and today" in response.text
    assert dpo.client.get("/rights").text.count("R-2099") == before == 0
