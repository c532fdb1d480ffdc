"""Generate docs/dfe_rules.md from the DfE CIN rule catalogue: `python -m cscvault.la.dfe_cin.doc [OUT]`.

`python -m cscvault.la.dfe_cin.doc --coverage` prints, per census year of the study, how many DfE
CIN rules are in force and how many cscvault implements.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cscvault.la.dfe_cin import FIRST_PACK, all_rules

STUDY_YEARS = range(2020, 2026)  # census end years 2019/20 to 2024/25
SHOWN_YEARS = range(2020, 2027)  # and 2025/26, the newest pack

HEADER = """# DfE CIN census validation rules (LA side)

Generated from `src/cscvault/la/dfe_cin/rules.toml` by `python -m cscvault.la.dfe_cin.doc`; do not edit by hand.

`cscvault la check` (and so `la package`) runs these on a CIN census file on the LA's own machine, as the
LA's data officer runs the DfE's validation before a submission. Each finding is the usual record: file,
XPath of the record, data item, rule id `DFE-CIN-<DfE number>`, severity and the DfE's message, never a
value. Severity: **error** for the DfE's errors (`la check` exits 3 and `la package` refuses without
`--allow-errors`); **warning** for its queries (numbers ending in Q: the LA may confirm the data).

The catalogue is the rule packs of the public data-to-insight CIN validator for 2022/23 to 2025/26 (the
DfE's own rule spreadsheets were not available); census years before 2022/23 are checked with the 2022/23
rules. Agreement with that validator, record by record, on its public fixtures and on cscvault's rule
cases is tested in `tests/reference/test_dfe_cin_validator.py`; the known differences (validator defects)
are listed with reasons in `tests/data/dfe_cin/divergences.toml`.

Not implemented on purpose: the UPN and former-UPN format rules (1510-1560Q, 8770Q, 8772), since the study
never reads a UPN, and the child protection review rules (4003, 8841, 8842Q), since it reads no review dates.
Working days (8569Q, 8670Q, 8675Q) count England and Wales bank holidays (`bank_holidays.toml`).
"""


def _label(year: int) -> str:
    return f"{year - 1}/{year % 100:02d}"


def coverage_rows() -> list[tuple[str, int, int]]:
    """(census year, rules in force, rules implemented) for each shown census year."""
    rows = []
    for y in SHOWN_YEARS:
        in_force = [r for r in all_rules() if r.applies(y)]
        rows.append((_label(y), len(in_force), sum(r.implemented for r in in_force)))
    return rows


def render() -> str:
    lines = [HEADER, "## Coverage\n", "| census year | DfE rules in force | implemented |", "|---|---|---|"]
    for label, n, done in coverage_rows():
        note = f" (the {_label(FIRST_PACK)} rules)" if label < _label(FIRST_PACK) else ""
        lines.append(f"| {label}{note} | {n} | {done} |")
    rules = all_rules()
    studied = [r for r in rules if any(r.applies(y) for y in STUDY_YEARS)]
    lines.append(
        f"\nOver the study's census years {_label(STUDY_YEARS[0])} to {_label(STUDY_YEARS[-1])}:"
        f" {sum(r.implemented for r in studied)} of {len(studied)} rules implemented.\n"
    )
    for title, chosen in (("Implemented", True), ("Not implemented", False)):
        lines.append(f"## {title}\n")
        lines.append("| id | severity | years | module | data items | message |")
        lines.append("|---|---|---|---|---|---|")
        for r in rules:
            if r.implemented != chosen:
                continue
            years = "all" if r.since <= FIRST_PACK else f"from {_label(r.since)}"
            if r.until is not None:
                years += f" to {_label(r.until)}"
            message = r.message.replace("|", "\\|")
            if r.message_before and r.changed:
                message += f" (before {_label(r.changed)}: {r.message_before})"
            fields = ", ".join(r.fields)
            lines.append(f"| `{r.id}` | {r.severity} | {years} | {r.module} | {fields} | {message} |")
        lines.append("")
    return "\n".join(lines)


def write(path: str | Path = "docs/dfe_rules.md") -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--coverage"]:
        for label, n, done in coverage_rows():
            print(f"{label}: {done} of {n} DfE CIN rules implemented")
        studied = [r for r in all_rules() if any(r.applies(y) for y in STUDY_YEARS)]
        print(f"study years: {sum(r.implemented for r in studied)} of {len(studied)}")
        return 0
    print(write(args[0] if args else "docs/dfe_rules.md"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
