"""Parse and validate a study.toml into a frozen `Study`.

Invariants checked here (each failure is one line naming the key):
- required keys present, with the right types; dates are TOML dates;
- data window ordered; trial window ordered and inside the data window;
- periods ordered, contiguous, non-overlapping and inside the trial window;
- LA names, ONS codes and DfE codes unique and well-formed; go-live dates inside the trial window
  and each on a period start; every LA's stratum declared; strata wedges a partition of 1..n LAs;
- retention: final report after the data window, deletion after final reporting;
- contacts have plausible e-mail addresses; the data dictionary exists and is well-formed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from cscvault.errors import StudyError
from cscvault.study.model import (
    AnalysisVariable,
    Category,
    Contact,
    DataDictionary,
    LawfulBasis,
    LocalAuthority,
    Period,
    PrimaryAnalysis,
    Retention,
    SpecialCategoryCondition,
    SpecialField,
    Stratum,
    Study,
    SupervisoryAuthority,
    Windows,
)
from cscvault.study.plan import parse_plan

DEFAULT_STUDY_FILE = "family_safeguarding.toml"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ONS = re.compile(r"^E(06|07|08|09|10)\d{6}$")
_DFE = re.compile(r"^\d{3}$")
_FIELD = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")


class _Reader:
    """Typed access to a TOML mapping that names the full key path in every error."""

    def __init__(self, source: str, data: Mapping[str, Any], prefix: str = "") -> None:
        self.source = source
        self.data = data
        self.prefix = prefix

    def fail(self, key: str, problem: str) -> StudyError:
        return StudyError(f"{self.source}: {self.path(key)}: {problem}")

    def path(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def _get(self, key: str, kind: type | tuple[type, ...], what: str, default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                raise self.fail(key, "is missing")
            return default
        value = self.data[key]
        # bool is an int in Python; a TOML boolean is never a valid number or date here.
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
            raise self.fail(key, f"must be {what}")
        return value

    def text(self, key: str, default: Any = ...) -> str:
        value = self._get(key, str, "a string", default)
        if isinstance(value, str) and not value.strip() and default is ...:
            raise self.fail(key, "must not be empty")
        return str(value)

    def integer(self, key: str, default: Any = ...) -> int:
        return int(self._get(key, int, "an integer", default))

    def boolean(self, key: str, default: Any = ...) -> bool:
        return bool(self._get(key, bool, "true or false", default))

    def date(self, key: str) -> dt.date:
        value = self._get(key, dt.date, "a date written YYYY-MM-DD")
        if isinstance(value, dt.datetime):
            raise self.fail(key, "must be a date written YYYY-MM-DD, without a time")
        return value  # type: ignore[no-any-return]

    def texts(self, key: str, default: Any = ...) -> tuple[str, ...]:
        value = self._get(key, list, "a list of strings", default)
        if not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(key, "must be a list of non-empty strings")
        return tuple(value)

    def table(self, key: str) -> _Reader:
        value = self._get(key, dict, "a table")
        return _Reader(self.source, value, self.path(key))

    def tables(self, key: str) -> list[_Reader]:
        value = self._get(key, list, "an array of tables")
        if not value:
            raise self.fail(key, "must not be empty")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.fail(f"{key}[{i}]", "must be a table")
            out.append(_Reader(self.source, item, f"{self.path(key)}[{i}]"))
        return out

    def email(self, key: str) -> str:
        value = self.text(key)
        if not _EMAIL.match(value):
            raise self.fail(key, "is not an e-mail address")
        return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def default_study_path() -> Path:
    """The shipped Family Safeguarding study.toml."""
    return Path(str(resources.files("cscvault.study") / "data" / DEFAULT_STUDY_FILE))


def load_study(path: str | Path | None = None) -> Study:
    """Load and validate a study.toml (the shipped default when `path` is None)."""
    src = study_sources(path)
    return parse_study(src.study, source=src.name, dictionary_text=src.dictionary, plan_text=src.plan)


@dataclass(frozen=True)
class StudySources:
    """The texts a study is made of. A vault stores them all, so it keeps working whatever happens to the
    files later."""

    name: str
    study: str
    dictionary: str
    plan: str


def study_sources(path: str | Path | None = None) -> StudySources:
    """Read a study.toml and the companion files it names (not yet validated)."""
    study_path = Path(path) if path is not None else default_study_path()
    text = _read_text(study_path, study_path.name)
    raw = _parse_toml(text, study_path.name)
    study_table = raw.get("study") if isinstance(raw.get("study"), dict) else {}
    assert isinstance(study_table, dict)
    names = {key: study_table.get(key, default) for key, default in _COMPANIONS.items()}
    texts = {
        key: _companion_text(
            key, name if isinstance(name, str) else _COMPANIONS[key], study_path.parent, study_path.name
        )
        for key, name in names.items()
    }
    return StudySources(study_path.name, text, texts["data_dictionary"], texts["analysis_plan"])


def _read_text(path: Path, label: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StudyError(f"{label}: file not found") from None
    except IsADirectoryError:
        raise StudyError(f"{label}: is a directory, not a study file") from None
    except UnicodeDecodeError:
        raise StudyError(f"{label}: is not UTF-8 text") from None
    except OSError as exc:
        raise StudyError(f"{label}: cannot be read ({exc.strerror})") from None


def _parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"{source}: not valid TOML ({exc})") from None


def parse_study(
    text: str,
    source: str = "study.toml",
    base_dir: Path | None = None,
    dictionary_text: str | None = None,
    plan_text: str | None = None,
) -> Study:
    """Validate study TOML text. The data dictionary and analysis plan are read relative to `base_dir`,
    falling back to the shipped ones, unless their texts are given."""
    raw = _parse_toml(text, source)
    root = _Reader(source, raw)
    s = root.table("study")
    dict_name = s.text("data_dictionary", _COMPANIONS["data_dictionary"])
    if dictionary_text is None:
        dictionary_text = _companion_text("data_dictionary", dict_name, base_dir, source)
    dictionary = parse_data_dictionary(dictionary_text, dict_name)
    plan_name = s.text("analysis_plan", _COMPANIONS["analysis_plan"])
    if plan_text is None:
        plan_text = _companion_text("analysis_plan", plan_name, base_dir, source)
    plan = parse_plan(_parse_toml(plan_text, plan_name), dictionary, plan_name)

    controller_r = root.table("controller")
    controller = Contact(
        name=controller_r.text("name"),
        email=controller_r.email("email"),
        phone=controller_r.text("phone"),
        address=controller_r.texts("address"),
    )
    dpo_r = root.table("dpo")
    dpo = Contact(name=dpo_r.text("name"), email=dpo_r.email("email"))
    sa_r = root.table("supervisory_authority")
    authority = SupervisoryAuthority(
        name=sa_r.text("name"),
        short_name=sa_r.text("short_name"),
        address=sa_r.texts("address"),
        helpline=sa_r.text("helpline"),
        website=sa_r.text("website"),
    )
    lb_r = root.table("lawful_basis")
    lawful = LawfulBasis(
        article=lb_r.text("article"),
        basis=lb_r.text("basis"),
        purpose_test=lb_r.text("purpose_test"),
        necessity_test=lb_r.text("necessity_test"),
        balancing_test=lb_r.text("balancing_test"),
    )
    sc_r = root.table("special_category")
    special = SpecialCategoryCondition(condition=sc_r.text("condition"), reason=sc_r.text("reason"))
    src_r = root.table("source")
    collection = src_r.text("collection")
    if collection not in {"direct", "indirect"}:
        raise src_r.fail("collection", "must be 'direct' or 'indirect'")

    windows = _windows(root.table("windows"))
    retention = _retention(root.table("retention"), windows)
    periods = _periods(root, windows)
    las = _local_authorities(root, windows, periods)
    strata = _strata(root, las)
    primary_r = root.table("primary")
    primary = PrimaryAnalysis(
        min_age_years=primary_r.integer("min_age_years"),
        max_age_years=primary_r.integer("max_age_years"),
        include_unborn=primary_r.boolean("include_unborn"),
        follow_up_months=primary_r.integer("follow_up_months"),
    )
    if not 0 <= primary.min_age_years <= primary.max_age_years <= 25:
        raise primary_r.fail("max_age_years", "ages must satisfy 0 <= min_age_years <= max_age_years <= 25")
    if not 1 <= primary.follow_up_months <= 120:
        raise primary_r.fail("follow_up_months", "must be between 1 and 120")

    digest = hashlib.sha256(text.encode() + b"\0" + dictionary_text.encode()).hexdigest()
    plan_digest = hashlib.sha256(plan_text.encode()).hexdigest()
    return Study(
        id=s.text("id"),
        title=s.text("title"),
        intervention=s.text("intervention"),
        design=s.text("design"),
        purpose=s.text("purpose"),
        protocol_url=s.text("protocol_url", ""),
        notice_written=s.date("notice_written"),
        disclosure_profile=s.text("disclosure_profile", "acro-default"),
        controller=controller,
        controller_kind=controller_r.text("kind", "organisation"),
        dpo=dpo,
        supervisory_authority=authority,
        lawful_basis=lawful,
        special_category=special,
        source_collection=collection,
        source_description=src_r.text("description"),
        storage=root.table("storage").text("description"),
        windows=windows,
        retention=retention,
        strata=strata,
        local_authorities=las,
        periods=periods,
        primary=primary,
        data_dictionary=dictionary,
        source_sha256=digest,
        analysis_plan=plan,
        plan_sha256=plan_digest,
        raw=raw,
    )


# Files a study names beside itself, with their default (shipped) names.
_COMPANIONS = {"data_dictionary": "data_dictionary.toml", "analysis_plan": "analysis_plan.toml"}


def _companion_text(key: str, name: str, base_dir: Path | None, source: str) -> str:
    if "/" in name or "\\" in name or name.startswith("."):
        raise StudyError(f"{source}: study.{key}: must be a file name beside the study file")
    if base_dir is not None and (base_dir / name).is_file():
        return _read_text(base_dir / name, name)
    shipped = resources.files("cscvault.study") / "data" / name
    if shipped.is_file():
        return shipped.read_text(encoding="utf-8")
    raise StudyError(f"{source}: study.{key}: file '{name}' not found beside the study file")


def parse_data_dictionary(text: str, source: str = "data_dictionary.toml") -> DataDictionary:
    raw = _parse_toml(text, source)
    root = _Reader(source, raw)
    version = root.integer("version")
    seen: set[str] = set()
    categories = []
    for c in root.tables("categories"):
        cid = c.text("id")
        if cid in seen:
            raise c.fail("id", f"category '{cid}' is declared twice")
        seen.add(cid)
        fields = c.texts("fields")
        for f in fields:
            if not _FIELD.match(f):
                raise c.fail("fields", f"'{f}' is not written table.column in lower case")
        specials = []
        for sp in c.tables("special") if "special" in c.data else []:
            sf = SpecialField(field=sp.text("field"), label=sp.text("label"))
            if sf.field not in fields:
                raise sp.fail("field", f"'{sf.field}' is not one of this category's fields")
            specials.append(sf)
        qis = c.texts("quasi_identifiers", ())
        for q in qis:
            if q not in fields:
                raise c.fail("quasi_identifiers", f"'{q}' is not one of this category's fields")
        categories.append(
            Category(
                id=cid,
                label=c.text("label"),
                description=c.text("description"),
                fields=fields,
                special=tuple(specials),
                personal=c.boolean("personal", True),
                quasi_identifiers=qis,
            )
        )
    risk_keys: tuple[str, ...] = ()
    sensitive: list[SpecialField] = []
    if "risk" in raw:
        risk = root.table("risk")
        qis_all = {q for c in categories for q in c.quasi_identifiers}
        all_fields = {f for c in categories for f in c.fields}
        risk_keys = risk.texts("keys")
        for k in risk_keys:
            if k not in qis_all:
                raise risk.fail("keys", f"'{k}' is not marked as a quasi-identifier in any category")
        for sp in risk.tables("sensitive") if "sensitive" in risk.data else []:
            sf = SpecialField(field=sp.text("field"), label=sp.text("label"))
            if sf.field not in all_fields:
                raise sp.fail("field", f"'{sf.field}' is not a field of the data dictionary")
            sensitive.append(sf)
    allowed = {f for c in categories for f in c.fields}
    variables = []
    for name, v in (root.data.get("variables") or {}).items():
        r = _Reader(source, v, f"variables.{name}") if isinstance(v, dict) else None
        if r is None:
            raise StudyError(f"{source}: variables.{name}: must be a table")
        fields = r.texts("fields")
        unknown = [f for f in fields if f not in allowed]
        if unknown:
            raise r.fail("fields", f"'{unknown[0]}' is not a field of any category")
        levels = r.data.get("levels", {})
        if not isinstance(levels, dict) or not all(isinstance(x, str) for x in levels.values()):
            raise r.fail("levels", "must map each coded level to its label (text)")
        variables.append(AnalysisVariable(name, r.text("label"), fields, tuple((str(k), v) for k, v in levels.items())))
    return DataDictionary(
        version=version,
        categories=tuple(categories),
        risk_keys=risk_keys,
        sensitive=tuple(sensitive),
        variables=tuple(variables),
    )


def _windows(w: _Reader) -> Windows:
    windows = Windows(
        data_start=w.date("data_start"),
        data_end=w.date("data_end"),
        trial_start=w.date("trial_start"),
        trial_end=w.date("trial_end"),
    )
    if windows.data_end <= windows.data_start:
        raise w.fail("data_end", "must be after windows.data_start")
    if windows.trial_end <= windows.trial_start:
        raise w.fail("trial_end", "must be after windows.trial_start")
    if not windows.data_start <= windows.trial_start:
        raise w.fail("trial_start", "must be inside the data window")
    if not windows.trial_end <= windows.data_end:
        raise w.fail("trial_end", "must be inside the data window")
    return windows


def _retention(r: _Reader, windows: Windows) -> Retention:
    retention = Retention(
        final_report=r.date("final_report"),
        final_report_label=r.text("final_report_label"),
        delete_by=r.date("delete_by"),
        delete_by_label=r.text("delete_by_label"),
        reason=r.text("reason"),
    )
    if retention.final_report <= windows.data_end:
        raise r.fail("final_report", "must be after the end of the data window")
    if retention.delete_by <= retention.final_report:
        raise r.fail("delete_by", "must be after retention.final_report")
    return retention


def _periods(root: _Reader, windows: Windows) -> tuple[Period, ...]:
    periods: list[Period] = []
    for p in root.tables("periods"):
        period = Period(name=p.text("name"), start=p.date("start"), end=p.date("end"))
        if period.end < period.start:
            raise p.fail("end", "must not be before its start")
        if period.start < windows.trial_start or period.end > windows.trial_end:
            raise p.fail("start", "period must lie inside the trial window")
        if periods:
            prev = periods[-1]
            if period.name in {q.name for q in periods}:
                raise p.fail("name", f"period '{period.name}' is declared twice")
            if period.start != prev.end + dt.timedelta(days=1):
                raise p.fail("start", f"must be the day after the end of period '{prev.name}'")
        periods.append(period)
    return tuple(periods)


def _local_authorities(root: _Reader, windows: Windows, periods: tuple[Period, ...]) -> tuple[LocalAuthority, ...]:
    las: list[LocalAuthority] = []
    starts = {p.start for p in periods}
    for r in root.tables("local_authorities"):
        name = r.text("name")
        la = LocalAuthority(
            name=name,
            ons_code=r.text("ons_code"),
            dfe_code=r.text("dfe_code"),
            go_live=r.date("go_live"),
            stratum=r.text("stratum"),
            notice_name=r.text("notice_name", name),
        )
        if not _ONS.match(la.ons_code):
            raise r.fail("ons_code", "is not an English local authority ONS code (E06/E07/E08/E09/E10 and 6 digits)")
        if not _DFE.match(la.dfe_code):
            raise r.fail("dfe_code", "must be the three-digit DfE LA code")
        for other in las:
            if other.name.casefold() == la.name.casefold():
                raise r.fail("name", f"'{la.name}' is declared twice")
            if other.ons_code == la.ons_code:
                raise r.fail("ons_code", f"'{la.ons_code}' is used by {other.name} too")
            if other.dfe_code == la.dfe_code:
                raise r.fail("dfe_code", f"'{la.dfe_code}' is used by {other.name} too")
        if not windows.trial_start <= la.go_live <= windows.trial_end:
            raise r.fail("go_live", "must be inside the trial window")
        if la.go_live not in starts:
            raise r.fail("go_live", "must be the start date of one of the periods")
        las.append(la)
    return tuple(las)


def _strata(root: _Reader, las: tuple[LocalAuthority, ...]) -> tuple[Stratum, ...]:
    rnd = root.table("randomisation")
    strata = []
    for s in rnd.tables("strata"):
        wedges = s._get("wedges", list, "a list of wedge numbers")
        if not wedges or not all(isinstance(w, int) and not isinstance(w, bool) for w in wedges):
            raise s.fail("wedges", "must be a non-empty list of wedge numbers")
        strata.append(Stratum(name=s.text("name"), wedges=tuple(wedges)))
    names = [s.name for s in strata]
    if len(set(names)) != len(names):
        raise rnd.fail("strata", "stratum names must be unique")
    all_wedges = sorted(w for s in strata for w in s.wedges)
    if all_wedges != list(range(1, len(las) + 1)):
        raise rnd.fail("strata", f"wedges must be 1..{len(las)}, each in exactly one stratum")
    order = sorted(las, key=lambda la: la.go_live)
    for i, la in enumerate(order, start=1):
        stratum = next((s for s in strata if s.name == la.stratum), None)
        if stratum is None:
            raise StudyError(f"{root.source}: local_authorities: {la.name}: stratum '{la.stratum}' is not declared")
        if i not in stratum.wedges:
            raise StudyError(
                f"{root.source}: local_authorities: {la.name}: goes live in wedge {i}, "
                f"which is not a wedge of stratum '{stratum.name}'"
            )
    if len({la.go_live for la in las}) != len(las):
        raise StudyError(f"{root.source}: local_authorities: two LAs share a go-live date")
    return tuple(strata)
