"""`cscvault model gee` and `cscvault model fe-cr2` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cscvault.cli import main

REF = Path(__file__).resolve().parents[3] / "reference" / "robust"
COLS = ["--events", "events", "--trials", "trials", "--treatment", "treatment", "--period", "period"]


def _run(capsys, *argv):
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_fe_cr2_json_matches_clubsandwich(capsys):
    code, out, _ = _run(
        capsys,
        "model",
        "fe-cr2",
        str(REF / "cells_6x5_sex.csv"),
        *COLS,
        "--cluster",
        "cluster",
        "--covariates",
        "sex",
        "--json",
    )
    assert code == 0
    doc = json.loads(out)
    ref = pd.read_csv(REF / "fe_cr2_reference.csv")
    row = ref[(ref["model"] == "6x5_sex") & (ref["r_term"] == "treatment")].iloc[0]
    assert doc["model"] == "fe-logit-cr2" and doc["clusters"] == 6
    assert doc["se_cr2"] == pytest.approx(row["se_cr2"], rel=1e-5)
    assert doc["df_satterthwaite"] == pytest.approx(row["df_satterthwaite"], abs=1e-4)


def test_gee_json_has_every_variance_and_the_df_rule(capsys, test_data):
    code, out, _ = _run(
        capsys,
        "model",
        "gee",
        str(test_data / "geecrt" / "geecrt_sampleSWCRTSmall.csv"),
        "--outcome",
        "y_bin",
        "--treatment",
        "treatment",
        "--period",
        "period",
        "--cluster",
        "id",
        "--json",
    )
    assert code == 0
    doc = json.loads(out)
    assert set(doc["variances"]) == {"model", "sandwich", "kc", "md", "fg"}
    assert doc["variances"]["md"]["se"] == pytest.approx(0.6573418, abs=5e-5)
    assert doc["df"] == 7 and doc["df_rule"] == "clusters - parameters"


def test_gee_text_output_and_fixed_alpha(capsys):
    code, out, _ = _run(
        capsys,
        "model",
        "gee",
        str(REF / "cells_5x6.csv"),
        *COLS,
        "--cluster",
        "cluster",
        "--alpha",
        "0.02",
    )
    assert code == 0
    assert "alpha = 0.02000 (fixed)" in out and "note: clusters - parameters" in out


@pytest.mark.parametrize(
    ("argv", "exit_code", "message"),
    [
        (
            ["model", "gee", "missing.csv", "--outcome", "y", "--treatment", "t", "--period", "p", "--cluster", "c"],
            2,
            "no such file",
        ),
        (
            ["model", "fe-cr2", "{ref}", "--treatment", "treatment", "--period", "period", "--cluster", "cluster"],
            2,
            "--outcome",
        ),
        (
            [
                "model",
                "fe-cr2",
                "{ref}",
                "--outcome",
                "events",
                "--treatment",
                "treatment",
                "--period",
                "period",
                "--cluster",
                "cluster",
            ],
            3,
            "only 0 and 1",
        ),
        (["model", "gee", "{ref}", *COLS, "--cluster", "nope"], 2, "'nope'"),
    ],
)
def test_errors_are_one_line_with_exit_codes(capsys, argv, exit_code, message):
    argv = [a.replace("{ref}", str(REF / "cells_5x6.csv")) for a in argv]
    code, out, err = _run(capsys, *argv)
    assert code == exit_code
    assert message in err and err.count("\n") == 1 and out == ""
