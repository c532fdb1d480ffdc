"""How the report writes numbers, the same way in every table: ratios and their intervals to 2 decimal
places, p-values to 3 (below 0.001 as "<0.001", never "0.000"), model coefficients and standard errors
to 3, correlations to 3, degrees of freedom to 1; a missing or non-finite value as a dash."""

from __future__ import annotations

import math

DASH = "–"
RATIO_DIGITS = 2
P_DIGITS = 3
COEF_DIGITS = 3


def _finite(value: object) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def fmt_number(value: object, digits: int = RATIO_DIGITS) -> str:
    """A float to `digits` places; an int or text as it is; None or non-finite as a dash."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        x = _finite(value)
        return DASH if x is None else f"{x:.{digits}f}"
    return DASH if value is None else str(value)


def fmt_ratio(value: object) -> str:
    """An odds, hazard or rate ratio (or an interval end)."""
    return fmt_number(float(value) if isinstance(value, int) and not isinstance(value, bool) else value)


def fmt_p(value: object) -> str:
    """A p-value: "<0.001" below the third decimal, else three decimals."""
    x = _finite(value)
    if x is None:
        return DASH
    threshold = 10.0**-P_DIGITS
    if x < threshold:
        return f"<{threshold:.{P_DIGITS}f}"
    return f"{x:.{P_DIGITS}f}"


def fmt_ci(low: object, high: object) -> str:
    """A 95% interval of a ratio; an end that is missing makes it unbounded."""
    if _finite(low) is None and _finite(high) is None:
        return "unbounded"
    if low is None or high is None:
        return "unbounded"
    return f"{fmt_ratio(low)} to {fmt_ratio(high)}"


def p_clause(value: object) -> str:
    """ "p = 0.046" or "p < 0.001" for running text."""
    text = fmt_p(value)
    return f"p < {text[1:]}" if text.startswith("<") else f"p = {text}"
