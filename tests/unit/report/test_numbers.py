"""The report writes numbers one way everywhere: p never "0.000", ratios to 2 places, dashes for gaps."""

from __future__ import annotations

import math

import pytest

from cscvault.report.numbers import fmt_ci, fmt_number, fmt_p, fmt_ratio, p_clause


@pytest.mark.parametrize(
    ("p", "text"),
    [(0.0, "<0.001"), (0.00049, "<0.001"), (0.000999, "<0.001"), (0.001, "0.001"), (0.0456, "0.046"),
     (1.0, "1.000"), (None, "–"), (math.nan, "–")],
)  # fmt: skip
def test_p_values_are_never_zero(p: float | None, text: str) -> None:
    assert fmt_p(p) == text


def test_p_in_running_text() -> None:
    assert p_clause(1e-9) == "p < 0.001" and p_clause(0.2) == "p = 0.200" and p_clause(None) == "p = –"


def test_ratios_and_intervals_have_two_places() -> None:
    assert fmt_ratio(0.8512) == "0.85" and fmt_ratio(1) == "1.00"
    assert fmt_ci(0.712, 1.019) == "0.71 to 1.02"
    assert fmt_ci(None, 2.0) == "unbounded" and fmt_ratio(math.inf) == "–"


def test_counts_and_text_stay_as_they_are() -> None:
    assert fmt_number(1234) == "1234" and fmt_number("suppressed") == "suppressed" and fmt_number(None) == "–"
    assert fmt_number(0.01234, 3) == "0.012"
