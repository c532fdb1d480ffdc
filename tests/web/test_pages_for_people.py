"""Console pages for the people who use them (issue 20): the data manager's quality summary, the DPO's
register with LA names and late answers."""

from __future__ import annotations


def test_deliveries_page_starts_with_the_summary(as_role) -> None:  # type: ignore[no-untyped-def]
    page = as_role("admin").client.get("/deliveries").text
    assert "Rows read are the data rows in a file" in page
    summary = page.index("Summary by local authority, return and year")
    assert summary < page.index("<h2>Files</h2>") < page.index("Linkage per local authority")
    assert "Top findings" in page and "Linked to a referral" in page


def test_register_and_request_page_name_the_la(as_role, web_vault) -> None:  # type: ignore[no-untyped-def]
    dpo = as_role("dpo").client
    register = dpo.get("/rights").text
    assert "<td>Walsall</td>" in register and "E08000030" not in register
    page = dpo.get(f"/rights/{web_vault.access_request}").text
    assert "<dt>Local authority</dt><dd>Walsall</dd>" in page and "E08000030" not in page


def test_date_inputs_are_written_yyyy_mm_dd(as_role) -> None:  # type: ignore[no-untyped-def]
    page = as_role("dpo").client.get("/rights/new").text
    assert 'type="date"' not in page
    assert 'placeholder="YYYY-MM-DD"' in page
