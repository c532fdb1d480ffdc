"""The report section for the whole analysis plan (an HTML fragment to place after the primary analysis).

Headline multiple-imputation result, average marginal effect, small-cluster inference (FE-CR2, GEE
variants, randomisation with the design's minimum attainable p), correlation structure, exposure-time
effects with their heterogeneity test, secondary outcomes and sensitivity analyses, and a forest plot of
every odds-ratio analysis. Counts are rounded to the disclosure profile's base, as the primary report's model rows are.
"""

from __future__ import annotations

import base64
import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, StrictUndefined

from cscvault.analysis.whole_plan import FullRun
from cscvault.disclosure.profiles import get_profile
from cscvault.report import plots
from cscvault.report.labels import term_label
from cscvault.report.numbers import RATIO_DIGITS, fmt_ci, fmt_number, fmt_p, p_clause
from cscvault.study import Study

GEE_LABELS = {
    "sandwich": "GEE, Liang-Zeger sandwich",
    "kc": "GEE, Kauermann-Carroll",
    "md": "GEE, Mancl-DeRouen",
    "fg": "GEE, Fay-Graubard",
}
FOREST_LIMITS = (0.01, 100.0)  # CI bounds outside this range are drawn at the edge (an unbounded interval)

_TEMPLATE = """
<section id="full-plan">
<h2>Full analysis plan</h2>
<div id="missing-data">
<h3>Headline: {{ head.label }}</h3>
<p>Odds ratio of care within 18 months, treated vs control: <strong>{{ f(head.odds_ratio) }}</strong>
(95% CI {{ f(head.ci_low) }} to {{ f(head.ci_high) }}; {{ pc(head.p_value) }}{% if head.df %};
Barnard-Rubin df {{ f(head.df, 1) }}, fraction of missing information {{ f(head.fmi) }}{% endif %}),
{{ head.n }} children, {{ head.n_events }} looked after.</p>
<p>Average marginal effect (risk difference, treated minus control): <strong>{{ pct(ame.estimate) }}</strong>
(95% CI {{ pct(ame.ci_low) }} to {{ pct(ame.ci_high) }}).</p>
{% if design.get("odds_ratio") %}<p>With this standard error the test detects, with 80% power at the 5% level,
an odds ratio of {{ f(design.odds_ratio) }} or further from 1 (minimum detectable effect). The type I error of this test
under the null, by simulation of the design: <code>cscvault design null-sim</code>.</p>{% endif %}
{% if imputation %}
<table><thead><tr><th>Imputations</th><th>Odds ratio</th><th>95% CI</th><th>p</th><th>df</th><th>FMI</th>
<th>Risk difference</th><th>95% CI</th></tr></thead><tbody>
{% for r in imputation %}<tr><td>m = {{ r.m }} (seed {{ r.seed }})</td><td>{{ f(r.treatment.odds_ratio) }}</td>
<td>{{ f(r.treatment.ci_low) }} to {{ f(r.treatment.ci_high) }}</td><td>{{ p(r.treatment.p_value) }}</td>
<td>{{ f(r.treatment.df, 1) }}</td><td>{{ f(r.treatment.fmi) }}</td><td>{{ pct(r.ame.estimate) }}</td>
<td>{{ pct(r.ame.ci_low) }} to {{ pct(r.ame.ci_high) }}</td></tr>
{% endfor %}</tbody></table>
<p>Imputed: {{ imputation[0].imputed | join(", ") }} (chained equations with the LA in every imputation model).</p>
{% endif %}
</div>

<div id="randomisation">
<h3>Small-cluster inference ({{ sc.n }} children, complete case)</h3>
<table><thead><tr><th>Method</th><th>Odds ratio</th><th>95% CI</th><th>p</th><th>Reference</th></tr></thead>
<tbody>{% for r in small %}<tr><td>{{ r.method }}</td><td>{{ f(r.odds_ratio) }}</td>
<td>{{ r.ci }}</td><td>{{ p(r.p_value) }}</td><td>{{ r.reference }}</td></tr>{% endfor %}</tbody></table>
<p>{{ sc.randomisation.design }}</p>
{% for n in sc.notes %}<p class="note">{{ n }}</p>{% endfor %}
</div>

<h3>Correlation structure</h3>
<p>With an LA x period random effect as well as the LA one: odds ratio {{ f(st.odds_ratio) }}
(95% CI {{ f(st.ci_low) }} to {{ f(st.ci_high) }}); ICC {{ f(st.icc, 3) }} (LA only: {{ f(st.icc_cluster_only, 3) }});
cluster autocorrelation {{ f(st.cluster_autocorrelation, 3) }}; likelihood-ratio test of the period variance
{{ pc(st.lr_p_value) }}{% if st.singular %} (a variance is estimated at zero){% endif %}.</p>

{% if ex %}
<div id="exposure-time">
<h3>Exposure time</h3>
{% if ex.get("error") %}<p>The exposure-time models could not be fitted: {{ ex.error }}</p>{% else %}
<p>The primary model refitted with one odds ratio per exposure time (periods since the LA's go-live; each
LA's first treated period is exposure time 1). If the effect builds up after go-live, the immediate-effect
model mixes these with design weights that can be negative; the time-averaged effect is their plain mean.
{{ ex.n }} children, complete case.</p>
<table><thead><tr><th>Effect</th><th>Children</th><th>Odds ratio</th><th>95% CI</th><th>p</th></tr></thead>
<tbody>{% for r in ex.levels %}<tr><td>Exposure time {{ r.exposure }}</td><td>{{ r.n }}</td>
<td>{{ f(r.odds_ratio) }}</td><td>{{ ci(r.ci_low, r.ci_high) }}</td><td>{{ p(r.p_value) }}</td></tr>{% endfor %}
<tr><td><strong>Time-averaged (mean over exposure times 1 to {{ ex.levels | length }})</strong></td><td></td>
<td><strong>{{ f(ex.average.odds_ratio) }}</strong></td><td>{{ ci(ex.average.ci_low, ex.average.ci_high) }}</td>
<td>{{ p(ex.average.p_value) }}</td></tr>
{% if ex.immediate %}<tr><td>Immediate-effect model (primary, for contrast)</td><td></td>
<td>{{ f(ex.immediate.odds_ratio) }}</td><td>{{ ci(ex.immediate.ci_low, ex.immediate.ci_high) }}</td>
<td>{{ p(ex.immediate.p_value) }}</td></tr>{% endif %}
{% if ex.delayed %}<tr><td>Delayed effect (from exposure time 2)</td><td></td><td>{{ f(ex.delayed.odds_ratio) }}</td>
<td>{{ ci(ex.delayed.ci_low, ex.delayed.ci_high) }}</td><td>{{ p(ex.delayed.p_value) }}</td></tr>
<tr><td>&nbsp;&nbsp;transition (first treated period)</td><td></td><td>{{ f(ex.delayed.transition.odds_ratio) }}</td>
<td>{{ ci(ex.delayed.transition.ci_low, ex.delayed.transition.ci_high) }}</td>
<td>{{ p(ex.delayed.transition.p_value) }}</td></tr>{% endif %}
</tbody></table>
{% if ex.heterogeneity %}<p>Heterogeneity over exposure time (H0: every exposure-time effect equal):
Wald chi-square {{ f(ex.heterogeneity.statistic, 2) }} on {{ ex.heterogeneity.df }} df,
{{ pc(ex.heterogeneity.p_value) }}.
With five LAs the last exposure times rest on one or two LAs, so this test has little power.</p>{% endif %}
{% if ex.delayed %}<p class="note">Delayed effect: {{ ex.transition_handling }}.</p>
{% else %}<p class="note">Delayed effect not estimated: {{ ex.delayed_error }}.</p>{% endif %}
{% endif %}
</div>
{% endif %}

{% if secondary %}
<div id="secondary">
<h3>Secondary outcomes</h3>
<table><thead><tr><th>#</th><th>Outcome</th><th>Model</th><th>Effect</th><th>Estimate</th><th>95% CI</th>
<th>p</th><th>Children</th><th>Events</th><th>Censored</th></tr></thead><tbody>
{% for r in secondary %}<tr><td>{{ r.number }}</td><td>{{ r.description }}</td><td>{{ r.model }}</td>
<td>{{ r.effect_measure }}</td><td>{{ f(r.effect) }}</td><td>{{ f(r.ci_low) }} to {{ f(r.ci_high) }}</td>
<td>{{ p(r.p_value) }}</td><td>{{ r.n }}</td><td>{{ r.n_events }}</td><td>{{ r.n_censored }}</td></tr>
{% if r.note %}<tr><td></td><td colspan="9" class="note">{{ r.note }}</td></tr>{% endif %}
{% endfor %}</tbody></table>
<p>Follow-up that runs past an LA's latest delivered data is censored, never counted as no event.</p>
</div>
{% endif %}

{% if sensitivity %}
<div id="sensitivity">
<h3>Sensitivity and exploratory analyses</h3>
<table><thead><tr><th>Analysis</th><th>Odds ratio</th><th>95% CI</th><th>p</th><th>Children</th>
<th>Further terms (odds ratio)</th></tr></thead><tbody>
{% for r in sensitivity %}<tr><td>{{ r.description }}</td>
{% if r.error %}<td colspan="5">not estimable: {{ r.error }}</td>{% else %}
<td>{{ f(r.odds_ratio) }}</td><td>{{ f(r.ci_low) }} to {{ f(r.ci_high) }}</td><td>{{ p(r.p_value) }}</td>
<td>{{ r.n }}</td><td>{% for k, v in r.terms.items() %}{{ label(k) }}: {{ f(v) }}{% if not loop.last %}; {% endif %}
{% endfor %}{% if r.note %} ({{ r.note }}){% endif %}</td>{% endif %}</tr>{% endfor %}</tbody></table>
</div>
{% endif %}

<h3>All odds-ratio analyses</h3>
<img alt="Forest plot of every odds-ratio analysis" src="{{ forest }}">
{% for n in notes %}<p class="note">{{ n }}</p>{% endfor %}
</section>
"""


def _f(value: Any, digits: int = RATIO_DIGITS) -> str:
    return fmt_number(value, digits)


def _pct(value: Any) -> str:
    if value is None or not math.isfinite(float(value)):
        return "–"
    return f"{100 * float(value):.2f} pp"


def _rounded(n: Any, base: int) -> Any:
    return int(base * round(int(n) / base)) if base > 1 and n is not None else n


def _ci(low: Any, high: Any) -> str:
    return fmt_ci(low, high)


def _exp(x: Any) -> float | None:
    return None if x is None or not math.isfinite(float(x)) or float(x) > 709 else math.exp(float(x))


def small_cluster_rows(sc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per small-cluster method: odds ratio, CI, p and the reference distribution (or why the
    method has no estimate)."""
    rows: list[dict[str, Any]] = []
    cr = sc["fe_cr2"]
    if "error" in cr:
        rows.append(_failed("Fixed-effects logit, CR2", cr["error"]))
    else:
        rows.append(
            {
                "method": "Fixed-effects logit, CR2",
                "odds_ratio": cr["odds_ratio"],
                "ci": _ci(cr["or_ci_low"], cr["or_ci_high"]),
                "p_value": cr["p_value"],
                "reference": f"t, Satterthwaite df {cr['df_satterthwaite']:.2f}",
            }
        )
    g = sc["gee"]
    for name, label in GEE_LABELS.items():
        if "error" in g:
            rows.append(_failed(label, g["error"]))
            continue
        v = g["variances"][name]
        rows.append(
            {
                "method": label,
                "odds_ratio": g["odds_ratio"],
                "ci": _ci(_exp(v["ci_low"]), _exp(v["ci_high"])),
                "p_value": v["p_value"],
                "reference": f"t, df {g['df']:.0f} ({g['df_rule']})",
            }
        )
    ri = sc["randomisation"]
    label = "Randomisation inference (fixed-effects logit)"
    if "error" in ri:
        rows.append(_failed(label, ri["error"]))
    else:
        rows.append(
            {
                "method": label,
                "odds_ratio": _exp(ri["estimate"]),
                "ci": _ci(_exp(ri["ci_low"]), _exp(ri["ci_high"])),
                "p_value": ri["p_value"],
                "reference": f"exact, {ri['sequences']} sequences, minimum p {ri['min_attainable_p']:.4f}",
            }
        )
    return rows


def _failed(method: str, reason: str) -> dict[str, Any]:
    return {"method": method, "odds_ratio": None, "ci": "not estimable", "p_value": None, "reference": reason}


def forest_entries(run: FullRun) -> list[tuple[str, float, float, float]]:
    """(label, OR, low, high) for every treatment row on the odds-ratio scale with a finite estimate;
    unbounded interval ends are drawn at the plot's edge."""
    out = []
    lo_lim, hi_lim = FOREST_LIMITS
    for r in run.rows():
        if r["term"] != "treatment" or r["odds_ratio"] is None or r["outcome"] != "cla_18m":
            continue
        o = float(r["odds_ratio"])
        if not math.isfinite(o):
            continue
        low = lo_lim if r["ci_low"] is None else max(float(r["ci_low"]), lo_lim)
        high = hi_lim if r["ci_high"] is None else min(float(r["ci_high"]), hi_lim)
        out.append((f"{r['analysis']}: {r['sample']}, {r['model']}", o, low, high))
    return out


def render_full_section(run: FullRun, study: Study) -> str:
    """The HTML fragment for the report (self-contained; the forest plot is embedded)."""
    base = get_profile(study.disclosure_profile).round_base
    s = run.summary
    if s is None:
        raise ValueError("the full plan has not run: no summary to report")
    head: dict[str, Any] = s.headline.treatment.to_json()
    head.update(
        n=_rounded(s.headline.n, base),
        n_events=_rounded(s.headline.n_events, base),
        label=(
            f"primary model after multiple imputation (m = {s.headline.m})"
            if s.headline.m
            else "primary model, complete case (no covariate was missing)"
        ),
    )
    sc = dict(s.small_cluster)
    sc["n"] = _rounded(sc["n"], base)
    secondary = [
        dataclasses.replace(r, n=_rounded(r.n, base), n_events=_rounded(r.n_events, base),
                            n_censored=_rounded(r.n_censored, base))
        for r in s.secondary or ()
    ]  # fmt: skip
    sensitivity = [dataclasses.replace(r, n=_rounded(r.n, base)) for r in s.sensitivity or ()]
    ex: Any = s.exposure_time
    if ex is not None and "error" not in ex:
        ex = {**ex, "n": _rounded(ex["n"], base), "levels": [{**r, "n": _rounded(r["n"], base)} for r in ex["levels"]]}
    entries = forest_entries(run)
    forest = plots.forest([e[0] for e in entries], [e[1] for e in entries], [e[2] for e in entries],
                          [e[3] for e in entries])  # fmt: skip
    return (
        Environment(autoescape=True, undefined=StrictUndefined)
        .from_string(_TEMPLATE)
        .render(
            head=head,
            ame=s.headline.ame,
            design=s.design,
            imputation=s.imputation,
            sc=sc,
            small=small_cluster_rows(s.small_cluster),
            st=s.structures,
            secondary=secondary,
            sensitivity=sensitivity,
            ex=ex,
            ci=_ci,
            forest="data:image/png;base64," + base64.b64encode(forest).decode(),
            notes=s.notes,
            f=_f,
            p=fmt_p,
            pc=p_clause,
            label=lambda term: term_label(term, study.data_dictionary),
            pct=_pct,
        )
    )


COUNT_KEYS = frozenset({"n", "n_events", "n_censored", "observations", "dropped_missing_numeric"})


def released_summary(run: FullRun, study: Study) -> Any:
    """The run's summary for results.json (see `released_document`)."""
    base = get_profile(study.disclosure_profile).round_base
    return released_document(run.summary.to_json() if run.summary is not None else {}, base)


def released_document(document: Any, base: int) -> Any:
    """Every count rounded to the disclosure profile's base, non-finite numbers as null, the randomisation
    null distribution dropped (it is 12 refits' estimates, not needed outside)."""

    def walk(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items() if k != "null_distribution"}
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        if key in COUNT_KEYS and isinstance(value, int | float) and math.isfinite(value):
            return _rounded(value, base)
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value

    return walk(document)
