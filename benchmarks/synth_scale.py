"""Scale benchmark of the synthetic generator: wall time, CPU time and peak memory.

    .venv/bin/python benchmarks/synth_scale.py --children 1000000 --formats cin
    /usr/bin/time -v .venv/bin/cscvault synth /tmp/synth-1m --children 1000000 --formats cin   # same, via the CLI

Peak memory must stay under 2 GB at one million children (children are generated and written in batches
of `dgp.BATCH_SIZE`, one LA at a time; CIN files are streamed).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

from cscvault.synth import generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--children", type=int, default=1_000_000)
    ap.add_argument("--formats", default="cin")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="output directory (default: a temporary one, removed)")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="synth-bench-")) / "out"
    t0, c0 = time.perf_counter(), time.process_time()
    summary = generate(out, seed=args.seed, children=args.children, formats=args.formats)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "children": summary.children,
                "formats": list(summary.formats),
                "files": len(summary.files),
                "bytes_written": size,
                "wall_seconds": round(wall, 1),
                "cpu_seconds": round(cpu, 1),
                "peak_rss_mb": round(peak_mb, 1),
                "under_2gb": peak_mb < 2048,
            },
            indent=2,
        )
    )
    if args.out is None:
        shutil.rmtree(out.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
