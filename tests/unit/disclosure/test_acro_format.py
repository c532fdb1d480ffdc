"""results.json in ACRO 1.0.2's layout: ACRO's own loader reads it back."""

from __future__ import annotations

import hashlib
import json
import logging

import pandas as pd
import pytest

from cscvault.disclosure import CustomOutput, OutputEntry, apply_profile, check_model_output, get_profile
from cscvault.disclosure.acro_format import write_results

record = pytest.importorskip("acro.record")


def checked():
    table = pd.DataFrame({"la": ["A", "B", "C"], "control": [3, 40, 25], "treated": [30, 45, 12]})
    return apply_profile(table, "acro-default")


def test_results_json_loads_with_acros_own_loader(tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("context for the checker")
    profile = get_profile("acro-default")
    outputs = [
        OutputEntry(checked(), command="crosstab(la, arm)"),
        check_model_output(398, profile),
        CustomOutput(note, "a note"),
    ]
    path = write_results(outputs, tmp_path / "out", profile)
    logging.disable(logging.CRITICAL)
    try:
        records = record.load_records(str(tmp_path / "out"))
    finally:
        logging.disable(logging.NOTSET)
    assert records.get_keys() == ["output_0", "output_1", "output_2"]
    table = records.get("output_0")
    assert table.status == "review"  # failing cells were suppressed, as ACRO marks mitigated outputs
    assert table.output_type == "table"
    assert table.exception.startswith("Suppression automatically applied")
    assert table.sdc["summary"]["MinimumThresholdCheck"] == 1
    assert table.sdc["cells"]["MinimumThresholdCheck"] == [[0, 0]]
    assert table.properties["profile"] == "acro-default"
    assert table.properties["profile_version"] == profile.version
    loaded = table.output[0]
    assert loaded["control"].isna().iloc[0]  # the CSV holds the released (suppressed) table
    assert records.get("output_1").status == "pass"
    assert records.get("output_2").status == "review"
    doc = json.loads(path.read_text())
    assert doc["version"] == "1.0.2"
    assert doc["results"]["output_0"]["outcome"]["control"]["A"] == "MinimumThresholdCheck; "


def test_same_keys_as_acro_writes(tmp_path):
    doc = json.loads(write_results([checked()], tmp_path, get_profile("acro-default")).read_text())
    entry = doc["results"]["output_0"]
    # key order of acro/record.py finalise_json
    assert list(entry) == [
        "uid",
        "status",
        "type",
        "properties",
        "files",
        "outcome",
        "command",
        "summary",
        "timestamp",
        "comments",
        "exception",
        "fair",
    ]
    assert list(doc) == ["version", "tool", "results"]
    assert set(entry["fair"]) >= {"statbarn", "risks", "checks_needed", "check_status"}


def test_config_and_checksums(tmp_path):
    profile = get_profile("opensafely")
    write_results([checked()], tmp_path, profile)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["safe_threshold"] == 8 and config["profile"] == "opensafely"
    digest = (tmp_path / "checksums" / "results.json.txt").read_text()
    assert digest == hashlib.sha256((tmp_path / "results.json").read_bytes()).hexdigest()


def test_failing_model_output(tmp_path):
    doc = json.loads(
        write_results([check_model_output(4, "acro-default")], tmp_path, get_profile("acro-default")).read_text()
    )
    entry = doc["results"]["output_0"]
    assert entry["status"] == "fail"
    assert entry["files"][0]["sdc"]["summary"]["MinimumDoFCheck"] == 1
