"""The SDC checks a release runs on each output that passed the gate, and the version that may leave.

- CSV tables: the study's profile (threshold, zeros, secondary suppression, rounding) through
  `apply_profile`; the released version is the suppressed and rounded table. Numeric columns that are
  not whole-number counts (rates, percentages, means) are withheld: percentages are derived from
  released counts only. Differencing against earlier releases of a table with the same name turns
  cells to review.
- Analysis results (`results.json` rows with n and terms per fitted model): minimum residual degrees
  of freedom per model, small event or non-event counts, and counts rounded to the profile's base.
  Rows of a model that fails are withheld; small counts are blanked.
- HTML reports, figures, text and other JSON: reviewed by a person (the file is released as is).
- A PDF: only beside the HTML it was printed from (the gate's `pdf-source` rule); its verdict is that
  HTML's (`printed_verdicts`).

Everything is deterministic, so the export rebuilds the ACRO records from the stored request bytes and
the stored differencing flags and gets exactly the approved released bytes.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from cscvault.disclosure.check import (
    CheckedTable,
    ColumnRelation,
    EarlierTable,
    TableLink,
    apply_profile,
    apply_release,
)
from cscvault.disclosure.differencing import DifferenceFlag, apply_differencing
from cscvault.disclosure.gate import kind_of, read_csv_text
from cscvault.disclosure.profiles import Profile
from cscvault.disclosure.rules import (
    RULE_DIFFERENCING,
    RULE_DOF,
    RULE_THRESHOLD,
    ModelCheck,
    Verdict,
    check_model_output,
)
from cscvault.errors import DataError, UsageError

RULE_HUMAN = "human-review"
RULE_NOT_COUNT = "not-a-count"
RULE_UNREADABLE = "unreadable"
RULE_ROUNDING = "rounding"

_LABEL_NAMES = frozenset(
    {"year", "time_period", "period", "month", "quarter", "wave", "step", "wedge", "code", "la", "la_code"}
)
_MODEL_KEYS = ("analysis", "sample", "model")
_RANK = {"pass": 0, "review": 1, "fail": 2}


def worst(verdicts: Sequence[str]) -> Verdict:
    out: Verdict = "pass"
    for v in verdicts:
        if _RANK[v] > _RANK[out]:
            out = "fail" if v == "fail" else "review"
    return out


@dataclass
class OutputCheck:
    """The verdict on one output, the bytes that may leave (None: nothing safe) and a value-free summary."""

    name: str
    kind: str
    verdict: Verdict
    reasons: list[str]
    released: bytes | None
    checks: dict[str, Any] = field(default_factory=dict)
    table: CheckedTable | None = None
    models: list[tuple[str, ModelCheck]] = field(default_factory=list)


def check_output(
    name: str,
    data: bytes,
    profile: Profile,
    earlier: Mapping[str, bytes] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> OutputCheck:
    """Check one gated output. `earlier`: released bytes of same-named tables, by earlier release id.
    `meta`: what the run that made the output declared about it (a table's relations and label columns)."""
    kind = kind_of(name)
    if kind == "table":
        return check_table(name, data, profile, earlier=earlier or {}, meta=meta)
    if kind == "json":
        document = json.loads(data.decode("utf-8"))
        if _is_results(document):
            return check_results(name, document, data, profile)
        return _human(name, kind, data, "JSON reviewed by a person")
    if kind == "document":
        return _human(name, kind, data, f"PDF printed from {(meta or {}).get('from')}: reviewed with it")
    what = {"html": "HTML", "figure": "figure"}.get(kind, "text")
    return _human(name, kind, data, f"{what} reviewed by a person")


def printed_verdicts(checks: Sequence[OutputCheck], metas: Sequence[Mapping[str, Any]]) -> None:
    """Give each PDF the verdict of the HTML it was printed from (requested with it: the gate saw to that)."""
    verdicts = {c.name: c.verdict for c in checks if c.kind == "html"}
    for check, meta in zip(checks, metas, strict=True):
        source = str(meta.get("from") or "")
        if check.kind == "document" and source in verdicts:
            check.verdict = verdicts[source]


@dataclass(frozen=True)
class Requested:
    """One file of a release request: its name, bytes and what its run declared about it."""

    name: str
    data: bytes
    meta: Mapping[str, Any] = field(default_factory=dict)


def check_outputs(
    items: Sequence[Requested],
    profile: Profile,
    earlier: Mapping[str, Mapping[str, bytes]] | None = None,
    published: Sequence[EarlierTable] = (),
) -> list[OutputCheck]:
    """Check the files of one release together: its tables jointly (`joint_tables`), so that no withheld
    cell can be recovered across its tables or from what earlier releases published; the rest one by one.
    `earlier`: released bytes of same-named tables by earlier release id (differencing)."""
    tables = joint_tables(items, profile, published)
    out = []
    for item in items:
        if item.name in tables:
            table, withheld, problems = tables[item.name]
            out.append(_table_check(item.name, item.data, table, withheld, problems, (earlier or {}).get(item.name)))
        else:
            out.append(check_output(item.name, item.data, profile, (earlier or {}).get(item.name), item.meta))
    return out


def declared_links(name: str, meta: Mapping[str, Any] | None) -> list[TableLink]:
    """The links a run declared from a table output to other tables of its run (`TableLink`)."""
    return [TableLink.from_dict(name, r) for r in (meta or {}).get("links", [])]


def earlier_table(
    ident: str, name: str, content: bytes, released: bytes, meta: Mapping[str, Any]
) -> EarlierTable | None:
    """A table an earlier release published, with its true counts and the cells it withheld (None when
    it has no counts). Laid out exactly as the release check laid it out then (`table_layout`)."""
    frame = read_csv_text(content.decode("utf-8"))
    labels, counts, _ = table_layout(frame)
    if not counts:
        return None
    shown = read_csv_text(released.decode("utf-8"))
    withheld = frozenset(
        (row, col)
        for col in counts
        for row in range(len(frame))
        if col not in shown.columns or row >= len(shown) or pd.isna(shown[col].iloc[row])
    )
    return EarlierTable(
        ident, name, frame, tuple(counts), tuple(labels), withheld, tuple(declared_relations(meta)),
        tuple(declared_links(ident, meta)),
    )  # fmt: skip


def joint_tables(
    items: Sequence[Requested], profile: Profile, published: Sequence[EarlierTable] = ()
) -> dict[str, tuple[CheckedTable | None, list[str], list[str]]]:
    """The table files of a release checked together, by name: (checked table, withheld columns, problems).

    Each table is first checked alone (its layout and declared relations must hold). The readable ones are
    then checked as one release (`apply_release`): declared links between them (a link to a table not in
    this release goes to the latest earlier published table of that name, if any) and every earlier
    published table, so the secondary suppression and its LP audit see the attacker's whole knowledge."""
    alone: dict[str, tuple[CheckedTable | None, list[str], list[str]]] = {}
    for item in items:
        if kind_of(item.name) == "table":
            alone[item.name] = checked_table(item.name, item.data, profile, item.meta)
    good = {name: entry for name, entry in alone.items() if entry[0] is not None and not entry[2]}
    if not good or (len(good) == 1 and not published):
        return alone
    latest = {t.name: t.ident for t in published}  # later releases come later: the last one wins
    links: list[TableLink] = []
    for item in items:
        if item.name not in good:
            continue
        for link in declared_links(item.name, item.meta):
            if link.other in good:
                links.append(link)
            elif link.other in latest:
                links.append(link.renamed(item.name, latest[link.other]))
    idents = {t.ident for t in published}
    for table in published:
        # An earlier table's links name files of its own release: `ident` is "release/name".
        release = table.ident.rsplit("/", 1)[0]
        for link in table.links:
            if f"{release}/{link.other}" in idents:
                links.append(link.renamed(table.ident, f"{release}/{link.other}"))
    single = {name: entry[0] for name, entry in good.items() if entry[0] is not None}
    frames = {name: table.original for name, table in single.items()}
    metas = {item.name: item.meta for item in items}
    try:
        joint = apply_release(
            frames,
            profile,
            count_cols={n: t.count_cols for n, t in single.items()},
            label_cols={n: t.label_cols for n, t in single.items()},
            relations={n: declared_relations(metas[n]) for n in frames},
            table_links=links,
            earlier=published,
        )
    except (DataError, UsageError) as exc:
        return {**alone, **{n: (None, good[n][1], [exc.message]) for n in frames}}
    return {**alone, **{n: (joint[n], good[n][1], []) for n in frames}}


def _human(name: str, kind: str, data: bytes, why: str) -> OutputCheck:
    return OutputCheck(name, kind, "review", [f"{RULE_HUMAN}: {why}"], data, {"rules": {RULE_HUMAN: 1}})


# -- tables ------------------------------------------------------------------------------------------


def _norm(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.strip().lower()).strip("_")


def table_layout(frame: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
    """(numeric label columns, count columns, withheld numeric columns) of a table file."""
    labels: list[str] = []
    counts: list[str] = []
    withheld: list[str] = []
    for col in frame.columns:
        name = str(col)
        series = frame[col]
        if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        norm = _norm(name)
        if norm in _LABEL_NAMES or norm.endswith(("_code", "_year")):
            labels.append(name)
        elif all(pd.isna(v) or float(v).is_integer() for v in series):
            counts.append(name)
        else:
            withheld.append(name)
    return labels, counts, withheld


def declared_relations(meta: Mapping[str, Any] | None) -> list[ColumnRelation]:
    """The linear relations a run declared for a table output (none for a file of unknown origin)."""
    return [ColumnRelation.from_dict(r) for r in (meta or {}).get("relations", [])]


def checked_table(
    name: str, data: bytes, profile: Profile, meta: Mapping[str, Any] | None = None
) -> tuple[CheckedTable | None, list[str], list[str]]:
    """The checked table (None when it has no counts), the withheld columns, and problems found."""
    frame = read_csv_text(data.decode("utf-8"))
    labels, counts, withheld = table_layout(frame)
    if not counts:
        return None, withheld, []
    try:
        table = apply_profile(frame, profile, counts, label_cols=labels, name=name, relations=declared_relations(meta))
    except (DataError, UsageError) as exc:
        return None, withheld, [exc.message]
    return table, withheld, []


def _as_earlier(data: bytes, like: CheckedTable) -> pd.DataFrame:
    frame = read_csv_text(data.decode("utf-8"))
    keep = [c for c in frame.columns if c in like.label_cols or c in like.count_cols]
    out = frame[keep].copy()
    for col in like.label_cols:
        if col in out.columns:
            out[col] = [_label_text(v) for v in out[col]]
    return out


def _label_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def reapply_flags(table: CheckedTable, flags: Sequence[Mapping[str, Any]]) -> None:
    """Put stored differencing flags back on a rebuilt table (the export does this)."""
    for f in flags:
        flag = DifferenceFlag(
            str(f["earlier"]), tuple(f["key"]), str(f["column"]), int(f["row"]), float(f["difference"])
        )
        cell = table.cell(flag.row, flag.column)
        cell.reasons.append(flag.text())
        if cell.verdict == "pass":
            cell.verdict = "review"


def released_csv(table: CheckedTable) -> bytes:
    buffer = io.StringIO()
    table.released.to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8")


def check_table(
    name: str, data: bytes, profile: Profile, earlier: Mapping[str, bytes], meta: Mapping[str, Any] | None = None
) -> OutputCheck:
    table, withheld, problems = checked_table(name, data, profile, meta)
    return _table_check(name, data, table, withheld, problems, earlier)


def _table_check(
    name: str,
    data: bytes,
    table: CheckedTable | None,
    withheld: list[str],
    problems: list[str],
    earlier: Mapping[str, bytes] | None,
) -> OutputCheck:
    if problems:
        reason = problems[0]
        prefix = f"table {name}: "
        reason = reason[len(prefix) :] if reason.startswith(prefix) else reason
        return OutputCheck(
            name, "table", "fail", [f"{RULE_UNREADABLE}: {reason}"], None, {"rules": {RULE_UNREADABLE: 1}}
        )
    if table is None:
        note = f"{RULE_HUMAN}: no whole-number count column found; table reviewed by a person"
        return OutputCheck(name, "table", "review", [note], data, {"rules": {RULE_HUMAN: 1}})
    flags: list[DifferenceFlag] = []
    if earlier:
        frames = {release: _as_earlier(old, table) for release, old in earlier.items()}
        flags = apply_differencing(table, frames)
    reasons, rules = _table_reasons(table, flags)
    verdict: Verdict = table.status
    if withheld:
        reasons.append(
            f"{RULE_NOT_COUNT}: {len(withheld)} numeric column(s) that are not counts withheld: "
            + ", ".join(repr(c) for c in withheld)
        )
        rules[RULE_NOT_COUNT] = len(withheld)
        verdict = worst([verdict, "review"])
    checks = {
        "cells": len(table.cells),
        "pass": sum(c.verdict == "pass" for c in table.cells),
        "review": sum(c.verdict == "review" for c in table.cells),
        "fail": sum(c.verdict == "fail" for c in table.cells),
        "suppressed": table.suppressed_count,
        "secondary": sum(c.secondary for c in table.cells),
        "rounded_to": table.profile.round_base,
        "withheld_columns": withheld,
        "rules": rules,
        "cell_verdicts": [
            {
                "row": c.row,
                "column": c.column,
                "verdict": c.verdict,
                "rules": sorted({r.split(":", 1)[0] for r in c.reasons}),
                "reasons": list(c.reasons),  # rule texts name the profile's parameters, never a cell value
                "suppressed": c.suppressed,
            }
            for c in table.cells
            if c.verdict != "pass" or c.suppressed
        ],
        "differencing": [
            {"earlier": f.earlier, "key": list(f.key), "column": f.column, "row": f.row, "difference": f.difference}
            for f in flags
        ],
    }
    return OutputCheck(name, "table", verdict, reasons, released_csv(table), checks, table=table)


def _table_reasons(table: CheckedTable, flags: Sequence[DifferenceFlag]) -> tuple[list[str], dict[str, int]]:
    rules: dict[str, int] = {}
    for cell in table.cells:
        for rule in {r.split(":", 1)[0] for r in cell.reasons}:
            rules[rule] = rules.get(rule, 0) + 1
    reasons = [f"{rule}: {n} cell(s)" for rule, n in sorted(rules.items()) if rule != RULE_DIFFERENCING]
    if table.suppressed_count:
        reasons.append(f"{table.suppressed_count} cell(s) suppressed in the released version")
    if table.profile.round_base > 1:
        reasons.append(f"{RULE_ROUNDING}: counts rounded to the nearest {table.profile.round_base}")
    if flags:
        earlier = sorted({f.earlier for f in flags})
        reasons.append(
            f"{RULE_DIFFERENCING}: {len(flags)} cell(s) differ from release(s) {', '.join(earlier)} "
            f"by fewer than {table.profile.min_count}: review"
        )
    return reasons, rules


# -- analysis results --------------------------------------------------------------------------------


def _is_results(document: Any) -> bool:
    rows = document.get("results") if isinstance(document, dict) else None
    return (
        isinstance(rows, list)
        and bool(rows)
        and all(isinstance(r, dict) and "term" in r and "n" in r and all(k in r for k in _MODEL_KEYS) for r in rows)
    )


def model_checks(
    document: Mapping[str, Any], profile: Profile
) -> list[tuple[tuple[str, ...], ModelCheck, list[dict[str, Any]]]]:
    """One degrees-of-freedom check per fitted model in an analysis results document.

    Residual degrees of freedom are taken as n minus the fixed-effect terms minus one (the random
    intercept's variance): the rows carry n and one row per term, not the design matrix.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in document["results"]:
        groups.setdefault(tuple(str(row[k]) for k in _MODEL_KEYS), []).append(row)
    out = []
    for key, rows in groups.items():
        n = rows[0].get("n")
        dof = None if not isinstance(n, int | float) else float(n) - len(rows) - 1
        out.append((key, check_model_output(dof, profile), rows))
    return out


def _round(value: float, base: int) -> int:
    return int(base * round(value / base)) if base > 1 else int(value)


def _small_counts(row: Mapping[str, Any], profile: Profile) -> list[str]:
    """Which of a model's event and non-event counts are below the threshold."""
    n, events = row.get("n"), row.get("n_events")
    if not isinstance(n, int | float) or not isinstance(events, int | float):
        return []
    found = []
    for label, value in (("events", events), ("non-events", n - events)):
        if value < profile.min_count and (value > 0 or profile.zeros_disclosive):
            found.append(label)
    return found


def check_results(name: str, document: dict[str, Any], data: bytes, profile: Profile) -> OutputCheck:
    reasons: list[str] = []
    rules: dict[str, int] = {}
    verdicts: list[Verdict] = []
    released_rows: list[dict[str, Any]] = []
    models: list[tuple[str, ModelCheck]] = []
    changed = False
    for key, check, rows in model_checks(document, profile):
        uid = "model_" + "_".join(re.sub(r"[^A-Za-z0-9]+", "-", k) for k in key)
        models.append((uid, check))
        if check.verdict != "pass":
            verdicts.append(check.verdict)
            rules[RULE_DOF] = rules.get(RULE_DOF, 0) + 1
            reasons.append(f"{RULE_DOF}: model {'/'.join(key)}: {check.verdict}; its rows are withheld")
            changed = True
            continue
        small = _small_counts(rows[0], profile)
        if small:
            rules[RULE_THRESHOLD] = rules.get(RULE_THRESHOLD, 0) + 1
            reasons.append(
                f"{RULE_THRESHOLD}: model {'/'.join(key)}: {' and '.join(small)} below {profile.min_count}; "
                "n_events withheld"
            )
            verdicts.append("fail")
        for row in rows:
            out = dict(row)
            if small:
                out["n_events"] = None
            for col in ("n", "n_events"):
                count = out.get(col)
                if isinstance(count, int | float) and _round(count, profile.round_base) != count:
                    out[col] = _round(count, profile.round_base)
                    rules[RULE_ROUNDING] = rules.get(RULE_ROUNDING, 0) + 1
            released_rows.append(out)
            changed = changed or out != row
    if rules.get(RULE_ROUNDING):
        reasons.append(f"{RULE_ROUNDING}: counts rounded to the nearest {profile.round_base} in the released version")
    released = data
    if changed:
        doc = dict(document)
        doc["results"] = released_rows
        released = (json.dumps(doc, indent=2, default=str) + "\n").encode("utf-8")
    checks = {
        "models": len(models),
        "models_failed": sum(m.verdict != "pass" for _, m in models),
        "rows": len(document["results"]),
        "rows_released": len(released_rows),
        "rules": rules,
        "model_verdicts": [{"uid": uid, **m.as_dict()} for uid, m in models],
    }
    return OutputCheck(name, "results", worst(verdicts), reasons, released, checks, models=models)
