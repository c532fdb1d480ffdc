"""The public Python API. The CLI (`cli.py`) and the web console (`web/`) call only this module.

Every function that changes state checks the caller's role before doing any work and appends to the
audit chain in the same transaction as the change.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cscvault import clock
from cscvault.analysis.primary import PrimaryRun, run_primary
from cscvault.audit import AuditReport
from cscvault.disclosure import bundle as _bundle
from cscvault.disclosure import release as _release
from cscvault.errors import TamperedError, UsageError, VaultStateError
from cscvault.ingest.delivery import IngestReport, ingest_files
from cscvault.ingest.delivery import Progress as IngestProgress
from cscvault.ingest.quality import quality_report
from cscvault.report.render import render_report
from cscvault.rights import actions as rights_actions
from cscvault.rights import complaints as rights_complaints
from cscvault.rights import requests as rights_requests
from cscvault.study import load_study
from cscvault.study.notice import render_notice as _render_notice
from cscvault.study.record import render_record as _render_record
from cscvault.vault import ROLES, Credentials, User, Vault
from cscvault.vault.identity import recipient_for
from cscvault.vault.run_outputs import StoredOutput, latest_run, list_outputs, load_output, store_outputs

__all__ = [
    "ROLES",
    "Credentials",
    "InitResult",
    "add_user",
    "change_password",
    "init_vault",
    "list_users",
    "open_vault",
    "render_notice",
    "verify_audit",
]


@dataclass(frozen=True)
class InitResult:
    path: Path
    vault_id: str
    admin: str
    recovery_code: str  # shown once; never stored in clear
    recipient: str  # the vault's age public key, for the local authorities' packages


def init_vault(path: Path, password: str, admin: str = "admin", study_path: Path | None = None) -> InitResult:
    """Create a new encrypted vault with one admin user."""
    created, vault_id, recovery = Vault.create(Path(path), admin=admin, password=password, study_path=study_path)
    recipient = recipient_for(created, Credentials(admin, password))
    return InitResult(path=created, vault_id=vault_id, admin=admin, recovery_code=recovery, recipient=recipient)


@contextlib.contextmanager
def open_vault(path: Path, credentials: Credentials, memory_limit: str | None = None) -> Iterator[Vault]:
    """Open a vault for the duration of a `with` block."""
    vault = Vault.open(Path(path), credentials, memory_limit=memory_limit)
    try:
        yield vault
    finally:
        vault.close()


def add_user(path: Path, credentials: Credentials, name: str, role: str, password: str) -> None:
    with open_vault(path, credentials) as vault:
        vault.add_user(name, role, password)


def list_users(path: Path, credentials: Credentials) -> list[User]:
    with open_vault(path, credentials) as vault:
        vault.require_role("admin", "dpo")
        return vault.users()


def change_password(path: Path, credentials: Credentials, new_password: str, user: str | None = None) -> None:
    """Change `user`'s password (default: the caller's own)."""
    with open_vault(path, credentials) as vault:
        vault.change_password(user or vault.actor, new_password)


def verify_audit(path: Path, credentials: Credentials) -> AuditReport:
    """Recompute the audit chain. Raises nothing for a broken chain: the report lists the problems."""
    with open_vault(path, credentials) as vault:
        return vault.verify_audit()


def require_intact(report: AuditReport) -> None:
    if not report.ok:
        raise TamperedError(f"audit chain broken: {report.problems[0]}")


def render_notice(study_path: Path | None = None, fmt: str = "md") -> str:
    """The privacy notice for a study, as Markdown or HTML."""
    return _render_notice(load_study(study_path), fmt)


def render_record(study_path: Path | None = None, fmt: str = "md") -> str:
    """The Article 30 record of processing, as Markdown or HTML."""
    return _render_record(load_study(study_path), fmt)


# -- data-subject rights (role dpo) -----------------------------------------------------------------------


@dataclass(frozen=True)
class RequestView:
    request: rights_requests.Request
    events: list[dict[str, object]]
    today: dt.date

    def to_json(self) -> dict[str, object]:
        doc = self.request.to_json(self.today)
        doc["events"] = self.events
        return doc


def rights_open(
    path: Path,
    credentials: Credentials,
    type_: str,
    la: str,
    la_child_id: str,
    received: dt.date | None = None,
    identified: dt.date | None = None,
    requester_ref: str | None = None,
) -> rights_requests.Request:
    with open_vault(path, credentials) as vault:
        return rights_requests.open_request(
            vault, type_, la, la_child_id, received or clock.today(), identified, requester_ref
        )


def rights_list(
    path: Path, credentials: Credentials, overdue: bool = False, due_soon: bool = False, today: dt.date | None = None
) -> list[rights_requests.Request]:
    with open_vault(path, credentials) as vault:
        vault.require_role("dpo")
        return rights_requests.list_requests(vault, today or clock.today(), overdue, due_soon)


def rights_show(path: Path, credentials: Credentials, request_id: str, today: dt.date | None = None) -> RequestView:
    with open_vault(path, credentials) as vault:
        vault.require_role("dpo")
        request = rights_requests.get(vault, request_id)
        return RequestView(request, rights_requests.events(vault, request_id), today or clock.today())


def rights_identify(path: Path, credentials: Credentials, request_id: str, on: dt.date) -> rights_requests.Request:
    with open_vault(path, credentials) as vault:
        return rights_requests.identify(vault, request_id, on)


def rights_clarification(
    path: Path, credentials: Credentials, request_id: str, asked: dt.date, answered: dt.date
) -> rights_requests.Request:
    with open_vault(path, credentials) as vault:
        return rights_requests.clarification(vault, request_id, asked, answered)


def rights_extend(
    path: Path, credentials: Credentials, request_id: str, months: int, notice: dt.date, reason: str
) -> rights_requests.Request:
    with open_vault(path, credentials) as vault:
        return rights_requests.extend(vault, request_id, months, notice, reason)


def rights_refuse(
    path: Path, credentials: Credentials, request_id: str, decision: str, legal_basis: str | None = None
) -> rights_requests.Request:
    with open_vault(path, credentials) as vault:
        return rights_requests.refuse(vault, request_id, decision, legal_basis)


def rights_act(
    path: Path,
    credentials: Credentials,
    request_id: str,
    out_dir: Path | None = None,
    recipient: str | None = None,
    field_name: str | None = None,
    value: str | None = None,
    decision: str | None = None,
    legal_basis: str | None = None,
) -> rights_actions.ActionResult:
    with open_vault(path, credentials) as vault:
        return rights_actions.act(vault, request_id, out_dir, recipient, field_name, value, decision, legal_basis)


def rights_close(path: Path, credentials: Credentials, request_id: str) -> rights_requests.Request:
    with open_vault(path, credentials) as vault:
        return rights_requests.close(vault, request_id)


def complaint_open(
    path: Path, credentials: Credentials, received: dt.date | None = None, summary_ref: str | None = None
) -> tuple[rights_complaints.Complaint, str]:
    """Log a complaint; returns it and the acknowledgement text (which carries the ICO route)."""
    with open_vault(path, credentials) as vault:
        complaint = rights_complaints.open_complaint(vault, received or clock.today(), summary_ref)
        return complaint, rights_complaints.response_text(vault.study, complaint)


def complaint_list(path: Path, credentials: Credentials) -> list[rights_complaints.Complaint]:
    with open_vault(path, credentials) as vault:
        return rights_complaints.list_complaints(vault)


def complaint_acknowledge(
    path: Path, credentials: Credentials, complaint_id: str, on: dt.date | None = None
) -> rights_complaints.Complaint:
    with open_vault(path, credentials) as vault:
        return rights_complaints.acknowledge(vault, complaint_id, on or clock.today())


def complaint_close(
    path: Path, credentials: Credentials, complaint_id: str, outcome: str, on: dt.date | None = None
) -> tuple[rights_complaints.Complaint, str]:
    with open_vault(path, credentials) as vault:
        complaint = rights_complaints.close_complaint(vault, complaint_id, outcome, on or clock.today())
        return complaint, rights_complaints.response_text(vault.study, complaint)


# -- ingest, quality, analysis ------------------------------------------------------------------------------


def ingest(
    path: Path, credentials: Credentials, inputs: list[Path], progress: IngestProgress | None = None
) -> IngestReport:
    """Load return files (or folders of them) into the vault: one transaction per delivery, idempotent."""
    with open_vault(path, credentials) as vault:
        return ingest_files(vault, inputs, progress)


def quality(path: Path, credentials: Credentials) -> dict[str, object]:
    with open_vault(path, credentials) as vault:
        return quality_report(vault)


@dataclass(frozen=True)
class AnalysisOutput:
    """A finished run: its outputs are stored inside the vault; `release` when a release was requested."""

    run: PrimaryRun
    outputs: list[StoredOutput]
    release: _release.Release | None = None

    def names(self) -> list[str]:
        return [o.name for o in self.outputs]


def analyse_did(out_dir: Path, study_path: Path | None = None) -> dict[str, object]:
    """The supplementary difference-in-differences on published DfE statistics (no vault: public data)."""
    from cscvault.analysis.did.plan import run_did_plan

    return run_did_plan(Path(out_dir), load_study(study_path))


def analyse(
    path: Path, credentials: Credentials, plan: str = "primary", request_release: str | None = None
) -> AnalysisOutput:
    """Run the pre-registered analysis inside the vault and store its disclosure-checked outputs there.

    Nothing is written outside the vault: the report, tables, figures and results.json are rows of the
    encrypted store, tied to the run id and the plan's hash. `request_release` (a reason) also asks for the
    release of every output of the run, for a checker to review (`release show`, the console).

    `primary`: the primary mixed model (complete case, missing indicator; Laplace and quadrature).
    `all`: the whole plan: multiple imputation headline, AME, small-cluster inference, the cluster-period model,
    secondary outcomes and sensitivity analyses, beside the primary fits."""
    if plan not in ("primary", "all"):
        raise UsageError(f"unknown analysis plan '{plan}' (available: primary, all, did)")
    with open_vault(path, credentials) as vault:
        vault.require_role("analyst", "admin")
        if plan == "primary":
            run = run_primary(vault)
            outputs = render_report(run, vault.study)
        else:
            from cscvault.analysis.full import run_all
            from cscvault.report.full_section import released_summary, render_full_section

            full_run = run_all(vault)
            run = full_run.primary
            outputs = render_report(
                run,
                vault.study,
                extra_rows=full_run.extra_rows,
                extra_html=render_full_section(full_run, vault.study),
                extra_summary=released_summary(full_run, vault.study),
            )
        store_outputs(vault, run.run_id, plan, run.plan_sha256, outputs)
        release = None
        if request_release is not None:
            release = _release.request_release(vault, [o.name for o in outputs], request_release, run=run.run_id)
        return AnalysisOutput(run, list_outputs(vault, run.run_id), release)


def run_outputs(path: Path, credentials: Credentials, run_id: str | None = None) -> list[StoredOutput]:
    """Stored outputs of one run, or of the latest run (roles admin, analyst, checker)."""
    with open_vault(path, credentials) as vault:
        vault.require_role(*_release.READ_ROLES)
        run = run_id or latest_run(vault)
        return list_outputs(vault, run) if run else []


def run_output(path: Path, credentials: Credentials, run_id: str | None, name: str) -> tuple[StoredOutput, bytes]:
    """One stored output (verified against the audit chain); default run: the latest."""
    with open_vault(path, credentials) as vault:
        vault.require_role(*_release.READ_ROLES)
        run = run_id or latest_run(vault)
        if run is None:
            raise VaultStateError("no analysis run has stored outputs in this vault yet")
        return load_output(vault, run, name)


# -- releases (the output airlock) ---------------------------------------------------------------------------


def release_request(
    path: Path, credentials: Credentials, items: Sequence[str | Path], why: str, run: str | None = None
) -> _release.Release:
    """Gate, check and store stored run outputs for release (role analyst): RUN:NAME, NAME with `run`, or a
    file on disk that is byte for byte a stored output."""
    with open_vault(path, credentials) as vault:
        return _release.request_release(vault, list(items), why, run=run)


def release_file(path: Path, credentials: Credentials, release_id: str, position: int) -> _release.ReleaseFile:
    """One file of a release for review (verified: a tampered stored file is exit 5)."""
    with open_vault(path, credentials) as vault:
        return _release.get_file(vault, release_id, position)


def release_list(path: Path, credentials: Credentials, state: str | None = None) -> list[_release.Release]:
    with open_vault(path, credentials) as vault:
        return _release.list_releases(vault, state)


def release_show(path: Path, credentials: Credentials, release_id: str) -> _release.ReleaseDetail:
    with open_vault(path, credentials) as vault:
        return _release.get_release(vault, release_id)


def release_approve(path: Path, credentials: Credentials, release_id: str, note: str = "") -> _release.Release:
    """Approve a release (role checker, never the requester)."""
    with open_vault(path, credentials) as vault:
        return _release.approve_release(vault, release_id, note)


def release_reject(path: Path, credentials: Credentials, release_id: str, reason: str) -> _release.Release:
    """Reject a release (role checker, never the requester)."""
    with open_vault(path, credentials) as vault:
        return _release.reject_release(vault, release_id, reason)


def release_export(path: Path, credentials: Credentials, release_id: str, out_dir: Path) -> Path:
    """Write an approved release's bundle into OUT_DIR/RELEASE_ID (OUT_DIR is created, 0700, when missing)."""
    with open_vault(path, credentials) as vault:
        return _bundle.export_release(vault, release_id, Path(out_dir))


def release_verify(bundle: Path) -> dict[str, object]:
    """Check an exported bundle against its manifest (no vault needed); returns the manifest."""
    return _bundle.verify_bundle(Path(bundle))
