"""`cscvault init|user|audit|ingest|quality`: the vault, its users, its audit chain and the data coming in."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Annotated, Any

import typer

from cscvault import api
from cscvault.cli.credentials import credentials, secret
from cscvault.cli.options import JsonOption, NewVaultArg, RecoveryOption, StudyOption, UserOption, VaultArg
from cscvault.cli.output import err, print_json, progress_bar


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.add_typer(user_app, name="user")
    app.add_typer(audit_app, name="audit")
    app.command()(ingest)
    app.command()(quality)


def init(
    vault: NewVaultArg,
    study: StudyOption = None,
    admin: Annotated[str, typer.Option("--admin", help="Name of the first (admin) user.")] = "admin",
) -> None:
    """Create an encrypted vault. Prints the recovery code once: write it down and keep it safe.

    The admin's password comes from a prompt or CSCVAULT_NEW_PASSWORD (CSCVAULT_PASSWORD is still read if
    that is not set)."""
    password = secret(
        "CSCVAULT_NEW_PASSWORD", f"New password for {admin}", confirm=True, fallback_env="CSCVAULT_PASSWORD"
    )
    result = api.init_vault(vault, password, admin=admin, study_path=study)
    typer.echo(f"Created vault {result.path} (id {result.vault_id}) with admin user '{result.admin}'.")
    typer.echo(
        f"Age recipient for the local authorities' packages (cscvault la package --recipient): {result.recipient}"
    )
    typer.echo("Recovery code (shown once; store it offline, it opens the vault if every password is lost):")
    typer.echo(f"  {result.recovery_code}")


user_app = typer.Typer(help="Vault users and their roles.", no_args_is_help=True)


@user_app.command("add")
def user_add(
    vault: VaultArg,
    name: Annotated[str, typer.Argument(help="The new user's name.")],
    role: Annotated[str, typer.Option("--role", help=f"One of: {', '.join(api.ROLES)}.")],
    user: UserOption = None,
    recovery: RecoveryOption = False,
) -> None:
    """Add a user (admin only). Their password comes from a prompt or CSCVAULT_NEW_PASSWORD."""
    creds = credentials(user, recovery)
    new_password = secret("CSCVAULT_NEW_PASSWORD", f"New password for {name}", confirm=True)
    api.add_user(vault, creds, name, role, new_password)
    typer.echo(f"Added user '{name}' with role {role}.")


@user_app.command("list")
def user_list(
    vault: VaultArg, user: UserOption = None, recovery: RecoveryOption = False, json_: JsonOption = False
) -> None:
    """List users and roles (admin or dpo)."""
    users = api.list_users(vault, credentials(user, recovery))
    if json_:
        print_json(
            [{"name": u.name, "role": u.role, "created_at": u.created_at, "created_by": u.created_by} for u in users]
        )
        return
    for u in users:
        typer.echo(f"{u.name:<20} {u.role:<8} added {u.created_at:%Y-%m-%d} by {u.created_by}")


@user_app.command("passwd")
def user_passwd(
    vault: VaultArg,
    target: Annotated[str | None, typer.Argument(help="Whose password (default: your own; others need admin).")] = None,
    user: UserOption = None,
    recovery: RecoveryOption = False,
) -> None:
    """Change a password. Rewraps the keys; the data are not re-encrypted."""
    creds = credentials(user, recovery)
    who = target or creds.user
    new_password = secret("CSCVAULT_NEW_PASSWORD", f"New password for {who}", confirm=True)
    api.change_password(vault, creds, new_password, user=who)
    typer.echo(f"Password changed for '{who}'.")


audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    vault: VaultArg,
    expect: Annotated[
        str | None,
        typer.Option("--expect", help="A head printed earlier by `audit head` and kept outside the vault."),
    ] = None,
    user: UserOption = None,
    recovery: RecoveryOption = False,
    json_: JsonOption = False,
) -> None:
    """Read every database block and recompute the audit chain; exit 5 on damage, rollback or any edited,
    deleted, reordered or truncated entry (and, with --expect, when the vault is older than that head)."""
    report = api.verify_audit(vault, credentials(user, recovery), expect=expect)
    if json_:
        print_json(
            {
                "ok": report.ok,
                "entries": report.entries,
                "head_entries": report.head_entries,
                "problems": report.problems,
            }
        )
    elif report.ok:
        typer.echo(f"audit chain intact: {report.entries} entries, matching the authenticated head")
    else:
        for problem in report.problems:
            err(f"audit: {problem}")
    api.require_intact(report)


@audit_app.command("head")
def audit_head(vault: VaultArg, user: UserOption = None, recovery: RecoveryOption = False) -> None:
    """Print the current head (VAULT_ID:COUNT:HASH). Keep it outside the vault; `audit verify --expect HEAD`
    then detects a whole vault folder put back from an older copy."""
    typer.echo(api.audit_head(vault, credentials(user, recovery)))


def ingest(
    vault: VaultArg,
    paths: Annotated[list[Path], typer.Argument(help="Return files or folders of them.", metavar="PATH...")],
    user: UserOption = None,
    recovery: RecoveryOption = False,
    json_: JsonOption = False,
) -> None:
    """Load returns into the vault: each file one all-or-nothing delivery, identified by its SHA-256."""
    creds = credentials(user, recovery)
    with progress_bar("ingest", enabled=not json_) as advance:
        report = api.ingest(vault, creds, paths, advance)
    if json_:
        print_json([d.__dict__ for d in report.deliveries])
    else:
        typer.echo(
            f"{report.loaded} deliveries loaded, {report.rejected} rejected, {report.skipped} already loaded "
            f"({sum(d.rows_loaded for d in report.deliveries)} rows)"
        )
    # A script must be able to trust the exit code: any rejected file is exit 3 (the good ones stay loaded).
    api.require_no_rejections(report)


def quality(
    vault: VaultArg,
    details: Annotated[bool, typer.Option("--details", help="Also one line per file, after the summary.")] = False,
    user: UserOption = None,
    recovery: RecoveryOption = False,
    json_: JsonOption = False,
) -> None:
    """Data quality: a summary per LA, return and year, linkage to referrals, and per file with --details."""
    doc = api.quality(vault, credentials(user, recovery))
    if json_:
        print_json(doc)
        return
    deliveries: list[dict[str, Any]] = doc["deliveries"]  # type: ignore[assignment]
    groups: list[dict[str, Any]] = doc["summary"]  # type: ignore[assignment]
    links: list[dict[str, Any]] = doc["linkage"]  # type: ignore[assignment]
    rejected = sum(1 for d in deliveries if d["rejected"])
    loaded = len(deliveries) - rejected
    typer.echo(f"Data quality of {vault}: {len(deliveries)} files, {loaded} loaded, {rejected} rejected")
    typer.echo("")
    typer.echo(textwrap.fill(str(doc["rows_explained"]), width=110))
    typer.echo("")
    typer.echo("== Summary by local authority, return and year ==")
    typer.echo(
        f"{'local authority':<20} {'return':<24} {'year':<8} {'files':>5} {'rows read':>10} {'rows loaded':>11} "
        f"{'rejected':>8} {'linked':>7}  top findings"
    )
    for g in groups:
        top = ", ".join(f"{f['rule']} x{f['count']}" for f in g["top_findings"]) or "none"
        rate = f"{g['linkage_rate']:.1%}" if g["linkage_rate"] is not None else "n/a"
        typer.echo(
            f"{g['la']:<20} {g['return']:<24} {g['collection_year'] or '':<8} {g['files']:>5} {g['rows_read']:>10} "
            f"{g['rows_loaded']:>11} {g['rejected']:>8} {rate:>7}  {top}"
        )
    if not groups:
        typer.echo("no deliveries yet")
    typer.echo("('linked': children in the tables these files load who also have a referral, in that LA)")
    typer.echo("")
    typer.echo("== Linkage to referrals by local authority (children linked / children in the table) ==")
    tables = ("cla_episodes", "cp_plans", "attendance_terms", "children")
    typer.echo(f"{'local authority':<20} {'referred':>9}" + "".join(f" {t:>20}" for t in tables))
    for row in links:
        cells = []
        for t in tables:
            e = row[t]
            rate = f"{e['match_rate']:.1%}" if e["match_rate"] is not None else "n/a"
            cell = f"{rate} ({e['linked_to_referral']}/{e['children']})"
            cells.append(f" {cell:>20}")
        typer.echo(f"{row['la']:<20} {row['children_referred']:>9}" + "".join(cells))
    if not details:
        typer.echo("")
        typer.echo("One line per file: cscvault quality VAULT --details")
        return
    typer.echo("")
    typer.echo("== Files ==")
    typer.echo(
        f"{'local authority':<20} {'return':<24} {'year':<8} {'rows read':>10} {'rows loaded':>11} {'findings':>8} "
        f"{'status':<8}  file"
    )
    for d in deliveries:
        status = "REJECTED" if d["rejected"] else "loaded"
        typer.echo(
            f"{d['la'] or 'unknown LA':<20} {d['return_name']:<24} {d['collection_year'] or '':<8} "
            f"{d['rows_read']:>10} {d['rows_loaded']:>11} {sum(d['findings'].values()):>8} {status:<8}  "
            f"{d['file_label']}"
        )
