"""`cscvault rights show` on a large vault: wall and CPU of the whole command, and the Argon2id share.

    .venv/bin/python benchmarks/rights_show.py VAULT CIN_XML [--repeat 5]

VAULT is a vault made by `benchmarks/ingest_cin.py --keep-vaults` (or any vault whose admin is `admin`
with the benchmark password); CIN_XML one of the files ingested into it, from which one child's LA id
is taken (kept in this process, never printed). The script adds a `dpo` user and opens one access
request if they are not there yet, then times `rights show` under /usr/bin/time REPEAT times, and
times one Argon2id derivation with the vault's own parameters in this process.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from argon2.low_level import Type, hash_secret_raw

BIN = Path(sys.executable).parent
ADMIN_PASSWORD = "benchmark-password-not-secret"
DPO, DPO_PASSWORD = "dpo-bench", "benchmark-dpo-password"


def cli(args: list[str], user: str, password: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CSCVAULT_USER=user, CSCVAULT_PASSWORD=password, **extra)
    return subprocess.run([str(BIN / "cscvault"), *args], env=env, capture_output=True, text=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("vault", type=Path)
    ap.add_argument("cin_xml", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    vault = str(a.vault)
    cli(["user", "add", vault, DPO, "--role", "dpo"], "admin", ADMIN_PASSWORD, CSCVAULT_NEW_PASSWORD=DPO_PASSWORD)
    listed = cli(["rights", "list", vault, "--json"], DPO, DPO_PASSWORD)
    request = next(iter(re.findall(r"R-\d{4}-\d{4}", listed.stdout)), None)
    if request is None:
        with a.cin_xml.open("rb") as fh:
            child = re.search(rb"<LAchildID>([^<]+)</LAchildID>", fh.read(1 << 20))
        assert child is not None, "no LAchildID in the first MiB of the file"
        la = a.cin_xml.name.split("_cin_census")[0]
        opened = cli(
            ["rights", "open", vault, "--type", "access", "--la", la, "--child-id", child.group(1).decode()],
            DPO,
            DPO_PASSWORD,
        )
        request = opened.stdout.strip().splitlines()[-1]
    runs = []
    for _ in range(a.repeat):
        load = os.getloadavg()[0]
        done = cli(["rights", "show", vault, request], DPO, DPO_PASSWORD).returncode
        timed = subprocess.run(
            ["/usr/bin/time", "-f", "%e %U %S", str(BIN / "cscvault"), "rights", "show", vault, request],
            env=dict(os.environ, CSCVAULT_USER=DPO, CSCVAULT_PASSWORD=DPO_PASSWORD),
            capture_output=True,
            text=True,
        )
        wall, user, system = (float(x) for x in timed.stderr.strip().splitlines()[-1].split())
        runs.append({"ok": done == 0, "wall_s": wall, "cpu_s": round(user + system, 2), "load_1min": load})
    slot = next(s for s in json.loads((a.vault / "keys.json").read_text())["slots"] if s.get("user") == DPO)
    params = slot["argon2"]
    t0, c0 = time.perf_counter(), time.process_time()
    hash_secret_raw(
        DPO_PASSWORD.encode(),
        os.urandom(16),
        time_cost=params["time_cost"],
        memory_cost=params["memory_cost_kib"],
        parallelism=params["parallelism"],
        hash_len=32,
        type=Type.ID,
    )
    argon = {
        "params": params,
        "wall_s": round(time.perf_counter() - t0, 3),
        "cpu_s": round(time.process_time() - c0, 3),
    }
    print(json.dumps({"request_runs": runs, "argon2id": argon}, indent=1))


if __name__ == "__main__":
    main()
