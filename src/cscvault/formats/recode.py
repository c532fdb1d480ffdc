"""Recoding raw values through code tables kept as data (`cscvault/formats/codes/*.toml`).

Every value is one of: mapped, declared missing (the table's explicit NA policy), legacy (mapped and
reported) or unmapped (a finding under the table's rule id, never a silent missing).
Labels are matched whole after normalisation (case, punctuation, bullet prefixes such as "a) "),
never by substring.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

from cscvault.formats.base import normalise_label

Kind = Literal["code", "bool", "count"]
Status = Literal["ok", "missing", "legacy", "unmapped"]

_BULLET = re.compile(r"^\s*[A-Za-z]{1,2}\)\s+")
_LIST_SPLIT = re.compile(r"[,;|\n]+")

TABLE_NAMES = (
    "gender",
    "ethnicity",
    "disability",
    "uasc",
    "nfa",
    "previous_cpps",
    "assessment_outcome",
    "factors",
    "legal_status",
    "placement",
    "reason_start",
    "reason_end",
    "referral_source",
    "abuse_category",
    "yes_no",
    "s47_outcome",
)


def key(text: str) -> str:
    """The comparison key of a raw value or a table entry."""
    return normalise_label(_BULLET.sub("", text))


@dataclass(frozen=True)
class CodeTable:
    name: str
    rule: str
    kind: Kind
    mapping: dict[str, str]
    legacy: dict[str, str]
    missing: frozenset[str]
    groups: dict[str, str] = field(default_factory=dict)
    flags: dict[str, frozenset[str]] = field(default_factory=dict)
    years: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)

    def valid_in(self, code: str, census_year: int | None) -> bool:
        """Whether a canonical code belongs to the collection ending in `census_year` (unknown: yes)."""
        span = self.years.get(code)
        if span is None or census_year is None:
            return True
        lo, hi = span
        return (lo is None or census_year >= lo) and (hi is None or census_year <= hi)

    def convert(self, canonical: str) -> object:
        if self.kind == "bool":
            return canonical == "true"
        if self.kind == "count":
            return int(canonical)
        return canonical


@dataclass(frozen=True)
class Recoded:
    value: object | None
    status: Status


@functools.cache
def table(name: str) -> CodeTable:
    """Load one code table (cached)."""
    if name not in TABLE_NAMES:
        raise KeyError(f"unknown code table '{name}'")
    text = (resources.files("cscvault.formats") / "codes" / f"{name}.toml").read_text(encoding="utf-8")
    raw: dict[str, Any] = tomllib.loads(text)
    mapping = {key(k): str(v) for k, v in raw.get("map", {}).items()}
    for code in raw.get("codes", []):
        mapping.setdefault(key(code), code)
    for canonical in set(mapping.values()) if raw.get("kind", "code") == "code" else ():
        # A canonical code is always accepted as itself.
        mapping.setdefault(key(canonical), canonical)
    flags = {k: frozenset(v) for k, v in raw.items() if k in {"kinship", "returned_home"}}
    return CodeTable(
        name=raw["name"],
        rule=raw["rule"],
        kind=raw.get("kind", "code"),
        mapping=mapping,
        legacy={key(k): str(v) for k, v in raw.get("legacy", {}).items()},
        missing=frozenset(key(m) for m in raw.get("missing", [])) | {""},
        groups=dict(raw.get("groups", {})),
        flags=flags,
        years={code: (span.get("from"), span.get("until")) for code, span in raw.get("years", {}).items()},
    )


def recode(table_name: str, raw: object | None) -> Recoded:
    """Recode one raw value."""
    if raw is None:
        return Recoded(None, "missing")
    t = table(table_name)
    k = key(str(raw))
    if k in t.missing:
        return Recoded(None, "missing")
    if k in t.mapping:
        return Recoded(t.convert(t.mapping[k]), "ok")
    if k in t.legacy:
        return Recoded(t.convert(t.legacy[k]), "legacy")
    if t.kind == "count":
        try:
            number = float(str(raw).strip())
        except ValueError:
            number = -1.0
        if 0 <= number < 1000 and number.is_integer():
            return Recoded(int(number), "ok")
    return Recoded(None, "unmapped")


@dataclass(frozen=True)
class RecodedFactors:
    codes: tuple[str, ...]
    legacy: bool
    unmapped: int


def recode_factors(raw: object | None) -> RecodedFactors:
    """Split a factor list (codes or words, any common separator) into sorted distinct codes."""
    if raw is None:
        return RecodedFactors((), False, 0)
    t = table("factors")
    found: set[str] = set()
    legacy = False
    unmapped = 0
    for piece in _LIST_SPLIT.split(str(raw)):
        k = key(piece)
        if not k or k in t.missing:
            continue
        if k in t.mapping:
            found.add(t.mapping[k])
            continue
        if k in t.legacy:
            found.add(t.legacy[k])
            legacy = True
            continue
        # "1B 2B 3A": a space-separated list of codes.
        parts = k.split()
        if parts and all(p in t.mapping or p in t.legacy for p in parts):
            for p in parts:
                legacy = legacy or p in t.legacy
                found.add(t.mapping.get(p) or t.legacy[p])
            continue
        unmapped += 1
    return RecodedFactors(tuple(sorted(found, key=_factor_order)), legacy, unmapped)


def _factor_order(code: str) -> tuple[int, str]:
    digits = "".join(ch for ch in code if ch.isdigit())
    return (int(digits) if digits else 0, code)


def ethnicity_group(code: str | None) -> str | None:
    """The five analysis groups (White, Mixed, Asian, Black, Other); None for REFU/NOBT/missing."""
    if code is None:
        return None
    return table("ethnicity").groups.get(code)


def is_kinship(placement: str | None) -> bool | None:
    if placement is None:
        return None
    return placement in table("placement").flags["kinship"]


def is_return_home(reason_end: str | None) -> bool | None:
    if reason_end is None:
        return None
    return reason_end in table("reason_end").flags["returned_home"]
