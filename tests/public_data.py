"""Where the committed public test files live (tests/data/<source>/, each with its licence and SOURCE.md)."""

from __future__ import annotations

from pathlib import Path

TEST_DATA = Path(__file__).resolve().parent / "data"

# The public sample files of the four upstream tools.
FORMAT_FIXTURE_SOURCES = ("csc-validator-be-cin", "csc-validator-be-903", "liia-tools", "liia-tools-pipeline")
_NOTES = {"SOURCE.md", "LICENSE"}


def format_fixture_files() -> list[Path]:
    """Every public sample data file of the upstream tools, without the licence and source notes."""
    return sorted(
        p
        for source in FORMAT_FIXTURE_SOURCES
        for p in (TEST_DATA / source).rglob("*")
        if p.is_file() and p.name not in _NOTES
    )
