"""The LA side: `la check` without a vault, and age-encrypted delivery packages with a verified manifest."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pyrage
import pytest
from pyrage import x25519

from cscvault.errors import AuthError, DataError, TamperedError, UsageError
from cscvault.la import build_package, extracted_package, looks_like_package, open_package, read_package
from cscvault.study import load_study
from tests.helpers import open_raw_vault
from tests.public_data import format_fixture_files

CIN = "csc-validator-be-cin/CIN_Census_2024.xml"
HEADER_903 = "liia-tools-pipeline/SSDA903_2020_header.csv"


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from cscvault.cli import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def _returns(tmp_path: Path) -> list[Path]:
    """Two small files the readers do not recognise: packaging must still carry them byte for byte."""
    a, b = tmp_path / "dr1_nov22.csv", tmp_path / "notes.txt"
    a.write_bytes(b"Child ID,Referral date\nA1,01/02/2021\n")
    b.write_bytes(b"free text the LA attached\n")
    return [a, b]


def _rewrap(pkg: Path, identity: x25519.Identity, edit: dict[str, bytes], out: Path) -> None:
    """What an attacker holding the identity could do: change files inside, keep the manifest, re-encrypt."""
    plain = pyrage.decrypt(pkg.read_bytes(), [identity])
    buf = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r:") as src, tarfile.open(fileobj=buf, mode="w") as dst:
        names = src.getnames()
        for m in src.getmembers():
            fh = src.extractfile(m)
            data = edit.get(m.name, fh.read() if fh else b"")
            info = tarfile.TarInfo(m.name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
        for name, data in edit.items():
            if name not in names:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                dst.addfile(info, io.BytesIO(data))
    out.write_bytes(pyrage.encrypt(buf.getvalue(), [identity.to_public()]))


def test_package_round_trip_and_manifest(tmp_path: Path) -> None:
    ident = x25519.Identity.generate()
    files = _returns(tmp_path)
    result = build_package(
        files, str(ident.to_public()), tmp_path / "pkg.age", load_study(), la="Walsall", allow_errors=True
    )
    assert looks_like_package(result.path) and not looks_like_package(files[0])
    assert b"Referral" not in result.path.read_bytes()  # encrypted
    opened = read_package(result.path, ident)
    assert opened.files == [(f.name, f.read_bytes()) for f in files]
    assert open_package(result.path, str(ident)) == opened.files
    m = opened.manifest
    assert m["la"] == {"name": "Walsall", "ons_code": "E08000030"} and opened.la == "E08000030"
    assert [f["sha256"] for f in m["files"]] == [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    assert all(set(f) >= {"name", "sha256", "size_bytes", "format", "return_label", "rows"} for f in m["files"])
    # Unrecognised files are `la check` errors: packaged only because allow_errors was given, and the manifest says so.
    assert m["allow_errors"] is True and m["errors"] == 2
    assert [f["error_rules"] for f in m["files"]] == [{"FMT-001": 1}, {"FMT-001": 1}]
    with extracted_package(result.path, ident) as (package, paths):  # for readers that need a path
        assert [p.read_bytes() for p in paths] == [f.read_bytes() for f in files]
        assert all(p.stat().st_mode & 0o077 == 0 for p in paths) and package.la == "E08000030"
        folder = paths[0].parent
    assert not folder.exists()


def test_a_file_altered_after_packaging_is_rejected_by_name(tmp_path: Path) -> None:
    ident = x25519.Identity.generate()
    files = _returns(tmp_path)
    pkg = build_package(
        files, str(ident.to_public()), tmp_path / "pkg.age", load_study(), la="Walsall", allow_errors=True
    ).path
    _rewrap(pkg, ident, {"files/dr1_nov22.csv": b"Child ID,Referral date\nA1,01/02/2022\n"}, tmp_path / "edited.age")
    with pytest.raises(DataError, match="'dr1_nov22.csv' was altered after packaging") as exc:
        open_package(tmp_path / "edited.age", ident)
    assert "A1" not in str(exc.value)
    _rewrap(pkg, ident, {"files/extra.csv": b"x"}, tmp_path / "extra.age")
    with pytest.raises(DataError, match="'extra.csv' is not listed"):
        open_package(tmp_path / "extra.age", ident)
    _rewrap(pkg, ident, {"manifest.json": b"{}"}, tmp_path / "nomanifest.age")
    with pytest.raises(DataError, match="not a cscvault LA package"):
        open_package(tmp_path / "nomanifest.age", ident)


def test_wrong_identity_or_damaged_ciphertext_fails_in_one_line(tmp_path: Path) -> None:
    ident = x25519.Identity.generate()
    pkg = build_package(
        _returns(tmp_path), str(ident.to_public()), tmp_path / "p.age", load_study(), la="Swindon", allow_errors=True
    )
    with pytest.raises(AuthError, match="wrong key"):
        open_package(pkg.path, x25519.Identity.generate())
    data = bytearray(pkg.path.read_bytes())
    data[-20] ^= 0x40
    (tmp_path / "flipped.age").write_bytes(bytes(data))
    with pytest.raises(TamperedError, match="damaged or altered"):
        open_package(tmp_path / "flipped.age", ident)
    with pytest.raises(UsageError, match="age1"):
        build_package(_returns(tmp_path), "age1nope", tmp_path / "q.age", load_study(), la="Swindon")
    with pytest.raises(UsageError, match="could not be read from the files"):
        build_package(_returns(tmp_path), str(ident.to_public()), tmp_path / "q.age", load_study(), allow_errors=True)


def test_cli_package_of_fixtures_counts_rows_and_ingest_side_opens_it(
    test_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ident = x25519.Identity.generate()
    files = [test_data / CIN, test_data / HEADER_903]
    args = ["la", "package", *map(str, files), "--recipient", str(ident.to_public()), "--out", str(tmp_path / "p.age")]
    code, out, err = _main([*args, "--la", "Telford and Wrekin"], capsys)
    assert code == 3 and "--allow-errors" in err and not (tmp_path / "p.age").exists()  # the CIN sample breaks rules
    code, out, err = _main([*args, "--la", "Telford and Wrekin", "--allow-errors"], capsys)
    assert code == 0, err
    assert "Package written" in out
    pkg = read_package(tmp_path / "p.age", ident)
    rows = {f["name"]: f["rows"] for f in pkg.manifest["files"]}
    assert rows == {"CIN_Census_2024.xml": 2, "SSDA903_2020_header.csv": 5}
    assert pkg.manifest["la"]["name"] == "Telford and Wrekin"
    assert pkg.return_label("CIN_Census_2024.xml") == "cin2023-24"


def test_la_check_on_every_fixture_names_identifier_columns_without_values(
    test_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fixtures = format_fixture_files()
    code, out, err = _main(["la", "check", *map(str, fixtures), "--la", "Walsall", "--json"], capsys)
    assert code == 3 and "error(s)" in err  # the public fixtures carry identifiers and invalid codes
    doc = json.loads(out)
    assert len(doc["files"]) == len(fixtures)
    by_name = {f["file"]: f for f in doc["files"]}
    assert "UPN" in by_name["CIN_Census_2024.xml"]["identifier_columns"]
    assert "PersonBirthDate" in by_name["CIN_Census_2024.xml"]["identifier_columns"]
    # The CIN fixture's child ids and postcodes must not be echoed back.
    text = (test_data / CIN).read_text(encoding="utf-8", errors="replace")
    for tag in ("LAchildID", "PostCode"):
        for chunk in text.split(f"<{tag}>")[1:3]:
            value = chunk.split("<", 1)[0].strip()
            if len(value) >= 4:
                assert value not in out


def test_la_check_reports_synthetic_identifier_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cscvault.synth.generate import generate

    generate(tmp_path / "syn", seed=3, children=10, with_identifiers=True)
    bait = json.loads((tmp_path / "syn" / "bait_manifest.json").read_text())["entries"]
    walsall = [e for e in bait if e["file"].startswith("walsall/")]
    picked: dict[str, str] = {}  # one file per format folder
    for e in walsall:
        if e["placement"] == "extra_column" and e["rows"] > 0:
            picked.setdefault(e["file"].split("/")[1], e["file"])
    files = sorted(set(picked.values()))
    assert len(files) >= 3
    code, out, _ = _main(["la", "check", *(str(tmp_path / "syn" / "returns" / f) for f in files), "--json"], capsys)
    doc = {f["file"]: f for f in json.loads(out)["files"]}
    for e in walsall:
        if e["file"] in files and e["placement"] == "extra_column" and e["rows"] > 0:
            assert e["column"] in doc[Path(e["file"]).name]["identifier_columns"], e["column"]
        if e["file"] in files:
            for v in e.get("values", []) + e.get("sample_values", []):
                assert str(v) not in out
    code_text, text, _ = _main(["la", "check", *(str(tmp_path / "syn" / "returns" / f) for f in files)], capsys)
    assert code_text == code and "identifier columns (dropped, never sent on)" in text


def test_package_to_the_vault_recipient_is_ingested_with_the_vault_identity(tmp_path: Path) -> None:
    """The whole hand-over: init -> recipient for the LA -> package -> vault opens it -> ingest loads it."""
    from cscvault import api
    from cscvault.ingest.delivery import ingest_file
    from cscvault.synth.generate import generate
    from cscvault.vault import Credentials
    from cscvault.vault.identity import recipient_for, vault_identity
    from tests.helpers import PASSWORD

    creds = Credentials("admin", PASSWORD)
    vault = api.init_vault(tmp_path / "v", PASSWORD).path
    recipient = recipient_for(vault, creds)
    assert recipient.startswith("age1") and recipient_for(vault, creds) == recipient  # created once, then stable
    summary = generate(tmp_path / "syn", seed=5, children=10, formats="cin")
    ret = max((f for f in summary.files if f.name.startswith("walsall_cin")), key=lambda f: f.stat().st_size)
    # The synthetic census breaks DfE rule 2990 (an RC8 episode with a section 47 enquiry), so packaging
    # it needs allow_errors, as an LA sending a return with known errors would.
    pkg = build_package([ret], recipient, tmp_path / "walsall.age", load_study(), allow_errors=True).path
    with open_raw_vault(vault, creds) as v:
        with extracted_package(pkg, vault_identity(v)) as (package, paths):
            results = [ingest_file(v, p, la=package.la, return_label=package.return_label(p.name)) for p in paths]
    assert [r.sha256 for r in results] == [hashlib.sha256(ret.read_bytes()).hexdigest()]
    assert [r.status for r in results] == ["loaded"] and results[0].rows_loaded > 0, results
