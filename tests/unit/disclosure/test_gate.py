"""The release gate: what must never enter a release request, and what it lets through."""

from __future__ import annotations

import hashlib
import json

import pytest

from cscvault.disclosure import gate
from cscvault.disclosure.profiles import get_profile
from cscvault.disclosure.release_checks import check_output

KEY = hashlib.sha256(b"a child").hexdigest()  # the shape of a child_key pseudonym


def _csv(rows: list[list[object]]) -> bytes:
    return ("\n".join(",".join(str(v) for v in row) for row in rows) + "\n").encode()


SAFE = _csv([["la", "arm", "children"], ["Walsall", "control", 120], ["Walsall", "intervention", 45]])


def test_a_plain_count_table_passes_the_gate() -> None:
    assert gate.screen("flow.csv", SAFE) is None


@pytest.mark.parametrize("name", ["vault.duckdb", "data.parquet", "book.xlsx", "pkg.age", "bundle.zip", "noext"])
def test_disallowed_file_types_are_refused(name: str) -> None:
    found = gate.screen(name, b"anything")
    assert found is not None and found.rule == gate.RULE_FILE_TYPE
    assert name in found.text()


def test_content_must_match_the_type() -> None:
    assert gate.screen("plot.png", b"not a png").rule == gate.RULE_FILE_TYPE  # type: ignore[union-attr]
    assert gate.screen("plot.png", gate.PNG_SIGNATURE + b"rest") is None
    assert gate.screen("x.json", b"{not json").rule == gate.RULE_FILE_TYPE  # type: ignore[union-attr]
    assert gate.screen("x.txt", b"\xff\xfe\x00bad").rule == gate.RULE_FILE_TYPE  # type: ignore[union-attr]


def test_oversize_files_are_refused() -> None:
    found = gate.screen("big.txt", b"a" * (gate.MAX_BYTES + 1))
    assert found is not None and found.rule == gate.RULE_OVERSIZE
    assert gate.screen("ok.txt", b"a" * gate.MAX_BYTES) is None


@pytest.mark.parametrize("column", ["child_key", "Child Key", "la_child_id", "UPN", "id"])
def test_identifier_columns_are_refused(column: str) -> None:
    data = _csv([[column, "children"], ["x1", 12], ["x2", 30]])
    found = gate.screen("t.csv", data)
    assert found is not None and found.rule == gate.RULE_CHILD_KEY
    assert "x1" not in found.text()  # the message names the column, never a value


def test_a_pseudonym_in_any_cell_is_refused_without_echoing_it() -> None:
    data = _csv([["group", "children"], ["a", 12], [KEY, 30]])
    found = gate.screen("t.csv", data)
    assert found is not None and found.rule == gate.RULE_CHILD_KEY
    assert "row 1" in found.text() and KEY not in found.text()


def test_checksums_are_not_mistaken_for_child_keys() -> None:
    assert gate.screen("t.csv", _csv([["file", "sha256"], ["a.csv", KEY]])) is None
    assert gate.screen("notes.txt", f"sha256 of the plan: {KEY}\n".encode()) is None
    assert gate.screen("notes.txt", f"child {KEY}\n".encode()).rule == gate.RULE_CHILD_KEY  # type: ignore[union-attr]
    doc = {"plan_sha256": KEY, "rows": [{"x": 1}]}
    assert gate.screen("results.json", json.dumps(doc).encode()) is None
    doc = {"note": KEY}
    assert gate.screen("x.json", json.dumps(doc).encode()).rule == gate.RULE_CHILD_KEY  # type: ignore[union-attr]


def test_child_level_dates_are_refused_but_reporting_periods_pass() -> None:
    events = [["referral_date", "n"]] + [[f"2021-03-{d:02d}", 11] for d in range(2, 2 + gate.MAX_DISTINCT_DAYS + 1)]
    found = gate.screen("t.csv", _csv(events))
    assert found is not None and found.rule == gate.RULE_CHILD_DATE
    months = [["month", "n"]] + [[f"2021-{m:02d}-01", 11] for m in range(1, 13)] + [["2022-01-01", 11]]
    assert gate.screen("t.csv", _csv(months)) is None
    few = [["period_end", "n"]] + [[f"2021-03-{d:02d}", 11] for d in range(2, 2 + gate.MAX_DISTINCT_DAYS)]
    assert gate.screen("t.csv", _csv(few)) is None  # at the limit: a handful of period boundaries
    dob = _csv([["dob_year", "n"], [2015, 12]])
    assert gate.screen("t.csv", dob).rule == gate.RULE_CHILD_DATE  # type: ignore[union-attr]


def test_row_level_files_are_refused() -> None:
    people = [["ref", "age_months", "cla"]] + [
        [f"C{i:04d}", 30 + i, i % 2] for i in range(gate.MIN_ROWS_FOR_UNIQUE_IDS)
    ]
    found = gate.screen("people.csv", _csv(people))
    assert found is not None and found.rule == gate.RULE_ROW_LEVEL and "'ref'" in found.text()
    flags = [["a", "b"]] + [[i % 2, (i // 2) % 2] for i in range(gate.MIN_ROWS_FOR_UNIQUE_IDS)]
    assert gate.screen("flags.csv", _csv(flags)).rule == gate.RULE_ROW_LEVEL  # type: ignore[union-attr]
    long = [["group", "n"]] + [[f"g{i % 7}", 11] for i in range(gate.MAX_TABLE_ROWS + 1)]
    assert gate.screen("long.csv", _csv(long)).rule == gate.RULE_ROW_LEVEL  # type: ignore[union-attr]
    fewer = [["ref", "age_months"]] + [[f"C{i:04d}", 30 + i] for i in range(gate.MIN_ROWS_FOR_UNIQUE_IDS - 1)]
    assert gate.screen("people.csv", _csv(fewer)) is None


def test_la_level_tables_with_area_codes_pass() -> None:
    rows = [["la_code", "la", "referrals"]] + [[f"E0800{i:04d}", f"LA {i}", 100 + i] for i in range(40)]
    assert gate.screen("las.csv", _csv(rows)) is None


def test_json_records_are_screened_like_tables() -> None:
    doc = {"results": [{"child_key": "x", "n": 1}]}
    assert gate.screen("r.json", json.dumps(doc).encode()).rule == gate.RULE_CHILD_KEY  # type: ignore[union-attr]


# -- the SDC checks behind the gate ------------------------------------------------------------------

PROFILE = get_profile("acro-default")


@pytest.mark.parametrize(("count", "verdict"), [(PROFILE.min_count - 1, "fail"), (PROFILE.min_count, "pass")])
def test_a_table_verdict_follows_the_threshold(count: int, verdict: str) -> None:
    data = _csv([["la", "children"], ["Walsall", 120], ["Lancashire", count]])
    checked = check_output("t.csv", data, PROFILE)
    assert checked.verdict == verdict
    released = checked.released.decode()  # type: ignore[union-attr]
    assert ("Lancashire,\n" in released) == (verdict == "fail")
    assert "Walsall,120" in released


def test_rates_are_withheld_and_the_table_goes_to_review() -> None:
    data = _csv([["la", "children", "rate"], ["Walsall", 120, 12.5], ["Lancashire", 55, 3.25]])
    checked = check_output("t.csv", data, PROFILE)
    assert checked.verdict == "review"
    assert "rate" not in checked.released.decode().splitlines()[0]  # type: ignore[union-attr]


def test_an_inconsistent_table_has_no_releasable_version() -> None:
    data = _csv([["la", "children"], ["Walsall", 120], ["Lancashire", 55], ["Total", 100]])
    checked = check_output("t.csv", data, PROFILE)
    assert checked.verdict == "fail" and checked.released is None


def test_model_results_check_dof_small_counts_and_rounding() -> None:
    def rows(model: str, n: int, events: int, terms: int) -> list[dict[str, object]]:
        return [
            {"analysis": "primary", "sample": "cc", "model": model, "term": f"t{i}", "estimate": 0.1, "n": n,
             "n_events": events}
            for i in range(terms)
        ]  # fmt: skip

    doc = {"run_id": "abc", "results": rows("ok", 501, 120, 3) + rows("tiny", 12, 6, 3) + rows("rare", 400, 4, 2)}
    checked = check_output("results.json", json.dumps(doc).encode(), PROFILE)
    assert checked.kind == "results" and checked.verdict == "fail"
    released = json.loads(checked.released)  # type: ignore[arg-type]
    models = {r["model"] for r in released["results"]}
    assert models == {"ok", "rare"}  # 12 - 3 - 1 = 8 residual dof < 10: withheld
    ok = [r for r in released["results"] if r["model"] == "ok"]
    assert {r["n"] for r in ok} == {500} and {r["n_events"] for r in ok} == {120}
    assert {r["n_events"] for r in released["results"] if r["model"] == "rare"} == {None}
    assert checked.checks["models_failed"] == 1


def test_other_outputs_go_to_a_person() -> None:
    for name, data in [("report.html", b"<html></html>"), ("plot.png", gate.PNG_SIGNATURE), ("note.md", b"# hi")]:
        checked = check_output(name, data, PROFILE)
        assert checked.verdict == "review" and checked.released == data
        assert "reviewed by a person" in checked.reasons[0]


HTML = b"<html><body><p>report</p></body></html>"
PDF = gate.PDF_SIGNATURE + b"1.4 printed"


def _pdf_meta(source: bytes = HTML) -> dict[str, str]:
    return {"from": "report.html", "source_sha256": hashlib.sha256(source).hexdigest()}


def test_a_pdf_passes_only_beside_the_html_it_was_printed_from() -> None:
    assert gate.screen("report.pdf", PDF) is None and gate.kind_of("report.pdf") == "document"
    assert gate.screen("report.pdf", b"not a pdf").rule == gate.RULE_FILE_TYPE  # type: ignore[union-attr]
    html = gate.RunFile("report.html", HTML, "run1", {})
    pdf = gate.RunFile("report.pdf", PDF, "run1", _pdf_meta())
    assert gate.screen_printed([html, pdf]) == []
    alone = gate.screen_printed([pdf])
    assert [r.rule for r in alone] == [gate.RULE_PDF_SOURCE] and "together with report.html" in alone[0].text()
    other_run = gate.screen_printed([gate.RunFile("report.html", HTML, "run2", {}), pdf])
    assert [r.rule for r in other_run] == [gate.RULE_PDF_SOURCE]
    changed = gate.screen_printed([gate.RunFile("report.html", HTML + b" ", "run1", {}), pdf])
    assert [r.rule for r in changed] == [gate.RULE_PDF_SOURCE] and "not printed from" in changed[0].text()
    unrecorded = gate.screen_printed([html, gate.RunFile("report.pdf", PDF, "run1", {"from": "report.html"})])
    assert [r.rule for r in unrecorded] == [gate.RULE_PDF_SOURCE]


def test_a_pdf_takes_the_verdict_of_its_html() -> None:
    from cscvault.disclosure.release_checks import printed_verdicts

    profile = get_profile("acro-default")
    html = check_output("report.html", HTML, profile)
    pdf = check_output("report.pdf", PDF, profile, meta=_pdf_meta())
    assert pdf.kind == "document" and pdf.released == PDF
    html.verdict = "fail"  # whatever the HTML's verdict is, the PDF has it too
    printed_verdicts([html, pdf], [{}, _pdf_meta()])
    assert pdf.verdict == "fail"
