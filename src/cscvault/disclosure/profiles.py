"""Named, versioned disclosure-control profiles (one TOML file shipped as package data)."""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from cscvault.errors import UsageError

PROFILES_FILE = "profiles.toml"
DEFAULT_PROFILE = "acro-default"
# "declared": a zero the table declares structural (an impossible combination) is not "none of the group";
# "none": no zero is exempt.
STRUCTURAL_ZEROS = ("declared", "none")


@dataclass(frozen=True)
class Profile:
    """One risk appetite. `version` is the version of the profiles file it came from."""

    name: str
    version: str
    description: str
    source: str
    min_count: int
    zeros_disclosive: bool
    nk_n: int | None
    nk_k: float | None
    p_ratio: float | None
    min_dof: int
    round_base: int
    protection: int
    percent_decimals: int
    # Class disclosure: a count in a group of known size N > 0 fails when fewer than `class_threshold` of
    # the group are outside it (40 of 40; 0 turns the rule off), and a zero in such a group fails ("none of
    # the 40") unless the table declares it structural and `structural_zeros` is "declared".
    class_threshold: int = 1
    structural_zeros: str = "declared"

    @property
    def stamp(self) -> dict[str, str]:
        """What every output carries so a reader knows which rules made it."""
        return {"profile": self.name, "profile_version": self.version}

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "source": self.source,
            "min_count": self.min_count,
            "zeros_disclosive": self.zeros_disclosive,
            "nk_n": self.nk_n,
            "nk_k": self.nk_k,
            "p_ratio": self.p_ratio,
            "min_dof": self.min_dof,
            "round_base": self.round_base,
            "protection": self.protection,
            "percent_decimals": self.percent_decimals,
            "class_threshold": self.class_threshold,
            "structural_zeros": self.structural_zeros,
        }

    def as_acro_config(self) -> dict[str, Any]:
        """The profile in the key names of ACRO's `config.json` (risk appetite)."""
        return {
            "safe_threshold": self.min_count,
            "safe_dof_threshold": self.min_dof,
            "safe_nk_n": self.nk_n,
            "safe_nk_k": self.nk_k,
            "safe_pratio_p": self.p_ratio,
            "check_missing_values": False,
            "survival_safe_threshold": self.min_count,
            "zeros_are_disclosive": self.zeros_disclosive,
            "safe_round_base": self.round_base,
        }


def _shipped_text() -> tuple[str, str]:
    resource = resources.files("cscvault.disclosure") / "data" / PROFILES_FILE
    return str(resource), resource.read_text(encoding="utf-8")


def _number(source: str, key: str, value: Any, kind: type, low: float, high: float | None) -> Any:
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok, value = True, float(value)
    if not ok or value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise UsageError(f"{source}: {key}: must be a {kind.__name__} {bound}")
    return value


def _parse_profile(source: str, version: str, name: str, raw: Mapping[str, Any]) -> Profile:
    where = f"profiles.{name}"
    required = ("description", "min_count", "zeros_disclosive", "min_dof", "round_base", "protection")
    for key in (*required, "class_threshold", "structural_zeros"):
        if key not in raw:
            raise UsageError(f"{source}: {where}.{key}: is missing")
    if not isinstance(raw["zeros_disclosive"], bool):
        raise UsageError(f"{source}: {where}.zeros_disclosive: must be true or false")
    if raw["structural_zeros"] not in STRUCTURAL_ZEROS:
        raise UsageError(f"{source}: {where}.structural_zeros: one of {', '.join(STRUCTURAL_ZEROS)}")
    if ("nk_n" in raw) != ("nk_k" in raw):
        raise UsageError(f"{source}: {where}: nk_n and nk_k go together")
    known = {
        "description",
        "source",
        "min_count",
        "zeros_disclosive",
        "nk_n",
        "nk_k",
        "p_ratio",
        "min_dof",
        "round_base",
        "protection",
        "percent_decimals",
        "class_threshold",
        "structural_zeros",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise UsageError(f"{source}: {where}.{unknown[0]}: unknown key")
    return Profile(
        name=name,
        version=version,
        description=str(raw["description"]),
        source=str(raw.get("source", "")),
        min_count=_number(source, f"{where}.min_count", raw["min_count"], int, 1, None),
        zeros_disclosive=raw["zeros_disclosive"],
        nk_n=_number(source, f"{where}.nk_n", raw["nk_n"], int, 1, None) if "nk_n" in raw else None,
        nk_k=_number(source, f"{where}.nk_k", raw["nk_k"], float, 0.0, 1.0) if "nk_k" in raw else None,
        p_ratio=_number(source, f"{where}.p_ratio", raw["p_ratio"], float, 0.0, None) if "p_ratio" in raw else None,
        min_dof=_number(source, f"{where}.min_dof", raw["min_dof"], int, 0, None),
        round_base=_number(source, f"{where}.round_base", raw["round_base"], int, 1, None),
        protection=_number(source, f"{where}.protection", raw["protection"], int, 0, None),
        percent_decimals=_number(source, f"{where}.percent_decimals", raw.get("percent_decimals", 1), int, 0, 6),
        class_threshold=_number(source, f"{where}.class_threshold", raw["class_threshold"], int, 0, None),
        structural_zeros=str(raw["structural_zeros"]),
    )


def parse_profiles(text: str, source: str = PROFILES_FILE) -> dict[str, Profile]:
    """Parse a profiles file; every error names the file and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source}: not valid TOML ({exc})") from None
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        raise UsageError(f"{source}: version: must be a non-empty string")
    raw_profiles = data.get("profiles")
    if not isinstance(raw_profiles, dict) or not raw_profiles:
        raise UsageError(f"{source}: profiles: at least one profile is needed")
    profiles: dict[str, Profile] = {}
    for name, raw in raw_profiles.items():
        if not isinstance(raw, dict):
            raise UsageError(f"{source}: profiles.{name}: must be a table")
        profiles[name] = _parse_profile(source, version, name, raw)
    return profiles


@functools.cache
def _shipped_profiles() -> dict[str, Profile]:
    """The shipped profiles, parsed once per process (every checked table asks for its profile)."""
    source, text = _shipped_text()
    return parse_profiles(text, source)


def load_profiles(path: Path | None = None) -> dict[str, Profile]:
    """All profiles: the shipped file, or another profiles file a TRE supplies."""
    if path is None:
        return dict(_shipped_profiles())  # a copy: callers may not change the cached set
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise UsageError(f"{path}: cannot read the profiles file") from None
    return parse_profiles(text, str(path))


def profile_names(path: Path | None = None) -> list[str]:
    return sorted(load_profiles(path))


def get_profile(profile: str | Profile, path: Path | None = None) -> Profile:
    """A profile by name (or pass a `Profile` through). Unknown names are a one-line UsageError."""
    if isinstance(profile, Profile):
        return profile
    profiles = load_profiles(path)
    if profile not in profiles:
        raise UsageError(f"unknown disclosure profile {profile!r}; known: {', '.join(sorted(profiles))}")
    return profiles[profile]
