"""`cscvault design power|null-sim`: the design's power and its type I error by simulation under the null."""

from __future__ import annotations

import json

import pytest

from cscvault.analysis.null_simulation import NullSimulationSpec, run_null_simulation
from cscvault.errors import UsageError
from cscvault.study import load_study
from tests.helpers import cli_in_process

STUDY = load_study()
SMALL = {"children": 3000, "baseline_risk": 0.2}


def test_null_simulation_is_reproducible_whatever_the_workers():
    spec = NullSimulationSpec(replications=6, seed=7, **SMALL)
    one = run_null_simulation(STUDY, spec, workers=1)
    two = run_null_simulation(STUDY, spec, workers=2)
    assert (one.rejections, one.not_converged) == (two.rejections, two.not_converged)
    assert one.n_clusters == len(STUDY.local_authorities) and one.n_periods == len(STUDY.periods)
    assert one.ci_low <= one.type_i_error <= one.ci_high


def test_progress_is_reported_for_every_replication():
    seen = []
    run_null_simulation(STUDY, NullSimulationSpec(replications=3, **SMALL), progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize("bad", [{"replications": 0}, {"alpha": 1.5}, {"cluster_sd": -1.0}, {"seed": -1}])
def test_bad_settings_are_usage_errors(bad):
    with pytest.raises(UsageError, match="null simulation"):
        NullSimulationSpec(**bad)


def test_power_falls_with_the_icc_and_the_mde_has_80_percent_power():
    def power(*extra):
        r = cli_in_process("design", "power", "--json", *extra)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    low, high = power("--icc", "0.001"), power("--icc", "0.05")
    assert 0 < high["power"] < low["power"] < 1
    mde = low["minimum_detectable_risk_difference_80"]
    at_mde = power("--icc", "0.001", "--risk-difference", str(-mde))
    assert at_mde["power"] == pytest.approx(0.8, abs=1e-6)


@pytest.mark.parametrize("args", [("null-sim", "--seed", "-1"), ("power", "--alpha", "0")])
def test_bad_options_give_one_line_and_exit_2(args):
    r = cli_in_process("design", *args)
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_null_sim_cli_prints_one_json_object():
    r = cli_in_process("design", "null-sim", "--reps", "2", "--children", "3000", "--workers", "1", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["spec"]["replications"] == 2 and 0 <= out["rejections"] <= 2
    assert "Wald" in out["procedure"]


def test_power_text_and_json_state_every_assumption():
    args = ("design", "power", "--children", "5000", "--baseline-risk", "0.1", "--icc", "0.02", "--cac", "0.8",
            "--alpha", "0.01")  # fmt: skip
    text = cli_in_process(*args)
    assert text.returncode == 0, text.stderr
    lines = text.stdout
    n = len(STUDY.local_authorities) * len(STUDY.periods)
    for expected in ("baseline risk (control): 0.1", f"clusters (local authorities): {len(STUDY.local_authorities)}",
                     f"periods: {len(STUDY.periods)}", f"cluster-period size: {5000 / n:.1f}", "ICC (risk scale): 0.02",
                     "cluster autocorrelation (CAC): 0.8", "alpha: 0.01", "test: two-sided Wald z test"):  # fmt: skip
        assert expected in lines, expected
    out = json.loads(cli_in_process(*args, "--json").stdout)
    assert out["baseline_risk"] == 0.1 and out["icc"] == 0.02 and out["cac"] == 0.8 and out["alpha"] == 0.01
    assert out["clusters"] == len(STUDY.local_authorities) and out["periods"] == len(STUDY.periods)
    assert out["cluster_period_size"] == pytest.approx(5000 / n) and out["test"].startswith("two-sided Wald z")
