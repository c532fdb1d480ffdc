"""Plots for the report, returned as PNG bytes (embedded in a self-contained HTML file).

Every plot is drawn from disclosure-checked numbers only: counts released by the study's profile, rates
derived from released counts, and model estimates.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # no display; set before pyplot is imported
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

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


# Ticks an odds-ratio axis may show, each with a rank: rank 1 always (when in range), then rank 2 and 3
# while the axis has room, so ticks read 0.5, 0.75, 1, 1.5 rather than 6x10^-1.
_OR_TICKS = (
    (0.01, 1), (0.02, 3), (0.05, 2), (0.1, 1), (0.2, 3), (0.25, 2), (0.5, 1), (0.6, 4), (0.7, 4), (0.75, 3),
    (0.8, 4), (0.9, 4), (0.95, 5), (1.0, 1), (1.05, 5), (1.1, 4), (1.25, 4), (1.5, 3), (2.0, 1),
    (3.0, 3), (4.0, 3), (5.0, 2), (10.0, 1),
    (20.0, 2), (50.0, 2), (100.0, 1),
)  # fmt: skip
MAX_TICKS = 8


def odds_ratio_ticks(low: float, high: float) -> list[float]:
    """Plain ticks for a log odds-ratio axis spanning [low, high]: ranks 1-3 while at most MAX_TICKS, the
    finer ranks only until there are three ticks."""
    inside = [(t, r) for t, r in _OR_TICKS if low <= t <= high]
    chosen: list[float] = []
    for rank in (1, 2, 3, 4, 5):
        more = [t for t, r in inside if r == rank]
        # Ranks 1-3 while they fit; the fine ranks 4-5 only for a narrow axis with under three ticks.
        enough = len(chosen) >= 3 and (rank > 3 or len(chosen) + len(more) > MAX_TICKS)
        if enough:
            break
        chosen.extend(more)
    return sorted(chosen)


def tick_text(value: float) -> str:
    """0.5 -> "0.5", 1.0 -> "1", 0.75 -> "0.75" (no exponents, no trailing zeros)."""
    return f"{value:g}"


def forest(labels: Sequence[str], ors: Sequence[float], lows: Sequence[float], highs: Sequence[float]) -> bytes:
    """Odds ratios with 95% CIs on a log scale with plain ticks, one row per fitted analysis."""
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(labels) + 1.0))
    ys = list(range(len(labels)))
    for y, o, lo, hi in zip(ys, ors, lows, highs, strict=True):
        ax.plot([lo, hi], [y, y], color=INK, linewidth=1.4)
        ax.plot([o], [y], marker="s", color=TREATED, markersize=6)
    ax.axvline(1.0, color="#505a5f", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ends = [float(v) for v in (*lows, *highs, *ors, 1.0) if v is not None and 0 < float(v) < float("inf")]
    left, right = min(ends) / 1.15, max(ends) * 1.15
    ax.set_xlim(left, right)
    ticks = odds_ratio_ticks(left, right)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FixedFormatter([tick_text(t) for t in ticks]))
    ax.xaxis.set_minor_locator(NullLocator())
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


@dataclass(frozen=True)
class FlowBar:
    """One LA's participant flow: its referred total and the released segments it splits into."""

    la: str
    referred: float
    segments: list[tuple[str, float]]


POOLED = "withheld by disclosure control (pooled)"
ANALYSED_BY_PERIOD = "analysed (released period counts, added up)"
CENSORED_DERIVED = "censored (sample minus analysed)"
IN_SAMPLE = "in sample (censored and analysed)"
FLOW_COLOURS = {
    "excluded: age": "#b1b4b6",
    "excluded: in care before referral": "#6f777b",
    "censored": "#f47738",
    "analysed": TREATED,
    ANALYSED_BY_PERIOD: "#5694ca",
    CENSORED_DERIVED: "#f47738",
    IN_SAMPLE: "#85994b",
}


def participant_flow(bars: Sequence[FlowBar]) -> bytes:
    """Horizontal stacked bars per LA: referred split into excluded (by reason), censored and analysed; a
    withheld part is a hatched grey band (the remainder the released counts imply)."""
    fig, ax = plt.subplots(figsize=(7.5, 0.6 * max(len(bars), 1) + 1.6))
    seen: set[str] = set()
    for y, bar in enumerate(bars):
        left = 0.0
        for name, value in bar.segments:
            pooled = name == POOLED
            ax.barh(
                y, value, left=left, height=0.6,
                color="#f3f2f1" if pooled else FLOW_COLOURS.get(name, CONTROL),
                hatch="///" if pooled else None, edgecolor="#505a5f" if pooled else "white",
                label=None if name in seen else name,
            )  # fmt: skip
            seen.add(name)
            left += value
        ax.text(bar.referred, y, f"  {bar.referred:g} referred", va="center", fontsize=8, color=INK)
    ax.set_yticks(list(range(len(bars))))
    ax.set_yticklabels([b.la for b in bars], fontsize=9)
    ax.invert_yaxis()
    right = max((b.referred for b in bars), default=1.0)
    ax.set_xlim(0, right * 1.25)
    ax.set_xlabel("Children with a referral in the trial window (released counts)", fontsize=9)
    ax.legend(fontsize=8, frameon=False, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.22))
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


WITHHELD = "withheld"
PANEL_COLUMNS = 3


def participant_flow_by_period(
    las: Sequence[str], panels: Sequence[tuple[str, Sequence[FlowBar], Sequence[str]]]
) -> bytes:
    """Small multiples, one panel per period on a shared axis: per LA, referred split as in
    `participant_flow`. An LA whose referred count is withheld in a period shows the word "withheld" on its
    row; a panel with nothing released says so, so no panel is an unexplained blank."""
    n = max(len(panels), 1)
    cols = min(PANEL_COLUMNS, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols + 1.0, (0.32 * max(len(las), 1) + 1.0) * rows),
                             sharex=True, squeeze=False)  # fmt: skip
    right = max((b.referred for _, bars, _ in panels for b in bars), default=1.0)
    seen: set[str] = set()
    order = {la: i for i, la in enumerate(las)}
    for k, ax in enumerate(axes.flat):
        if k >= len(panels):
            ax.set_visible(False)
            continue
        period, bars, withheld = panels[k]
        for bar in bars:
            y, left = order[bar.la], 0.0
            for name, value in bar.segments:
                pooled = name == POOLED
                ax.barh(
                    y, value, left=left, height=0.65,
                    color="#f3f2f1" if pooled else FLOW_COLOURS.get(name, CONTROL),
                    hatch="///" if pooled else None, edgecolor="#505a5f" if pooled else "white", linewidth=0.5,
                    label=None if name in seen else name,
                )  # fmt: skip
                seen.add(name)
                left += value
            ax.text(bar.referred, y, f" {bar.referred:g}", va="center", fontsize=6, color=INK)
        for la in withheld:
            ax.text(0, order[la], f" {WITHHELD}", va="center", fontsize=6, color="#505a5f", style="italic")
        if not bars:
            ax.text(0.5, 0.5, "all counts withheld\n(see the LA totals)", transform=ax.transAxes,
                    ha="center", va="center", fontsize=7, color="#505a5f")  # fmt: skip
        ax.set_title(period, fontsize=8, color=INK)
        ax.set_yticks(list(range(len(las))))
        ax.set_yticklabels(list(las) if k % cols == 0 else [], fontsize=7)
        ax.set_ylim(len(las) - 0.5, -0.5)
        ax.set_xlim(0, right * 1.3)
        ax.tick_params(axis="x", labelsize=6)
        ax.spines[["top", "right"]].set_visible(False)
    fig.supxlabel("Children referred in the period (released counts)", fontsize=8)
    handles, labels = [], []
    for ax in axes.flat:
        h, lab = ax.get_legend_handles_labels()
        handles += h
        labels += lab
    fig.legend(handles, labels, fontsize=7, frameon=False, ncol=3, loc="upper center", bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout()
    return _png(fig)
