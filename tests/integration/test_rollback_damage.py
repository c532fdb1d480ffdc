"""Rollback and damage: files put back from an older moment, flipped bytes and truncation are exit 5.

`audit verify` reads every table and probes every index, so one flipped byte in any block DuckDB uses is
found (AES-GCM tags); the key file's seal ties the database and the audit head to the latest commit; a head
kept outside (`audit head`) catches a whole vault folder put back from an older copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cscvault import api
from cscvault.synth.generate import generate
from cscvault.vault import Credentials
from cscvault.vault.database import DB_FILE
from tests.helpers import PASSWORD, open_raw_vault

ADMIN = Credentials("admin", PASSWORD)
HEADER_BYTES = 3 * 4096  # DuckDB's main header and its two database headers


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from cscvault.cli import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """A vault holding a few synthetic deliveries, and two more files to ingest later."""
    root = tmp_path_factory.mktemp("loaded")
    summary = generate(root / "synth", seed=5, children=150)
    files = sorted(p for p in summary.returns_dir.rglob("*") if p.is_file() and p.suffix in (".xml", ".csv"))
    vault = api.init_vault(root / "v", PASSWORD).path
    report = api.ingest(vault, ADMIN, files[:4])
    assert report.loaded == 4
    return vault, files[4:6]


def _copy(src: Path, tmp_path: Path, name: str = "v") -> Path:
    shutil.copytree(src, tmp_path / name)
    return tmp_path / name


def test_older_database_and_head_put_back_are_exit_5(
    loaded: tuple[Path, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setenv("CSCVAULT_PASSWORD", PASSWORD)
    monkeypatch.setenv("CSCVAULT_USER", "admin")  # the CLI has no built-in user name
    vault = _copy(loaded[0], tmp_path)
    aside = tmp_path / "aside"
    aside.mkdir()
    for name in (DB_FILE, "audit.head"):
        shutil.copy2(vault / name, aside / name)
    code, _, err = _main(["ingest", str(vault), str(loaded[1][0])], capsys)
    assert code == 0, err
    for name in (DB_FILE, "audit.head"):
        shutil.copy2(aside / name, vault / name)
    (vault / f"{DB_FILE}.wal").unlink(missing_ok=True)
    code, out, err = _main(["audit", "verify", str(vault)], capsys)
    assert code == 5, (out, err)
    assert err.splitlines()[-1].startswith("error: audit chain broken:") and "older than keys.json" in err
    # Every other command refuses the mixed vault too (nothing is sealed over the rollback).
    code, _, err = _main(["quality", str(vault)], capsys)
    assert code == 5 and "rollback" in err


def test_a_whole_folder_put_back_is_caught_by_the_head_kept_outside(
    loaded: tuple[Path, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setenv("CSCVAULT_PASSWORD", PASSWORD)
    monkeypatch.setenv("CSCVAULT_USER", "admin")  # the CLI has no built-in user name
    vault = _copy(loaded[0], tmp_path)
    older = _copy(vault, tmp_path, "older")
    code, _, _ = _main(["ingest", str(vault), str(loaded[1][1])], capsys)
    assert code == 0
    code, head, _ = _main(["audit", "head", str(vault)], capsys)
    assert code == 0
    head = head.strip()
    code, out, _ = _main(["audit", "verify", str(vault), "--expect", head], capsys)
    assert code == 0 and "intact" in out
    shutil.rmtree(vault)
    shutil.copytree(older, vault)  # every file, consistent with itself, from an older moment
    code, _, err = _main(["audit", "verify", str(vault)], capsys)
    assert code == 0  # on its own the older copy is a valid vault...
    code, _, err = _main(["audit", "verify", str(vault), "--expect", head], capsys)
    assert code == 5 and "rollback" in err  # ...but not the one whose head the DPO kept
    code, _, err = _main(["audit", "verify", str(vault), "--expect", "nonsense"], capsys)
    assert code == 2


def _used_blocks(vault: Path) -> list[int]:
    """Blocks DuckDB reports as holding table data or metadata (the free list holds nothing to check)."""
    with open_raw_vault(vault, ADMIN) as v:
        tables = [
            r[0] for r in v.con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()
        ]
        blocks = set()
        for t in tables:
            rows = v.con.execute(
                f"SELECT DISTINCT block_id FROM pragma_storage_info('{t}') WHERE block_id IS NOT NULL AND block_id >= 0"
            ).fetchall()
            blocks |= {int(r[0]) for r in rows}
        blocks |= {int(r[0]) for r in v.con.execute("SELECT block_id FROM pragma_metadata_info()").fetchall()}
    return sorted(blocks)


def test_one_flipped_byte_anywhere_in_the_used_file_is_exit_5(
    loaded: tuple[Path, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setenv("CSCVAULT_PASSWORD", PASSWORD)
    monkeypatch.setenv("CSCVAULT_USER", "admin")  # the CLI has no built-in user name
    vault = _copy(loaded[0], tmp_path)
    block_size = 262_144
    blocks = _used_blocks(vault)
    size = (vault / DB_FILE).stat().st_size
    # 50 positions: a few in the headers, the rest spread evenly over the used blocks (start, middle, end).
    positions = [8, 4096 + 64, 8192 + 64]
    per_block = max(1, (50 - len(positions)) // len(blocks) + 1)
    for b in blocks:
        start = HEADER_BYTES + b * block_size
        positions += [start + (i * (block_size - 1)) // per_block for i in range(per_block)]
    positions = sorted(p for p in set(positions) if p < size)[:50]
    assert len(positions) == 50
    codes = {}
    for pos in positions:
        copy = tmp_path / "flip"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(vault, copy)
        with (copy / DB_FILE).open("r+b") as fh:
            fh.seek(pos)
            byte = fh.read(1)
            fh.seek(pos)
            fh.write(bytes([byte[0] ^ 0x01]))
        code, _, err = _main(["audit", "verify", str(copy)], capsys)
        codes[pos] = (code, err.strip())
    wrong = {pos: c for pos, c in codes.items() if c[0] != 5 or "tampered or damaged" not in c[1]}
    assert wrong == {}


def test_truncated_database_is_exit_5_and_the_original_still_verifies(
    loaded: tuple[Path, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setenv("CSCVAULT_PASSWORD", PASSWORD)
    monkeypatch.setenv("CSCVAULT_USER", "admin")  # the CLI has no built-in user name
    vault = _copy(loaded[0], tmp_path)
    size = (vault / DB_FILE).stat().st_size
    for keep in (size // 2, size - 1, HEADER_BYTES + 10):
        copy = _copy(vault, tmp_path, f"t{keep}")
        with (copy / DB_FILE).open("r+b") as fh:
            fh.truncate(keep)
        code, _, err = _main(["audit", "verify", str(copy)], capsys)
        assert code == 5, (keep, err)
        assert err.count("\n") == 1
    code, _, _ = _main(["audit", "verify", str(vault)], capsys)
    assert code == 0
