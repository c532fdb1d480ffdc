"""A stored report.pdf leaves the vault only with the run's report.html it was printed from (same run, the
HTML's SHA-256 as recorded for the PDF), and then with the HTML's verdict; alone or beside another HTML it
is refused with one line naming the file and the rule."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

from cscvault import api
from cscvault.errors import UsageError
from cscvault.vault import Credentials
from cscvault.vault.run_outputs import RunOutput, store_outputs
from tests.helpers import PASSWORD, open_raw_vault

ADMIN = Credentials("admin", PASSWORD)
ANALYST = Credentials("ana", "analyst password 1")
CHECKER = Credentials("cheq", "checker password 1")
HTML = b"<!doctype html><html><body><p>report</p></body></html>"
PDF = b"%PDF-1.4 a printed report"


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = api.init_vault(tmp_path_factory.mktemp("vault") / "v", PASSWORD).path
    api.add_user(path, ADMIN, ANALYST.user, "analyst", ANALYST.secret)
    api.add_user(path, ADMIN, CHECKER.user, "checker", CHECKER.secret)
    return path


def _run(vault: Path, html: bytes, printed_from: bytes) -> str:
    """A run storing report.html and a report.pdf whose recorded source is `printed_from`, as `analyse` does."""
    run_id = uuid.uuid4().hex[:12]
    meta = {"from": "report.html", "renderer": "chromium", "source_sha256": hashlib.sha256(printed_from).hexdigest()}
    outputs = [RunOutput("report.html", "html", html), RunOutput("report.pdf", "document", PDF, meta)]
    with open_raw_vault(vault, ADMIN) as v:
        store_outputs(v, run_id, "test", "0" * 64, outputs)
    return run_id


def test_the_pdf_is_released_with_its_html_and_takes_its_verdict(vault: Path, tmp_path: Path) -> None:
    run = _run(vault, HTML, HTML)
    release = api.release_request(vault, ANALYST, [f"{run}:report.html", f"{run}:report.pdf"], "the report")
    detail = api.release_show(vault, CHECKER, release.release_id)
    verdicts = {o.name: o.verdict for o in detail.outputs}
    assert verdicts == {"report.html": "review", "report.pdf": "review"}
    api.release_approve(vault, CHECKER, release.release_id, "")
    bundle = api.release_export(vault, ANALYST, release.release_id, tmp_path)
    assert (bundle / "outputs" / "report.pdf").read_bytes() == PDF


def test_the_pdf_alone_is_refused(vault: Path) -> None:
    run = _run(vault, HTML, HTML)
    before = len(api.release_list(vault, ADMIN))
    with pytest.raises(UsageError, match=r"report\.pdf.*pdf-source.*together with report\.html"):
        api.release_request(vault, ANALYST, [f"{run}:report.pdf"], "just the pdf")
    other = _run(vault, HTML, HTML)  # an identical HTML of another run is not its source
    with pytest.raises(UsageError, match=r"report\.pdf.*pdf-source"):
        api.release_request(vault, ANALYST, [f"{other}:report.html", f"{run}:report.pdf"], "mixed runs")
    assert len(api.release_list(vault, ADMIN)) == before


def test_a_pdf_whose_recorded_source_differs_from_the_html_is_refused(vault: Path) -> None:
    run = _run(vault, HTML, HTML + b"<p>another version</p>")
    with pytest.raises(UsageError, match=r"report\.pdf.*pdf-source.*not printed from this report\.html"):
        api.release_request(vault, ANALYST, [f"{run}:report.html", f"{run}:report.pdf"], "mismatch")
