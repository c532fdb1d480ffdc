"""`la check` and `la package` agree: a file `la check` finds errors in is not packaged without --allow-errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pyrage import x25519

from cscvault.errors import DataError
from cscvault.la import build_package, read_package
from cscvault.la.check import check_files
from cscvault.study import load_study

DATA = Path(__file__).resolve().parents[1] / "data" / "dfe_cin"

CLEAN = """<?xml version="1.0" encoding="utf-8"?>
<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>2024</Year>
<ReferenceDate>2024-03-31</ReferenceDate></CollectionDetails><Source><SourceLevel>L</SourceLevel><LEA>335</LEA>
<SoftwareCode>cscvault tests</SoftwareCode><Release>1</Release><SerialNo>001</SerialNo>
<DateTime>2024-05-01T00:00:00</DateTime></Source></Header><Children>
<Child><ChildIdentifiers><LAchildID>CLEAN01</LAchildID><UPNunknown>UN2</UPNunknown>
<PersonBirthDate>2015-05-01</PersonBirthDate><GenderCurrent>1</GenderCurrent></ChildIdentifiers>
<ChildCharacteristics><Ethnicity>WBRI</Ethnicity><Disabilities><Disability>NONE</Disability></Disabilities>
</ChildCharacteristics><CINdetails><CINreferralDate>2023-06-01</CINreferralDate><ReferralSource>1A</ReferralSource>
<PrimaryNeedCode>N1</PrimaryNeedCode><Assessments><AssessmentActualStartDate>2023-06-02</AssessmentActualStartDate>
<AssessmentAuthorisationDate>2023-06-20</AssessmentAuthorisationDate><FactorsIdentifiedAtAssessment>
<AssessmentFactors>1A</AssessmentFactors></FactorsIdentifiedAtAssessment></Assessments>
<ReferralNFA>false</ReferralNFA></CINdetails></Child>
</Children></Message>
"""


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from cscvault.cli import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def _files(tmp_path: Path) -> tuple[Path, Path]:
    bad = tmp_path / "walsall_cin_2023-24.xml"  # a public fake sample that breaks DfE rules on purpose
    shutil.copyfile(DATA / "CIN_Census_2024.xml", bad)
    clean = tmp_path / "walsall_cin_clean.xml"
    clean.write_text(CLEAN, encoding="utf-8")
    return bad, clean


def test_package_refuses_what_check_rejects_naming_each_file_and_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad, clean = _files(tmp_path)
    recipient = str(x25519.Identity.generate().to_public())
    code, checked, check_err = _main(["la", "check", str(bad), str(clean), "--la", "Walsall"], capsys)
    assert code == 3 and "fix them before packaging" in check_err
    out = tmp_path / "p.age"
    args = ["la", "package", str(bad), str(clean), "--la", "Walsall", "--recipient", recipient, "--out", str(out)]
    code, stdout, err = _main(args, capsys)
    assert code == 3 and not out.exists()
    assert "--allow-errors" in err.splitlines()[-1] and "Traceback" not in err
    # The same report as `la check`, for the file with errors only: a line per file and per rule.
    bad_section = checked.split(f"{clean.name}:")[0]
    assert [line for line in err.splitlines()[:-1]] == bad_section.splitlines()
    assert "DFE-CIN-8565" in err and "DFE-CIN-1103 [AssessmentActualStartDate]" in err
    assert clean.name not in err
    for value in ("DfEX0000001", "child_fails_assessments", "2028-04-28", "2022-10-06"):  # ids and dates in the file
        assert value not in err + stdout


def test_allow_errors_packages_and_the_manifest_records_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad, clean = _files(tmp_path)
    ident = x25519.Identity.generate()
    out = tmp_path / "p.age"
    args = ["la", "package", str(bad), str(clean), "--la", "Walsall", "--recipient", str(ident.to_public())]
    code, stdout, err = _main([*args, "--out", str(out), "--allow-errors"], capsys)
    assert code == 0 and "Package written" in stdout and "--allow-errors" in err
    manifest = read_package(out, ident).manifest
    _, checked, _ = _main(["la", "check", str(bad), str(clean), "--la", "Walsall", "--json"], capsys)
    by_file = {f["file"]: f for f in json.loads(checked)["files"]}
    assert manifest["allow_errors"] is True
    assert manifest["errors"] == json.loads(checked)["errors"] > 0
    for entry in manifest["files"]:
        findings = by_file[entry["name"]]["findings"]
        counts: dict[str, int] = {}
        for f in findings:
            if f["severity"] in ("error", "fatal"):
                counts[f["rule_id"]] = counts.get(f["rule_id"], 0) + 1
        assert entry["error_rules"] == counts and entry["errors"] == by_file[entry["name"]]["errors"]
    assert manifest["files"][1]["errors"] == 0


def test_clean_files_package_without_the_flag(tmp_path: Path) -> None:
    _, clean = _files(tmp_path)
    ident = x25519.Identity.generate()
    result = build_package([clean], str(ident.to_public()), tmp_path / "c.age", load_study())
    assert result.errors == 0
    manifest = read_package(result.path, ident).manifest
    assert manifest["allow_errors"] is False and manifest["errors"] == 0
    assert manifest["la"]["name"] == "Walsall" and manifest["files"][0]["error_rules"] == {}


def test_the_api_refuses_too_and_reuses_checks_only_for_the_same_files(tmp_path: Path) -> None:
    bad, clean = _files(tmp_path)
    study = load_study()
    recipient = str(x25519.Identity.generate().to_public())
    with pytest.raises(DataError, match=r"error\(s\) in 1 file\(s\); not packaged"):
        build_package([bad, clean], recipient, tmp_path / "a.age", study, la="Walsall")
    # Checks of other files are not trusted: the files given are checked again.
    checks = check_files([clean], study, la="Walsall")
    with pytest.raises(DataError, match="not packaged"):
        build_package([bad], recipient, tmp_path / "b.age", study, la="Walsall", checks=checks)
    assert not (tmp_path / "a.age").exists() and not (tmp_path / "b.age").exists()
