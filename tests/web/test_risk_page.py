"""The console's re-identification risk page: dpo and admin only, linked from their dashboard, the released
summary in tables with plain words, the what-if comparison only on request, and no child-level value."""

from __future__ import annotations

import html

from cscvault import api
from tests.web.support import ADMIN, LA_IDS, PLANTED_DATE, WebVault


def test_dpo_sees_every_measure_per_la_and_overall(as_role, web_vault: WebVault) -> None:  # type: ignore[no-untyped-def]
    dpo = as_role("dpo").client
    dashboard = dpo.get("/").text
    assert 'href="/risk"' in dashboard
    response = dpo.get("/risk")
    assert response.status_code == 200
    page = html.unescape(response.text)
    assert "<h1>Re-identification risk</h1>" in page
    with api.open_vault(web_vault.path, ADMIN) as vault:
        vault_id = vault.vault_id
        report = vault.risk()
    assert vault_id in page
    for m in api.risk_measure_rows(report.current):
        assert f'<th scope="row">{m.label}</th><td>{m.value}</td>' in page
    assert "<caption>Per local authority</caption>" in page
    for row in report.per_la:
        assert f'<th scope="row">{row["la"]}</th>' in page
    # The comparison is not computed until asked for: a button asks.
    assert "What if the data were generalised" not in page
    assert 'name="what_if" value="true"' in page and "Show the what-if comparison" in page
    _no_child_values(page, web_vault)


def test_what_if_comparison_on_request(as_role, web_vault: WebVault) -> None:  # type: ignore[no-untyped-def]
    response = as_role("admin").client.get("/risk?what_if=true")
    assert response.status_code == 200
    page = html.unescape(response.text)
    assert "<caption>What if the data were generalised</caption>" in page
    for label in ("the data as held", "age in 6-month bands", "event dates to the quarter", "ethnicity in 5 groups"):
        assert f'<th scope="row">{label}</th>' in page
    assert "Show the what-if comparison" not in page
    _no_child_values(page, web_vault)


def test_other_roles_are_refused(as_role) -> None:  # type: ignore[no-untyped-def]
    for role in ("analyst", "checker"):
        client = as_role(role).client
        assert client.get("/risk").status_code == 403
        assert client.get("/risk?what_if=true").status_code == 403
        assert 'href="/risk"' not in client.get("/").text


def _no_child_values(page: str, web_vault: WebVault) -> None:
    needles = [*LA_IDS, *web_vault.synth_ids, *web_vault.child_keys, PLANTED_DATE.isoformat()]
    assert [n for n in needles if n in page] == []
