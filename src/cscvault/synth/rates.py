"""Per-LA base rates of the synthetic returns (package data `base_rates.toml`, keyed by ONS code)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from cscvault.errors import UsageError
from cscvault.study.model import LocalAuthority, Study

ETHNIC_GROUPS = ("white", "mixed", "asian", "black", "other")


@dataclass(frozen=True)
class CommonRates:
    all_age_multiplier: float
    rereferral_12m_england: float
    disability_share: float
    fsm_share_children_in_need: float
    unauthorised_absence_share: float
    authorised_absence_share: float
    dr1_fsm_missing: float
    care_trend_per_year: float
    cpp_duration_ratio: float
    rereferral_parental_or: float
    return_after_cpp_or: float
    proceedings_16wk_or: float
    unauthorised_absence_ratio: float
    kinship_placement_or: float


@dataclass(frozen=True)
class LARates:
    la: LocalAuthority
    key: str  # file-name key, e.g. "telford"
    children_0_12_per_year: float
    unborn_share: float
    baseline_care_18m: float
    cpp_rate: float
    pre_proceedings_rate: float
    care_proceedings_rate: float
    population_0_17: int
    cla_stock_2019: int
    fsm_share_pupils: float
    ethnicity: tuple[float, ...]  # shares in ETHNIC_GROUPS order
    missing: dict[str, float]
    postcode_areas: tuple[str, ...]
    child_id_prefix: str
    child_id_digits: int
    child_id_start: int
    referral_id_prefix: str
    referral_id_digits: int
    quirks: dict[str, tuple[str, ...]]

    def quirk(self, name: str, return_name: str | None = None) -> bool:
        """Whether quirk `name` applies (to `return_name`, when the quirk is per return)."""
        if name not in self.quirks:
            return False
        scope = self.quirks[name]
        return not scope or return_name is None or return_name in scope


@dataclass(frozen=True)
class Rates:
    common: CommonRates
    las: tuple[LARates, ...]


def la_key(la: LocalAuthority) -> str:
    """Lower-case first word of the LA name, as the real file names use ("telford", "walsall")."""
    return la.name.split()[0].casefold()


def _raw() -> dict[str, Any]:
    text = resources.files("cscvault.synth").joinpath("base_rates.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def load_rates(study: Study) -> Rates:
    """Base rates for every LA of `study`; an LA without rates is a usage error naming its code."""
    raw = _raw()
    common = CommonRates(**{k: float(v) for k, v in raw["common"].items()})
    table = raw["la"]
    las: list[LARates] = []
    for la in study.local_authorities:
        row = table.get(la.ons_code)
        if row is None:
            raise UsageError(f"synth: no base rates for local authority {la.ons_code} in synth/base_rates.toml")
        eth = tuple(float(row["ethnicity"][g]) for g in ETHNIC_GROUPS)
        total = sum(eth)
        las.append(
            LARates(
                la=la,
                key=la_key(la),
                children_0_12_per_year=float(row["children_0_12_per_year"]),
                unborn_share=float(row["unborn_share"]),
                baseline_care_18m=float(row["baseline_care_18m"]),
                cpp_rate=float(row["cpp_rate"]),
                pre_proceedings_rate=float(row["pre_proceedings_rate"]),
                care_proceedings_rate=float(row["care_proceedings_rate"]),
                population_0_17=int(row["population_0_17"]),
                cla_stock_2019=int(row["cla_stock_2019"]),
                fsm_share_pupils=float(row["fsm_share_pupils"]),
                ethnicity=tuple(e / total for e in eth),
                missing={k: float(v) for k, v in row["missing"].items()},
                postcode_areas=tuple(row["postcode_areas"]),
                child_id_prefix=str(row["child_id"]["prefix"]),
                child_id_digits=int(row["child_id"]["digits"]),
                child_id_start=int(row["child_id"]["start"]),
                referral_id_prefix=str(row["referral_id"]["prefix"]),
                referral_id_digits=int(row["referral_id"]["digits"]),
                quirks={k: tuple(v) for k, v in row.get("quirks", {}).items()},
            )
        )
    return Rates(common=common, las=tuple(las))
