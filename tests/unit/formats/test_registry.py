"""Choosing a reader by content: the same file is recognised whatever it is called, junk by nobody."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cscvault.formats.registry import detect, format_names


@pytest.mark.parametrize(
    ("fixture", "fmt"),
    [
        ("csc-validator-be-cin/CIN_Census_2024.xml", "cin_census"),
        ("csc-validator-be-903/fake_903.xml", "ssda903_xml"),
        ("csc-validator-be-903/episodes.csv", "ssda903_csv"),
        ("liia-tools-pipeline/2024_autumn_pupilnolongeronroll.csv", "school_census"),
    ],
)
def test_detection_is_by_content_not_by_name(test_data: Path, tmp_path: Path, fixture: str, fmt: str) -> None:
    reader = detect(test_data / fixture)
    assert reader is not None and reader.format == fmt
    renamed = tmp_path / "delivery-without-a-telling-name.dat"
    shutil.copyfile(test_data / fixture, renamed)
    again = detect(renamed)
    assert again is not None and again.format == fmt


def test_utf16_text_is_sniffed_in_its_decoded_form(test_data: Path, tmp_path: Path) -> None:
    text = (test_data / "csc-validator-be-903/episodes.csv").read_text(encoding="utf-8-sig")
    path = tmp_path / "episodes16.csv"
    path.write_bytes(text.encode("utf-16"))
    reader = detect(path)
    assert reader is not None and reader.format == "ssda903_csv"


@pytest.mark.parametrize("data", [b"", b"   \n", b"hello, this is a letter\nnot a return\n", b"\x00\x01\x02binary"])
def test_nothing_recognisable_gets_no_reader(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    assert detect(path) is None


def test_every_reader_has_a_distinct_format_name() -> None:
    names = format_names()
    assert len(names) == len(set(names)) >= 5
