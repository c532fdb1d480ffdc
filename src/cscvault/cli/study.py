"""`cscvault record|notice`: the study's Article 30 record and privacy notice (no vault needed), and with
`--dpia VAULT` the record with the DPIA annex measured in that vault (role dpo or admin)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cscvault import api
from cscvault.cli.credentials import credentials
from cscvault.cli.options import KeysOption, RecoveryOption, StudyOption, UserOption, key_list, optional_vault
from cscvault.errors import UsageError


def record(
    study: StudyOption = None,
    format_: Annotated[str, typer.Option("--format", help="md or html.")] = "md",
    dpia: Annotated[
        Path | None,
        typer.Option(
            "--dpia",
            metavar="VAULT",
            callback=optional_vault,
            help="Add the DPIA annex: the re-identification risk measured in this vault (role dpo or admin), "
            "dated and tied to its data; the record is the vault's own study's. Audited.",
        ),
    ] = None,
    keys: KeysOption = None,
    what_if: Annotated[
        bool, typer.Option("--what-if", help="With --dpia: add the candidate generalisations and their re-fits.")
    ] = False,
    user: UserOption = None,
    recovery: RecoveryOption = False,
) -> None:
    """Print the record of processing activities (UK GDPR Article 30) rendered from the study."""
    if dpia is None:
        if keys or what_if:
            raise UsageError("--keys and --what-if need --dpia VAULT")
        typer.echo(api.render_record(study, format_), nl=False)
        return
    if study is not None:
        raise UsageError("--study and --dpia: the annex is rendered with the vault's own study")
    if format_ not in ("md", "html"):  # before asking for a password
        raise UsageError(f"unknown record format '{format_}' (use md or html)")
    result = api.dpia_record(dpia, credentials(user, recovery), format_, key_list(keys), what_if)
    typer.echo(result.text, nl=False)


def notice(
    study: StudyOption = None,
    format_: Annotated[str, typer.Option("--format", help="md or html.")] = "md",
) -> None:
    """Print the privacy notice rendered from the study and its data dictionary."""
    typer.echo(api.render_notice(study, format_), nl=False)
