"""Typed results of the whole analysis plan, as the report and results.json read them.

`run_all` returns a `RunSummary` (frozen) instead of a dictionary filled by string keys; `to_json` gives
the `full_plan` object of results.json in the shape it has always had (a contract: release checks and
users' scripts read it), and `from_json` reads one back. The small-cluster, correlation-structure and
exposure-time parts are still carried as read-only mappings in their results.json shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

from cscvault.analysis.secondary_outcomes import SecondaryResult

_EFFECT_KEYS = ("estimate", "se", "odds_ratio", "ci_low", "ci_high", "p_value", "df", "fmi", "riv")


def _frozen(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class TreatmentEffect:
    """The treatment term of a model: log-odds estimate, SE, odds ratio with its 95% CI and p; pooled
    results add the Barnard-Rubin df, the fraction of missing information and the relative increase in
    variance."""

    estimate: float | None
    se: float | None
    odds_ratio: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    df: float | None = None
    fmi: float | None = None
    riv: float | None = None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> TreatmentEffect:
        return cls(**{k: doc.get(k) for k in _EFFECT_KEYS})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HeadlineResult:
    """The headline (or one multiple-imputation run): m = 0 is the complete-case fit."""

    m: int
    n: int
    n_events: int
    treatment: TreatmentEffect
    ame: Mapping[str, Any]  # the risk difference (delta method; pooled by Rubin's rules after imputation)
    seed: int | None = None
    imputed: tuple[str, ...] = ()
    optimisers_agree: int | None = None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> HeadlineResult:
        return cls(
            m=int(doc["m"]),
            n=int(doc["n"]),
            n_events=int(doc["n_events"]),
            treatment=TreatmentEffect.from_json(doc["treatment"]),
            ame=_frozen(doc.get("ame")),
            seed=doc.get("seed"),
            imputed=tuple(doc.get("imputed", ())),
            optimisers_agree=doc.get("optimisers_agree"),
        )

    def to_json(self) -> dict[str, Any]:
        if not self.m:
            return {"m": 0, "n": self.n, "n_events": self.n_events, "treatment": self.treatment.to_json(),
                    "ame": dict(self.ame)}  # fmt: skip
        return {
            "m": self.m,
            "seed": self.seed,
            "imputed": list(self.imputed),
            "n": self.n,
            "n_events": self.n_events,
            "optimisers_agree": self.optimisers_agree,
            "treatment": self.treatment.to_json(),
            "ame": dict(self.ame),
        }


@dataclass(frozen=True)
class SensitivityResult:
    """One sensitivity analysis: its odds ratio, or why it could not be estimated (`error`)."""

    analysis: str
    description: str
    error: str | None = None
    n: int | None = None
    n_events: int | None = None
    odds_ratio: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    terms: Mapping[str, float | None] = field(default_factory=lambda: MappingProxyType({}))
    note: str | None = None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> SensitivityResult:
        known = {k: doc[k] for k in ("analysis", "description", "error", "n", "n_events", "odds_ratio", "ci_low",
                                     "ci_high", "p_value", "note") if k in doc}  # fmt: skip
        return cls(**known, terms=_frozen(doc.get("terms")))

    def to_json(self) -> dict[str, Any]:
        if self.error is not None:
            return {"analysis": self.analysis, "description": self.description, "error": self.error}
        out: dict[str, Any] = {
            "analysis": self.analysis,
            "description": self.description,
            "n": self.n,
            "n_events": self.n_events,
            "odds_ratio": self.odds_ratio,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": self.p_value,
            "terms": dict(self.terms),
        }
        if self.note is not None:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class RunSummary:
    """Everything the report shows of `analyse --plan all` beyond the primary fits."""

    notes: tuple[str, ...]
    headline: HeadlineResult
    imputation: tuple[HeadlineResult, ...]
    design: Mapping[str, Any]  # minimum detectable effect of the headline test
    small_cluster: Mapping[str, Any]
    structures: Mapping[str, Any]
    exposure_time: Mapping[str, Any] | None = None
    secondary: tuple[SecondaryResult, ...] | None = None  # None: not run
    sensitivity: tuple[SensitivityResult, ...] | None = None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RunSummary:
        secondary = doc.get("secondary")
        sensitivity = doc.get("sensitivity")
        exposure = doc.get("exposure_time")
        return cls(
            notes=tuple(doc.get("notes", ())),
            headline=HeadlineResult.from_json(doc["headline"]),
            imputation=tuple(HeadlineResult.from_json(d) for d in doc.get("imputation", ())),
            design=_frozen(doc.get("design")),
            small_cluster=_frozen(doc.get("small_cluster")),
            structures=_frozen(doc.get("structures")),
            exposure_time=None if exposure is None else _frozen(exposure),
            secondary=None if secondary is None else tuple(_secondary(d) for d in secondary),
            sensitivity=None if sensitivity is None else tuple(SensitivityResult.from_json(d) for d in sensitivity),
        )

    def to_json(self) -> dict[str, Any]:
        """The results.json `full_plan` object (counts not yet rounded: see report.full_section)."""
        out: dict[str, Any] = {
            "notes": list(self.notes),
            "imputation": [r.to_json() for r in self.imputation],
            "headline": self.headline.to_json(),
            "design": dict(self.design),
            "small_cluster": _plain(self.small_cluster),
            "structures": _plain(self.structures),
        }
        if self.exposure_time is not None:
            out["exposure_time"] = _plain(self.exposure_time)
        if self.secondary is not None:
            out["secondary"] = [r.to_dict() for r in self.secondary]
        if self.sensitivity is not None:
            out["sensitivity"] = [r.to_json() for r in self.sensitivity]
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _secondary(doc: Mapping[str, Any]) -> SecondaryResult:
    fields = {k: v for k, v in doc.items() if k != "effect"}
    return SecondaryResult(**fields)
