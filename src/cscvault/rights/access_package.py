"""The subject-access package: every record held about the child, and the supplementary information.

The package is a zip (index.html, records.json, one CSV per table) built in memory and written only
age-encrypted to the recipient the DPO names (usually the local authority, which passes it on), so no
child-level value is ever written to disk in clear.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

import pyrage
from jinja2 import Environment, StrictUndefined

from cscvault import clock
from cscvault.errors import UsageError
from cscvault.fileio import storage_error, write_atomic
from cscvault.rights import plain_english
from cscvault.rights.requests import Request
from cscvault.study.notice import long_date
from cscvault.vault import Vault

# Fixed zip timestamps keep packages reproducible and leak no build time.
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def parse_recipient(recipient: str) -> pyrage.x25519.Recipient:
    try:
        return pyrage.x25519.Recipient.from_str(recipient.strip())
    except Exception:
        raise UsageError("--recipient is not an age public key (age1...)") from None


def supplementary_information(vault: Vault, request: Request) -> dict[str, Any]:
    study = vault.study
    la = study.la(request.la_code)
    r = study.retention
    return {
        "controller": {
            "name": study.controller.name,
            "email": study.controller.email,
            "address": list(study.controller.address),
            "phone": study.controller.phone,
        },
        "dpo": {"name": study.dpo.name, "email": study.dpo.email},
        "purposes": [study.purpose],
        "lawful_basis": f"UK GDPR Article {study.lawful_basis.article} ({study.lawful_basis.basis})",
        "special_category_condition": study.special_category.condition,
        "categories": [
            {"category": c.label, "description": c.description} for c in study.data_dictionary.categories if c.personal
        ],
        "source": f"{la.notice_name} children's services ({study.source_description})",
        "recipients": "No one outside the research team. Only aggregate, disclosure-checked results are published.",
        "retention": f"until {long_date(r.delete_by)} ({r.delete_by_label}), {r.period_text}",
        "rights": ["access", "rectification", "erasure", "restriction of processing", "objection to processing"],
        "complaints": {
            "dpo": study.dpo.email,
            "regulator": study.supervisory_authority.name,
            "regulator_address": list(study.supervisory_authority.address),
            "regulator_helpline": study.supervisory_authority.helpline,
            "regulator_website": study.supervisory_authority.website,
        },
    }


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _text(v) for k, v in row.items()})
    return buffer.getvalue()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def build_package(
    vault: Vault, request: Request, records: dict[str, list[dict[str, Any]]], releases: list[str]
) -> bytes:
    info = supplementary_information(vault, request)
    document = {
        "request_id": request.request_id,
        "generated_on": clock.today().isoformat(),
        "records": {t: [{k: _text(v) for k, v in row.items()} for row in rows] for t, rows in records.items()},
        "row_counts": {t: len(rows) for t, rows in records.items()},
        "releases_including_child": releases,
        "supplementary_information": info,
    }
    template = (resources.files("cscvault.rights") / "templates" / "access_package.html.j2").read_text("utf-8")
    html = (
        Environment(autoescape=True, undefined=StrictUndefined)
        .from_string(template)
        .render(
            doc=document,
            info=info,
            sections=plain_english.sections(records),
            technical=plain_english.technical_rows(records),
            generated_on=long_date(clock.today()),
            study_name=vault.study.intervention,
        )
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:

        def add(name: str, text: str) -> None:
            zf.writestr(zipfile.ZipInfo(name, _ZIP_TIME), text)

        add("index.html", html)
        add("records.json", json.dumps(document, indent=2))
        for table, rows in records.items():
            add(f"tables/{table}.csv", _csv(rows))
    return buffer.getvalue()


def write_access_package(
    vault: Vault,
    request: Request,
    records: dict[str, list[dict[str, Any]]],
    releases: list[str],
    out_dir: Path,
    recipient: str,
) -> Path:
    rcpt = parse_recipient(recipient)
    payload = pyrage.encrypt(build_package(vault, request, records, releases), [rcpt])
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, out_dir) from None
    path = out_dir / f"access-{request.request_id}.zip.age"
    write_atomic(path, payload)
    return path
