"""Fingerprint what the ingest's pure steps make of a set of files, to compare two versions of the code.

Each file goes through `cscvault.ingest.pipeline.read_and_screen` (read, screen, link, minimise: everything
before the vault) and is summarised as SHA-256 digests of its findings, quarantine, dropped columns and each
screened table (rows sorted, every value as text), plus counts. Only digests and counts are printed: no
child-level value leaves the process.

Compare the code of another branch with this one (the old code unpacked outside the repository, run with
the same virtualenv):

    git archive integrate2 src | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old/src .venv/bin/python benchmarks/ingest_equivalence.py DIR... > old.json
    .venv/bin/python benchmarks/ingest_equivalence.py DIR... > new.json
    .venv/bin/python benchmarks/ingest_equivalence.py --compare old.json new.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

READABLE = (".xml", ".csv", ".xlsx", ".txt", ".tsv")


def _digest(items: list[str]) -> str:
    h = hashlib.sha256()
    for item in items:
        h.update(item.encode())
        h.update(b"\x00")
    return h.hexdigest()


def fingerprint(path: Path) -> dict[str, Any]:
    from cscvault.errors import CscvaultError
    from cscvault.ingest.pipeline import read_and_screen
    from cscvault.study import load_study

    try:
        d = read_and_screen(path, load_study())
    except CscvaultError as exc:
        return {"error": type(exc).__name__, "message": str(exc)}
    tables = {}
    for name, df in sorted(d.tables.items()):
        cols = sorted(df.columns)
        rows = sorted("\x1f".join(repr(v) for v in row) for row in df[cols].astype(object).itertuples(index=False))
        tables[name] = {"rows": len(rows), "columns": cols, "dtypes": [str(df[c].dtype) for c in cols],
                        "sha256": _digest(rows)}  # fmt: skip
    return {
        "format": d.format,
        "la": d.la.name if d.la is not None else None,
        "return_label": d.return_label,
        "collection_year": d.collection_year,
        "rows_read": d.rows_read,
        "findings": len(d.findings),
        "findings_sha256": _digest(sorted(repr(f) for f in d.findings)),  # first reports may come in another order
        "quarantine": len(d.quarantine),
        "quarantine_sha256": _digest(sorted(repr(q) for q in d.quarantine)),
        "dropped_columns_sha256": _digest(sorted(d.dropped_columns)),
        "birth_months_sha256": _digest(sorted(f"{k}={v}" for k, v in d.birth_months.items())),
        "tables": tables,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", type=Path)
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("OLD", "NEW"))
    args = ap.parse_args()
    if args.compare:
        old, new = (json.loads(p.read_text()) for p in args.compare)
        differ = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        for k in differ:
            print(f"DIFFERS: {k}")
        print(f"{len(old)} files compared, {len(differ)} differ")
        sys.exit(1 if differ else 0)
    files = sorted(
        f for p in args.paths for f in ([p] if p.is_file() else p.rglob("*")) if f.suffix.lower() in READABLE
    )
    print(json.dumps({str(f): fingerprint(f) for f in files}, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
