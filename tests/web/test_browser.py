"""The console in real Chromium (Debian's, driven by Playwright): the DPO acts on an access request and
downloads the encrypted package; a checker approves someone else's release; the requester cannot approve
their own. Screenshots go to test-artifacts/web/."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pyrage
import pytest

from cscvault.web.app import create_app
from tests.web.support import ANALYST, CHECKER, DPO, LA_IDS, REVIEW_NAMES, WebVault

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(web_vault: WebVault, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn on 127.0.0.1 and a free port, serving a copy of the test vault."""
    uvicorn = pytest.importorskip("uvicorn")
    copy = tmp_path_factory.mktemp("browser") / "v"
    shutil.copytree(web_vault.path, copy)
    port = _free_port()
    config = uvicorn.Config(
        create_app(copy, report_dir=web_vault.report_dir), host="127.0.0.1", port=port, log_level="warning"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 300  # generous: only a guard against a server that never starts
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _login(browser, server: str, user: str, password: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(accept_downloads=True, viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(server + "/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server + "/")
    return context, page


def test_dpo_opens_an_access_request_acts_and_downloads_the_package(browser, server: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    context, page = _login(browser, server, DPO.user, DPO.secret)
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    _shot(page, "dpo-dashboard")
    page.get_by_role("link", name="Rights requests").click()
    page.get_by_role("link", name="Log a new request").click()
    page.get_by_label("Type of request").select_option("access")
    page.get_by_label("Local authority").select_option("E08000030")
    page.get_by_label("The LA's child id").fill(LA_IDS[5])
    today = dt.date.today().isoformat()
    page.get_by_label("Identity confirmed by the LA on").fill(today)
    page.get_by_role("button", name="Log the request").click()
    page.wait_for_url(f"{server}/rights/R-*")
    assert page.get_by_text("in_progress").first.is_visible()
    assert LA_IDS[5] not in page.content()
    identity = pyrage.x25519.Identity.generate()
    page.get_by_label("Recipient's age public key").fill(str(identity.to_public()))
    _shot(page, "dpo-access-request")
    with page.expect_download() as info:
        page.get_by_role("button", name="Build and download the encrypted package").click()
    download = info.value
    assert download.suggested_filename.endswith(".zip.age")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with zipfile.ZipFile(io.BytesIO(pyrage.decrypt(saved.read_bytes(), [identity]))) as zf:
        doc = json.loads(zf.read("records.json"))
    assert {t: n for t, n in doc["row_counts"].items() if n} == {"test_events": 1, "test_people": 1}
    page.reload()
    assert page.get_by_text("completed").first.is_visible()
    _shot(page, "dpo-request-completed")
    context.close()


def test_checker_approves_another_users_release(browser, server: str, web_vault: WebVault) -> None:  # type: ignore[no-untyped-def]
    context, page = _login(browser, server, CHECKER.user, CHECKER.secret)
    page.get_by_role("link", name="Releases").first.click()
    page.get_by_role("link", name=web_vault.releases[0]).click()
    assert page.get_by_text("requested").first.is_visible()
    assert page.get_by_role("button", name="Approve").is_disabled()  # not before its file has been opened
    page.get_by_role("link", name="Open referrals_by_la.csv").click()
    page.get_by_role("link", name=f"Back to release {web_vault.releases[0]}").click()
    assert page.get_by_role("button", name="Approve").is_enabled()
    page.get_by_label("Note for the record").fill("Counts above the threshold; fine to release.")
    _shot(page, "checker-release")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_load_state()
    assert page.get_by_text(f"Release {web_vault.releases[0]} approved.").is_visible()
    assert page.get_by_role("button", name="Approve").is_disabled()
    _shot(page, "checker-release-approved")
    context.close()


def test_requester_cannot_approve_their_own_release(browser, server: str, web_vault: WebVault) -> None:  # type: ignore[no-untyped-def]
    context, page = _login(browser, server, ANALYST.user, ANALYST.secret)
    page.goto(f"{server}/releases/{web_vault.releases[1]}")
    reason = page.locator("#why-not")
    assert "You requested this release" in reason.inner_text()
    assert "two-person rule" in reason.inner_text()
    approve = page.get_by_role("button", name="Approve")
    assert approve.is_disabled()
    _shot(page, "requester-cannot-approve")
    # Forcing the form anyway (as a crafted request would) gets the API's refusal and its reason.
    page.evaluate("document.querySelectorAll('[disabled]').forEach(e => e.removeAttribute('disabled'))")
    approve.click()
    page.wait_for_load_state()
    assert "may not approve it (two-person rule)" in page.content()
    context.close()


def test_the_checker_opens_every_file_before_approving(browser, server: str, web_vault: WebVault) -> None:  # type: ignore[no-untyped-def]
    rid = web_vault.review_release  # a report, a table with one failing cell, and a plot of that table
    # The requester may open every file too, and still may never approve.
    context, page = _login(browser, server, ANALYST.user, ANALYST.secret)
    page.goto(f"{server}/releases/{rid}")
    for name in REVIEW_NAMES:
        page.get_by_role("link", name=f"Open {name}").click()
        page.get_by_role("link", name=f"Back to release {rid}").click()
    assert "two-person rule" in page.locator("#why-not").inner_text()
    assert page.get_by_role("button", name="Approve").is_disabled()
    context.close()

    context, page = _login(browser, server, CHECKER.user, CHECKER.secret)
    page.goto(f"{server}/releases/{rid}")
    approve = page.get_by_role("button", name="Approve")
    assert approve.is_disabled()
    assert "3 of 3 not opened yet" in page.locator("#not-opened").inner_text()
    _shot(page, "review-before-opening")

    # The report, rendered in a sandboxed frame: its own styles apply, its script and handler never run.
    page.get_by_role("link", name=f"Open {REVIEW_NAMES[0]}").click()
    frame = page.frame_locator("iframe.report-frame")
    assert frame.get_by_role("heading", name="Release review report").is_visible()
    assert page.locator("iframe.report-frame").get_attribute("sandbox") == ""
    heading_colour = frame.locator("h1").evaluate("e => getComputedStyle(e).color")
    assert heading_colour == "rgb(0, 51, 102)"  # the report's own <style> (allowed by its hash)
    assert frame.locator("#said").inner_text() == "odds ratio 0.81"  # the report's script would have changed it
    _shot(page, "review-report")
    # goto, not a click: after Playwright has read inside a script-less sandboxed frame, a click on the outer
    # page's link did not navigate in headless Chromium.
    page.goto(f"{server}/releases/{rid}")
    assert approve.is_disabled()

    # The table: the failing cell is marked, with its reason beside the value.
    page.get_by_role("link", name=f"Open {REVIEW_NAMES[1]}").click()
    failing = page.locator('td[data-verdict="fail"]')
    assert failing.count() == 1 and failing.is_visible()
    assert "threshold: count is below 10" in failing.inner_text()
    assert failing.locator(".cell-reasons").is_visible()
    passing = page.locator('td[data-verdict="pass"]').first
    background = "e => getComputedStyle(e).backgroundColor"
    assert failing.evaluate(background) != passing.evaluate(background)  # visibly marked, not only in the markup
    _shot(page, "review-table")
    page.get_by_role("link", name=f"Back to release {rid}").click()
    assert approve.is_disabled()
    assert "1 of 3 not opened yet" in page.locator("#not-opened").inner_text()

    # The plot, with the checked table it draws below it.
    page.get_by_role("link", name=f"Open {REVIEW_NAMES[2]}").click()
    page.wait_for_load_state("load")  # the image has loaded (or failed)
    image = page.get_by_role("img", name="referrals by quarter")
    assert image.is_visible() and image.evaluate("e => e.complete && e.naturalWidth") == 2
    assert "threshold: count is below 10" in page.locator('td[data-verdict="fail"]').inner_text()
    _shot(page, "review-plot")
    page.get_by_role("link", name=f"Back to release {rid}").click()

    assert approve.is_enabled()
    assert page.get_by_text("(opened)").count() == 3
    page.get_by_label("Note for the record").fill("Opened all three; the small cell leaves suppressed.")
    approve.click()
    page.wait_for_load_state()
    assert page.get_by_text(f"Release {rid} approved.").is_visible()
    assert page.get_by_text(f"approved by {CHECKER.user}").count() == 3  # one decision per file
    _shot(page, "review-approved")
    context.close()


def test_keyboard_users_reach_the_skip_link_and_the_form(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    page.goto(server + "/login")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    assert page.evaluate("getComputedStyle(document.activeElement).left") == "0px"  # visible on focus
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # skip link, brand link, then the user name field
    assert page.evaluate("document.activeElement.id") == "user"
    context.close()
