"""`cscvault demo`: the main job, end to end, on built-in synthetic data.

It grows with each capability. Today: a fresh vault with one user per role, a verified audit chain,
and the privacy notice. The demo folder carries a marker file so a later run may replace it; any other
existing folder is refused rather than overwritten.
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
from cscvault.vault import Credentials

MARKER = ".cscvault-demo"
DEMO_USERS = (("analyst", "analyst"), ("checker", "checker"), ("dpo", "dpo"))


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
        from cscvault.vault.files import storage_error

        raise storage_error(exc, out) from None


def run_demo(
    out: Path,
    password: str | None = None,
    children: int | None = None,
    seed: int = 2020,
    echo: Callable[[str], object] = print,
) -> DemoResult:
    """Run the demo into `out`. `children` and `seed` size the synthetic returns (used once synth lands)."""
    del children, seed  # consumed by the synthetic-data step
    out = Path(out)
    generated = None
    if not password:
        password = generated = _generate_password()
    _prepare(out)
    vault_path = out / "vault"
    result = api.init_vault(vault_path, password, admin="admin")
    echo(f"1. created encrypted vault {vault_path} (recovery code withheld in the demo)")
    admin = Credentials("admin", password)
    users = ["admin"]
    with api.open_vault(vault_path, admin) as vault:
        for name, role in DEMO_USERS:
            vault.add_user(name, role, password)
            users.append(name)
    echo(f"2. added users: {', '.join(users)} (one per role)")
    report = api.verify_audit(vault_path, admin)
    if not report.ok:
        raise TamperedError(f"demo audit chain broken: {report.problems[0]}")
    echo(f"3. audit chain verified: {report.entries} entries")
    notice_path = out / "privacy-notice.html"
    notice_path.write_text(api.render_notice(fmt="html"), encoding="utf-8")
    echo(f"4. privacy notice rendered: {notice_path}")
    del result
    return DemoResult(
        out=out,
        vault=vault_path,
        users=users,
        generated_password=generated,
        audit_entries=report.entries,
        artefacts={"notice": notice_path},
    )
