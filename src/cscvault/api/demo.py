"""`cscvault demo`: the main job, end to end, on built-in synthetic data.

synthetic returns of the five LAs (known truth beside them) -> a fresh encrypted vault with one user per
role -> ingest -> the pre-registered primary analysis, its outputs stored inside the vault -> the analyst
asks for the release of the report and results -> a checker reviews each file and approves -> the export
lands in the demo folder -> a verified audit chain and the privacy notice. The demo folder carries a
marker file so a later run may replace it; any other existing folder is refused rather than overwritten.
"""

from __future__ import annotations

import secrets
import shutil
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cscvault import api
from cscvault.errors import TamperedError, UsageError
from cscvault.fileio import storage_error
from cscvault.synth.generate import generate
from cscvault.vault.store import Credentials

MARKER = ".cscvault-demo"
# A fifth of the trial's real size keeps the demo to a few minutes on a laptop; --children changes it.
DEMO_CHILDREN = 20_000
DEMO_USERS = (("analyst", "analyst"), ("checker", "checker"), ("dpo", "dpo"))
# What the demo's analyst asks to release: the report and the model results.
RELEASED = ("report.html", "results.json")


@dataclass
class DemoResult:
    out: Path
    vault: Path
    users: list[str]
    generated_password: str | None
    audit_entries: int
    artefacts: dict[str, Path] = field(default_factory=dict)


def _generate_password() -> str:
    alphabet = string.ascii_letters + string.digits
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))


def _prepare(out: Path) -> None:
    if out.exists():
        if not (out / MARKER).is_file():
            raise UsageError(f"{out}: exists and is not a cscvault demo folder; choose another --out")
        shutil.rmtree(out)  # a previous demo: synthetic data only
    try:
        out.mkdir(parents=True)
        (out / MARKER).write_text("created by cscvault demo; safe to delete\n", encoding="utf-8")
    except OSError as exc:
        raise storage_error(exc, out) from None


def run_demo(
    out: Path,
    password: str | None = None,
    children: int | None = None,
    seed: int = 2020,
    echo: Callable[[str], object] = print,
) -> DemoResult:
    """Run the whole job into `out`."""
    out = Path(out)
    generated = None
    if not password:
        password = generated = _generate_password()
    _prepare(out)
    n = children or DEMO_CHILDREN
    synth = generate(out / "synthetic", seed=seed, children=n)
    echo(f"1. synthetic returns of {len(synth.children_per_la)} LAs ({n} children, seed {seed}): {synth.returns_dir}")
    vault_path = out / "vault"
    api.init_vault(vault_path, password, admin="admin")
    echo(f"2. created encrypted vault {vault_path} (recovery code withheld in the demo)")
    admin = Credentials("admin", password)
    users = ["admin"]
    with api.open_vault(vault_path, admin) as vault:
        for name, role in DEMO_USERS:
            vault.add_user(name, role, password)
            users.append(name)
    echo(f"3. added users: {', '.join(users)} (one per role)")
    report = api.ingest(vault_path, admin, [synth.returns_dir])
    rows = sum(d.rows_loaded for d in report.deliveries)
    echo(
        f"4. ingested {report.loaded} deliveries ({rows} rows; {report.rejected} rejected, {report.skipped} duplicates)"
    )
    analyst = Credentials("analyst", password)
    analysis = api.analyse(vault_path, analyst)
    head = analysis.run.headline.fit.effect
    echo(
        f"5. primary analysis run {analysis.run.run_id}: {len(analysis.run.fits)} models fitted; "
        f"{len(analysis.outputs)} outputs stored inside the vault (nothing written outside it)"
    )
    release = api.release_request(
        vault_path, analyst, list(RELEASED), "demo: the primary report and results", run=analysis.run.run_id
    )
    echo(f"6. the analyst asked for the release of {', '.join(RELEASED)}: {release.release_id} ({release.verdict})")
    checker = Credentials("checker", password)
    detail = api.release_show(vault_path, checker, release.release_id)
    for output in detail.outputs:  # the checker opens each file (the console records it; here, read each one)
        api.release_file(vault_path, checker, release.release_id, output.position)
    approved = api.release_approve(vault_path, checker, release.release_id, "demo: reviewed every file")
    echo(f"7. checker '{approved.decided_by}' reviewed {len(detail.outputs)} file(s) and approved the release")
    bundle = api.release_export(vault_path, analyst, release.release_id, out / "releases")
    echo(f"8. exported the approved release: {bundle} (manifest.json lists every file and its SHA-256)")
    audit_report = api.verify_audit(vault_path, admin)
    if not audit_report.ok:
        raise TamperedError(f"demo audit chain broken: {audit_report.problems[0]}")
    echo(f"9. audit chain verified: {audit_report.entries} entries")
    notice_path = out / "privacy-notice.html"
    notice_path.write_text(api.render_notice(fmt="html"), encoding="utf-8")
    echo(f"10. privacy notice rendered: {notice_path}")
    echo("")
    small = analysis.run.headline.fit.small_sample
    low, high = (small.ci_low, small.ci_high) if small else (head.ci_low, head.ci_high)
    test = f"t test, {small.df:g} between-within df" if small else "Wald z"
    echo(
        f"Primary odds ratio of care within 18 months: {head.odds_ratio:.3f} "
        f"(95% CI {low:.3f} to {high:.3f}; {test}); true value {synth.effect_or}"
    )
    released_report = bundle / "outputs" / "report.html"
    echo(f"Open the released report: {released_report}")
    return DemoResult(
        out=out,
        vault=vault_path,
        users=users,
        generated_password=generated,
        audit_entries=audit_report.entries,
        artefacts={
            "notice": notice_path,
            "report": released_report,
            "results": bundle / "outputs" / "results.json",
            "bundle": bundle,
            "truth": synth.truth_path,
        },
    )
