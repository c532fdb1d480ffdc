"""Ingest benchmark: a synthetic CIN census of N children into a fresh vault, encrypted and not, and the
data-to-insight CIN validator on the same files.

    .venv/bin/python benchmarks/ingest_cin.py [--children N] [--skip-validator] [--skip-plain]

Steps (each timed with `/usr/bin/time -v` on a subprocess: wall, user+system CPU, peak RSS):
1. `cscvault synth DATA --children N --formats cin` (reused when DATA already holds it);
2. `cscvault init` + `cscvault ingest VAULT DATA/returns` into a fresh ENCRYPTED vault (the product as shipped);
3. the same into an UNENCRYPTED vault, for the encryption ratio. This is a benchmark-only switch: this
   script re-runs itself as `ingest_cin.py --plaintext-cli ARGS...`, which replaces
   `cscvault.vault.database.connect` (and the names bound to it in `vault.store` / `vault.backup`) with a copy
   that ATTACHes without ENCRYPTION_KEY and leaves temp_file_encryption off, then calls `cscvault.cli.main`.
   The product itself is unchanged and has no such switch;
4. the data-to-insight CIN validator (github data-to-insight/csc-validator-be-cin), from a local checkout
   with its own virtualenv (never part of this repo; see benchmarks/README.md), run as its README says:
   `python -m cin_validator xmltocsv FILE` (parse the XML into its tables and write them as CSV) on every
   file, one process per file (it takes one file); and `python -m cin_validator run FILE` (parse + all
   validation rules) on one file only (`--validator-rules`). cscvault is also timed on that one file
   alone (`--one-file NAME`, default the largest), into a fresh encrypted vault, for a like-for-like
   single-file ratio; `--validator-files one` runs the validator on that file only.

Results: a table on stdout and JSON in benchmarks/results/ingest_cin.json (gitignored).
Not part of the test suite. On a shared, loaded machine, wall time depends on the load; CPU time is the
steadier figure and both are reported.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
RESULTS = REPO / "benchmarks" / "results" / "ingest_cin.json"
DEFAULT_WORK = Path(os.environ.get("CSCVAULT_BENCH_DIR", Path(tempfile.gettempdir()) / "cscvault-bench"))
DEFAULT_VALIDATOR = Path(os.environ.get("CIN_VALIDATOR_DIR", "/work/bench-ext/validator"))
DEFAULT_VALIDATOR_PY = Path(os.environ.get("CIN_VALIDATOR_PYTHON", "/work/bench-ext/venv-validator/bin/python"))
PASSWORD = "benchmark-password-not-secret"
# Issue 19: the one-million-child ingest in at most 60 s wall and 110 s CPU on two idle cores, under 2 GB.
GOAL_SECONDS = 60.0
GOAL_CPU_SECONDS = 110.0
GOAL_RSS_MB = 2048.0


# --- benchmark-only plaintext mode -----------------------------------------------------------------------


def _plaintext_cli(argv: list[str]) -> None:
    """Run the cscvault CLI with the vault database NOT encrypted (benchmark ratio only)."""
    import duckdb

    from cscvault.vault import backup, database, store

    def plain_connect(vault_dir: Path, data_key: bytes, memory_limit: str | None = None) -> Any:
        # Same settings as database.connect, minus ENCRYPTION_KEY and temp-file encryption.
        con = duckdb.connect(
            ":memory:",
            config={
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "allow_community_extensions": False,
            },
        )
        with database.translate_errors(vault_dir):
            con.execute(f"LOAD '{database.httpfs_extension_path()}'")
            con.execute("SET temp_directory = ?", [str(vault_dir / database.TMP_DIR)])
            if memory_limit:
                con.execute("SET memory_limit = ?", [memory_limit])
            con.execute(f"ATTACH '{vault_dir / database.DB_FILE}' AS vault")
            con.execute("USE vault")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
        return con

    database.connect = plain_connect  # type: ignore[assignment]
    store.connect = plain_connect  # type: ignore[attr-defined]
    backup.connect = plain_connect  # type: ignore[attr-defined]
    from cscvault.cli import main

    main(argv)


# --- measuring -------------------------------------------------------------------------------------------


def _clock(text: str) -> float:
    parts = [float(p) for p in text.split(":")]
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + p
    return seconds


def _session_rss(sid: int) -> int:
    """Resident bytes of every process in session `sid` (the command, its worker processes and `time`)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # fields after the command name: state ppid pgrp session ...
            total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return total


class _TreePeak:
    """Samples the summed RSS of a session every 0.2 s: /usr/bin/time reports the largest single process,
    which understates the memory of an ingest that runs worker processes."""

    def __init__(self, sid: int) -> None:
        self.sid, self.peak, self._stop = sid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, _session_rss(self.sid))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return round(self.peak / 2**20, 1)


def timed(
    cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float | None = None
) -> dict[str, Any]:
    """Run `cmd` under /usr/bin/time -v; return wall, cpu (the command and its children), peak RSS (the
    largest process) and peak summed RSS of the process tree, and the command's stdout."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            ["/usr/bin/time", "-v", "-o", tf.name, *cmd],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        tree = _TreePeak(proc.pid)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the session this call started: time and its child only
            proc.communicate()
            tree.stop()
            return {
                "timed_out": True,
                "wall_s": round(time.perf_counter() - t0, 2),
                "cpu_s": 0.0,
                "peak_rss_mb": 0.0,
                "stdout": "",
            }
        elapsed = time.perf_counter() - t0
        tree_mb = tree.stop()
        report = tf.read()
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{stderr[-2000:]}")

    def field(name: str) -> str:
        m = re.search(rf"^\s*{re.escape(name)}: (.+)$", report, re.M)
        return m.group(1).strip() if m else "0"

    user, system = float(field("User time (seconds)")), float(field("System time (seconds)"))
    return {
        "wall_s": round(_clock(field("Elapsed (wall clock) time (h:mm:ss or m:ss)")) or elapsed, 2),
        "cpu_s": round(user + system, 2),
        "user_s": user,
        "system_s": system,
        "peak_rss_mb": round(int(field("Maximum resident set size (kbytes)")) / 1024, 1),
        "peak_tree_rss_mb": tree_mb,
        "stdout": stdout,
    }


def cscvault_env() -> dict[str, str]:
    env = dict(os.environ)
    env["CSCVAULT_PASSWORD"] = PASSWORD
    env["CSCVAULT_USER"] = "admin"  # the first user `init` creates; the CLI has no default user name
    env.pop("CSCVAULT_RECOVERY_CODE", None)
    return env


def ensure_synth(data: Path, children: int, seed: int) -> dict[str, Any]:
    marker = data / "synth.json"
    if any((data / "returns").rglob("*.xml")):
        return {"reused": True, **(json.loads(marker.read_text()) if marker.is_file() else {})}
    shutil.rmtree(data, ignore_errors=True)
    data.parent.mkdir(parents=True, exist_ok=True)
    cmd = [str(VENV_BIN / "cscvault"), "synth", str(data), "--children", str(children), "--formats", "cin"]
    run = timed([*cmd, "--seed", str(seed), "--json"], env=cscvault_env())
    summary = json.loads(run.pop("stdout"))
    info = {"children": summary["children"], "files": summary["files"], "synth": run}
    marker.write_text(json.dumps(info, indent=2))
    return {"reused": False, **info}


def cin_files(data: Path) -> list[Path]:
    return sorted((data / "returns").rglob("*.xml"))


def ingest(vault: Path, inputs: list[Path], plaintext: bool) -> dict[str, Any]:
    """init + ingest into a fresh vault; only the ingest is timed."""
    shutil.rmtree(vault, ignore_errors=True)
    vault.parent.mkdir(parents=True, exist_ok=True)
    if plaintext:
        base = [sys.executable, str(Path(__file__).resolve()), "--plaintext-cli"]
    else:
        base = [str(VENV_BIN / "cscvault")]
    env = cscvault_env()
    subprocess.run([*base, "init", str(vault)], env=env, check=True, capture_output=True)
    run = timed([*base, "ingest", str(vault), *map(str, inputs), "--json"], env=env)
    deliveries = json.loads(run.pop("stdout"))
    run["deliveries"] = len(deliveries)
    run["loaded"] = sum(d["status"] == "loaded" for d in deliveries)
    run["rows_read"] = sum(d["rows_read"] for d in deliveries)
    run["rows_loaded"] = sum(d["rows_loaded"] for d in deliveries)
    run["vault_mb"] = round((vault / "vault.duckdb").stat().st_size / 2**20, 1)
    return run


def validator(
    vdir: Path, vpy: Path, files: list[Path], scratch: Path, one: Path, rules: bool, timeout: float | None
) -> dict[str, Any]:
    """The data-to-insight validator, one process per file, as its README runs it. A run that exceeds
    `timeout` is killed and recorded as `timed_out` with the timeout as a lower bound of its time."""
    if not (vdir / "cin_validator").is_dir() or not vpy.is_file():
        raise SystemExit(f"CIN validator checkout or venv missing ({vdir}, {vpy}); see benchmarks/README.md")
    scratch.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(vdir))
    per_file = []
    for f in files:
        print(f"  validator xmltocsv {f.name}", flush=True)
        run = timed([str(vpy), "-m", "cin_validator", "xmltocsv", str(f)], cwd=scratch, env=env, timeout=timeout)
        run.pop("stdout")
        per_file.append({"file": f.name, "bytes": f.stat().st_size, **run})
        shutil.rmtree(scratch / "output_csvs", ignore_errors=True)
    out: dict[str, Any] = {
        "xmltocsv_all": {
            "files": len(per_file),
            "wall_s": round(sum(r["wall_s"] for r in per_file), 2),
            "cpu_s": round(sum(r["cpu_s"] for r in per_file), 2),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in per_file),
            "timed_out": sum(bool(r.get("timed_out")) for r in per_file),
        },
        "xmltocsv_per_file": per_file,
    }
    out["xmltocsv_one_file"] = next(r for r in per_file if r["file"] == one.name)
    if rules:
        print(f"  validator run {one.name}", flush=True)
        run = timed([str(vpy), "-m", "cin_validator", "run", str(one)], cwd=scratch, env=env, timeout=timeout)
        run.pop("stdout")
        out["run_one_file"] = {"file": one.name, **run}
    return out


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


STAGES = ("encrypted", "plain", "single", "validator")


def merge_results(out: Path, children: int, update: dict[str, Any]) -> dict[str, Any]:
    """Merge this run's stages into the JSON at `out` (stages may run as separate, even parallel,
    invocations); results for another N are replaced."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old: dict[str, Any] = json.loads(out.read_text()) if out.is_file() else {}
        result = old if old.get("children") == children else {}
        result.update(update)
        result["ratios"], result["goal"] = derived(result)
        out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def derived(result: dict[str, Any]) -> tuple[dict[str, float | None], dict[str, bool]]:
    ratios: dict[str, float | None] = {}
    goal: dict[str, bool] = {}
    enc = result.get("ingest_encrypted")
    if enc:
        peak = max(enc["peak_rss_mb"], enc.get("peak_tree_rss_mb", 0.0))
        goal = {
            "wall_at_most_60s": enc["wall_s"] <= GOAL_SECONDS,
            "cpu_at_most_110s": enc["cpu_s"] <= GOAL_CPU_SECONDS,
            "peak_tree_rss_under_2gb": peak < GOAL_RSS_MB,
        }
        plain = result.get("ingest_unencrypted")
        if plain:
            ratios["encrypted_vs_unencrypted_wall"] = ratio(enc["wall_s"], plain["wall_s"])
            ratios["encrypted_vs_unencrypted_cpu"] = ratio(enc["cpu_s"], plain["cpu_s"])
    v = result.get("validator")
    if (
        v
        and enc
        and not v["xmltocsv_all"].get("timed_out")
        and v["xmltocsv_all"]["files"] == result["data"]["xml_files"]
    ):
        ratios["cscvault_vs_validator_xmltocsv_all_wall"] = ratio(enc["wall_s"], v["xmltocsv_all"]["wall_s"])
        ratios["cscvault_vs_validator_xmltocsv_all_cpu"] = ratio(enc["cpu_s"], v["xmltocsv_all"]["cpu_s"])
    one = result.get("ingest_one_file")
    if v and one:
        for name in ("xmltocsv_one_file", "run_one_file"):
            if name in v:
                # How many times faster cscvault is (a lower bound when the validator was stopped).
                bound = "_lower_bound" if v[name].get("timed_out") else ""
                ratios[f"one_file_speedup_vs_{name[:-9]}_wall{bound}"] = ratio(v[name]["wall_s"], one["wall_s"])
                ratios[f"one_file_speedup_vs_{name[:-9]}_cpu{bound}"] = ratio(v[name]["cpu_s"], one["cpu_s"])
    return ratios, goal


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--plaintext-cli":
        _plaintext_cli(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--children", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--work-dir", type=Path, default=DEFAULT_WORK, help="synth data and vaults (env CSCVAULT_BENCH_DIR)"
    )
    ap.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}")
    ap.add_argument("--skip-validator", action="store_true", help="same as leaving 'validator' out of --stages")
    ap.add_argument("--one-file", default=None, help="file name for the single-file stages (default: the largest)")
    ap.add_argument("--validator-files", choices=("all", "one"), default="all")
    ap.add_argument("--validator-rules", action="store_true", help="also time `cin_validator run` (all rules)")
    ap.add_argument("--validator-timeout", type=float, default=None, help="seconds per validator process")
    ap.add_argument("--validator-dir", type=Path, default=DEFAULT_VALIDATOR)
    ap.add_argument("--validator-python", type=Path, default=DEFAULT_VALIDATOR_PY)
    ap.add_argument("--keep-vaults", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    stages = [x for x in args.stages.split(",") if x]
    if unknown := set(stages) - set(STAGES):
        ap.error(f"unknown stages: {sorted(unknown)}")
    if args.skip_validator and "validator" in stages:
        stages.remove("validator")

    work: Path = args.work_dir
    data = work / f"cin-{args.children}"
    update: dict[str, Any] = {
        "children": args.children,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    update["data"] = ensure_synth(data, args.children, args.seed)
    files = cin_files(data)
    largest = max(files, key=lambda p: p.stat().st_size)
    one = largest if args.one_file is None else next((f for f in files if f.name == args.one_file), None)
    if one is None:
        ap.error(f"--one-file {args.one_file}: no such file in {data / 'returns'}")
    update["data"]["one_file"] = {"name": one.name, "mb": round(one.stat().st_size / 2**20, 1)}
    update["data"]["xml_files"] = len(files)
    update["data"]["xml_mb"] = round(sum(f.stat().st_size for f in files) / 2**20, 1)
    update["data"]["largest_file"] = {"name": largest.name, "mb": round(largest.stat().st_size / 2**20, 1)}
    print(f"data: {len(files)} CIN files, {update['data']['xml_mb']} MB, largest {largest.name}", flush=True)

    vaults = work / "vaults"
    plan = {
        "encrypted": ("ingest_encrypted", [data / "returns"], False),
        "plain": ("ingest_unencrypted", [data / "returns"], True),
        "single": ("ingest_one_file", [one], False),
    }
    for stage in stages:
        if stage == "validator":
            print("CIN validator...", flush=True)
            chosen = files if args.validator_files == "all" else [one]
            v = validator(
                args.validator_dir,
                args.validator_python,
                chosen,
                work / "validator-scratch",
                one,
                args.validator_rules,
                args.validator_timeout,
            )
            v["commit"] = subprocess.run(
                ["git", "-C", str(args.validator_dir), "rev-parse", "HEAD"], capture_output=True, text=True
            ).stdout.strip()
            update["validator"] = v
            continue
        key, inputs, plaintext = plan[stage]
        print(f"cscvault ingest: {key}...", flush=True)
        vault = vaults / f"{stage}-{args.children}"
        load = os.getloadavg()
        update[key] = ingest(vault, inputs, plaintext=plaintext)
        update[key]["load_avg_1min_before_after"] = [round(load[0], 1), round(os.getloadavg()[0], 1)]
        if not args.keep_vaults:
            shutil.rmtree(vault, ignore_errors=True)

    result = merge_results(args.out, args.children, update)
    print_table(result)
    print(f"\nJSON: {args.out}")


def print_table(r: dict[str, Any]) -> None:
    rows = []
    if "ingest_encrypted" in r:
        rows.append(("cscvault ingest, encrypted (all files)", r["ingest_encrypted"]))
    if "ingest_unencrypted" in r:
        rows.append(("cscvault ingest, unencrypted (all files)", r["ingest_unencrypted"]))
    if "ingest_one_file" in r:
        rows.append(("cscvault ingest, encrypted (one file)", r["ingest_one_file"]))
    if "validator" in r:
        v = r["validator"]
        if v["xmltocsv_all"]["files"] > 1:
            rows.append((f"validator xmltocsv ({v['xmltocsv_all']['files']} files, summed)", v["xmltocsv_all"]))
        rows.append(("validator xmltocsv (one file)", v["xmltocsv_one_file"]))
        if "run_one_file" in v:
            rows.append(("validator run, all rules (one file)", v["run_one_file"]))
    d = r["data"]
    print(f"\n{r['children']:,} children, {d['xml_files']} CIN files, {d['xml_mb']} MB; one file: {d['one_file']}")
    print(f"{'':44} {'wall s':>9} {'cpu s':>9} {'peak MB':>9} {'tree MB':>9}")
    for name, m in rows:
        note = "  (killed at timeout: lower bound)" if m.get("timed_out") else ""
        tree = m.get("peak_tree_rss_mb", 0.0)
        print(f"{name:44} {m['wall_s']:9.1f} {m['cpu_s']:9.1f} {m['peak_rss_mb']:9.0f} {tree:9.0f}{note}")
    for k, v in r["ratios"].items():
        print(f"ratio {k}: {v}")
    if r.get("goal"):
        print(f"goal (encrypted, <=60 s wall, <=110 s CPU, <2 GB tree): {r['goal']}")


if __name__ == "__main__":
    main()
