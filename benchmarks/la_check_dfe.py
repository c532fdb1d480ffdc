"""Benchmark: what the DfE CIN rules add to `la check` on a census file.

    .venv/bin/python benchmarks/la_check_dfe.py [--children N] [--repeat R]

Writes a synthetic CIN census (`cscvault.synth.generate`, one LA) to a temp folder, takes its largest
file and times, in this process, ingest's read-and-screen of it (what `la check` did before) and the DfE
rules on it (table read + every implemented rule), each the best of R runs. CPU time (user + system of
this process) is the steadier basis on a shared machine; wall time and the load average are printed beside.
Results go to stdout and benchmarks/results/la_check_dfe.json (gitignored).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cscvault.ingest.pipeline import read_and_screen
from cscvault.la.dfe_cin import dfe_cin_findings
from cscvault.study import load_study
from cscvault.synth.generate import generate

RESULTS = Path(__file__).resolve().parent / "results" / "la_check_dfe.json"


def _best(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of the fastest of `repeat` runs."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        best = min(best, (time.process_time() - c0, time.perf_counter() - w0))
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--children", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    study = load_study()
    with tempfile.TemporaryDirectory() as tmp:
        summary = generate(Path(tmp) / "syn", seed=11, children=args.children, formats="cin")
        path = max((f for f in summary.files if f.suffix == ".xml"), key=lambda f: f.stat().st_size)
        size_mb = path.stat().st_size / 1e6
        load_before = os.getloadavg()
        screen = _best(lambda: read_and_screen(path, study), args.repeat)
        dfe = _best(lambda: dfe_cin_findings(path), args.repeat)
        n_findings = len(dfe_cin_findings(path))
        load_after = os.getloadavg()
    result = {
        "children_requested": args.children,
        "file_mb": round(size_mb, 2),
        "ingest_screen_cpu_s": round(screen[0], 3),
        "ingest_screen_wall_s": round(screen[1], 3),
        "dfe_rules_cpu_s": round(dfe[0], 3),
        "dfe_rules_wall_s": round(dfe[1], 3),
        "dfe_over_screen_cpu_ratio": round(dfe[0] / screen[0], 3),
        "dfe_findings": n_findings,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for k, v in result.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
