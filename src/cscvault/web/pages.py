"""Shared page machinery: templates, pagination, and `route`, which registers a route with its roles."""

from __future__ import annotations

import base64
import hashlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from cscvault.web.auth import CSRF_FIELD, Guard, Session

PAGE_SIZE = 25
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
ROLES_KEY = "x-roles"

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def route(router: APIRouter, method: str, path: str, roles: Sequence[str], **kwargs: Any) -> Callable[[F], F]:
    """Register `path` guarded by `roles`; the roles are also published in the OpenAPI document."""
    guard = Guard(tuple(roles))
    return router.api_route(
        path,
        methods=[method],
        dependencies=[Depends(guard)],
        openapi_extra={ROLES_KEY: list(guard.roles)},
        response_class=kwargs.pop("response_class", HTMLResponse),
        **kwargs,
    )


@dataclass(frozen=True)
class Page:
    """One page of a list."""

    items: list[Any]
    number: int
    count: int
    total: int

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.count


def paginate(items: Sequence[T], number: int, size: int = PAGE_SIZE) -> Page:
    count = max(1, math.ceil(len(items) / size))
    number = min(max(1, number), count)
    start = (number - 1) * size
    return Page(list(items[start : start + size]), number, count, len(items))


def render(
    request: Request,
    template: str,
    session: Session | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    flash: list[str] = []
    if session is not None:
        flash, session.flash = session.flash, []
    context.update(
        session=session,
        csrf_field=CSRF_FIELD,
        csrf_token=session.csrf if session else "",
        flash=flash,
        path=request.url.path,
    )
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)


_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


def inline_style_csp(html: str, frame_ancestors: str = "'none'") -> str:
    """A CSP that allows exactly the document's own <style> blocks (by hash) and nothing else.
    `frame_ancestors` "'self'" lets the console show the document in its own (sandboxed) frame."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.encode()).digest()).decode() + "'" for m in _STYLE.findall(html)
    )
    return (
        f"default-src 'none'; style-src {hashes or chr(39) + 'none' + chr(39)}; "
        f"frame-ancestors {frame_ancestors}; base-uri 'none'"
    )
