"""No child-level value appears on any page: the LA child ids planted in the vault and those of the ingested
synthetic returns (with their referral ids), their pseudonyms (child keys) and the planted event date are absent from every page each role can reach, and from the
answers to forms that carried an LA child id. The one exception, the access package, is encrypted."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from urllib.parse import urljoin, urlsplit

import pytest

from cscvault.vault import ROLES
from tests.web.support import LA_IDS, PLANTED_DATE, WebVault

LINK = re.compile(r'href="(/[^"#]*)"')
# Detail pages are one per object: visit a few of each kind, not all.
DETAIL = re.compile(r"^/(rights|releases)/[A-Z]+-")
MAX_DETAIL = 3
# Later pages of a list use the same template as the first two: stop there (each page opens the vault).
MAX_LIST_PAGES = 2


def _needles(web_vault: WebVault) -> list[str]:
    return [
        *LA_IDS,
        *web_vault.synth_ids,
        *web_vault.child_keys,
        PLANTED_DATE.isoformat(),
        PLANTED_DATE.strftime("%d/%m/%Y"),
    ]


def _crawl(client, start: list[str]) -> dict[str, str]:  # type: ignore[no-untyped-def]
    seen: dict[str, str] = {}
    details: Counter[str] = Counter()
    queue = list(start)
    while queue:
        url = queue.pop(0)
        path = urlsplit(url).path
        if url in seen or path in ("/logout",) or path.startswith("/static"):
            continue
        query = urlsplit(url).query
        page_no = re.search(r"(?:^|&)page=(\d+)", query)
        if page_no and int(page_no.group(1)) > MAX_LIST_PAGES:
            continue
        if DETAIL.match(path):
            kind = path.split("/")[1]
            if details[kind] >= MAX_DETAIL:
                continue
            details[kind] += 1
        response = client.get(url, follow_redirects=False)
        assert response.status_code in (200, 303, 403), (url, response.status_code)
        seen[url] = "\n".join([response.text, *(f"{k}: {v}" for k, v in response.headers.items())])
        if "text/html" in response.headers.get("content-type", ""):
            queue += [urljoin(url, h.replace("&amp;", "&")) for h in LINK.findall(response.text)]
    return seen


@pytest.mark.parametrize("role", ROLES)
def test_no_child_level_value_on_any_page(as_role, web_vault: WebVault, role: str) -> None:  # type: ignore[no-untyped-def]
    client = as_role(role).client
    start = ["/", "/openapi.json", "/notice", "/rights?page=2", "/audit?page=2", "/releases?state=all"]
    start += ["/risk", "/risk?what_if=true"]  # the what-if comparison is behind a form button, not a link
    start += [f"/rights/{web_vault.access_request}", f"/releases/{web_vault.releases[1]}"]
    pages = _crawl(client, start)
    assert len(pages) >= 6
    if role == "dpo":  # the crawl reached the pages that are about one child's request
        assert sum(u.startswith("/rights/R-") for u in pages) >= 2
    if role == "checker":
        assert sum(u.startswith("/releases/REL-") for u in pages) >= 2
    needles = _needles(web_vault)
    leaks = [(url, n) for url, text in pages.items() for n in needles if n in text]
    assert leaks == []


def test_forms_that_carry_a_child_id_never_echo_it(as_role, web_vault: WebVault) -> None:  # type: ignore[no-untyped-def]
    dpo = as_role("dpo")
    today = dt.date.today().isoformat()
    planted = LA_IDS[11]
    attempts = [
        {"type": "access", "la": "E08000030", "la_child_id": planted, "received": today, "requester_ref": "a b!"},
        {"type": "access", "la": "E08000030", "la_child_id": planted * 10, "received": today},  # too long
        {"type": "access", "la": "E08000030", "la_child_id": planted, "received": "not a date"},
        {"type": "nonsense", "la": "E08000030", "la_child_id": planted, "received": today},
        {"type": "access", "la": "Nowhere", "la_child_id": planted, "received": today},
    ]
    for data in attempts:
        response = dpo.client.post("/rights/new", data={**data, "csrf_token": dpo.csrf}, follow_redirects=False)
        assert response.status_code in (400, 422), data
        assert planted not in response.text
    ok = {"type": "rectification", "la": "E08000030", "la_child_id": planted, "received": today, "identified": today}
    response = dpo.client.post("/rights/new", data={**ok, "csrf_token": dpo.csrf}, follow_redirects=True)
    assert response.status_code == 200 and planted not in response.text
    url = urlsplit(str(response.url)).path
    act = {"field_name": "test_people.ethnicity", "value": "ZZQQ-corrected", "csrf_token": dpo.csrf}
    response = dpo.client.post(url + "/act", data=act, follow_redirects=True)
    assert response.status_code == 200
    assert "ZZQQ-corrected" not in response.text  # the corrected value is child-level too
    assert all(n not in response.text for n in _needles(web_vault))
