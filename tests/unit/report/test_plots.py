"""Odds-ratio axes read 0.5, 0.75, 1, 1.5, never 6x10^-1."""

from __future__ import annotations

import io

import pytest
from matplotlib.figure import Figure
from PIL import Image

from cscvault.report import plots


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        (0.45, 1.7, [0.5, 0.75, 1.0, 1.5]),
        (0.3, 3.5, [0.5, 0.75, 1.0, 1.5, 2.0, 3.0]),
        (0.0087, 115.0, [0.01, 0.1, 0.5, 1.0, 2.0, 10.0, 100.0]),
        (0.78, 1.2, [0.8, 0.9, 1.0, 1.1]),
        (0.92, 1.08, [0.95, 1.0, 1.05]),
    ],
)
def test_ticks_are_plain_and_few(low: float, high: float, ticks: list[float]) -> None:
    got = plots.odds_ratio_ticks(low, high)
    assert got == ticks
    assert len(got) <= plots.MAX_TICKS


def test_tick_text_has_no_exponent_or_trailing_zero() -> None:
    texts = [plots.tick_text(t) for t in (0.5, 0.75, 1.0, 1.5, 100.0, 0.01)]
    assert texts == ["0.5", "0.75", "1", "1.5", "100", "0.01"]


def test_forest_plot_axis_shows_the_plain_ticks_and_no_minor_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, list[str]] = {}
    real = plots._png

    def capture(fig: Figure) -> bytes:
        ax = fig.axes[0]
        seen["major"] = [t.get_text() for t in ax.get_xticklabels()]
        seen["minor"] = [t.get_text() for t in ax.get_xticklabels(minor=True)]
        return real(fig)

    monkeypatch.setattr(plots, "_png", capture)
    png = plots.forest(["a", "b"], [0.8, 1.1], [0.6, 0.9], [1.05, 1.4])
    assert Image.open(io.BytesIO(png)).format == "PNG"
    # data 0.6-1.4, padded by 15% each way: 0.52-1.61
    assert seen["major"] == ["0.75", "1", "1.5"]
    assert seen["minor"] == []
