"""Vault sessions: `with api.open_vault(path, credentials) as vault:` gives one open vault and every operation
the front ends need on it, so a console page or a command opens the vault once.

Every method that changes state checks the caller's role (in the domain function it calls) before doing any
work, and appends to the audit chain in the same transaction as the change. The module-level functions
(`api.rights_open(path, credentials, ...)` etc.) open a session for one call.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import importlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from cscvault import audit, clock
from cscvault.audit import AuditReport
from cscvault.errors import DataError, TamperedError, UsageError, VaultStateError
from cscvault.retention import VaultRetention, vault_status
from cscvault.rights import actions as rights_actions, complaints as rights_complaints, requests as rights_requests
from cscvault.study import Study
from cscvault.study.notice import render_notice
from cscvault.study.retention import Schedule, retention_warning, schedule
from cscvault.vault import Credentials, User, Vault
from cscvault.vault.database import database_error
from cscvault.vault.identity import recipient_for
from cscvault.vault.run_outputs import StoredOutput, latest_run, list_outputs, load_output, store_outputs


def quality_report(vault: Vault) -> dict[str, Any]:
    """`cscvault.ingest.quality.quality_report`, imported on first use (the ingest stack loads pandas and
    pyarrow, which `rights` and `user` commands do not need)."""
    from cscvault.ingest.quality import quality_report as report

    return report(vault)


class _LazyModule:
    """A module imported on first attribute access (the disclosure and risk stacks pull in scipy)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


if TYPE_CHECKING:
    # The analysis, report and risk stacks import scipy, statsmodels and matplotlib (about a second and a
    # half), the ingest stack pandas and pyarrow: imported inside the methods that use them, so commands
    # that need none of them (`rights show`, `user list`) do not pay for them.
    from cscvault.analysis.primary import PrimaryRun
    from cscvault.analysis.sources import NotDerived
    from cscvault.disclosure import bundle as _bundle, release as _release, release_review as _review
    from cscvault.ingest.delivery import IngestReport, Progress as IngestProgress
    from cscvault.risk import annex as _annex
    from cscvault.risk.summary import RiskReport
else:
    _bundle = _LazyModule("cscvault.disclosure.bundle")
    _release = _LazyModule("cscvault.disclosure.release")
    _review = _LazyModule("cscvault.disclosure.release_review")
    _annex = _LazyModule("cscvault.risk.annex")

P = ParamSpec("P")
T = TypeVar("T")


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


def verify_audit(path: Path, credentials: Credentials, expect: str | None = None) -> AuditReport:
    """Read every block of the database (damage: TamperedError) and recompute the audit chain against the
    authenticated head, the key file and, with `expect`, a head kept outside. The report lists the problems."""
    with open_vault(path, credentials, verifying=True) as session:
        return session.verify_audit(expect)


def as_vault_error(exc: Exception) -> Exception:
    """A DuckDB error raised by a damaged database file, as the TamperedError it means (others unchanged)."""
    return database_error(exc)


def require_no_rejections(report: IngestReport) -> None:
    """Exit 3 (DataError) when any file was rejected, naming each file and its rules on one line."""
    rejected = [d for d in report.deliveries if d.status == "rejected"]
    if rejected:
        parts = [f"{d.file_name} ({', '.join(d.findings) or d.reason or 'unreadable'})" for d in rejected]
        raise DataError(f"{len(rejected)} file(s) rejected, {report.loaded} loaded: " + "; ".join(parts))


def require_intact(report: AuditReport) -> None:
    if not report.ok:
        raise TamperedError(f"audit chain broken: {report.problems[0]}")


@dataclass(frozen=True)
class RequestView:
    request: rights_requests.Request
    events: list[dict[str, object]]
    today: dt.date

    def to_json(self) -> dict[str, object]:
        doc = self.request.to_json(self.today)
        doc["events"] = self.events
        return doc


@dataclass(frozen=True)
class AnalysisOutput:
    """A finished run: its outputs are stored inside the vault; `release` when a release was requested."""

    run: PrimaryRun
    outputs: list[StoredOutput]
    release: _release.Release | None = None
    not_derived: tuple[NotDerived, ...] = ()  # outcomes (or LAs' parts) the delivered returns cannot derive

    def names(self) -> list[str]:
        return [o.name for o in self.outputs]


@dataclass(frozen=True)
class DashboardSummary:
    """What needs attention, for one role. A field is None where the role does not see that part."""

    schedule: Schedule
    warning: str | None
    deliveries: int | None = None
    rejected: int = 0
    findings: dict[str, int] = field(default_factory=dict)
    due: list[tuple[rights_requests.Request, str]] | None = None
    due_total: int = 0
    releases_waiting: int | None = None


QUALITY_ROLES = ("admin", "analyst", "dpo")


class VaultSession:
    """One open vault. Obtain it with `open_vault`; it closes when the `with` block ends."""

    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    # -- who and what ---------------------------------------------------------------------------------

    @property
    def actor(self) -> str:
        return self._vault.actor

    @property
    def role(self) -> str:
        return self._vault.role

    @property
    def study(self) -> Study:
        return self._vault.study

    @property
    def vault_id(self) -> str:
        return self._vault.vault_id

    def notice_html(self) -> str:
        """The vault's own privacy notice (public text)."""
        return render_notice(self._vault.study, "html")

    def local_authorities(self) -> list[tuple[str, str]]:
        """(name, ONS code) of the study's local authorities."""
        return [(la.name, la.ons_code) for la in self._vault.study.local_authorities]

    # -- users and the audit chain --------------------------------------------------------------------

    def add_user(self, name: str, role: str, password: str) -> None:
        self._vault.add_user(name, role, password)

    def list_users(self) -> list[User]:
        self._vault.require_role("admin", "dpo")
        return self._vault.users()

    def change_password(self, new_password: str, user: str | None = None) -> None:
        """Change `user`'s password (default: the caller's own)."""
        self._vault.change_password(user or self._vault.actor, new_password)

    def verify_audit(self, expect: str | None = None) -> AuditReport:
        """Recompute the audit chain against the authenticated head, the key file and, with `expect`, a head kept
        outside. Raises nothing for a broken chain: the report lists the problems. (`api.verify_audit` also reads
        every block of the database first.)"""
        return self._vault.verify_audit(expect)

    def audit_head(self) -> str:
        """The current head (VAULT_ID:COUNT:HASH) for the DPO to keep outside the vault."""
        return self._vault.head()

    def audit_entries(self, limit: int, offset: int = 0) -> list[audit.Entry]:
        """Audit entries, newest first (admin or dpo): ids and counts, never child-level values."""
        self._vault.require_role("admin", "dpo")
        return audit.entries(self._vault.con, limit=limit, offset=offset)

    # -- data-subject rights (role dpo) ---------------------------------------------------------------

    def rights_open(
        self,
        type_: str,
        la: str,
        la_child_id: str,
        received: dt.date | None = None,
        identified: dt.date | None = None,
        requester_ref: str | None = None,
    ) -> rights_requests.Request:
        return rights_requests.open_request(
            self._vault, type_, la, la_child_id, received or clock.today(), identified, requester_ref
        )

    def rights_list(
        self, overdue: bool = False, due_soon: bool = False, today: dt.date | None = None
    ) -> list[rights_requests.Request]:
        self._vault.require_role("dpo")
        return rights_requests.list_requests(self._vault, today or clock.today(), overdue, due_soon)

    def rights_summary(self, year: int, today: dt.date | None = None) -> dict[str, object]:
        """The DPO's annual summary of data-subject requests (counts only)."""
        self._vault.require_role("dpo")
        return rights_requests.annual_summary(self._vault, year, today or clock.today())

    def la_names(self) -> dict[str, str]:
        """ONS code -> LA name, for pages that show an LA."""
        return {la.ons_code: la.name for la in self._vault.study.local_authorities}

    def rights_show(self, request_id: str, today: dt.date | None = None) -> RequestView:
        self._vault.require_role("dpo")
        request = rights_requests.get(self._vault, request_id)
        return RequestView(request, rights_requests.events(self._vault, request_id), today or clock.today())

    def rights_identify(self, request_id: str, on: dt.date) -> rights_requests.Request:
        return rights_requests.identify(self._vault, request_id, on)

    def rights_clarification(self, request_id: str, asked: dt.date, answered: dt.date) -> rights_requests.Request:
        return rights_requests.clarification(self._vault, request_id, asked, answered)

    def rights_extend(self, request_id: str, months: int, notice: dt.date, reason: str) -> rights_requests.Request:
        return rights_requests.extend(self._vault, request_id, months, notice, reason)

    def rights_refuse(self, request_id: str, decision: str, legal_basis: str | None = None) -> rights_requests.Request:
        return rights_requests.refuse(self._vault, request_id, decision, legal_basis)

    def rights_act(
        self,
        request_id: str,
        out_dir: Path | None = None,
        recipient: str | None = None,
        field_name: str | None = None,
        value: str | None = None,
        decision: str | None = None,
        legal_basis: str | None = None,
    ) -> rights_actions.ActionResult:
        return rights_actions.act(self._vault, request_id, out_dir, recipient, field_name, value, decision, legal_basis)

    def rights_close(self, request_id: str) -> rights_requests.Request:
        return rights_requests.close(self._vault, request_id)

    def complaint_open(
        self, received: dt.date | None = None, summary_ref: str | None = None
    ) -> tuple[rights_complaints.Complaint, str]:
        """Log a complaint; returns it and the acknowledgement text (which carries the ICO route)."""
        complaint = rights_complaints.open_complaint(self._vault, received or clock.today(), summary_ref)
        return complaint, rights_complaints.response_text(self._vault.study, complaint)

    def complaint_list(self) -> list[rights_complaints.Complaint]:
        return rights_complaints.list_complaints(self._vault)

    def complaint_acknowledge(self, complaint_id: str, on: dt.date | None = None) -> rights_complaints.Complaint:
        return rights_complaints.acknowledge(self._vault, complaint_id, on or clock.today())

    def complaint_close(
        self, complaint_id: str, outcome: str, on: dt.date | None = None
    ) -> tuple[rights_complaints.Complaint, str]:
        complaint = rights_complaints.close_complaint(self._vault, complaint_id, outcome, on or clock.today())
        return complaint, rights_complaints.response_text(self._vault.study, complaint)

    # -- ingest, quality, analysis --------------------------------------------------------------------

    def ingest(self, inputs: list[Path], progress: IngestProgress | None = None) -> IngestReport:
        """Load return files (or folders of them): one transaction per delivery, idempotent."""
        from cscvault.ingest.delivery import ingest_files

        return ingest_files(self._vault, inputs, progress)

    def quality(self) -> dict[str, object]:
        return quality_report(self._vault)

    def analyse(
        self,
        plan: str = "primary",
        request_release: str | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> AnalysisOutput:
        """Run the pre-registered analysis inside the vault and store its disclosure-checked outputs there.

        Nothing is written outside the vault: the report, tables, figures and results.json are rows of the
        encrypted store, tied to the run id and the plan's hash. `request_release` (a reason) also asks for the
        release of every output of the run, for a checker to review (`release show`, the console).

        `primary`: the primary mixed model (complete case, missing indicator; Laplace and quadrature).
        `all`: the whole plan: multiple imputation headline, AME, small-cluster inference, the cluster-period
        model, secondary outcomes and sensitivity analyses, beside the primary fits.
        `progress(what, done, total)` hears of each step as it starts (analysis names only)."""
        if plan not in ("primary", "all"):
            raise UsageError(f"unknown analysis plan '{plan}' (available: primary, all, did)")
        self._vault.require_role("analyst", "admin")
        from cscvault.analysis.primary import run_primary
        from cscvault.report.render import render_report

        step = progress or (lambda what, done, total: None)
        if plan == "primary":
            step("primary analysis", 0, 2)
            run = run_primary(self._vault)
            step("report", 1, 2)
            outputs = render_report(run, self._vault.study, quality=quality_report(self._vault))
            step("done", 2, 2)
            not_derived = tuple(run.not_derived)
        else:
            # The whole plan pulls in every estimator; `--plan primary` should not pay for importing them.
            from cscvault.analysis.whole_plan import run_all
            from cscvault.report.whole_plan_section import released_summary, render_full_section

            full_run = run_all(self._vault, progress=progress)
            run = full_run.primary
            outputs = render_report(
                run,
                self._vault.study,
                extra_rows=full_run.extra_rows,
                extra_html=render_full_section(full_run, self._vault.study),
                extra_summary=released_summary(full_run, self._vault.study),
                not_derived=full_run.not_derived,
                summary=full_run.summary,
                quality=quality_report(self._vault),
            )
            not_derived = tuple(full_run.not_derived)
        store_outputs(self._vault, run.run_id, plan, run.plan_sha256, outputs)
        release = None
        if request_release is not None:
            # Every output, the PDF included: the gate lets it through beside the report.html of this run it
            # was printed from (both are in this request), with that HTML's verdict.
            names: list[str | Path] = [o.name for o in outputs]
            release = _release.request_release(self._vault, names, request_release, run=run.run_id)
        return AnalysisOutput(run, list_outputs(self._vault, run.run_id), release, not_derived)

    def run_outputs(self, run_id: str | None = None) -> list[StoredOutput]:
        """Stored outputs of one run, or of the latest run (roles admin, analyst, checker)."""
        self._vault.require_role(*_release.READ_ROLES)
        run = run_id or latest_run(self._vault)
        return list_outputs(self._vault, run) if run else []

    def run_output(self, run_id: str | None, name: str) -> tuple[StoredOutput, bytes]:
        """One stored output (verified against the audit chain); default run: the latest."""
        self._vault.require_role(*_release.READ_ROLES)
        run = run_id or latest_run(self._vault)
        if run is None:
            raise VaultStateError("no analysis run has stored outputs in this vault yet")
        return load_output(self._vault, run, name)

    # -- re-identification risk (role dpo or admin) ----------------------------------------------------

    def risk(self, keys: list[str] | None = None, what_if: bool = False) -> RiskReport:
        """Re-identification risk of the data held: aggregates only, through the study's disclosure profile.
        `keys` overrides the data dictionary's default key set (quasi-identifiers only); `what_if` adds the
        candidate generalisations, each with the primary analysis re-fitted."""
        self._vault.require_role("dpo", "admin")
        from cscvault.analysis.primary import delivery_set
        from cscvault.risk.summary import assess

        deliveries, _ = delivery_set(self._vault)
        report = assess(self._vault.con, self._vault.study, deliveries, keys, what_if=what_if)
        with self._vault.transaction():
            self._vault.record("risk.measure", {"keys": list(report.keys)}, {"what_if": len(report.what_if)})
        return report

    def dpia_record(self, fmt: str = "md", keys: list[str] | None = None, what_if: bool = False) -> _annex.DpiaRecord:
        """The Article 30 record with the DPIA annex (role dpo or admin): the risk summary through the disclosure
        profile, dated and tied to this vault's data. The document's SHA-256 goes into the audit entry."""
        self._vault.require_role("dpo", "admin")
        _annex.check_format(fmt)
        from cscvault.analysis.primary import delivery_set
        from cscvault.risk.summary import assess

        deliveries, n = delivery_set(self._vault)
        report = assess(self._vault.con, self._vault.study, deliveries, keys, what_if=what_if)
        with self._vault.transaction():
            tie = _annex.DataTie(self._vault.vault_id, n, deliveries, self._vault.head())
            text = _annex.render_dpia_record(self._vault.study, report, tie, fmt)
            digest = hashlib.sha256(text.encode()).hexdigest()
            self._vault.record(
                _annex.AUDIT_ACTION,
                {"format": fmt, "sha256": digest, "deliveries_sha256": deliveries, "keys": list(report.keys),
                 "profile": report.profile["profile"], "profile_version": report.profile["profile_version"]},
                {"deliveries": n, "what_if": len(report.what_if)},
            )  # fmt: skip
        return _annex.DpiaRecord(text, fmt, digest, tie, report)

    # -- releases (the output airlock) ----------------------------------------------------------------

    def release_request(self, items: Sequence[str | Path], why: str, run: str | None = None) -> _release.Release:
        """Gate, check and store stored run outputs for release (role analyst): RUN:NAME, NAME with `run`, or a
        file on disk that is byte for byte a stored output."""
        return _release.request_release(self._vault, list(items), why, run=run)

    def release_file(self, release_id: str, position: int) -> _release.ReleaseFile:
        """One file of a release for review (verified: a tampered stored file is exit 5)."""
        return _release.get_file(self._vault, release_id, position)

    def release_open_file(self, release_id: str, position: int) -> _release.ReleaseFile:
        """One file of a release opened for review (a checker, or its requester); a checker's first opening
        of each file is recorded, and the console's approval waits until every file has been opened."""
        return _review.open_file(self._vault, release_id, position)

    def release_review_state(self, release_id: str) -> _review.ReviewState:
        """The files of a release this user has opened, and the decision recorded per file."""
        return _review.review_state(self._vault, release_id)

    def release_list(self, state: str | None = None) -> list[_release.Release]:
        return _release.list_releases(self._vault, state)

    def release_show(self, release_id: str) -> _release.ReleaseDetail:
        return _release.get_release(self._vault, release_id)

    def release_approve(self, release_id: str, note: str = "", require_opened: bool = False) -> _release.Release:
        """Approve a release (role checker, never the requester); with `require_opened` only once this checker
        has opened every file (`release_open_file`)."""
        return _release.approve_release(self._vault, release_id, note, require_opened=require_opened)

    def release_reject(self, release_id: str, reason: str) -> _release.Release:
        """Reject a release (role checker, never the requester)."""
        return _release.reject_release(self._vault, release_id, reason)

    def release_export(self, release_id: str, out_dir: Path) -> Path:
        """Write an approved release's bundle into OUT_DIR/RELEASE_ID (OUT_DIR is created, 0700, when missing)."""
        return _bundle.export_release(self._vault, release_id, Path(out_dir))

    # -- retention and the console's overview ---------------------------------------------------------

    def retention_status(self, today: dt.date | None = None) -> VaultRetention:
        return vault_status(self._vault, today)

    def dashboard(self, today: dt.date | None = None) -> DashboardSummary:
        """What needs attention for the caller's role, from this one open vault."""
        day = today or clock.today()
        study = self._vault.study
        parts: dict[str, Any] = {}
        if self.role in QUALITY_ROLES:
            deliveries: list[dict[str, Any]] = quality_report(self._vault)["deliveries"]  # type: ignore[assignment]
            severities: dict[str, int] = {}
            for d in deliveries:
                for severity, n in d["findings_by_severity"].items():
                    severities[severity] = severities.get(severity, 0) + n
            parts.update(
                deliveries=len(deliveries),
                rejected=sum(1 for d in deliveries if d["rejected"]),
                findings=dict(sorted(severities.items())),
            )
        if self.role == "dpo":
            due = rights_requests.list_requests(self._vault, day, overdue=True, due_soon=True)
            parts.update(due=[(r, r.deadline_status(day)) for r in due][:25], due_total=len(due))
        if self.role in _release.READ_ROLES:
            parts["releases_waiting"] = len(_release.list_releases(self._vault, "requested"))
        return DashboardSummary(schedule(study, day), retention_warning(study, day), **parts)


@contextlib.contextmanager
def open_vault(
    path: Path, credentials: Credentials, memory_limit: str | None = None, *, verifying: bool = False
) -> Iterator[VaultSession]:
    """Open a vault for the duration of a `with` block (`verifying`: see `Vault.open`)."""
    vault = Vault.open(Path(path), credentials, memory_limit=memory_limit, verifying=verifying)
    try:
        yield VaultSession(vault)
    finally:
        vault.close()


def _one_shot(method: Callable[Concatenate[VaultSession, P], T]) -> Callable[Concatenate[Path, Credentials, P], T]:
    """`api.NAME(path, credentials, ...)`: open the vault, call one session method, close it."""

    @functools.wraps(method)
    def call(path: Path, credentials: Credentials, /, *args: P.args, **kwargs: P.kwargs) -> T:
        with open_vault(path, credentials) as session:
            return method(session, *args, **kwargs)

    return call


add_user = _one_shot(VaultSession.add_user)
list_users = _one_shot(VaultSession.list_users)
change_password = _one_shot(VaultSession.change_password)
audit_head = _one_shot(VaultSession.audit_head)
rights_open = _one_shot(VaultSession.rights_open)
rights_list = _one_shot(VaultSession.rights_list)
rights_show = _one_shot(VaultSession.rights_show)
rights_summary = _one_shot(VaultSession.rights_summary)
la_names = _one_shot(VaultSession.la_names)
rights_identify = _one_shot(VaultSession.rights_identify)
rights_clarification = _one_shot(VaultSession.rights_clarification)
rights_extend = _one_shot(VaultSession.rights_extend)
rights_refuse = _one_shot(VaultSession.rights_refuse)
rights_act = _one_shot(VaultSession.rights_act)
rights_close = _one_shot(VaultSession.rights_close)
complaint_open = _one_shot(VaultSession.complaint_open)
complaint_list = _one_shot(VaultSession.complaint_list)
complaint_acknowledge = _one_shot(VaultSession.complaint_acknowledge)
complaint_close = _one_shot(VaultSession.complaint_close)
ingest = _one_shot(VaultSession.ingest)
quality = _one_shot(VaultSession.quality)
analyse = _one_shot(VaultSession.analyse)
release_request = _one_shot(VaultSession.release_request)
release_list = _one_shot(VaultSession.release_list)
release_show = _one_shot(VaultSession.release_show)
release_approve = _one_shot(VaultSession.release_approve)
release_reject = _one_shot(VaultSession.release_reject)
release_export = _one_shot(VaultSession.release_export)
release_file = _one_shot(VaultSession.release_file)
release_open_file = _one_shot(VaultSession.release_open_file)
release_review_state = _one_shot(VaultSession.release_review_state)
run_outputs = _one_shot(VaultSession.run_outputs)
run_output = _one_shot(VaultSession.run_output)


def release_verify(bundle: Path) -> dict[str, object]:
    """Check an exported bundle against its manifest (no vault needed); returns the manifest."""
    return _bundle.verify_bundle(Path(bundle))


retention_status = _one_shot(VaultSession.retention_status)
risk = _one_shot(VaultSession.risk)
dpia_record = _one_shot(VaultSession.dpia_record)
