"""Ingest with worker processes: the same vault as reading file by file, errors in file order, workers that
die are replaced by the calling process, and no worker outlives a killed ingest."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cscvault import api
from cscvault.errors import UsageError
from cscvault.ingest import workers
from cscvault.ingest.delivery import ingest_files
from cscvault.ingest.pipeline import read_and_screen
from cscvault.study import load_study
from cscvault.synth.generate import generate
from cscvault.vault import Credentials
from cscvault.vault.pseudonyms import child_key, child_keys
from tests.helpers import PASSWORD, open_raw_vault

ADMIN = Credentials("admin", PASSWORD)
STUDY = load_study()
TABLES = ("children", "referrals", "assessments", "cin_plans", "s47_enquiries", "cp_plans", "findings", "quarantine")


@pytest.fixture(scope="module")
def census(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two LAs' CIN census files (14 files); in one, a formula and an NHS number where codes belong, so that
    findings and the quarantine fill."""
    out = tmp_path_factory.mktemp("synth")
    summary = generate(out, seed=5, children=400, formats="cin", with_identifiers=True)
    files = sorted(f for f in summary.returns_dir.rglob("*.xml") if f.parts[-3] in {"swindon", "walsall"})
    text = files[0].read_text()
    text = re.sub(r"<Ethnicity>[^<]*<", "<Ethnicity>=HYPERLINK(1)<", text, count=1)
    text = re.sub(r"<ReferralSource>[^<]*<", "<ReferralSource>943 476 5919<", text, count=1)
    files[0].write_text(text)
    return files


def _contents(vault: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the loaded tables and the deliveries, without load times (child keys are per vault)."""
    with open_raw_vault(vault, ADMIN) as v:
        out = {}
        for table in TABLES:
            cols = [
                r[0]
                for r in v.con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                    "AND column_name NOT IN ('child_key', 'loaded_at') ORDER BY ordinal_position",
                    [table],
                ).fetchall()
            ]
            q = ", ".join(f'"{c}"' for c in cols)
            out[table] = sorted(map(repr, v.con.execute(f"SELECT {q} FROM {table}").fetchall()))
        out["deliveries"] = sorted(map(repr, v.con.execute("SELECT * EXCLUDE (loaded_at) FROM deliveries").fetchall()))
        return out


def test_workers_load_the_same_vault_as_one_process(tmp_path: Path, census: list[Path]) -> None:
    results = {}
    for n in (0, 2):
        vault = api.init_vault(tmp_path / f"v{n}", PASSWORD).path
        seen: list[tuple[str, int, int]] = []

        def progress(name: str, done: int, total: int, seen: list[tuple[str, int, int]] = seen) -> None:
            seen.append((name, done, total))

        with open_raw_vault(vault, ADMIN) as v:
            report = ingest_files(v, census, progress, workers=n)
        assert [d.status for d in report.deliveries] == ["loaded"] * len(census)
        # The progress bar still moves file by file, in order.
        assert [s[0] for s in seen] == [p.name for p in census] + [""]
        results[n] = ([(d.file_name, d.rows_loaded, d.findings) for d in report.deliveries], _contents(vault))
    assert results[0] == results[2]
    assert results[2][1]["quarantine"] and results[2][1]["findings"]
    # A second run with workers reads nothing again.
    with open_raw_vault(tmp_path / "v2", ADMIN) as v:
        again = ingest_files(v, census, workers=2)
    assert {d.status for d in again.deliveries} == {"already loaded"}


def test_results_come_in_file_order_with_each_files_error(tmp_path: Path, census: list[Path]) -> None:
    missing = tmp_path / "missing.xml"
    paths = [census[0], missing, census[1]]
    got = list(workers.screened_in_order(paths, STUDY, 2))
    assert [p for p, _ in got] == paths
    assert isinstance(got[1][1], UsageError) and "missing.xml" in str(got[1][1])
    first = got[0][1]
    serial = read_and_screen(census[0], STUDY)
    assert not isinstance(first, UsageError)
    assert first.findings == serial.findings and first.quarantine == serial.quarantine
    assert {k: t.num_rows for k, t in first.arrow.items()} == {k: len(df) for k, df in serial.tables.items()}
    assert first.rows_loaded == serial.rows_loaded


def test_a_worker_that_dies_costs_only_time(census: list[Path]) -> None:
    pool = workers._Pool(1, STUDY)
    try:
        pool.workers[0].proc.kill()
        pool.workers[0].proc.wait()
        got = list(pool.run(census[:2], STUDY))
    finally:
        pool.close()
    assert [p for p, _ in got] == census[:2]
    assert all(not isinstance(r, Exception) and r.rows_read > 0 for _, r in got)


def test_workers_get_no_password_and_follow_the_worker_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(workers.WORKERS_ENV, "0")
    assert workers.default_workers([Path("a"), Path("b")]) == 0
    monkeypatch.setenv(workers.WORKERS_ENV, "3")
    assert workers.default_workers([Path("a"), Path("b")]) == 2
    monkeypatch.delenv(workers.WORKERS_ENV)
    assert workers.default_workers([Path("small.xml")]) == 0
    assert "CSCVAULT_PASSWORD" in workers._SECRET_ENV


_KILLER = """
import sys
from pathlib import Path
from cscvault import api
from cscvault.vault import Credentials
api.ingest(Path(sys.argv[1]), Credentials("admin", sys.argv[2]), [Path(p) for p in sys.argv[3:]])
"""


def _children_of(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
            if ppid == pid:
                found.add(int(entry))
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped by whoever inherited it."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_of_the_ingest_ends_its_workers(tmp_path: Path, census: list[Path]) -> None:
    vault = api.init_vault(tmp_path / "v", PASSWORD).path
    env = dict(os.environ, **{workers.WORKERS_ENV: "2"})
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLER, str(vault), PASSWORD, *map(str, census)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600  # generous: a loaded machine can take minutes to start Python
    kids: set[int] = set()
    while time.monotonic() < deadline and len(kids) < 2:
        kids = _children_of(proc.pid)
        time.sleep(0.05)
    assert len(kids) == 2, "the ingest did not start its workers"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 120  # generous, for a loaded machine
    while time.monotonic() < deadline and any(_running(k) for k in kids):
        time.sleep(0.05)
    assert [k for k in kids if _running(k)] == []
    # What was committed is whole, and the next run completes it.
    api.ingest(vault, ADMIN, census)
    with open_raw_vault(vault, ADMIN) as v:
        assert v.verify_audit().ok
        assert v.con.execute("SELECT count(*) FROM deliveries").fetchone()[0] == len(census)


def test_child_keys_match_child_key() -> None:
    key = bytes(range(32))
    ids = ["1", " 2 ", "é", "X#2010-01", "12345678901234567890"]
    assert child_keys(key, " E06000030 ", ids) == [child_key(key, " E06000030 ", i) for i in ids]
