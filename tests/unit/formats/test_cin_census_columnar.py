"""The columnar CIN census path gives exactly what the element walk gives, and only takes files it fits.

Each case reads a file twice, once as shipped (columnar where the file fits) and once with the columnar
path switched off (the walk), and compares the staged tables, the findings, the quarantine and the
dropped columns. A second assertion says which path the file took, so a columnar path that silently
never runs, or one that takes a file it should not, fails here.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from cscvault.formats import cin_census_columnar as columnar
from cscvault.formats.base import Collector
from cscvault.formats.cin_census import CinCensusReader
from cscvault.study import load_study
from cscvault.synth.generate import generate

STUDY = load_study()
DATA = Path(__file__).resolve().parents[2] / "data"
FIXTURES = sorted(p for d in ("csc-validator-be-cin", "dfe_cin", "liia-tools") for p in (DATA / d).glob("*.xml"))
# Public fixtures in exactly the DfE's shape (the others hold stray text, empty elements or repeats).
COLUMNAR_FIXTURES = {"fake_CIN_data.xml", "cin-2022.xml", "return_cases_2025.xml"}


def read(path: Path, *, walk: bool, monkeypatch: pytest.MonkeyPatch):
    sink = Collector(file=path.name)
    with monkeypatch.context() as m:
        if walk:
            m.setattr(columnar, "MAX_COLUMNAR_BYTES", -1)
        staged = CinCensusReader().read(path, sink, STUDY)
    return staged, sink


def assert_same(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    walked, walk_sink = read(path, walk=True, monkeypatch=monkeypatch)
    fast, fast_sink = read(path, walk=False, monkeypatch=monkeypatch)
    assert sorted(walked.tables) == sorted(fast.tables)
    for name, frame in walked.tables.items():
        other = fast.tables[name]
        assert list(frame.columns) == list(other.columns), name
        assert frame.equals(other), name
    for attr in ("rows_read", "la", "return_label", "collection_year", "format"):
        assert getattr(walked, attr) == getattr(fast, attr), attr
    # The same findings and quarantine; the order of first-time reports may differ.
    assert sorted(map(repr, walk_sink.findings)) == sorted(map(repr, fast_sink.findings))
    assert sorted(map(repr, walk_sink.quarantine)) == sorted(map(repr, fast_sink.quarantine))
    assert sorted(walk_sink.dropped_columns) == sorted(fast_sink.dropped_columns)


def takes_columns(path: Path) -> bool:
    return columnar.extract(path, lambda text, where, name: text) is not None


def test_shipped_config_is_the_declared_shape() -> None:
    shipped = resources.files("cscvault.formats").joinpath(columnar.CONFIG_FILE).read_text(encoding="utf-8")
    assert json.loads(shipped) == columnar.config()


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_public_fixtures_read_the_same_both_ways(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same(path, monkeypatch)
    assert takes_columns(path) == (path.name in COLUMNAR_FIXTURES)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("synth")
    generate(out, children=3000, formats="cin", seed=7)
    files = sorted(out.rglob("*.xml"))
    assert len(files) >= 30
    return files


def test_synthetic_census_files_take_the_columnar_path_and_agree(
    synthetic: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    for path in synthetic:
        assert takes_columns(path), path.name
        assert_same(path, monkeypatch)


def _edit(tmp_path: Path, source: Path, old: str, new: str, count: int = 1) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text
    out = tmp_path / source.name
    out.write_text(text.replace(old, new, count), encoding="utf-8")
    return out


# (what is changed, old text, new text, whether the columnar path still fits)
EDITS = [
    ("a comment", "<Children>", "<Children><!-- note -->", False),
    ("an attribute", "<Child>", '<Child status="x">', False),
    ("an unknown element", "<ChildIdentifiers>", "<ChildIdentifiers><Nickname>A</Nickname>", False),
    (
        "an element out of place",
        "<ChildCharacteristics>",
        "<ChildCharacteristics><CINreferralDate>2020-01-01</CINreferralDate>",
        False,
    ),
    ("an empty element", "<ChildCharacteristics>", "<ChildCharacteristics><UPN></UPN>", False),
    ("stray text", "</ChildIdentifiers>", "</ChildIdentifiers>stray", False),
    ("an entity", "<Ethnicity>", "<Ethnicity>&#87;", False),
    ("a CDATA section", "<Ethnicity>", "<Ethnicity><![CDATA[W]]>", False),
    ("a repeated leaf", "<CINreferralDate>", "<CINreferralDate>2020-01-01</CINreferralDate><CINreferralDate>", False),
    ("a namespace", "<Message>", '<Message xmlns="http://www.dfe.gov.uk/">', False),
    ("a namespace prefix", "<Ethnicity>WBRI</Ethnicity>", '<c:Ethnicity xmlns:c="urn:x">WBRI</c:Ethnicity>', False),
    (
        "a second ChildIdentifiers",
        "</ChildIdentifiers>",
        "</ChildIdentifiers><ChildIdentifiers><UPNunknown>UN1</UPNunknown></ChildIdentifiers>",
        False,
    ),
    ("a formula in a kept value", "<ReferralSource>", "<ReferralSource>=1+2*", True),
    ("a long value", "<Ethnicity>", "<Ethnicity>" + "W" * 300, True),
    ("spaces around values", "<LAchildID>", "<LAchildID>  ", True),
    ("an identifier", "</PersonBirthDate>", "</PersonBirthDate><UPN>A123456789012</UPN>", True),
    (
        "a DateOfInitialCPC outside Section47",
        "<ReferralNFA>",
        "<DateOfInitialCPC>2020-01-01</DateOfInitialCPC><ReferralNFA>",
        True,
    ),
    ("a line break inside a value", "<Ethnicity>", "<Ethnicity>W\r\n", False),
    ("malformed XML", "</Children>", "</Child>", False),
]


@pytest.mark.parametrize(("what", "old", "new", "fits"), EDITS, ids=[e[0] for e in EDITS])
def test_edited_files_read_the_same_and_only_exact_shapes_take_columns(
    synthetic: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, what: str, old: str, new: str, fits: bool
) -> None:
    source = next(p for p in synthetic if "2022-23" in p.name)
    path = _edit(tmp_path, source, old, new)
    assert takes_columns(path) == fits, what
    assert_same(path, monkeypatch)
