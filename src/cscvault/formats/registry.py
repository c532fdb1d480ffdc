"""Choosing a reader by content (the first bytes, and for workbooks the sheet names), not file name."""

from __future__ import annotations

from pathlib import Path

from cscvault.formats.base import Reader
from cscvault.formats.cin_census import CinCensusReader
from cscvault.formats.dr_returns import DrReturnReader
from cscvault.formats.school_census import SchoolCensusReader
from cscvault.formats.ssda903 import Ssda903CsvReader, Ssda903XmlReader

HEAD_BYTES = 65_536

READERS: tuple[Reader, ...] = (
    CinCensusReader(),
    Ssda903XmlReader(),
    Ssda903CsvReader(),
    SchoolCensusReader(),
    DrReturnReader(),
)


def read_head(path: Path, n: int = HEAD_BYTES) -> bytes:
    with path.open("rb") as fh:
        return fh.read(n)


def detect(path: Path, head: bytes | None = None) -> Reader | None:
    """The reader most confident about this file, or None when no reader recognises it."""
    if head is None:
        head = read_head(path)
    if not head.strip():
        return None
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        # UTF-16 text: sniff its UTF-8 form (the readers decode the whole file the same way).
        head = head.decode("utf-16", errors="replace").encode("utf-8")
    best: tuple[int, Reader] | None = None
    for reader in READERS:
        try:
            score = reader.sniff(head, path)
        except Exception:  # a sniffer failing on junk means "not mine"
            score = 0
        if score > 0 and (best is None or score > best[0]):
            best = (score, reader)
    return best[1] if best else None


def format_names() -> list[str]:
    return [r.format for r in READERS]
