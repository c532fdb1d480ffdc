"""The checker's per-file review of a release, through the routes: approval waits until every file has been
opened, only checkers and the requester open files, and a report is framed under a strict CSP and sandbox."""

from __future__ import annotations

import json
import re

from cscvault import api
from cscvault.web.views.release_files import PNG_MAGIC
from tests.helpers import open_raw_vault
from tests.web.support import ADMIN, CHECKER, WebVault, request_review_release

POSITIONS = (0, 1, 2)  # report, table, plot (support.REVIEW_NAMES)


def _post(signed, url: str, **data: str):  # type: ignore[no-untyped-def]
    return signed.client.post(url, data={"csrf_token": signed.csrf, **data}, follow_redirects=False)


def test_approve_is_refused_until_the_checker_has_opened_every_file(as_role, web_vault: WebVault) -> None:  # type: ignore[no-untyped-def]
    rid = request_review_release(web_vault.path, "approve after opening")
    checker = as_role("checker")
    page = checker.client.get(f"/releases/{rid}").text
    assert "Open every file before approving: 3 of 3 not opened yet." in page
    assert re.search(r'<button type="submit" disabled aria-describedby="not-opened">Approve</button>', page)
    for position in POSITIONS[:2]:
        assert checker.client.get(f"/releases/{rid}/files/{position}").status_code == 200
    # A forced POST with one file unopened: refused, plainly, and the release is still requested.
    refused = _post(checker, f"/releases/{rid}/approve", note="looks fine")
    assert refused.status_code == 409
    assert f"release {rid}: open every file before approving (1 not opened yet)" in refused.text
    assert api.release_show(web_vault.path, CHECKER, rid).release.state == "requested"
    # The requester opening the last file does not count for the checker.
    assert as_role("analyst").client.get(f"/releases/{rid}/files/2").status_code == 200
    assert _post(checker, f"/releases/{rid}/approve", note="looks fine").status_code == 409
    assert checker.client.get(f"/releases/{rid}/files/2").status_code == 200
    page = checker.client.get(f"/releases/{rid}").text
    assert "not-opened" not in page and page.count("(opened)") == 3
    assert _post(checker, f"/releases/{rid}/approve", note="looks fine").status_code == 303
    state = api.release_review_state(web_vault.path, CHECKER, rid)
    assert sorted(state.decisions) == list(POSITIONS)
    assert all(
        d == "approved" and by == CHECKER.user and opened is not None for d, by, opened in state.decisions.values()
    )
    # The audit chain records each first opening by ids only: one entry per file, never the file's content.
    with open_raw_vault(web_vault.path, ADMIN) as v:
        rows = v.con.execute(
            "SELECT actor, objects FROM audit WHERE action = 'release.file_open' AND objects LIKE ?", [f'%"{rid}"%']
        ).fetchall()
    assert sorted((json.loads(r[1])["position"], json.loads(r[1])) for r in rows) == [
        (p, {"release": rid, "position": p}) for p in POSITIONS
    ]
    assert {r[0] for r in rows} == {CHECKER.user}


def test_the_requester_still_cannot_approve_after_opening_every_file(as_role, web_vault: WebVault) -> None:  # type: ignore[no-untyped-def]
    rid = request_review_release(web_vault.path, "the requester tries")
    analyst = as_role("analyst")
    for position in POSITIONS:
        assert analyst.client.get(f"/releases/{rid}/files/{position}").status_code == 200
    response = _post(analyst, f"/releases/{rid}/approve", note="mine")
    assert response.status_code == 403
    assert "may not approve it (two-person rule)" in response.text


def test_only_checkers_and_the_requester_open_files(as_role, web_vault: WebVault) -> None:  # type: ignore[no-untyped-def]
    rid = web_vault.releases[1]
    for role in ("admin", "dpo"):
        for suffix in ("", "/frame", "/image"):
            response = as_role(role).client.get(f"/releases/{rid}/files/0{suffix}", follow_redirects=False)
            assert response.status_code == 403, (role, suffix)
    # Admins still see the release page with its verdicts, but no link to open a file.
    page = as_role("admin").client.get(f"/releases/{rid}").text
    assert "referrals_by_la.csv" in page and f"/releases/{rid}/files/0" not in page
    assert as_role("checker").client.get(f"/releases/{rid}/files/9").status_code == 400  # no such file


def test_a_report_is_framed_sandboxed_under_a_strict_csp(as_role, web_vault: WebVault) -> None:  # type: ignore[no-untyped-def]
    rid = request_review_release(web_vault.path, "frame headers")
    checker = as_role("checker").client
    page = checker.get(f"/releases/{rid}/files/0").text
    frame = re.search(r"<iframe[^>]*>", page)
    assert frame is not None
    assert 'sandbox=""' in frame.group(0) and "allow-scripts" not in page
    assert f'src="/releases/{rid}/files/0/frame"' in frame.group(0)
    response = checker.get(f"/releases/{rid}/files/0/frame")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    directives = dict(([*d.split(" ", 1), ""])[:2] for d in (p.strip() for p in csp.split(";")))
    assert directives["default-src"] == "'none'" and "sandbox" in directives
    assert directives["frame-ancestors"] == "'self'" and directives["img-src"] == "data:"
    assert re.fullmatch(r"'sha256-[A-Za-z0-9+/=]+'", directives["style-src"])  # the report's one <style>, no more
    assert "script-src" not in directives and "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    # Every other page keeps refusing to be framed.
    assert as_role("checker").client.get(f"/releases/{rid}").headers["x-frame-options"] == "DENY"
    # The frame route serves HTML reports only; the image route real PNGs only.
    assert checker.get(f"/releases/{rid}/files/1/frame").status_code == 400
    image = checker.get(f"/releases/{rid}/files/2/image")
    assert image.headers["content-type"] == "image/png" and image.content.startswith(PNG_MAGIC)
    assert checker.get(f"/releases/{rid}/files/1/image").status_code == 400


def test_a_table_shows_each_cells_verdict_and_a_plot_its_table(as_role, web_vault: WebVault) -> None:  # type: ignore[no-untyped-def]
    rid = request_review_release(web_vault.path, "cell view")
    checker = as_role("checker").client
    for page in (checker.get(f"/releases/{rid}/files/1").text, checker.get(f"/releases/{rid}/files/2").text):
        failing = re.findall(r'<td class="cell cell-fail" data-verdict="fail">(.*?)</td>', page, re.S)
        assert len(failing) == 1  # Derby 2021-Q2: 3 referrals, under the threshold
        assert ">3</span>" in failing[0] and "(suppressed)" in failing[0]
        assert "threshold: count is below 10" in failing[0]
        assert page.count('data-verdict="pass"') == 3  # the other counts pass
    plot = checker.get(f"/releases/{rid}/files/2").text
    assert f'<img class="figure" src="/releases/{rid}/files/2/image"' in plot


def test_a_tampered_file_is_refused_on_review_and_not_counted_as_opened(as_role, web_vault: WebVault) -> None:  # type: ignore[no-untyped-def]
    rid = request_review_release(web_vault.path, "tampered")
    where = "WHERE release_id = ? AND position = 1"
    with open_raw_vault(web_vault.path, ADMIN) as v, v.transaction() as con:
        original = con.execute(f"SELECT content FROM release_outputs {where}", [rid]).fetchone()[0]
        con.execute(f"UPDATE release_outputs SET content = ? {where}", [bytes(original).replace(b",3", b",30"), rid])
    try:
        response = as_role("checker").client.get(f"/releases/{rid}/files/1")
        assert response.status_code == 409
        assert f"release {rid}: stored file quarterly.csv does not match what was checked" in response.text
    finally:  # put it back: other tests list every release
        with open_raw_vault(web_vault.path, ADMIN) as v, v.transaction() as con:
            con.execute(f"UPDATE release_outputs SET content = ? {where}", [bytes(original), rid])
    assert 1 not in api.release_review_state(web_vault.path, CHECKER, rid).opened
