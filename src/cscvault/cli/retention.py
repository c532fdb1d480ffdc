"""CLI for retention (status, destroy, verify), backup and restore: parse, call, print."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cscvault import api
from cscvault.cli.credentials import credentials, secret
from cscvault.cli.options import JsonOption, RecoveryOption, UserOption, VaultArg
from cscvault.cli.output import err, print_json
from cscvault.errors import UsageError

app = typer.Typer(help="Retention schedule, secure destruction and deletion certificates.", no_args_is_help=True)


@app.command("status")
def status(
    vault: VaultArg, user: UserOption = None, recovery: RecoveryOption = False, json_: JsonOption = False
) -> None:
    """The final-report and deletion dates, days remaining, and what destruction will remove."""
    st = api.retention_status(vault, credentials(user, recovery))
    if json_:
        print_json(st.as_dict())
        return
    s = st.schedule
    typer.echo(f"Study {st.study}, vault {st.vault_id}")
    typer.echo(f"  final report:     {s.final_report.isoformat()} ({s.final_report_label})")
    typer.echo(f"  deletion due:     {s.delete_by.isoformat()} ({s.delete_by_label})")
    left = f"{s.days_remaining} days" if s.days_remaining >= 0 else f"overdue by {-s.days_remaining} days"
    typer.echo(f"  days remaining:   {left} (status: {s.phase})")
    typer.echo(
        f"  will destroy:     {st.key_slots} key slots, {len(st.files)} files,"
        f" {len(st.tables)} tables ({sum(st.tables.values())} rows)"
    )
    for name, rows in st.tables.items():
        if rows:
            typer.echo(f"    {name:<24} {rows} rows")
    typer.echo(f"  backups to expire: {len(st.backups)}")
    for b in st.backups:
        typer.echo(f"    {b['file_name']} in {b['location']} (by {b['delete_by']})")
    if st.warning:
        err(f"warning: {st.warning}")


@app.command("destroy")
def destroy(
    vault: VaultArg,
    second_user: Annotated[
        str, typer.Option("--second-user", help="The second person (one dpo and one admin are needed).")
    ],
    early_reason: Annotated[
        str | None,
        typer.Option("--early-reason", help="Required before the deletion date; recorded in the certificate."),
    ] = None,
    certificate_out: Annotated[
        Path | None, typer.Option("--certificate-out", help="Where to write the certificate (outside the vault).")
    ] = None,
    signing_key: Annotated[
        Path | None,
        typer.Option("--signing-key", help="Ed25519 PEM key outside the vault; created on first use."),
    ] = None,
    user: UserOption = None,
    json_: JsonOption = False,
) -> None:
    """Crypto-shred the vault and write a signed deletion certificate. Irreversible.

    The second user's password comes from a second prompt or CSCVAULT_SECOND_PASSWORD.
    """
    first = credentials(user)
    second = api.Credentials(second_user, secret("CSCVAULT_SECOND_PASSWORD", f"Password for {second_user}"))
    result = api.destroy_vault(
        vault,
        first,
        second,
        early_reason=early_reason,
        certificate_out=certificate_out,
        signing_key=signing_key,
    )
    cert = result.certificate["certificate"]
    if json_:
        print_json(
            {
                "destroyed_at": cert["destroyed_at"],
                "certificate": str(result.certificate_path),
                "public_key": str(result.public_key_path),
                "key_id": result.key_id,
                "backups_to_expire": cert["backups_to_expire"],
            }
        )
        return
    typer.echo(f"Vault {vault} destroyed at {cert['destroyed_at']}.")
    typer.echo(f"Deletion certificate: {result.certificate_path} (Ed25519 key {result.key_id})")
    typer.echo(
        f"Verify it with: cscvault retention verify {result.certificate_path} --public-key {result.public_key_path}"
    )
    backups = cert["backups_to_expire"]
    if backups:
        typer.echo(f"{len(backups)} backup(s) must also be destroyed by whoever holds them:")
        for b in backups:
            typer.echo(f"  {b['file_name']} in {b['location']} (sha256 {b['sha256'][:16]}...)")


@app.command("verify")
def verify(
    certificate: Annotated[Path, typer.Argument(help="A deletion certificate (JSON).")],
    public_key: Annotated[Path, typer.Option("--public-key", help="The signer's Ed25519 public key (PEM).")],
    json_: JsonOption = False,
) -> None:
    """Check a deletion certificate's signature (exit 5 when it was edited or signed by another key)."""
    body = api.verify_certificate(certificate, public_key)
    if json_:
        print_json({"valid": True, "certificate": body})
        return
    who = ", ".join(f"{a['user']} ({a['role']})" for a in body.get("authorised_by", []))
    typer.echo(
        f"certificate valid: vault {body['vault']['vault_id']} destroyed at {body['destroyed_at']}, authorised by {who}"
    )


def backup(
    vault: VaultArg,
    to: Annotated[Path, typer.Option("--to", help="Folder for the backup file (outside the vault).")],
    recipient: Annotated[
        list[str] | None,
        typer.Option("--recipient", help="Extra age recipient (age1...), e.g. an offline key; repeatable."),
    ] = None,
    user: UserOption = None,
    recovery: RecoveryOption = False,
    json_: JsonOption = False,
) -> None:
    """Write an age-encrypted snapshot of the vault (admin). Always encrypted to the vault's own key."""
    if not to.exists() and vault.resolve() not in to.resolve().parents:  # private to you, like `release export`
        try:
            to.mkdir(mode=0o700, parents=True)
        except OSError as exc:
            raise UsageError(f"{to}: cannot create the backup folder ({exc.strerror})") from None
    result = api.backup_vault(vault, credentials(user, recovery), to, recipients=list(recipient or []))
    doc = {
        "backup": str(result.path),
        "backup_id": result.backup_id,
        "sha256": result.sha256,
        "size_bytes": result.size_bytes,
        "recipients": list(result.recipients),
        "delete_by": result.delete_by.isoformat(),
        "head": result.head,
    }
    if json_:
        print_json(doc)
        return
    typer.echo(f"Backup written: {result.path} ({result.size_bytes} bytes, sha256 {result.sha256})")
    typer.echo(f"Encrypted to {len(result.recipients)} recipient(s); it must be destroyed by {doc['delete_by']}.")
    typer.echo(f"Head (keep it outside the vault; `restore --expect` needs it): {result.head}")
    if len(result.recipients) == 1:
        err(
            "warning: only the vault's own key can decrypt this backup; add --recipient with an offline key"
            " so it can be restored if the vault is lost"
        )


def restore(
    backup_file: Annotated[Path, typer.Argument(help="A backup written by `cscvault backup`.", metavar="BACKUP")],
    to: Annotated[Path, typer.Option("--to", help="The vault directory to restore into.")],
    identity: Annotated[
        Path | None,
        typer.Option("--identity", help="age identity file that decrypts the backup (default: the live vault's)."),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Restore over the live vault at --to (moved aside, still encrypted).")
    ] = False,
    accept_data_loss: Annotated[
        str | None,
        typer.Option(
            "--i-accept-data-loss",
            help="A dpo user (the second person) who accepts restoring although later backups cannot be read"
            " or --expect is not reached; their password comes from CSCVAULT_SECOND_PASSWORD or a prompt. Audited.",
            metavar="DPO_USER",
        ),
    ] = None,
    expect: Annotated[
        str | None,
        typer.Option(
            "--expect",
            help="The head printed by `cscvault audit head` after the latest erasure, kept outside the vault."
            " Restoring into a new folder refuses (exit 5) unless the backup or a later one beside it reaches it;"
            " with --replace the live vault must reach it.",
            metavar="HEAD",
        ),
    ] = None,
    user: UserOption = None,
    recovery: RecoveryOption = False,
    json_: JsonOption = False,
) -> None:
    """Restore a backup, re-applying every erasure and restriction recorded since it was taken."""
    if to.exists():
        api.check_vault_dir(to)  # never restore over a destroyed vault; say so before asking for a password
    ident = api.read_identity_file(identity) if identity is not None else None
    second = None
    if accept_data_loss is not None:
        second = api.Credentials(
            accept_data_loss, secret("CSCVAULT_SECOND_PASSWORD", f"Password for {accept_data_loss}")
        )
    result = api.restore_backup(
        backup_file,
        to,
        credentials(user, recovery),
        identity=ident,
        replace=replace,
        accept_data_loss=second,
        expect=expect,
    )
    doc = {
        "vault": str(result.path),
        "backup_id": result.backup_id,
        "backup_created_at": result.backup_created_at,
        "statuses_reapplied": result.statuses_reapplied,
        "rows_purged": result.rows_purged,
        "sources": result.sources,
        "unreadable_backups": result.unreadable_backups,
        "head_reached_by": result.head_reached_by,
        "override_by": result.override_by,
        "register_rows": result.register_rows,
        "replaced_vault_moved_to": str(result.replaced_vault_moved_to) if result.replaced_vault_moved_to else None,
    }
    if json_:
        print_json(doc)
        return
    typer.echo(f"Restored backup {result.backup_id} (taken {result.backup_created_at}) to {result.path}.")
    typer.echo(
        f"Re-applied {result.statuses_reapplied} erasure/restriction record(s) from"
        f" {', '.join(result.sources) or 'no later source'};"
        f" removed {sum(result.rows_purged.values())} row(s) of erased children;"
        f" rights register and rectifications ({result.register_rows} row(s)) from"
        f" {result.sources[0] if result.sources else 'the backup itself'}."
    )
    if result.head_reached_by:
        typer.echo(f"The expected head is in {result.head_reached_by}: no later erasure is missing.")
    if result.override_by and result.head_reached_by is None:
        err(
            f"warning: restored without proof that every later backup is here (the expected head was not reached),"
            f" accepted by {result.override_by} (audited); erasures made since may NOT be re-applied"
        )
    elif result.override_by:
        err(
            f"warning: restored without {result.unreadable_backups} unreadable later backup(s), accepted by"
            f" {result.override_by} (audited); erasures they hold were NOT re-applied"
        )
    elif result.unreadable_backups:
        err(f"warning: {result.unreadable_backups} other backup file(s) in that folder could not be read")
    if result.replaced_vault_moved_to:
        typer.echo(f"The previous vault was moved to {result.replaced_vault_moved_to}; destroy it once checked.")
