"""Sessions, CSRF tokens, the login rate limit and the role guard every route depends on.

Sessions live only in this process's memory, keyed by a random token sent as an HttpOnly, SameSite=Strict
cookie. A session holds the user's Credentials because every API call opens the vault with them; nothing
of it is ever written to disk.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request

from cscvault.api import ROLES, Credentials

SESSION_COOKIE = "cscvault_session"
LOGIN_COOKIE = "cscvault_login"  # pre-login CSRF token (double submit)
CSRF_FIELD = "csrf_token"
IDLE_SECONDS = 15 * 60
ABSOLUTE_SECONDS = 8 * 60 * 60
LOGIN_FAILURES = 5
LOGIN_WINDOW_SECONDS = 5 * 60


@dataclass
class Session:
    token: str
    credentials: Credentials
    role: str
    csrf: str
    created: float
    last_seen: float
    flash: list[str] = field(default_factory=list)

    @property
    def user(self) -> str:
        return self.credentials.user


class SessionStore:
    """Server-side sessions with an idle and an absolute expiry."""

    def __init__(
        self,
        idle: float = IDLE_SECONDS,
        absolute: float = ABSOLUTE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle = idle
        self.absolute = absolute
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, credentials: Credentials, role: str) -> Session:
        now = self.clock()
        session = Session(secrets.token_urlsafe(32), credentials, role, secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._purge(now)
            self._sessions[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session for a cookie value (touching it), or None when unknown or expired."""
        if not token:
            return None
        now = self.clock()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if now - session.last_seen > self.idle or now - session.created > self.absolute:
                del self._sessions[token]
                return None
            session.last_seen = now
            return session

    def drop(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def __len__(self) -> int:
        return len(self._sessions)

    def _purge(self, now: float) -> None:
        dead = [
            t for t, s in self._sessions.items() if now - s.last_seen > self.idle or now - s.created > self.absolute
        ]
        for t in dead:
            del self._sessions[t]


class LoginLimiter:
    """At most `failures` failed logins per (user, client address), and `failures * SPREAD` per user from all
    addresses and per address for all users, in a sliding window.

    `try_acquire` takes an attempt and checks the limits in one locked step, before the password is checked, so
    parallel guesses cannot all pass the check first (a race the old check-then-record order allowed). A success
    gives its attempt back. Nothing outlives the window: a tripped limit locks a user out for `window` seconds
    at most, and the right password works again after it.
    """

    SPREAD = 4

    def __init__(
        self,
        failures: int = LOGIN_FAILURES,
        window: float = LOGIN_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures = failures
        self.window = window
        self.clock = clock
        self._seen: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._seen.setdefault(key, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def _keys(self, user: str, client: str) -> tuple[tuple[tuple[str, str], int], ...]:
        wide = self.failures * self.SPREAD
        return (((user, client), self.failures), ((user, "\x00any"), wide), (("\x00any", client), wide))

    def _blocked(self, user: str, client: str, now: float) -> bool:
        return any(len(self._recent(key, now)) >= limit for key, limit in self._keys(user, client))

    def blocked(self, user: str, client: str) -> bool:
        with self._lock:
            return self._blocked(user, client, self.clock())

    def try_acquire(self, user: str, client: str) -> bool:
        """False when a limit is reached; else record this attempt as a failure (until `succeeded`)."""
        with self._lock:
            now = self.clock()
            if self._blocked(user, client, now):
                return False
            for key, _ in self._keys(user, client):
                self._recent(key, now).append(now)
            return True

    def failed(self, user: str, client: str) -> None:
        with self._lock:
            now = self.clock()
            for key, _ in self._keys(user, client):
                self._recent(key, now).append(now)

    def succeeded(self, user: str, client: str) -> None:
        """The attempt taken by `try_acquire` was right: forget this (user, client)'s failures, give it back."""
        with self._lock:
            now = self.clock()
            self._seen.pop((user, client), None)
            for key, _ in self._keys(user, client)[1:]:
                times = self._recent(key, now)
                if times:
                    times.pop()


def same_origin(request: Request) -> bool:
    """A state-changing request must come from the console's own pages: its Origin (or, without one, its
    Referer) must be this console's scheme://host:port. Browsers send Origin on every cross-site POST; a
    request carrying neither header is not from a browser page, which is what cross-site forgery needs."""
    own = f"{request.url.scheme}://{request.url.netloc}"
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == own
    referer = request.headers.get("referer")
    if referer is not None:
        return referer == own or referer.startswith(own + "/")
    return True


class LoginRequired(Exception):
    """No live session: the handler answers 303 to /login."""


class Forbidden(Exception):
    """A live session whose role may not use the route, or a POST without the session's CSRF token."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Guard:
    """The dependency on every non-public route: a live session, an allowed role, and on POST the CSRF token.

    It runs before the endpoint does any work (FastAPI resolves dependencies first).
    """

    def __init__(self, roles: tuple[str, ...]) -> None:
        unknown = set(roles) - set(ROLES)
        if unknown or not roles:
            raise ValueError(f"a guard needs roles from {ROLES}")
        self.roles = roles

    async def __call__(self, request: Request) -> Session:
        store: SessionStore = request.app.state.console.sessions
        session = store.get(request.cookies.get(SESSION_COOKIE))
        if session is None:
            raise LoginRequired()
        if session.role not in self.roles:
            allowed = " or ".join(self.roles)
            raise Forbidden(f"your role ({session.role}) may not open this page; it needs {allowed}")
        if request.method not in ("GET", "HEAD"):
            if not same_origin(request):
                raise Forbidden("this form was sent from another site: open the console's own page and try again")
            form = await request.form()
            sent = form.get(CSRF_FIELD)
            if not isinstance(sent, str) or not secrets.compare_digest(sent, session.csrf):
                raise Forbidden("the form's security token is missing or out of date: reload the page and try again")
        request.state.session = session
        return session


def current_session(request: Request) -> Session:
    """The session the route's Guard attached to the request."""
    session: Session = request.state.session
    return session


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
