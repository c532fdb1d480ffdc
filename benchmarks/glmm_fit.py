"""Benchmark: primary GLMM fit (Laplace and nAGQ=25) in cscvault vs R lme4::glmer on the same data.

Scenarios: the real trial size (27,000 children, 5 LAs, 6 periods) and a national scale (3,000,000
children, 150 LAs). Model: outcome ~ treatment + factor(period) + female + age_band + prev_cpp +
(1 | cluster). Every fit runs in its own process, so each peak memory (VmHWM, the resident-set high-water
mark, which includes reading the data) is that fit's alone. Fit time excludes reading the CSV; for
cscvault it includes collapsing child rows to unique patterns. CPU time (user + system) is reported
beside wall time because the machine may be shared; it is the fairer basis for the ratio.

R is given the child rows (what the model formula says) and, separately, the same data summed to
binomial rows (what a careful R user would do). glmer on 3,000,000 child rows takes the best part of an
hour, so it runs only with --r-child-national, and only for the Laplace fit.

    .venv/bin/python benchmarks/glmm_fit.py [--scenarios trial,national] [--no-r] [--r-child-national]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COVARIATES = ["female", "age_band", "prev_cpp"]
SCENARIOS = {"trial": (27_000, 5, 6), "national": (3_000_000, 150, 6)}
SEED = 2024

R_SCRIPT = r"""
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
path <- args[[1]]; kind <- args[[2]]; nagq <- as.integer(args[[3]])
hwm <- function() {
  s <- readLines("/proc/self/status"); as.numeric(gsub("[^0-9]", "", s[grepl("^VmHWM", s)])) / 1024
}
d <- read.csv(path)
d$cluster <- factor(d$cluster)
load_mb <- hwm()
rhs <- "treatment + factor(period) + female + age_band + prev_cpp + (1 | cluster)"
f <- if (kind == "child") paste("outcome ~", rhs) else paste("cbind(events, trials - events) ~", rhs)
t0 <- proc.time()
fit <- glmer(as.formula(f), data = d, family = binomial, nAGQ = nagq)
dt <- proc.time() - t0
cat(toJSON(list(fit_s = dt[["elapsed"]], cpu_s = dt[["user.self"]] + dt[["sys.self"]],
  peak_mb = hwm(), load_peak_mb = load_mb,
  estimate = unname(fixef(fit)[["treatment"]]), se = unname(sqrt(diag(as.matrix(vcov(fit))))[2]),
  re_sd = as.data.frame(VarCorr(fit))$sdcor[1]), auto_unbox = TRUE, digits = NA))
"""


def _vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker(path: str, kind: str, nagq: int) -> None:
    """Fit one model in this process and print one JSON line."""
    import pandas as pd

    from cscvault.analysis.models.glmm import fit_glmm_frame

    frame = pd.read_csv(path)
    load_mb = _vm_hwm_mb()
    response = {"outcome": "outcome"} if kind == "child" else {"events": "events", "trials": "trials"}
    t0, c0 = time.perf_counter(), time.process_time()
    fit = fit_glmm_frame(
        frame,
        treatment="treatment",
        period="period",
        cluster="cluster",
        covariates=COVARIATES,
        nagq=nagq,
        **response,
    )
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        json.dumps(
            {
                "fit_s": secs,
                "cpu_s": cpu,
                "peak_mb": _vm_hwm_mb(),
                "load_peak_mb": load_mb,
                "estimate": fit.effect.estimate,
                "se": fit.effect.se,
                "re_sd": fit.re_sd["cluster"],
                "rows_fitted": fit.n_rows_fitted,
                "optimisers_agree": fit.optimisers_agree,
            }
        )
    )


def _run(cmd: list[str], timeout: float) -> dict[str, object]:
    t0 = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    out: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    out["wall_s"] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenarios", default="trial,national")
    ap.add_argument("--no-r", action="store_true", help="skip R even if Rscript is installed")
    ap.add_argument("--r-child-national", action="store_true", help="also run glmer (Laplace) on 3M child rows")
    ap.add_argument("--out", type=Path, default=None, help="write all results as JSON here")
    ap.add_argument("--data-dir", type=Path, default=None, help="keep the generated CSVs (and fit.R) here")
    ap.add_argument("--worker", nargs=3, metavar=("CSV", "KIND", "NAGQ"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], int(args.worker[2]))
        return

    from cscvault.analysis.simulate import SteppedWedgeSpec, simulate_stepped_wedge

    have_r = shutil.which("Rscript") is not None and not args.no_r
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        tmp = str(args.data_dir or scratch)
        Path(tmp).mkdir(parents=True, exist_ok=True)
        r_script = Path(tmp) / "fit.R"
        r_script.write_text(R_SCRIPT)
        for name in args.scenarios.split(","):
            n, clusters, periods = SCENARIOS[name]
            trial = simulate_stepped_wedge(
                SteppedWedgeSpec(n_children=n, n_clusters=clusters, n_periods=periods), seed=SEED
            )
            child_csv, binom_csv = Path(tmp) / f"{name}_child.csv", Path(tmp) / f"{name}_binom.csv"
            trial.children.to_csv(child_csv, index=False)
            trial.binomial().to_csv(binom_csv, index=False)
            del trial
            for nagq in (1, 25):
                row: dict[str, object] = {"scenario": name, "children": n, "clusters": clusters, "nagq": nagq}
                py = [sys.executable, __file__, "--worker"]
                row["python_child"] = _run([*py, str(child_csv), "child", str(nagq)], 900)
                row["python_binom"] = _run([*py, str(binom_csv), "binom", str(nagq)], 900)
                if have_r:
                    rs = ["Rscript", str(r_script)]
                    if name != "national" or (args.r_child_national and nagq == 1):
                        row["r_child"] = _run([*rs, str(child_csv), "child", str(nagq)], 3600)
                    row["r_binom"] = _run([*rs, str(binom_csv), "binom", str(nagq)], 900)
                results.append(row)
                _report(row)
                sys.stdout.flush()
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


def _ratio(num: dict[str, object], den: dict[str, object], key: str) -> str:
    return f"{float(str(num[key])) / float(str(den[key])):.2f}"


def _report(row: dict[str, object]) -> None:
    def cell(key: str) -> dict[str, object]:
        value = row.get(key)
        return value if isinstance(value, dict) else {}

    print(f"== {row['scenario']}: {row['children']:,} children, {row['clusters']} clusters, nAGQ={row['nagq']}")
    for key in ("python_child", "python_binom", "r_child", "r_binom"):
        r = cell(key)
        if not r:
            continue
        if "error" in r:
            print(f"  {key:<13} {r['error']}")
            continue
        print(
            f"  {key:<13} fit {r['fit_s']:8.2f} s (CPU {r['cpu_s']:8.2f} s)   peak {r['peak_mb']:8.0f} MB   "
            f"log-OR {r['estimate']:.6f}  SE {r['se']:.6f}  sd {r['re_sd']:.5f}"
        )
    for ours, theirs in (("python_child", "r_child"), ("python_binom", "r_binom"), ("python_child", "r_binom")):
        a, b = cell(ours), cell(theirs)
        if a and b and "error" not in a and "error" not in b:
            print(
                f"  ratio R/cscvault ({theirs} vs {ours}): wall time {_ratio(b, a, 'fit_s')}, "
                f"CPU time {_ratio(b, a, 'cpu_s')}, peak memory {_ratio(b, a, 'peak_mb')}"
            )


if __name__ == "__main__":
    main()
