"""`cscvault synth OUT ...`: thin CLI over `cscvault.synth.generate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cscvault import api
from cscvault.cli.output import print_json, progress_bar


def synth(
    out: Annotated[Path, typer.Argument(help="Output directory (returns/ and truth.json are written here).")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives byte-identical files.")] = 1,
    children: Annotated[
        int | None, typer.Option("--children", help="Total children over all LAs (default: the real sizes).")
    ] = None,
    effect_or: Annotated[
        float, typer.Option("--effect-or", help="True odds ratio of care within 18 months after go-live.")
    ] = 0.85,
    la_spread: Annotated[
        float,
        typer.Option(
            "--la-spread",
            help="Scale of the LAs' differences in care rates: 1 = their real base rates, 0 = no LA variance.",
        ),
    ] = 1.0,
    formats: Annotated[
        str | None, typer.Option("--formats", help="Comma-separated: dr,cin,903,school (default: all).")
    ] = None,
    clean: Annotated[bool, typer.Option("--clean", help="No real-world mess (quirks, missing values).")] = False,
    with_identifiers: Annotated[
        bool, typer.Option("--with-identifiers", help="Plant identifier bait (names, NHS numbers...).")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document and nothing else.")] = False,
) -> None:
    """Write synthetic LA returns (DR1-DR3, CIN census, SSDA903, school census) with a known truth."""
    with progress_bar("synth", enabled=not json_out) as advance:
        summary = api.synth_generate(
            out,
            seed=seed,
            children=children,
            effect_or=effect_or,
            la_spread=la_spread,
            formats=formats or ",".join(api.SYNTH_FORMATS),
            clean=clean,
            with_identifiers=with_identifiers,
            progress=lambda done, total, what: advance(what, done, total),
        )
    if json_out:
        print_json(summary.as_dict())
        return
    typer.echo(
        f"wrote {len(summary.files)} files for {summary.children:,} children "
        f"({', '.join(f'{k} {v:,}' for k, v in summary.children_per_la.items())}) in {summary.seconds:.1f} s"
    )
    typer.echo(f"  returns:   {summary.returns_dir}")
    typer.echo(f"  truth:     {summary.truth_path} (seed {summary.seed}, effect OR {summary.effect_or})")
    typer.echo(f"  formats:   {', '.join(summary.formats)}; {'clean' if summary.clean else 'with real-world mess'}")
    typer.echo(f"  primary sample (true): {summary.sample_children:,} children")
    if summary.bait_manifest is not None:
        typer.echo(f"  identifier bait: {summary.bait_manifest}")
