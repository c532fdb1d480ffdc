"""One model specification passed to every estimator (GLMM, GEE, FE-CR2, exposure time, design matrices)
instead of the same keyword parameters repeated at each entry point.

The estimators take `spec=ModelSpec(...)`; their older keywords (treatment=, period=, ...) remain as a thin
compatibility path that builds the same spec (`resolve`), so callers can move over one at a time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cscvault.errors import UsageError

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class ModelSpec:
    """What a model of a stepped-wedge trial needs to know about its columns.

    Give `outcome` (one 0/1 row per child) or `events` with `trials` (binomial rows, `trials` being the
    rows' weights). `covariates` enter as numbers, `factors` as treatment-coded dummies with the level in
    `reference_levels` (else the first sorted level) as reference. `options` carries estimator settings
    that are not columns (e.g. the plan's estimation methods)."""

    treatment: str
    period: str
    cluster: str
    outcome: str | None = None
    events: str | None = None
    trials: str | None = None
    covariates: tuple[str, ...] = ()
    factors: tuple[str, ...] = ()
    reference_levels: Mapping[str, object] = field(default_factory=lambda: _EMPTY)
    options: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    @property
    def weights(self) -> str | None:
        """The binomial weights column (trials per row), when rows are not single children."""
        return self.trials

    def with_(self, **changes: Any) -> ModelSpec:
        """A copy with some fields changed (sequences stored as tuples)."""
        for key in ("covariates", "factors"):
            if key in changes:
                changes[key] = tuple(changes[key])
        return dataclasses.replace(self, **changes)


def resolve(
    spec: ModelSpec | None,
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
) -> ModelSpec:
    """The spec an estimator was given, or one built from the older keywords (not both)."""
    given = [treatment, period, cluster, outcome, events, trials]
    if spec is not None:
        if any(v is not None for v in given) or covariates or factors or reference_levels:
            raise UsageError("give either a model spec or the column keywords, not both")
        return spec
    if not treatment or not period or not cluster:
        raise UsageError("a model needs its treatment, period and cluster columns")
    return ModelSpec(
        treatment=treatment,
        period=period,
        cluster=cluster,
        outcome=outcome,
        events=events,
        trials=trials,
        covariates=tuple(covariates),
        factors=tuple(factors),
        reference_levels=MappingProxyType(dict(reference_levels or {})),
    )
