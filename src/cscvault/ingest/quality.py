"""Data quality per LA and return: rows read and loaded, columns dropped, findings by rule and severity,
linkage rates. Counts only: nothing here is a child-level value."""

from __future__ import annotations

import json
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
    return {"deliveries": deliveries, "linkage": linkage(vault)}


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
