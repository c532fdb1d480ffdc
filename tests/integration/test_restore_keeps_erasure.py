"""An erasure is a property of the child, not of a copy: no restore brings an erased child back, and the rights
register made after the backup survives both restore paths (through the CLI, as a DPO and an admin would)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from pyrage import x25519

from cscvault import api
from cscvault.ingest.pipeline import la_from_path
from cscvault.study import load_study
from cscvault.synth.generate import generate
from cscvault.vault import Credentials
from tests.helpers import PASSWORD, open_raw_vault

ADMIN = Credentials("admin", PASSWORD)
DPO_PASSWORD = "dpo password 12345"
CHILD_TABLES = ("children", "referrals", "assessments", "cla_episodes", "attendance_terms", "fsm_pupil_premium")


def _main(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch, user: str = "admin"
) -> tuple[int, str, str]:
    from cscvault.cli import main

    monkeypatch.setenv("CSCVAULT_USER", user)
    monkeypatch.setenv("CSCVAULT_PASSWORD", DPO_PASSWORD if user == "dee" else PASSWORD)
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def _counts(vault: Path, key: str) -> tuple[dict[str, int], int]:
    """Rows per child table in total, and the rows held about one child."""
    with open_raw_vault(vault, ADMIN) as v:
        total = {t: int(v.con.execute(f"SELECT count(*) FROM main.{t}").fetchone()[0]) for t in CHILD_TABLES}
        mine = sum(
            int(v.con.execute(f"SELECT count(*) FROM main.{t} WHERE child_key = ?", [key]).fetchone()[0])
            for t in CHILD_TABLES
        )
    return total, mine


def _requests(vault: Path) -> list[tuple[str, str]]:
    with open_raw_vault(vault, ADMIN) as v:
        return [
            (str(r[0]), str(r[1])) for r in v.con.execute("SELECT request_id, type FROM requests ORDER BY 1").fetchall()
        ]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A vault with one LA's returns loaded and a DPO; returns (vault, LA code, one LA child id)."""
    root = tmp_path_factory.mktemp("erasure")
    summary = generate(root / "synth", seed=9, children=150)
    files = sorted(p for p in summary.returns_dir.rglob("*") if p.is_file())
    la = la_from_path(files[0], load_study())
    assert la is not None
    mine = [p for p in files if la_from_path(p, load_study()) == la]
    vault = api.init_vault(root / "v", PASSWORD).path
    api.ingest(vault, ADMIN, mine)
    api.add_user(vault, ADMIN, "dee", "dpo", DPO_PASSWORD)
    headers = [p for p in mine if p.name == "header.csv" and "903" in str(p)]
    with max(headers, key=lambda p: p.stat().st_size).open(newline="") as fh:
        child = next(csv.DictReader(fh))["CHILD"]
    return vault, load_study().la(la).ons_code, child


def _erase(vault: Path, la: str, child: str, capsys, monkeypatch) -> str:
    code, out, err = _main(
        [
            "rights",
            "open",
            str(vault),
            "--type",
            "erasure",
            "--la",
            la,
            "--child-id",
            child,
            "--received",
            "2026-01-02",
            "--identified",
            "2026-01-05",
        ],
        capsys,
        monkeypatch,
        user="dee",
    )
    assert code == 0, err
    rid = out.strip()
    code, out, err = _main(["rights", "act", str(vault), rid], capsys, monkeypatch, user="dee")
    assert code == 0 and "erased" in out, err
    return rid


@pytest.mark.parametrize("replace", [False, True])
def test_restore_never_brings_an_erased_child_back_and_keeps_the_register(
    setup: tuple[Path, str, str], tmp_path: Path, capsys, monkeypatch, replace: bool
) -> None:
    vault = tmp_path / "v"
    shutil.copytree(setup[0], vault)
    la, child = setup[1], setup[2]
    with open_raw_vault(vault, ADMIN) as v:
        key = v.child_key(la, child)
    before, held = _counts(vault, key)
    assert held > 0
    offline = x25519.Identity.generate()
    (tmp_path / "offline.key").write_text(f"{offline}\n")
    (tmp_path / "b").mkdir()
    code, out, err = _main(
        ["backup", str(vault), "--to", str(tmp_path / "b"), "--recipient", str(offline.to_public()), "--json"],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    backup = json.loads(out)["backup"]
    rid = _erase(vault, la, child, capsys, monkeypatch)
    code, head, err = _main(["audit", "head", str(vault)], capsys, monkeypatch, user="dee")
    assert code == 0, err  # the DPO keeps this outside the vault after the erasure
    # Later work: another request, whose id must not be issued twice after the restore.
    target = vault if replace else tmp_path / "new"
    args = ["restore", backup, "--to", str(target), "--identity", str(tmp_path / "offline.key")]
    if replace:
        args.append("--replace")
    else:
        args += ["--expect", head.strip()]
        later = ["backup", str(vault), "--to", str(tmp_path / "b")]
        code, _, err = _main(later, capsys, monkeypatch)
        assert code == 0, err
        # A later backup the restore cannot read may hold erasures: refused, nothing made.
        code, _, err = _main(args, capsys, monkeypatch)
        assert code == 5 and "cannot be read" in err and not target.exists()
        # Only a second person with the dpo role can accept that loss, and it is audited.
        forced = tmp_path / "forced"
        override = ["restore", backup, "--to", str(forced), "--identity", str(tmp_path / "offline.key")]
        monkeypatch.setenv("CSCVAULT_SECOND_PASSWORD", PASSWORD)
        code, _, err = _main([*override, "--i-accept-data-loss", "admin"], capsys, monkeypatch)
        assert code == 4 and not forced.exists(), err
        monkeypatch.setenv("CSCVAULT_SECOND_PASSWORD", DPO_PASSWORD)
        code, _, err = _main([*override, "--i-accept-data-loss", "dee"], capsys, monkeypatch)
        assert code == 0 and "accepted by dee" in err, err
        with open_raw_vault(forced, ADMIN) as v:
            entry = v.con.execute("SELECT objects FROM audit WHERE action = 'vault.restore'").fetchone()
        assert entry is not None and json.loads(entry[0])["override_by"] == "dee"
        Path(json.loads(_main([*later, "--json"], capsys, monkeypatch)[1])["backup"]).unlink()
        for f in (tmp_path / "b").glob("*.age"):
            if f.name != Path(backup).name:
                f.unlink()
        code, _, err = _main([*later, "--recipient", str(offline.to_public())], capsys, monkeypatch)
        assert code == 0, err  # the later backup is the ledger a restore into a new folder reads
    code, out, err = _main(args, capsys, monkeypatch)
    assert code == 0, err
    assert "Re-applied 1 erasure" in out
    after, held_after = _counts(target, key)
    assert held_after == 0
    assert sum(after.values()) == sum(before.values()) - held
    assert (rid, "erasure") in _requests(target)
    # An access request about the child now finds nothing held; its id follows the erasure request's.
    code, out, err = _main(
        ["rights", "open", str(target), "--type", "access", "--la", la, "--child-id", child], capsys, monkeypatch, "dee"
    )
    assert code == 0, err
    new_id = out.strip()
    assert new_id != rid and new_id > rid
    code, out, _ = _main(["rights", "show", str(target), new_id, "--json"], capsys, monkeypatch, "dee")
    assert json.loads(out)["child_held"] is False
    code, _, _ = _main(["audit", "verify", str(target)], capsys, monkeypatch)
    assert code == 0


def test_restore_into_a_new_folder_refuses_without_the_backup_that_reaches_the_kept_head(
    setup: tuple[Path, str, str], tmp_path: Path, capsys, monkeypatch
) -> None:
    """B1, erase a child, keep the head, B2; with B2 deleted the restore of B1 cannot prove it has the erasure."""
    vault = tmp_path / "v"
    shutil.copytree(setup[0], vault)
    la, child = setup[1], setup[2]
    with open_raw_vault(vault, ADMIN) as v:
        key = v.child_key(la, child)
    before, held = _counts(vault, key)
    assert held > 0
    offline = x25519.Identity.generate()
    (tmp_path / "offline.key").write_text(f"{offline}\n")
    (tmp_path / "b").mkdir()
    backup = ["backup", str(vault), "--to", str(tmp_path / "b"), "--recipient", str(offline.to_public()), "--json"]
    code, out, err = _main(backup, capsys, monkeypatch)
    assert code == 0, err
    b1 = Path(json.loads(out)["backup"])
    rid = _erase(vault, la, child, capsys, monkeypatch)
    code, head, err = _main(["audit", "head", str(vault)], capsys, monkeypatch, user="dee")
    assert code == 0, err
    code, out, err = _main(backup, capsys, monkeypatch)
    assert code == 0, err
    b2 = Path(json.loads(out)["backup"])
    b2.rename(tmp_path / b2.name)  # the later backup is lost from the backup folder
    new = tmp_path / "new"
    restore = ["restore", str(b1), "--to", str(new), "--identity", str(tmp_path / "offline.key")]

    code, out, err = _main([*restore, "--expect", head.strip()], capsys, monkeypatch)
    assert code == 5, err
    assert len(err.strip().splitlines()) == 1 and "reaches the expected head" in err and "nothing was restored" in err
    assert not new.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".new")]
    code, _, err = _main([*restore, "--expect", "not-a-head"], capsys, monkeypatch)
    assert code == 2 and "--expect" in err and not new.exists()
    code, _, err = _main(restore, capsys, monkeypatch)  # no head at all: no proof either
    assert code == 5 and "--expect" in err and not new.exists()

    (tmp_path / b2.name).rename(b2)  # with the later backup back, the head is reached and the child stays erased
    code, out, err = _main([*restore, "--expect", head.strip()], capsys, monkeypatch)
    assert code == 0, err
    assert f"The expected head is in {b2.name}" in out and "Re-applied 1 erasure" in out
    after, held_after = _counts(new, key)
    assert held_after == 0 and sum(after.values()) == sum(before.values()) - held
    assert (rid, "erasure") in _requests(new)
    assert _main(["audit", "verify", str(new)], capsys, monkeypatch)[0] == 0
    with open_raw_vault(new, ADMIN) as v:
        entry = v.con.execute("SELECT objects FROM audit WHERE action = 'vault.restore'").fetchone()
    assert entry is not None and json.loads(entry[0])["head_reached_by"] == b2.name

    b2.unlink()  # lost for good: only a second person with the dpo role may accept restoring without it
    forced = tmp_path / "forced"
    override = ["restore", str(b1), "--to", str(forced), "--identity", str(tmp_path / "offline.key")]
    override += ["--expect", head.strip(), "--i-accept-data-loss", "dee"]
    monkeypatch.setenv("CSCVAULT_SECOND_PASSWORD", DPO_PASSWORD)
    code, out, err = _main(override, capsys, monkeypatch)
    assert code == 0 and "accepted by dee" in err and "expected head was not reached" in err, err
    with open_raw_vault(forced, ADMIN) as v:
        entry = v.con.execute("SELECT actor, objects FROM audit WHERE action = 'vault.restore'").fetchone()
    assert entry is not None and entry[0] == "admin" and json.loads(entry[1])["override_by"] == "dee"
    _, held_forced = _counts(forced, key)
    assert held_forced == held  # what the override accepted: the erasure in the lost backup is not re-applied
