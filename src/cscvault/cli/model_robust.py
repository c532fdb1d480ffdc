"""`cscvault model gee` and `cscvault model fe-cr2`: small-cluster inference on any CSV.

Thin layer: parse options, call gee.py / robust.py, print a table or one JSON document.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from cscvault import api
from cscvault.cli.output import print_json
from cscvault.errors import UsageError

FileArg = Annotated[Path, typer.Argument(help="CSV with one row per child or one binomial row per cell.")]
TreatmentOpt = Annotated[str, typer.Option("--treatment", help="Treatment column (0/1).")]
PeriodOpt = Annotated[str, typer.Option("--period", help="Period column (always a factor).")]
ClusterOpt = Annotated[str, typer.Option("--cluster", help="Cluster column.")]
OutcomeOpt = Annotated[str | None, typer.Option("--outcome", help="0/1 outcome column (child rows).")]
EventsOpt = Annotated[str | None, typer.Option("--events", help="Events column (binomial rows).")]
TrialsOpt = Annotated[str | None, typer.Option("--trials", help="Trials column (binomial rows).")]
CovariatesOpt = Annotated[
    str | None,
    typer.Option("--covariates", help="Comma-separated covariate columns (text columns become indicators)."),
]
LevelOpt = Annotated[float, typer.Option("--level", help="Confidence level.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document and nothing else.")]


def _columns(outcome: str | None, events: str | None, trials: str | None) -> None:
    if outcome is not None and (events is not None or trials is not None):
        raise UsageError("give --outcome, or --events with --trials, not both")
    if outcome is None and (events is None or trials is None):
        raise UsageError("give --outcome COL, or --events COL with --trials COL")


def _split(columns: str | None) -> list[str]:
    return [c.strip() for c in columns.split(",") if c.strip()] if columns else []


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise UsageError("--level must lie strictly between 0 and 1")


def _emit(document: dict[str, object]) -> None:
    print_json(document)


def _say_references(references: dict[str, str]) -> None:
    for c, level in references.items():
        typer.echo(f"note: reference level of {c}: {level}")


def gee(
    file: FileArg,
    treatment: TreatmentOpt,
    period: PeriodOpt,
    cluster: ClusterOpt,
    outcome: OutcomeOpt = None,
    events: EventsOpt = None,
    trials: TrialsOpt = None,
    covariates: CovariatesOpt = None,
    alpha: Annotated[
        float | None,
        typer.Option("--alpha", help="Fix the exchangeable working correlation instead of estimating it."),
    ] = None,
    level: LevelOpt = 0.95,
    json_out: JsonOpt = False,
) -> None:
    """Marginal logistic GEE (exchangeable): sandwich, KC, MD and FG standard errors, t reference."""
    _columns(outcome, events, trials)
    _check_level(level)
    frame = api.read_model_csv(file)
    refs = api.text_reference_levels(file, frame, _split(covariates))
    cells = api.binomial_cells(
        frame,
        outcome=outcome,
        events=events,
        trials=trials,
        treatment=treatment,
        period=period,
        cluster=cluster,
        covariates=_split(covariates),
    )
    fit = api.fit_gee(cells, alpha=alpha)
    if json_out:
        _emit({**api.gee_summary(fit, treatment, level), "source": file.name, "reference_levels": refs})
        return
    fixed = " (fixed)" if fit.alpha_fixed else ""
    typer.echo(
        f"GEE, logit link, exchangeable correlation alpha = {fit.alpha:.5f}{fixed}; "
        f"n = {fit.n_obs:.0f}, clusters = {fit.n_clusters}, t df = {fit.df:g} ({fit.df_rule})"
    )
    est = float(fit.params[fit.names.index(treatment)])
    typer.echo(f"{treatment}: log-OR {est:.5f}, OR {math.exp(est):.4f}")
    typer.echo(f"{'variance':<10}{'se':>10}{'t':>9}{'p':>10}{f'{level:.0%} CI (OR)':>22}")
    for name in api.VARIANCES:
        c = fit.coefficient(treatment, name, level)
        ci = f"{math.exp(c.ci_low):.3f}-{math.exp(c.ci_high):.3f}"
        typer.echo(f"{name:<10}{c.se:>10.5f}{c.statistic:>9.3f}{c.p_value:>10.4g}{ci:>22}")
    for note in fit.notes:
        typer.echo(f"note: {note}")
    _say_references(refs)


def fe_cr2(
    file: FileArg,
    treatment: TreatmentOpt,
    period: PeriodOpt,
    cluster: ClusterOpt,
    outcome: OutcomeOpt = None,
    events: EventsOpt = None,
    trials: TrialsOpt = None,
    covariates: CovariatesOpt = None,
    level: LevelOpt = 0.95,
    json_out: JsonOpt = False,
) -> None:
    """Fixed-effects logit (cluster + period): CR2 robust SE with Satterthwaite df, as clubSandwich."""
    _columns(outcome, events, trials)
    _check_level(level)
    frame = api.read_model_csv(file)
    refs = api.text_reference_levels(file, frame, _split(covariates))
    res = api.fit_fe_cr2(
        frame,
        outcome=outcome,
        events=events,
        trials=trials,
        treatment=treatment,
        period=period,
        cluster=cluster,
        covariates=_split(covariates),
    )
    coef = res.coefficient(treatment, level)
    if json_out:
        _emit(
            {
                "model": "fe-logit-cr2",
                "source": file.name,
                "clusters": res.n_clusters,
                "observations": res.n_obs,
                "level": level,
                **coef,
                "reference_levels": refs,
            }
        )
        return
    typer.echo(
        f"logistic model, {cluster} and {period} fixed effects; CR2 SE, Satterthwaite df; "
        f"n = {res.n_obs:.0f}, clusters = {res.n_clusters}"
    )
    typer.echo(
        f"{treatment}: log-OR {coef['estimate']:.5f} (CR2 SE {coef['se_cr2']:.5f}, "
        f"model SE {coef['se_model']:.5f}), df {coef['df_satterthwaite']:.3f}, p {coef['p_value']:.4g}"
    )
    typer.echo(f"OR {coef['odds_ratio']:.4f}, {level:.0%} CI {coef['or_ci_low']:.4f}-{coef['or_ci_high']:.4f}")
    _say_references(refs)
