"""The report's CONSORT structure for stepped-wedge cluster randomised trials (Hemming et al., BMJ 2018).

`CHECKLIST` maps each CONSORT-SW results item the report answers to the id of its section; the sections
built here are the participant flow (a figure from the disclosure-checked flow table), baseline
characteristics by condition and by LA, the primary outcome with absolute and relative effects, the
correlation parameters, the data-quality appendix, and one-line notes for the sections of analyses that
did not run. Every count shown goes through the study's disclosure profile; percentages and risks are
derived from released counts only.
"""

from __future__ import annotations

import base64
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from cscvault.analysis.primary import PrimaryRun
from cscvault.analysis.results import RunSummary
from cscvault.disclosure.check import CheckedTable, ColumnRelation, apply_profile
from cscvault.disclosure.rules import percent
from cscvault.report import plots
from cscvault.report.labels import NOT_RECORDED, level_label, variable_label
from cscvault.study import Study


@dataclass(frozen=True)
class ChecklistItem:
    item: str  # the CONSORT-SW item number
    topic: str
    section: str  # the id of the report element that answers it
    figure: bool = False  # the section holds a figure (an embedded <img>)


CHECKLIST = (
    ChecklistItem("3a", "Trial design: stepped-wedge schematic, clusters and go-live dates", "design", figure=True),
    ChecklistItem("13a", "Participant flow: referred, excluded by reason, analysed, per cluster", "flow", True),
    ChecklistItem("13a", "Participant flow per cluster and period", "flow-period", figure=True),
    ChecklistItem("13b", "Losses and exclusions after inclusion (censored follow-up), with reasons", "flow-table"),
    ChecklistItem("14a", "Periods of recruitment and follow-up, by cluster and period", "rates", figure=True),
    ChecklistItem("15", "Baseline characteristics by condition (control vs intervention periods)", "baseline"),
    ChecklistItem("15", "Baseline characteristics by cluster (local authority)", "baseline-la"),
    ChecklistItem("16", "Numbers analysed in each condition", "baseline"),
    ChecklistItem("17a", "Primary outcome: estimated effect with precision (relative)", "primary"),
    ChecklistItem("17a", "Every fitted estimator of the primary effect (forest plot)", "models", figure=True),
    ChecklistItem("17b", "Primary outcome: absolute and relative effect sizes", "primary-absolute"),
    ChecklistItem("17a", "Intracluster correlation and cluster-period (autocorrelation) estimates", "correlation"),
    ChecklistItem("17a", "Secondary outcomes 1-6 with the same layout", "secondary"),
    ChecklistItem("18", "Sensitivity and alternative treatment definitions", "sensitivity"),
    ChecklistItem("18", "Exposure-time (time-on-treatment) analyses", "exposure-time"),
    ChecklistItem("12a", "Small-cluster and randomisation inference", "randomisation"),
    ChecklistItem("12b", "Missing data and multiple imputation", "missing-data"),
    ChecklistItem("12b", "Difference-in-differences supplement on published statistics", "did"),
    ChecklistItem("-", "Data-quality appendix: deliveries, findings by rule, linkage per LA", "quality"),
)

_TEMPLATE = """<!--part:checklist-->
<section id="checklist">
<h2>CONSORT stepped-wedge checklist</h2>
<p>Where the report answers each results item of the CONSORT extension for stepped-wedge cluster randomised
trials (Hemming et al., BMJ 2018; 363:k1614).</p>
<table class="text"><thead><tr><th scope="col">Item</th><th scope="col">Topic</th><th scope="col">Section</th>
</tr></thead>
<tbody>{% for c in checklist %}<tr><td>{{ c.item }}</td><td>{{ c.topic }}</td>
<td><a href="#{{ c.section }}" data-section="{{ c.section }}">{{ c.section }}</a></td></tr>{% endfor %}</tbody></table>
</section>

<!--part:flow-->
<section id="flow">
<h2>Participant flow</h2>
<img src="{{ flow_png }}" alt="Participant flow by local authority: referred, excluded by reason, censored, analysed">
<p class="note">From the disclosure-checked flow table (below). Where a cell is withheld, the bar shows a
grey hatched band of the remainder that the released counts imply (the reasons pooled), never the withheld
value. Where an LA's analysed count is withheld, the blue band is the sum of its released
children-analysed counts by period (outcome-rates table), so at least that many were analysed.
{% if flow_unplotted %} Not drawn (their totals are withheld): {{ flow_unplotted | join(", ") }}.{% endif %}
</p>
<figure id="flow-period">
<img src="{{ flow_period_png }}"
 alt="Participant flow by local authority and period: referred, excluded by reason, censored, analysed">
<figcaption class="note">The same flow per local authority and period of the child's first referral:
referred, excluded by reason and in the sample from the disclosure-checked LA x period flow table (checked
together with the LA table above, so that no withheld cell can be recovered by subtraction), and the
children analysed from the released outcome-rates counts, the censored being the sample minus them. A
withheld part is the grey hatched band of the remainder the released counts imply; where the analysed count
is withheld the sample is one band; an LA whose referred count is withheld in a period shows "withheld" on
its row (that period is then only in the LA total above).
{% if flow_period_withheld %}Withheld referred counts: {{ flow_period_withheld }} of {{ flow_period_cells }}
LA x period cells.{% endif %}</figcaption>
</figure>
</section>

<!--part:baseline-->
<section id="baseline">
<h2>Baseline characteristics by condition</h2>
<p>Children analysed, by whether their first referral fell in a control or an intervention period.
Counts are released by the disclosure profile (suppressed cells show "suppressed"); percentages are of the
released column total.</p>
{{ baseline_condition }}
</section>

<section id="baseline-la">
<h2>Baseline characteristics by local authority</h2>
{{ baseline_la }}
</section>

<!--part:primary-->
<section id="primary">
<h2>Primary outcome</h2>
<p>Relative effect (odds ratio, {{ head.label }}): <strong>{{ head.or }}</strong> (95% CI {{ head.low }} to
{{ head.high }}; {{ head.p }}).</p>
<div id="primary-absolute">
<table><caption>Absolute and relative effects (risk of care within 18 months)</caption>
<thead><tr><th scope="col">Measure</th><th scope="col">Control periods</th><th scope="col">Intervention periods</th>
<th scope="col">Effect</th></tr></thead><tbody>
<tr><td>Children analysed / looked after (released counts)</td><td>{{ crude.control }}</td>
<td>{{ crude.treated }}</td><td></td></tr>
<tr><td>Crude risk (%), unadjusted for period</td><td>{{ crude.risk0 }}</td><td>{{ crude.risk1 }}</td>
<td>difference {{ crude.diff }} pp</td></tr>
<tr><td>Model-based risk (%): the odds ratio applied to the control-period risk</td><td>{{ crude.risk0 }}</td>
<td>{{ absolute.risk1 }} ({{ absolute.ci }})</td>
<td>difference {{ absolute.diff }} pp ({{ absolute.diff_ci }})</td></tr>
<tr><td>Odds ratio (adjusted, relative effect)</td><td></td><td></td>
<td>{{ head.or }} ({{ head.low }} to {{ head.high }})</td></tr>
</tbody></table>
<p class="note">The crude risks mix calendar time with condition (later periods are mostly intervention);
the model-based risk difference holds the period effects and covariates fixed through the odds ratio.</p>
</div>
</section>

<section id="correlation">
<h2>Intracluster and cluster-period correlation</h2>
<p>ICC (latent scale) from the primary model's LA random intercept: <strong>{{ icc }}</strong>.
{% if structures %}From the model with an LA x period random effect as well: ICC {{ structures.icc }},
cluster autocorrelation (correlation of two periods of one LA) {{ structures.cac }}.{% else %}
Cluster-period correlation: not estimated in this run (the cluster-period model runs with
<code>--plan all</code>).{% endif %}</p>
</section>

<!--part:later-->
{% for s in not_run %}<section id="{{ s.id }}"><h2>{{ s.title }}</h2><p class="note">Not run in this analysis:
{{ s.why }}</p></section>
{% endfor %}

<section id="did">
<h2>Difference-in-differences supplement</h2>
<p>The supplementary difference-in-differences analysis on published DfE statistics is a separate report,
produced by <code>cscvault analyse --plan did</code> from published LA-level tables (no child-level data);
it is not part of this run.</p>
</section>

<section id="quality">
<h2>Appendix: data quality</h2>
{% if quality %}
<table><caption>Deliveries by local authority and return
({{ quality.deliveries_suppressed }} cell(s) withheld)</caption>
<thead><tr><th scope="col">Local authority</th><th scope="col">Return</th><th scope="col">Year</th>
<th scope="col">Files</th><th scope="col">Rows read</th><th scope="col">Rows loaded</th></tr></thead>
<tbody>{% for r in quality.deliveries %}<tr><td>{{ r.la }}</td><td>{{ r.return }}</td><td>{{ r.collection_year }}</td>
<td>{{ r.files }}</td><td>{{ n(r.rows_read) }}</td><td>{{ n(r.rows_loaded) }}</td></tr>{% endfor %}</tbody></table>
<table><caption>Validation findings by rule ({{ quality.findings_suppressed }} cell(s) withheld)</caption>
<thead><tr><th scope="col">Rule</th><th scope="col">Findings</th></tr></thead>
<tbody>{% for r in quality.findings %}<tr><td>{{ r.rule }}</td><td>{{ n(r.count) }}</td></tr>
{% else %}<tr><td colspan="2">No findings.</td></tr>{% endfor %}</tbody></table>
<table><caption>Linkage per local authority: children in each table who also have a referral
({{ quality.linkage_suppressed }} cell(s) withheld; rates from released counts)</caption>
<thead><tr><th scope="col">Local authority</th><th scope="col">Table</th><th scope="col">Children</th>
<th scope="col">Linked to a referral</th><th scope="col">Linked (%)</th></tr></thead>
<tbody>{% for r in quality.linkage %}<tr><td>{{ r.la }}</td><td>{{ r.table }}</td><td>{{ n(r.children) }}</td>
<td>{{ n(r.linked) }}</td><td>{{ n(r.rate) }}</td></tr>{% endfor %}</tbody></table>
{% else %}<p class="note">Not available in this run: the data-quality summary was not supplied.</p>{% endif %}
</section>
"""

FULL_PLAN_SECTIONS = (
    ("secondary", "Secondary outcomes"),
    ("sensitivity", "Sensitivity and alternative treatment definitions"),
    ("exposure-time", "Exposure time"),
    ("randomisation", "Randomisation inference"),
    ("missing-data", "Missing data and multiple imputation"),
)


def _n(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "suppressed"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:g}"
    return str(int(value))


def checked_baseline(run: PrimaryRun, study: Study, by: str) -> list[tuple[str, CheckedTable]]:
    """One checked table per categorical covariate of the primary model: levels x (`by` groups), with a
    Total row and column so that secondary suppression protects each column's sum."""
    plan = study.analysis_plan
    frame = run.sample.analysed
    names = [c for c in plan.primary.covariates if c not in plan.numeric_covariates(plan.primary.covariates)]
    if by == "condition":
        groups = frame["treatment"].map({0: "Control periods", 1: "Intervention periods"})
    else:
        groups = frame["la"]
    out = []
    for name in names:
        if name not in frame.columns:
            continue
        levels = frame[name].astype(object).where(frame[name].notna(), NOT_RECORDED).astype(str)
        table = pd.crosstab(levels, groups).reset_index()
        table.columns = ["level", *[str(c) for c in table.columns[1:]]]
        table = table.iloc[_level_order(table["level"])].reset_index(drop=True)
        counts = [c for c in table.columns if c != "level"]
        checked = apply_profile(
            table, study.disclosure_profile, counts, label_cols=["level"], margins=True, name=f"baseline_{name}"
        )
        out.append((name, checked))
    return out


def _level_order(levels: pd.Series) -> list[int]:
    """Numeric levels in numeric order (age 2 before 10), then the others alphabetically, "not recorded" last."""

    def key(i: int) -> tuple[int, float, str]:
        text = str(levels.iloc[i])
        if text == NOT_RECORDED:
            return (2, 0.0, text)
        number = _num(text.rstrip("+"))
        return (0, number, text) if number is not None else (1, 0.0, text)

    return sorted(range(len(levels)), key=key)


def _baseline_html(tables: list[tuple[str, CheckedTable]], study: Study) -> str:
    """The checked per-covariate tables as one HTML table: count (percent of the released column total)."""
    if not tables:
        return '<p class="note">No categorical covariates in the primary model.</p>'
    columns = [c for c in tables[0][1].released.columns if c != "level"]
    env = Environment(autoescape=True, undefined=StrictUndefined)
    rows: list[dict[str, Any]] = []
    for name, checked in tables:
        rel = checked.released
        total = rel[rel["level"] == "Total"].iloc[0]
        cells = []
        for _, r in rel.iterrows():
            values = []
            for c in columns:
                v = r.get(c)
                pct = percent(_num(v), _num(total.get(c)), checked.profile.percent_decimals)
                if pct is None or r["level"] == "Total":
                    values.append(_n(v))
                else:
                    values.append(f"{_n(v)} ({pct:.{checked.profile.percent_decimals}f}%)")
            lev = "Total" if r["level"] == "Total" else level_label(name, str(r["level"]), study.data_dictionary)
            cells.append({"level": lev, "values": values})
        rows.append({"label": variable_label(name, study.data_dictionary), "cells": cells,
                     "suppressed": checked.suppressed_count})  # fmt: skip
    return env.from_string(
        '<table><thead><tr><th scope="col">Characteristic</th>{% for c in columns %}<th scope="col">{{ c }}</th>'
        "{% endfor %}</tr></thead><tbody>{% for g in rows %}"
        '<tr><th scope="rowgroup" colspan="{{ columns|length + 1 }}">'
        "{{ g.label }}{% if g.suppressed %} ({{ g.suppressed }} cell(s) withheld){% endif %}</th></tr>"
        "{% for c in g.cells %}<tr><td>&nbsp;&nbsp;{{ c.level }}</td>{% for v in c['values'] %}<td>{{ v }}</td>"
        "{% endfor %}</tr>{% endfor %}{% endfor %}</tbody></table>"
    ).render(columns=columns, rows=rows)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def released_analysed(rates: CheckedTable) -> dict[str, float]:
    """Per LA, the sum of its released children-analysed cells by period (withheld cells left out): a
    figure anyone can add up from the released rates table, so drawing it discloses nothing new."""
    out: dict[str, float] = {}
    for _, r in rates.released.iterrows():
        out[str(r["la"])] = out.get(str(r["la"]), 0.0) + (_num(r["children"]) or 0.0)
    return out


def flow_bars(
    flow: CheckedTable, analysed_fallback: Mapping[str, float] | None = None
) -> tuple[list[plots.FlowBar], list[str]]:
    """Per LA, the released flow as stacked segments; a withheld segment becomes a pooled band of the
    remainder the released counts imply (e.g. excluded = referred - in sample, reasons pooled). When the
    analysed count itself is withheld, `analysed_fallback` (the LA's released period counts, added up) is
    drawn instead, labelled as such."""
    bars, unplotted = [], []
    fallback = analysed_fallback or {}
    for _, r in flow.released.iterrows():
        bar = _flow_bar(r, str(r["la"]), fallback.get(str(r["la"])))
        if bar is None:
            unplotted.append(str(r["la"]))
        else:
            bars.append(bar)
    return bars, unplotted


@dataclass(frozen=True)
class FlowPanel:
    """One period of the participant flow: a bar per LA whose referred count is released, and the LAs
    whose referred count is withheld (shown as "withheld" on their row, never drawn)."""

    period: str
    bars: list[plots.FlowBar]
    withheld: list[str]


def flow_period_panels(flow_period: CheckedTable, rates: CheckedTable) -> list[FlowPanel]:
    """The released LA x period flow as one panel per period (periods in table order). Each bar: referred
    split into exclusions by reason (pooled when one is withheld), then the sample: the children analysed
    from the released outcome-rates table and the censored as the sample minus them, or the sample as one
    band when its analysed count is withheld."""
    analysed = {(str(r["la"]), str(r["period"])): _num(r["children"]) for _, r in rates.released.iterrows()}
    panels: dict[str, FlowPanel] = {}
    for _, r in flow_period.released.iterrows():
        la, period = str(r["la"]), str(r["period"])
        panel = panels.setdefault(period, FlowPanel(period, [], []))
        bar = _period_bar(r, la, analysed.get((la, period)))
        if bar is None:
            panel.withheld.append(la)
        else:
            panel.bars.append(bar)
    return list(panels.values())


def _period_bar(r: pd.Series, label: str, analysed: float | None) -> plots.FlowBar | None:
    referred, in_sample = _num(r["referred_in_window"]), _num(r["in_sample"])
    age, care = _num(r["excluded_age"]), _num(r["excluded_care_before_referral"])
    if referred is None:
        return None
    segments: list[tuple[str, float]] = []
    if age is not None and care is not None:
        segments += [("excluded: age", age), ("excluded: in care before referral", care)]
    if in_sample is not None:
        if age is None or care is None:
            segments.append((plots.POOLED, referred - in_sample))
        if analysed is not None:
            segments += [(plots.CENSORED_DERIVED, in_sample - analysed), ("analysed", analysed)]
        else:
            segments.append((plots.IN_SAMPLE, in_sample))
    else:
        tail = [("analysed", analysed)] if analysed is not None else []
        segments.append((plots.POOLED, referred - sum(v for _, v in segments) - sum(v for _, v in tail)))
        segments += tail
    # Rounded counts can leave a remainder a little below zero: drawn as nothing.
    return plots.FlowBar(label, referred, [(k, max(v, 0.0)) for k, v in segments if v > 0 or k == "analysed"])


def _flow_bar(r: pd.Series, label: str, from_periods: float | None) -> plots.FlowBar | None:
    referred, in_sample = _num(r["referred_in_window"]), _num(r["in_sample"])
    age, care = _num(r["excluded_age"]), _num(r["excluded_care_before_referral"])
    censored, analysed = _num(r["censored"]), _num(r["analysed"])
    if referred is None:
        return None
    segments: list[tuple[str, float]] = []
    if age is not None and care is not None:
        segments += [("excluded: age", age), ("excluded: in care before referral", care)]
    elif in_sample is not None:
        segments.append((plots.POOLED, referred - in_sample))
    if in_sample is None:
        if analysed is None and from_periods:
            segments.append((plots.POOLED, referred - sum(v for _, v in segments) - from_periods))
            segments.append((plots.ANALYSED_BY_PERIOD, from_periods))
        else:
            segments.append((plots.POOLED, referred - sum(v for _, v in segments)))
    elif censored is not None and analysed is not None:
        segments += [("censored", censored), ("analysed", analysed)]
    else:
        inside: list[tuple[str, float]] = []
        if censored is not None:
            inside.append(("censored", censored))
        if analysed is not None:
            inside.append(("analysed", analysed))
        elif from_periods:
            inside.append((plots.ANALYSED_BY_PERIOD, from_periods))
        segments += [(plots.POOLED, in_sample - sum(v for _, v in inside)), *inside]
    kept = [(k, max(v, 0.0)) for k, v in segments if v > 0 or k != plots.POOLED]
    return plots.FlowBar(label, referred, kept)


def crude_risks(rates: CheckedTable, run: PrimaryRun, study: Study) -> dict[str, Any]:
    """Children analysed and events by condition, as their own disclosure-checked table. A condition's
    numbers are withheld when exactly one of its LA x period cells is withheld in the rates table, since the
    condition total minus the released cells would give that cell back (differencing)."""
    frame = run.sample.analysed
    grouped = frame.groupby("treatment").agg(children=("cla_18m", "size"), events=("cla_18m", "sum"))
    table = pd.DataFrame(
        {"condition": ["control", "intervention"],
         "children": [int(grouped["children"].get(t, 0)) for t in (0, 1)],
         "events": [int(grouped["events"].get(t, 0)) for t in (0, 1)]}
    )  # fmt: skip
    checked = apply_profile(
        table, study.disclosure_profile, ["children", "events"], label_cols=["condition"], name="by_condition",
        relations=[ColumnRelation("children", ("events",), exact=False)],
    )  # fmt: skip
    treated = frame.groupby(["la", "period"])["treatment"].max()
    lone = {0: 0, 1: 0}
    for _, r in rates.released.iterrows():
        t = int(treated.get((r["la"], r["period"]), 0))
        lone[t] += int(_num(r["events"]) is None) + int(_num(r["children"]) is None)
    released = checked.released
    values: dict[int, tuple[float | None, float | None]] = {}
    for t in (0, 1):
        n, e = _num(released.loc[t, "children"]), _num(released.loc[t, "events"])
        values[t] = (None, None) if lone[t] == 1 else (n, e)
    digits = checked.profile.percent_decimals
    r0, r1 = (percent(values[t][1], values[t][0], digits) for t in (0, 1))
    return {
        "control": f"{_n(values[0][0])} / {_n(values[0][1])}",
        "treated": f"{_n(values[1][0])} / {_n(values[1][1])}",
        "risk0": "–" if r0 is None else f"{r0:.{digits}f}",
        "risk1": "–" if r1 is None else f"{r1:.{digits}f}",
        "diff": "–" if r0 is None or r1 is None else f"{r1 - r0:+.{digits}f}",
        "p0": None if r0 is None else r0 / 100,
    }


def _apply_or(p0: float, odds_ratio: float) -> float:
    odds = odds_ratio * p0 / (1 - p0)
    return odds / (1 + odds)


def absolute_effect(p0: float | None, odds_ratio: float, low: float, high: float) -> dict[str, str]:
    """The odds ratio (and its CI) applied to the control-period risk: risk and risk difference in pp."""
    if p0 is None or not 0 < p0 < 1 or not all(math.isfinite(v) for v in (odds_ratio, low, high)):
        return {"risk1": "–", "ci": "not estimable", "diff": "–", "diff_ci": "not estimable"}
    r, lo, hi = (100 * _apply_or(p0, v) for v in (odds_ratio, low, high))
    base = 100 * p0
    return {
        "risk1": f"{r:.1f}",
        "ci": f"{lo:.1f} to {hi:.1f}",
        "diff": f"{r - base:+.1f}",
        "diff_ci": f"{lo - base:+.1f} to {hi - base:+.1f}",
    }


def checked_quality(quality: Mapping[str, Any], study: Study) -> dict[str, Any]:
    """The quality summary's counts through the disclosure profile: rows by delivery group, findings by
    rule, and linkage per LA (rates from released counts)."""
    profile = study.disclosure_profile
    summary = list(quality.get("summary", []))
    deliveries = pd.DataFrame(
        [{"la": s["la"], "return": s["return"], "collection_year": str(s["collection_year"] or ""),
          "files": s["files"], "rows_read": s["rows_read"], "rows_loaded": s["rows_loaded"]} for s in summary],
        columns=["la", "return", "collection_year", "files", "rows_read", "rows_loaded"],
    )  # fmt: skip
    # Files are a count of deliveries, not of people: a label, not a disclosure cell.
    d_checked = apply_profile(
        deliveries, profile, ["rows_read", "rows_loaded"], label_cols=["la", "return", "collection_year", "files"],
        name="quality_deliveries",
    )  # fmt: skip
    rules: Counter[str] = Counter()
    for d in quality.get("deliveries", []):
        rules.update({str(k): int(v) for k, v in dict(d.get("findings") or {}).items()})
    findings = pd.DataFrame(sorted(rules.items()), columns=["rule", "count"])
    f_checked = apply_profile(findings, profile, ["count"], label_cols=["rule"], name="quality_findings")
    links = []
    for row in quality.get("linkage", []):
        for table, entry in row.items():
            if isinstance(entry, dict):
                links.append({"la": row["la"], "table": table, "children": entry["children"],
                              "linked": entry["linked_to_referral"]})  # fmt: skip
    linkage = pd.DataFrame(links, columns=["la", "table", "children", "linked"])
    l_checked = apply_profile(
        linkage, profile, ["children", "linked"], label_cols=["la", "table"], name="quality_linkage",
        relations=[_linked_relation()],
    )  # fmt: skip
    l_released = l_checked.released.copy()
    l_released["rate"] = l_checked.percentages("linked", "children")
    return {
        "deliveries": d_checked.released.to_dict("records"),
        "deliveries_suppressed": d_checked.suppressed_count,
        "findings": f_checked.released.to_dict("records"),
        "findings_suppressed": f_checked.suppressed_count,
        "linkage": l_released.to_dict("records"),
        "linkage_suppressed": l_checked.suppressed_count,
    }


def _linked_relation() -> ColumnRelation:
    return ColumnRelation("children", ("linked",), exact=False)


def render_consort(
    run: PrimaryRun,
    study: Study,
    flow: CheckedTable,
    rates: CheckedTable,
    headline: Mapping[str, Any],
    summary: RunSummary | None,
    quality: Mapping[str, Any] | None,
    flow_period: CheckedTable,
) -> tuple[dict[str, Markup], bytes, bytes]:
    """The CONSORT-SW sections as HTML fragments (escaped by their autoescaping template) by where the
    report places them (checklist, flow, baseline, primary, later), and the participant-flow figures (PNG):
    by LA, and by LA and period."""
    bars, unplotted = flow_bars(flow, released_analysed(rates))
    flow_png = plots.participant_flow(bars)
    panels = flow_period_panels(flow_period, rates)
    flow_period_png = plots.participant_flow_by_period(
        [str(la) for la in flow.released["la"]], [(p.period, p.bars, p.withheld) for p in panels]
    )
    head_fit = run.headline.fit
    crude = crude_risks(rates, run, study)
    eff = head_fit.effect
    small = head_fit.small_sample
    low, high = (small.ci_low, small.ci_high) if small is not None else (eff.ci_low, eff.ci_high)
    absolute = absolute_effect(crude["p0"], eff.odds_ratio, low, high)
    structures = None
    if summary is not None and summary.structures:
        st = summary.structures
        structures = {"icc": _fmt3(st.get("icc")), "cac": _fmt3(st.get("cluster_autocorrelation"))}
    not_run = []
    if summary is None:
        not_run = [{"id": i, "title": t, "why": "they run with --plan all; this run was --plan primary."}
                   for i, t in FULL_PLAN_SECTIONS]  # fmt: skip
    else:
        present = {
            "secondary": bool(summary.secondary),
            "sensitivity": bool(summary.sensitivity),
            "exposure-time": bool(summary.exposure_time),
            "randomisation": bool(summary.small_cluster),
            "missing-data": True,
        }
        not_run = [{"id": i, "title": t, "why": "the plan did not run this analysis."}
                   for i, t in FULL_PLAN_SECTIONS if not present[i]]  # fmt: skip
    html = (
        Environment(autoescape=True, undefined=StrictUndefined)
        .from_string(_TEMPLATE)
        .render(
            checklist=CHECKLIST,
            flow_png="data:image/png;base64," + base64.b64encode(flow_png).decode(),
            flow_unplotted=unplotted,
            flow_period_png="data:image/png;base64," + base64.b64encode(flow_period_png).decode(),
            flow_period_withheld=sum(len(p.withheld) for p in panels),
            flow_period_cells=sum(len(p.withheld) + len(p.bars) for p in panels),
            baseline_condition=_markup(_baseline_html(checked_baseline(run, study, "condition"), study)),
            baseline_la=_markup(_baseline_html(checked_baseline(run, study, "la"), study)),
            head=headline,
            crude=crude,
            absolute=absolute,
            icc=_fmt3(head_fit.icc),
            structures=structures,
            not_run=not_run,
            quality=None if quality is None else checked_quality(quality, study),
            n=_n,
        )
    )
    parts = re.split(r"<!--part:(\w+)-->", html)[1:]
    fragments = {name: _markup(text) for name, text in zip(parts[::2], parts[1::2], strict=True)}
    return fragments, flow_png, flow_period_png


def _fmt3(value: Any) -> str:
    v = _num(value)
    return "–" if v is None or not math.isfinite(v) else f"{v:.3f}"


def _markup(html: str) -> Markup:
    # Rendered by an autoescaping template above: every value in it is escaped.
    return Markup(html)  # noqa: S704


def section_ids(items: Sequence[ChecklistItem] = CHECKLIST) -> list[str]:
    return sorted({c.section for c in items})
