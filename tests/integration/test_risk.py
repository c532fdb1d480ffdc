"""`cscvault risk` on a synthetic vault: a planted unique child, generalisation against an independent count
in SQL, the what-if re-fits, roles and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cscvault import api
from cscvault.disclosure.profiles import get_profile
from cscvault.disclosure.rules import round_to_base
from cscvault.errors import DataError, PermissionDenied, UsageError
from cscvault.formats.recode import table
from cscvault.risk.frequencies import encode_keys, frequencies
from cscvault.risk.individual import individual_risk
from cscvault.risk.keyframe import dfe_year, load_key_frame, population_weights
from cscvault.risk.recode import apply_to_key_frame, candidate
from cscvault.synth.generate import generate
from cscvault.vault import Credentials
from tests.helpers import PASSWORD, open_raw_vault

ADMIN = Credentials("admin", PASSWORD)
DPO = Credentials("dee", "dpo password 123")
ANALYST = Credentials("ana", "analyst password 1")
KEYS = ["la_code", "gender", "ethnicity", "disability", "uasc"]
PLANTED = {"gender": "indeterminate", "ethnicity": "GRTH", "disability": True, "uasc": True}


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("risk")
    summary = generate(root / "synth", seed=11, children=800, clean=True)
    path = api.init_vault(root / "v", PASSWORD).path
    api.add_user(path, ADMIN, "dee", "dpo", DPO.secret)
    api.add_user(path, ADMIN, "ana", "analyst", ANALYST.secret)
    api.ingest(path, ADMIN, [summary.returns_dir])
    with open_raw_vault(path, ADMIN) as v:
        key = str(v.con.execute("SELECT min(child_key) FROM main.children").fetchone()[0])  # type: ignore[index]
        v.con.execute(
            "UPDATE main.children SET gender = ?, ethnicity = ?, disability = ?, uasc = ? WHERE child_key = ?",
            [PLANTED["gender"], PLANTED["ethnicity"], PLANTED["disability"], PLANTED["uasc"], key],
        )
    return path, key


def _wildcard_count_sql(ethnicity: str) -> str:
    """fk by a self-join: two children match when every key agrees or is missing on either side."""
    on = (
        " AND ".join(f"(a.{k} = b.{k} OR a.{k} IS NULL OR b.{k} IS NULL)" for k in KEYS if k != "ethnicity")
        + f" AND ({ethnicity.format('a')} = {ethnicity.format('b')} OR a.ethnicity IS NULL OR b.ethnicity IS NULL)"
    )
    return (
        "SELECT a.child_key, count(*) AS fk FROM analysis.children a JOIN analysis.children b ON "
        + on
        + " GROUP BY a.child_key"
    )


def test_planted_child_is_unique_and_ranked_first(vault: tuple[Path, str]) -> None:
    path, key = vault
    with open_raw_vault(path, ADMIN) as v:
        sql_fk = dict(v.con.execute(_wildcard_count_sql("{}.ethnicity")).fetchall())
        frame = load_key_frame(v.con)
        keys_in_order = [
            str(r[0])
            for r in v.con.execute(
                "SELECT child_key FROM analysis.children GROUP BY child_key ORDER BY child_key"
            ).fetchall()
        ]
    assert sql_fk[key] == 1
    f = frequencies(encode_keys(frame, KEYS))
    assert f.uniques == sum(1 for n in sql_fk.values() if n == 1)
    # The planted child: find its row by its combination (the frame carries no child key).
    mine = np.flatnonzero(
        (frame["gender"] == PLANTED["gender"]).to_numpy() & (frame["ethnicity"] == PLANTED["ethnicity"]).to_numpy()
    )
    assert len(mine) == 1 and len(keys_in_order) == len(frame)
    row = int(mine[0])
    assert f.fk[row] == 1
    unweighted = individual_risk(f.fk, f.Fk)
    assert unweighted[row] == unweighted.max() == 1.0
    # With the DfE population frame the risk depends on the LA-year's weight: the planted child ranks first
    # among the children of its LA and year, and above every child who is not unique.
    weights = population_weights(frame)
    fw = frequencies(encode_keys(frame, KEYS), weights)
    risk = individual_risk(fw.fk, fw.Fk)
    same = (
        (
            (frame["la_code"] == frame["la_code"][row])
            & (dfe_year(frame["referral_date"]) == dfe_year(frame["referral_date"])[row])
        )
        .fillna(False)
        .to_numpy()
    )
    assert risk[row] == risk[same].max()
    assert risk[row] > risk[fw.fk > 1].max()


def test_generalised_ethnicity_uniques_match_an_independent_sql_count(vault: tuple[Path, str]) -> None:
    path, _ = vault
    groups = table("ethnicity").groups
    whens = " ".join(f"WHEN '{c}' THEN '{g}'" for c, g in groups.items())
    on = " AND ".join(f"(a.{k} = b.{k} OR a.{k} IS NULL OR b.{k} IS NULL)" for k in KEYS if k != "ethnicity")
    grouped = f"(CASE a.ethnicity {whens} ELSE a.ethnicity END) = (CASE b.ethnicity {whens} ELSE b.ethnicity END)"
    with open_raw_vault(path, ADMIN) as v:
        before = sum(1 for (_, n) in v.con.execute(_wildcard_count_sql("{}.ethnicity")).fetchall() if n == 1)
        row = v.con.execute(
            "SELECT count(*) FROM (SELECT a.child_key, count(*) AS n FROM analysis.children a "
            f"JOIN analysis.children b ON {on} AND ({grouped} OR a.ethnicity IS NULL OR b.ethnicity IS NULL) "
            "GROUP BY a.child_key) WHERE n = 1"
        ).fetchone()
        frame = load_key_frame(v.con)
    after = int(row[0]) if row else -1
    ours_before = frequencies(encode_keys(frame, KEYS)).uniques
    ours_after = frequencies(encode_keys(apply_to_key_frame(frame, candidate("ethnicity_5")), KEYS)).uniques
    assert ours_before == before
    assert ours_after == after
    assert after < before


def test_dpo_gets_aggregates_only_through_the_profile(vault: tuple[Path, str]) -> None:
    path, key = vault
    report = api.risk(path, DPO, KEYS)
    doc = json.dumps(report.to_json(), default=str)
    assert key not in doc
    profile = get_profile("acro-default")
    with open_raw_vault(path, ADMIN) as v:
        held = int(v.con.execute("SELECT count(DISTINCT child_key) FROM analysis.children").fetchone()[0])  # type: ignore[index]
        uniques = sum(1 for (_, n) in v.con.execute(_wildcard_count_sql("{}.ethnicity")).fetchall() if n == 1)
    assert report.current.children == round_to_base(held, profile.round_base)
    released_uniques = report.current.sample_uniques
    assert released_uniques is None or released_uniques == round_to_base(uniques, profile.round_base)
    assert report.profile["profile"] == "acro-default"
    assert report.keys == tuple(f"children.{k}" for k in KEYS)
    assert {row["la"] for row in report.per_la} <= {
        "Lancashire",
        "Swindon",
        "Telford and Wrekin",
        "Walsall",
        "Wandsworth",
    }
    with open_raw_vault(path, ADMIN) as v:
        actions = [r[0] for r in v.con.execute("SELECT action FROM audit").fetchall()]
    assert "risk.measure" in actions


def test_what_if_refits_the_primary_model(vault: tuple[Path, str]) -> None:
    path, _ = vault
    report = api.risk(path, DPO, what_if=True)
    by_id = {w.generalisation: w for w in report.what_if}
    assert set(by_id) == {"age_6m", "age_12m", "dates_month", "dates_quarter", "ethnicity_5", "combined"}
    assert report.primary_estimate is not None
    # Whole years of age, and the five ethnic groups behind the white share, are all the model uses:
    # these recodings cannot move the estimate.
    for unchanged in ("age_6m", "age_12m", "ethnicity_5"):
        assert by_id[unchanged].estimate_change == 0.0
        assert by_id[unchanged].se_change_pct == 0.0
    assert by_id["dates_quarter"].risk.expected_reidentifications <= report.current.expected_reidentifications


def test_roles_and_bad_input(vault: tuple[Path, str], tmp_path: Path) -> None:
    path, _ = vault
    with pytest.raises(PermissionDenied):
        api.risk(path, ANALYST)
    with pytest.raises(UsageError, match="unknown key variable 'shoe_size'"):
        api.risk(path, DPO, ["shoe_size"])
    with pytest.raises(UsageError, match="'source' is not a quasi-identifier"):
        api.risk(path, DPO, ["source"])
    empty = api.init_vault(tmp_path / "empty", PASSWORD).path
    with pytest.raises(DataError, match="holds no children"):
        api.risk(empty, ADMIN)


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from cscvault.cli import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def test_cli_prints_counts_and_exits_with_documented_codes(
    vault: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, key = vault
    monkeypatch.setenv("CSCVAULT_PASSWORD", DPO.secret)
    code, out, _ = _main(
        ["risk", str(path), "-u", "dee", "--json", "--keys", "la_code,gender", "--keys", "uasc"], capsys
    )
    assert code == 0 and key not in out
    assert json.loads(out)["keys"] == ["children.la_code", "children.gender", "children.uasc"]
    code, out, _ = _main(["risk", str(path), "-u", "dee"], capsys)
    assert code == 0 and "sample uniques" in out and key not in out
    code, _, err = _main(["risk", str(path), "-u", "dee", "--keys", "bogus"], capsys)
    assert code == 2 and err.count("\n") == 1 and "bogus" in err
    code, _, err = _main(["risk", str(path), "-u", "dee", "--keys", "referrals.source"], capsys)
    assert code == 2 and err.count("\n") == 1 and "not a quasi-identifier" in err
    empty = api.init_vault(tmp_path / "empty", PASSWORD).path
    monkeypatch.setenv("CSCVAULT_PASSWORD", PASSWORD)
    code, _, err = _main(["risk", str(empty), "-u", "admin"], capsys)
    assert code == 3 and err.count("\n") == 1
