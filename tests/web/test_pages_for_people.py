"""Console pages for the people who use them (issue 20): the data manager's quality summary, the DPO's
register with LA names and late answers."""

from __future__ import annotations


def test_deliveries_page_starts_with_the_summary(as_role) -> None:  # type: ignore[no-untyped-def]
    page = as_role("admin").client.get("/deliveries").text
    assert "Rows read are the data rows in a file" in page
    summary = page.index("Summary by local authority, return and year")
    assert summary < page.index("<h2>Files</h2>") < page.index("Linkage per local authority")
    assert "Top findings" in page and "Linked to a referral" in page
