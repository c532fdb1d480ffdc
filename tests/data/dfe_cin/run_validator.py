"""Record the data-to-insight CIN validator's verdicts on the files beside this script, as JSON.

Not part of cscvault and not run by the tests: it needs the validator's checkout and a scratch venv
outside the repository, e.g.

    git clone <csc-validator-be-cin at 1bf6f22> /tmp/validator/src
    python3.11 -m venv /tmp/validator/venv
    /tmp/validator/venv/bin/pip install "pandas>=1.5,<2" "numpy<2" govuk-bank-holidays click click-log rich
    /tmp/validator/venv/bin/python run_validator.py /tmp/validator/src

For each file (and census year) below, it runs every rule of the validator's rule pack for that year
and writes `verdicts/<name>.json`: each issue's rule, table, column, row and the row's XPath, counted
as cscvault counts them (`/Message/Children/Child[n]/CINdetails[k]/Assessments[j]`), plus the rules
that fired for the return as a whole, the rules that raised an exception (the validator prints and
skips them: no verdict) and the rules that reported an issue without a row (dropped, or the validator's
own report step fails).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
# (file, census year of the rule pack): the fixtures with their header's year (the earliest pack is
# 2022/23), and two of them again with the next packs, whose rules on sex and child ids changed.
RUNS = [
    ("CIN_Census_2021.xml", 2023),
    ("CIN_Census_2024.xml", 2024),
    ("CIN_Census_2024.xml", 2025),
    ("CIN_Census_2026.xml", 2024),
    ("CIN_Census_2026.xml", 2026),
    ("fake_CIN_data.xml", 2023),
    ("rule_cases_2024.xml", 2024),
    ("rule_cases_2025.xml", 2025),
    ("return_cases_2025.xml", 2025),
]
TABLES = {
    "Assessments": "Assessments",
    "CINPlanDates": "CINplanDates",
    "Section47": "Section47",
    "ChildProtectionPlans": "ChildProtectionPlans",
}


def xpaths(root: ET.Element) -> dict[str, list[str]]:
    """The XPath of every row of the validator's tables (its tables are built in document order)."""
    t: dict[str, list[str]] = {
        k: [] for k in ("ChildIdentifiers", "ChildCharacteristics", "Disabilities", "CINdetails")
    }
    t.update({table: [] for table in TABLES.values()})
    children = root.find("Children")
    for n, child in enumerate(children.findall("Child") if children is not None else [], 1):
        loc = f"/Message/Children/Child[{n}]"
        t["ChildIdentifiers"].append(loc)
        t["ChildCharacteristics"].append(loc)
        ch = child.find("ChildCharacteristics")
        dis = ch.find("Disabilities") if ch is not None else None
        for i, _ in enumerate(list(dis) if dis is not None else [], 1):
            t["Disabilities"].append(f"{loc}/ChildCharacteristics/Disabilities/Disability[{i}]")
        for k, det in enumerate(child.findall("CINdetails"), 1):
            dl = f"{loc}/CINdetails[{k}]"
            t["CINdetails"].append(dl)
            for tag, table in TABLES.items():
                for j, _ in enumerate(det.findall(tag), 1):
                    t[table].append(f"{dl}/{tag}[{j}]")
    return t


def run(validator: Any, ruleset_for: Any, path: Path, year: int, unlocated: list[str]) -> dict[str, Any]:
    import pandas as pd

    root = ET.parse(path).getroot()
    where = xpaths(root)
    registry = ruleset_for(str(year))
    data = validator.process_data(validator.convert_data(root))
    raw = copy.deepcopy(data)
    unlocated.clear()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # it prints "Error with rule X: ..." and carries on
        v = validator.CinValidator(data, registry)
    crashed = sorted(set(re.findall(r"^Error with rule (\S+?):", printed.getvalue(), re.M)))
    issues = []
    for _, r in v.full_issue_df.iterrows():
        table = r["tables_affected"]
        row = int(r["row_id"]) if pd.notna(r.get("row_id")) else None
        child = r.get("child_id")
        located = table in where and row is not None and row < len(where[table])
        issues.append(
            {
                "rule": str(r["rule_code"]),
                "table": table,
                "column": r["columns_affected"],
                "row": row,
                "child": None if pd.isna(child) else str(child),
                "xpath": where[table][row] if located else None,
            }
        )
        assert table not in raw or row is None or row < len(raw[table])
    la_level = sorted({str(x) for x in v.multichild_issues["rule_code"].unique()}) if len(v.multichild_issues) else []
    return {
        "file": path.name,
        "ruleset": f"cin{year - 1}_{str(year)[2:]}",
        "census_year": year,
        "validator": "data-to-insight/csc-validator-be-cin@1bf6f22e7ca906e72a7f3213e8e04d49d34d787f",
        "rules_in_ruleset": sorted(str(c) for c in registry),
        "issues": sorted(issues, key=lambda i: (i["rule"], i["xpath"] or "", i["column"] or "")),
        "return_level_rules": la_level,
        "crashed_rules": crashed,
        "unlocated_rules": sorted(set(unlocated)),
    }


def main(checkout: str) -> None:
    sys.path.insert(0, checkout)
    from cin_validator import cin_validator as validator
    from cin_validator.rules.ruleset_utils import get_year_ruleset

    unlocated: list[str] = []
    own_step = validator.include_issue_child

    def include(issue_df: Any, cin_data: Any) -> Any:
        """The validator's own step, minus issue rows a rule pushed without a row number (they crash it)."""
        if len(issue_df) and "ROW_ID" in issue_df:
            lost = issue_df["ROW_ID"].isna() & issue_df["tables_affected"].notna()
            unlocated.extend(str(c) for c in issue_df.loc[lost, "rule_code"])
            issue_df = issue_df[~lost]
        return own_step(issue_df, cin_data)

    validator.include_issue_child = include
    out = HERE / "verdicts"
    out.mkdir(exist_ok=True)
    for name, year in RUNS:
        result = run(validator, get_year_ruleset, HERE / name, year, unlocated)
        target = out / f"{Path(name).stem}.{result['ruleset']}.json"
        target.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print(target.name, len(result["issues"]), "issues", "crashed:", result["crashed_rules"])


if __name__ == "__main__":
    main(sys.argv[1])
