"""Reading CSV text safely: size limit, binary refusal, BOM and encoding fallback, ragged rows."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from cscvault.formats.base import MAX_LINE_BYTES, MAX_TEXT_BYTES, Collector

_CONTROL = bytes(range(0, 9)) + bytes([11, 12]) + bytes(range(14, 32))


def read_text(path: Path, sink: Collector, limit: int = MAX_TEXT_BYTES) -> str | None:
    """The file as text, or None after a fatal finding (too big, empty, binary)."""
    size = path.stat().st_size
    if size > limit:
        sink.add("FMT-021")
        return None
    long_line = first_long_line(path)
    if long_line is not None:
        sink.add("FMT-024", line=long_line)
        return None
    data = path.read_bytes()
    return decode(data, sink)


def first_long_line(path: Path, limit: int = MAX_LINE_BYTES, block: int = 1 << 20) -> int | None:
    """The number of the first line longer than `limit` bytes, or None; reads in blocks (memory stays bounded)."""
    line, length = 1, 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(block), b""):
            start = 0
            while True:
                nl = chunk.find(b"\n", start)
                if nl < 0:
                    length += len(chunk) - start
                    if length > limit:
                        return line
                    break
                if length + nl - start > limit:
                    return line
                line, length, start = line + 1, 0, nl + 1
    return None


def decode(data: bytes, sink: Collector) -> str | None:
    if not data.strip():
        sink.add("FMT-002")
        return None
    if looks_binary(data[:65536]):
        sink.add("FMT-018")
        return None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            sink.add("FMT-018")
            return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
        sink.add("FMT-003", encoding="Windows-1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
        sink.add("FMT-003", encoding="Latin-1")
    return text


def looks_binary(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    if b"\x00" in head:
        return True
    if not head:
        return False
    control = sum(head.count(bytes([c])) for c in _CONTROL)
    return control / len(head) > 0.01


def csv_rows(text: str) -> list[list[str]]:
    """All rows of a CSV text (any newline style, missing final newline tolerated)."""
    csv.field_size_limit(1 << 30)
    sample = text[:8192]
    delimiter = ","
    first = sample.split("\n", 1)[0]
    if first.count("\t") > first.count(",") and first.count("\t") >= 1:
        delimiter = "\t"
    elif first.count(";") > first.count(",") and first.count(";") >= 2:
        delimiter = ";"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    try:
        return [row for row in reader]
    except csv.Error:
        # A NUL or a broken quote late in the file: fall back to splitting lines plainly.
        return [line.split(delimiter) for line in text.splitlines()]
