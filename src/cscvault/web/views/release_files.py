"""The checker's per-file review of a release: every file opened in the console before "approve" is offered.

- HTML reports are shown in a sandboxed frame (no scripts, no same-origin access), served from their own
  route with a CSP that allows only the report's own <style> blocks and data: images.
- Tables are shown as tables: each count cell with its value, the value that would leave (rounded or
  suppressed) and its verdict and reasons; failing cells are marked.
- Figures (PNG) are shown beside the checked table they draw (the run's meta names it).

Opening a file here is recorded in the vault for a checker (`api.release_open_file`); the approve route asks
the API to refuse until every file has been opened. Only checkers and the requesting analyst may open files.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from cscvault import api
from cscvault.errors import UsageError
from cscvault.web.auth import current_session
from cscvault.web.console import Console
from cscvault.web.pages import inline_style_csp, render, route
from cscvault.web.views.releases import ReleaseId

router = APIRouter()
Position = Annotated[int, Path(ge=0, le=10_000)]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# The frame's document: its own <style> blocks and data: images only, no scripts (CSP sandbox as well as the
# iframe's sandbox attribute), framed by the console's own pages only.
FRAME_HEADERS = {"X-Frame-Options": "SAMEORIGIN"}


@dataclass(frozen=True)
class Cell:
    text: str
    released: str | None = None  # None: a label cell (no verdict)
    verdict: str = ""
    reasons: list[str] = field(default_factory=list)
    suppressed: bool = False


@dataclass(frozen=True)
class TableView:
    name: str
    columns: list[str]
    rows: list[list[Cell]]
    counts: dict[str, int]
    withheld: list[str]


def _rows(data: bytes | None) -> tuple[list[str], list[dict[str, str]]]:
    if not data:
        return [], []
    reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
    rows = [r for r in reader if any((v or "").strip() for v in r.values())]  # as pandas: blank lines skipped
    return list(reader.fieldnames or []), rows


def _is_count(value: str) -> bool:
    try:
        return float(value).is_integer()
    except ValueError:
        return False


def table_view(file: api.ReleaseFile) -> TableView:
    """A table of a release with each cell's verdict: cells the checks listed carry their verdict and reasons,
    the other whole-number cells of a checked table passed."""
    columns, rows = _rows(file.content)
    _, released = _rows(file.released)
    checks = file.output.checks
    verdicts = {(int(c["row"]), str(c["column"])): c for c in checks.get("cell_verdicts", [])}
    checked = "cells" in checks  # a table the profile checked cell by cell (else reviewed as a whole)
    withheld = [str(c) for c in checks.get("withheld_columns", [])]
    out: list[list[Cell]] = []
    for i, row in enumerate(rows):
        line = []
        for col in columns:
            value = row.get(col) or ""
            leaving = released[i].get(col) if i < len(released) and col in released[i] else None
            found = verdicts.get((i, col))
            if found is not None:
                line.append(
                    Cell(value, leaving or "withheld", str(found["verdict"]), list(found.get("reasons") or
                         found.get("rules") or []), bool(found.get("suppressed")))
                )  # fmt: skip
            elif col in withheld:
                line.append(Cell(value, "withheld", "review", ["not-a-count: withheld (not a whole-number count)"]))
            elif checked and _is_count(value):
                line.append(Cell(value, leaving if leaving is not None else value, "pass"))
            else:
                line.append(Cell(value))
        out.append(line)
    counts: dict[str, int] = {
        k: int(checks[k]) for k in ("cells", "pass", "review", "fail", "suppressed") if k in checks
    }
    return TableView(file.output.name, columns, out, counts, withheld)


@dataclass(frozen=True)
class Underlying:
    """The data a figure draws: its name, the file of this release holding it, and its checked cells."""

    name: str
    output: api.ReleaseOutput | None
    table: TableView | None


def _underlying(vault: api.VaultSession, detail: api.ReleaseDetail, meta: dict[str, Any]) -> Underlying | None:
    name = meta.get("data")
    if not isinstance(name, str):
        return None
    match = next((o for o in detail.outputs if o.name == name), None)
    if match is None or match.kind != "table":
        return Underlying(name, match, None)
    return Underlying(name, match, table_view(vault.release_file(detail.release.release_id, match.position)))


@route(router, "GET", "/releases/{release_id}/files/{position}", api.REVIEW_ROLES)
def review_file(request: Request, release_id: ReleaseId, position: Position) -> HTMLResponse:
    console: Console = request.app.state.console
    session = current_session(request)
    with console.vault(session.credentials) as vault:
        file = vault.release_open_file(release_id, position)  # records a checker's opening
        detail = vault.release_show(release_id)
        state = vault.release_review_state(release_id)
        kind = file.output.kind
        table = table_view(file) if kind == "table" else None
        data = _underlying(vault, detail, file.output.meta) if kind == "figure" else None
    text = None
    if kind == "document":  # a PDF: binary, and the gate let it in only beside the HTML it was printed from
        source = file.output.meta.get("from") or "the run's HTML report"
        text = (
            f"A PDF of {len(file.content)} bytes, printed from {source} of the same run: the release gate "
            f"checked that this release holds exactly that {source} (by its SHA-256). Review {source}."
        )
    elif kind not in ("table", "html", "figure"):
        text = file.content.decode("utf-8", errors="replace")
    return render(
        request, "release_file.html", session, r=detail.release, detail=detail, o=file.output, table=table,
        data=data, text=text, state=state,
    )  # fmt: skip


@route(router, "GET", "/releases/{release_id}/files/{position}/frame", api.REVIEW_ROLES)
def review_frame(request: Request, release_id: ReleaseId, position: Position) -> Response:
    """An HTML report's own document, for the sandboxed frame of its review page (and nothing else)."""
    console: Console = request.app.state.console
    session = current_session(request)
    file = console.call(api.release_open_file, console.vault_path, session.credentials, release_id, position)
    if file.output.kind != "html":
        raise UsageError(f"release {release_id}: file {position} is not an HTML report")
    html = file.content.decode("utf-8", errors="replace")
    csp = inline_style_csp(html, frame_ancestors="'self'").replace(
        "default-src 'none';", "default-src 'none'; img-src data:; form-action 'none';"
    )
    return HTMLResponse(html, headers={**FRAME_HEADERS, "Content-Security-Policy": csp + "; sandbox"})


@route(router, "GET", "/releases/{release_id}/files/{position}/image", api.REVIEW_ROLES, response_class=Response)
def review_image(request: Request, release_id: ReleaseId, position: Position) -> Response:
    """A figure's PNG bytes (only a real PNG is served as an image)."""
    console: Console = request.app.state.console
    session = current_session(request)
    file = console.call(api.release_open_file, console.vault_path, session.credentials, release_id, position)
    if file.output.kind != "figure" or not file.content.startswith(PNG_MAGIC):
        raise UsageError(f"release {release_id}: file {position} is not a PNG figure")
    return Response(file.content, media_type="image/png", headers={"Content-Security-Policy": "default-src 'none'"})
