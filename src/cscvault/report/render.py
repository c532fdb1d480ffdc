"""The analysis report: one self-contained HTML file (plots embedded), `results.json`, the report's tables
and figures, all returned as run outputs that are stored inside the vault (`vault.run_outputs`).

Every table of counts passes through the study's disclosure-control profile before it is shown: small
counts are suppressed (with secondary suppression), counts are rounded as the profile says, and rates are
derived only from released counts. The profile's name and version are stamped on the report.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import pandas as pd
from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from cscvault.analysis.models.glmm import GlmmFit
from cscvault.analysis.primary import PrimaryRun
from cscvault.analysis.results import RunSummary
from cscvault.analysis.samples import FLOW_COLUMNS
from cscvault.analysis.sources import NotDerived
from cscvault.disclosure.check import CheckedTable, apply_release
from cscvault.disclosure.profiles import get_profile
from cscvault.report import plots
from cscvault.report.consort import render_consort
from cscvault.report.labels import term_label
from cscvault.report.numbers import COEF_DIGITS, fmt_ci, fmt_number, fmt_p, fmt_ratio, p_clause
from cscvault.report.pdf import html_to_pdf
from cscvault.report.relations import (
    FLOW_PERIOD_COUNTS,
    FLOW_PERIOD_LINKS,
    FLOW_PERIOD_RELATIONS,
    FLOW_RATES_LINKS,
    FLOW_RELATIONS,
    RATES_RELATIONS,
)
from cscvault.study import Study
from cscvault.vault.run_outputs import RunOutput

MODEL_LABELS = {"glmm-laplace": "Laplace", "complete_case": "complete case", "missing_indicator": "missing indicator"}


def report_css() -> Markup:
    """The reports' shared style sheet (the main report and the DiD supplement look alike)."""
    # Our own packaged file, placed inside <style>: escaping would break its quoted font names.
    return Markup((resources.files("cscvault.report") / "templates" / "report.css").read_text(encoding="utf-8"))  # noqa: S704


def _img(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _label(sample: str, model: str) -> str:
    est = MODEL_LABELS.get(model, model.replace("glmm-agq", "adaptive quadrature, ").replace("glmm-", ""))
    if model.startswith("glmm-agq"):
        est += " points"
    return f"{MODEL_LABELS.get(sample, sample)}, {est}"


FLOW_COUNTS = [c for c in FLOW_COLUMNS if c != "la"]


@dataclass(frozen=True)
class CheckedFlows:
    """The flow by LA, the flow by LA and period and the events and children analysed by LA and period,
    checked as one release: each LA's flow row is the sum of its period rows, and its analysed and events
    are the sums of the rates table's, so no withheld cell of one follows from the others."""

    flow: CheckedTable
    flow_period: CheckedTable
    rates: CheckedTable
    rates_released: pd.DataFrame  # the released rates with rate_pct from released counts


def flow_frame(run: PrimaryRun) -> pd.DataFrame:
    return run.sample.flow[run.sample.flow["la"] != "All"].reset_index(drop=True)


def checked_flows(run: PrimaryRun, study: Study) -> CheckedFlows:
    checked = check_flow_tables(
        flow_frame(run), run.sample.flow_by_period, study.disclosure_profile, rates_frame(run, study)
    )
    rates = checked["rates.csv"]
    released = rates.released.copy()
    released["rate_pct"] = rates.percentages("events", "children")
    return CheckedFlows(checked["flow.csv"], checked["flow_period.csv"], rates, released)


def check_flow_tables(
    flow: pd.DataFrame, by_period: pd.DataFrame, profile: str, rates: pd.DataFrame | None = None
) -> dict[str, CheckedTable]:
    """`flow` (per LA, every flow column), `by_period` (per LA and period, `FLOW_PERIOD_COUNTS`) and, when
    given, `rates` (events and children per LA and period) through the profile as one release, with the
    links a release of these files declares (`FLOW_PERIOD_LINKS`, `FLOW_RATES_LINKS`)."""
    tables = {
        "flow.csv": flow,
        "flow_period.csv": by_period[["la", "period", *FLOW_PERIOD_COUNTS]].reset_index(drop=True),
    }
    count_cols: dict[str, Sequence[str] | None] = {"flow.csv": FLOW_COUNTS, "flow_period.csv": list(FLOW_PERIOD_COUNTS)}
    label_cols: dict[str, Sequence[str] | None] = {"flow.csv": ["la"], "flow_period.csv": ["la", "period"]}
    relations = {"flow.csv": FLOW_RELATIONS, "flow_period.csv": FLOW_PERIOD_RELATIONS}
    links = list(FLOW_PERIOD_LINKS)
    if rates is not None:
        tables["rates.csv"] = rates
        count_cols["rates.csv"] = ["events", "children"]
        label_cols["rates.csv"] = ["la", "period"]
        relations["rates.csv"] = RATES_RELATIONS
        links += FLOW_RATES_LINKS
    return apply_release(
        tables, profile, count_cols=count_cols, label_cols=label_cols, relations=relations, table_links=links
    )


def rates_frame(run: PrimaryRun, study: Study) -> pd.DataFrame:
    """Events and children analysed by LA and period."""
    frame = run.sample.analysed
    grouped = frame.groupby(["la", "period"], sort=False).agg(children=("cla_18m", "size"), events=("cla_18m", "sum"))
    order = {p.name: i for i, p in enumerate(study.periods)}
    table = grouped.reset_index()
    table["events"] = table["events"].astype(int)
    table = table.sort_values(["la", "period"], key=lambda s: s.map(order) if s.name == "period" else s)
    return table.reset_index(drop=True)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def render_report(
    run: PrimaryRun,
    study: Study,
    extra_rows: Sequence[dict[str, Any]] = (),
    extra_html: str = "",
    extra_summary: dict[str, Any] | None = None,
    not_derived: Sequence[NotDerived] | None = None,
    summary: RunSummary | None = None,
    quality: Mapping[str, Any] | None = None,
) -> list[RunOutput]:
    """The run's outputs, to be stored inside the vault (never written to a folder): report.html,
    results.json, the flow and rates tables (with their declared relations) and the figures (naming the
    table they draw). `extra_*` carry the rest of the plan (`analyse --plan all`): its rows, its report
    section (already disclosure-checked HTML) and summary. `not_derived`: the outcomes the delivered
    returns could not derive (default: the primary run's own). `summary`: the whole plan's results (None
    under `--plan primary`: its CONSORT sections then say they did not run); `quality`: the ingest's
    data-quality summary (`ingest.quality.quality_report`) for the appendix."""
    missing = list(run.not_derived if not_derived is None else not_derived)
    profile = get_profile(study.disclosure_profile)
    flows = checked_flows(run, study)
    flow, rates_checked, rates = flows.flow, flows.rates, flows.rates_released
    series: dict[str, list[tuple[str, float | None]]] = {}
    for _, row in rates.iterrows():
        series.setdefault(str(row["la"]), []).append((str(row["period"]), row["rate_pct"]))
    fits = run.fits
    forest = plots.forest(
        [_label(f.sample, f.model) for f in fits],
        [f.fit.effect.odds_ratio for f in fits],
        [f.fit.effect.ci_low for f in fits],
        [f.fit.effect.ci_high for f in fits],
    )
    rates_png = plots.rates(series)
    head = run.headline.fit
    models = [
        {
            "label": _label(f.sample, f.model),
            "terms": [
                {
                    "label": term_label(t.term, study.data_dictionary),
                    "estimate": fmt_number(t.estimate, COEF_DIGITS),
                    "se": fmt_number(t.se, COEF_DIGITS),
                    "odds_ratio": fmt_ratio(t.odds_ratio),
                    "ci": fmt_ci(t.ci_low, t.ci_high),
                    "p_value": fmt_p(t.p_value),
                }
                for t in f.fit.terms
            ],
            "re_sd": _fmt(f.fit.re_sd.get("cluster")),
            "re_var": _fmt(f.fit.re_var.get("cluster")),
            "icc": _fmt(f.fit.icc),
            "loglik": _fmt(f.fit.loglik, 2),
            "aic": _fmt(f.fit.aic, 2),
            "optimisers_agree": f.fit.optimisers_agree,
            "max_param_difference": _fmt(f.fit.max_param_difference, 6),
            "converged": f.fit.converged,
            "singular": f.fit.singular,
            "separated": sorted(f.separated),  # level names only: their counts can be small
            "vif": [
                {"term": v.term, "gvif": _fmt(v.gvif), "df": v.df, "adjusted": _fmt(v.gvif_adjusted)} for v in f.fit.vif
            ],
            "n_rounded": _released_count(f.fit.n, profile.round_base),
        }
        for f in fits
    ]
    headline = _headline(head, _label(run.headline.sample, run.headline.model))
    consort, flow_png, flow_period_png = render_consort(
        run, study, flow, rates_checked, headline, summary, quality, flow_period=flows.flow_period
    )
    template = (resources.files("cscvault.report") / "templates" / "report.html.j2").read_text(encoding="utf-8")
    html = (
        Environment(autoescape=True, undefined=StrictUndefined)
        .from_string(template)
        .render(
            study=study,
            run=run,
            profile=profile,
            generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            schematic=_img(plots.stepped_wedge(study)),
            forest=_img(forest),
            rates_plot=_img(rates_png),
            flow=flow.released.to_dict("records"),
            flow_columns=list(flow.released.columns),
            flow_suppressed=flow.suppressed_count,
            rates=rates.to_dict("records"),
            rates_suppressed=rates_checked.suppressed_count,
            headline=headline,
            consort=consort,
            models=models,
            notes=run.sample.notes,
            not_derived=missing,
            fmt=_fmt,
            # Built by report.full_section from an autoescaping Jinja2 template: every value is escaped.
            full_section=Markup(extra_html),  # noqa: S704
            css=report_css(),
        )
    )
    document = {
        "study": study.id,
        "run_id": run.run_id,
        "plan_sha256": run.plan_sha256,
        "code_version": run.code_version,
        "deliveries_sha256": run.deliveries_sha256,
        "disclosure_profile": {"name": profile.name, "version": profile.version},
        "results": [_released_row(r, profile.round_base) for r in [*run.rows(), *extra_rows]],
        "not_derived": [nd.to_json() for nd in missing],
    }
    if extra_summary is not None:
        document["full_plan"] = extra_summary
    flow_frame = flow.original[[*flow.label_cols, *flow.count_cols]]
    period_frame = flows.flow_period.original[[*flows.flow_period.label_cols, *flows.flow_period.count_cols]]
    rates_frame = rates_checked.original[[*rates_checked.label_cols, *rates_checked.count_cols]]
    pdf = html_to_pdf(html.encode("utf-8"))
    report_meta: dict[str, Any] = {"title": "analysis report"}
    documents = []
    if pdf.content is None:
        report_meta["pdf"] = pdf.note  # why this run has no report.pdf
    else:
        documents.append(
            RunOutput(
                "report.pdf", "document", pdf.content,
                # The release gate lets the PDF out only beside this exact report.html (same run, this hash).
                {"title": "analysis report (PDF)", "from": "report.html", "renderer": pdf.renderer,
                 "source_sha256": hashlib.sha256(html.encode("utf-8")).hexdigest()},
            )
        )  # fmt: skip
    return [
        RunOutput("report.html", "html", html.encode("utf-8"), report_meta),
        *documents,
        RunOutput(
            "results.json", "results", (json.dumps(document, indent=2, default=str) + "\n").encode("utf-8"),
            {"title": "model results (counts rounded)"},
        ),
        RunOutput(
            "flow.csv", "table", flow_frame.to_csv(index=False).encode("utf-8"),
            {
                "title": "sample flow by LA",
                "relations": [r.as_dict() for r in FLOW_RELATIONS],
                "links": [link.as_dict() for link in (*FLOW_RATES_LINKS, *FLOW_PERIOD_LINKS)],
            },
        ),
        RunOutput(
            "flow_period.csv", "table", period_frame.to_csv(index=False).encode("utf-8"),
            {"title": "sample flow by LA and period", "relations": [r.as_dict() for r in FLOW_PERIOD_RELATIONS]},
        ),
        RunOutput(
            "rates.csv", "table", rates_frame.to_csv(index=False).encode("utf-8"),
            {"title": "events and children by LA and period", "relations": [r.as_dict() for r in RATES_RELATIONS]},
        ),
        RunOutput(
            "flow.png", "figure", flow_png,
            {"title": "participant flow by LA (released counts; withheld parts pooled)", "data": "flow.csv"},
        ),
        RunOutput(
            "flow_period.png", "figure", flow_period_png,
            {"title": "participant flow by LA and period (released counts; withheld parts pooled)",
             "data": "flow_period.csv", "also": "rates.csv"},
        ),
        RunOutput("forest.png", "figure", forest, {"title": "odds ratios by model", "data": "results.json"}),
        RunOutput(
            "rates.png", "figure", rates_png,
            {"title": "event rates by LA and period (from released counts)", "data": "rates.csv"},
        ),
    ]  # fmt: skip


def _headline(fit: GlmmFit, label: str) -> dict[str, Any]:
    """The headline: the small-sample t test when the fit has one, the Wald z-test as the secondary line."""
    eff, small = fit.effect, fit.small_sample
    out = {"or": fmt_ratio(eff.odds_ratio), "label": label, "df": None}
    out.update({"z_low": fmt_ratio(eff.ci_low), "z_high": fmt_ratio(eff.ci_high), "z_p": p_clause(eff.p_value)})
    if small is None:
        out.update({"low": out["z_low"], "high": out["z_high"], "p": out["z_p"]})
    else:
        out.update({"low": fmt_ratio(small.ci_low), "high": fmt_ratio(small.ci_high), "p": p_clause(small.p_value)})
        out["df"] = f"{small.df:g}"
    return out


def _released_count(n: int, base: int) -> int:
    return int(base * round(n / base)) if base > 1 else n


def _released_row(row: dict[str, Any], base: int) -> dict[str, Any]:
    """Model rows leave the vault with their counts rounded to the profile's base."""
    out = dict(row)
    out["n"] = _released_count(int(row["n"]), base)
    out["n_events"] = _released_count(int(row["n_events"]), base)
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}
