"""Reading CSV text safely: the size limit, binary refusal, BOMs and encoding fallbacks, delimiters and ragged rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from cscvault.formats.base import Collector
from cscvault.formats.text import csv_rows, decode, looks_binary, read_text


def _rules(sink: Collector) -> list[str]:
    return [f.rule_id for f in sink.findings]


def test_utf8_with_and_without_bom() -> None:
    sink = Collector("a.csv")
    assert decode(b"CHILD,SEX\n1,2\n", sink) == "CHILD,SEX\n1,2\n"
    assert decode(b"\xef\xbb\xbfCHILD,SEX\n", sink) == "CHILD,SEX\n"  # BOM dropped
    assert _rules(sink) == []


def test_utf16_with_bom_is_decoded_not_called_binary() -> None:
    sink = Collector("a.csv")
    assert decode("CHILD,SEX\n".encode("utf-16"), sink) == "CHILD,SEX\n"
    assert _rules(sink) == []


def test_windows_1252_is_read_and_reported() -> None:
    sink = Collector("a.csv")
    assert decode("name\nRenée’s\n".encode("cp1252"), sink) == "name\nRenée’s\n"
    assert _rules(sink) == ["FMT-003"]


def test_bytes_outside_windows_1252_fall_back_to_latin_1() -> None:
    sink = Collector("a.csv")
    assert decode(b"a\n\x81\n", sink) == "a\n\x81\n"  # 0x81 is undefined in Windows-1252
    assert _rules(sink) == ["FMT-003"]


@pytest.mark.parametrize(
    ("data", "rule"), [(b"", "FMT-002"), (b" \n\r\n", "FMT-002"), (b"PK\x03\x04\x00\x00", "FMT-018")]
)
def test_empty_and_binary_data_are_fatal_findings(data: bytes, rule: str) -> None:
    sink = Collector("a.csv")
    assert decode(data, sink) is None
    assert _rules(sink) == [rule]


def test_binary_detection() -> None:
    assert looks_binary(b"abc\x00def")
    assert looks_binary(bytes(range(1, 8)) * 10)  # mostly control characters
    assert not looks_binary(b"a,b\r\n1,2\t3\n")  # tabs and newlines are text
    assert not looks_binary("x".encode("utf-16"))
    assert not looks_binary(b"")


def test_a_file_over_the_limit_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(b"a,b\n" * 100)
    sink = Collector(path.name)
    assert read_text(path, sink, limit=399) is None
    assert _rules(sink) == ["FMT-021"]
    sink = Collector(path.name)
    assert read_text(path, sink, limit=400) == "a,b\n" * 100


def test_delimiters_newlines_and_ragged_rows() -> None:
    assert csv_rows("a,b,c\r\n1,2\r\n3,4,5,6") == [["a", "b", "c"], ["1", "2"], ["3", "4", "5", "6"]]
    assert csv_rows("a\tb\n1\t2\n") == [["a", "b"], ["1", "2"]]
    assert csv_rows("a;b;c\n1;2;3\n") == [["a", "b", "c"], ["1", "2", "3"]]
    assert csv_rows("a;b,c\n") == [["a;b", "c"]]  # one semicolon is not enough to switch
    assert csv_rows('a,b\n"x, y","line\nbreak"\n') == [["a", "b"], ["x, y", "line\nbreak"]]
