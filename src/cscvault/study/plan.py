"""The pre-registered analysis plan as a frozen, validated object.

`parse_plan` checks the plan against the study's data dictionary when a study is loaded (so at `init`
and whenever a vault opens): every model's outcome is an outcome of the plan, every outcome and covariate
is a variable the data dictionary declares (derived only from fields it allows), and every reference
level is one of the covariate's levels. A plan that fails is refused with one line naming the key
(`StudyError`, exit 2), before any analysis runs.

Mapping access (`plan["models"]["primary"]`) still reads the parsed TOML, for code written before the
plan was typed.
"""

from __future__ import annotations

import copyreg
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from cscvault.errors import StudyError

if TYPE_CHECKING:  # model.py imports this module for Study.analysis_plan
    from cscvault.study.model import DataDictionary


# The plan's tables are read-only mappings. The Study (with its plan) is sent to ingest's worker processes, so
# it must pickle: a mapping proxy pickles as the plain dict it wraps and comes back wrapped again.
def _read_only(table: dict[str, Any]) -> MappingProxyType[str, Any]:
    return MappingProxyType(table)


copyreg.pickle(MappingProxyType, lambda proxy: (_read_only, (dict(proxy),)))


_COMMON_MODEL_KEYS = frozenset(
    {"description", "sample", "outcome", "family", "treatment", "period", "cluster", "covariates", "based_on"}
)


@dataclass(frozen=True)
class SamplePlan:
    key: str
    description: str
    min_age_years: int
    max_age_years: int
    include_unborn: bool


@dataclass(frozen=True)
class OutcomePlan:
    key: str
    description: str
    event_table: str
    event_date: str
    window_months: int


@dataclass(frozen=True)
class CovariatePlan:
    key: str  # the plan's key (e.g. "age")
    name: str  # the analysis variable (e.g. "age_group")
    levels: tuple[str, ...] = ()
    reference: str | None = None
    description: str = ""

    @property
    def numeric(self) -> bool:
        """Entered as a number (no levels and no reference level), else as a factor."""
        return not self.levels and self.reference is None


@dataclass(frozen=True)
class ModelPlan:
    """One planned model. A model `based_on` another inherits its outcome, treatment, period, cluster and
    covariates; `options` holds the model-specific settings (estimation, missing-data strategies...)."""

    key: str
    description: str
    sample: str
    outcome: str
    treatment: str
    period: str
    cluster: str
    covariates: tuple[str, ...]
    based_on: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AnalysisPlan:
    version: int
    samples: Mapping[str, SamplePlan]
    outcomes: Mapping[str, OutcomePlan]
    covariates: Mapping[str, CovariatePlan]
    models: Mapping[str, ModelPlan]
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def empty(cls) -> AnalysisPlan:
        return cls(0, {}, {}, {}, {}, {})

    # -- typed lookups --------------------------------------------------------------------------

    @property
    def primary(self) -> ModelPlan:
        return self.models["primary"]

    def covariate(self, name: str) -> CovariatePlan:
        """The covariate whose analysis variable is `name`."""
        return next(c for c in self.covariates.values() if c.name == name)

    def numeric_covariates(self, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(n for n in names if self.covariate(n).numeric)

    def references(self) -> dict[str, str]:
        """Variable name -> reference level, for the covariates that state one."""
        return {c.name: c.reference for c in self.covariates.values() if c.reference is not None}

    # -- mapping access to the parsed TOML (compatibility) ---------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def __contains__(self, key: object) -> bool:
        return key in self.raw

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)


def _fail(source: str, key: str, problem: str) -> StudyError:
    return StudyError(f"{source}: {key}: {problem}")


def _table(raw: Mapping[str, Any], key: str, source: str, prefix: str = "") -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, Mapping):
        raise _fail(source, f"{prefix}{key}", "must be a table")
    return value


def _text(raw: Mapping[str, Any], key: str, source: str, prefix: str, default: str | None = None) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not value:
        raise _fail(source, f"{prefix}{key}", "must be non-empty text")
    return value


def _int(raw: Mapping[str, Any], key: str, source: str, prefix: str, default: int | None = None) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(source, f"{prefix}{key}", "must be a whole number")
    return value


def _texts(
    raw: Mapping[str, Any], key: str, source: str, prefix: str, default: tuple[str, ...] = ()
) -> tuple[str, ...]:
    value = raw.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(source, f"{prefix}{key}", "must be a list of text")
    return tuple(value)


def parse_plan(raw: Mapping[str, Any], dictionary: DataDictionary, source: str = "analysis_plan.toml") -> AnalysisPlan:
    """Validate the parsed plan TOML against the data dictionary (see the module docstring)."""
    version = _int(raw, "version", source, "", 1)
    declared = {v.name for v in dictionary.variables}
    fields = dictionary.fields

    def known_variable(name: str, key: str) -> None:
        # A dictionary without declared variables (an older study) is checked on fields only.
        if declared and name not in declared:
            raise _fail(source, key, f"'{name}' is not a variable of the data dictionary")

    samples = {}
    for k, s in _table(raw, "samples", source).items():
        p = f"samples.{k}."
        s = _table({k: s}, k, source, "samples.")
        samples[k] = SamplePlan(
            k,
            str(s.get("description", "")),
            _int(s, "min_age_years", source, p, 0),
            _int(s, "max_age_years", source, p),
            bool(s.get("include_unborn", True)),
        )

    outcomes = {}
    for k, o in _table(raw, "outcomes", source).items():
        p = f"outcomes.{k}."
        o = _table({k: o}, k, source, "outcomes.")
        known_variable(k, f"outcomes.{k}")
        table, date = _text(o, "event_table", source, p), _text(o, "event_date", source, p)
        if f"{table}.{date}" not in fields:
            raise _fail(source, f"{p}event_date", f"'{table}.{date}' is not a field of the data dictionary")
        outcomes[k] = OutcomePlan(k, str(o.get("description", "")), table, date, _int(o, "window_months", source, p))

    covariates = {}
    for k, c in _table(raw, "covariates", source).items():
        p = f"covariates.{k}."
        c = _table({k: c}, k, source, "covariates.")
        name = _text(c, "name", source, p)
        known_variable(name, f"{p}name")
        levels = _texts(c, "levels", source, p)
        reference = c.get("reference")
        if reference is not None and not isinstance(reference, str):
            raise _fail(source, f"{p}reference", "must be text")
        if reference is not None and levels and reference not in levels:
            raise _fail(source, f"{p}reference", f"'{reference}' is not one of its levels")
        covariates[k] = CovariatePlan(k, name, levels, reference, str(c.get("description", "")))
    covariate_names = {c.name for c in covariates.values()}

    models_raw = _table(raw, "models", source)
    models: dict[str, ModelPlan] = {}
    for k, m in models_raw.items():
        p = f"models.{k}."
        m = _table({k: m}, k, source, "models.")
        base_key = m.get("based_on")
        if base_key is not None and (not isinstance(base_key, str) or base_key not in models_raw):
            raise _fail(source, f"{p}based_on", f"'{base_key}' is not a model of the plan")
        base = models_raw.get(base_key, {}) if isinstance(base_key, str) else {}

        def pick(key: str, m: Mapping[str, Any] = m, base: Mapping[str, Any] = base) -> Any:
            return m.get(key, base.get(key))

        outcome = pick("outcome")
        if outcome not in outcomes:
            raise _fail(source, f"{p}outcome", f"'{outcome}' is not an outcome of the plan")
        sample = pick("sample")
        if sample not in samples:
            raise _fail(source, f"{p}sample", f"'{sample}' is not a sample of the plan")
        covs = _texts({"covariates": pick("covariates") or []}, "covariates", source, p)
        for name in covs:
            if name not in covariate_names:
                raise _fail(source, f"{p}covariates", f"'{name}' is not a covariate of the plan")
            known_variable(name, f"{p}covariates")
        models[k] = ModelPlan(
            key=k,
            description=str(m.get("description", "")),
            sample=sample,
            outcome=outcome,
            treatment=_text({"treatment": pick("treatment")}, "treatment", source, p),
            period=_text({"period": pick("period")}, "period", source, p),
            cluster=_text({"cluster": pick("cluster")}, "cluster", source, p),
            covariates=covs,
            based_on=base_key,
            options=MappingProxyType({key: v for key, v in m.items() if key not in _COMMON_MODEL_KEYS}),
        )
    if "primary" not in models:
        raise _fail(source, "models.primary", "the plan has no primary model")
    return AnalysisPlan(
        version,
        MappingProxyType(samples),
        MappingProxyType(outcomes),
        MappingProxyType(covariates),
        MappingProxyType(models),
        raw,
    )
