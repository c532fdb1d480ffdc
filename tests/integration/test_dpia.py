"""`cscvault record --dpia VAULT`: the Article 30 record with the DPIA annex, on a small synthetic vault. The
annex names every measure, is tied to the vault (id, date, delivery set, audit head), is audited with its own
SHA-256, carries no child key, and refuses other roles (exit 4) and an empty vault (exit 3)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from cscvault import api
from cscvault.analysis.primary import delivery_set
from cscvault.errors import PermissionDenied
from cscvault.synth.generate import generate
from cscvault.vault import Credentials
from tests.helpers import PASSWORD, open_raw_vault

ADMIN = Credentials("admin", PASSWORD)
DPO = Credentials("dee", "dpo password 123")
ANALYST = Credentials("ana", "analyst password 1")


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], str]:
    root = tmp_path_factory.mktemp("dpia")
    summary = generate(root / "synth", seed=5, children=150, clean=True)
    path = api.init_vault(root / "v", PASSWORD).path
    api.add_user(path, ADMIN, "dee", "dpo", DPO.secret)
    api.add_user(path, ADMIN, "ana", "analyst", ANALYST.secret)
    api.ingest(path, ADMIN, [summary.returns_dir])
    with open_raw_vault(path, ADMIN) as v:
        keys = [str(r[0]) for r in v.con.execute("SELECT DISTINCT child_key FROM main.children").fetchall()]
        deliveries, _ = delivery_set(v)
    return path, keys, deliveries


def _audit(path: Path, action: str) -> list[tuple[str, str, str]]:
    with open_raw_vault(path, ADMIN) as v:
        rows = v.con.execute("SELECT objects, counts, actor FROM audit WHERE action = ? ORDER BY seq", [action])
        return [(str(o), str(c), str(a)) for o, c, a in rows.fetchall()]


def test_annex_names_every_measure_and_is_tied_to_the_vault(vault: tuple[Path, list[str], str]) -> None:
    path, child_keys, deliveries = vault
    with api.open_vault(path, DPO) as session:
        head_before = session.audit_head()
        result = session.dpia_record("md")
        vault_id = session.vault_id
    text = result.text
    assert text.startswith("# Record of processing activities (UK GDPR Article 30)")
    assert "## Annex: Data Protection Impact Assessment, re-identification risk" in text
    for m in api.risk_measure_rows(result.report.current):
        assert f"| {m.label} | {m.value} |" in text
    assert len(api.risk_measure_rows(result.report.current)) >= 12  # every measure, SUDA and l-diversity included
    for la in ("Lancashire", "Swindon", "Walsall", "Wandsworth"):
        assert f"| {la} |" in text
    # The tie: vault id, the date measured, the delivery set and the audit head just before the annex.
    assert f"**Vault:** {vault_id}" in text
    assert dt.datetime.now(dt.UTC).date().isoformat() in text
    assert deliveries in text and result.tie.deliveries_sha256 == deliveries
    assert head_before in text and result.tie.audit_head == head_before
    assert "acro-default version" in text
    assert all(k in text for k in result.report.keys)
    # No child key anywhere (the vault's own pseudonyms, checked one by one).
    assert not [k for k in child_keys if k in text]
    # The annex is audited with its own SHA-256: a saved copy can be matched to the chain.
    assert result.sha256 == hashlib.sha256(text.encode()).hexdigest()
    objects, counts, actor = _audit(path, "record.dpia")[-1]
    assert json.loads(objects)["sha256"] == result.sha256 and actor == "dee"
    assert json.loads(counts)["deliveries"] == result.tie.deliveries
    assert not [k for k in child_keys if k in objects + counts]


def test_html_annex_and_what_if(vault: tuple[Path, list[str], str]) -> None:
    path, child_keys, _ = vault
    result = api.dpia_record(path, ADMIN, "html", None, True)
    text = result.text
    assert text.startswith("<!doctype html>") and text.rstrip().endswith("</html>")
    assert "<h2 id='dpia'>Annex: Data Protection Impact Assessment" in text
    assert "<caption>What if the data were generalised</caption>" in text
    for w in result.report.what_if:
        assert f"<th scope='row'>{w.label}</th>" in text
    assert "<th scope='row'>Expected re-identifications</th>" in text
    assert not [k for k in child_keys if k in text]


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from cscvault.cli import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def test_cli_roles_empty_vault_and_usage(
    vault: tuple[Path, list[str], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, child_keys, _ = vault
    with pytest.raises(PermissionDenied):
        api.dpia_record(path, ANALYST)
    monkeypatch.setenv("CSCVAULT_PASSWORD", DPO.secret)
    code, out, _ = _main(["record", "--dpia", str(path), "-u", "dee", "--format", "html"], capsys)
    assert code == 0 and "Annex: Data Protection Impact Assessment" in out
    assert not [k for k in child_keys if k in out]
    # What was printed is byte for byte what the audit entry's SHA-256 names (`sha256sum` of a saved copy).
    assert json.loads(_audit(path, "record.dpia")[-1][0])["sha256"] == hashlib.sha256(out.encode()).hexdigest()
    monkeypatch.setenv("CSCVAULT_PASSWORD", ANALYST.secret)
    entries = len(_audit(path, "record.dpia"))
    code, out, err = _main(["record", "--dpia", str(path), "-u", "ana"], capsys)
    assert code == 4 and out == "" and err.count("\n") == 1
    assert len(_audit(path, "record.dpia")) == entries  # a refusal writes no annex entry
    code, _, err = _main(["record", "--what-if"], capsys)
    assert code == 2 and err.count("\n") == 1 and "--dpia" in err
    code, _, err = _main(["record", "--dpia", str(path), "--study", str(tmp_path / "s.toml")], capsys)
    assert code == 2 and err.count("\n") == 1
    empty = api.init_vault(tmp_path / "empty", PASSWORD).path
    monkeypatch.setenv("CSCVAULT_PASSWORD", PASSWORD)
    code, out, err = _main(["record", "--dpia", str(empty), "-u", "admin"], capsys)
    assert code == 3 and out == "" and err.count("\n") == 1 and "no children" in err
    code, _, err = _main(["record", "--dpia", str(tmp_path / "nowhere"), "-u", "admin"], capsys)
    assert code == 5 and err.count("\n") == 1
    code, out, _ = _main(["record"], capsys)  # the study-only record is unchanged
    assert code == 0 and "Annex" not in out and "Article 30" in out


def test_what_if_on_data_the_model_cannot_fit_keeps_the_risk_and_says_why(
    vault: tuple[Path, list[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cscvault.errors import DataError
    from cscvault.risk import whatif

    def unfittable(*args: object) -> None:
        raise DataError("primary sample: the fixed-effect design is rank deficient (3 of 4 columns)")

    monkeypatch.setattr(whatif, "primary_effect", unfittable)
    path, _, _ = vault
    result = api.dpia_record(path, DPO, "md", None, True)
    report = result.report
    assert report.primary_estimate is None and report.primary_note is not None
    assert "rank deficient" in report.primary_note
    assert len(report.what_if) == 6 and all(w.estimate is None for w in report.what_if)
    assert all(w.risk.combinations > 0 for w in report.what_if)  # the risk measures of each recoding stand
    assert "could not be re-fitted for the comparison: primary sample" in result.text
