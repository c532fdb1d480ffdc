"""Rebuild this folder's CSVs from the full published files: `python make_subset.py <folder of published CSVs>`.

Keeps each file's header and every row for England (National) and the LAs below, byte for byte; drops the rest so
the test data stays small. Development only: the tests read the committed subset, never the full files.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

# The five study LAs, and the old Dorset, Poole and Bournemouth codes (their 2018 denominator is a documented
# exception in the rebuild test).
KEEP_LA_CODES = {"335", "888", "894", "212", "866", "835", "836", "837"}
FILES = (
    "dfe_cla_number_and_rate_per_10k_children_release2022_2018_to_2022.csv",
    "dfe_cla_number_and_rate_per_10k_children_release2023_2019_to_2023.csv",
    "dfe_cla_number_and_rate_per_10k_children_release2024_2020_to_2024.csv",
    "dfe_cla_number_and_rate_per_10k_children_release2025_2021_to_2025.csv",
    "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv",
    "d3_cpps_subsequent_plan_2013_to_2025.csv",
    "d5_cpps_at31march_by_duration_2013_to_2025.csv",
    "ons_mid-year_population_estimates_2012_to_2024.csv",
)


def subset(source: Path, target: Path) -> int:
    lines = source.read_bytes().decode("utf-8").splitlines(keepends=True)
    header = next(csv.reader([lines[0].lstrip("\ufeff")]))
    level, code = header.index("geographic_level"), header.index("old_la_code")
    kept = [lines[0]]
    for line in lines[1:]:
        row = next(csv.reader([line]))
        if row[level].strip() == "National" or row[code].strip().removesuffix(".0") in KEEP_LA_CODES:
            kept.append(line)
    target.write_bytes("".join(kept).encode("utf-8"))
    return len(kept) - 1


if __name__ == "__main__":
    raw = Path(sys.argv[1])
    here = Path(__file__).resolve().parent
    for name in FILES:
        print(name, subset(raw / name, here / name))
