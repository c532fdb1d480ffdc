"""cscvault's DfE CIN rules against the data-to-insight validator's verdicts, rule by rule, record by record.

The verdicts were recorded by running the validator (csc-validator-be-cin at 1bf6f22) on the same
files (`tests/data/dfe_cin/run_validator.py`); each names the rule and the XPath of the record. For every
rule cscvault implements, the records it flags must be exactly the validator's, except the differences
listed, with reasons, in `divergences.toml` (validator defects; each must still happen).
"""

from __future__ import annotations

import json
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest

from cscvault.la.dfe_cin import PREFIX, all_rules, dfe_cin_findings
from cscvault.la.dfe_cin.checks import CHECKS

DATA = Path(__file__).resolve().parents[1] / "data" / "dfe_cin"
VERDICTS = sorted((DATA / "verdicts").glob("*.json"))
RETURN = "RETURN"  # a rule about the return as a whole (no record)


def _divergences() -> dict[str, set[tuple[str, str, str]]]:
    """verdict file stem -> {(side, rule, xpath)}."""
    out: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    for d in tomllib.loads((DATA / "divergences.toml").read_text(encoding="utf-8"))["divergence"]:
        for stem in d["files"]:
            out[stem] |= {(d["side"], d["rule"], x) for x in d["xpaths"]}
    return out


def _theirs(verdict: dict[str, object]) -> set[tuple[str, str]]:
    crashed = set(verdict["crashed_rules"])  # type: ignore[arg-type]
    issues = verdict["issues"]
    assert isinstance(issues, list)
    found = {(i["rule"], i["xpath"]) for i in issues if i["rule"] in CHECKS and i["rule"] not in crashed}
    assert all(x for _, x in found), "every validator issue of an implemented rule has a record"
    found |= {(r, RETURN) for r in verdict["return_level_rules"] if r in CHECKS}  # type: ignore[attr-defined]
    return found


def _ours(verdict: dict[str, object], *, every_rule: bool = False) -> set[tuple[str, str]]:
    crashed = set() if every_rule else set(verdict["crashed_rules"])  # type: ignore[arg-type]
    findings = dfe_cin_findings(DATA / str(verdict["file"]), year=int(str(verdict["census_year"])))
    out = set()
    for f in findings:
        code = f.rule_id.removeprefix(PREFIX)
        if code not in crashed:
            out.add((code, RETURN if f.location in ("/Message", "/Message/Header") else f.location))
    return out


def test_the_verdicts_cover_the_fixtures_and_the_rule_cases() -> None:
    names = {json.loads(p.read_text())["file"] for p in VERDICTS}
    assert names == {
        "CIN_Census_2021.xml",
        "CIN_Census_2024.xml",
        "CIN_Census_2026.xml",
        "fake_CIN_data.xml",
        "rule_cases_2024.xml",
        "rule_cases_2025.xml",
        "return_cases_2025.xml",
    }


@pytest.mark.parametrize("path", VERDICTS, ids=[p.stem for p in VERDICTS])
def test_same_rules_fire_on_the_same_records_as_the_validator(path: Path) -> None:
    verdict = json.loads(path.read_text(encoding="utf-8"))
    theirs, ours = _theirs(verdict), _ours(verdict)
    expected = _divergences().get(path.stem, set())
    only_ours = {("ours", r, x) for r, x in ours - theirs}
    only_theirs = {("theirs", r, x) for r, x in theirs - ours}
    assert only_ours | only_theirs == expected
    assert ours & theirs or not theirs  # agreement is on records, not on two empty sets


def test_every_implemented_rule_fires_somewhere_and_agrees_or_is_explained() -> None:
    """Each implemented rule is exercised by at least one file; where both fire they agree (above), and a
    rule that only cscvault fires is one the validator cannot fire on XML input (divergences.toml)."""
    agreed: set[str] = set()
    ours_any: set[str] = set()
    for path in VERDICTS:
        verdict = json.loads(path.read_text(encoding="utf-8"))
        theirs, ours = _theirs(verdict), _ours(verdict)
        agreed |= {r for r, _ in theirs & ours}
        ours_any |= {r for r, _ in _ours(verdict, every_rule=True)}
    assert ours_any >= set(CHECKS), sorted(set(CHECKS) - ours_any)
    explained = {d["rule"] for d in tomllib.loads((DATA / "divergences.toml").read_text())["divergence"]}
    crashed = {r for p in VERDICTS for r in json.loads(p.read_text())["crashed_rules"]}
    assert set(CHECKS) - agreed <= explained | crashed, sorted(set(CHECKS) - agreed - explained - crashed)
    assert len(agreed) >= 89  # measured: 89 of the 98 implemented rules agree on at least one record


def test_the_catalogue_is_the_validators_rule_packs() -> None:
    """rules.toml lists exactly the rules of the validator's 2022/23 to 2025/26 packs, in their years."""
    packs: dict[str, set[str]] = {}
    for path in VERDICTS:
        verdict = json.loads(path.read_text(encoding="utf-8"))
        packs[verdict["ruleset"]] = set(verdict["rules_in_ruleset"])
    years = {"cin2022_23": 2023, "cin2023_24": 2024, "cin2024_25": 2025, "cin2025_26": 2026}
    for pack, codes in packs.items():
        assert {r.code for r in all_rules() if r.applies(years[pack])} == codes, pack
