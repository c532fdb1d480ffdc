"""Design matrices for binomial mixed models, collapsed to unique covariate patterns.

A logistic likelihood depends on the rows only through (pattern, events, trials), so child rows that
share cluster, cell and fixed-effect row are summed into one binomial row before fitting. This is exact,
and it is what lets millions of children fit in seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import gammaln

from cscvault.analysis.models.spec import ModelSpec, resolve
from cscvault.errors import DataError, UsageError

INTERCEPT = "(Intercept)"


@dataclass(frozen=True)
class Design:
    """Collapsed binomial rows with their fixed-effect design and grouping indices."""

    x: NDArray[np.float64]  # (rows, p) fixed-effect design, first column the intercept
    events: NDArray[np.float64]
    trials: NDArray[np.float64]
    cluster: NDArray[np.intp]  # 0..n_clusters-1
    cell: NDArray[np.intp]  # cluster-period cell 0..n_cells-1
    cell_cluster: NDArray[np.intp]  # the cluster of each cell
    names: tuple[str, ...]
    terms: Mapping[str, tuple[int, ...]]  # model term -> its columns (a factor has several)
    treatment: str
    cluster_levels: tuple[str, ...]
    period_levels: tuple[str, ...]
    log_binom_const: float  # sum of log C(trials, events) over the input rows (0 for 0/1 rows)
    n_input_rows: int

    @property
    def n(self) -> int:
        """Number of children (Bernoulli trials)."""
        return int(self.trials.sum())

    @property
    def n_events(self) -> int:
        return int(self.events.sum())

    @property
    def n_clusters(self) -> int:
        return len(self.cluster_levels)

    @property
    def n_cells(self) -> int:
        return len(self.cell_cluster)


def level_order(values: pd.Series) -> list[object]:
    """Sorted levels: numerically when the column is numeric, else as text (R's factor() order)."""
    uniq: list[object] = pd.unique(values).tolist()
    if pd.api.types.is_numeric_dtype(values):
        return sorted(uniq)  # type: ignore[type-var]
    return sorted(uniq, key=str)


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UsageError(f"{source}: no column named {', '.join(repr(c) for c in missing)}")


def _numeric(frame: pd.DataFrame, column: str, source: str) -> NDArray[np.float64]:
    col = frame[column]
    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        converted = pd.to_numeric(col, errors="coerce")
        if converted.isna().any():
            raise DataError(f"{source}: column {column!r} must be numeric")
        col = converted
    return np.asarray(col.to_numpy(dtype=np.float64), dtype=np.float64)


def build_design(
    frame: pd.DataFrame,
    spec: ModelSpec | None = None,
    *,
    treatment: str | None = None,
    period: str | None = None,
    cluster: str | None = None,
    outcome: str | None = None,
    events: str | None = None,
    trials: str | None = None,
    covariates: Sequence[str] = (),
    factors: Sequence[str] = (),
    reference_levels: Mapping[str, object] | None = None,
    source: str = "data",
) -> Design:
    """Build the collapsed design for `outcome ~ treatment + factor(period) + covariates + factors`.

    Give either `outcome` (one 0/1 row per child) or `events` and `trials` (binomial rows). Covariates
    enter as numbers; `factors` (and always the period) enter as treatment-coded dummies with the first
    sorted level, or the one in `reference_levels`, as reference. Missing values are an error: choose a
    missing-data strategy before modelling. The columns come from `spec` (or the older keywords).
    """
    spec = resolve(
        spec,
        treatment=treatment,
        period=period,
        cluster=cluster,
        outcome=outcome,
        events=events,
        trials=trials,
        covariates=covariates,
        factors=factors,
        reference_levels=reference_levels,
    )
    treatment, period, cluster = spec.treatment, spec.period, spec.cluster
    outcome, events, trials = spec.outcome, spec.events, spec.trials
    covariates, factors, reference_levels = spec.covariates, spec.factors, spec.reference_levels
    if (outcome is None) == (events is None or trials is None):
        raise UsageError("give either an outcome column or both events and trials columns")
    if (events is None) != (trials is None):
        raise UsageError("events and trials columns go together")
    refs = dict(reference_levels or {})
    response = [outcome] if outcome is not None else [events, trials]
    used = [c for c in [*response, treatment, period, cluster, *covariates, *factors] if c is not None]
    _require_columns(frame, used, source)
    dupes = {c for c in used if used.count(c) > 1}
    if dupes:
        raise UsageError(f"{source}: column {sorted(dupes)[0]!r} is used in two roles")
    if len(frame) == 0:
        raise DataError(f"{source}: no rows")
    for c in used:
        n_missing = int(frame[c].isna().sum())
        if n_missing:
            raise DataError(f"{source}: column {c!r} has {n_missing} missing values")

    if outcome is not None:
        y = _numeric(frame, outcome, source)
        if not np.isin(y, (0.0, 1.0)).all():
            raise DataError(f"{source}: outcome column {outcome!r} must hold only 0 and 1")
        n = np.ones_like(y)
        const = 0.0
    else:
        assert events is not None and trials is not None
        y = _numeric(frame, events, source)
        n = _numeric(frame, trials, source)
        if (n != np.round(n)).any() or (y != np.round(y)).any():
            raise DataError(f"{source}: columns {events!r} and {trials!r} must hold whole numbers")
        if (n <= 0).any():
            raise DataError(f"{source}: column {trials!r} must be positive")
        if ((y < 0) | (y > n)).any():
            raise DataError(f"{source}: column {events!r} must lie between 0 and {trials!r}")
        const = float(np.sum(gammaln(n + 1) - gammaln(y + 1) - gammaln(n - y + 1)))

    # Collapse first, on compact codes: one row per (cluster, period, treatment, covariates, factors).
    # Period is in the key so the cluster-period random effect can be attached to collapsed rows. The
    # dummies are built afterwards on the few unique rows, which keeps millions of children cheap.
    cluster_codes, cluster_uniques = pd.factorize(frame[cluster], sort=True)
    levels_of: dict[str, list[object]] = {c: level_order(frame[c]) for c in [period, *factors]}
    key = pd.DataFrame({"_c": cluster_codes})
    for c in [period, *factors]:
        key[f"f:{c}"] = pd.Categorical(frame[c], categories=levels_of[c]).codes
    key["x:treatment"] = _numeric(frame, treatment, source)
    for c in covariates:
        key[f"x:{c}"] = _numeric(frame, c, source)
    key["_y"] = y
    key["_n"] = n
    del y, n
    grouped = key.groupby(list(key.columns[:-2]), sort=True)[["_y", "_n"]].sum().reset_index()
    del key

    names: list[str] = [INTERCEPT, treatment]
    terms: dict[str, tuple[int, ...]] = {treatment: (1,)}
    columns: list[NDArray[np.float64]] = [np.ones(len(grouped)), grouped["x:treatment"].to_numpy(np.float64)]

    def add_factor(col: str) -> tuple[str, ...]:
        levels = levels_of[col]
        ref = refs.get(col, levels[0])
        if ref not in levels:
            raise UsageError(f"{source}: reference level for {col!r} is not a level of that column")
        codes = grouped[f"f:{col}"].to_numpy()
        start = len(names)
        for i, level in enumerate(levels):
            if level == ref:
                continue
            names.append(f"{col}[{level}]")
            columns.append((codes == i).astype(np.float64))
        terms[col] = tuple(range(start, len(names)))
        return tuple(str(v) for v in levels)

    period_levels = add_factor(period)
    if len(period_levels) < 2:
        raise DataError(f"{source}: column {period!r} has a single period")
    for c in covariates:
        terms[c] = (len(names),)
        names.append(c)
        columns.append(grouped[f"x:{c}"].to_numpy(np.float64))
    for c in factors:
        add_factor(c)
    x = np.column_stack(columns)
    cl = grouped["_c"].to_numpy(np.intp)
    cell_key = cl * len(period_levels) + grouped[f"f:{period}"].to_numpy(np.intp)
    cell_uniques, cell = np.unique(cell_key, return_inverse=True)

    rank = np.linalg.matrix_rank(x)
    if rank < x.shape[1]:
        raise DataError(
            f"{source}: the fixed-effect design is rank deficient ({rank} of {x.shape[1]} columns); "
            "a term is constant or collinear with others"
        )
    return Design(
        x=x,
        events=grouped["_y"].to_numpy(np.float64),
        trials=grouped["_n"].to_numpy(np.float64),
        cluster=cl,
        cell=cell.astype(np.intp),
        cell_cluster=(cell_uniques // len(period_levels)).astype(np.intp),
        names=tuple(names),
        terms=terms,
        treatment=treatment,
        cluster_levels=tuple(str(v) for v in cluster_uniques),
        period_levels=period_levels,
        log_binom_const=const,
        n_input_rows=len(frame),
    )
