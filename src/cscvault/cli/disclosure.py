"""`cscvault disclosure ...`: check table files outside the vault; list the profiles."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cscvault import api
from cscvault.cli.output import print_json

if TYPE_CHECKING:
    from cscvault.api import CheckedTable

app = typer.Typer(help="Disclosure control: check tables against a named profile.", no_args_is_help=True)

_WITHHELD = "[dim]withheld[/dim]"
EXIT_NOT_RELEASABLE = 3  # the documented "bad input data" code: the table cannot leave as it is
_STYLE = {"pass": "green", "fail": "red", "review": "yellow"}


@app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="A CSV (or xlsx) table file.")],
    profile: Annotated[
        str | None, typer.Option("--profile", help="Profile name (see `disclosure profiles`; default acro-default).")
    ] = None,
    count_col: Annotated[
        list[str] | None,
        typer.Option("--count-col", help="A count column to check (repeatable; default: every numeric column)."),
    ] = None,
    label_col: Annotated[
        list[str] | None,
        typer.Option("--label-col", help="A numeric column that is a label, e.g. a year (repeatable)."),
    ] = None,
    implied_totals: Annotated[
        bool,
        typer.Option("--implied-totals", help="Totals are published elsewhere: protect against them too."),
    ] = False,
    earlier: Annotated[
        list[Path] | None,
        typer.Option("--earlier", help="A table released earlier on the same cohort (repeatable): differencing."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document and nothing else.")] = False,
) -> None:
    """Per-cell verdicts (pass/fail/review with reasons) and the suppressed, rounded table.

    Exit code 0 only when every cell passes (the table is releasable as is); 3 when any cell fails or
    needs review (the released version printed is then the suppressed one)."""
    checked = api.check_file(
        file,
        api.get_profile(profile or api.DEFAULT_PROFILE),
        count_col or None,
        label_cols=label_col or None,
        implied_totals=implied_totals,
        earlier=earlier or (),
    )
    if json_out:
        print_json(checked.to_json())
    else:
        _print_checked(checked)
    if checked.status != "pass":
        raise typer.Exit(EXIT_NOT_RELEASABLE)


def _print_checked(checked: CheckedTable) -> None:
    # rich's console takes a noticeable share of a second to import; only the printed tables need it
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    prof = checked.profile
    console.print(f"profile {prof.name} (version {prof.version}): table verdict [bold]{checked.status}[/bold]")
    cells = Table(title="cells", show_lines=False)
    for head in ("row", "column", "value", "released", "verdict", "reasons"):
        cells.add_column(head)
    for c in checked.cells:
        cells.add_row(
            str(c.row),
            escape(c.column),
            "" if c.value is None else f"{c.value:g}",
            _WITHHELD if c.released is None else f"{c.released:g}",
            f"[{_STYLE[c.verdict]}]{c.verdict}[/]",
            escape("; ".join(c.reasons)),
        )
    console.print(cells)
    released = Table(title="released table")
    for col in checked.released.columns:
        released.add_column(escape(str(col)))
    for _, row in checked.released.iterrows():
        released.add_row(*[_WITHHELD if v is None else escape(str(v)) for v in row])
    console.print(released)
    if checked.withheld_cols:
        console.print(f"columns not released (not checked): {', '.join(checked.withheld_cols)}")


@app.command("profiles")
def profiles(
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document and nothing else.")] = False,
) -> None:
    """The shipped profiles with their thresholds."""
    loaded = api.load_profiles()
    if json_out:
        print_json({name: p.as_dict() for name, p in sorted(loaded.items())})
        return
    from rich.console import Console  # only the printed table needs rich (slow to import)
    from rich.table import Table

    table = Table(title=f"disclosure profiles (version {next(iter(loaded.values())).version})")
    for head in ("name", "min count", "zeros", "nk", "p", "min dof", "round", "protection"):
        table.add_column(head)
    for name, p in sorted(loaded.items()):
        table.add_row(
            name,
            str(p.min_count),
            "disclosive" if p.zeros_disclosive else "shown",
            "-" if p.nk_n is None else f"{p.nk_n}/{p.nk_k:g}",
            "-" if p.p_ratio is None else f"{p.p_ratio:g}",
            str(p.min_dof),
            str(p.round_base),
            str(p.protection),
        )
    Console().print(table)
