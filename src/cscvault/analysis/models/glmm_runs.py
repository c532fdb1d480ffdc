"""The GLMM as `cscvault model glmm` runs it on a CSV: covariate roles, the separation rule, convergence
checks, randomisation inference and multiple imputation. The command module only parses and prints.

Every function here is the Python API the command agrees with (tests compare them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cscvault.analysis.models.design_matrix import Design, build_design, level_order
from cscvault.analysis.models.glmm import GlmmFit, RandomEffects, finite_or_none, fit_glmm
from cscvault.analysis.models.imputation import Pooled, mice, pool_fits
from cscvault.analysis.models.randomisation import (
    Assignment,
    RandomisationResult,
    period_index,
    randomisation_test,
    stepped_wedge_treatment,
    study_design,
)
from cscvault.analysis.models.separation import drop_separated_levels, require_no_separation
from cscvault.errors import DataError, UsageError
from cscvault.study import Study

MICE_ITERATIONS = 10  # as the full plan's imputation (analysis/whole_plan.py)


@dataclass(frozen=True)
class Covariates:
    """Covariate columns by role: numbers enter as they are, text columns as treatment-coded factors
    measured against their reference level (the first in sorted order, as R's factor())."""

    numeric: tuple[str, ...]
    factors: tuple[str, ...]
    references: Mapping[str, object] = field(default_factory=dict)


def covariate_roles(frame: pd.DataFrame, columns: Sequence[str]) -> Covariates:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UsageError(f"no column named {', '.join(repr(c) for c in missing)}")
    numeric: list[str] = []
    factors: list[str] = []
    references: dict[str, object] = {}
    for c in columns:
        col = frame[c]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            numeric.append(c)
        else:
            factors.append(c)
            references[c] = level_order(col.dropna())[0]
    return Covariates(tuple(numeric), tuple(factors), references)


@dataclass(frozen=True)
class GlmmRun:
    fit: GlmmFit
    covariates: Covariates
    left_out: Mapping[str, int]  # "col[level]" -> children left out by the separation rule

    def notes(self) -> list[str]:
        out = [f"reference level of {c}: {v}" for c, v in self.covariates.references.items()]
        if self.left_out:
            levels = ", ".join(f"{k} ({v} children)" for k, v in self.left_out.items())
            out.append(f"left out because every child in the level has the same outcome (separation): {levels}")
        return out

    def to_dict(self) -> dict[str, Any]:
        doc = self.fit.to_dict()
        doc["reference_levels"] = {c: str(v) for c, v in self.covariates.references.items()}
        doc["left_out_levels"] = dict(self.left_out)
        return doc


def prepare(
    frame: pd.DataFrame,
    *,
    treatment: str,
    period: str,
    cluster: str,
    outcome: str | None,
    events: str | None,
    trials: str | None,
    covariates: Sequence[str],
    source: str,
) -> tuple[pd.DataFrame, Covariates, dict[str, int], Design]:
    """Roles, the primary analysis's separation rule for factor levels, the design, and the separation
    check that remains (a treatment, period or numeric covariate that predicts the outcome perfectly)."""
    named = [c for c in (outcome, events, trials, treatment, period, cluster, *covariates) if c is not None]
    absent = [c for c in named if c not in frame.columns]
    if absent:
        raise UsageError(f"{source}: no column named {', '.join(repr(c) for c in absent)}")
    roles = covariate_roles(frame, covariates)
    kept, left_out = drop_separated_levels(
        frame, roles.factors, roles.references, outcome=outcome, events=events, trials=trials
    )
    if len(kept) == 0:
        raise DataError(f"{source}: no rows left after leaving out separated levels")
    design = build_design(
        kept,
        treatment=treatment,
        period=period,
        cluster=cluster,
        outcome=outcome,
        events=events,
        trials=trials,
        covariates=roles.numeric,
        factors=roles.factors,
        reference_levels=roles.references,
        source=source,
    )
    require_no_separation(design.x, design.events, design.trials, design.names, f"{source}: logistic mixed model")
    return kept, roles, left_out, design


def require_converged(fit: GlmmFit, source: str) -> None:
    """The command's contract: an estimate is printed only from a fit whose optimisers converged and agree."""
    if not fit.converged:
        raise DataError(
            f"{source}: the logistic mixed model did not converge (no optimiser reached a maximum); "
            "the estimate would not be trustworthy"
        )
    if not fit.optimisers_agree:
        raise DataError(
            f"{source}: the two optimisers disagree (largest parameter difference "
            f"{fit.max_param_difference:.2g}); the likelihood is flat or has several maxima"
        )


def fit_glmm_run(
    frame: pd.DataFrame,
    *,
    treatment: str,
    period: str,
    cluster: str,
    outcome: str | None = None,
    events: str | None = None,
    trials: str | None = None,
    covariates: Sequence[str] = (),
    nagq: int = 1,
    re: RandomEffects = "cluster",
    source: str = "data",
) -> GlmmRun:
    """`cscvault model glmm`: the fit with text covariates as factors, separated levels left out, and
    separation or non-convergence a one-line `DataError`."""
    _, roles, left_out, design = prepare(
        frame,
        treatment=treatment,
        period=period,
        cluster=cluster,
        outcome=outcome,
        events=events,
        trials=trials,
        covariates=covariates,
        source=source,
    )
    fit = fit_glmm(design, nagq=nagq, re=re)
    require_converged(fit, source)
    return GlmmRun(fit, roles, left_out)


# -- randomisation inference --------------------------------------------------------------------


def read_sequences(frame: pd.DataFrame, source: str) -> list[dict[str, int]]:
    """Allowed sequences from a table: one row per sequence, one column per cluster, its wedge (1-based)."""
    if frame.empty:
        raise DataError(f"{source}: no sequences")
    try:
        values = frame.to_numpy(dtype=np.int64)
    except (TypeError, ValueError):
        raise DataError(f"{source}: every cell must be a whole wedge number") from None
    if (values < 1).any():
        raise DataError(f"{source}: wedge numbers start at 1")
    names = [str(c) for c in frame.columns]
    return [dict(zip(names, (int(v) for v in row), strict=True)) for row in values]


def observed_assignment(
    frame: pd.DataFrame, *, treatment: str, period_index: pd.Series, cluster: str
) -> dict[str, int]:
    """Each cluster's wedge as the data show it: the first period index at which it is treated (a cluster
    never treated gets the wedge after the last period). The data must be a stepped wedge."""
    treat = pd.to_numeric(frame[treatment], errors="coerce")
    if treat.isna().any() or not treat.isin([0, 1]).all():
        raise DataError(f"column {treatment!r} must hold only 0 and 1 for randomisation inference")
    last = int(period_index.max())
    wedges: dict[str, int] = {}
    for name, idx in frame.groupby(frame[cluster].astype(str)).groups.items():
        on = period_index.loc[idx][treat.loc[idx] == 1]
        wedges[str(name)] = int(on.min()) if len(on) else last + 1
    implied = stepped_wedge_treatment(frame[cluster], period_index, wedges)
    if not np.array_equal(implied, treat.to_numpy(dtype=np.int64)):
        raise DataError(f"column {treatment!r} is not a stepped wedge (a cluster stops treatment or skips a period)")
    return wedges


def glmm_randomisation(
    frame: pd.DataFrame,
    *,
    sequences: Sequence[Assignment],
    observed: Assignment,
    period_index: pd.Series,
    treatment: str,
    period: str,
    cluster: str,
    outcome: str | None = None,
    events: str | None = None,
    trials: str | None = None,
    covariates: Sequence[str] = (),
    nagq: int = 1,
    re: RandomEffects = "cluster",
    source: str = "data",
) -> RandomisationResult:
    """Exact two-sided randomisation p-value of the GLMM treatment log-OR: the model refitted with the
    treatment each allowed sequence would have given (the sharp null keeps the outcomes)."""
    if observed not in list(sequences):
        raise DataError(f"{source}: the data's go-live order is not one of the allowed sequences")
    base, roles, _, _ = prepare(
        frame,
        treatment=treatment,
        period=period,
        cluster=cluster,
        outcome=outcome,
        events=events,
        trials=trials,
        covariates=covariates,
        source=source,
    )
    index = period_index.loc[base.index]

    def statistic(assignment: Assignment) -> float:
        work = base.assign(**{treatment: stepped_wedge_treatment(base[cluster], index, assignment)})
        design = build_design(
            work,
            treatment=treatment,
            period=period,
            cluster=cluster,
            outcome=outcome,
            events=events,
            trials=trials,
            covariates=roles.numeric,
            factors=roles.factors,
            reference_levels=roles.references,
            source=source,
        )
        return fit_glmm(design, nagq=nagq, re=re).effect.estimate

    return randomisation_test(sequences, observed, statistic)


# -- multiple imputation ------------------------------------------------------------------------


def pooled_dict(p: Pooled, level: float = 0.95) -> dict[str, Any]:
    lo, hi = p.ci(level)
    return finite_or_none(  # type: ignore[no-any-return]
        {
            "estimate": p.estimate,
            "se": p.se,
            "odds_ratio": math.exp(p.estimate),
            "ci_low": math.exp(lo),
            "ci_high": math.exp(hi),
            "p_value": p.p_value(),
            "df": p.df,
            "fmi": p.fmi,
            "riv": p.riv,
            "within": p.within,
            "between": p.between,
        }
    )


def glmm_multiple_imputation(
    frame: pd.DataFrame,
    *,
    treatment: str,
    period: str,
    cluster: str,
    outcome: str,
    covariates: Sequence[str],
    m: int,
    seed: int,
    nagq: int = 1,
    re: RandomEffects = "cluster",
    source: str = "data",
) -> dict[str, Any]:
    """MICE of the incomplete text covariates (as the full plan imputes: outcome, treatment, period and the
    complete numeric covariates as predictors, the cluster as indicators), the GLMM on each completed
    data set, pooled by Rubin's rules with Barnard-Rubin degrees of freedom."""
    roles = covariate_roles(frame, covariates)
    incomplete_numeric = [c for c in roles.numeric if frame[c].isna().any()]
    if incomplete_numeric:
        raise DataError(
            f"{source}: numeric covariate {incomplete_numeric[0]!r} has missing values; "
            "multiple imputation here imputes categorical (text) covariates only"
        )
    impute = [c for c in roles.factors if frame[c].isna().any()]
    if not impute:
        raise DataError(f"{source}: no covariate is missing: multiple imputation has nothing to impute")
    completed = mice(
        frame,
        impute=impute,
        predictors=[outcome, treatment, period, *roles.numeric],
        cluster=cluster,
        m=m,
        seed=seed,
        iterations=MICE_ITERATIONS,
    )
    fits: list[tuple[Any, Any]] = []
    names: tuple[str, ...] | None = None
    for k, data in enumerate(completed):
        design = build_design(
            data,
            treatment=treatment,
            period=period,
            cluster=cluster,
            outcome=outcome,
            covariates=roles.numeric,
            factors=roles.factors,
            reference_levels=roles.references,
            source=f"{source}: imputed data set {k + 1}",
        )
        require_no_separation(
            design.x, design.events, design.trials, design.names, f"{source}: imputed data set {k + 1}"
        )
        fit = fit_glmm(design, nagq=nagq, re=re)
        require_converged(fit, f"{source}: imputed data set {k + 1}")
        if names is not None and design.names != names:
            raise DataError(f"{source}: imputed data set {k + 1} has different factor levels from the first")
        names = design.names
        fits.append((np.array([t.estimate for t in fit.terms]), fit.cov))
    assert names is not None
    pooled = pool_fits(fits, names)
    return {
        "model": "glmm-rubin",
        "m": m,
        "seed": seed,
        "imputed": impute,
        "n": len(frame),
        "reference_levels": {c: str(v) for c, v in roles.references.items()},
        "term": treatment,
        **pooled_dict(pooled[treatment]),
        "terms": {name: pooled_dict(p) for name, p in pooled.items()},
    }


def read_sequence_csv(path: Path) -> pd.DataFrame:
    """A sequences CSV (`--sequences FILE`); unreadable files are one-line errors naming the file."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV file ({type(exc).__name__})") from None


def text_reference_levels(path: Path, frame: pd.DataFrame, covariates: list[str]) -> dict[str, str]:
    """The reference level of each text covariate: its first level in sorted order (as `gee.indicators`)."""
    out: dict[str, str] = {}
    for c in covariates:
        if c not in frame.columns:
            raise UsageError(f"{path.name}: no column named {c!r}")
        col = frame[c]
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            out[c] = sorted(col.dropna().astype(str).unique())[0]
    return out


def randomisation_document(
    frame: pd.DataFrame,
    file: Path,
    sequences_file: Path | None,
    study: Study,
    columns: dict[str, Any],
    covariates: list[str],
    nagq: int,
    re_kind: RandomEffects,
) -> dict[str, Any]:
    """`model glmm --randomisation`: the exact randomisation p-value over the allowed sequences (a file's, or
    the study's), as one JSON-able document."""
    cluster, period, treatment = columns["cluster"], columns["period"], columns["treatment"]
    for col in (cluster, period, treatment):
        if col not in frame.columns:
            raise UsageError(f"{file.name}: no column named {col!r}")
    if sequences_file is not None:
        allowed = read_sequences(read_sequence_csv(sequences_file), sequences_file.name)
        order = {p: i for i, p in enumerate(level_order(frame[period]))}
        index = frame[period].map(order).astype("int64")
        observed = observed_assignment(frame, treatment=treatment, period_index=index, cluster=cluster)
        origin = sequences_file.name
    else:
        allowed, observed = study_design(study)
        index = period_index(study, frame[period])
        origin = f"study {study.id}"
    result = glmm_randomisation(
        frame,
        sequences=allowed,
        observed=observed,
        period_index=index,
        covariates=covariates,
        nagq=nagq,
        re=re_kind,
        source=file.name,
        **columns,
    )
    # The interval by test inversion would refit the GLMM hundreds of times; the p-value is what is reported.
    test = {k: v for k, v in result.as_dict().items() if not k.startswith("ci_")}
    return {
        "model": "glmm-randomisation",
        "source": file.name,
        "sequences_from": origin,
        "term": treatment,
        **test,
        "null_distribution": list(result.null_distribution),
    }
