"""Plots for the report, returned as PNG bytes (embedded in a self-contained HTML file).

Every plot is drawn from disclosure-checked numbers only: counts released by the study's profile, rates
derived from released counts, and model estimates.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display; set before pyplot is imported
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cscvault.study import Study

TREATED = "#1d70b8"
CONTROL = "#d9e6f2"
INK = "#0b0c0c"


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def stepped_wedge(study: Study) -> bytes:
    """LA x period grid: which periods each LA spends under Family Safeguarding."""
    las = sorted(study.local_authorities, key=lambda la: la.go_live)
    periods = study.periods
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(las) + 1.2))
    for i, la in enumerate(las):
        for j, p in enumerate(periods):
            treated = p.start >= la.go_live
            ax.add_patch(Rectangle((j, i), 0.95, 0.9, color=TREATED if treated else CONTROL))
    ax.set_xlim(0, len(periods))
    ax.set_ylim(len(las), 0)
    ax.set_xticks([j + 0.47 for j in range(len(periods))])
    ax.set_xticklabels([f"{p.name}\n{p.start:%b %y}" for p in periods], fontsize=8)
    ax.set_yticks([i + 0.45 for i in range(len(las))])
    ax.set_yticklabels([la.notice_name for la in las], fontsize=9)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title("Stepped-wedge design: dark cells are periods after go-live", fontsize=10, color=INK)
    return _png(fig)


def forest(labels: Sequence[str], ors: Sequence[float], lows: Sequence[float], highs: Sequence[float]) -> bytes:
    """Odds ratios with 95% CIs on a log scale, one row per fitted analysis."""
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(labels) + 1.0))
    ys = list(range(len(labels)))
    for y, o, lo, hi in zip(ys, ors, lows, highs, strict=True):
        ax.plot([lo, hi], [y, y], color=INK, linewidth=1.4)
        ax.plot([o], [y], marker="s", color=TREATED, markersize=6)
    ax.axvline(1.0, color="#505a5f", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("Odds ratio of care within 18 months (95% CI), log scale", fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def rates(series: dict[str, list[tuple[str, float | None]]]) -> bytes:
    """Outcome rate (%) by period, one line per LA; gaps where counts were withheld."""
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    for la, points in series.items():
        xs = [p for p, _ in points]
        ys = [float("nan") if v is None else v for _, v in points]
        ax.plot(xs, ys, marker="o", linewidth=1.4, label=la)
    ax.set_ylabel("Looked after within 18 months (%)", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    ax.legend(fontsize=8, frameon=False, ncol=3)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)
