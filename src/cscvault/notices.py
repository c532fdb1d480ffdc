"""Notices for the person at the keyboard (e.g. "deletion is due in 42 days").

The CLI routes them to stderr and the web console to its pages; library code only calls `emit`. A notice is
about the vault, never about a child.
"""

from __future__ import annotations

from collections.abc import Callable

_sink: Callable[[str], None] | None = None


def set_sink(sink: Callable[[str], None] | None) -> None:
    global _sink
    _sink = sink


def emit(message: str) -> None:
    if _sink is not None:
        _sink(message)
