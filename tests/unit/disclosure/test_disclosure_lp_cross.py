"""Generated flow and rates tables with declared relations and links, checked as the airlock checks a release
(`release_checks.check_outputs`): the independent LP attacker (tests/lp_attacker.py) recovers no withheld
count across the two linked tables of one release, nor across two releases (it holds every published
version). Checked without the link or without the earlier release, it recovers counts (the tests can fail).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cscvault.disclosure import release_checks as rc
from cscvault.disclosure.check import EarlierTable
from cscvault.disclosure.profiles import get_profile
from cscvault.report.relations import FLOW_RATES_LINKS, FLOW_RELATIONS, RATES_RELATIONS
from tests.lp_attacker import Knowledge, flow_arithmetic, flow_rates_link, rates_arithmetic

FLOW_COUNTS = [
    "referred_in_window", "excluded_age", "excluded_care_before_referral", "in_sample", "censored", "analysed",
    "events", "first_referral_ties", "age_missing",
]  # fmt: skip
LABELS = {"flow.csv": ["la"], "rates.csv": ["la", "period"]}
COUNTS = {"flow.csv": FLOW_COUNTS, "rates.csv": ["children", "events"]}
META: dict[str, dict[str, Any]] = {
    "flow.csv": {"relations": [r.as_dict() for r in FLOW_RELATIONS], "links": [k.as_dict() for k in FLOW_RATES_LINKS]},
    "rates.csv": {"relations": [r.as_dict() for r in RATES_RELATIONS]},
}
SEEDS = range(8)
PROFILES = ("dfe", "acro-default")


def tables(seed: int, las: int = 4, periods: int = 5) -> dict[str, bytes]:
    """A flow table and a rates table on the same children: the flow's analysed and events per LA are the
    sums of the rates' children and events over periods."""
    rng = np.random.default_rng(seed)
    rates, flow = [], []
    for i in range(las):
        la = f"LA{i}"
        children = [int(rng.integers(3, 60)) for _ in range(periods)]
        events = [int(rng.integers(0, min(c, 9) + 1)) for c in children]
        rates += [
            {"la": la, "period": f"p{p}", "events": e, "children": c}
            for p, (c, e) in enumerate(zip(children, events, strict=True))
        ]
        analysed, censored = sum(children), int(rng.integers(0, 12))
        in_sample = analysed + censored
        row = {
            "la": la, "excluded_age": int(rng.integers(1, 40)), "excluded_care_before_referral": int(rng.integers(0, 20)),
            "in_sample": in_sample, "censored": censored, "analysed": analysed, "events": sum(events),
            "first_referral_ties": int(rng.integers(0, 12)), "age_missing": int(rng.integers(0, 9)),
        }  # fmt: skip
        row["referred_in_window"] = row["excluded_age"] + row["excluded_care_before_referral"] + in_sample
        flow.append(row)
    return {
        "flow.csv": pd.DataFrame(flow)[["la", *FLOW_COUNTS]].to_csv(index=False).encode(),
        "rates.csv": pd.DataFrame(rates).to_csv(index=False).encode(),
    }


def release(
    data: dict[str, bytes], names: list[str], profile: str, published: list[EarlierTable] | None = None,
    links: bool = True,
) -> dict[str, bytes]:  # fmt: skip
    """The released bytes of a release of `names`, checked as the airlock checks them."""
    items = [
        rc.Requested(n, data[n], META[n] if links else {k: v for k, v in META[n].items() if k != "links"})
        for n in names
    ]
    checks = rc.check_outputs(items, get_profile(profile), published=published or [])
    out = {}
    for c in checks:
        assert c.released is not None, c.reasons
        out[c.name] = c.released
    return out


def earlier(release_id: str, data: dict[str, bytes], released: dict[str, bytes]) -> list[EarlierTable]:
    found = [rc.earlier_table(f"{release_id}/{n}", n, data[n], released[n], META[n]) for n in released]
    return [t for t in found if t is not None]


def attack(data: dict[str, bytes], *releases: dict[str, bytes]) -> list[Any]:
    k = Knowledge()
    for released in releases:
        for name, shown in released.items():
            truth_frame = pd.read_csv(io.BytesIO(data[name]), dtype=str)
            truth = {
                (tuple(r[c] for c in LABELS[name]), col): float(r[col])
                for _, r in truth_frame.iterrows() for col in COUNTS[name]
            }  # fmt: skip
            rows = pd.read_csv(io.BytesIO(shown), dtype={c: str for c in LABELS[name]}).to_dict("records")
            k.see(name, rows, LABELS[name], COUNTS[name], truth)
    flow_arithmetic(k, "flow.csv")
    rates_arithmetic(k, "rates.csv")
    flow_rates_link(k, "flow.csv", "rates.csv")
    return k.recovered()


def withheld(*releases: dict[str, bytes]) -> int:
    return sum(int(pd.read_csv(io.BytesIO(b)).isna().sum().sum()) for r in releases for b in r.values())


@pytest.mark.parametrize("profile", PROFILES)
def test_one_release_of_two_linked_tables_recovers_nothing(profile: str) -> None:
    for seed in SEEDS:
        data = tables(seed)
        shown = release(data, ["flow.csv", "rates.csv"], profile)
        assert withheld(shown) > 0
        assert attack(data, shown) == [], f"seed {seed}"


@pytest.mark.parametrize("profile", PROFILES)
def test_without_the_link_a_count_is_recovered(profile: str) -> None:
    leaks = [
        seed
        for seed in SEEDS
        if attack(data := tables(seed), release(data, ["flow.csv", "rates.csv"], profile, links=False))
    ]
    assert leaks, "no seed leaks without the link: the test would not notice a missing link"


@pytest.mark.parametrize("profile", PROFILES)
def test_two_releases_recover_nothing(profile: str) -> None:
    """Rates first; then the flow table, linked to the rates an earlier release published. And the flow
    first, then flow and rates together (the attacker holds both versions of the flow table)."""
    for seed in SEEDS:
        data = tables(seed)
        first = release(data, ["rates.csv"], profile)
        second = release(data, ["flow.csv"], profile, earlier("REL-1", data, first))
        assert attack(data, first, second) == [], f"seed {seed}: rates then flow"
        first = release(data, ["flow.csv"], profile)
        second = release(data, ["flow.csv", "rates.csv"], profile, earlier("REL-1", data, first))
        assert attack(data, first, second) == [], f"seed {seed}: flow then flow and rates"


@pytest.mark.parametrize("profile", PROFILES)
def test_without_the_earlier_release_a_count_is_recovered(profile: str) -> None:
    leaks = []
    for seed in SEEDS:
        data = tables(seed)
        first = release(data, ["rates.csv"], profile)
        second = release(data, ["flow.csv"], profile)  # checked as if nothing had been published before
        if attack(data, first, second):
            leaks.append(seed)
    assert leaks, "no seed leaks without the earlier release: the test would not notice it missing"


def test_the_joint_check_is_deterministic() -> None:
    data = tables(3)
    first = release(data, ["rates.csv"], "dfe")
    again = [release(data, ["flow.csv", "rates.csv"], "dfe", earlier("REL-1", data, first)) for _ in range(2)]
    assert again[0] == again[1]
