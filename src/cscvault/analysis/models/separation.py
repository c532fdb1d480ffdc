"""Separation: when a logistic model's maximum-likelihood estimate does not exist.

A logit has no finite maximum when some combination of its design columns, x'b, is >= 0 for every child
with the event and <= 0 for every child without it, and not 0 for all of them (complete or quasi-complete
separation, Albert & Anderson 1984). The fit then drifts to infinity; optimisers stop wherever their
tolerance tells them, with huge standard errors, or a Newton step meets a singular information matrix.
The check is the linear programme of Konis (2007; R package detectseparation):

    maximise  sum_i s_i x_i'b   subject to  s_i x_i'b >= 0 for every i,  -1 <= b <= 1,

with s = +1 for events and -1 for non-events; a positive maximum is a separating direction. On binomial
rows a row with both events and non-events contributes both constraints (so x'b = 0 there).

It also holds the primary analysis's rule for factor covariates (see `analysis.primary.drop_separated_levels`):
a non-reference level in which every child has the same outcome is left out, and said so, because keeping
it only adds a coefficient at infinity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import linprog

from cscvault.errors import DataError

FloatArray = NDArray[np.float64]

# The programme's columns are scaled to a largest absolute value of 1, so a separating direction gives an
# objective of order one or more (at least one row moves by a whole step); solver noise is ~1e-9.
SEPARATION_TOL = 1e-6
COEFFICIENT_TOL = 1e-6  # a direction component below this does not take part in the separation
MAX_NAMED = 4  # terms named in the one-line message


def separating_terms(x: FloatArray, events: FloatArray, trials: FloatArray, names: Sequence[str]) -> tuple[str, ...]:
    """The design columns taking part in a separating direction; empty when the estimate is finite."""
    x = np.asarray(x, dtype=np.float64)
    has_event = np.asarray(events) > 0
    has_non_event = np.asarray(events) < np.asarray(trials)
    scale = np.max(np.abs(x), axis=0)
    scale[scale == 0] = 1.0
    xs = x / scale
    # s_i x_i'b >= 0  <=>  -s_i x_i'b <= 0
    a_ub = np.vstack([-xs[has_event], xs[has_non_event]])
    c = -(xs[has_event].sum(axis=0) - xs[has_non_event].sum(axis=0))  # linprog minimises
    result = linprog(c, A_ub=a_ub, b_ub=np.zeros(len(a_ub)), bounds=[(-1.0, 1.0)] * x.shape[1], method="highs")
    if result.status != 0 or -float(result.fun) <= SEPARATION_TOL:
        return ()
    direction = np.asarray(result.x, dtype=np.float64)
    return tuple(n for n, b in zip(names, direction, strict=True) if abs(b) > COEFFICIENT_TOL)


def separation_message(terms: Sequence[str], model: str) -> str:
    """One line: what separates, and what that means for the estimate."""
    named = [t for t in terms if t != "(Intercept)"] or list(terms)
    shown = ", ".join(named[:MAX_NAMED]) + (f" and {len(named) - MAX_NAMED} more" if len(named) > MAX_NAMED else "")
    return (
        f"{model}: complete or quasi-complete separation: the outcome is perfectly predicted by a combination of "
        f"{shown}, so the estimate is not finite; combine sparse levels or leave the term out"
    )


def require_no_separation(
    x: FloatArray, events: FloatArray, trials: FloatArray, names: Sequence[str], model: str
) -> None:
    """Stop with a one-line `DataError` (exit 3) when the model has no finite maximum-likelihood estimate."""
    terms = separating_terms(x, events, trials, names)
    if terms:
        raise DataError(separation_message(terms, model))


def drop_separated_levels(
    frame: pd.DataFrame,
    factors: Sequence[str],
    references: Mapping[str, object],
    *,
    outcome: str | None = None,
    events: str | None = None,
    trials: str | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The primary analysis's rule on child rows (`outcome`) or binomial rows (`events` of `trials`):
    leave out the rows of a non-reference factor level whose outcomes are all the same, returning the
    rows kept and, per left-out level ("col[level]"), the number of children it had."""
    if outcome is not None:
        ev = frame[outcome].astype(float)
        tr = pd.Series(1.0, index=frame.index)
    else:
        assert events is not None and trials is not None
        ev, tr = frame[events].astype(float), frame[trials].astype(float)
    dropped: dict[str, int] = {}
    keep = pd.Series(True, index=frame.index)
    for col in factors:
        sums = pd.DataFrame({"ev": ev, "tr": tr, "lev": frame[col]}).groupby("lev", dropna=True)[["ev", "tr"]].sum()
        for level, row in sums.iterrows():
            if row["ev"] in (0.0, row["tr"]) and str(level) != str(references.get(col)):
                keep &= frame[col] != level
                dropped[f"{col}[{level}]"] = int(row["tr"])
    return frame[keep], dropped
