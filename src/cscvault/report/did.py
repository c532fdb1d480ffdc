"""The report of the supplementary DiD on published statistics: a self-contained HTML document in the main
report's style (its style sheet, a headline sentence, numbers through `report.numbers`), plots embedded as
PNG data URIs. Published LA-level statistics only: nothing here is child-level."""

from __future__ import annotations

import base64
import io
from html import escape
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from cscvault.analysis.did.diagnostics import pre_stat
from cscvault.analysis.did.loader import ATTRIBUTION
from cscvault.report.numbers import fmt_number, fmt_p, p_clause
from cscvault.report.render import report_css

if TYPE_CHECKING:
    from cscvault.analysis.did.plan import DidPlanConfig, OutcomeResults
    from cscvault.analysis.did.pool import Pool

_TREATED = "#1b6ca8"
_SYNTH = "#d1495b"
_POOL = "#7a7a7a"


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="" src="data:image/png;base64,{data}">'


def _f(x: float | None, digits: int = 2) -> str:
    return fmt_number(None if x is None else float(x), digits)


def _p(x: float | None) -> str:
    return escape(fmt_p(None if x is None else float(x)))


def event_study_plot(r: OutcomeResults) -> str:
    dyn = r.aggregates["nevertreated"]["dynamic"]
    es = [p.event_time for p in dyn.parts if p.event_time is not None]
    est = np.array([p.estimate for p in dyn.parts])
    fig = Figure(figsize=(7.0, 3.4))
    ax = fig.subplots()
    if r.space is not None:
        bands = np.array([r.space.band(e, p.estimate) for e, p in zip(es, dyn.parts, strict=True)])
        ax.fill_between(
            es,
            bands[:, 0],
            bands[:, 1],
            color=_POOL,
            alpha=0.2,
            step=None,
            label="95% placebo-in-space interval",
        )
    lo = np.array([p.ci_low for p in dyn.parts])
    hi = np.array([p.ci_high for p in dyn.parts])
    ax.errorbar(
        es,
        est,
        yerr=[est - lo, hi - est],
        fmt="o",
        color=_TREATED,
        capsize=3,
        label="ATT(e), 95% bootstrap band",
    )
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(-0.5, color=_POOL, lw=0.8, ls="--")
    ax.set_xlabel("years since go-live (0 = DfE year ending 31 March that contains go-live)")
    ax.set_ylabel(r.outcome.unit)
    ax.set_title(f"Event study: {r.outcome.label}", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    return _png(fig)


def trajectories_plot(r: OutcomeResults) -> str:
    n = len(r.synthetic)
    fig = Figure(figsize=(2.6 * n, 2.6))
    axes = fig.subplots(1, n, sharey=False, squeeze=False)[0]
    years = list(r.panel.years)
    pool_mean = [r.comparison_mean.get(y, np.nan) for y in years]
    for ax, sc in zip(axes, r.synthetic, strict=True):
        ax.plot(years, sc.treated, color=_TREATED, lw=1.8, label="study LA")
        ax.plot(years, sc.synthetic, color=_SYNTH, lw=1.2, ls="--", label="synthetic control")
        ax.plot(years, pool_mean, color=_POOL, lw=1.0, ls=":", label="comparison mean")
        ax.axvline(sc.first_treated - 0.5, color="black", lw=0.7)
        ax.set_title(sc.unit, fontsize=8)
        ax.tick_params(labelsize=6)
        ax.set_xticks(years[::3])
    axes[0].set_ylabel(r.outcome.unit, fontsize=7)
    axes[0].legend(fontsize=6, loc="best")
    fig.suptitle(r.outcome.label, fontsize=9, y=1.05)
    return _png(fig)


def _att_table(results: list[OutcomeResults], config: DidPlanConfig) -> str:
    head = (
        "<tr><th>Outcome</th><th>Comparison</th><th>ATT (simple)</th><th>95% CI, bootstrap</th>"
        "<th>95% interval, placebo in space</th><th>p, permutation</th><th>ATT (event study)</th>"
        "<th>ATT (group)</th><th>ATT (calendar)</th></tr>"
    )
    body = []
    for r in results:
        for control, aggs in r.aggregates.items():
            s = aggs["simple"].overall
            if control == "nevertreated" and r.space is not None:
                lo, hi = r.space.interval(s.estimate, config.alpha)
                perm, p = f"{_f(lo)} to {_f(hi)}", _p(r.space.p_value(s.estimate))
            else:
                perm, p = "–", "–"
            body.append(
                f"<tr><td>{escape(r.outcome.label)}</td><td>{escape(control)}</td><td>{_f(s.estimate)}</td>"
                f"<td>{_f(s.ci_low)} to {_f(s.ci_high)}</td><td>{perm}</td><td>{p}</td>"
                f"<td>{_f(aggs['dynamic'].overall.estimate)}</td><td>{_f(aggs['group'].overall.estimate)}</td>"
                f"<td>{_f(aggs['calendar'].overall.estimate)}</td></tr>"
            )
        if r.full_year is not None:
            s = r.full_year.overall
            if r.full_year_space is not None:
                lo, hi = r.full_year_space.interval(s.estimate, config.alpha)
                perm, p = f"{_f(lo)} to {_f(hi)}", _p(r.full_year_space.p_value(s.estimate))
            else:
                perm, p = "–", "–"
            body.append(
                f"<tr><td>{escape(r.outcome.label)}</td><td>nevertreated; treated from the first full year "
                f"after go-live</td><td>{_f(s.estimate)}</td><td>{_f(s.ci_low)} to {_f(s.ci_high)}</td>"
                f"<td>{perm}</td><td>{p}</td><td>–</td><td>–</td><td>–</td></tr>"
            )
    return f"<table class='did-att'>{head}{''.join(body)}</table>"


def _checks_table(results: list[OutcomeResults], config: DidPlanConfig) -> str:
    head = (
        "<tr><th>Outcome</th><th>Pre-trend p (permutation)</th><th>Pre-trend p (analytic Wald)</th>"
        "<th>Placebo in time</th><th>ATT</th><th>95% CI, bootstrap</th><th>95% interval, permutation</th>"
        "<th>p, permutation</th></tr>"
    )
    body = []
    for r in results:
        dyn = r.aggregates["nevertreated"]["dynamic"]
        perm_pre = _p(r.space.pretrend_p(pre_stat(dyn))) if r.space is not None else "–"
        wald = _p(r.did["nevertreated"].pretest_p)
        for i, pt in enumerate(r.placebos_time):
            e = pt.aggregates["simple"].overall
            if pt.space is not None:
                lo, hi = pt.space.interval(e.estimate, config.alpha)
                perm, p = f"{_f(lo)} to {_f(hi)}", _p(pt.space.p_value(e.estimate))
            else:
                perm, p = "–", "–"
            label = f"go-live −{pt.shift} y ({', '.join(map(str, pt.fake_groups))}), data ≤ {pt.last_year}"
            span = f"<td rowspan='{len(r.placebos_time)}'>"
            first = f"{span}{escape(r.outcome.label)}</td>{span}{perm_pre}</td>{span}{wald}</td>" if i == 0 else ""
            body.append(
                f"<tr>{first}<td>{escape(label)}</td><td>{_f(e.estimate)}</td>"
                f"<td>{_f(e.ci_low)} to {_f(e.ci_high)}</td><td>{perm}</td><td>{p}</td></tr>"
            )
    return f"<table class='did-checks'>{head}{''.join(body)}</table>"


def _synth_table(results: list[OutcomeResults]) -> str:
    head = (
        "<tr><th>Outcome</th><th>LA</th><th>Mean post-period gap</th><th>Pre-period RMSPE</th>"
        "<th>p (rank of post/pre RMSPE ratio)</th><th>Largest donor weights</th></tr>"
    )
    body = []
    for r in results:
        for sc in r.synthetic:
            top = sorted(sc.weights.items(), key=lambda kv: -kv[1])[:3]
            names = r.panel.data.drop_duplicates("la_code").set_index("la_code")["la_name"]
            donors = ", ".join(f"{escape(str(names.get(k, k)))} {v:.2f}" for k, v in top)
            body.append(
                f"<tr><td>{escape(r.outcome.label)}</td><td>{escape(sc.unit)}</td><td>{_f(sc.effect)}</td>"
                f"<td>{_f(sc.pre_rmspe)}</td><td>{_p(sc.p_value)}</td><td>{donors}</td></tr>"
            )
    return f"<table class='did-synth'>{head}{''.join(body)}</table>"


def headline(r: OutcomeResults, config: DidPlanConfig) -> str:
    """One outcome's headline sentence (plain text): the simple ATT against never-treated authorities with
    the placebo-in-space interval and permutation p (the inference to read, see the caveats), then the
    bootstrap interval as the secondary line."""
    s = r.aggregates["nevertreated"]["simple"].overall
    level = f"{100 * (1 - config.alpha):g}%"
    label = r.outcome.label[:1].lower() + r.outcome.label[1:]
    text = f"Average effect on {label} (ATT, never-treated comparison): {_f(s.estimate)} {r.outcome.unit}"
    if r.space is not None:
        lo, hi = r.space.interval(s.estimate, config.alpha)
        p = p_clause(r.space.p_value(s.estimate))
        text += f" ({level} placebo-in-space interval {_f(lo)} to {_f(hi)}; {p}, permutation)"
    return text + f"; {level} bootstrap CI {_f(s.ci_low)} to {_f(s.ci_high)}."


def render_document(results: list[OutcomeResults], pool: Pool, config: DidPlanConfig) -> str:
    """The supplementary DiD as a standalone report: the main report's style sheet, a headline box with
    the first outcome's estimate (the others below it), then the section `render` builds."""
    title = "Supplementary analysis: difference-in-differences on published DfE statistics"
    lines = [escape(headline(r, config)) for r in results]
    head = f"<p class='headline'>{lines[0]}</p>" if lines else "<p class='note'>No outcome was estimated.</p>"
    more = "".join(f"<li>{line}</li>" for line in lines[1:])
    return (
        "<!doctype html>\n<html lang='en-GB'>\n<head>\n<meta charset='utf-8'>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>{escape(title)}</title>\n<style>\n{report_css()}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{escape(title)}</h1>\n"
        "<p class='stamp'>Published LA-level statistics only (no child-level data). "
        f"Bootstrap {config.bootstrap_iterations} draws, {config.placebo_draws} placebo draws, "
        f"seed {config.seed}.</p>\n"
        f"<div id='did-headline'>{head}{f'<ul>{more}</ul>' if more else ''}</div>\n"
        f"{render(results, pool, config)}</main>\n</body>\n</html>\n"
    )


def render(results: list[OutcomeResults], pool: Pool, config: DidPlanConfig) -> str:
    treated = "; ".join(
        f"{escape(t.name)} (go-live {t.go_live.isoformat()}, treated from year ending March {t.first_year})"
        for t in pool.treated
    )
    excluded = ", ".join(escape(e.name) for e in pool.excluded if "treated" not in e.reason)
    parts = [
        "<section id='did-supplementary'>",
        "<h2>Supplementary analysis: staggered difference-in-differences on published DfE statistics</h2>",
        "<p>Local-authority-by-year panel of published statistics (years ending 31 March). "
        f"Treated: {treated}. Comparison pool: {len(pool.comparison)} other English authorities, excluding "
        f"{excluded}; authorities without a full run of years for an outcome are left out of that outcome. "
        "Estimator: Callaway and Sant'Anna group-time effects without covariates (varying base period), "
        f"aggregated as in the R <code>did</code> package; cluster (authority) multiplier bootstrap, "
        f"{config.bootstrap_iterations} draws, seed {config.seed}. "
        f"Permutation inference: the real go-live years given to {config.placebo_draws} random sets of "
        "five comparison authorities.</p>",
        "<h3>Average effects</h3>",
        _att_table(results, config),
        "<h3>Pre-trends and placebo in time</h3>",
        _checks_table(results, config),
        "<h3>Event studies</h3>",
    ]
    parts += [event_study_plot(r) for r in results]
    parts.append("<h3>Each authority against its synthetic control and the comparison mean</h3>")
    parts += [trajectories_plot(r) for r in results]
    parts.append(_synth_table(results))
    parts += [
        "<h3>Caveats</h3><ul>",
        "<li>Five treated authorities in three go-live years (two, two and one): influence-function and "
        "bootstrap intervals reflect the comparison authorities' variation but almost none of the treated "
        "authorities' own year-to-year variation, so they are too narrow and the analytic pre-trend Wald "
        "test rejects almost always. The placebo-in-space intervals and permutation p-values carry that "
        "variation and are the ones to read.</li>",
        "<li>Annual data: treatment starts in the DfE year (to 31 March) containing go-live, so a year "
        "counted as treated may hold only a few treated months (Lancashire: two), diluting year-0 effects. "
        "Stock measures (looked after, on a plan at 31 March) respond slowly.</li>",
        "<li>No anticipation is assumed: preparation for go-live (recruiting adult specialists, training) "
        "and the trial's baseline period from March 2020 may have moved outcomes in the year before go-live, "
        "which the event study would show as pre-period effects at e = -1.</li>",
        "<li>Synthetic controls use only the pre-period outcome path; with far more comparison authorities "
        "than pre-period years a near-perfect pre-period fit is easy (see a pre-period RMSPE near 0) and "
        "says little about the fit after go-live. Their placebo p-values rank post/pre gap ratios.</li>",
        "<li>Go-live years 2021-2023 follow the COVID-19 pandemic, which moved all these measures; the "
        "comparison authorities absorb common shocks only if they were hit alike.</li>",
        "<li>Other authorities may have adopted Family Safeguarding or similar whole-system models after "
        "the six known early adopters; they remain in the pool unless listed under "
        "<code>[did] exclude</code> in the study file, which biases effects towards zero.</li>",
        "<li>Rates are derived from published counts and ONS populations; re-referral percentages and child "
        "protection counts are as published and may be revised. Large one-year moves in single authorities "
        "(e.g. child protection counts) should be checked against the publication before being read as "
        "effects.</li>",
        "<li>A placebo in time that is not consistent with zero means the comparison authorities did not "
        "track the study authorities before the trial, and the real-data estimate for that outcome is not "
        "credible as an effect of Family Safeguarding.</li>",
        "</ul>",
        f"<p class='attribution'>{escape(ATTRIBUTION)}</p>",
        "</section>",
    ]
    return "\n".join(parts) + "\n"
