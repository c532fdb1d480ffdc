"""In real Chromium (issue 20): the DPO's register and request page name the LA, the console's date inputs
are written YYYY-MM-DD, and the access package reads as plain English for a child or parent, with the
technical appendix apart. Screenshots go to test-artifacts/web/ (look at them)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest

from cscvault.rights.access_package import build_package
from cscvault.rights.requests import get as get_request
from tests.helpers import open_raw_vault
from tests.web.support import DPO, WebVault
from tests.web.test_browser import _login, _shot, browser, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

KEY = "a3f1" * 16  # a 64-character pseudonym, as the vault stores one
SHA = "0b9e" * 16
RAW_COLUMNS = ("sessions_authorised_absence", "legal_status", "placement_type", "child_key", "start_date", "la_code")


def test_register_and_request_page_show_the_la_by_name(browser, server: str, web_vault: WebVault) -> None:  # noqa: F811
    context, page = _login(browser, server, DPO.user, DPO.secret)
    page.goto(server + "/rights")
    first_row = page.locator("table tbody tr").first
    assert "Walsall" in first_row.inner_text()
    assert "E08000030" not in page.content()
    page.goto(f"{server}/rights/{web_vault.access_request}")
    assert page.locator("dt:has-text('Local authority') + dd").inner_text() == "Walsall"
    assert "E08000030" not in page.content()
    page.goto(server + "/rights/new")
    received = page.locator("#received")
    assert received.get_attribute("type") == "text" and received.get_attribute("placeholder") == "YYYY-MM-DD"
    assert received.input_value() == dt.date.today().isoformat()
    _shot(page, "rights-new-iso-dates")
    context.close()


def _records() -> dict[str, list[dict[str, object]]]:
    common = {"child_key": KEY, "la_code": "E08000030", "delivery": SHA}
    return {
        "children": [{**common, "gender": "2", "ethnicity": "WBRI", "disability": "NONE", "uasc": False}],
        "assessments": [
            {
                **common,
                "referral_date": dt.date(2021, 3, 3),
                "start_date": dt.date(2021, 3, 4),
                "authorised_date": dt.date(2021, 4, 1),
                "factors": "2A,4B,5B",
                "outcome": None,
                "age_months": 97,
            }
        ],
        "cla_episodes": [
            {
                **common,
                "start_date": dt.date(2021, 6, 10),
                "end_date": None,
                "legal_status": "C2",
                "placement_type": "U1",
                "reason_start": "N1",
                "reason_end": None,
                "kinship": False,
                "returned_home": None,
                "age_months": 100,
            }
        ],
        "attendance_terms": [
            {
                **common,
                "term": "2021_autumn",
                "sessions_possible": 140,
                "sessions_authorised_absence": 6,
                "sessions_unauthorised_absence": 2,
                "unauthorised_pct": 1.4,
                "age_months": 103,
            }
        ],
        "cp_plans": [],
    }


def test_access_package_reads_as_plain_english(browser, web_vault: WebVault, tmp_path: Path) -> None:  # noqa: F811
    with open_raw_vault(web_vault.path, DPO) as vault:
        request = get_request(vault, web_vault.access_request)
        package = build_package(vault, request, _records(), [])
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        html = zf.read("index.html").decode()
    page = browser.new_context(viewport={"width": 800, "height": 1000}).new_page()
    page.set_content(html)
    headings = page.locator("h2").all_inner_texts()
    assert headings[:2] == ["What this is and where it came from", "About you"]
    for wanted in ("Assessments", "Time in care", "School attendance", "Child protection plans", "Technical appendix"):
        assert wanted in headings
    assert headings[-1] == "Technical appendix"
    main = page.evaluate("""() => {
        const copy = document.querySelector('main').cloneNode(true);
        copy.querySelector('.appendix').remove();
        return copy.innerText;
    }""")
    for raw in RAW_COLUMNS:
        assert raw not in main, raw
    assert KEY not in main and SHA not in main
    assert "pseudonym" in main and "3 March 2021" in main
    assert "Sessions missed with the school's permission" in main
    assert "Autumn term 2021" in main
    assert "(2A)" in main and "(4B)" in main and "(5B)" in main and "(C2)" in main
    assert "We hold no records of this kind about you." in main  # the empty child protection section
    appendix = page.locator(".appendix").inner_text()
    assert KEY in appendix and SHA in appendix
    # every table fits the page: nothing wider than the viewport
    widest = page.evaluate("() => Math.max(...[...document.querySelectorAll('table')].map(t => t.scrollWidth))")
    assert widest <= 800
    _shot(page, "access-package-plain-english")
    page.context.close()
