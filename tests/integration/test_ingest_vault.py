"""Ingest into the vault: idempotent, all or nothing under SIGKILL, nothing identifying gets in."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cscvault import api
from cscvault.synth.generate import generate
from cscvault.vault import Credentials
from tests.helpers import PASSWORD, cli_in_process, open_raw_vault, run_cli

ADMIN = Credentials("admin", PASSWORD)
CHILD_TABLES = (
    "children",
    "referrals",
    "assessments",
    "cin_plans",
    "s47_enquiries",
    "cp_plans",
    "pre_proceedings",
    "care_proceedings",
    "cla_episodes",
    "attendance_terms",
    "fsm_pupil_premium",
)


@pytest.fixture(scope="module")
def returns(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic delivery set: one LA's returns (Swindon), all formats."""
    out = tmp_path_factory.mktemp("synth")
    summary = generate(out, seed=11, children=1500)
    return summary.returns_dir / "swindon"


def _counts(path: Path) -> dict[str, int]:
    with open_raw_vault(path, ADMIN) as v:
        return {t: v.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in (*CHILD_TABLES, "deliveries")}


def test_ingest_is_idempotent_and_reports_quality(tmp_path: Path, returns: Path) -> None:
    vault = api.init_vault(tmp_path / "v", PASSWORD).path
    first = api.ingest(vault, ADMIN, [returns])
    assert first.loaded > 10
    assert first.rejected == 0
    counts = _counts(vault)
    assert counts["referrals"] > 0 and counts["cla_episodes"] > 0
    again = api.ingest(vault, ADMIN, [returns])
    assert again.loaded == 0
    assert again.skipped == len(again.deliveries)
    assert _counts(vault) == counts
    proc = cli_in_process("quality", str(vault), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    d = doc["deliveries"][0]
    for key in (
        "sha256",
        "file_name",
        "la",
        "return",
        "format",
        "rows_read",
        "rows_loaded",
        "dropped_columns",
        "findings",
    ):
        assert key in d
    assert all(isinstance(v, int) for d in doc["deliveries"] for v in d["findings"].values())
    assert {row["la"] for row in doc["linkage"]} >= {"Swindon"}
    with open_raw_vault(vault, ADMIN) as v:
        assert v.verify_audit().ok
        actions = [r[0] for r in v.con.execute("SELECT action FROM audit").fetchall()]
    assert actions.count("ingest.delivery") == first.loaded + first.rejected


def test_same_referral_in_overlapping_returns_is_stored_once(tmp_path: Path, returns: Path) -> None:
    vault = api.init_vault(tmp_path / "v", PASSWORD).path
    api.ingest(vault, ADMIN, [returns])
    with open_raw_vault(vault, ADMIN) as v:
        dupes = v.con.execute(
            "SELECT count(*) FROM (SELECT child_key, referral_date FROM referrals GROUP BY 1, 2 HAVING count(*) > 1)"
        ).fetchone()[0]
        overlap = v.con.execute("SELECT sum(duplicates) FROM deliveries").fetchone()[0]
    assert dupes == 0
    assert overlap > 0  # the DR2 returns overlap (nov20, nov21, nov22, apr23) and repeat the CIN census


_KILLER = """
import sys
from pathlib import Path
from cscvault import api
from cscvault.vault import Credentials
api.ingest(Path(sys.argv[1]), Credentials("admin", sys.argv[2]), [Path(sys.argv[3])])
"""


def test_sigkill_at_random_points_leaves_whole_deliveries(tmp_path: Path, returns: Path) -> None:
    reference = api.init_vault(tmp_path / "ref", PASSWORD).path
    api.ingest(reference, ADMIN, [returns])
    expected = _counts(reference)
    vault = api.init_vault(tmp_path / "v", PASSWORD).path
    rng = random.Random(7)
    for _ in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-c", _KILLER, str(vault), PASSWORD, str(returns)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(1.0, 4.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with open_raw_vault(vault, ADMIN) as v:
            assert v.verify_audit().ok
            # Every stored row belongs to a recorded delivery, and every delivery's rows are all there.
            for table in CHILD_TABLES:
                orphans = v.con.execute(
                    f"SELECT count(*) FROM {table} WHERE delivery NOT IN (SELECT sha256 FROM deliveries)"
                ).fetchone()[0]
                assert orphans == 0
            loaded = v.con.execute("SELECT count(*) FROM deliveries").fetchone()[0]
            logged = v.con.execute("SELECT count(*) FROM audit WHERE action = 'ingest.delivery'").fetchone()[0]
            assert loaded == logged
    api.ingest(vault, ADMIN, [returns])
    assert _counts(vault) == expected


def test_identifier_bait_never_reaches_the_vault(tmp_path: Path) -> None:
    summary = generate(tmp_path / "synth", seed=3, children=600, with_identifiers=True)
    entries = json.loads(summary.bait_manifest.read_text())["entries"]
    # Dates of birth are checked by column only: a planted date can equal a legitimate event date.
    planted = sorted(
        {
            str(v)
            for e in entries
            if e["identifier"] != "date_of_birth"
            for v in e.get("sample_values", e.get("values", []))
        }
    )
    assert len(planted) > 20
    vault = api.init_vault(tmp_path / "v", PASSWORD).path
    proc = run_cli("ingest", str(vault), str(summary.returns_dir))
    assert proc.returncode in (0, 3), proc.stderr
    for value in planted:
        assert value not in proc.stdout and value not in proc.stderr
    with open_raw_vault(vault, ADMIN) as v:
        tables = [
            r[0]
            for r in v.con.execute(
                # Every table but the quarantine (which holds failing values, encrypted, by design) and the study's
                # own configuration text (which names ethnic groups such as 'White').
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                "AND table_name NOT IN ('quarantine', 'meta')"
            ).fetchall()
        ]
        text = []
        for t in tables:
            text.append(json.dumps(v.con.execute(f"SELECT * FROM {t}").fetchall(), default=str))
        blob = "\n".join(text)
        dropped = {
            c for r in v.con.execute("SELECT dropped_columns FROM deliveries").fetchall() for c in json.loads(r[0])
        }
        # Planted values in a child's row are kept (encrypted, in the vault) keyed to that child, so an access
        # request includes them and an erasure removes them.
        keyed = v.con.execute("SELECT count(*) FROM quarantine WHERE child_key IS NOT NULL").fetchone()[0]
        assert keyed > 0
    leaked = [value for value in planted if value in blob]
    assert leaked == []
    for e in entries:
        if e["placement"] == "extra_column":
            assert e["column"] in dropped, e["column"]
