"""Generate docs/rules.md from the rule registry: `python -m cscvault.ingest.rules_doc [OUT]`."""

from __future__ import annotations

import sys
from pathlib import Path

from cscvault.formats.recode import TABLE_NAMES, table
from cscvault.formats.rules import SEVERITIES, all_rules

HEADER = """# Ingest validation rules

Generated from `cscvault.formats.rules` by `python -m cscvault.ingest.rules_doc`; do not edit by hand.
Messages never contain a value from the data: they name the file, row or XPath, field and rule.
A value that fails a rule is nulled and kept only in the encrypted quarantine.

Severities: **fatal** - the file is rejected and nothing from it is loaded; **error** - the value or
row is rejected; **warning** - kept but reported; **info** - reported only.
"""


def render() -> str:
    lines = [HEADER]
    groups: dict[str, list[str]] = {}
    for r in all_rules():
        prefix = r.id.split("-", 1)[0]
        template = r.template.replace("|", "\\|")
        doc = r.doc.replace("|", "\\|")
        groups.setdefault(prefix, []).append(f"| `{r.id}` | {r.severity} | {template} | {doc} |")
    titles = {
        "FMT": "File and format",
        "ID": "Identifiers",
        "MIN": "Minimisation",
        "DATE": "Dates",
        "AGE": "Ages",
        "CODE": "Code tables",
        "NUM": "Numbers",
        "KEY": "Keys",
        "DUP": "Duplicates",
        "LINK": "Linkage",
    }
    for prefix, rows in groups.items():
        lines.append(f"## {titles.get(prefix, prefix)}\n")
        lines.append("| id | severity | message | meaning |")
        lines.append("|---|---|---|---|")
        lines.extend(rows)
        lines.append("")
    lines.append("## Code tables\n")
    lines.append("| table | rule | kind | entries |")
    lines.append("|---|---|---|---|")
    for name in TABLE_NAMES:
        t = table(name)
        lines.append(f"| `{name}` | `{t.rule}` | {t.kind} | {len(t.mapping) + len(t.legacy)} |")
    lines.append("")
    assert set(SEVERITIES) >= {r.severity for r in all_rules()}
    return "\n".join(lines)


def write(path: str | Path = "docs/rules.md") -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = write(args[0] if args else "docs/rules.md")
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
