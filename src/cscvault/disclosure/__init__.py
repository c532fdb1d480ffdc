"""Disclosure control: pure SDC rules, named versioned profiles, table checks, ACRO-format output.

The API the reports and the release airlock use:
- `apply_profile(table, profile, count_cols=...)` / `apply_release({name: table}, profile)`
  -> `CheckedTable` (per-cell verdicts, the released table, the profile stamp);
- `check_microdata(data, index, columns, profile, values=..., aggfunc=...)` for row-level data;
- `check_model_output(df_resid, profile)` for model outputs;
- `differencing_flags(new, earlier, profile)` against earlier releases on the same cohort;
- `write_results(outputs, folder, profile)` writes ACRO's `results.json` layout.
"""

from __future__ import annotations

from cscvault.disclosure.acro_format import CustomOutput, OutputEntry, write_results
from cscvault.disclosure.check import (
    CellResult,
    CheckedTable,
    ColumnRelation,
    DominanceColumns,
    apply_profile,
    apply_release,
    check_microdata,
    tabulate,
    with_margins,
)
from cscvault.disclosure.differencing import DifferenceFlag, apply_differencing, differencing_flags
from cscvault.disclosure.profiles import DEFAULT_PROFILE, Profile, get_profile, load_profiles
from cscvault.disclosure.rules import RULES, ModelCheck, check_model_output, percent
from cscvault.disclosure.table_file import check_file

__all__ = [
    "DEFAULT_PROFILE",
    "RULES",
    "CellResult",
    "CheckedTable",
    "ColumnRelation",
    "CustomOutput",
    "DifferenceFlag",
    "DominanceColumns",
    "ModelCheck",
    "OutputEntry",
    "Profile",
    "apply_differencing",
    "apply_profile",
    "apply_release",
    "check_file",
    "check_microdata",
    "check_model_output",
    "differencing_flags",
    "get_profile",
    "load_profiles",
    "percent",
    "tabulate",
    "with_margins",
    "write_results",
]
