"""`cscvault model ...` on awkward data (issue 20): separation and non-convergence are exit 3 with one
line, text covariates are factors with their reference level stated, and randomisation inference and
multiple imputation have commands that agree with the Python API."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cscvault.analysis.models import glmm_runs
from cscvault.analysis.models.glmm_runs import glmm_multiple_imputation, glmm_randomisation
from cscvault.analysis.simulate import SteppedWedgeSpec, simulate_stepped_wedge
from cscvault.cli import main

BASE = ["--treatment", "treatment", "--period", "period", "--cluster", "cluster"]
COLUMNS = dict(treatment="treatment", period="period", cluster="cluster", outcome="outcome")


@pytest.fixture(scope="module")
def children() -> pd.DataFrame:
    trial = simulate_stepped_wedge(SteppedWedgeSpec(n_clusters=6, n_periods=5, n_children=3_000), seed=9)
    df = trial.children.copy()
    df["sex"] = np.where(df["female"] == 1, "F", "M")
    return df


def _write(folder: Path, name: str, frame: pd.DataFrame) -> Path:
    path = folder / name
    frame.to_csv(path, index=False)
    return path


def _run(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out, out.err


@pytest.fixture(scope="module")
def separated(children: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    df = children.copy()
    df.loc[df["treatment"] == 1, "outcome"] = 0  # no treated child has the outcome: complete separation
    return _write(tmp_path_factory.mktemp("sep"), "separated.csv", df)


@pytest.mark.parametrize("model", ["glmm", "gee", "fe-cr2"])
def test_separation_is_exit_3_with_one_line_naming_it(model, separated, capsys):
    code, out, err = _run(capsys, ["model", model, str(separated), "--outcome", "outcome", *BASE, "--json"])
    assert code == 3
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert "separation" in lines[0] and "treatment" in lines[0]
    assert "single child" not in lines[0]


def test_glmm_optimisers_that_disagree_are_exit_3(children, tmp_path, capsys, monkeypatch):
    real = glmm_runs.fit_glmm

    def disagreeing(*args, **kwargs):
        fit = real(*args, **kwargs)
        return dataclasses.replace(fit, optimisers_agree=False, max_param_difference=0.3)

    monkeypatch.setattr(glmm_runs, "fit_glmm", disagreeing)
    path = _write(tmp_path, "c.csv", children)
    code, out, err = _run(capsys, ["model", "glmm", str(path), "--outcome", "outcome", *BASE, "--json"])
    assert code == 3 and out == ""
    assert err.strip().splitlines() == [
        "error: c.csv: the two optimisers disagree (largest parameter difference 0.3); "
        "the likelihood is flat or has several maxima"
    ]


def test_glmm_that_does_not_converge_is_exit_3(children, tmp_path, capsys, monkeypatch):
    real = glmm_runs.fit_glmm
    monkeypatch.setattr(glmm_runs, "fit_glmm", lambda *a, **k: dataclasses.replace(real(*a, **k), converged=False))
    path = _write(tmp_path, "c.csv", children)
    code, _, err = _run(capsys, ["model", "glmm", str(path), "--outcome", "outcome", *BASE])
    assert code == 3 and "did not converge" in err


def test_glmm_leaves_out_a_separated_text_level_and_names_it(children, tmp_path, capsys):
    df = children.copy()
    rng = np.random.default_rng(1)
    rare = df.index[(df["outcome"] == 0).to_numpy() & (rng.random(len(df)) < 0.01)]
    df.loc[rare, "sex"] = "X"  # a rare level with no events
    path = _write(tmp_path, "rare.csv", df)
    code, out, err = _run(capsys, ["model", "glmm", str(path), "--outcome", "outcome", *BASE, "--covariates", "sex"])
    assert code == 0, err
    assert f"sex[X] ({len(rare)} children)" in out
    assert "reference level of sex: F" in out
    code, out, _ = _run(
        capsys, ["model", "glmm", str(path), "--outcome", "outcome", *BASE, "--covariates", "sex", "--json"]
    )
    doc = json.loads(out)
    assert doc["left_out_levels"] == {"sex[X]": len(rare)}
    assert doc["converged"] and doc["optimisers_agree"]


def test_text_covariates_in_glmm_agree_with_the_dummy_coded_fit(children, tmp_path, capsys):
    path = _write(tmp_path, "c.csv", children.assign(male=lambda d: 1 - d["female"]))
    _, text_out, _ = _run(
        capsys, ["model", "glmm", str(path), "--outcome", "outcome", *BASE, "--covariates", "sex", "--json"]
    )
    _, dummy_out, _ = _run(
        capsys, ["model", "glmm", str(path), "--outcome", "outcome", *BASE, "--covariates", "male", "--json"]
    )
    text, dummy = json.loads(text_out), json.loads(dummy_out)
    assert text["reference_levels"] == {"sex": "F"}
    assert text["estimate"] == pytest.approx(dummy["estimate"], abs=1e-7)
    assert text["se"] == pytest.approx(dummy["se"], rel=1e-6)
    terms = {t["term"]: t["estimate"] for t in text["terms"]}
    assert terms["sex[M]"] == pytest.approx({t["term"]: t["estimate"] for t in dummy["terms"]}["male"], abs=1e-7)


@pytest.mark.parametrize("model", ["gee", "fe-cr2"])
def test_gee_and_fe_cr2_state_the_reference_level(model, children, tmp_path, capsys):
    path = _write(tmp_path, "c.csv", children)
    code, out, _ = _run(capsys, ["model", model, str(path), "--outcome", "outcome", *BASE, "--covariates", "sex"])
    assert code == 0 and "note: reference level of sex: F" in out
    _, out, _ = _run(
        capsys, ["model", model, str(path), "--outcome", "outcome", *BASE, "--covariates", "sex", "--json"]
    )
    assert json.loads(out)["reference_levels"] == {"sex": "F"}


def test_randomisation_command_agrees_with_the_python_api(children, tmp_path, capsys):
    clusters = sorted(children["cluster"].unique())
    observed = {"C001": 3, "C002": 4, "C003": 2, "C004": 1, "C005": 3, "C006": 1}
    rng = np.random.default_rng(5)
    rows = [observed] + [dict(zip(clusters, rng.permutation([observed[c] for c in clusters]), strict=True))
                         for _ in range(5)]  # fmt: skip
    seq_path = _write(tmp_path, "sequences.csv", pd.DataFrame(rows)[clusters])
    data = _write(tmp_path, "c.csv", children)
    code, out, err = _run(
        capsys,
        ["model", "glmm", str(data), "--outcome", "outcome", *BASE, "--randomisation", "--sequences",
         str(seq_path), "--json"],
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    python = glmm_randomisation(
        children,
        sequences=[{k: int(v) for k, v in r.items()} for r in rows],
        observed=observed,
        period_index=children["period"] - 1,
        source="c.csv",
        **COLUMNS,
    )
    assert doc["sequences"] == 6
    assert doc["estimate"] == pytest.approx(python.estimate, abs=1e-9)
    assert doc["p_value"] == pytest.approx(python.p_value)
    assert doc["null_distribution"] == pytest.approx(list(python.null_distribution), abs=1e-9)
    _, text, _ = _run(
        capsys,
        ["model", "glmm", str(data), "--outcome", "outcome", *BASE, "--randomisation", "--sequences", str(seq_path)],
    )
    assert "6 allowed sequences" in text and "exact two-sided p" in text


def test_multiple_imputation_command_agrees_with_the_python_api(children, tmp_path, capsys):
    df = children.copy()
    rng = np.random.default_rng(2)
    df.loc[rng.random(len(df)) < 0.15, "sex"] = np.nan
    path = _write(tmp_path, "missing.csv", df)
    code, out, err = _run(
        capsys,
        ["model", "glmm", str(path), "--outcome", "outcome", *BASE, "--covariates", "sex,prev_cpp",
         "--impute", "m=3", "--seed", "11", "--json"],
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    python = glmm_multiple_imputation(
        pd.read_csv(path), covariates=["sex", "prev_cpp"], m=3, seed=11, source="missing.csv", **COLUMNS
    )
    assert doc["m"] == 3 and doc["imputed"] == ["sex"]
    for key in ("estimate", "se", "df", "p_value", "fmi"):
        assert doc[key] == pytest.approx(python[key], rel=1e-9), key
    assert doc["between"] > 0  # the imputations differ
