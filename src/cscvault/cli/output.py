"""Everything the command line prints: one JSON document for --json, one-line messages on stderr, progress bars.

`--json` prints one JSON document on stdout and nothing else; progress and warnings go to stderr.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import typer


def print_json(document: Any) -> None:
    """`--json` prints one JSON document on stdout and nothing else."""
    typer.echo(json.dumps(document, indent=2, sort_keys=False, default=str))


def err(message: str) -> None:
    typer.echo(message, err=True)


@contextlib.contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar on stderr, driven by callbacks (what, done, total). It shows counts and file names,
    never data. Disabled for --json and when stderr is not a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda what, done, total: None
        return
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def advance(what: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=what[:40])

        yield advance


@contextlib.contextmanager
def analysis_progress(label: str) -> Iterator[Callable[[str, int, int], None]]:
    """Progress of an analysis on stderr: a rich bar on a terminal, else one plain line per step (a log or a
    pipe still shows where a long run is). Steps name analyses, never data."""
    from rich.console import Console  # slow to import; only a running analysis needs it

    if Console(stderr=True).is_terminal:
        with progress_bar(label) as advance:
            yield advance
        return

    def line(what: str, done: int, total: int) -> None:
        err(f"{label}: [{done}/{total}] {what}")

    yield line
