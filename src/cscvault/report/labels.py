"""Model terms in words: `uasc[<NA>]` becomes "Unaccompanied asylum seeker: not recorded".

Variable labels and level labels come from the study's data dictionary (its `variables`); the design
variables the study itself defines (treatment, period, LA, readiness) have fixed words here.
"""

from __future__ import annotations

import re

from cscvault.study.model import DataDictionary

DESIGN_LABELS = {
    "(Intercept)": "Intercept",
    "treatment": "Family Safeguarding (after go-live)",
    "period": "Period",
    "la": "Local authority",
    "readiness": "Readiness stratum",
    "transition": "Transition (first treated period)",
}
# How a missing value shows in a term: the missing-indicator level, pandas' NA, a float NaN.
MISSING_LEVELS = frozenset({"missing", "<NA>", "nan", "None", "NaN"})
NOT_RECORDED = "not recorded"
_FACTOR = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<level>.*)\]$")


def variable_label(name: str, dictionary: DataDictionary) -> str:
    var = dictionary.variable(name)
    if var is not None:
        return var.label
    return DESIGN_LABELS.get(name, name)


def level_label(name: str, level: str, dictionary: DataDictionary) -> str:
    if level in MISSING_LEVELS:
        return NOT_RECORDED
    var = dictionary.variable(name)
    return var.level_label(level) if var is not None else level


def term_label(term: str, dictionary: DataDictionary) -> str:
    """Words for a model term: a plain variable, a factor level `name[level]`, or an interaction `a:b`."""
    if ":" in term and term not in DESIGN_LABELS:
        return " × ".join(term_label(part, dictionary) for part in term.split(":"))
    m = _FACTOR.match(term)
    if m is None:
        return variable_label(term, dictionary)
    name, level = m.group("name"), m.group("level")
    return f"{variable_label(name, dictionary)}: {level_label(name, level, dictionary)}"
