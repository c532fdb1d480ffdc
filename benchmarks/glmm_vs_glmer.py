"""Benchmark: cscvault's primary GLMM (Laplace, full accuracy) against R lme4::glmer on the same child rows.

One run generates each scenario's child rows once (cscvault's stepped-wedge simulator plus factor
covariates to reach the primary model's ~30 fixed-effect columns), writes them to a CSV, and fits

* cscvault `fit_glmm_frame` (Laplace, both optimisers, exact Hessian for the SEs) in its own process;
* glmer with `nAGQ = 0` (its fast, less accurate mode: beta inside PIRLS, no Laplace over beta) and, at the
  trial size only, glmer's default Laplace fit (`nAGQ = 1`), each with Rscript in its own process,

and prints CPU seconds (user + system of the fit), wall seconds, peak resident memory (VmHWM, which
includes reading the CSV) and the ratios glmer / cscvault, with the load average before and after each
fit. Fit times exclude reading the CSV on both sides; cscvault's include building and collapsing the
design from child rows. Model: outcome ~ treatment + factor(period) + factor(age_band) + female +
factor(ethnicity) + factor(gender) + factor(disability) + factor(uasc) + factor(prev_cpp) +
factor(language) + (1 | cluster).

    .venv/bin/python benchmarks/glmm_vs_glmer.py [--scenarios trial,1m,3m] [--no-r] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SCENARIOS = {"trial": (27_000, 5), "1m": (1_000_000, 150), "3m": (3_000_000, 150)}
N_PERIODS = 6
SEED = 2024
# Extra factor covariates: name -> level probabilities (independent of the outcome: they cost the fit the
# same whether or not they matter).
FACTORS = {
    "ethnicity": (0.70, 0.08, 0.07, 0.05, 0.03, 0.03, 0.02, 0.01, 0.01),
    "gender": (0.49, 0.49, 0.02),
    "disability": (0.85, 0.10, 0.05),
    "uasc": (0.95, 0.03, 0.02),
    "prev_cpp": (0.80, 0.15, 0.05),
    "language": (0.80, 0.15, 0.05),
}
NUMERIC = ["female"]
AS_FACTOR = ["age_band", *FACTORS]

R_SCRIPT = r"""
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
path <- args[[1]]; nagq <- as.integer(args[[2]])
hwm <- function() {
  s <- readLines("/proc/self/status"); as.numeric(gsub("[^0-9]", "", s[grepl("^VmHWM", s)])) / 1024
}
d <- read.csv(path)
d$cluster <- factor(d$cluster)
f <- outcome ~ treatment + factor(period) + factor(age_band) + female + factor(ethnicity) + factor(gender) +
  factor(disability) + factor(uasc) + factor(prev_cpp) + factor(language) + (1 | cluster)
t0 <- proc.time()
fit <- glmer(f, data = d, family = binomial, nAGQ = nagq)
dt <- proc.time() - t0
cat(toJSON(list(fit_s = dt[["elapsed"]], cpu_s = dt[["user.self"]] + dt[["sys.self"]], peak_mb = hwm(),
  columns = length(fixef(fit)), estimate = unname(fixef(fit)[["treatment"]]),
  se = unname(sqrt(diag(as.matrix(vcov(fit))))[2]), re_sd = as.data.frame(VarCorr(fit))$sdcor[1]),
  auto_unbox = TRUE, digits = NA))
"""


def _vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_children(n: int, clusters: int, seed: int = SEED) -> object:
    """Child rows: the simulator's trial (null effect, LA SD 0.3) plus the factor covariates above."""
    from cscvault.analysis.simulate import SteppedWedgeSpec, simulate_stepped_wedge

    spec = SteppedWedgeSpec(
        n_children=n, n_clusters=clusters, n_periods=N_PERIODS, baseline_risk=0.06, log_or=-0.15, cluster_sd=0.3,
        covariates=("female", "age_band"),
    )  # fmt: skip
    frame = simulate_stepped_wedge(spec, seed=seed).children
    rng = np.random.default_rng(seed + 1)
    for name, probs in FACTORS.items():
        frame[name] = rng.choice(len(probs), size=n, p=probs).astype(np.int8)
    frame["cluster"] = frame["cluster"].astype(str)
    return frame


def worker(path: str) -> None:
    """Fit with cscvault in this process and print one JSON line."""
    import pandas as pd

    from cscvault.analysis.models.glmm import fit_glmm_frame

    frame = pd.read_csv(path)
    t0, c0 = time.perf_counter(), time.process_time()
    fit = fit_glmm_frame(
        frame, outcome="outcome", treatment="treatment", period="period", cluster="cluster",
        covariates=NUMERIC, factors=AS_FACTOR,
    )  # fmt: skip
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = {
        "fit_s": secs,
        "cpu_s": cpu,
        "peak_mb": _vm_hwm_mb(),
        "columns": len(fit.terms),
        "rows_fitted": fit.n_rows_fitted,
        "estimate": fit.effect.estimate,
        "se": fit.effect.se,
        "re_sd": fit.re_sd["cluster"],
        "optimisers_agree": fit.optimisers_agree,
        "converged": fit.converged,
    }
    print(json.dumps(out))


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _run(cmd: list[str], timeout: float) -> dict[str, object]:
    before = _load()
    t0 = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s", "load_before": before, "load_after": _load()}
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()
        return {"error": tail[-1] if tail else "failed", "load_before": before, "load_after": _load()}
    out: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = time.perf_counter() - t0
    out["load_before"], out["load_after"] = before, _load()
    return out


def _line(label: str, r: dict[str, object]) -> str:
    if "error" in r:
        return f"  {label:<22} {r['error']} (load {r['load_before']} -> {r['load_after']})"
    return (
        f"  {label:<22} CPU {float(str(r['cpu_s'])):8.2f} s  wall {float(str(r['fit_s'])):8.2f} s  "
        f"peak {float(str(r['peak_mb'])):7.0f} MB  log-OR {float(str(r['estimate'])):+.6f}  "
        f"SE {float(str(r['se'])):.6f}  sd {float(str(r['re_sd'])):.5f}  (load {r['load_before']} -> {r['load_after']})"
    )


def _ratios(label: str, ref: dict[str, object], ours: dict[str, object]) -> str:
    if "error" in ref or "error" in ours:
        return f"  ratio {label}: not available"
    cpu, wall, mem = (float(str(ref[k])) / float(str(ours[k])) for k in ("cpu_s", "fit_s", "peak_mb"))
    return f"  {label} / cscvault: CPU {cpu:.2f}x, wall {wall:.2f}x, peak memory {mem:.2f}x"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenarios", default="trial,1m,3m")
    ap.add_argument("--no-r", action="store_true", help="skip R even if Rscript is installed")
    ap.add_argument("--out", type=Path, default=None, help="write all results as JSON here")
    ap.add_argument("--data-dir", type=Path, default=None, help="keep the generated CSVs here")
    ap.add_argument("--worker", metavar="CSV", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker)
        return

    have_r = shutil.which("Rscript") is not None and not args.no_r
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(args.data_dir or scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        r_script = tmp / "glmer_fit.R"
        r_script.write_text(R_SCRIPT)
        for name in args.scenarios.split(","):
            n, clusters = SCENARIOS[name]
            csv = tmp / f"glmm_{name}.csv"
            if not csv.exists():
                make_children(n, clusters).to_csv(csv, index=False)  # type: ignore[attr-defined]
            row: dict[str, object] = {"scenario": name, "children": n, "clusters": clusters}
            row["cscvault"] = _run([sys.executable, __file__, "--worker", str(csv)], 3600)
            if have_r:
                row["glmer_nagq0"] = _run(["Rscript", str(r_script), str(csv), "0"], 7200)
                if name == "trial":
                    row["glmer_laplace"] = _run(["Rscript", str(r_script), str(csv), "1"], 3600)
            results.append(row)
            ours = row["cscvault"]
            assert isinstance(ours, dict)
            cols = ours.get("columns", "?")
            print(f"== {name}: {n:,} children, {clusters} clusters, {cols} fixed-effect columns")
            print(_line("cscvault (Laplace)", ours))
            for key, label in (("glmer_nagq0", "glmer nAGQ=0"), ("glmer_laplace", "glmer nAGQ=1 (Laplace)")):
                ref = row.get(key)
                if isinstance(ref, dict):
                    print(_line(label, ref))
                    print(_ratios(label, ref, ours))
            sys.stdout.flush()
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
