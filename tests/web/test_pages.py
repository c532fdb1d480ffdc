"""The console's pages do what their users need (through the TestClient, as a browser would post forms)."""

from __future__ import annotations

import datetime as dt
import re

import pyrage

from tests.web.support import LA_IDS, WebVault

TODAY = dt.date.today().isoformat()


def _post(signed, url: str, **data: str):  # type: ignore[no-untyped-def]
    return signed.client.post(url, data={**data, "csrf_token": signed.csrf}, follow_redirects=False)


def test_dashboard_shows_what_needs_attention(as_role) -> None:  # type: ignore[no-untyped-def]
    dpo = as_role("dpo").client.get("/").text
    assert "Requests due soon or overdue" in dpo and "Retention" in dpo and "days" in dpo
    assert "Deliveries" in dpo
    checker = as_role("checker").client.get("/").text
    assert "Releases waiting" in checker and "Requests due soon" not in checker


def test_dpo_logs_identifies_erases_and_closes_a_request(as_role) -> None:  # type: ignore[no-untyped-def]
    dpo = as_role("dpo")
    response = _post(dpo, "/rights/new", type="erasure", la="E08000030", la_child_id=LA_IDS[9], received=TODAY)
    assert response.status_code == 303
    url = response.headers["location"]
    page = dpo.client.get(url).text
    assert "awaiting_identification" in page and "Start the clock" in page
    assert _post(dpo, url + "/identify", on=TODAY).status_code == 303
    page = dpo.client.get(url).text
    assert "in_progress" in page and "Carry out the erasure" in page
    assert _post(dpo, url + "/act").status_code == 303
    page = dpo.client.get(url).text
    assert "completed" in page and "test_events 1" in page
    assert _post(dpo, url + "/close").status_code == 303
    assert "closed" in dpo.client.get(url).text


def test_bad_input_gets_a_clear_message(as_role, web_vault: WebVault) -> None:  # type: ignore[no-untyped-def]
    dpo = as_role("dpo")
    response = _post(dpo, f"/rights/{web_vault.access_request}/identify", on=TODAY)
    assert response.status_code == 400
    assert "already identified" in response.text
    response = _post(dpo, "/rights/R-1999-0001/close")
    assert response.status_code == 400 and "no request" in response.text


def test_access_act_downloads_the_encrypted_package(as_role, web_vault: WebVault) -> None:  # type: ignore[no-untyped-def]
    dpo = as_role("dpo")
    response = _post(dpo, "/rights/new", type="access", la="E08000030", la_child_id=LA_IDS[10], received=TODAY,
                     identified=TODAY)  # fmt: skip
    url = response.headers["location"]
    identity = pyrage.x25519.Identity.generate()
    response = _post(dpo, url + "/act", recipient=str(identity.to_public()))
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["content-disposition"].rstrip('"').endswith(".zip.age")
    assert response.headers["cache-control"] == "no-store"
    plain = pyrage.decrypt(response.content, [identity])
    assert plain[:2] == b"PK"
    assert LA_IDS[10].encode() not in response.content
    assert "completed" in dpo.client.get(url).text


def test_register_is_paginated(as_role) -> None:  # type: ignore[no-untyped-def]
    client = as_role("dpo").client
    first = client.get("/rights").text
    assert re.search(r"Page 1 of [2-9]", first) and "Next page" in first
    assert first.count('<a href="/rights/R-') == 25
    second = client.get("/rights?page=2").text
    assert "Previous page" in second and '<a href="/rights/R-' in second
    assert "Page 1 of" in client.get("/rights?page=0").text or client.get("/rights?page=0").status_code == 422


def test_complaint_lifecycle(as_role) -> None:  # type: ignore[no-untyped-def]
    dpo = as_role("dpo")
    assert _post(dpo, "/complaints/new", received=TODAY, summary_ref="CASE-77").status_code == 303
    page = dpo.client.get("/complaints").text
    assert "Information Commissioner" in page  # the acknowledgement letter shown once carries the ICO route
    cid = re.findall(r"(C-\d{4}-\d{4})</td><td>" + TODAY, page)[0]
    assert _post(dpo, f"/complaints/{cid}/acknowledge", on=TODAY).status_code == 303
    assert _post(dpo, f"/complaints/{cid}/close", outcome="explained", on=TODAY).status_code == 303
    assert f"{TODAY}: explained" in dpo.client.get("/complaints").text


def test_the_requester_cannot_decide_their_own_release(as_role, web_vault: WebVault) -> None:  # type: ignore[no-untyped-def]
    analyst = as_role("analyst")
    rid = web_vault.releases[2]
    page = analyst.client.get(f"/releases/{rid}").text
    assert "You requested this release" in page and "two-person rule" in page
    assert re.search(r'<button type="submit" disabled[^>]*>Approve</button>', page)
    response = _post(analyst, f"/releases/{rid}/approve", note="mine")
    assert response.status_code == 403
    assert "may not approve it (two-person rule)" in response.text
    checker = as_role("checker")
    page = checker.client.get(f"/releases/{rid}").text
    assert "SDC verdict" in page and "referrals_by_la.csv" in page
    # Approve is offered only once the checker has opened the release's one file.
    assert re.search(r'<button type="submit" disabled aria-describedby="not-opened">Approve</button>', page)
    assert checker.client.get(f"/releases/{rid}/files/0").status_code == 200
    page = checker.client.get(f"/releases/{rid}").text
    assert not re.search(r'<button type="submit" disabled[^>]*>Approve</button>', page)
    assert _post(checker, f"/releases/{rid}/approve", note="fine").status_code == 303
    page = checker.client.get(f"/releases/{rid}").text
    assert "approved" in page and "cara" in page
    assert rid not in checker.client.get("/releases").text  # no longer waiting
    assert rid in checker.client.get("/releases?state=approved").text


def test_report_audit_deliveries_and_notice(as_role, web_app) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    admin = as_role("admin").client
    assert "Open the report" in admin.get("/report").text
    view = admin.get("/report/view")
    assert "odds ratio 0.81" in view.text
    assert "sandbox" in view.headers["content-security-policy"]
    audit = admin.get("/audit").text
    assert "The chain is intact" in audit and "rights.open" in audit and "Next page" in audit
    deliveries = admin.get("/deliveries").text
    assert "Linkage per local authority" in deliveries and "Next page" in deliveries
    assert deliveries.count("_dr1_") >= 10  # file names of the ingested returns
    assert re.search(r"Page 1 of [3-9]", deliveries)
    with TestClient(web_app, base_url="http://127.0.0.1") as anonymous:
        notice = anonymous.get("/notice")
        assert notice.status_code == 200 and "Information Commissioner" in notice.text
        assert "style-src 'sha256-" in notice.headers["content-security-policy"]
