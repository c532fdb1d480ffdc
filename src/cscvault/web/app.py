"""The FastAPI application: `create_app(vault_path, ...)` wires sessions, the role guard, security headers and
the pages. Every route except PUBLIC_PATHS carries a Guard; `create_app` refuses to build an app otherwise.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Mount

from cscvault import api
from cscvault.errors import (
    AuthError,
    CscvaultError,
    DataError,
    PermissionDenied,
    UsageError,
    VaultDestroyed,
    VaultStateError,
)
from cscvault.web import auth
from cscvault.web.auth import Forbidden, Guard, LoginRequired
from cscvault.web.console import Console
from cscvault.web.pages import inline_style_csp, render, route
from cscvault.web.views import (
    audit_log,
    complaints,
    dashboard,
    deliveries,
    release_files,
    releases,
    report,
    rights,
    risk,
)

# Reachable without a session: the login form, the public privacy notice, and the stylesheet.
__all__ = ["CSP", "PUBLIC_PATHS", "create_app", "inline_style_csp"]

PUBLIC_PATHS = frozenset({"/login", "/notice"})
STATIC_PREFIX = "/static"
CSP = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"


def create_app(
    vault_path: Path,
    report_dir: Path | None = None,
    study_path: Path | None = None,
    secure_cookies: bool = False,
    console: Console | None = None,
) -> FastAPI:
    """The web console for one vault. `report_dir` is no longer read: reports are stored in the vault."""
    app = FastAPI(
        title="cscvault console",
        version="1",
        docs_url=None,  # Swagger UI needs scripts from a CDN; the schema itself is at /openapi.json
        redoc_url=None,
        openapi_url=None,  # served below behind the login guard
    )
    app.state.console = console or Console(
        Path(vault_path), report_dir=report_dir, study_path=study_path, secure_cookies=secure_cookies
    )
    _security_headers(app)
    _error_handlers(app)
    _session_routes(app)
    for module in (dashboard, deliveries, rights, complaints, releases, release_files, report, audit_log, risk):
        _add_routes(app, module.router)
    app.mount(STATIC_PREFIX, StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    check_guarded(app)
    return app


def _add_routes(app: FastAPI, router: APIRouter) -> None:
    """Copy a view module's routes onto the app as plain routes (FastAPI >= 0.160 keeps an included router as
    one opaque entry in `app.routes`; flat routes keep `app.routes` a complete list for checks and tests)."""
    for r in router.routes:
        if not isinstance(r, APIRoute):
            raise TypeError(f"unexpected route type {type(r).__name__} in a view module")
        app.router.add_api_route(
            r.path,
            r.endpoint,
            methods=sorted(r.methods or ()),
            name=r.name,
            dependencies=r.dependencies,
            openapi_extra=r.openapi_extra,
            response_class=r.response_class,
            include_in_schema=r.include_in_schema,
        )


def check_guarded(app: FastAPI) -> None:
    """Fail closed: every route outside PUBLIC_PATHS must depend on a Guard."""
    for r in app.routes:
        if isinstance(r, Mount) and r.path == STATIC_PREFIX:
            continue
        if not isinstance(r, APIRoute):
            raise RuntimeError(f"route {getattr(r, 'path', r)!r} is not a plain route: it cannot be checked")
        if r.path not in PUBLIC_PATHS and not route_roles(r):
            raise RuntimeError(f"route {r.path} has no role guard")


def route_roles(r: APIRoute) -> tuple[str, ...]:
    """The roles a route's Guard allows (empty for a public route)."""
    for dep in r.dependant.dependencies:
        if isinstance(dep.call, Guard):
            return dep.call.roles
    return ()


def _security_headers(app: FastAPI) -> None:
    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        # DENY, except the one route that serves a report into the console's own sandboxed frame (SAMEORIGIN).
        h.setdefault("X-Frame-Options", "DENY")
        h["X-Content-Type-Options"] = "nosniff"
        # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on the console's own form
        # posts, and the same-origin check (auth.same_origin) could not tell them from a forged one.
        h["Referrer-Policy"] = "same-origin"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if not request.url.path.startswith(STATIC_PREFIX + "/"):
            h["Cache-Control"] = "no-store"
        if request.app.state.console.secure_cookies:
            h["Strict-Transport-Security"] = "max-age=31536000"
        return response


_STATUS = (
    (PermissionDenied, 403),
    (AuthError, 401),
    (UsageError, 400),
    (DataError, 422),
    (VaultDestroyed, 410),
    (VaultStateError, 409),  # in use, locked, tampered, storage: a conflict with the vault's state, said plainly
)


def error_status(exc: CscvaultError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        target = "/login"
        if request.method == "GET" and request.url.path != "/":
            target += "?next=" + quote(request.url.path, safe="/")
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        session = getattr(request.state, "session", None) or _session_of(request)
        return render(request, "error.html", session, 403, title="Not allowed", message=exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        # Name the fields only: FastAPI's default answer echoes the submitted values, which may be a child's id.
        fields = sorted({".".join(str(p) for p in e.get("loc", ())[1:]) or "request" for e in exc.errors()})
        session = _session_of(request)
        message = "please check: " + ", ".join(fields)
        return render(request, "error.html", session, 422, title="Some fields are not valid", message=message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        session = _session_of(request)
        title = "Page not found" if exc.status_code == 404 else "That did not work"
        return render(request, "error.html", session, exc.status_code, title=title, message=str(exc.detail))

    @app.exception_handler(CscvaultError)
    async def cscvault_error(request: Request, exc: CscvaultError) -> Response:
        # Messages from cscvault never carry a child-level value (see errors.py), so they can be shown.
        session = getattr(request.state, "session", None)
        status = error_status(exc)
        return render(request, "error.html", session, status, title="That did not work", message=exc.message)


def _session_of(request: Request) -> auth.Session | None:
    console: Console = request.app.state.console
    return console.sessions.get(request.cookies.get(auth.SESSION_COOKIE))


def _safe_next(target: str | None) -> str:
    """Only a local path: never another site (open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _session_routes(app: FastAPI) -> None:
    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str | None = None) -> Response:
        console: Console = request.app.state.console
        if _session_of(request) is not None:
            return RedirectResponse(_safe_next(next), status_code=303)
        token = secrets.token_urlsafe(32)
        response = render(request, "login.html", None, login_token=token, next=_safe_next(next), error=None)
        response.set_cookie(
            auth.LOGIN_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=console.secure_cookies,
            path="/login",
        )
        return response

    @app.post("/login", response_class=HTMLResponse)
    def login(
        request: Request,
        user: Annotated[str, Form(max_length=64)],
        password: Annotated[str, Form(max_length=1024)],
        csrf_token: Annotated[str, Form(max_length=128)] = "",
        next: Annotated[str, Form(max_length=512)] = "/",
    ) -> Response:
        console: Console = request.app.state.console
        if not auth.same_origin(request):
            raise Forbidden("this form was sent from another site: open the console's own page and try again")
        cookie = request.cookies.get(auth.LOGIN_COOKIE, "")
        if not cookie or not secrets.compare_digest(cookie, csrf_token):
            raise Forbidden("the login form's security token is missing or out of date: reload the page")
        client = auth.client_address(request)
        # The attempt is taken before the password is checked, atomically with the limit check (no race).
        if not console.limiter.try_acquire(user, client):
            return _login_again(request, 429, "Too many failed attempts: wait five minutes and try again.", next)
        try:
            role = console.call(_open_for_login, console, api.Credentials(user, password))
        except AuthError:
            return _login_again(request, 401, "Wrong user name or password.", next)
        console.limiter.succeeded(user, client)
        session = console.sessions.create(api.Credentials(user, password), role)
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(
            auth.SESSION_COOKIE,
            session.token,
            httponly=True,
            samesite="strict",
            secure=console.secure_cookies,
            path="/",
        )
        response.delete_cookie(auth.LOGIN_COOKIE, path="/login")
        return response

    @route(app.router, "POST", "/logout", api.ROLES)
    def logout(request: Request) -> Response:
        console: Console = request.app.state.console
        console.sessions.drop(request.cookies.get(auth.SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(auth.SESSION_COOKIE, path="/")
        return response

    @route(app.router, "GET", "/openapi.json", api.ROLES, response_class=JSONResponse)
    def openapi(request: Request) -> dict[str, Any]:
        doc: dict[str, Any] = request.app.openapi()
        return doc

    @app.get("/notice", response_class=HTMLResponse)
    def notice(request: Request) -> Response:
        console: Console = request.app.state.console
        html = console.notice_html or api.render_notice(console.study_path, fmt="html")
        return HTMLResponse(html, headers={"Content-Security-Policy": inline_style_csp(html)})


def _open_for_login(console: Console, credentials: api.Credentials) -> str:
    """Check a password by opening the user's key slot; remember the vault's public notice on the way."""
    with api.open_vault(console.vault_path, credentials) as vault:
        if console.notice_html is None and console.study_path is None:
            console.notice_html = vault.notice_html()
        return vault.role


def _login_again(request: Request, status: int, error: str, next: str) -> Response:
    console: Console = request.app.state.console
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", None, status, login_token=token, next=_safe_next(next), error=error)
    response.set_cookie(
        auth.LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=console.secure_cookies, path="/login"
    )
    return response
