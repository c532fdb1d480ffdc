"""The DPIA annex of the Article 30 record: the risk summary, dated and tied to the vault's data.

`render_dpia_record` renders the study's record of processing with one more entry (the headline risk) and the
annex: the tie to the data measured (vault id, time, the delivery set's SHA-256, the audit head), the key set,
the disclosure profile, the measures overall and per LA, and the what-if comparison when it was measured. The
report is aggregates only and already passed through the disclosure profile; nothing here reads the vault.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from cscvault.errors import UsageError
from cscvault.risk.explain import Table, risk_in_plain_words, risk_la_table, risk_measure_rows, risk_what_if_table
from cscvault.risk.summary import RiskReport
from cscvault.study.model import Study
from cscvault.study.record import render_record

FORMATS = ("md", "html")
AUDIT_ACTION = "record.dpia"


@dataclass(frozen=True)
class DataTie:
    """What the annex was measured on: enough to tell later whether the vault's data are still the same."""

    vault_id: str
    deliveries: int
    deliveries_sha256: str
    audit_head: str  # VAULT_ID:COUNT:HASH before this annex's own audit entry


@dataclass(frozen=True)
class DpiaRecord:
    text: str
    fmt: str
    sha256: str  # of `text`, also in the audit entry, so a saved copy can be matched to the chain
    tie: DataTie
    report: RiskReport


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"unknown record format '{fmt}' (use md or html)")


def _tie_items(report: RiskReport, tie: DataTie) -> list[tuple[str, str]]:
    return [
        ("Vault", tie.vault_id),
        ("Measured", f"{report.generated_at} (UTC)"),
        ("Data measured", f"{tie.deliveries} accepted deliveries; SHA-256 of the delivery set {tie.deliveries_sha256}"),
        (
            "Audit head",
            f"{tie.audit_head} before this annex; the next entry ({AUDIT_ACTION}) holds this document's SHA-256",
        ),
        ("Key variables", ", ".join(report.keys)),
        ("Sensitive attributes", ", ".join(s.replace("_", " ") for s in report.sensitive) or "none"),
        (
            "Disclosure profile",
            f"{report.profile['profile']} version {report.profile['profile_version']}; "
            f"{report.suppressed_cells} cells withheld",
        ),
    ]


def _headline(report: RiskReport) -> str:
    c = report.current
    uniques = "withheld" if c.sample_uniques is None else f"{c.sample_uniques:,}"
    return (
        f"measured {report.generated_at[:10]}: expected re-identifications {c.expected_reidentifications:.2f} "
        f"(global risk {c.global_risk_pct:.3f}%), sample uniques {uniques}; see the DPIA annex"
    )


def _tables(report: RiskReport) -> list[Table]:
    overall = Table(
        "Overall",
        ("Measure", "Value", "What it means"),
        tuple((m.label, m.value, m.meaning) for m in risk_measure_rows(report.current)),
    )
    tables = [overall, risk_la_table(report)]
    what_if = risk_what_if_table(report)
    if what_if is not None:
        tables.append(what_if)
    return tables


def _md_table(t: Table) -> str:
    def row(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.replace("|", "/") for c in cells) + " |\n"

    return f"\n### {t.caption}\n\n" + row(t.headers) + row(tuple("---" for _ in t.headers)) + "".join(map(row, t.rows))


def _html_table(t: Table) -> str:
    head = "".join(f"<th scope='col'>{escape(h)}</th>" for h in t.headers)
    body = "".join(
        "<tr>" + f"<th scope='row'>{escape(r[0])}</th>" + "".join(f"<td>{escape(c)}</td>" for c in r[1:]) + "</tr>"
        for r in t.rows
    )
    return f"<table><caption>{escape(t.caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


TITLE = "Annex: Data Protection Impact Assessment, re-identification risk"


def render_annex(report: RiskReport, tie: DataTie, fmt: str) -> str:
    check_format(fmt)
    items = _tie_items(report, tie)
    words = risk_in_plain_words(report)
    thresholds = [f"{k.replace('_', ' ')}: {v}" for k, v in report.thresholds.items()]
    if fmt == "md":
        return (
            f"\n## {TITLE}\n\n"
            + "".join(f"- **{k}:** {v}\n" for k, v in items)
            + "\n"
            + "".join(f"{p}\n\n" for p in words)
            + "".join(_md_table(t) for t in _tables(report))
            + "\n### Thresholds\n\n"
            + "".join(f"- {t}\n" for t in thresholds)
        )
    return (
        f"<section aria-labelledby='dpia'><h2 id='dpia'>{escape(TITLE)}</h2><dl>"
        + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items)
        + "</dl>"
        + "".join(f"<p>{escape(p)}</p>" for p in words)
        + "".join(_html_table(t) for t in _tables(report))
        + "<h3>Thresholds</h3><ul>"
        + "".join(f"<li>{escape(t)}</li>" for t in thresholds)
        + "</ul></section>"
    )


def render_dpia_record(study: Study, report: RiskReport, tie: DataTie, fmt: str) -> str:
    """The Article 30 record with the headline risk as an entry and the DPIA annex after it."""
    check_format(fmt)
    return render_record(
        study, fmt, [("Re-identification risk (DPIA)", _headline(report))], render_annex(report, tie, fmt)
    )


__all__ = ["AUDIT_ACTION", "DataTie", "DpiaRecord", "check_format", "render_annex", "render_dpia_record"]
