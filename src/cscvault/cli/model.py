"""`cscvault model ...`: the analysis models applied to any CSV, outside the vault."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cscvault import api
from cscvault.cli.output import print_json
from cscvault.errors import UsageError

if TYPE_CHECKING:
    from cscvault.api import ExposureAnalysis, GlmmFit, RandomEffects

app = typer.Typer(
    help="Fit the trial's models to a CSV file (outside the vault), e.g. to check against R.",
    no_args_is_help=True,
)


def _split(columns: str | None) -> list[str]:
    return [c.strip() for c in columns.split(",") if c.strip()] if columns else []


def _print_table(fit: GlmmFit) -> None:
    method = "Laplace" if fit.nagq == 1 else f"AGHQ nAGQ={fit.nagq}"
    typer.echo(
        f"logistic mixed model ({fit.random_effects} random effects, {method}); "
        f"n = {fit.n}, clusters = {fit.n_clusters}"
    )
    typer.echo(f"{'term':<24}{'estimate':>11}{'se':>10}{'OR':>9}{'95% CI':>20}{'p':>10}")
    for t in fit.terms:
        ci = f"{t.ci_low:.3f}-{t.ci_high:.3f}"
        typer.echo(f"{t.term:<24}{t.estimate:>11.5f}{t.se:>10.5f}{t.odds_ratio:>9.3f}{ci:>20}{t.p_value:>10.4g}")
    sds = ", ".join(f"{k} {v:.5f}" for k, v in fit.re_sd.items())
    typer.echo(f"random-effect SD: {sds}; ICC (latent) {fit.icc:.4f}; log-likelihood {fit.loglik:.4f}")
    agree = "agree" if fit.optimisers_agree else "DISAGREE"
    typer.echo(f"optimisers {agree} (max parameter difference {fit.max_param_difference:.2g})")


def _print_exposure(result: ExposureAnalysis) -> None:
    _print_table(result.fit)
    typer.echo("exposure time (periods since the cluster's first treated period; 0 = control):")
    typer.echo(f"{'effect':<24}{'estimate':>11}{'se':>10}{'OR':>9}{'95% CI':>20}{'p':>10}{'children':>10}")
    rows = [(lv.effect, str(lv.n)) for lv in result.levels] + [(result.average, "")]
    if result.delayed is not None:
        rows += [(result.delayed.effect, ""), (result.delayed.transition, "")]
    for t, n in rows:
        ci = f"{t.ci_low:.3f}-{t.ci_high:.3f}"
        typer.echo(f"{t.term:<24}{t.estimate:>11.5f}{t.se:>10.5f}{t.odds_ratio:>9.3f}{ci:>20}{t.p_value:>10.4g}{n:>10}")
    het = result.heterogeneity
    if het is not None:
        typer.echo(
            f"heterogeneity over exposure time: Wald chi-square {het.statistic:.3f} on {het.df} df, "
            f"p = {het.p_value:.4g}"
        )
    if result.delayed is None:
        typer.echo(f"delayed effect: not estimated ({result.delayed_error})")


@app.command("glmm")
def glmm(
    file: Annotated[Path, typer.Argument(help="CSV with one row per child or one binomial row per cell.")],
    treatment: Annotated[str, typer.Option("--treatment", help="Treatment column (numeric, usually 0/1).")],
    period: Annotated[str, typer.Option("--period", help="Period column (always a factor).")],
    cluster: Annotated[str, typer.Option("--cluster", help="Cluster column (random intercept).")],
    outcome: Annotated[str | None, typer.Option("--outcome", help="0/1 outcome column (child rows).")] = None,
    events: Annotated[str | None, typer.Option("--events", help="Events column (binomial rows).")] = None,
    trials: Annotated[str | None, typer.Option("--trials", help="Trials column (binomial rows).")] = None,
    covariates: Annotated[
        str | None,
        typer.Option(
            "--covariates",
            help="Comma-separated covariate columns; text columns are factors against their first level.",
        ),
    ] = None,
    nagq: Annotated[
        int,
        typer.Option(
            "--nagq",
            help="Adaptive Gauss-Hermite nodes per random effect (nested with --re cluster-period); "
            "1 = Laplace, lme4's default.",
        ),
    ] = 1,
    re: Annotated[
        str,
        typer.Option("--re", help="Random effects: cluster, or cluster-period (cluster + cluster x period)."),
    ] = "cluster",
    exposure_time: Annotated[
        bool,
        typer.Option(
            "--exposure-time",
            help="Exposure-time indicator model: one effect per period since the cluster's first treated "
            "period; headline = their mean (time-averaged effect), plus a heterogeneity test and the "
            "delayed-effect variant.",
        ),
    ] = False,
    randomisation: Annotated[
        bool,
        typer.Option(
            "--randomisation",
            help="Exact randomisation p-value over the allowed go-live sequences (the study's, or --sequences).",
        ),
    ] = False,
    sequences: Annotated[
        Path | None,
        typer.Option("--sequences", help="CSV of allowed sequences: one row each, one column per cluster, its wedge."),
    ] = None,
    study: Annotated[
        Path | None, typer.Option("--study", help="The study.toml whose sequences to use (default: shipped study).")
    ] = None,
    impute: Annotated[
        str | None,
        typer.Option("--impute", help="m=20: impute missing text covariates m times (MICE) and pool (Rubin)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the imputations.")] = 20260101,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document and nothing else.")] = False,
) -> None:
    """Logistic mixed model: treatment + factor(period) + covariates + (1|cluster) [+ (1|cluster:period)].

    Exit 3 when the estimate is not finite (separation) or the optimisers did not converge or disagree;
    a text covariate's level in which every child has the same outcome is left out first, and named."""
    if outcome is not None and (events is not None or trials is not None):
        raise UsageError("give --outcome, or --events with --trials, not both")
    if outcome is None and (events is None or trials is None):
        raise UsageError("give --outcome COL, or --events COL with --trials COL")
    if re not in ("cluster", "cluster-period"):
        raise UsageError(f"--re must be 'cluster' or 'cluster-period', not {re!r}")
    re_kind: RandomEffects = "cluster" if re == "cluster" else "cluster-period"
    if sum([exposure_time, randomisation, impute is not None]) > 1:
        raise UsageError("give at most one of --exposure-time, --randomisation and --impute")
    if sequences is not None and not randomisation:
        raise UsageError("--sequences goes with --randomisation")
    frame = api.read_model_csv(file)
    columns: dict[str, Any] = dict(
        outcome=outcome, events=events, trials=trials, treatment=treatment, period=period, cluster=cluster
    )
    if impute is not None:
        if outcome is None:
            raise UsageError("--impute needs child rows (--outcome): binomial rows have no missing covariates")
        doc = api.glmm_multiple_imputation(
            frame,
            treatment=treatment,
            period=period,
            cluster=cluster,
            outcome=outcome,
            covariates=_split(covariates),
            m=_impute_m(impute),
            seed=seed,
            nagq=nagq,
            re=re_kind,
            source=file.name,
        )
        if json_out:
            print_json({**doc, "source": file.name})
        else:
            _print_imputation(doc)
        return
    if randomisation:
        the_study = api.study(study)
        doc = api.randomisation_document(frame, file, sequences, the_study, columns, _split(covariates), nagq, re_kind)
        if json_out:
            print_json(doc)
        else:
            typer.echo(
                f"randomisation inference over {doc['sequences']} allowed sequences ({doc['sequences_from']}): "
                f"{treatment} log-OR {doc['estimate']:.5f} (OR {math.exp(doc['estimate']):.4f}), "
                f"exact two-sided p = {doc['p_value']:.4g} (smallest attainable {doc['min_attainable_p']:.4g})"
            )
        return
    if exposure_time:
        roles = api.covariate_roles(frame, _split(covariates))
        result = api.fit_exposure_frame(
            frame,
            **columns,
            covariates=roles.numeric,
            factors=roles.factors,
            reference_levels=roles.references,
            nagq=nagq,
            re=re_kind,
            source=file.name,
        )
        api.require_converged(result.fit, file.name)
        if json_out:
            print_json(result.to_dict())
        else:
            _print_exposure(result)
        return
    run = api.fit_glmm_run(frame, **columns, covariates=_split(covariates), nagq=nagq, re=re_kind, source=file.name)
    if json_out:
        print_json(run.to_dict())
        return
    _print_table(run.fit)
    for note in run.notes():
        typer.echo(f"note: {note}")


def _impute_m(spec: str) -> int:
    text = spec.strip()
    value = text[2:] if text.startswith("m=") else text
    if not value.isdigit() or not 2 <= int(value) <= 1000:
        raise UsageError("--impute takes m=N with N imputations between 2 and 1000, e.g. --impute m=20")
    return int(value)


def _print_imputation(doc: dict[str, Any]) -> None:
    typer.echo(
        f"logistic mixed model on {doc['m']} imputed data sets (MICE of {', '.join(doc['imputed'])}; seed "
        f"{doc['seed']}), pooled by Rubin's rules with Barnard-Rubin df; n = {doc['n']}"
    )
    typer.echo(f"{'term':<24}{'estimate':>11}{'se':>10}{'df':>9}{'fmi':>7}{'p':>10}")
    for name, t in doc["terms"].items():
        df = f"{t['df']:.1f}" if t["df"] is not None else "inf"
        typer.echo(f"{name:<24}{t['estimate']:>11.5f}{t['se']:>10.5f}{df:>9}{t['fmi']:>7.3f}{t['p_value']:>10.4g}")
    for c, v in doc["reference_levels"].items():
        typer.echo(f"note: reference level of {c}: {v}")
