"""The record of processing activities (UK GDPR Article 30), rendered from the study beside the notice."""

from __future__ import annotations

from collections.abc import Sequence

from cscvault.errors import UsageError
from cscvault.study.model import Study
from cscvault.study.notice import join_names, long_date


def record_entries(study: Study) -> list[tuple[str, str]]:
    ctrl, dpo, r, w = study.controller, study.dpo, study.retention, study.windows
    personal = [c for c in study.data_dictionary.categories if c.personal]
    return [
        ("Controller", f"{ctrl.name}, {', '.join(ctrl.address)}; {ctrl.email}; {ctrl.phone}"),
        ("Data Protection Officer", f"{dpo.name}, {dpo.email}"),
        ("Processing activity", f"{study.title} ({study.design})"),
        ("Purpose", study.purpose),
        (
            "Lawful basis",
            f"UK GDPR Article {study.lawful_basis.article} ({study.lawful_basis.basis}); "
            "legitimate interests assessment recorded (purpose, necessity and balancing tests)",
        ),
        ("Special category condition", study.special_category.condition),
        (
            "Data subjects",
            "children and young people referred to children's social care, and their families, in "
            + join_names([la.notice_name for la in study.local_authorities]),
        ),
        ("Categories of personal data", "; ".join(c.label for c in personal)),
        ("Special category data", join_names([s.label for s in study.data_dictionary.special_fields]) or "none"),
        ("Period covered", f"events from {long_date(w.data_start)} to {long_date(w.data_end)}"),
        ("Source", f"{study.source_collection} collection: {study.source_description}"),
        ("Recipients", "none outside the research team; only disclosure-checked aggregate outputs are released"),
        ("International transfers", "none"),
        (
            "Retention",
            f"until {long_date(r.delete_by)} ({r.delete_by_label}): {r.period_text} "
            f"({r.final_report_label}); then crypto-shredded with a deletion certificate",
        ),
        (
            "Security measures",
            study.storage + "; pseudonymisation on arrival (keyed HMAC); role-based access; "
            "two-person output checking; hash-chained audit log",
        ),
    ]


def render_record(study: Study, fmt: str = "md", extra: Sequence[tuple[str, str]] = (), appendix: str = "") -> str:
    """The record as Markdown or HTML; `extra` entries follow the study's own, and `appendix` (already in
    `fmt`, e.g. the DPIA annex) follows the record."""
    entries = [*record_entries(study), *extra]
    title = f"Record of processing activities (UK GDPR Article 30): {study.title}"
    if fmt == "md":
        return f"# {title}\n\n" + "".join(f"- **{k}:** {v}\n" for k, v in entries) + appendix
    if fmt == "html":
        from html import escape

        rows = "".join(f"<tr><th scope='row'>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in entries)
        return (
            f"<!doctype html><html lang='en-GB'><head><meta charset='utf-8'><title>{escape(title)}</title></head>"
            f"<body><main><h1>{escape(title)}</h1><table>{rows}</table>{appendix}</main></body></html>\n"
        )
    raise UsageError(f"unknown record format '{fmt}' (use md or html)")
