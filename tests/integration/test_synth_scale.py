"""Scale: one million children's CIN census stays under 2 GB peak memory (slow; `make validate`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "synth_scale.py"


@pytest.mark.slow
def test_one_million_children_cin_under_two_gb(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--children", "1000000", "--formats", "cin", "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["children"] == 1_000_000 and result["files"] == 35
    assert result["peak_rss_mb"] < 2048
