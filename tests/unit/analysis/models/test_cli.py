"""`cscvault model glmm`: the command-line contract."""

from __future__ import annotations

import json
import math

import pytest

from cscvault.analysis.simulate import SteppedWedgeSpec, simulate_stepped_wedge
from cscvault.cli import main


@pytest.fixture(scope="module")
def csvs(tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    trial = simulate_stepped_wedge(SteppedWedgeSpec(n_clusters=6, n_periods=5, n_children=4_000), seed=9)
    trial.children.to_csv(d / "children.csv", index=False)
    trial.binomial().to_csv(d / "cells.csv", index=False)
    return d


def _run(capsys, args):
    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


BASE = ["--treatment", "treatment", "--period", "period", "--cluster", "cluster"]


def test_json_output_has_the_contract_fields(csvs, capsys):
    code, out, _ = _run(
        capsys,
        [
            "model",
            "glmm",
            str(csvs / "children.csv"),
            "--outcome",
            "outcome",
            *BASE,
            "--covariates",
            "female,prev_cpp",
            "--json",
        ],
    )
    assert code == 0
    doc = json.loads(out)  # one JSON document and nothing else
    for key in ("estimate", "se", "odds_ratio", "ci_low", "ci_high", "p_value", "re_sd", "loglik", "n", "terms"):
        assert key in doc
    assert doc["n"] == 4_000
    assert doc["odds_ratio"] == pytest.approx(math.exp(doc["estimate"]))
    assert doc["ci_low"] < doc["odds_ratio"] < doc["ci_high"]
    assert [t["term"] for t in doc["terms"]][-2:] == ["female", "prev_cpp"]
    assert doc["nagq"] == 1


def test_binomial_rows_with_quadrature_match_child_rows(csvs, capsys):
    _, out1, _ = _run(
        capsys, ["model", "glmm", str(csvs / "children.csv"), "--outcome", "outcome", *BASE, "--nagq", "9", "--json"]
    )
    _, out2, _ = _run(
        capsys,
        [
            "model",
            "glmm",
            str(csvs / "cells.csv"),
            "--events",
            "events",
            "--trials",
            "trials",
            *BASE,
            "--nagq",
            "9",
            "--json",
        ],
    )
    a, b = json.loads(out1), json.loads(out2)
    assert a["estimate"] == pytest.approx(b["estimate"], abs=1e-6)
    assert a["se"] == pytest.approx(b["se"], rel=1e-5)
    assert b["nagq"] == 9


def test_cluster_period_option(csvs, capsys):
    code, out, _ = _run(
        capsys,
        [
            "model",
            "glmm",
            str(csvs / "cells.csv"),
            "--events",
            "events",
            "--trials",
            "trials",
            *BASE,
            "--re",
            "cluster-period",
            "--json",
        ],
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["random_effects"] == "cluster-period"
    assert set(doc["re_sd_by_level"]) == {"cluster", "cluster_period"}


def test_table_output(csvs, capsys):
    code, out, _ = _run(
        capsys, ["model", "glmm", str(csvs / "cells.csv"), "--events", "events", "--trials", "trials", *BASE]
    )
    assert code == 0
    assert "treatment" in out and "optimisers agree" in out


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--outcome", "nope"], 2, "no column named 'nope'"),
        (["--outcome", "outcome", "--events", "events", "--trials", "trials"], 2, "not both"),
        ([], 2, "give --outcome"),
        (["--outcome", "age_band"], 3, "only 0 and 1"),
        (["--outcome", "outcome", "--re", "cluster-period", "--nagq", "30"], 2, "at most 25 nodes"),
        (["--outcome", "outcome", "--re", "time"], 2, "--re must be"),
    ],
)
def test_errors_are_one_line_with_exit_codes(csvs, capsys, args, code, fragment):
    got, out, err = _run(capsys, ["model", "glmm", str(csvs / "children.csv"), *BASE, *args])
    assert got == code
    assert out == ""
    assert err.count("\n") == 1 and fragment in err


def test_missing_and_malformed_files(tmp_path, capsys):
    code, _, err = _run(capsys, ["model", "glmm", str(tmp_path / "none.csv"), "--outcome", "y", *BASE])
    assert code == 2 and "no such file" in err
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe\x00garbage\x00\n\x01")
    code, _, err = _run(capsys, ["model", "glmm", str(bad), "--outcome", "y", *BASE])
    assert code in (2, 3) and err.count("\n") == 1
