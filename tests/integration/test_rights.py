"""Data-subject rights end to end on a vault holding child-level rows.

The child-level tables here are small stand-ins with a `child_key` column (every child-level table the vault
holds has one); the study's data dictionary is extended to allow their fields.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import pyrage
import pytest

from cscvault import api
from cscvault.errors import PermissionDenied, UsageError
from cscvault.study import default_study_path
from cscvault.vault import Credentials
from tests.helpers import PASSWORD, cli_in_process, open_raw_vault

ADMIN = Credentials("admin", PASSWORD)
DPO = Credentials("dee", "dpo password 123")
ANALYST = Credentials("ana", "analyst password 1")
WALSALL = "E08000030"
IDS = [f"WAL{i:05d}" for i in range(40)]  # the LA's own child ids


@pytest.fixture(scope="module")
def study_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("study")
    default = default_study_path()
    (folder / "study.toml").write_text(default.read_text())
    extra = (
        '\n[[categories]]\nid = "test_records"\nlabel = "Test records"\ndescription = "Rows for the tests."\n'
        'fields = ["test_people.gender", "test_people.ethnicity", "test_events.event_date"]\n'
    )
    (folder / "data_dictionary.toml").write_text((default.parent / "data_dictionary.toml").read_text() + extra)
    return folder / "study.toml"


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory, study_path: Path) -> Path:
    """One vault for the module: each test works on its own children (distinct LA ids)."""
    path = api.init_vault(tmp_path_factory.mktemp("vault") / "v", PASSWORD, study_path=study_path).path
    api.add_user(path, ADMIN, "dee", "dpo", DPO.secret)
    api.add_user(path, ADMIN, "ana", "analyst", ANALYST.secret)
    with open_raw_vault(path, ADMIN) as v, v.transaction() as con:
        con.execute("CREATE TABLE test_people (child_key VARCHAR, gender VARCHAR, ethnicity VARCHAR)")
        con.execute("CREATE TABLE test_events (child_key VARCHAR, event_date DATE, kind VARCHAR)")
        for i, la_id in enumerate(IDS):
            key = v.child_key(WALSALL, la_id)
            con.execute("INSERT INTO test_people VALUES (?, ?, ?)", [key, "F" if i % 2 else "M", "WBRI"])
            for j in range(i % 4 + 1):
                con.execute(
                    "INSERT INTO test_events VALUES (?, ?, ?)",
                    [key, dt.date(2021, 1, 1) + dt.timedelta(days=j), "referral"],
                )
        v.record("test.load", counts={"children": len(IDS)})
    with open_raw_vault(path, ADMIN) as v:
        v.con.execute("SELECT 1")  # reopen refreshes the analysis views for the new tables
    return path


def _counts(path: Path, la_id: str) -> dict[str, tuple[int, int]]:
    """Per table: (rows in main, rows in the analysis view) for one child."""
    with open_raw_vault(path, ADMIN) as v:
        key = v.child_key(WALSALL, la_id)
        out = {}
        for table in ("test_people", "test_events"):
            main = v.con.execute(f"SELECT count(*) FROM main.{table} WHERE child_key = ?", [key]).fetchone()[0]
            view = v.con.execute(f"SELECT count(*) FROM analysis.{table} WHERE child_key = ?", [key]).fetchone()[0]
            out[table] = (main, view)
        return out


def _open(path: Path, type_: str, la_id: str, identified: dt.date | None = dt.date(2026, 1, 5)) -> str:
    return api.rights_open(path, DPO, type_, "Walsall", la_id, dt.date(2026, 1, 2), identified).request_id


def test_only_the_dpo_handles_requests(vault: Path) -> None:
    with pytest.raises(PermissionDenied):
        api.rights_open(vault, ANALYST, "access", "Walsall", IDS[0])
    with pytest.raises(PermissionDenied):
        api.rights_list(vault, ADMIN)


def test_access_package_holds_exactly_the_childs_records(vault: Path, tmp_path: Path) -> None:
    identity = pyrage.x25519.Identity.generate()
    rid = _open(vault, "access", IDS[7])
    result = api.rights_act(vault, DPO, rid, out_dir=tmp_path / "out", recipient=str(identity.to_public()))
    assert result.request.state == "completed"
    encrypted = result.package.read_bytes()
    assert IDS[7].encode() not in encrypted
    with zipfile.ZipFile(io.BytesIO(pyrage.decrypt(encrypted, [identity]))) as zf:
        doc = json.loads(zf.read("records.json"))
        assert "index.html" in zf.namelist()
        assert zf.read("tables/test_events.csv").decode().count("\n") == 1 + 7 % 4 + 1
    counts = _counts(vault, IDS[7])
    held = {t: n for t, n in doc["row_counts"].items() if n}
    assert held == {"test_events": counts["test_events"][0], "test_people": counts["test_people"][0]}
    with open_raw_vault(vault, ADMIN) as v:
        key = v.child_key(WALSALL, IDS[7])
    assert {r["child_key"] for rows in doc["records"].values() for r in rows} == {key}
    info = doc["supplementary_information"]
    assert info["source"].startswith("Walsall")
    assert info["complaints"]["regulator"] == "Information Commissioner's Office"
    assert "2033" in info["retention"]
    with pytest.raises(UsageError, match="not an age public key"):
        api.rights_act(vault, DPO, _open(vault, "access", IDS[8]), out_dir=tmp_path, recipient="nope")


def test_erasure_removes_the_child_and_leaves_a_tombstone(vault: Path) -> None:
    before = _counts(vault, IDS[3])
    assert before["test_events"][0] == 4
    rid = _open(vault, "erasure", IDS[3])
    result = api.rights_act(vault, DPO, rid)
    assert {t: n for t, n in result.counts.items() if n} == {"test_events": 4, "test_people": 1}
    assert _counts(vault, IDS[3]) == {"test_people": (0, 0), "test_events": (0, 0)}
    assert _counts(vault, IDS[4])["test_people"] == (1, 1)
    with open_raw_vault(vault, ADMIN) as v:
        key = v.child_key(WALSALL, IDS[3])
        assert v.con.execute("SELECT status FROM subject_status WHERE child_key = ?", [key]).fetchall() == [("erased",)]
    # A second request about the same child: not held any more.
    again = api.rights_open(vault, DPO, "access", "Walsall", IDS[3], dt.date(2026, 2, 1), dt.date(2026, 2, 1))
    assert again.child_held is False


def test_restriction_excludes_from_analysis_but_keeps_the_data(vault: Path) -> None:
    with open_raw_vault(vault, ADMIN) as v:
        n_before = v.con.execute("SELECT count(*) FROM analysis.test_events").fetchone()[0]
    rid = _open(vault, "restriction", IDS[5])
    api.rights_act(vault, DPO, rid)
    counts = _counts(vault, IDS[5])
    assert counts == {"test_people": (1, 0), "test_events": (2, 0)}
    with open_raw_vault(vault, ADMIN) as v:
        assert v.con.execute("SELECT count(*) FROM analysis.test_events").fetchone()[0] == n_before - 2


def test_rectification_overrides_the_delivered_value(vault: Path) -> None:
    rid = _open(vault, "rectification", IDS[2])
    with pytest.raises(UsageError, match="not a correctable field"):
        api.rights_act(vault, DPO, rid, field_name="test_events.kind", value="x")
    api.rights_act(vault, DPO, rid, field_name="test_people.gender", value="F")
    with open_raw_vault(vault, ADMIN) as v:
        key = v.child_key(WALSALL, IDS[2])
        assert v.con.execute("SELECT gender FROM analysis.test_people WHERE child_key = ?", [key]).fetchone() == ("F",)
        assert v.con.execute("SELECT gender FROM main.test_people WHERE child_key = ?", [key]).fetchone() == ("M",)
        other = v.child_key(WALSALL, IDS[4])
        assert v.con.execute("SELECT gender FROM analysis.test_people WHERE child_key = ?", [other]).fetchone() == (
            "M",
        )


def test_objection_stops_processing_then_upheld_or_overruled(vault: Path) -> None:
    rid = _open(vault, "objection", IDS[9])
    assert _counts(vault, IDS[9])["test_people"] == (1, 0)  # excluded while considered
    with pytest.raises(UsageError, match="needs --legal-basis"):
        api.rights_act(vault, DPO, rid, decision="The research could not go on without it.")
    api.rights_act(vault, DPO, rid, decision="Compelling legitimate grounds: ...", legal_basis="UK GDPR Art 21(1)")
    assert _counts(vault, IDS[9])["test_people"] == (1, 1)
    rid2 = _open(vault, "objection", IDS[10])
    api.rights_act(vault, DPO, rid2, decision="uphold")
    assert _counts(vault, IDS[10])["test_people"] == (0, 0)


def test_not_held_is_an_answer(vault: Path) -> None:
    rid = _open(vault, "erasure", "NOT-A-CHILD-ID")
    result = api.rights_act(vault, DPO, rid)
    assert result.request.state == "completed"
    assert result.request.decision == "not held"


def test_lifecycle_clock_extension_refusal_close(vault: Path) -> None:
    rid = _open(vault, "access", IDS[1], identified=None)
    shown = api.rights_show(vault, DPO, rid).to_json()
    assert shown["state"] == "awaiting_identification"
    assert shown["due_date"] is None
    with pytest.raises(UsageError, match="awaits identification"):
        api.rights_act(vault, DPO, rid)
    api.rights_identify(vault, DPO, rid, dt.date(2026, 1, 30))
    assert api.rights_show(vault, DPO, rid).request.due_date == dt.date(2026, 3, 2)  # 28 Feb is a Saturday
    api.rights_clarification(vault, DPO, rid, dt.date(2026, 2, 2), dt.date(2026, 2, 9))
    assert api.rights_show(vault, DPO, rid).request.due_date == dt.date(2026, 3, 9)  # 2 March + 7 days
    with pytest.raises(UsageError, match="too late to extend"):
        api.rights_extend(vault, DPO, rid, 2, dt.date(2026, 3, 10), "complex")
    api.rights_extend(vault, DPO, rid, 2, dt.date(2026, 2, 20), "complex request")
    request = api.rights_show(vault, DPO, rid).request
    assert request.state == "extended"
    assert request.due_date == dt.date(2026, 5, 7)  # 30 April + 7 days
    with pytest.raises(UsageError, match="act on it or refuse it before closing"):
        api.rights_close(vault, DPO, rid)
    api.rights_refuse(vault, DPO, rid, "Would seriously impair the research; no data identify the requester.")
    assert api.rights_show(vault, DPO, rid).request.legal_basis.startswith("UK GDPR Article 84B")
    assert api.rights_close(vault, DPO, rid).state == "closed"
    events = [e["event"] for e in api.rights_show(vault, DPO, rid).events]
    assert events == ["opened", "identified", "clarification", "extended", "refused", "closed"]
    overdue = api.rights_list(vault, DPO, overdue=True, today=dt.date(2027, 1, 1))
    assert rid not in {r.request_id for r in overdue}


def test_nothing_identifies_the_child_in_audit_or_output(vault: Path, tmp_path: Path) -> None:
    identity = pyrage.x25519.Identity.generate()
    env = {"CSCVAULT_USER": "dee"}
    outputs = []
    for type_, extra in (
        ("access", ["--out", str(tmp_path / "pkg"), "--recipient", str(identity.to_public())]),
        ("erasure", []),
        ("restriction", []),
    ):
        la_id = IDS[20 + len(outputs)]
        opened = cli_in_process(
            "rights",
            "open",
            str(vault),
            "--type",
            type_,
            "--la",
            "E08000030",
            "--child-id",
            la_id,
            "--received",
            "2026-01-02",
            "--identified",
            "2026-01-05",
            password=DPO.secret,
            env=env,
        )
        assert opened.returncode == 0, opened.stderr
        rid = opened.stdout.strip()
        shown = cli_in_process("rights", "show", str(vault), rid, "--json", password=DPO.secret, env=env)
        doc = json.loads(shown.stdout)
        assert doc["state"] == "in_progress"
        assert doc["due_date"] == "2026-02-05"
        assert doc["child_held"] is True
        acted = cli_in_process("rights", "act", str(vault), rid, *extra, password=DPO.secret, env=env)
        assert acted.returncode == 0, acted.stderr
        outputs += [opened.stdout + opened.stderr, shown.stdout, acted.stdout + acted.stderr]
    listed = cli_in_process("rights", "list", str(vault), "--json", password=DPO.secret, env=env)
    outputs.append(listed.stdout)
    with open_raw_vault(vault, ADMIN) as v:
        keys = [v.child_key(WALSALL, i) for i in IDS]
        audit_text = json.dumps(v.con.execute("SELECT * FROM audit").fetchall(), default=str)
        request_columns = [r[0] for r in v.con.execute("DESCRIBE requests").fetchall()]
    for secret in IDS + keys:
        assert secret not in audit_text
        assert all(secret not in out for out in outputs)
    assert "la_child_id" not in request_columns


def test_complaints_carry_the_ico_route(vault: Path) -> None:
    complaint, text = api.complaint_open(vault, DPO, dt.date(2026, 3, 1), "CASE-17")
    assert complaint.ack_due == dt.date(2026, 3, 31)
    assert "Information Commissioner's Office" in text
    api.complaint_acknowledge(vault, DPO, complaint.complaint_id, dt.date(2026, 3, 10))
    closed, response = api.complaint_close(
        vault, DPO, complaint.complaint_id, "Explained the research exemption.", dt.date(2026, 4, 1)
    )
    assert closed.closed == dt.date(2026, 4, 1)
    assert "0303 123 1113" in response
    assert [c.complaint_id for c in api.complaint_list(vault, DPO)] == [complaint.complaint_id]
    proc = cli_in_process("complaint", "list", str(vault), "--json", password=DPO.secret, env={"CSCVAULT_USER": "dee"})
    assert json.loads(proc.stdout)[0]["ack_due"] == "2026-03-31"
