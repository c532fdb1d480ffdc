"""Seeded real-world quirks of LA returns (switched off by `--clean`).

The quirks come from the evaluator's pipeline notes (shared/research/sfpc_pipeline.md s.2-3): header rows
offset, sheet names that vary, factor codes as lists / Yes-No columns / words, bullet-prefixed labels,
mixed date formats and Excel serials, "#MULTIVALUE", text in numeric cells, reused child ids. Which LA
shows which quirk is data (`quirks` in base_rates.toml); how often is here.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cscvault.synth import codes
from cscvault.synth.dates import NO_DATE, IntArray, excel_serial, fmt

ObjArray = npt.NDArray[np.object_]

REUSED_ID_RATE = 0.003  # children whose DR id is another child's id (the real ID repair split 102)
MULTIVALUE_RATE = 0.005
TEXT_IN_NUMERIC_RATE = 0.004
MISSING_REFERRAL_DATE_RATE = 0.002
PLACEHOLDER_DOB_RATE = 0.1  # of unborn children with a DOB: "01/1900" (the real pipeline's age 122)
BULLETS = "abcdefghijklmnopqrstuvwxyz"


def excel_dates(days: IntArray) -> ObjArray:
    """Clean date cells: float serials, written with a date format (an int would be a bare number)."""
    out = np.full(days.shape, None, dtype=object)
    ok = days != NO_DATE
    out[ok] = excel_serial(days[ok]).astype(np.float64)
    return out


def mixed_dates(rng: np.random.Generator, days: IntArray) -> ObjArray:
    """Dates as a messy return has them: real dates, dd/mm/yyyy text, ISO text, or bare Excel serials."""
    out = excel_dates(days)
    ok = np.flatnonzero(days != NO_DATE)
    pick = rng.integers(0, 4, ok.size)
    dmy = fmt(days[ok], "dmy")
    iso = fmt(days[ok], "iso")
    serial = excel_serial(days[ok])
    for k, i in enumerate(ok.tolist()):
        if pick[k] == 1:
            out[i] = dmy[k]
        elif pick[k] == 2:
            out[i] = iso[k]
        elif pick[k] == 3:
            out[i] = int(serial[k])
    return out


def bullet(values: ObjArray, options: tuple[str, ...]) -> ObjArray:
    """Prefix each label with its list letter, as a drop-down with numbered options exports it."""
    letter = {v: f"{BULLETS[i % 26]}) {v}" for i, v in enumerate(options)}
    return np.array([letter.get(v, v) if v else v for v in values.tolist()], dtype=object)


def factor_text(rng: np.random.Generator, masks: IntArray, style: str, messy: bool) -> ObjArray:
    """Factor codes as one text cell: codes joined by a separator, or words ("words" style)."""
    out = np.full(masks.shape, "", dtype=object)
    seps = (", ", ",", "; ", ";", " ")
    for i, m in enumerate(masks.tolist()):
        items = [c for k, c in enumerate(codes.FACTOR_CODES) if (m >> k) & 1]
        if not items:
            continue
        if style == "words":
            out[i] = "; ".join(codes.FACTOR_WORDS[c] for c in items)
            continue
        if messy:
            items = [c.lower() if rng.random() < 0.15 else c for c in items]
            out[i] = seps[int(rng.integers(len(seps)))].join(items)
        else:
            out[i] = ", ".join(items)
    return out


def reused_ids(rng: np.random.Generator, ids: ObjArray) -> tuple[ObjArray, int]:
    """Give a few children the id of another child of the same LA (different DOB): the real ID clash."""
    n = ids.size
    k = int(rng.binomial(n, REUSED_ID_RATE)) if n > 1 else 0
    if k == 0:
        return ids, 0
    out = ids.copy()
    who = rng.choice(n, size=k, replace=False)
    donor = rng.integers(0, n, k)
    donor = np.where(donor == who, (donor + 1) % n, donor)
    out[who] = ids[donor]
    return out, k
