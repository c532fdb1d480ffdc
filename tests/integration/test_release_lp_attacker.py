"""On the demo's real flow and rates tables, requested and approved through the airlock: an independent LP
attacker (tests/lp_attacker.py) recovers no withheld count, within one table, across the two tables of one
release (linked: the flow's analysed and events per LA are the rates' sums over periods), and across two
releases (the flow table approved first, then flow and rates: the attacker holds both published versions).
Checked without the cross-table and cross-release protection, the same tables leak (so these tests can fail).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cscvault import api
from cscvault.disclosure import release_checks as rc
from cscvault.disclosure.profiles import get_profile
from cscvault.synth.generate import generate
from cscvault.vault import Credentials
from tests.helpers import PASSWORD
from tests.lp_attacker import Knowledge, flow_arithmetic, flow_rates_link, rates_arithmetic

ADMIN = Credentials("admin", PASSWORD)
ANALYST = Credentials("ana", "analyst password 1")
CHECKER = Credentials("cheq", "checker password 1")
FLOW_COUNTS = [
    "referred_in_window", "excluded_age", "excluded_care_before_referral", "in_sample", "censored", "analysed",
    "events", "first_referral_ties", "age_missing",
]  # fmt: skip
LABELS = {"flow.csv": ["la"], "rates.csv": ["la", "period"]}
COUNTS = {"flow.csv": FLOW_COUNTS, "rates.csv": ["children", "events"]}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A demo-size vault, analysed (its outputs stored inside), with an analyst and a checker."""
    root = tmp_path_factory.mktemp("lp")
    summary = generate(root / "synth", seed=7, children=3000, clean=True)
    vault = api.init_vault(root / "v", PASSWORD).path
    api.add_user(vault, ADMIN, ANALYST.user, "analyst", ANALYST.secret)
    api.add_user(vault, ADMIN, CHECKER.user, "checker", CHECKER.secret)
    api.ingest(vault, ADMIN, [summary.returns_dir])
    out = api.analyse(vault, ANALYST)
    yield vault, out.run.run_id


def _frame(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), dtype={"la": str, "period": str})


def _truth(data: bytes, name: str) -> dict[tuple[tuple[str, ...], str], float]:
    frame = _frame(data)
    return {
        (tuple(str(r[c]) for c in LABELS[name]), col): float(r[col])
        for _, r in frame.iterrows()
        for col in COUNTS[name]
    }


def _see(k: Knowledge, name: str, released: bytes, content: bytes) -> None:
    rows = _frame(released).to_dict("records")
    k.see(name, rows, LABELS[name], COUNTS[name], _truth(content, name))


def _attack(k: Knowledge) -> list[Any]:
    flow_arithmetic(k, "flow.csv")
    rates_arithmetic(k, "rates.csv")
    flow_rates_link(k, "flow.csv", "rates.csv")
    return k.recovered()


def _release(vault: Path, run: str, names: list[str]) -> dict[str, tuple[bytes, bytes]]:
    """Request (analyst) and approve (checker) a release of run outputs: (requested, released) bytes by name."""
    release = api.release_request(vault, ANALYST, [f"{run}:{n}" for n in names], "lp attacker test")
    out = {}
    for f in api.release_show(vault, CHECKER, release.release_id).outputs:
        got = api.release_file(vault, CHECKER, release.release_id, f.position)
        assert got.released is not None
        out[f.name] = (got.content, got.released)
    api.release_approve(vault, CHECKER, release.release_id, "checked by the LP test")
    return out


def test_demo_flow_alone_then_with_rates_then_both_releases(demo: tuple[Path, str]) -> None:
    vault, run = demo
    first = _release(vault, run, ["flow.csv"])
    k = Knowledge()
    _see(k, "flow.csv", first["flow.csv"][1], first["flow.csv"][0])
    assert any(c not in k.published for c in k.truth)  # the flow table withholds cells: not vacuous
    assert _attack(k) == []  # (a) within one table

    second = _release(vault, run, ["flow.csv", "rates.csv"])
    one = Knowledge()  # (b) across the two linked tables of one release
    for name, (content, released) in second.items():
        _see(one, name, released, content)
    assert _attack(one) == []

    both = Knowledge()  # (c) across two releases: both published versions of the flow table
    _see(both, "flow.csv", first["flow.csv"][1], first["flow.csv"][0])
    for name, (content, released) in second.items():
        _see(both, name, released, content)
    assert _attack(both) == []


def _alone(name: str, data: bytes, meta: Mapping[str, Any]) -> bytes:
    """The released version as the check gave it before cross-table links (each table on its own)."""
    (check,) = rc.check_outputs([rc.Requested(name, data, {k: v for k, v in meta.items() if k != "links"})],
                                get_profile("acro-default"))  # fmt: skip
    assert check.released is not None
    return check.released


def test_without_the_links_the_demo_tables_leak(demo: tuple[Path, str]) -> None:
    """Each table checked alone (no link between flow and rates): subtraction across them recovers a count."""
    vault, run = demo
    k = Knowledge()
    for name in ("flow.csv", "rates.csv"):
        stored, data = api.run_output(vault, ANALYST, run, name)
        _see(k, name, _alone(name, data, stored.meta), data)
    assert _attack(k) != []
