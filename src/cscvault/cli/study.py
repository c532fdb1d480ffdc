"""`cscvault record|notice`: the study's Article 30 record and privacy notice (no vault needed)."""

from __future__ import annotations

from typing import Annotated

import typer

from cscvault import api
from cscvault.cli.options import StudyOption


def record(
    study: StudyOption = None,
    format_: Annotated[str, typer.Option("--format", help="md or html.")] = "md",
) -> None:
    """Print the record of processing activities (UK GDPR Article 30) rendered from the study."""
    typer.echo(api.render_record(study, format_), nl=False)


def notice(
    study: StudyOption = None,
    format_: Annotated[str, typer.Option("--format", help="md or html.")] = "md",
) -> None:
    """Print the privacy notice rendered from the study and its data dictionary."""
    typer.echo(api.render_notice(study, format_), nl=False)
