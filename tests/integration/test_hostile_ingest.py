"""Hostile and careless input to `cscvault ingest`: exit codes a script can trust, nothing lost.

The malformed corpus is generated here (nothing is read from shared/): each file must be rejected with a
finding and make `ingest` exit 3, while good files in the same run still load; a FIFO, a device or an empty
folder is refused at once with exit 2; a rejected file is never "already loaded".
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest

from cscvault import api
from cscvault.synth.generate import generate
from cscvault.vault import Credentials
from tests.helpers import PASSWORD, open_raw_vault, run_cli

ADMIN = Credentials("admin", PASSWORD)


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from cscvault.cli import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One good CIN census XML, one good DR workbook and one good SSDA903 CSV (synthetic)."""
    out = tmp_path_factory.mktemp("synth")
    summary = generate(out, seed=3, children=150)
    files = sorted(p for p in summary.returns_dir.rglob("*") if p.is_file())
    pick = {
        "xml": next(p for p in files if p.suffix == ".xml" and b"<Message" in p.read_bytes()[:4096]),
        "xlsx": next(p for p in files if p.suffix == ".xlsx"),
        "csv": next(p for p in files if p.suffix == ".csv" and "903" in str(p).lower()),
    }
    return pick


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return api.init_vault(tmp_path_factory.mktemp("vault") / "v", PASSWORD).path


def _vault(template: Path, tmp_path: Path) -> Path:
    shutil.copytree(template, tmp_path / "v")
    return tmp_path / "v"


def _zip_bomb(source: Path, target: Path) -> None:
    """The good workbook with its first sheet replaced by 600 MB of whitespace (a few hundred kB zipped)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        sheets = sorted(n for n in zin.namelist() if n.startswith("xl/worksheets/sheet"))
        for item in zin.infolist():
            if item.filename == sheets[0]:
                with zout.open(item.filename, "w", force_zip64=True) as fh:
                    fh.write(b'<?xml version="1.0"?><worksheet>')
                    block = b" " * (1 << 20)
                    for _ in range(600):
                        fh.write(block)
                    fh.write(b"</worksheet>")
            else:
                zout.writestr(item, zin.read(item.filename))


def _sparse_sheet(source: Path, target: Path) -> None:
    """The good workbook with one stray cell at XFD1048576 (a dense grid of 17 billion cells)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        sheets = sorted(n for n in zin.namelist() if n.startswith("xl/worksheets/sheet"))
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == sheets[0]:
                data = data.replace(
                    b"</sheetData>", b'<row r="1048576"><c r="XFD1048576" t="n"><v>1</v></c></row></sheetData>'
                )
            zout.writestr(item, data)


def malformed_corpus(good: dict[str, Path], into: Path) -> dict[str, str]:
    """File name -> the rule that must reject it."""
    into.mkdir()
    xml = good["xml"].read_bytes()
    csv_text = good["csv"].read_bytes()
    header, _, rest = csv_text.partition(b"\n")
    cases: dict[str, tuple[bytes | None, str]] = {
        "truncated_cin.xml": (xml[: len(xml) // 2], "FMT-004"),
        "xxe_cin.xml": (
            b'<?xml version="1.0"?>\n<!DOCTYPE Message [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
            b"<Message><Header>&xxe;</Header></Message>\n",
            "FMT-005",
        ),
        "billion_laughs.xml": (
            b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
            + b"".join(
                f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
                for i in range(1, 10)
            )
            + b"]>\n<Message>&lol9;</Message>\n",
            "FMT-005",
        ),
        "binary_junk.csv": (bytes(range(256)) * 64, "FMT-018"),
        "text_renamed.xlsx": (b"this is a plain text note, not a workbook\n" * 20, "FMT-001"),
        "empty.csv": (b"", "FMT-002"),
        "missing_columns_903.csv": (
            b",".join(header.strip().split(b",")[:2]) + b"\n" + b"\n".join(r[:20] for r in rest.splitlines()[:5]),
            "FMT-001",
        ),
        "giant_cell_903.csv": (header + b"\n" + b"A" * (20 << 20) + b"\n" + rest, "FMT-024"),
        "zip_bomb.xlsx": (None, "FMT-023"),
        "sparse_bomb.xlsx": (None, "FMT-023"),
    }
    expected = {}
    for name, (data, rule_id) in cases.items():
        if data is not None:
            (into / name).write_bytes(data)
        expected[name] = rule_id
    _zip_bomb(good["xlsx"], into / "zip_bomb.xlsx")
    _sparse_sheet(good["xlsx"], into / "sparse_bomb.xlsx")
    return expected


def test_every_malformed_file_is_exit_3_and_good_files_in_the_same_run_still_load(
    good: dict[str, Path], template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setenv("CSCVAULT_PASSWORD", PASSWORD)
    monkeypatch.setenv("CSCVAULT_USER", "admin")  # the CLI has no built-in user name
    vault = _vault(template, tmp_path)
    expected = malformed_corpus(good, tmp_path / "bad")
    for name, rule_id in expected.items():
        code, _, err = _main(["ingest", str(vault), str(tmp_path / "bad" / name)], capsys)
        assert code == 3, (name, code, err)
        assert rule_id in err and name in err, (name, err)
        assert err.count("\n") == 1, err  # one line
    # All of them together with the good files: exit 3, the good files loaded, each bad one named.
    code, out, err = _main(["ingest", str(vault), str(tmp_path / "bad"), *(str(p) for p in good.values())], capsys)
    assert code == 3, err
    assert out.startswith("3 deliveries loaded, 10 rejected"), out
    assert all(name in err for name in expected)
    with open_raw_vault(vault, ADMIN) as v:
        loaded = v.con.execute("SELECT count(*) FROM deliveries WHERE NOT rejected").fetchone()
        assert loaded == (3,)
        assert v.verify_audit().ok
    # A clean run of the good files alone is exit 0 ("already loaded").
    code, out, _ = _main(["ingest", str(vault), *(str(p) for p in good.values())], capsys)
    assert code == 0 and "3 already loaded" in out


def test_a_rejected_file_is_never_already_loaded(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setenv("CSCVAULT_PASSWORD", PASSWORD)
    monkeypatch.setenv("CSCVAULT_USER", "admin")  # the CLI has no built-in user name
    vault = _vault(template, tmp_path)
    (tmp_path / "a.csv").write_bytes(b"")
    (tmp_path / "b.csv").write_bytes(b"")
    code, _, err = _main(["ingest", str(vault), str(tmp_path / "a.csv")], capsys)
    assert code == 3 and "FMT-002" in err
    code, out, err = _main(["ingest", str(vault), str(tmp_path / "b.csv")], capsys)
    assert code == 3 and "FMT-002" in err and "0 already loaded" in out
    with open_raw_vault(vault, ADMIN) as v:
        assert v.con.execute("SELECT count(*), bool_and(rejected) FROM deliveries").fetchone() == (1, True)
        assert v.verify_audit().ok


def test_fifo_device_and_empty_folder_are_refused_up_front_with_exit_2(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setenv("CSCVAULT_PASSWORD", PASSWORD)
    monkeypatch.setenv("CSCVAULT_USER", "admin")  # the CLI has no built-in user name
    vault = _vault(template, tmp_path)
    fifo = tmp_path / "returns.csv"
    os.mkfifo(fifo)
    # In a subprocess with a timeout: a FIFO opened for reading would block forever.
    proc = run_cli("ingest", str(vault), str(fifo), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "not a regular file" in proc.stderr and proc.stderr.count("\n") == 1
    code, _, err = _main(["ingest", str(vault), "/dev/null"], capsys)
    assert code == 2 and "not a regular file" in err
    (tmp_path / "x.csv").mkdir()
    code, _, err = _main(["ingest", str(vault), str(tmp_path / "x.csv")], capsys)
    assert code == 2 and "no return files" in err
    code, _, err = _main(["ingest", str(vault), str(tmp_path / "missing.csv")], capsys)
    assert code == 2 and "no such file" in err
    with open_raw_vault(vault, ADMIN) as v:
        assert v.con.execute("SELECT count(*) FROM deliveries").fetchone() == (0,)
        assert v.verify_audit().ok
