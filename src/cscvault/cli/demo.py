"""`cscvault demo`: the main job end to end on built-in synthetic data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from cscvault import api


def demo(
    out: Annotated[Path, typer.Option("--out", help="Where to put the demo.")] = Path("cscvault-demo"),
    children: Annotated[int | None, typer.Option("--children", help="Number of synthetic children.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the synthetic data.")] = 2020,
) -> None:
    """The main job on built-in synthetic data: a vault, users, and (as they land) synth, ingest, analyse, report."""
    password = os.environ.get("CSCVAULT_PASSWORD")
    result = api.run_demo(out, password=password, children=children, seed=seed, echo=typer.echo)
    if result.generated_password:
        typer.echo(f"Generated password for every demo user (shown once): {result.generated_password}")
