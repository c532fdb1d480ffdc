"""A rights request answered after its due date is shown as answered late, with the days, in `rights list`
and the DPO's annual summary (issue 20)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from cscvault import api
from cscvault.cli import main
from cscvault.rights import deadlines
from cscvault.vault import Credentials
from tests.helpers import PASSWORD

ADMIN = Credentials("admin", PASSWORD)
DPO = Credentials("dee", "dpo password 123")


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = api.init_vault(tmp_path_factory.mktemp("late") / "v", PASSWORD).path
    api.add_user(path, ADMIN, DPO.user, "dpo", DPO.secret)
    return path


def _run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("CSCVAULT_PASSWORD", DPO.secret)
    monkeypatch.setenv("CSCVAULT_USER", DPO.user)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    return int(exited.value.code or 0), capsys.readouterr().out


def test_a_late_answer_is_recorded_and_shown(vault, capsys, monkeypatch):
    today = dt.datetime.now(dt.UTC).date()
    received = today - dt.timedelta(days=100)
    late = api.rights_open(vault, DPO, "erasure", "Walsall", "WAL00001", received, received)
    on_time = api.rights_open(vault, DPO, "objection", "Walsall", "WAL00002", today, today)
    for rid in (late.request_id, on_time.request_id):
        api.rights_refuse(vault, DPO, rid, "Would seriously impair the research.")
    due = deadlines.due_date(received, 0, 0)
    assert due is not None and due < today
    days = (today - due).days
    shown = api.rights_show(vault, DPO, late.request_id).request
    assert shown.answered == today and shown.days_late == days
    assert shown.deadline_status(today) == f"answered late ({days} days)"
    assert api.rights_show(vault, DPO, on_time.request_id).request.deadline_status(today) == "answered"

    code, out = _run(capsys, monkeypatch, "rights", "list", str(vault))
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith(late.request_id))
    assert line.endswith(f"answered late ({days} days)")
    code, out = _run(capsys, monkeypatch, "rights", "list", str(vault), "--json")
    doc = {r["request_id"]: r for r in json.loads(out)}
    assert doc[late.request_id]["days_late"] == days and doc[on_time.request_id]["days_late"] == 0

    code, out = _run(capsys, monkeypatch, "rights", "summary", str(vault), "--year", str(received.year), "--json")
    assert code == 0
    summary = json.loads(out)
    if received.year == today.year:
        assert summary["answered_late"] == 1 and summary["answered_on_time"] == 1
    else:
        assert summary["answered_late"] == 1 and summary["by_type"]["erasure"]["answered_late"] == 1
    assert summary["days_late_max"] == days
    code, out = _run(capsys, monkeypatch, "rights", "summary", str(vault), "--year", str(received.year))
    assert f"answered late: 1, at most {days} days late" in out
