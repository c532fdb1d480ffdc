"""The pre-registered primary analysis, run unattended inside the vault.

sample -> outcome -> the logistic mixed model of the plan (LA random intercept; Laplace and adaptive
Gauss-Hermite quadrature), for the complete-case and missing-indicator variants. Each run is recorded in
`runs` (plan hash, code version, delivery set) with its rows in `results`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from cscvault import __version__
from cscvault.analysis.models.glmm import GlmmFit, fit_glmm_frame
from cscvault.analysis.samples import PrimarySample, build_primary_sample
from cscvault.analysis.sources import PRIMARY_OUTCOME, Availability, NotDerived, load_availability
from cscvault.errors import DataError
from cscvault.study import Study
from cscvault.vault import Vault

RESULT_FIELDS = (
    "analysis",
    "outcome",
    "sample",
    "model",
    "term",
    "estimate",
    "se",
    "odds_ratio",
    "ci_low",
    "ci_high",
    "p_value",
    "n",
    "n_events",
)
MISSING_LEVEL = "missing"
MIN_RECORDED_SHARE = 0.5


@dataclass
class FittedAnalysis:
    analysis: str
    sample: str  # complete_case | missing_indicator
    model: str  # glmm-laplace | glmm-agq25
    fit: GlmmFit
    dropped: int  # children left out for missing covariates
    separated: dict[str, int] = field(default_factory=dict)  # "factor[level]" -> children left out


@dataclass
class PrimaryRun:
    run_id: str
    plan_sha256: str
    code_version: str
    deliveries_sha256: str
    sample: PrimarySample
    fits: list[FittedAnalysis] = field(default_factory=list)
    # What the delivered returns can derive; None for a run built outside a vault (tests, validation).
    availability: Availability | None = None
    covariates_left_out: tuple[str, ...] = ()  # planned covariates too rarely recorded to adjust for

    @property
    def not_derived(self) -> list[NotDerived]:
        """The primary outcome's part that could not be derived (the LAs left out, and why)."""
        return self.availability.report([PRIMARY_OUTCOME]) if self.availability is not None else []

    def rows(self) -> list[dict[str, Any]]:
        """The results.json rows: one per term of every fitted analysis (Wald z), then the treatment term's
        small-sample t test (model `<model>-t-bw`, the headline test). `test` and `df` say which test a
        row's CI and p come from; they are in results.json only (the vault's results table has the
        RESULT_FIELDS)."""
        out = []
        for f in self.fits:
            for t in f.fit.terms:
                out.append(
                    {
                        "test": "wald-z",
                        "df": None,
                        "analysis": f.analysis,
                        "outcome": "cla_18m",
                        "sample": f.sample,
                        "model": f.model,
                        "term": t.term,
                        "estimate": t.estimate,
                        "se": t.se,
                        "odds_ratio": t.odds_ratio,
                        "ci_low": t.ci_low,
                        "ci_high": t.ci_high,
                        "p_value": t.p_value,
                        "n": f.fit.n,
                        "n_events": f.fit.n_events,
                    }
                )
            small = f.fit.small_sample
            if small is not None:
                row = f.fit.small_sample_row(f.analysis, "cla_18m", f.sample, f.model)
                out.append({"test": f"t-{small.df_method}", "df": small.df, **row})
        return out

    @property
    def headline(self) -> FittedAnalysis:
        """Until multiple imputation lands, the complete-case Laplace fit is the headline."""
        return next(f for f in self.fits if f.sample == "complete_case" and f.model == "glmm-laplace")


def _factor_frame(sample: PrimarySample, factors: list[str], strategy: str) -> tuple[pd.DataFrame, int]:
    frame = sample.analysed.copy()
    for col in factors:
        frame[col] = frame[col].map(
            lambda v: (
                None
                if v is None or (isinstance(v, float) and pd.isna(v))
                else str(v).lower()
                if isinstance(v, bool)
                else str(v)
            )
        )
    if strategy == "complete_case":
        before = len(frame)
        frame = frame.dropna(subset=factors)
        return frame, before - len(frame)
    for col in factors:
        frame[col] = frame[col].fillna(MISSING_LEVEL)
    return frame, 0


def drop_separated_levels(
    frame: pd.DataFrame, outcome: str, factors: list[str], references: dict[str, str]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Leave out the children of a covariate level in which every outcome is the same (no events, or
    all events), saying which and how many.

    Such a level's log-odds has no finite maximum (separation): kept, it drifts to minus or plus
    infinity, the optimisers stop at different places and the fit is flagged as not converged. Its
    children then contribute nothing to the likelihood of the other parameters, so leaving them out gives
    exactly the limit of the fit that keeps them. Rare levels (gender "other") separate in small samples.
    A reference level is kept (the other levels are measured against it).
    """
    dropped: dict[str, int] = {}
    keep = pd.Series(True, index=frame.index)
    for col in factors:
        rates = frame.groupby(col, dropna=True)[outcome].agg(["mean", "size"])
        for level, row in rates.iterrows():
            if row["mean"] in (0.0, 1.0) and str(level) != str(references.get(col)):
                hit = frame[col] == level
                keep &= ~hit
                dropped[f"{col}[{level}]"] = int(row["size"])
    return frame[keep], dropped


def unrecorded_covariates(frame: pd.DataFrame, covariates: Sequence[str]) -> list[str]:
    """Planned covariates recorded for fewer than MIN_RECORDED_SHARE of the children: typically the return
    that carries them was not delivered (no SSDA903: no UASC status), so a complete-case fit would keep
    almost nobody. With a non-empty frame only."""
    if frame.empty:
        return []
    return [c for c in covariates if c in frame and float(frame[c].notna().mean()) < MIN_RECORDED_SHARE]


def delivery_set(vault: Vault) -> tuple[str, int]:
    shas = sorted(str(r[0]) for r in vault.con.execute("SELECT sha256 FROM deliveries WHERE NOT rejected").fetchall())
    return hashlib.sha256("\n".join(shas).encode()).hexdigest(), len(shas)


def run_primary(vault: Vault) -> PrimaryRun:
    vault.require_role("analyst", "admin")
    study = vault.study
    available = load_availability(vault.con, study)
    missing = available.not_derived(PRIMARY_OUTCOME)
    if missing is not None and missing.everywhere:
        raise DataError(f"the primary outcome {PRIMARY_OUTCOME} cannot be derived: {missing.reason}")
    codes = {la.name: la.ons_code for la in study.local_authorities}
    sample = build_primary_sample(vault.con, study, [codes[la] for la in available.las_with(PRIMARY_OUTCOME)])
    if missing is not None:
        sample.notes.append(f"left out of the primary outcome ({PRIMARY_OUTCOME}): {missing.reason}")
    if sample.analysed.empty:
        raise DataError("the primary sample is empty: no referrals in the trial window were delivered")
    left_out = unrecorded_covariates(sample.analysed, study.analysis_plan.primary.covariates)
    if left_out:
        sample.notes.append(
            f"left out of every model: {', '.join(left_out)}, recorded for fewer than "
            f"{MIN_RECORDED_SHARE:.0%} of the analysed children (the returns that carry it were not delivered "
            "for most of them); adjusting for it would drop most of the sample"
        )
    deliveries_sha, n_deliveries = delivery_set(vault)
    run = PrimaryRun(uuid.uuid4().hex[:12], study.plan_sha256, __version__, deliveries_sha, sample)
    run.availability = available
    run.covariates_left_out = tuple(left_out)
    started = dt.datetime.now(dt.UTC)
    run.fits.extend(fit_primary_models(sample, study, left_out=left_out))
    _record(vault, run, started, n_deliveries)
    return run


def fit_primary_models(
    sample: PrimarySample,
    study: Study,
    *,
    strategies: tuple[str, ...] | None = None,
    estimations: tuple[str, ...] | None = None,
    left_out: Sequence[str] = (),
) -> list[FittedAnalysis]:
    """The plan's primary model on a primary sample, for each missing-data strategy and estimation method
    (all of the plan's unless narrowed; the validation of issue 5 fits complete-case Laplace only)."""
    plan = study.analysis_plan
    model = plan.primary
    covariate_names = tuple(c for c in model.covariates if c not in left_out)
    numeric = list(plan.numeric_covariates(covariate_names))
    factors = [c for c in covariate_names if c not in numeric]
    references: dict[str, str] = plan.references()
    references[model.period] = study.periods[0].name
    agq = int(model.options.get("agq_points", 25))
    fits = []
    for strategy in strategies or tuple(model.options["missing"]):
        frame, dropped = _factor_frame(sample, factors, strategy)
        frame["cla_18m"] = frame["cla_18m"].astype(int)
        frame, separated = drop_separated_levels(frame, "cla_18m", factors, references)
        for estimation in estimations or tuple(model.options["estimation"]):
            nagq = 1 if estimation == "laplace" else agq
            fit = fit_glmm_frame(
                frame,
                outcome="cla_18m",
                treatment=model.treatment,
                period=model.period,
                cluster=model.cluster,
                covariates=numeric,
                factors=factors,
                reference_levels=references,
                nagq=nagq,
                source="primary sample",
            )
            name = "glmm-laplace" if nagq == 1 else f"glmm-agq{nagq}"
            fits.append(FittedAnalysis("primary", strategy, name, fit, dropped, separated))
    return fits


def _record(vault: Vault, run: PrimaryRun, started: dt.datetime, n_deliveries: int) -> None:
    with vault.transaction() as con:
        con.execute(
            "INSERT INTO runs VALUES (?, 'primary', ?, ?, ?, ?, ?, ?, ?, 'completed')",
            [
                run.run_id,
                run.plan_sha256,
                run.code_version,
                run.deliveries_sha256,
                n_deliveries,
                started,
                dt.datetime.now(dt.UTC),
                vault.actor,
            ],
        )
        con.executemany(
            f"INSERT INTO results VALUES (?, {', '.join('?' for _ in RESULT_FIELDS)})",
            [[run.run_id, *(r[k] for k in RESULT_FIELDS)] for r in run.rows()],
        )
        vault.record(
            "analysis.run",
            {"run": run.run_id, "plan": "primary", "plan_sha256": run.plan_sha256[:16]},
            {"fits": len(run.fits), "deliveries": n_deliveries},
        )
