"""Write checked outputs as ACRO 1.0.2 writes them, so SACRO tools can read a cscvault release.

The folder gets, as `acro.finalise(path, "json")` makes it: `results.json` (one entry per output:
uid, status, type, properties, files with their `sdc` summary and cell positions, outcome per cell,
command, summary, timestamp, comments, exception, fair), one CSV per table, `config.json` (the
risk appetite in ACRO's key names) and `checksums/NAME.txt` (SHA-256 of each file). The profile
name and version are stamped into every entry's properties and into config.json.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cscvault import __version__
from cscvault.disclosure.check import CheckedTable
from cscvault.disclosure.profiles import Profile
from cscvault.disclosure.rules import ACRO_CHECK_NAMES, RULE_DOF, ModelCheck

ACRO_FORMAT_VERSION = "1.0.2"  # results.json layout of this ACRO release (acro/record.py)
_CONTEXT = "https://w3id.org/statbarnsdc#"
_TABLE_CHECKS = ["MinimumThresholdCheck", "PresenceOfZeroCheck", "NKCheck", "PPercentCheck"]


@dataclass
class CustomOutput:
    """A file released as is (a figure, a text note); ACRO marks these for review."""

    path: Path
    comment: str = ""


@dataclass
class OutputEntry:
    """One output of a release with the checker-facing metadata ACRO records."""

    output: CheckedTable | ModelCheck | CustomOutput
    uid: str | None = None
    command: str = ""
    comments: list[str] = field(default_factory=list)
    exception: str = ""
    # A release bundle names each file (relative to the folder, e.g. `outputs/flow.csv`) and gives its exact
    # released bytes, so every file is written once and is the one the checker approved.
    file_name: str | None = None
    content: bytes | None = None


def _write(folder: Path, name: str, data: bytes) -> None:
    target = folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _row_labels(table: CheckedTable) -> list[str]:
    labels: list[str] = []
    for pos in range(len(table.original)):
        if table.label_cols:
            labels.append(" / ".join(str(table.original.iloc[pos][c]) for c in table.label_cols))
        else:
            labels.append(str(pos))
    return labels


def _table_record(table: CheckedTable) -> dict[str, Any]:
    labels = _row_labels(table)
    col_pos = {c: j for j, c in enumerate(table.count_cols)}
    cells: dict[str, list[list[int]]] = {name: [] for name in _TABLE_CHECKS}
    outcome: dict[str, dict[str, str]] = {c: {} for c in table.count_cols}
    statuses: dict[str, str] = dict.fromkeys(_TABLE_CHECKS, "pass")
    for cell in table.cells:
        names: list[str] = []
        for reason in cell.reasons:
            rule = reason.split(":", 1)[0]
            check = ACRO_CHECK_NAMES.get(rule)
            if check is None or check in names:
                continue
            names.append(check)
            cells.setdefault(check, []).append([cell.row, col_pos[cell.column]])
            if cell.verdict == "fail" or statuses.get(check) != "fail":
                statuses[check] = "fail" if cell.verdict == "fail" else "review"
        outcome[cell.column][labels[cell.row]] = "".join(f"{n}; " for n in names) or "ok"
    status = table.status
    mitigated = table.suppressed_count > 0 or table.profile.round_base > 1
    summary_parts = [f"{name}: {len(pos)} cells" for name, pos in cells.items() if pos]
    return {
        "status": "review" if (status != "pass" and mitigated) else status,
        "type": "table",
        "sdc": {"summary": {name: len(pos) for name, pos in cells.items()}, "cells": cells},
        "outcome": outcome,
        "summary": f"{status}; " + "; ".join(summary_parts) if summary_parts else status,
        "check_status": statuses,
        "mitigation": _mitigation(table.profile, table.suppressed_count > 0),
    }


def _mitigation(profile: Profile, suppressed: bool) -> str:
    if suppressed:
        return "suppress"
    return "round" if profile.round_base > 1 else "none"


_RISKS = {
    "Frequencies": ["ClassDisclosure", "Differencing", "LowCount"],
    "CorrelationCoefficients": ["LowDOF"],
}


def _fair(statbarn: str, check_status: dict[str, str]) -> dict[str, Any]:
    return {
        "context": _CONTEXT,
        "statbarn": statbarn,
        "risks": _RISKS[statbarn],
        "checks_needed": list(check_status),
        "common_mitigations": ["Suppression"],
        "check_status": check_status,
    }


def _mitigation_note(table: CheckedTable) -> str:
    """ACRO records why a mitigated output may be released in its `exception` field."""
    notes = []
    if table.suppressed_count:
        notes.append("Suppression automatically applied where needed")
    if table.profile.round_base > 1:
        notes.append(f"Rounding automatically applied to nearest {table.profile.round_base}")
    return "; ".join(notes)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_results(
    outputs: Sequence[OutputEntry | CheckedTable | ModelCheck | CustomOutput],
    folder: Path,
    profile: Profile,
) -> Path:
    """Write `results.json`, the output files, `config.json` and `checksums/`; return results.json."""
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for i, item in enumerate(outputs):
        entry = item if isinstance(item, OutputEntry) else OutputEntry(item)
        uid = entry.uid or f"output_{i}"
        stamp = profile.stamp
        if isinstance(entry.output, CheckedTable):
            stamp = entry.output.profile.stamp
        elif isinstance(entry.output, ModelCheck):
            stamp = {"profile": entry.output.profile, "profile_version": entry.output.profile_version}
        now = dt.datetime.now(dt.UTC).isoformat()
        out = entry.output
        record: dict[str, Any]
        if isinstance(out, CheckedTable):
            info = _table_record(out)
            name = entry.file_name or f"{uid}_0.csv"
            # Label columns are columns of the released table: no pandas index column.
            _write(folder, name, entry.content or out.released.to_csv(index=False).encode("utf-8"))
            record = {
                "uid": uid,
                "status": info["status"],
                "type": "table",
                "properties": {"method": "crosstab", "mitigation": info["mitigation"], **stamp},
                "files": [{"name": name, "sdc": info["sdc"]}],
                "outcome": info["outcome"],
                "command": entry.command or f"cscvault disclosure check {out.name}",
                "summary": info["summary"],
                "fair": _fair("Frequencies", info["check_status"]),
            }
            if out.profile.round_base > 1:
                record["properties"]["round_base"] = out.profile.round_base
            if not entry.exception and info["status"] == "review" and out.status != "review":
                entry.exception = _mitigation_note(out)
        elif isinstance(out, ModelCheck):
            name = entry.file_name or f"{uid}_0.csv"
            default = f"df_resid,min_dof\n{out.df_resid},{out.min_dof}\n".encode()
            _write(folder, name, entry.content if entry.content is not None else default)
            check = ACRO_CHECK_NAMES[RULE_DOF]
            failed = out.verdict != "pass"
            record = {
                "uid": uid,
                "status": out.verdict,
                "type": "regression",
                "properties": {"method": "model", "dof": out.df_resid, **stamp},
                "files": [{"name": name, "sdc": {"summary": {check: int(failed)}, "cells": {check: []}}}],
                "outcome": {},
                "command": entry.command or "model",
                "summary": f"{out.verdict}; dof={out.df_resid:g} (minimum {out.min_dof})",
                "fair": _fair("CorrelationCoefficients", {check: out.verdict}),
            }
        else:
            name = entry.file_name or out.path.name
            target = folder / name
            if entry.content is not None:
                _write(folder, name, entry.content)
            elif out.path.resolve() != target.resolve():
                _write(folder, name, out.path.read_bytes())
            record = {
                "uid": uid,
                "status": "review",
                "type": "custom",
                "properties": dict(stamp),
                "files": [{"name": name, "sdc": {}}],
                "outcome": {},
                "command": "custom",
                "summary": "review",
                "fair": {},
            }
            if out.comment:
                entry.comments = [*entry.comments, out.comment]
        record.update({"timestamp": now, "comments": list(entry.comments), "exception": entry.exception})
        # Key order as ACRO writes it.
        order = ["uid", "status", "type", "properties", "files", "outcome", "command", "summary"]
        order += ["timestamp", "comments", "exception", "fair"]
        results[uid] = {k: record[k] for k in order}
    document = {
        "version": ACRO_FORMAT_VERSION,
        "tool": {
            "@type": "SoftwareApplication",
            "name": "cscvault",
            "version": __version__,
        },
        "results": results,
    }
    results_path = folder / "results.json"
    results_path.write_text(json.dumps(document, indent=4), encoding="utf-8")
    config = {**profile.as_acro_config(), "profile": profile.name, "profile_version": profile.version}
    (folder / "config.json").write_text(json.dumps(config, indent=4), encoding="utf-8")
    checksums = folder / "checksums"
    checksums.mkdir(exist_ok=True)
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and rel.parts[0] != "checksums":
            (checksums / f"{'_'.join(rel.parts)}.txt").write_text(_sha256(path), encoding="utf-8")
    return results_path
