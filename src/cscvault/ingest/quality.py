"""Data quality per LA and return: rows read and loaded, columns dropped, findings by rule and severity,
linkage rates. Counts only: nothing here is a child-level value."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from cscvault.vault import Vault


def quality_report(vault: Vault) -> dict[str, Any]:
    vault.require_role("admin", "analyst", "dpo")
    con = vault.con
    names = {la.ons_code: la.name for la in vault.study.local_authorities}
    rows = con.execute(
        "SELECT sha256, file_name, la_code, return_label, collection_year, format, rows_read, rows_loaded, rejected, "
        "dropped_columns, findings, tables, tombstoned, duplicates, quarantined, loaded_at "
        "FROM deliveries ORDER BY la_code, return_label, file_name"
    ).fetchall()
    severity = {
        (str(d), str(s)): int(n)
        for d, s, n in con.execute("SELECT delivery, severity, count(*) FROM findings GROUP BY 1, 2").fetchall()
    }
    deliveries = []
    for r in rows:
        sha = str(r[0])
        deliveries.append(
            {
                "sha256": sha,
                "file_name": r[1],
                "la": names.get(str(r[2])) if r[2] else None,
                "la_code": r[2],
                "return": r[3],
                "collection_year": r[4],
                "format": r[5],
                "rows_read": int(r[6]),
                "rows_loaded": int(r[7]),
                "rejected": bool(r[8]),
                "dropped_columns": json.loads(r[9]),
                "findings": json.loads(r[10]),
                "findings_by_severity": {s: n for (d, s), n in severity.items() if d == sha},
                "tables": json.loads(r[11]),
                "tombstoned": int(r[12]),
                "duplicates": int(r[13]),
                "quarantined": int(r[14]),
                "loaded_at": r[15],
            }
        )
    label_deliveries(deliveries)
    links = linkage(vault)
    return {
        "deliveries": deliveries,
        "linkage": links,
        "summary": summary(deliveries, links),
        "rows_explained": ROWS_EXPLAINED,
    }


ROWS_EXPLAINED = (
    "Rows read are the data rows in a file. Rows loaded are the rows written to the vault's tables: one row "
    "read can give rows in several tables (a child and their referral, say), so loaded can exceed read, and "
    "rows set aside by screening (duplicates, out of scope, quarantined) make it smaller. A rejected file "
    "loads nothing."
)

TOP_FINDINGS = 3


def return_name(delivery: dict[str, Any], with_table: bool = True) -> str:
    """The return a file belongs to, for people: its label (e.g. cin2021-22) or, when the file does not
    carry one (SSDA903 CSV tables), the return its format belongs to, with the table."""
    if delivery.get("return"):
        return str(delivery["return"])
    fmt = str(delivery.get("format") or "")
    family, _, table = fmt.partition(":")
    known = {"ssda903_csv": "SSDA903", "ssda903_xml": "SSDA903", "cin_census": "CIN census"}
    name = known.get(family, family.replace("_", " ") or "unknown return")
    return f"{name} ({table})" if table and with_table else name


def label_deliveries(deliveries: list[dict[str, Any]]) -> None:
    """Add `return_name`, `delivery_id` (the SHA-256's first 12 hex digits, as `cscvault ingest` names a
    delivery) and `file_label`: the file name, followed by LA, year and delivery id when several files
    share the name (several LAs send `episodes.csv`)."""
    names = Counter(str(d["file_name"]) for d in deliveries)
    for d in deliveries:
        d["return_name"] = return_name(d)
        d["delivery_id"] = str(d["sha256"])[:12]
        label = str(d["file_name"])
        if names[label] > 1:
            where = ", ".join(str(x) for x in (d["la"] or d["la_code"] or "unknown LA", d["collection_year"]) if x)
            label = f"{label} ({where}; delivery {d['delivery_id']})"
        d["file_label"] = label


def summary(deliveries: list[dict[str, Any]], links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per LA x return x year: files, rows read and loaded, files rejected, the most frequent
    findings, and how many children in the tables it loads also have a referral (the LA's linkage)."""
    by_la = {row["la"]: row for row in links}
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for d in deliveries:
        key = (str(d["la"] or "unknown LA"), return_name(d, with_table=False), str(d["collection_year"] or ""))
        g = groups.setdefault(
            key,
            {
                "la": key[0],
                "return": key[1],
                "collection_year": d["collection_year"],
                "files": 0,
                "rows_read": 0,
                "rows_loaded": 0,
                "rejected": 0,
                "findings": Counter(),
                "tables": set(),
            },
        )
        g["files"] += 1
        g["rows_read"] += d["rows_read"]
        g["rows_loaded"] += d["rows_loaded"]
        g["rejected"] += int(d["rejected"])
        g["findings"].update(d["findings"])
        g["tables"].update(d["tables"] if isinstance(d["tables"], dict | list) else [])
    out = []
    for key in sorted(groups):
        g = groups[key]
        findings: Counter[str] = g.pop("findings")
        tables: set[str] = g.pop("tables")
        linked = seen = 0
        la_links = by_la.get(g["la"], {})
        for table in sorted(tables):
            entry = la_links.get(table)
            if isinstance(entry, dict):
                seen += int(entry["children"])
                linked += int(entry["linked_to_referral"])
        g["findings_total"] = sum(findings.values())
        g["top_findings"] = [{"rule": r, "count": n} for r, n in findings.most_common(TOP_FINDINGS)]
        g["linkage_rate"] = round(linked / seen, 4) if seen else None
        out.append(g)
    return out


def linkage(vault: Vault) -> list[dict[str, Any]]:
    """Per LA: how many children with a referral also appear in other tables, and how many children seen in
    other tables have no referral (a sign of ids that did not link)."""
    con = vault.con
    out = []
    for la in vault.study.local_authorities:
        referred = con.execute(
            "SELECT count(DISTINCT child_key) FROM referrals WHERE la_code = ?", [la.ons_code]
        ).fetchone()
        n_ref = int(referred[0]) if referred else 0
        row: dict[str, Any] = {"la": la.name, "children_referred": n_ref}
        for table in ("cla_episodes", "cp_plans", "attendance_terms", "children"):
            seen = con.execute(
                f"SELECT count(DISTINCT child_key) FROM {table} WHERE la_code = ?", [la.ons_code]
            ).fetchone()
            linked = con.execute(
                f"SELECT count(DISTINCT t.child_key) FROM {table} t WHERE t.la_code = ? AND EXISTS "
                "(SELECT 1 FROM referrals r WHERE r.child_key = t.child_key)",
                [la.ons_code],
            ).fetchone()
            n_seen = int(seen[0]) if seen else 0
            n_linked = int(linked[0]) if linked else 0
            row[table] = {
                "children": n_seen,
                "linked_to_referral": n_linked,
                "match_rate": round(n_linked / n_seen, 4) if n_seen else None,
            }
        out.append(row)
    return out
